//! MorphSave: a web app with a PostgreSQL pool, a Redis cache and Morph L2 RPC (runbook 004).
//!
//! Three listeners:
//! - the app (endpoint `morphsave`, runbook port 3000): `GET /api/health`,
//!   `GET /api/savings/{account_id}`, `POST /api/deposits`, `GET /api/blockchain/status`,
//!   `GET /metrics` (also `/api/metrics`);
//! - the primary JSON-RPC node (`morphsave-rpc`, [`RPC_PORT`] = 8545, the usual Ethereum
//!   JSON-RPC port, under `--ports runbook`; the runbook gives none) and the backup node
//!   (`morphsave-rpc-backup`, [`RPC_BACKUP_PORT`] = 8546).
//!
//! What a request costs depends on the dependencies, as on the real app:
//! - the database is a modelled connection pool ([`db`]): a query holds a connection
//!   for its service time; with none free a request waits, and past `db_pool_timeout`
//!   fails with 503 `db_pool_timeout` (the runbook does not say 500 or 503; 503 because
//!   the condition is transient and retryable);
//! - the cache is a modelled Redis ([`cache`]): reads hit it with `cache_hit_ratio`; when
//!   it is down every read pays `cache_down_penalty` and goes to the database;
//! - the blockchain is reached over real HTTP JSON-RPC ([`rpc_client`]), failing over to
//!   the backup node when the primary fails; with both failing, 502 `rpc_unavailable`.
//!
//! Fault hooks for drills ([`Control`]): stop/start any listener (an RPC node really
//! refuses connections), take the cache down, hold database connections (pool exhaustion).
//!
//! Self-reported health: each `/metrics` scrape runs the very checks `/api/health` answers
//! from (`app::check_dependencies`), so `morphsave_db_up` is 0 while the pool is exhausted
//! (fault `db-pool-exhaustion`: the check's `SELECT 1` gets no connection within the
//! timeout), `morphsave_rpc_up{endpoint="primary"}` is 0 while the primary node is down
//! (fault `rpc-failure`) even if no traffic called it, `morphsave_cache_up` is 0 while the
//! cache is down, and `morphsave_health_check_success` is 0 exactly while `/api/health`
//! answers 503. A dead app process exports nothing: detecting it needs `up` or a probe.

mod app;
mod cache;
mod chain;
mod db;
mod metrics;
mod rpc_client;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use super::{Endpoint, MockError, ProfileError, RunningService, ServiceId};
use crate::kit::listener::{self, ListenerKey, Switchboard};
use crate::kit::metrics::KitMetrics;
use crate::kit::serve::finish_router;
use crate::kit::{
    bind_loopback, ConnLimits, HumanDuration, MockContext, PositiveDuration, Sampler, ServiceTime, TimeScale,
};

pub use db::PoolSnapshot;
pub use rpc_client::RpcNode;

/// The runbook's app port.
pub const APP_PORT: u16 = 3000;
/// The primary RPC node's port under `--ports runbook` (the runbook gives none).
pub const RPC_PORT: u16 = 8545;
/// The backup RPC node's port under `--ports runbook`.
pub const RPC_BACKUP_PORT: u16 = 8546;

/// One of MorphSave's listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Listener {
    /// The Next.js app.
    App,
    /// The primary RPC node.
    RpcPrimary,
    /// The backup RPC node.
    RpcBackup,
}

impl Listener {
    /// All three, main one first (the order of the endpoints).
    pub const ALL: [Listener; 3] = [Listener::App, Listener::RpcPrimary, Listener::RpcBackup];

    /// The manifest name of its endpoint.
    pub fn endpoint_name(self) -> &'static str {
        match self {
            Self::App => "morphsave",
            Self::RpcPrimary => "morphsave-rpc",
            Self::RpcBackup => "morphsave-rpc-backup",
        }
    }
}

impl ListenerKey for Listener {
    fn index(self) -> usize {
        match self {
            Self::App => 0,
            Self::RpcPrimary => 1,
            Self::RpcBackup => 2,
        }
    }
}

