//! LOGOS PXL Core: a gateway in front of the proof core and two overlays (runbook 003).
//!
//! Four listeners, as the runbook's "System Health" list has them:
//! - the gateway (endpoint `pxl`): `GET /v1/health`, `POST /v1/proofs`,
//!   `GET /v1/overlays/{chrono|v4}`, `GET /metrics`. The runbook reaches it at
//!   `http://localhost/v1/health`, i.e. port 80 ([`GATEWAY_RUNBOOK_PORT`]); binding 80 needs
//!   root or `CAP_NET_BIND_SERVICE`, so [`Profile::gateway_runbook_port`] can move it;
//! - the core (`pxl-core`, 8080): `GET /healthz`, `POST /v1/prove`, `GET /metrics`. Proofs
//!   queue in a kit [`WorkerPool`]; its waiting jobs are the runbook's `proof_queue_length`;
//! - overlay chrono (`pxl-chrono`, 8081) and overlay v4 (`pxl-v4`, 8082): `GET /health`,
//!   `GET /v1/info`.
//!
//! The gateway reaches the core and the overlays over real HTTP, so a component that is
//! down (its listener stopped through [`Control`]) is seen the way the real gateway sees
//! it: connection refused. The gateway answers `200 {"status": "degraded"}` naming the
//! overlay when an overlay is down, and `503 {"status": "down"}` only when the core is.
//!
//! Limits from the runbook's capacity table, all in the [`Profile`]: 1000 concurrent
//! sessions (a session is a request in flight through the gateway's API; past the limit:
//! 503 `session_limit`), 1000 requests per minute per client (fixed window in simulated
//! time; the client is a registered `X-API-Key` (`api_keys`), else the source IP; an
//! unregistered key is 401 `invalid_api_key`; past the limit: 429 `rate_limited` with
//! `Retry-After`), 10 MiB request bodies (413 `payload_too_large`).
//! Health and metrics routes are not limited, so monitoring keeps working under a flood.
//!
//! Self-reported health and what it cannot see: `pxl_component_up{component}` reads the
//! component's listener switch (bound and serving, or stopped through [`Control`]), the
//! very thing the gateway's `/v1/health` probes over HTTP: the core's `/healthz` and the
//! overlays' `/health` answer `ok` whenever their listener serves, so the gauge is 0
//! exactly while `/v1/health` lists that component `down` (drill fault `overlay-down`, or
//! the core taken down). The gauge is exported by the gateway's and the core's
//! `/metrics` (one registry), so the gateway still reports a dead core as 0. A dead PXL
//! process exports nothing at all: detecting it needs `up` or a probe of `/v1/health`.

mod core;
mod gateway;
mod limits;
mod metrics;
mod overlay;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::{middleware, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::{Endpoint, MockError, ProfileError, RunningService, ServiceId};
use crate::kit::listener::{self, ListenerKey, Switchboard};
use crate::kit::metrics::{self as kit_metrics, KitMetrics};
use crate::kit::serve::finish_router;
use crate::kit::{
    bind_loopback, ConnLimits, HumanDuration, MockContext, PoolConfig, PositiveDuration, ServiceTime, TimeScale,
    WorkerPool,
};

/// The runbook's gateway port: `http://localhost/v1/health` is plain HTTP on port 80.
pub const GATEWAY_RUNBOOK_PORT: u16 = 80;
/// The highest `client-N` among the default registered API keys (one per runbook session).
pub const DEFAULT_API_KEYS: usize = 1000;
/// The runbook's core port (`http://localhost:8080/healthz`).
pub const CORE_RUNBOOK_PORT: u16 = 8080;
/// The runbook's overlay chrono port (`http://localhost:8081/health`).
pub const CHRONO_RUNBOOK_PORT: u16 = 8081;
/// The runbook's overlay v4 port (`http://localhost:8082/health`).
pub const V4_RUNBOOK_PORT: u16 = 8082;

/// One of PXL's four listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    /// The API gateway (main endpoint).
    Gateway,
    /// The proof core.
    Core,
    /// Overlay chrono.
    Chrono,
    /// Overlay v4.
    V4,
}

