//! Grahmos V1+V2 edge node (runbook 002): API, on-disk search index, auth, backhaul.
//!
//! Three listeners (endpoints, main first):
//! - `grahmos`: the edge API. The runbook reaches it through nginx on 443
//!   (`https://localhost/api/health`); the mock uses **8443** with `--ports runbook`
//!   (no privileges needed, no clash with PXL's 8080). Plain HTTP by default, HTTPS or
//!   HTTPS with client certificates with `tls = "on" | "mtls"` (see [`tls`]).
//!   Routes: `GET /api/health`, `/api/v1/status`, `/api/v2/status`; `GET /search?q=`
//!   and `POST /api/search {"q":..}` (a token is required, see [`auth`]); `GET
//!   /auth/dpop/nonce`, `POST|GET /auth/dpop`, `GET|POST /auth/mtls`,
//!   `GET /.well-known/jwks.json`; `GET /metrics` (see [`metrics`]).
//! - `grahmos-search`: the search engine (Meilisearch in the runbook) on **7700**:
//!   `GET /_healthz` (every file of the serving release verified; 503 when broken),
//!   `GET /stats`, `GET|POST /search?q=` (anonymous: public documents shared with every
//!   tenant, such as the canary; `{"index": VER}` or `?index=VER` probes a staged
//!   release), `GET /releases`, and the drills' hooks `POST /admin/index/rollback`,
//!   `/admin/index/rebuild`, `/admin/index/switch {"release"}`, `/admin/tls/reload`,
//!   `/admin/tls/renew {"lifetime"|"not_after_in"}`, `/admin/keys/rotate`.
//! - `grahmos-upstream`: the upstream (cloud) mock on **8444**, unless `upstream_url`
//!   points elsewhere (e.g. at a fault proxy), see [`upstream`].
//!
//! The index is a real directory (see [`index`]); by default a temporary directory the
//! mock creates and seeds with a generated corpus (see [`corpus`]) and removes when it
//! stops. In-process drills get a [`Handle`] from [`start_with_handle`] to roll back,
//! rebuild, renew certificates and stop or restart the upstream.
//!
//! Self-reported health (see [`metrics`]): `grahmos_index_healthy` comes from the same full
//! check `/_healthz` runs, at scrape time, and `grahmos_upstream_up` from the backhaul
//! status `/api/health` reads, so each gauge and its endpoint agree. A dead edge process
//! exports nothing: detecting it needs `up` or a probe of `/api/health`.
//!
//! A metric that disappears (the staleness fixture): while the index is broken (drill
//! fault `index-corruption`, either mode; or the runbook's `rm -rf current/*` by hand),
//! `grahmos_index_release_info{release=...}` is absent from the otherwise successful
//! scrape of the edge API's `/metrics` (endpoint `grahmos`, `GET <grahmos url>/metrics`),
//! so Prometheus marks it stale and `absent(grahmos_index_release_info)` turns 1. It comes
//! back, labelled with the serving release, after `index-rollback` or `index-rebuild`.

pub mod api;
pub mod auth;
pub mod corpus;
pub mod engine;
pub mod index;
pub mod layout;
pub mod metrics;
pub mod tls;
pub mod upstream;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::auth::{Claims, IssuerClient, NonceStore, SignError, TokenKeys};
use self::corpus::Label;
use self::index::{IndexError, IndexStore};
use self::tls::{EdgeTls, HandshakeCounters, PeerInfo, TlsListener, TlsMode};
use self::upstream::{Backhaul, BackhaulConfig, UpstreamServer, UpstreamState};
use super::{Endpoint, MockError, ProfileError, RunningService, ServiceId};
use crate::kit::metrics::KitMetrics;
use crate::kit::{
    bind_loopback, serve_listener, ConnLimits, HumanDuration, MockContext, PoolConfig, PositiveDuration, Sampler,
    ServiceTime, TimeScale, WorkerPool,
};

