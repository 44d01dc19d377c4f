//! The backhaul: the upstream (cloud) mock, and the edge's client with its cache.
//!
//! The edge answers a query from its local index and adds what only the upstream holds
//! (the tenants' archives), fetched over `upstream_url` with a request timeout and kept
//! in a cache keyed by (query, caller's permissions):
//! - a cached answer younger than `cache_ttl` is served without asking (`cached`);
//! - otherwise the upstream is asked; its answer is served and cached (`fresh`);
//! - when the upstream fails (refused, reset, timed out, 5xx) the last cached answer is
//!   served marked stale (`stale`; response field `stale: true` and header
//!   `X-Grahmos-Stale: true`), or, with nothing cached, the local hits alone
//!   (`unavailable`). The local index keeps answering (the canary too): backhaul loss
//!   degrades, it does not fail.
//!
//! A circuit breaker stops paying the timeout on every request: after
//! `breaker_failures` consecutive failures the upstream is not asked for
//! `breaker_cooldown`, then one request probes it. Hits from the upstream are filtered
//! again by the access rule before they are cached or served.
//!
//! The upstream mock (`grahmos-upstream` endpoint, started unless a URL is configured)
//! answers `GET /v1/search?q=&tenant_ids=a,b&tier=&limit=` and `GET /health`. It can be
//! stopped and restarted on the same port ([`UpstreamServer`]) for the backhaul drill.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use axum::routing::get;
use axum::{Json, Router};
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::corpus::{Document, Label, Viewer};
use super::index::{rank, terms, unix_ms, Hit};
use crate::kit::errors::ApiError;
use crate::kit::listener::{self, Switch, SwitchError};
use crate::kit::serve::finish_router;
use crate::kit::{bind_loopback, BindError, ConnLimits, Sampler, TimeScale};

/// Entries the cache keeps at most; past it the oldest is dropped.
const CACHE_CAP: usize = 10_000;

/// Locks a mutex, recovering from poisoning.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------
// The upstream mock.

/// The upstream's corpus and latency model.
pub struct UpstreamState {
    docs: Vec<Document>,
    postings: HashMap<String, Vec<u32>>,
    latency: Sampler,
    rng: Mutex<StdRng>,
    scale: TimeScale,
    requests: AtomicU64,
}

impl UpstreamState {
    /// An upstream serving `docs`, each answer taking a `latency` draw (simulated).
    pub fn new(docs: Vec<Document>, latency: Sampler, rng: Mutex<StdRng>, scale: TimeScale) -> Arc<Self> {
        let mut postings: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, d) in docs.iter().enumerate() {
            let mut t = terms(&d.title);
            t.extend(terms(&d.content));
            t.sort();
            t.dedup();
            for term in t {
                postings.entry(term).or_default().push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        Arc::new(Self { docs, postings, latency, rng, scale, requests: AtomicU64::new(0) })
    }

    /// Searches answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

#[derive(Deserialize)]
struct UpstreamQuery {
    q: Option<String>,
    tenant_ids: Option<String>,
    tier: Option<Label>,
    limit: Option<usize>,
}

async fn upstream_search(
    AxumState(s): AxumState<Arc<UpstreamState>>,
    query: Result<Query<UpstreamQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let text = q.q.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("missing_query", "q is required"));
    }
    let viewer = Viewer {
        tenant_ids: q.tenant_ids.unwrap_or_default().split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
        tier: q.tier.unwrap_or(Label::Public),
    };
    let delay = s.latency.sample(&mut *lock(&s.rng));
    tokio::time::sleep(s.scale.to_real(delay)).await;
    s.requests.fetch_add(1, Ordering::Relaxed);
    let limit = q.limit.unwrap_or(10).clamp(1, 100);
    let (found, total, _) =
        rank(|i| s.docs.get(i as usize), |t| s.postings.get(t).map(Vec::as_slice), &text, &viewer, limit);
    let hits: Vec<Hit> = found.into_iter().map(|(score, d)| Hit::new(d, score, "upstream")).collect();
    Ok(Json(json!({ "hits": hits, "total": total, "generated_unix_ms": unix_ms() })))
}