impl Component {
    /// All four, main one first (the order of the endpoints).
    pub const ALL: [Component; 4] = [Component::Gateway, Component::Core, Component::Chrono, Component::V4];
    /// The two overlays.
    pub const OVERLAYS: [Component; 2] = [Component::Chrono, Component::V4];

    /// The manifest name of its endpoint.
    pub fn endpoint_name(self) -> &'static str {
        match self {
            Self::Gateway => "pxl",
            Self::Core => "pxl-core",
            Self::Chrono => "pxl-chrono",
            Self::V4 => "pxl-v4",
        }
    }

    /// The name health answers and metric labels use.
    pub fn label(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Core => "core",
            Self::Chrono => "overlay-chrono",
            Self::V4 => "overlay-v4",
        }
    }

    /// The overlay's short name in `/v1/overlays/{name}` (`chrono`, `v4`).
    pub fn overlay_name(self) -> Option<&'static str> {
        match self {
            Self::Chrono => Some("chrono"),
            Self::V4 => Some("v4"),
            Self::Gateway | Self::Core => None,
        }
    }
}

impl ListenerKey for Component {
    fn index(self) -> usize {
        match self {
            Self::Gateway => 0,
            Self::Core => 1,
            Self::Chrono => 2,
            Self::V4 => 3,
        }
    }
}

/// PXL's knobs: the runbook's limits, the proof queue and the service-time model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Reported by health answers.
    pub version: String,
    /// Gateway port under `--ports runbook` (80 per the runbook; 80 needs privileges).
    pub gateway_runbook_port: u16,
    /// Concurrent sessions (requests in flight through the gateway's API).
    pub max_sessions: usize,
    /// Requests a client may make per `rate_limit_window`.
    pub rate_limit_requests: u32,
    /// The rate-limit window (simulated time; the runbook's "per minute").
    pub rate_limit_window: PositiveDuration,
    /// Header carrying a client's API key. A registered key (`api_keys`) is the client
    /// the rate limit counts; an unregistered one is refused with 401 `invalid_api_key`
    /// (counted against the source address); without the header the source address is
    /// the client.
    pub client_key_header: String,
    /// The registered API keys. Default: `client-0` .. `client-1000`, what the shipped
    /// scenarios send (`client-{{user}}`); a profile shared with others should set its own.
    pub api_keys: Vec<String>,
    /// Largest accepted request body, in bytes (the runbook's 10 MB input limit).
    pub max_body_bytes: usize,
    /// Connection timeouts of every listener (real time): a request head must be complete
    /// `header_read_timeout` after its first byte, and a connection with nothing in flight
    /// closes after `idle_timeout` without traffic.
    pub connection: ConnLimits,
    /// Proof workers in the core.
    pub workers: usize,
    /// Proofs that may wait for a worker (503 `queue_full` past it; 0 = unbounded).
    pub job_capacity: usize,
    /// A proof not done this long after admission fails with 504.
    pub job_timeout: PositiveDuration,
    /// Window of the core's CPU gauge.
    pub cpu_window: PositiveDuration,
    /// Service time of a proof of a small input.
    pub proof_service_time: ServiceTime,
    /// Extra service time per MiB of proof input (proof complexity grows with input).
    pub proof_time_per_mib: HumanDuration,
    /// How long the gateway's health probe waits for a component.
    pub health_probe_timeout: PositiveDuration,
    /// How long the gateway waits for the core to answer a proof request.
    pub core_timeout: PositiveDuration,
}

impl Default for Profile {
    fn default() -> Self {
        let secs = |s| PositiveDuration(HumanDuration(Duration::from_secs(s)));
        Self {
            version: "1.4.0".into(),
            gateway_runbook_port: GATEWAY_RUNBOOK_PORT,
            max_sessions: 1000,
            rate_limit_requests: 1000,
            rate_limit_window: secs(60),
            client_key_header: "x-api-key".into(),
            api_keys: (0..=DEFAULT_API_KEYS).map(|n| format!("client-{n}")).collect(),
            max_body_bytes: 10 * 1024 * 1024,
            connection: ConnLimits::default(),
            workers: 8,
            job_capacity: 100,
            job_timeout: secs(10),
            cpu_window: secs(60),
            // Median 80 ms, P99 250 ms: at nominal load (the runbook's 1000 req/min) the
            // 8 workers are ~20% busy, so P95 ~180 ms and P99 ~260 ms stay inside the
            // SLO (P95 < 300 ms, P99 < 500 ms) with room for queueing and the hop.
            proof_service_time: ServiceTime::lognormal(Duration::from_millis(80), Duration::from_millis(250)),
            proof_time_per_mib: HumanDuration(Duration::from_millis(20)),
            health_probe_timeout: secs(2),
            core_timeout: secs(15),
        }
    }
}