/// The edge API's port with `--ports runbook` (the runbook's nginx serves 443).
pub const API_PORT: u16 = 8443;
/// The search engine's port (the runbook's Meilisearch).
pub const SEARCH_PORT: u16 = 7700;
/// The upstream mock's port with `--ports runbook`.
pub const UPSTREAM_PORT: u16 = 8444;
/// The longest nonce lifetime the runbook allows.
pub const MAX_NONCE_TTL: Duration = Duration::from_secs(120);

fn dur(secs: u64) -> PositiveDuration {
    PositiveDuration(HumanDuration(Duration::from_secs(secs)))
}

/// Service times per request kind (simulated time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceTimes {
    /// A search (through the worker pool).
    pub search: ServiceTime,
    /// One answer of the upstream mock (the backhaul's round trip).
    pub upstream: ServiceTime,
}

impl Default for ServiceTimes {
    fn default() -> Self {
        let ms = Duration::from_millis;
        Self { search: ServiceTime::lognormal(ms(15), ms(120)), upstream: ServiceTime::lognormal(ms(30), ms(200)) }
    }
}

/// Every knob of the edge mock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Reported by the status pages.
    pub version: String,
    /// The index directory; seeded with a generated corpus when it has no `current`.
    /// Default: a temporary directory removed when the mock stops.
    pub index_dir: Option<PathBuf>,
    /// Where the certificate files go. Default: `certs/` in the temporary directory.
    pub cert_dir: Option<PathBuf>,
    /// Tenants of the generated corpus.
    pub tenants: Vec<String>,
    /// Documents per tenant in the generated corpus.
    pub docs_per_tenant: usize,
    /// Whether searches also ask the upstream.
    pub upstream: bool,
    /// The upstream's base URL; unset = start the upstream mock and use it.
    pub upstream_url: Option<String>,
    /// Archive documents per tenant held by the upstream mock.
    pub upstream_docs_per_tenant: usize,
    /// Timeout of one upstream request.
    pub upstream_timeout: PositiveDuration,
    /// How long a cached upstream answer is served without asking again.
    pub cache_ttl: PositiveDuration,
    /// Consecutive upstream failures that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long an open breaker skips the upstream.
    pub breaker_cooldown: PositiveDuration,
    /// Lifetime of a DPoP nonce (at most 120 s).
    pub nonce_ttl: PositiveDuration,
    /// Lifetime of an access token.
    pub token_ttl: PositiveDuration,
    /// Who may mint tokens at `POST /auth/dpop` (`client_id` + `client_secret`), each
    /// bound to its tenants and a highest tier. Empty (the default): one client per
    /// tenant, id = the tenant, secret `<tenant>-secret`, that tenant only, every tier.
    pub clients: Vec<IssuerClient>,
    /// Whether `/search` without a token answers as the anonymous viewer (public
    /// documents shared with every tenant) instead of 401.
    pub anonymous_search: bool,
    /// Plain HTTP, HTTPS, or HTTPS with client certificates on the edge listener.
    pub tls: TlsMode,
    /// Validity of the server certificate from start-up.
    pub cert_lifetime: PositiveDuration,
    /// Bound on one TLS handshake (real time).
    pub handshake_timeout: PositiveDuration,
    /// Search workers.
    pub workers: usize,
    /// Searches that may wait for a worker (0 = unbounded).
    pub job_capacity: usize,
    /// A search not done this long after admission fails with 504.
    pub job_timeout: PositiveDuration,
    /// Window of the CPU gauge.
    pub cpu_window: PositiveDuration,
    /// Service times.
    pub service_time: ServiceTimes,
    /// Results per query unless the query asks for fewer (at most 100).
    pub default_limit: usize,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Connection timeouts of every listener (real time): a request head must be complete
    /// `header_read_timeout` after its first byte, and a connection with nothing in flight
    /// closes after `idle_timeout` without traffic.
    pub connection: ConnLimits,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            version: "2.1.0".into(),
            index_dir: None,
            cert_dir: None,
            tenants: vec!["tenant-a".into(), "tenant-b".into(), "tenant-c".into()],
            docs_per_tenant: 24,
            upstream: true,
            upstream_url: None,
            upstream_docs_per_tenant: 12,
            upstream_timeout: dur(2),
            cache_ttl: dur(60),
            breaker_failures: 3,
            breaker_cooldown: dur(10),
            nonce_ttl: dur(120),
            token_ttl: dur(3600),
            anonymous_search: false,
            clients: Vec::new(),
            tls: TlsMode::Off,
            cert_lifetime: dur(90 * 86_400),
            handshake_timeout: dur(10),
            workers: 16,
            job_capacity: 512,
            job_timeout: dur(10),
            cpu_window: dur(60),
            service_time: ServiceTimes::default(),
            default_limit: 10,
            max_body_bytes: 64 * 1024,
            connection: ConnLimits::default(),
        }
    }
}