/// The upstream mock's routes.
pub fn upstream_router(state: Arc<UpstreamState>) -> Router {
    let routes = Router::new()
        .route("/v1/search", get(upstream_search))
        .route("/health", get(|| async { Json(json!({"status": "ok", "service": "grahmos-upstream"})) }))
        .with_state(state);
    finish_router(routes, 64 * 1024)
}

/// The upstream mock's listener, stoppable and restartable on the same address.
pub struct UpstreamServer {
    switch: Switch,
    state: Arc<UpstreamState>,
    task: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
}

impl std::fmt::Debug for UpstreamServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamServer").field("addr", &self.addr()).finish_non_exhaustive()
    }
}

impl UpstreamServer {
    /// Binds `host:port` and serves (a kit [`listener`](crate::kit::listener) switch)
    /// until `parent` is cancelled; [`Self::stop`] and [`Self::restart`] flip it.
    pub async fn start(
        state: Arc<UpstreamState>,
        host: std::net::IpAddr,
        port: u16,
        parent: CancellationToken,
    ) -> Result<Arc<Self>, BindError> {
        let listener = bind_loopback(host, port).await?;
        let router = upstream_router(Arc::clone(&state));
        let (switch, task) = listener::spawn(listener, router, ConnLimits::default(), parent)
            .map_err(|source| BindError { addr: SocketAddr::new(host, port), source })?;
        Ok(Arc::new(Self { switch, state, task: Mutex::new(Some(task)) }))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.switch.addr()
    }

    /// Its state (request counter).
    pub fn state(&self) -> &Arc<UpstreamState> {
        &self.state
    }

    /// Whether it is serving.
    pub fn is_running(&self) -> bool {
        self.switch.is_up()
    }

    /// Stops serving and closes the port (connections refused until [`Self::restart`]);
    /// in-flight requests finish first.
    pub async fn stop(&self) {
        // The only failure is that the mock shut down, which stopped it already.
        let _ = self.switch.stop().await;
    }

    /// Serves again on the same address.
    pub async fn restart(&self) -> Result<(), SwitchError> {
        self.switch.start().await
    }

    /// Waits for the serving task to end (after the parent token is cancelled).
    pub async fn join(&self) -> std::io::Result<()> {
        let task = lock(&self.task).take();
        match task {
            Some(t) => t.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------
// The edge's client.

/// How the upstream part of an answer was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Freshness {
    /// Fetched for this request.
    Fresh,
    /// From the cache, younger than `cache_ttl`.
    Cached,
    /// From the cache, older than `cache_ttl`, because the upstream failed.
    Stale,
    /// Nothing cached and the upstream failed: local hits only.
    Unavailable,
}

/// The upstream part of an answer.
#[derive(Clone, Debug)]
pub struct UpstreamAnswer {
    /// Upstream hits visible to the caller.
    pub hits: Vec<Hit>,
    /// How they were obtained.
    pub freshness: Freshness,
    /// Age of the cached answer, simulated seconds (0 when fresh).
    pub age_s: f64,
}

struct CacheEntry {
    hits: Vec<Hit>,
    fetched: Instant,
}

#[derive(Default)]
struct Breaker {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

/// The client's settings (real durations, after scaling).
#[derive(Clone, Debug)]
pub struct BackhaulConfig {
    /// Base URL of the upstream.
    pub url: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How long a cached answer is served without asking.
    pub cache_ttl: Duration,
    /// Consecutive failures that open the breaker.
    pub breaker_failures: u32,
    /// How long an open breaker skips the upstream.
    pub breaker_cooldown: Duration,
    /// The run's time scale (ages are reported in simulated seconds).
    pub scale: TimeScale,
}

/// Counters of the client, for status and metrics.
#[derive(Debug, Default)]
pub struct BackhaulCounters {
    /// Successful fetches.
    pub ok: AtomicU64,
    /// Failed fetches (any reason).
    pub errors: AtomicU64,
    /// Failed fetches that timed out.
    pub timeouts: AtomicU64,
    /// Requests not sent because the breaker was open.
    pub skipped: AtomicU64,
}

/// The edge's link to the upstream.
pub struct Backhaul {
    cfg: BackhaulConfig,
    client: reqwest::Client,
    cache: Mutex<HashMap<String, CacheEntry>>,
    breaker: Mutex<Breaker>,
    last_error: Mutex<Option<String>>,
    last_success: Mutex<Option<Instant>>,
    /// Counters.
    pub counters: BackhaulCounters,
}

/// The link's state for status pages.
#[derive(Clone, Debug, Serialize)]
pub struct BackhaulStatus {
    /// `up`, `degraded` (recent failures) or `down` (breaker open).
    pub state: &'static str,
    /// The upstream URL.
    pub url: String,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// Simulated seconds since the last successful fetch.
    pub last_success_age_s: Option<f64>,
    /// Cached answers.
    pub cache_entries: usize,
}

/// Why [`Backhaul::new`] refused its configuration.
#[derive(Debug, thiserror::Error)]
pub enum BackhaulError {
    /// `upstream_url` is not a URL.
    #[error("upstream_url `{url}`: {source}")]
    Url {
        /// The URL given.
        url: String,
        /// The parser's error.
        source: url::ParseError,
    },
    /// `upstream_url` is not http or https.
    #[error("upstream_url `{url}` must be http or https")]
    Scheme {
        /// The URL given.
        url: String,
    },
    /// The HTTP client could not be built.
    #[error("upstream client: {0}")]
    Client(reqwest::Error),
}

/// Why one request to the upstream failed (kept as the backhaul's `last_error`).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request URL did not parse.
    #[error("{url}: {source}")]
    Url {
        /// The URL.
        url: String,
        /// The parser's error.
        source: url::ParseError,
    },
    /// No answer (refused, reset, timed out) or an unreadable one.
    #[error("{url}: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// The client's error.
        source: reqwest::Error,
    },
    /// An answer other than 2xx.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: reqwest::StatusCode,
    },
    /// A 2xx answer whose body is not the expected JSON.
    #[error("{url}: bad answer: {source}")]
    Body {
        /// The URL.
        url: String,
        /// The decoder's error.
        source: reqwest::Error,
    },
}

