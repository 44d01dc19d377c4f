//! Hyra Scribe Ledger, a Raft cluster of key/value nodes (runbook 001).
//!
//! What load, SLOs and drills see of the real cluster:
//! - `nodes` nodes (3 by default), each on its own listener (runbook ports 8001..8003 with
//!   `--ports runbook`: node `i` on `8000 + i`), sharing one simulated Raft state
//!   ([`raft`]): one leader, a term raised by every election, writes committed only while
//!   a majority of the voters is healthy;
//! - manifest names: node 1 is `scribe` (the service's main endpoint), node `i > 1` is
//!   `scribe-i`. Node 1 is not listed twice, so a scraper walking the manifest never
//!   counts one node's counters twice ([`endpoint_name`]);
//! - the real node's HTTP API: `GET /health`, `/cluster/info`, `/cluster/nodes`,
//!   `/cluster/leader/info`; `POST /cluster/nodes/add` and `/cluster/nodes/remove`;
//!   `POST /admin/pause-writes`, `/admin/resume-writes`, `/admin/compact`; key/value
//!   `PUT`, `GET`, `DELETE /{key}` (JSON `{"value": "..."}` or raw bytes with
//!   `Content-Type: application/octet-stream`); `GET /verify/{key}` (a Merkle proof,
//!   see [`merkle`]); `/metrics` and `/metrics/prometheus` (Prometheus text; `/metrics`
//!   answers the real node's JSON summary to `Accept: application/json`);
//! - API keys in `X-API-Key` (or `Authorization: Bearer`), roles read < write < admin:
//!   `GET /{key}` needs read, `PUT` needs write, `DELETE`, membership and `/admin/*` need
//!   admin (401 without a key or with an unknown one, 403 with too weak a role). Health,
//!   cluster status, metrics and `/verify` are open, because the runbook calls them
//!   without a key. Defaults: `admin-key` (the runbook's), `write-key`, `read-key`;
//! - a write sent to a follower is forwarded to the leader (as the real node does) and
//!   queues on the *leader's* worker pool, so write load shows up as leader queueing;
//!   reads are served locally on the receiving node's pool;
//! - faults for drills through [`ScribeCluster`]: stop a node (its listener closes and
//!   open connections drop; it restarts on the same port), partition it (connections
//!   hang), corrupt its data (its `/verify` fails), and restore.
//!
//! Without quorum, writes get 503 `no_quorum`; reads are answered from the node's local
//! copy and say `"quorum": false, "stale": true` (the real read path is local), or get
//! 503 `no_quorum` with `reads_without_quorum = "refuse"`. `/health` answers 503 while
//! the node has no quorum or no leader, as etcd's does, so the runbook's `curl -sf`
//! health loop flags it.
//!
//! Self-reported health and what it cannot see: `scribe_node_health` is computed from
//! [`View::health_problem`], the verdict `/health` answers from, so the gauge is 0
//! exactly while the node's `/health` answers 503 (no quorum, election in progress, not a
//! member). `scribe_cluster_healthy_nodes` (and `/health`'s `healthy_nodes`) counts the
//! voters really serving: a stopped node is counted out before its listener closes and
//! back in only once it is bound again; a partitioned one is counted out too. A stopped
//! node itself exports nothing (its listener is closed), so its own `scribe_node_health`
//! goes stale rather than 0: the runbook's `NodeDown` must be written on the scrape's
//! `up{service="scribe",instance=...} == 0` (or a probe), and the survivors'
//! `scribe_cluster_healthy_nodes < 3` is the in-band signal that one node is gone.

mod api;
mod cluster;
mod kv;
pub mod merkle;
mod node;
pub mod raft;
mod store;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use cluster::{start_cluster, FaultError, NodeFaults, ScribeCluster};
pub use raft::{NodeId, Role, View};
pub use store::{PathStep, Proof};

use super::{MockError, ProfileError, RunningService, ServiceId};
use crate::kit::{ConnLimits, HumanDuration, MockContext, PositiveDuration, ServiceTime};

/// Node `i` listens on `RUNBOOK_BASE_PORT + i` with runbook ports (8001, 8002, 8003).
pub const RUNBOOK_BASE_PORT: u16 = 8000;

/// The manifest name of node `id`: `scribe` for node 1, `scribe-<id>` for the others.
pub fn endpoint_name(id: NodeId) -> String {
    if id == 1 {
        "scribe".into()
    } else {
        format!("scribe-{id}")
    }
}

/// API keys per role; a request may present any key of a role that suffices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiKeys {
    /// Everything, including membership changes and `/admin/*`.
    pub admin: Vec<String>,
    /// Reads and writes.
    pub write: Vec<String>,
    /// Reads only.
    pub read: Vec<String>,
}

impl Default for ApiKeys {
    fn default() -> Self {
        Self { admin: vec!["admin-key".into()], write: vec!["write-key".into()], read: vec!["read-key".into()] }
    }
}

/// What a read does while the cluster has no quorum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadsWithoutQuorum {
    /// Answer from the local copy, marked `"stale": true` (the real node's local read path).
    #[default]
    Stale,
    /// Refuse with 503 `no_quorum` (linearizable reads).
    Refuse,
}

/// Service-time distributions per request kind (simulated time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceTimes {
    /// `GET /{key}` on the receiving node.
    pub read: ServiceTime,
    /// `PUT` / `DELETE /{key}` on the leader, replication to a majority included.
    pub write: ServiceTime,
    /// `POST /admin/compact` on the receiving node.
    pub compact: ServiceTime,
}