impl Profile {
    pub(super) fn validate(&self) -> Result<(), ProfileError> {
        if self.workers == 0 {
            return Err(ProfileError::Zero { field: "workers" });
        }
        if self.nonce_ttl.get() > MAX_NONCE_TTL {
            return Err(ProfileError::NonceTtl(self.nonce_ttl.0));
        }
        if self.tenants.is_empty() || self.tenants.iter().any(|t| !corpus::valid_id(t)) {
            let rule = "must be non-empty names of letters, digits, `-`, `_` or `.`";
            return Err(ProfileError::Rule { field: "tenants", rule });
        }
        if !(1..=100).contains(&self.default_limit) {
            return Err(ProfileError::Rule { field: "default_limit", rule: "must be 1..=100" });
        }
        if self.breaker_failures == 0 {
            return Err(ProfileError::Zero { field: "breaker_failures" });
        }
        self.validate_clients()
    }

    fn validate_clients(&self) -> Result<(), ProfileError> {
        let mut ids = std::collections::BTreeSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            if c.id.is_empty() || c.secret.is_empty() {
                return Err(ProfileError::Client { index: i, rule: ": id and secret must not be empty" });
            }
            if !ids.insert(c.id.as_str()) {
                let (field, value) = (format!("clients[{i}]: id"), c.id.clone());
                return Err(ProfileError::Value { field, value, rule: "is given twice" });
            }
            if c.tenant_ids.is_empty() || c.tenant_ids.iter().any(|t| !corpus::valid_id(t)) {
                return Err(ProfileError::Client { index: i, rule: ".tenant_ids must be non-empty tenant ids" });
            }
        }
        Ok(())
    }

    /// The clients of the token issuer: `clients`, or one per tenant when it is empty.
    pub fn issuer_clients(&self) -> Vec<IssuerClient> {
        if self.clients.is_empty() {
            self.tenants.iter().map(|t| IssuerClient::default_for(t)).collect()
        } else {
            self.clients.clone()
        }
    }

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
}

/// The live state behind the edge's and the search engine's routes.
pub struct State {
    profile: Profile,
    scale: TimeScale,
    index: IndexStore,
    backhaul: Option<Backhaul>,
    keys: TokenKeys,
    nonces: NonceStore,
    clients: Vec<IssuerClient>,
    tls: EdgeTls,
    handshakes: Arc<HandshakeCounters>,
    pool: Arc<WorkerPool>,
    search_time: Sampler,
    rng: Mutex<StdRng>,
    kit: Arc<KitMetrics>,
    own: metrics::OwnMetrics,
    started: Instant,
    _tmp: Option<tempfile::TempDir>,
}

/// Creates the index directory's contents when it has no `current`: source documents,
/// releases `v1` (every tenth document left out) and `v2` (all), `current -> v2`.
pub fn seed(root: &Path, docs: &[corpus::Document]) -> Result<(), IndexError> {
    if root.join(index::CURRENT).symlink_metadata().is_ok() {
        return Ok(());
    }
    index::write_source(root, docs)?;
    let v1: Vec<_> = docs.iter().enumerate().filter(|(i, _)| i % 10 != 9).map(|(_, d)| d.clone()).collect();
    index::write_release(root, "v1", &v1)?;
    index::write_release(root, "v2", docs)?;
    index::point_current(root, "v2")
}