impl Backhaul {
    /// A client for `cfg.url`; the error names the URL.
    pub fn new(cfg: BackhaulConfig) -> Result<Self, BackhaulError> {
        let bad_url = |source| BackhaulError::Url { url: cfg.url.clone(), source };
        let parsed = reqwest::Url::parse(&cfg.url).map_err(bad_url)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BackhaulError::Scheme { url: cfg.url });
        }
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(cfg.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(BackhaulError::Client)?;
        let cfg = BackhaulConfig { url: cfg.url.trim_end_matches('/').to_owned(), ..cfg };
        Ok(Self {
            cfg,
            client,
            cache: Mutex::new(HashMap::new()),
            breaker: Mutex::new(Breaker::default()),
            last_error: Mutex::new(None),
            last_success: Mutex::new(None),
            counters: BackhaulCounters::default(),
        })
    }

    /// The upstream URL.
    pub fn url(&self) -> &str {
        &self.cfg.url
    }

    /// The upstream part of the answer to `query` for `viewer`.
    pub async fn fetch(&self, query: &str, viewer: &Viewer, limit: usize) -> UpstreamAnswer {
        let key = format!("{}|{}|{limit}", viewer.cache_key(), terms(query).join(" "));
        if let Some(answer) = self.cached_answer(&key, false) {
            return answer;
        }
        if !self.permit() {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return self.fallback(&key);
        }
        match self.request(query, viewer, limit).await {
            Ok(hits) => {
                self.succeeded();
                let hits: Vec<Hit> = hits.into_iter().filter(|h| visible(viewer, h)).collect();
                self.store(key, hits.clone());
                UpstreamAnswer { hits, freshness: Freshness::Fresh, age_s: 0.0 }
            }
            Err(e) => {
                self.failed(e);
                self.fallback(&key)
            }
        }
    }

    fn cached_answer(&self, key: &str, stale_ok: bool) -> Option<UpstreamAnswer> {
        let cache = lock(&self.cache);
        let entry = cache.get(key)?;
        let age = entry.fetched.elapsed();
        let age_s = self.cfg.scale.to_sim(age).as_secs_f64();
        if age < self.cfg.cache_ttl {
            Some(UpstreamAnswer { hits: entry.hits.clone(), freshness: Freshness::Cached, age_s })
        } else if stale_ok {
            Some(UpstreamAnswer { hits: entry.hits.clone(), freshness: Freshness::Stale, age_s })
        } else {
            None
        }
    }

    fn fallback(&self, key: &str) -> UpstreamAnswer {
        self.cached_answer(key, true).unwrap_or(UpstreamAnswer {
            hits: Vec::new(),
            freshness: Freshness::Unavailable,
            age_s: 0.0,
        })
    }

    fn store(&self, key: String, hits: Vec<Hit>) {
        let mut cache = lock(&self.cache);
        if cache.len() >= CACHE_CAP && !cache.contains_key(&key) {
            let oldest = cache.iter().min_by_key(|(_, e)| e.fetched).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                cache.remove(&k);
            }
        }
        cache.insert(key, CacheEntry { hits, fetched: Instant::now() });
    }

    async fn request(&self, query: &str, viewer: &Viewer, limit: usize) -> Result<Vec<Hit>, FetchError> {
        #[derive(Deserialize)]
        struct Answer {
            hits: Vec<Hit>,
        }
        let url = format!("{}/v1/search", self.cfg.url);
        let tenants = viewer.tenant_ids.join(",");
        let limit = limit.to_string();
        let params = [("q", query), ("tenant_ids", &tenants), ("tier", viewer.tier.as_str()), ("limit", &limit)];
        let mut target = reqwest::Url::parse(&url).map_err(|source| FetchError::Url { url: url.clone(), source })?;
        target.query_pairs_mut().extend_pairs(params);
        let sent = self.client.get(target).timeout(self.cfg.timeout).send().await;
        let resp = sent.map_err(|e| {
            if e.is_timeout() {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
            }
            FetchError::Transport { url: url.clone(), source: e }
        })?;
        if !resp.status().is_success() {
            return Err(FetchError::Status { url, status: resp.status() });
        }
        let answer: Answer = resp.json().await.map_err(|source| FetchError::Body { url, source })?;
        Ok(answer.hits)
    }

    fn permit(&self) -> bool {
        let mut b = lock(&self.breaker);
        let now = Instant::now();
        match b.open_until {
            Some(t) if now < t => false,
            Some(_) => {
                b.open_until = Some(now + self.cfg.breaker_cooldown);
                true
            }
            None => true,
        }
    }

    fn succeeded(&self) {
        self.counters.ok.fetch_add(1, Ordering::Relaxed);
        *lock(&self.breaker) = Breaker::default();
        *lock(&self.last_success) = Some(Instant::now());
    }

    fn failed(&self, e: FetchError) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        let mut b = lock(&self.breaker);
        b.consecutive_failures = b.consecutive_failures.saturating_add(1);
        if b.consecutive_failures >= self.cfg.breaker_failures {
            b.open_until = Some(Instant::now() + self.cfg.breaker_cooldown);
        }
        *lock(&self.last_error) = Some(e.to_string());
    }

    /// The link's state.
    pub fn status(&self) -> BackhaulStatus {
        let consecutive_failures = lock(&self.breaker).consecutive_failures;
        let state = if consecutive_failures == 0 {
            "up"
        } else if consecutive_failures >= self.cfg.breaker_failures {
            "down"
        } else {
            "degraded"
        };
        BackhaulStatus {
            state,
            url: self.cfg.url.clone(),
            consecutive_failures,
            last_error: lock(&self.last_error).clone(),
            last_success_age_s: lock(&self.last_success).map(|t| self.cfg.scale.to_sim(t.elapsed()).as_secs_f64()),
            cache_entries: lock(&self.cache).len(),
        }
    }
}

/// The access rule applied to a hit (the upstream is not trusted with it alone).
fn visible(viewer: &Viewer, hit: &Hit) -> bool {
    let doc = Document {
        id: String::new(),
        title: String::new(),
        content: String::new(),
        labels: hit.labels.clone(),
        tenants: hit.tenants.clone(),
    };
    viewer.may_see(&doc)
}
