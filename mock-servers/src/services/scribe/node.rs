//! One node: its listener's life (serve, stop, restart on the same port), its metrics and
//! the guard every request passes (partition hang, crash).
//!
//! A stop must look like a killed process, not a polite shutdown: the listener closes
//! (new connections are refused) and open connections drop mid-request. axum's graceful
//! shutdown alone would let in-flight requests finish, so every accepted stream is
//! wrapped in the kit's [`KillableStream`](crate::kit::killable::KillableStream) whose reads and writes fail once the node's *kill*
//! token fires; the guard middleware also abandons handlers still running. Each node is
//! run by a supervisor task (the `RunningService` task) that takes stop/start commands
//! and only ends when the whole mock shuts down.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, Opts};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::cluster::Shared;
use super::raft::{NodeId, Role};
use crate::kit::errors::ApiError;
use crate::kit::killable::KillableListener;
use crate::kit::metrics::{register, KitMetrics, MetricsError};
use crate::kit::{bind_loopback, serve_listener, BindError, TimeScale};

/// Most latency samples kept for the p99 gauge.
const LATENCY_SAMPLES: usize = 10_000;

/// The runbook's metrics (and a few more) for one node.
pub(super) struct NodeMetrics {
    pub ops: IntCounter,
    pub requests: IntCounterVec,
    pub errors: IntCounter,
    pub latency_p99_ms: Gauge,
    pub storage_keys: IntGauge,
    pub storage_bytes: IntGauge,
    pub capacity: IntGauge,
    pub term: IntGauge,
    pub commit_index: IntGauge,
    pub is_leader: IntGauge,
    pub health: IntGauge,
    pub healthy_nodes: IntGauge,
    pub members: IntGauge,
    pub quorum: IntGauge,
    pub writes_paused: IntGauge,
    pub verifications: IntCounterVec,
}

impl NodeMetrics {
    fn new(kit: &KitMetrics) -> Result<Self, MetricsError> {
        let r = kit.registry();
        let int =
            |name: &str, help: &str| -> Result<IntGauge, MetricsError> { register(r, IntGauge::new(name, help)?) };
        let counter_vec = |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, MetricsError> {
            register(r, IntCounterVec::new(Opts::new(name, help), labels)?)
        };
        Ok(Self {
            ops: register(r, IntCounter::new("scribe_ops_total", "Key/value operations received (get, put, delete)")?)?,
            requests: counter_vec(
                "scribe_kv_requests_total",
                "Key/value operations by kind and result",
                &["op", "result"],
            )?,
            errors: register(r, IntCounter::new("scribe_errors_total", "Requests this node answered with a 5xx")?)?,
            latency_p99_ms: register(
                r,
                Gauge::new(
                    "scribe_request_latency_p99",
                    "P99 latency of key/value operations over the latency window, in simulated milliseconds",
                )?,
            )?,
            storage_keys: int("scribe_storage_keys_total", "Keys stored")?,
            storage_bytes: int("scribe_storage_size_bytes", "Bytes stored on this node: keys, values and tombstones")?,
            capacity: int("scribe_storage_capacity_keys", "Storage capacity in keys")?,
            term: int("scribe_raft_term", "Current Raft term")?,
            commit_index: int("scribe_raft_commit_index", "Index of the last committed Raft entry")?,
            is_leader: int("scribe_raft_is_leader", "1 while this node is the Raft leader")?,
            health: int(
                "scribe_node_health",
                "1 when this node's /health answers 200 (a member with a leader and quorum)",
            )?,
            healthy_nodes: int(
                "scribe_cluster_healthy_nodes",
                "Voting members serving and reachable (listener open, not partitioned), as /health's healthy_nodes",
            )?,
            members: int("scribe_cluster_members", "Voting members")?,
            quorum: int("scribe_cluster_quorum", "1 while a majority of members is healthy")?,
            writes_paused: int("scribe_writes_paused", "1 while writes are paused by an operator")?,
            verifications: counter_vec(
                "scribe_merkle_verifications_total",
                "GET /verify answers by result",
                &["result"],
            )?,
        })
    }
}

/// Recent key/value latencies for the p99 gauge.
pub(super) struct LatencyWindow {
    window: Duration,
    samples: Mutex<VecDeque<(Instant, f64)>>,
}