fn bad_profile(message: String) -> MockError {
    MockError::Profile { service: ServiceId::Grahmos, message }
}

/// The index and certificate directories, and the temporary directory holding the
/// defaults (removed when the state is dropped).
struct Dirs {
    index: PathBuf,
    certs: PathBuf,
    tmp: Option<tempfile::TempDir>,
}

impl Dirs {
    fn prepare(profile: &Profile) -> Result<Self, MockError> {
        let tmp = if profile.index_dir.is_none() || profile.cert_dir.is_none() {
            let dir = tempfile::Builder::new().prefix("grahmos-edge-").tempdir();
            Some(dir.map_err(|e| bad_profile(format!("temporary directory: {e}")))?)
        } else {
            None
        };
        let under_tmp = |name: &str| tmp.as_ref().map(|t| t.path().join(name)).unwrap_or_default();
        let index = profile.index_dir.clone().unwrap_or_else(|| under_tmp("indexes"));
        let certs = profile.cert_dir.clone().unwrap_or_else(|| under_tmp("certs"));
        std::fs::create_dir_all(&index).map_err(|e| bad_profile(format!("index_dir {}: {e}", index.display())))?;
        Ok(Self { index, certs, tmp })
    }
}

fn backhaul(profile: &Profile, scale: TimeScale, url: Option<String>) -> Result<Option<Backhaul>, MockError> {
    let (true, Some(url)) = (profile.upstream, url) else {
        return Ok(None);
    };
    let cfg = BackhaulConfig {
        url,
        timeout: scale.to_real(profile.upstream_timeout.get()),
        cache_ttl: scale.to_real(profile.cache_ttl.get()),
        breaker_failures: profile.breaker_failures,
        breaker_cooldown: scale.to_real(profile.breaker_cooldown.get()),
        scale,
    };
    Backhaul::new(cfg).map(Some).map_err(|e| bad_profile(e.to_string()))
}

impl State {
    /// Builds the state: index directory (seeded), certificates, keys, pool, metrics.
    pub fn new(profile: Profile, ctx: &MockContext, upstream_url: Option<String>) -> Result<Arc<Self>, MockError> {
        profile.validate().map_err(|e| bad_profile(e.to_string()))?;
        let dirs = Dirs::prepare(&profile)?;
        let rng = ctx.rng("grahmos");
        let docs = corpus::generate(&mut upstream::lock(&rng), &profile.tenants, profile.docs_per_tenant);
        seed(&dirs.index, &docs).map_err(|e| bad_profile(format!("seeding index_dir: {e}")))?;
        let cert_err =
            |e: &dyn std::fmt::Display| MockError::Certificate { service: ServiceId::Grahmos, message: e.to_string() };
        let tls = EdgeTls::new(dirs.certs, profile.cert_lifetime.get()).map_err(|e| cert_err(&e))?;
        let keys = TokenKeys::generate().map_err(|e| cert_err(&e))?;
        let backhaul = backhaul(&profile, ctx.scale, upstream_url)?;
        let search_time =
            profile.service_time.search.sampler().map_err(|e| bad_profile(format!("service_time.search: {e}")))?;
        let pool = WorkerPool::new(profile.pool_config(), ctx.scale, profile.service_time.search.mean_secs());
        let metrics_err = |source| MockError::Metrics { service: ServiceId::Grahmos, source };
        let kit = KitMetrics::new(ctx.scale).map_err(metrics_err)?;
        let own = metrics::OwnMetrics::new(&kit).map_err(metrics_err)?;
        Ok(Arc::new(Self {
            nonces: NonceStore::new(ctx.scale.to_real(profile.nonce_ttl.get())),
            index: IndexStore::open(dirs.index),
            clients: profile.issuer_clients(),
            scale: ctx.scale,
            profile,
            backhaul,
            keys,
            tls,
            handshakes: Arc::new(HandshakeCounters::default()),
            pool,
            search_time,
            rng,
            kit,
            own,
            started: Instant::now(),
            _tmp: dirs.tmp,
        }))
    }