impl Profile {
    /// The worker-pool part of the profile (no base CPU: the runbook gives none).
    pub fn pool_config(&self) -> PoolConfig {
        PoolConfig {
            workers: self.workers,
            job_capacity: self.job_capacity,
            job_timeout: self.job_timeout,
            cpu_window: self.cpu_window,
            base_cpu: 0.0,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ProfileError> {
        let positive = [
            ("workers", self.workers),
            ("max_sessions", self.max_sessions),
            ("max_body_bytes", self.max_body_bytes),
            ("rate_limit_requests", self.rate_limit_requests as usize),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ProfileError::Zero { field: name });
        }
        if self.api_keys.iter().any(|k| k.is_empty() || axum::http::HeaderValue::from_str(k).is_err()) {
            return Err(ProfileError::Rule { field: "api_keys", rule: "must be non-empty printable header values" });
        }
        if axum::http::HeaderName::from_bytes(self.client_key_header.as_bytes()).is_err() {
            let (field, value) = ("client_key_header".into(), self.client_key_header.clone());
            return Err(ProfileError::Value { field, value, rule: "is not a valid header name" });
        }
        let field = "proof_service_time";
        self.proof_service_time.sampler().map(|_| ()).map_err(|source| ProfileError::ServiceTime { field, source })
    }
}

/// What every PXL listener shares: the profile, the clock, the metrics, the switches.
struct Shared {
    profile: Profile,
    scale: TimeScale,
    kit: Arc<KitMetrics>,
    metrics: metrics::PxlMetrics,
    started: tokio::time::Instant,
    control: OnceLock<Control>,
    /// The core's proof workers and queue.
    pool: Arc<WorkerPool>,
    /// One permit per session the gateway may hold at once.
    sessions: Arc<Semaphore>,
}

impl Shared {
    fn is_up(&self, c: Component) -> bool {
        self.control.get().is_none_or(|ctl| ctl.is_up(c))
    }

    fn sessions_in_use(&self) -> usize {
        self.profile.max_sessions.saturating_sub(self.sessions.available_permits())
    }
}

/// Finishes one component's router: JSON fallbacks, the body limit, PXL's request metrics
/// and the kit's.
fn finish(shared: &Arc<Shared>, component: Component, routes: Router) -> Router {
    finish_router(routes, shared.profile.max_body_bytes)
        .layer(middleware::from_fn_with_state((Arc::clone(shared), component), metrics::track))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared.kit), kit_metrics::track))
}

/// The fault hooks: take a component's listener down (connections refused, as when its
/// container stops) and bring it back on the same port.
pub type Control = Switchboard<Component>;

/// A started PXL mock with its fault hooks.
pub type Launched = super::Launched<Control>;

/// Starts PXL (four listeners) and serves until `ctx.shutdown`.
pub async fn start(profile: Profile, ctx: &MockContext) -> Result<RunningService, MockError> {
    launch(profile, ctx).await.map(|l| l.service)
}