impl LatencyWindow {
    fn new(window_real: Duration) -> Self {
        Self { window: window_real, samples: Mutex::new(VecDeque::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Instant, f64)>> {
        self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one latency in simulated milliseconds.
    pub fn record(&self, ms: f64) {
        let mut s = self.lock();
        if s.len() >= LATENCY_SAMPLES {
            s.pop_front();
        }
        s.push_back((Instant::now(), ms));
    }

    /// Nearest-rank p99 of the samples inside the window; 0 without samples.
    pub fn p99_ms(&self) -> f64 {
        let mut s = self.lock();
        let now = Instant::now();
        while s.front().is_some_and(|(t, _)| now.duration_since(*t) > self.window) {
            s.pop_front();
        }
        let mut v: Vec<f64> = s.iter().map(|(_, ms)| *ms).collect();
        drop(s);
        if v.is_empty() {
            return 0.0;
        }
        v.sort_by(f64::total_cmp);
        let rank = ((v.len() as f64) * 0.99).ceil() as usize;
        v.get(rank.saturating_sub(1)).copied().unwrap_or(0.0)
    }
}

/// One node: its identity, the shared cluster, its metrics.
pub(super) struct Node {
    pub id: NodeId,
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    pub kit: Arc<KitMetrics>,
    pub own: NodeMetrics,
    pub latency: LatencyWindow,
    /// True while partitioned; the guard holds requests until it turns false.
    pub partitioned: watch::Sender<bool>,
}

impl Node {
    pub fn new(id: NodeId, addr: SocketAddr, shared: Arc<Shared>, scale: TimeScale) -> Result<Arc<Self>, MetricsError> {
        let kit = KitMetrics::new(scale)?;
        let own = NodeMetrics::new(&kit)?;
        let latency = LatencyWindow::new(scale.to_real(shared.profile.latency_window.get()));
        let (partitioned, _) = watch::channel(false);
        Ok(Arc::new(Self { id, addr, shared, kit, own, latency, partitioned }))
    }

    /// Refreshes every gauge and renders the registry.
    pub fn render_metrics(&self) -> Result<String, MetricsError> {
        let view = self.shared.view(self.id);
        let (keys, bytes) = self.shared.storage(self.id);
        let o = &self.own;
        o.latency_p99_ms.set(self.latency.p99_ms());
        o.storage_keys.set(as_i64(keys as u64));
        o.storage_bytes.set(as_i64(bytes));
        o.capacity.set(as_i64(self.shared.profile.max_keys));
        o.term.set(as_i64(view.term));
        o.commit_index.set(as_i64(view.commit_index));
        o.is_leader.set(i64::from(view.role == Role::Leader));
        o.health.set(i64::from(view.health_problem().is_none()));
        o.healthy_nodes.set(as_i64(view.healthy as u64));
        o.members.set(as_i64(view.members as u64));
        o.quorum.set(i64::from(view.quorum));
        o.writes_paused.set(i64::from(view.writes_paused));
        self.kit.observe_pool("node", &self.shared.pool(self.id).stats());
        self.kit.render()
    }
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// What the guard middleware needs: the node and the tokens of its current run.
#[derive(Clone)]
pub(super) struct Guard {
    pub node: Arc<Node>,
    /// Fires when the node is killed (a drill's stop).
    pub kill: CancellationToken,
    /// Fires when this run ends for any reason, the mock's shutdown included.
    pub stop: CancellationToken,
}

/// Holds requests while the node is partitioned (until healed, or until this run ends),
/// abandons them when the node is killed, and counts 5xx answers in `scribe_errors_total`.
pub(super) async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let mut partitioned = g.node.partitioned.subscribe();
    let healed = partitioned.wait_for(|p| !*p);
    tokio::select! {
        _ = healed => {}
        () = g.stop.cancelled() => return killed(),
    }
    let resp = tokio::select! {
        resp = next.run(req) => resp,
        () = g.kill.cancelled() => return killed(),
    };
    if resp.status().is_server_error() {
        g.node.own.errors.inc();
    }
    resp
}

// Never reaches the client: the connection's stream fails once the node is killed.
fn killed() -> Response {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "node_stopped", "the node was stopped").into_response()
}

/// Orders for a node's supervisor.
pub(super) enum Command {
    /// Kill the node: close the listener, drop its connections.
    Stop(oneshot::Sender<()>),
    /// Bind the node's address again and serve.
    Start(oneshot::Sender<Result<(), BindError>>),
}

/// Runs node `node` until `shutdown`: serves, stops and restarts on command.
pub(super) async fn supervise(
    node: Arc<Node>,
    listener: TcpListener,
    mut commands: mpsc::Receiver<Command>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let mut listener = Some(listener);
    loop {
        if let Some(l) = listener.take() {
            if serve_until_stopped(&node, l, &mut commands, &shutdown).await? {
                return Ok(());
            }
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            cmd = commands.recv() => match cmd {
                Some(Command::Start(reply)) => {
                    let bound = bind_loopback(node.addr.ip(), node.addr.port()).await;
                    let answer = bound.map(|l| listener = Some(l));
                    let _ = reply.send(answer);
                }
                Some(Command::Stop(reply)) => {
                    let _ = reply.send(());
                }
                None => {
                    shutdown.cancelled().await;
                    return Ok(());
                }
            },
        }
    }
}

/// Serves one run of the node. Ok(true) when the mock shut down, Ok(false) when stopped.
async fn serve_until_stopped(
    node: &Arc<Node>,
    listener: TcpListener,
    commands: &mut mpsc::Receiver<Command>,
    shutdown: &CancellationToken,
) -> io::Result<bool> {
    let kill = CancellationToken::new();
    let stop = shutdown.child_token();
    let router = super::api::router(Guard { node: Arc::clone(node), kill: kill.clone(), stop: stop.clone() });
    let listener = KillableListener::new(listener, kill.clone());
    let limits = node.shared.profile.connection;
    let serving = serve_listener(listener, router, limits, |_, addr| *addr, stop.clone().cancelled_owned());
    tokio::pin!(serving);
    let mut commands_open = true;
    loop {
        tokio::select! {
            r = &mut serving => return r.map(|()| true),
            cmd = commands.recv(), if commands_open => match cmd {
                Some(Command::Stop(reply)) => {
                    kill.cancel();
                    stop.cancel();
                    let _ = (&mut serving).await;
                    let _ = reply.send(());
                    return Ok(false);
                }
                Some(Command::Start(reply)) => {
                    let _ = reply.send(Ok(()));
                }
                None => commands_open = false,
            },
        }
    }
}