    /// Signs a token for `sub` with `tenant_ids` and `tier`, valid for `token_ttl`.
    pub fn issue_token(
        &self,
        sub: &str,
        tenant_ids: Vec<String>,
        tier: Label,
        cnf: Option<serde_json::Value>,
    ) -> Result<(String, u64), SignError> {
        let ttl_s = self.scale.to_real(self.profile.token_ttl.get()).as_secs().max(1);
        let now = i64::try_from(index::unix_ms() / 1000).unwrap_or(i64::MAX);
        let claims = Claims {
            iss: auth::ISSUER.into(),
            sub: sub.to_owned(),
            tenant_ids,
            tier,
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl_s).unwrap_or(i64::MAX)),
            cnf,
        };
        Ok((self.keys.sign(&claims)?, ttl_s))
    }
}

/// What in-process drills and tests hold to act on a running edge.
#[derive(Clone)]
pub struct Handle {
    state: Arc<State>,
    upstream: Option<Arc<UpstreamServer>>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").field("index_dir", &self.index_dir()).finish_non_exhaustive()
    }
}

impl Handle {
    /// The index directory (`current`, `releases/`, `source/`).
    pub fn index_dir(&self) -> &Path {
        self.state.index.root()
    }

    /// The certificate directory (`ca.crt`, `server.crt`, `server.key`, `client.*`).
    pub fn cert_dir(&self) -> &Path {
        self.state.tls.cert_dir()
    }

    /// The search index (switch, rollback, rebuild, verify).
    pub fn index(&self) -> &IndexStore {
        &self.state.index
    }

    /// The TLS material (renew, reload, CA, client certificates).
    pub fn tls(&self) -> &EdgeTls {
        &self.state.tls
    }

    /// The token-signing keys (rotate).
    pub fn keys(&self) -> &TokenKeys {
        &self.state.keys
    }

    /// The upstream mock, when this edge started one.
    pub fn upstream(&self) -> Option<&Arc<UpstreamServer>> {
        self.upstream.as_ref()
    }

    /// The issuer's clients (what `POST /auth/dpop` accepts as `client_id` + `client_secret`).
    pub fn issuer_clients(&self) -> Vec<IssuerClient> {
        self.state.clients.clone()
    }

    /// An unbound bearer token for `tenant_ids` with clearance `tier`, minted in-process
    /// (no credential, no proof): for trusted load scripts and drills that hold the edge.
    /// Over HTTP, `POST /auth/dpop` requires a client credential of those tenants.
    pub fn issue_token(&self, sub: &str, tenant_ids: &[&str], tier: Label) -> Result<String, SignError> {
        let tenants = tenant_ids.iter().map(|t| (*t).to_owned()).collect();
        self.state.issue_token(sub, tenants, tier, None).map(|(t, _)| t)
    }
}

fn bind_err(source: crate::kit::BindError) -> MockError {
    MockError::Bind { service: ServiceId::Grahmos, source }
}

async fn bind(ctx: &MockContext, port: u16) -> Result<(TcpListener, SocketAddr), MockError> {
    let listener = bind_loopback(ctx.host, ctx.port(port)).await.map_err(bind_err)?;
    let addr = listener.local_addr().map_err(|source| MockError::Bind {
        service: ServiceId::Grahmos,
        source: crate::kit::BindError { addr: SocketAddr::new(ctx.host, port), source },
    })?;
    Ok((listener, addr))
}

async fn start_upstream(profile: &Profile, ctx: &MockContext) -> Result<Option<Arc<UpstreamServer>>, MockError> {
    if !profile.upstream || profile.upstream_url.is_some() {
        return Ok(None);
    }
    start_upstream_server(profile, ctx).await.map(Some)
}