impl Listener {
    fn runbook_port(self) -> u16 {
        match self {
            Self::App => APP_PORT,
            Self::RpcPrimary => RPC_PORT,
            Self::RpcBackup => RPC_BACKUP_PORT,
        }
    }
}

impl From<RpcNode> for Listener {
    fn from(n: RpcNode) -> Self {
        match n {
            RpcNode::Primary => Listener::RpcPrimary,
            RpcNode::Backup => Listener::RpcBackup,
        }
    }
}

/// MorphSave's knobs: pool, cache, RPC and the service-time model (simulated time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Reported by `/api/health`.
    pub version: String,
    /// Database connections in the app's pool (Prisma `connection_limit`).
    pub db_pool_size: usize,
    /// How long a request waits for a connection before `db_pool_timeout` (Prisma's default 10 s).
    pub db_pool_timeout: PositiveDuration,
    /// A read query's service time.
    pub db_read_time: ServiceTime,
    /// A write transaction's service time.
    pub db_write_time: ServiceTime,
    /// Fraction of cache lookups that hit while the cache is up.
    pub cache_hit_ratio: f64,
    /// A cache call's service time.
    pub cache_time: ServiceTime,
    /// What a cache call costs while the cache is down (the client's connect timeout).
    pub cache_down_penalty: HumanDuration,
    /// An RPC node's service time per call.
    pub rpc_time: ServiceTime,
    /// How long the app waits for one RPC node before failing over.
    pub rpc_timeout: PositiveDuration,
    /// After the primary fails, how long calls go to the backup first.
    pub rpc_failover_cooldown: PositiveDuration,
    /// Morph chain id (2810: Morph Holesky, the runbook's `morphHolesky` network).
    pub chain_id: u64,
    /// Block number at start.
    pub genesis_block: u64,
    /// Simulated time per block.
    pub block_time: PositiveDuration,
    /// Savings accounts `acct-0001` .. `acct-NNNN`.
    pub accounts: usize,
    /// How long `/api/health` waits for each dependency.
    pub health_probe_timeout: PositiveDuration,
    /// Largest accepted request body (Next.js API routes' default 1 MB).
    pub max_body_bytes: usize,
    /// Connection timeouts of every listener (real time): a request head must be complete
    /// `header_read_timeout` after its first byte, and a connection with nothing in flight
    /// closes after `idle_timeout` without traffic.
    pub connection: ConnLimits,
}

impl Default for Profile {
    fn default() -> Self {
        let ms = Duration::from_millis;
        let pos = |d| PositiveDuration(HumanDuration(d));
        // Reads: ~1 ms on a hit, +8 ms median on a miss; deposits: ~15 ms write + ~30 ms
        // RPC. Both stay well under the runbook's 200 ms response-time target.
        Self {
            version: "1.2.0".into(),
            db_pool_size: 20,
            db_pool_timeout: pos(Duration::from_secs(10)),
            db_read_time: ServiceTime::lognormal(ms(8), ms(40)),
            db_write_time: ServiceTime::lognormal(ms(15), ms(60)),
            cache_hit_ratio: 0.9,
            cache_time: ServiceTime::lognormal(ms(1), ms(4)),
            cache_down_penalty: HumanDuration(ms(50)),
            rpc_time: ServiceTime::lognormal(ms(30), ms(120)),
            rpc_timeout: pos(Duration::from_secs(5)),
            rpc_failover_cooldown: pos(Duration::from_secs(30)),
            chain_id: 2810,
            genesis_block: 5_000_000,
            block_time: pos(Duration::from_secs(2)),
            accounts: 1000,
            health_probe_timeout: pos(Duration::from_secs(2)),
            max_body_bytes: 1024 * 1024,
            connection: ConnLimits::default(),
        }
    }
}

pub(super) struct Samplers {
    db_read: Sampler,
    db_write: Sampler,
    cache: Sampler,
    rpc: Sampler,
}