/// Starts PXL and also hands back the [`Control`] that drills use to inject faults.
pub async fn launch(profile: Profile, ctx: &MockContext) -> Result<Launched, MockError> {
    let bad = |message: String| MockError::Profile { service: ServiceId::Pxl, message };
    profile.validate().map_err(|e| bad(e.to_string()))?;
    let listeners = bind_all(&profile, ctx).await?;
    let addrs = listeners.each_ref().map(|(_, addr)| *addr);
    let limits = profile.connection;
    let shared = build_shared(profile, ctx)?;
    let core = core::CoreState::new(Arc::clone(&shared), ctx).map_err(|e| bad(e.to_string()))?;
    let gateway = gateway::GatewayState::new(Arc::clone(&shared), &addrs)
        .map_err(|e| bad(format!("cannot build the gateway's HTTP client: {e}")))?;
    let routers = [
        gateway::router(gateway),
        core::router(core),
        overlay::router(Arc::clone(&shared), Component::Chrono),
        overlay::router(Arc::clone(&shared), Component::V4),
    ];
    let pairs = listeners.into_iter().map(|(l, _)| l).zip(routers).collect();
    let (switches, tasks) = listener::spawn_all(pairs, limits, &ctx.shutdown)
        .map_err(|source| MockError::Bind { service: ServiceId::Pxl, source })?;
    let control = Switchboard::new(switches, 4).ok_or_else(|| bad("expected four listeners".into()))?;
    let _ = shared.control.set(control.clone());
    let endpoints =
        Component::ALL.iter().map(|c| Endpoint { name: c.endpoint_name().into(), addr: addrs[c.index()] }).collect();
    let service = RunningService { id: ServiceId::Pxl, endpoints, tasks };
    Ok(Launched { service, control })
}

/// The state every listener shares: metrics, the proof pool, the session permits.
fn build_shared(profile: Profile, ctx: &MockContext) -> Result<Arc<Shared>, MockError> {
    let metrics_err = |source| MockError::Metrics { service: ServiceId::Pxl, source };
    let kit = KitMetrics::new(ctx.scale).map_err(metrics_err)?;
    let own = metrics::PxlMetrics::new(&kit).map_err(metrics_err)?;
    let mean_s = profile.proof_service_time.mean_secs();
    let pool = WorkerPool::new(profile.pool_config(), ctx.scale, mean_s);
    Ok(Arc::new(Shared {
        sessions: Arc::new(Semaphore::new(profile.max_sessions)),
        profile,
        scale: ctx.scale,
        kit,
        metrics: own,
        started: tokio::time::Instant::now(),
        control: OnceLock::new(),
        pool,
    }))
}

/// Binds the four listeners (gateway, core, chrono, v4) before anything serves, so a
/// busy port is reported before any of them starts.
async fn bind_all(profile: &Profile, ctx: &MockContext) -> Result<[(TcpListener, SocketAddr); 4], MockError> {
    let ports = [profile.gateway_runbook_port, CORE_RUNBOOK_PORT, CHRONO_RUNBOOK_PORT, V4_RUNBOOK_PORT];
    let mut out = Vec::with_capacity(4);
    for port in ports {
        let listener = bind_loopback(ctx.host, ctx.port(port))
            .await
            .map_err(|source| MockError::Bind { service: ServiceId::Pxl, source })?;
        let addr = listener.local_addr().map_err(|source| MockError::Bind {
            service: ServiceId::Pxl,
            source: crate::kit::BindError { addr: SocketAddr::new(ctx.host, port), source },
        })?;
        out.push((listener, addr));
    }
    out.try_into()
        .map_err(|_| MockError::Profile { service: ServiceId::Pxl, message: "expected four listeners".into() })
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_carries_the_runbook_limits() {
        let p = Profile::default();
        assert_eq!(p.max_sessions, 1000);
        assert_eq!(p.rate_limit_requests, 1000);
        assert_eq!(p.rate_limit_window.get(), Duration::from_secs(60));
        assert_eq!(p.max_body_bytes, 10 * 1024 * 1024);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn profile_rejects_zero_limits_and_unknown_fields() {
        let p = Profile { max_sessions: 0, ..Profile::default() };
        assert!(p.validate().is_err_and(|e| e.to_string().contains("max_sessions")));
        let parsed: Result<Profile, _> = serde_json::from_str(r#"{"max_session": 5}"#);
        assert!(parsed.is_err());
        let parsed: Result<Profile, _> = serde_json::from_str(r#"{"rate_limit_window": "30s"}"#);
        assert_eq!(parsed.map(|p| p.rate_limit_window.get()).ok(), Some(Duration::from_secs(30)));
    }
}