/// Starts the upstream (cloud) mock of `profile` on its port (`grahmos-upstream`, 8444
/// with `--ports runbook`), whatever `upstream` and `upstream_url` say: its corpus, its
/// latency and its seeded stream are the ones [`start`] gives it. The hook for a caller
/// that puts something between the edge and its upstream (the drills' fault proxy): it
/// starts this, then the edge with `upstream_url` pointing at its own front.
pub async fn start_upstream_server(profile: &Profile, ctx: &MockContext) -> Result<Arc<UpstreamServer>, MockError> {
    let bad = |message: String| MockError::Profile { service: ServiceId::Grahmos, message };
    let rng = ctx.rng("grahmos-upstream");
    let docs = corpus::generate_archive(&mut upstream::lock(&rng), &profile.tenants, profile.upstream_docs_per_tenant);
    let latency = profile.service_time.upstream.sampler().map_err(|e| bad(format!("service_time.upstream: {e}")))?;
    let state = UpstreamState::new(docs, latency, rng, ctx.scale);
    UpstreamServer::start(state, ctx.host, ctx.port(UPSTREAM_PORT), ctx.shutdown.clone()).await.map_err(bind_err)
}

/// Starts the edge, its search engine listener and (unless `upstream_url` is set) the
/// upstream mock, and returns the handle drills use.
pub async fn start_with_handle(profile: Profile, ctx: &MockContext) -> Result<(RunningService, Handle), MockError> {
    let upstream = start_upstream(&profile, ctx).await?;
    let own_upstream = upstream.as_ref().map(|u| format!("http://{}", u.addr()));
    let upstream_url = profile.upstream_url.clone().or(own_upstream);
    let state = State::new(profile, ctx, upstream_url)?;
    let (api_listener, api_addr) = bind(ctx, API_PORT).await?;
    let (engine_listener, engine_addr) = bind(ctx, SEARCH_PORT).await?;
    let handle = Handle { state: Arc::clone(&state), upstream: upstream.clone() };
    let api_task = spawn_api(&state, api_listener, api_addr, ctx)?;
    let shutdown = ctx.shutdown.clone();
    let limits = state.profile.connection;
    let engine = engine::router(handle.clone());
    let engine_task =
        tokio::spawn(crate::kit::serve(engine_listener, engine, limits, async move { shutdown.cancelled().await }));
    let mut endpoints = vec![
        Endpoint { name: "grahmos".into(), addr: api_addr },
        Endpoint { name: "grahmos-search".into(), addr: engine_addr },
    ];
    let mut tasks = vec![api_task, engine_task];
    if let Some(up) = upstream {
        endpoints.push(Endpoint { name: "grahmos-upstream".into(), addr: up.addr() });
        tasks.push(tokio::spawn(async move { up.join().await }));
    }
    Ok((RunningService { id: ServiceId::Grahmos, endpoints, tasks }, handle))
}

/// Serves the edge API on `listener`: plain HTTP, or TLS per the profile.
fn spawn_api(
    state: &Arc<State>,
    listener: TcpListener,
    addr: SocketAddr,
    ctx: &MockContext,
) -> Result<JoinHandle<std::io::Result<()>>, MockError> {
    let api = api::router(Arc::clone(state));
    let shutdown = ctx.shutdown.clone();
    let stop = async move { shutdown.cancelled().await };
    let mode = state.profile.tls;
    let limits = state.profile.connection;
    if mode == TlsMode::Off {
        return Ok(tokio::spawn(serve_listener(listener, api, limits, |io, addr| PeerInfo::of_tcp(io, *addr), stop)));
    }
    let config = state
        .tls
        .server_config(mode)
        .map_err(|e| MockError::Certificate { service: ServiceId::Grahmos, message: e.to_string() })?;
    let timeout = state.profile.handshake_timeout.get();
    let tls = TlsListener::new(listener, config, timeout, Arc::clone(&state.handshakes), ctx.shutdown.clone())
        .map_err(|source| bind_err(crate::kit::BindError { addr, source }))?;
    Ok(tokio::spawn(serve_listener(tls, api, limits, |io, addr| PeerInfo::of_tls(io, *addr), stop)))
}

/// Starts the service (see [`start_with_handle`]).
pub async fn start(profile: Profile, ctx: &MockContext) -> Result<RunningService, MockError> {
    start_with_handle(profile, ctx).await.map(|(running, _)| running)
}