impl Default for ServiceTimes {
    fn default() -> Self {
        let ms = Duration::from_millis;
        Self {
            read: ServiceTime::lognormal(ms(2), ms(20)),
            write: ServiceTime::lognormal(ms(8), ms(80)),
            compact: ServiceTime::lognormal(Duration::from_secs(2), Duration::from_secs(15)),
        }
    }
}

/// Every knob of the Scribe mock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Reported by `/health` and `/cluster/info`.
    pub version: String,
    /// Nodes in the cluster, each with its own listener (1..=64).
    pub nodes: usize,
    /// Time from losing the leader (or regaining quorum) to a new leader (`[consensus]
    /// election_timeout` in the runbook).
    pub election_timeout: PositiveDuration,
    /// API keys per role.
    pub api_keys: ApiKeys,
    /// Storage capacity in keys; a new key past it gets 507. The runbook alerts at 90%
    /// (`scribe_storage_keys_total > 900000` with the default).
    pub max_keys: u64,
    /// Reads while the cluster has no quorum.
    pub reads_without_quorum: ReadsWithoutQuorum,
    /// Worker pool per node (`[performance] max_concurrency` in the runbook).
    pub workers: usize,
    /// Requests that may wait for a worker on one node (0 = unbounded); 503 past it.
    pub job_capacity: usize,
    /// A request not done this long after admission fails with 504.
    pub job_timeout: PositiveDuration,
    /// Window of the CPU gauge.
    pub cpu_window: PositiveDuration,
    /// Service times.
    pub service_time: ServiceTimes,
    /// One-way hop when a follower forwards a write to the leader.
    pub forward_latency: HumanDuration,
    /// Window over which `scribe_request_latency_p99` is computed.
    pub latency_window: PositiveDuration,
    /// Keys present at start-up. The default holds `key`, so the runbook's literal
    /// `curl http://node:8001/verify/key` finds something to prove.
    pub seed_data: BTreeMap<String, String>,
    /// Longest accepted key, in bytes.
    pub max_key_bytes: usize,
    /// Largest accepted request body (so value), in bytes.
    pub max_body_bytes: usize,
    /// Connection timeouts of every listener (real time): a request head must be complete
    /// `header_read_timeout` after its first byte, and a connection with nothing in flight
    /// closes after `idle_timeout` without traffic.
    pub connection: ConnLimits,
}

impl Default for Profile {
    fn default() -> Self {
        let secs = |s| PositiveDuration(HumanDuration(Duration::from_secs(s)));
        Self {
            version: "0.1.0".into(),
            nodes: 3,
            election_timeout: secs(5),
            api_keys: ApiKeys::default(),
            max_keys: 1_000_000,
            reads_without_quorum: ReadsWithoutQuorum::Stale,
            workers: 50,
            job_capacity: 1000,
            job_timeout: secs(30),
            cpu_window: secs(60),
            service_time: ServiceTimes::default(),
            forward_latency: HumanDuration(Duration::from_millis(1)),
            latency_window: secs(60),
            seed_data: BTreeMap::from([("key".into(), "scribe gameday canary".into())]),
            max_key_bytes: 1024,
            max_body_bytes: 1024 * 1024,
            connection: ConnLimits::default(),
        }
    }
}

impl Profile {
    /// One node's worker pool (every node has its own; no base CPU: the runbook gives none).
    pub fn pool_config(&self) -> crate::kit::PoolConfig {
        crate::kit::PoolConfig {
            workers: self.workers,
            job_capacity: self.job_capacity,
            job_timeout: self.job_timeout,
            cpu_window: self.cpu_window,
            base_cpu: 0.0,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ProfileError> {
        if !(1..=64).contains(&self.nodes) {
            return Err(ProfileError::OutOfRange { field: "nodes", min: 1.0, max: 64.0, got: self.nodes as f64 });
        }
        if self.workers == 0 {
            return Err(ProfileError::Zero { field: "workers" });
        }
        if (self.seed_data.len() as u64) > self.max_keys {
            return Err(ProfileError::SeedKeys { keys: self.seed_data.len(), max_keys: self.max_keys });
        }
        if let Some(k) = self.seed_data.keys().find(|k| k.is_empty() || k.len() > self.max_key_bytes) {
            let rule = "is empty or longer than max_key_bytes";
            return Err(ProfileError::Value { field: "seed_data key".into(), value: k.clone(), rule });
        }
        let keys = &self.api_keys;
        let all: Vec<&String> = keys.admin.iter().chain(&keys.write).chain(&keys.read).collect();
        if all.iter().any(|k| k.is_empty()) {
            return Err(ProfileError::Rule { field: "api_keys:", rule: "a key must not be empty" });
        }
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        if distinct.len() != all.len() {
            let rule = "a key appears twice (each key has exactly one role)";
            return Err(ProfileError::Rule { field: "api_keys:", rule });
        }
        Ok(())
    }
}

/// Starts the cluster; see [`start_cluster`] for the handle drills use to inject faults.
pub async fn start(profile: Profile, ctx: &MockContext) -> Result<RunningService, MockError> {
    start_cluster(profile, ctx).await.map(|(service, _cluster)| service)
}

fn profile_error(message: String) -> MockError {
    MockError::Profile { service: ServiceId::Scribe, message }
}