impl Profile {
    pub(super) fn validate(&self) -> Result<Samplers, ProfileError> {
        if self.db_pool_size == 0 || self.accounts == 0 || self.max_body_bytes == 0 {
            return Err(ProfileError::Zero { field: "db_pool_size, accounts and max_body_bytes" });
        }
        if !(0.0..=1.0).contains(&self.cache_hit_ratio) {
            let got = self.cache_hit_ratio;
            return Err(ProfileError::OutOfRange { field: "cache_hit_ratio", min: 0.0, max: 1.0, got });
        }
        let s = |field: &'static str, st: &ServiceTime| {
            st.sampler().map_err(|source| ProfileError::ServiceTime { field, source })
        };
        Ok(Samplers {
            db_read: s("db_read_time", &self.db_read_time)?,
            db_write: s("db_write_time", &self.db_write_time)?,
            cache: s("cache_time", &self.cache_time)?,
            rpc: s("rpc_time", &self.rpc_time)?,
        })
    }
}

/// What the app's routes share.
struct Shared {
    profile: Profile,
    scale: TimeScale,
    kit: Arc<KitMetrics>,
    metrics: metrics::MorphMetrics,
    db: db::DbPool,
    cache: cache::Cache,
    rpc: rpc_client::RpcClient,
    chain: Arc<chain::Chain>,
    db_read: Sampler,
    db_write: Sampler,
    rng: Mutex<StdRng>,
    accounts: Mutex<std::collections::BTreeMap<String, u64>>,
    next_deposit: std::sync::atomic::AtomicU64,
    started: tokio::time::Instant,
}

impl Shared {
    fn real(&self, sim: Duration) -> Duration {
        self.scale.to_real(sim)
    }

    fn sample(&self, s: &Sampler) -> Duration {
        let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.scale.to_real(s.sample(&mut *rng))
    }
}

/// The fault hooks.
#[derive(Clone)]
pub struct Control {
    switches: Switchboard<Listener>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").field("switches", &self.switches).finish_non_exhaustive()
    }
}

impl std::ops::Deref for Control {
    type Target = Switchboard<Listener>;

    /// The listener hooks: `take_down`, `bring_up`, `is_up`, `addr`.
    fn deref(&self) -> &Self::Target {
        &self.switches
    }
}

impl Control {
    /// Takes the cache down (`false`) or brings it back (`true`).
    pub fn set_cache_up(&self, up: bool) {
        self.shared.cache.set_up(up);
    }

    /// Takes up to `n` database connections and keeps them (waiting for busy ones);
    /// returns how many are held in all.
    pub async fn hold_db_connections(&self, n: usize) -> usize {
        self.shared.db.hold(n).await
    }

    /// Gives back every held database connection; returns how many.
    pub fn release_db_connections(&self) -> usize {
        self.shared.db.release_held()
    }

    /// The pool right now.
    pub fn db_pool(&self) -> PoolSnapshot {
        self.shared.db.snapshot()
    }
}

/// A started MorphSave mock with its fault hooks.
pub type Launched = super::Launched<Control>;

/// Starts MorphSave (app and two RPC nodes) and serves until `ctx.shutdown`.
pub async fn start(profile: Profile, ctx: &MockContext) -> Result<RunningService, MockError> {
    launch(profile, ctx).await.map(|l| l.service)
}

/// Starts MorphSave and also hands back the [`Control`] drills use.
pub async fn launch(profile: Profile, ctx: &MockContext) -> Result<Launched, MockError> {
    let bad = |message: String| MockError::Profile { service: ServiceId::Morphsave, message };
    let samplers = profile.validate().map_err(|e| bad(e.to_string()))?;
    let mut listeners = Vec::with_capacity(3);
    for l in Listener::ALL {
        listeners.push(bind(ctx, l.runbook_port()).await?);
    }
    let addrs: Vec<SocketAddr> = listeners.iter().map(|(_, a)| *a).collect();
    let rpc_time = samplers.rpc.clone();
    let limits = profile.connection;
    let shared = build_shared(profile, samplers, ctx, &addrs)?;
    let mut routers = vec![app::router(Arc::clone(&shared))];
    for (name, salt) in [("primary", "morphsave-rpc"), ("backup", "morphsave-rpc-backup")] {
        routers.push(node_router(&shared, name, rpc_time.clone(), ctx.rng(salt)));
    }
    let pairs = listeners.into_iter().map(|(l, _)| l).zip(routers).collect();
    let (switches, tasks) = listener::spawn_all(pairs, limits, &ctx.shutdown)
        .map_err(|source| MockError::Bind { service: ServiceId::Morphsave, source })?;
    let switches = Switchboard::new(switches, 3).ok_or_else(|| bad("expected three listeners".into()))?;
    let control = Control { switches, shared };
    let endpoints =
        Listener::ALL.iter().map(|l| Endpoint { name: l.endpoint_name().into(), addr: addrs[l.index()] }).collect();
    Ok(Launched { service: RunningService { id: ServiceId::Morphsave, endpoints, tasks }, control })
}

fn build_shared(
    profile: Profile,
    samplers: Samplers,
    ctx: &MockContext,
    addrs: &[SocketAddr],
) -> Result<Arc<Shared>, MockError> {
    let metrics_err = |source| MockError::Metrics { service: ServiceId::Morphsave, source };
    let kit = KitMetrics::new(ctx.scale).map_err(metrics_err)?;
    let own = metrics::MorphMetrics::new(&kit).map_err(metrics_err)?;
    let scale = ctx.scale;
    let urls = [format!("http://{}/", addrs[1]), format!("http://{}/", addrs[2])];
    let rpc = rpc_client::RpcClient::new(
        urls,
        scale.to_real(profile.rpc_timeout.get()),
        scale.to_real(profile.rpc_failover_cooldown.get()),
        own.rpc.clone(),
    )
    .map_err(|e| MockError::Profile {
        service: ServiceId::Morphsave,
        message: format!("cannot build the app's RPC client: {e}"),
    })?;
    let chain = chain::Chain::new(profile.genesis_block, profile.block_time.get(), profile.chain_id, scale);
    let cache = cache::Cache::new(
        profile.cache_hit_ratio,
        samplers.cache,
        profile.cache_down_penalty.0,
        scale,
        ctx.rng("morphsave-cache"),
    );
    let rng = ctx.rng("morphsave-app");
    let accounts = app::seed_accounts(profile.accounts, &rng);
    Ok(Arc::new(Shared {
        db: db::DbPool::new(profile.db_pool_size),
        cache,
        rpc,
        chain: Arc::new(chain),
        db_read: samplers.db_read,
        db_write: samplers.db_write,
        rng,
        accounts: Mutex::new(accounts),
        next_deposit: std::sync::atomic::AtomicU64::new(1),
        started: tokio::time::Instant::now(),
        profile,
        scale,
        kit,
        metrics: own,
    }))
}

fn node_router(shared: &Arc<Shared>, name: &'static str, time: Sampler, rng: Mutex<StdRng>) -> Router {
    let node =
        chain::Node { name, chain: Arc::clone(&shared.chain), time, rng, served: shared.metrics.node_requests.clone() };
    finish_router(chain::router(Arc::new(node)), shared.profile.max_body_bytes)
}

async fn bind(ctx: &MockContext, port: u16) -> Result<(TcpListener, SocketAddr), MockError> {
    let listener = bind_loopback(ctx.host, ctx.port(port))
        .await
        .map_err(|source| MockError::Bind { service: ServiceId::Morphsave, source })?;
    let addr = listener.local_addr().map_err(|source| MockError::Bind {
        service: ServiceId::Morphsave,
        source: crate::kit::BindError { addr: SocketAddr::new(ctx.host, port), source },
    })?;
    Ok((listener, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_checks_ratio_and_sizes() {
        assert!(Profile::default().validate().is_ok());
        let p = Profile { cache_hit_ratio: 1.5, ..Profile::default() };
        assert!(p.validate().is_err_and(|e| e.to_string().contains("cache_hit_ratio")));
        let p = Profile { db_pool_size: 0, ..Profile::default() };
        assert!(p.validate().is_err_and(|e| e.to_string().contains("db_pool_size")));
        let parsed: Result<Profile, _> = serde_json::from_str(r#"{"db_pool_size": 5, "db_pool_timeout": "250ms"}"#);
        assert_eq!(
            parsed.map(|p| (p.db_pool_size, p.db_pool_timeout.get())).ok(),
            Some((5, Duration::from_millis(250)))
        );
    }
}
