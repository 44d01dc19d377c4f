//! Midnight TEE proof server (runbook 000).
//!
//! What load, SLOs and drills see of the real server:
//! - `GET /health`, `GET /version` (plain text), `GET /ready` (`jobsProcessing`,
//!   `jobsPending`, capacity, workers; 503 while the queue is full);
//! - proof work `POST /check`, `/prove`, `/prove-tx` through one worker pool
//!   (`--num-workers`, `--job-capacity` with 503 when full, `--job-timeout` 600 s), each
//!   kind with its own service-time distribution; the defaults keep proofs inside the
//!   runbook's SLOs (P50 < 20 s, P95 < 45 s, P99 < 60 s) at normal load;
//! - `POST /attestation {"nonce": HEX}`: the nonce echoed, PCR0-2 (hex SHA-384 of the
//!   running enclave image), `debug_mode`, a real X.509 `cert_chain`, `timestamp`,
//!   `tee_provider`. Attestation does not queue behind proofs (it is answered by the
//!   enclave's attestation path), so its P95 < 500 ms SLO is about its own service time;
//! - the published values the runbook's security check compares against:
//!   `GET /pcr-values.json` and `/releases/download/{tag}/pcr-values.json` (`.pcrs`);
//! - `/metrics`: the kit's set plus `midnight_*` series named after the runbook's
//!   CloudWatch metrics (proofs, proof duration, queue depth, attestation, cert expiry).
//!
//! Self-reported health, and what it cannot see. `midnight_health_check_success` is
//! computed by [`State::health`], the function `/health` answers from, and
//! `midnight_ready` by [`State::readiness`], the function `/ready` answers from, so a
//! gauge and its endpoint cannot disagree. `/health` is a liveness check: it is `ok`
//! whenever the process answers, so `midnight_health_check_success` is 1 in every scrape
//! that succeeds. A crashed enclave (SIGKILL) or a frozen one (SIGSTOP) exports nothing at
//! all: its last sample goes stale, it never reads 0. Detecting a dead or frozen server
//! therefore needs the scrape's own `up{service="midnight"} == 0` or a probe of `/health`
//! (`probe_success`), never `midnight_health_check_success < 1`. `midnight_ready` does
//! change while the process answers: 0 while the job queue is full (`/ready` answers 503).
//!
//! The runbook's curl commands work as written: bodies are parsed as JSON whatever the
//! `Content-Type` (`curl -d` sends a form type).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use prometheus::{Gauge, HistogramOpts, HistogramVec, IntCounterVec, Opts};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384};

use super::{Endpoint, MockError, ProfileError, RunningService, ServiceId};
use crate::kit::certs::{CertChain, ChainSpec};
use crate::kit::errors::{parse_json, ApiError};
use crate::kit::metrics::{self, register, KitMetrics, MetricsError, LATENCY_BUCKETS_S};
use crate::kit::serve::finish_router;
use crate::kit::{
    bind_loopback, serve, ConnLimits, HumanDuration, MockContext, PoolConfig, PositiveDuration, ServiceStream,
    ServiceTime, TimeScale, WorkerPool,
};

/// The runbook's port.
pub const RUNBOOK_PORT: u16 = 6300;

/// Which TEE the enclave runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TeeProvider {
    /// AWS Nitro Enclaves.
    AwsNitro,
    /// GCP Confidential VM (SEV-SNP).
    GcpConfidential,
    /// Azure Confidential VM.
    AzureConfidential,
}

/// The three proof kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProofKind {
    /// `POST /check`.
    Check,
    /// `POST /prove`.
    Prove,
    /// `POST /prove-tx`.
    ProveTx,
}

impl ProofKind {
    /// The label and path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Prove => "prove",
            Self::ProveTx => "prove-tx",
        }
    }
}

/// Service-time distributions per request kind (simulated time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceTimes {
    /// `POST /check`.
    pub check: ServiceTime,
    /// `POST /prove`.
    pub prove: ServiceTime,
    /// `POST /prove-tx`.
    #[serde(rename = "prove-tx")]
    pub prove_tx: ServiceTime,
    /// `POST /attestation`.
    pub attestation: ServiceTime,
}

impl ServiceTimes {
    /// These service times with every *pool* kind's (`check`, `prove`, `prove-tx`)
    /// distribution scaled by `factor` (the simulator's `cost_scale`); `attestation`
    /// does not use the pool and is kept as is.
    pub fn scaled(&self, factor: f64) -> Self {
        Self {
            check: self.check.scaled(factor),
            prove: self.prove.scaled(factor),
            prove_tx: self.prove_tx.scaled(factor),
            attestation: self.attestation.clone(),
        }
    }
}

impl Default for ServiceTimes {
    fn default() -> Self {
        let s = Duration::from_secs;
        Self {
            check: ServiceTime::lognormal(s(2), s(8)),
            prove: ServiceTime::lognormal(s(12), s(40)),
            prove_tx: ServiceTime::lognormal(s(15), s(50)),
            attestation: ServiceTime::lognormal(Duration::from_millis(40), Duration::from_millis(200)),
        }
    }
}

/// Everything the runbook lets an operator set, plus the model's service times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Reported by `/version`.
    pub version: String,
    /// The TEE the enclave runs on.
    pub tee_provider: TeeProvider,
    /// The enclave image actually running (its PCRs are what attestation reports).
    pub enclave_image: String,
    /// The image whose PCRs are published in `pcr-values.json` (what clients expect).
    pub published_image: String,
    /// Whether the enclave runs in debug mode (must be false in production).
    pub debug_mode: bool,
    /// `--num-workers`.
    pub workers: usize,
    /// `--job-capacity` (0 = unbounded).
    pub job_capacity: usize,
    /// `--job-timeout`.
    pub job_timeout: PositiveDuration,
    /// Window of the CPU gauge.
    pub cpu_window: PositiveDuration,
    /// CPU the server uses with no work: enclave runtime, attestation, monitoring (a
    /// fraction in `[0, 1)`). The CPU gauge reports `base_cpu + (1 - base_cpu) * busy`,
    /// so all workers busy is 100%. Default 0.
    pub base_cpu: f64,
    /// Service times per request kind.
    pub service_time: ServiceTimes,
    /// Validity of the attestation leaf certificate from start-up.
    pub cert_lifetime: PositiveDuration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Connection timeouts of every listener (real time): a request head must be complete
    /// `header_read_timeout` after its first byte, and a connection with nothing in flight
    /// closes after `idle_timeout` without traffic.
    pub connection: ConnLimits,
}

impl Default for Profile {
    fn default() -> Self {
        let pool = PoolConfig::default();
        Self {
            version: "6.2.0".into(),
            tee_provider: TeeProvider::AwsNitro,
            enclave_image: "midnight/proof-server:6.2.0".into(),
            published_image: "midnight/proof-server:6.2.0".into(),
            debug_mode: false,
            workers: pool.workers,
            job_capacity: pool.job_capacity,
            job_timeout: pool.job_timeout,
            cpu_window: pool.cpu_window,
            base_cpu: pool.base_cpu,
            service_time: ServiceTimes::default(),
            cert_lifetime: PositiveDuration(HumanDuration(Duration::from_secs(90 * 86_400))),
            max_body_bytes: 10 * 1024 * 1024,
            connection: ConnLimits::default(),
        }
    }
}

impl Profile {
    /// The worker-pool part of the profile.
    pub fn pool_config(&self) -> PoolConfig {
        PoolConfig {
            workers: self.workers,
            job_capacity: self.job_capacity,
            job_timeout: self.job_timeout,
            cpu_window: self.cpu_window,
            base_cpu: self.base_cpu,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ProfileError> {
        if self.workers == 0 {
            return Err(ProfileError::Zero { field: "workers" });
        }
        Ok(PoolConfig::validate_base_cpu(self.base_cpu)?)
    }
}

/// PCR0..2 of an enclave image: hex SHA-384, deterministic per image.
pub fn pcrs_for_image(image: &str) -> BTreeMap<String, String> {
    (0..3)
        .map(|i| {
            let digest = Sha384::digest(format!("{image}|pcr{i}").as_bytes());
            (i.to_string(), hex::encode(digest))
        })
        .collect()
}

/// Each kind's service times from its own stream, `midnight/<kind>` (the simulator's
/// twin of a live window draws from the same streams).
struct Samplers {
    check: ServiceStream,
    prove: ServiceStream,
    prove_tx: ServiceStream,
    attestation: ServiceStream,
}

struct OwnMetrics {
    proofs: IntCounterVec,
    proof_duration: HistogramVec,
    queue_wait: HistogramVec,
    attestations: IntCounterVec,
    pending: Gauge,
    processing: Gauge,
    cert_expiry: Gauge,
    health: Gauge,
    ready: Gauge,
}

impl OwnMetrics {
    fn new(kit: &KitMetrics) -> Result<Self, MetricsError> {
        let r = kit.registry();
        let hist = |name: &str, help: &str, labels: &[&str]| -> Result<HistogramVec, MetricsError> {
            register(r, HistogramVec::new(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS_S.to_vec()), labels)?)
        };
        let gauge = |name: &str, help: &str| -> Result<Gauge, MetricsError> { register(r, Gauge::new(name, help)?) };
        Ok(Self {
            proofs: register(
                r,
                IntCounterVec::new(
                    Opts::new("midnight_proofs_total", "Proof jobs by type and result (ProofsGenerated)"),
                    &["proof_type", "result"],
                )?,
            )?,
            proof_duration: hist(
                "midnight_proof_duration_seconds",
                "Proof time from admission to answer, simulated (ProofDuration)",
                &["proof_type"],
            )?,
            queue_wait: hist(
                "midnight_queue_wait_seconds",
                "Time a proof job waited for a worker, simulated",
                &["proof_type"],
            )?,
            attestations: register(
                r,
                IntCounterVec::new(
                    Opts::new("midnight_attestations_total", "Attestation requests by result"),
                    &["result"],
                )?,
            )?,
            pending: gauge("midnight_jobs_pending", "Proof jobs waiting (QueueDepth)")?,
            processing: gauge("midnight_jobs_processing", "Proof jobs being processed")?,
            cert_expiry: gauge(
                "midnight_cert_expiry_seconds",
                "Seconds until the attestation leaf certificate expires",
            )?,
            health: gauge(
                "midnight_health_check_success",
                "1 when /health answers ok (HealthCheckSuccess); a dead server exports nothing, use up or a probe",
            )?,
            ready: gauge("midnight_ready", "1 when /ready answers 200, 0 while the job queue is full (503)")?,
        })
    }
}

/// The live state behind Midnight's routes.
pub struct State {
    profile: Profile,
    pool: Arc<WorkerPool>,
    samplers: Samplers,
    kit: Arc<KitMetrics>,
    own: OwnMetrics,
    chain: CertChain,
}

impl State {
    /// Builds the state: validates the profile, makes the pool, samplers and certificates.
    pub fn new(profile: Profile, ctx: &MockContext) -> Result<Arc<Self>, MockError> {
        let bad = |message: String| MockError::Profile { service: ServiceId::Midnight, message };
        profile.validate().map_err(|e| bad(e.to_string()))?;
        let sampler = |name: &str, st: &ServiceTime| {
            let sampler = st.sampler().map_err(|e| bad(format!("service_time.{name}: {e}")))?;
            Ok(ctx.stream(&format!("midnight/{name}"), sampler))
        };
        let st = &profile.service_time;
        let samplers = Samplers {
            check: sampler("check", &st.check)?,
            prove: sampler("prove", &st.prove)?,
            prove_tx: sampler("prove-tx", &st.prove_tx)?,
            attestation: sampler("attestation", &st.attestation)?,
        };
        let mean_s = (st.check.mean_secs() + st.prove.mean_secs() + st.prove_tx.mean_secs()) / 3.0;
        let pool = WorkerPool::new(profile.pool_config(), ctx.scale, mean_s);
        let metrics_err = |source| MockError::Metrics { service: ServiceId::Midnight, source };
        let kit = KitMetrics::new(ctx.scale).map_err(metrics_err)?;
        let own = OwnMetrics::new(&kit).map_err(metrics_err)?;
        let chain = CertChain::generate(&ChainSpec {
            ca_name: "Midnight TEE Attestation Root (gameday mock)",
            leaf_name: "proof-server enclave",
            sans: vec!["localhost".into(), "proof.example.com".into()],
            lifetime: profile.cert_lifetime.get(),
        })
        .map_err(|e| MockError::Certificate { service: ServiceId::Midnight, message: e.to_string() })?;
        Ok(Arc::new(Self { profile, pool, samplers, kit, own, chain }))
    }

    /// The proof worker pool.
    pub fn pool(&self) -> &Arc<WorkerPool> {
        &self.pool
    }

    /// The run's time scale.
    pub fn scale(&self) -> TimeScale {
        self.kit.scale()
    }

    fn stream(&self, kind: ProofKind) -> &ServiceStream {
        match kind {
            ProofKind::Check => &self.samplers.check,
            ProofKind::Prove => &self.samplers.prove,
            ProofKind::ProveTx => &self.samplers.prove_tx,
        }
    }

    fn render_metrics(&self) -> Result<String, MetricsError> {
        let stats = self.pool.stats();
        self.kit.observe_pool("proof", &stats);
        self.own.pending.set(stats.pending as f64);
        self.own.processing.set(stats.processing as f64);
        self.own.cert_expiry.set(self.chain.seconds_to_expiry());
        self.own.health.set(if self.health().status == "ok" { 1.0 } else { 0.0 });
        self.own.ready.set(if self.readiness().full { 0.0 } else { 1.0 });
        self.kit.render()
    }

    /// What `/health` answers: a liveness check, `ok` whenever the process can answer
    /// (the real server's `/health` does not look at the queue or the enclave's load).
    pub fn health(&self) -> Health {
        Health { status: "ok", timestamp: unix_ms() }
    }

    /// What `/ready` answers: the pool's counters and whether the job queue is full.
    pub fn readiness(&self) -> Readiness {
        let stats = self.pool.stats();
        // From the same snapshot as the counters (the pool's own `is_full` rule).
        let full = stats.job_capacity > 0 && stats.pending >= stats.job_capacity;
        Readiness { stats, full }
    }
}

/// `/ready`'s verdict: 503 `busy` while `full`.
pub struct Readiness {
    /// The pool's counters at the time of the check.
    pub stats: crate::kit::PoolStats,
    /// The job queue is full: new proof jobs get 503.
    pub full: bool,
}

/// Midnight's routes on `state`, with the kit's metrics and fallbacks.
pub fn router(state: Arc<State>) -> Router {
    let max_body = state.profile.max_body_bytes;
    let kit = Arc::clone(&state.kit);
    let routes = Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/ready", get(ready))
        .route("/check", post(|s, b| prove(s, b, ProofKind::Check)))
        .route("/prove", post(|s, b| prove(s, b, ProofKind::Prove)))
        .route("/prove-tx", post(|s, b| prove(s, b, ProofKind::ProveTx)))
        .route("/attestation", post(attestation))
        .route("/pcr-values.json", get(pcr_values))
        .route("/releases/download/{tag}/pcr-values.json", get(pcr_values_tagged))
        .route("/metrics", get(metrics_text))
        .with_state(state);
    finish_router(routes, max_body).layer(middleware::from_fn_with_state(kit, metrics::track))
}

/// Binds Midnight's listener and serves until `ctx.shutdown`.
pub async fn start(profile: Profile, ctx: &MockContext) -> Result<RunningService, MockError> {
    let limits = profile.connection;
    let state = State::new(profile, ctx)?;
    let listener = bind_loopback(ctx.host, ctx.port(RUNBOOK_PORT))
        .await
        .map_err(|source| MockError::Bind { service: ServiceId::Midnight, source })?;
    let addr = listener.local_addr().map_err(|source| MockError::Bind {
        service: ServiceId::Midnight,
        source: crate::kit::BindError { addr: std::net::SocketAddr::new(ctx.host, 0), source },
    })?;
    let shutdown = ctx.shutdown.clone();
    let task = tokio::spawn(serve(listener, router(state), limits, async move { shutdown.cancelled().await }));
    Ok(RunningService {
        id: ServiceId::Midnight,
        endpoints: vec![Endpoint { name: "midnight".into(), addr }],
        tasks: vec![task],
    })
}

/// `/health`'s answer: a typed body, serialised without building a JSON map (the route
/// load tests and probes hit hardest).
#[derive(Serialize)]
pub struct Health {
    /// `ok` while the server answers.
    pub status: &'static str,
    /// Unix milliseconds.
    pub timestamp: u64,
}

async fn health(AxumState(s): AxumState<Arc<State>>) -> Json<Health> {
    Json(s.health())
}

async fn version(AxumState(s): AxumState<Arc<State>>) -> String {
    s.profile.version.clone()
}

async fn ready(AxumState(s): AxumState<Arc<State>>) -> Response {
    let Readiness { stats, full } = s.readiness();
    let body = json!({
        "status": if full { "busy" } else { "ok" },
        "jobsProcessing": stats.processing,
        "jobsPending": stats.pending,
        "jobCapacity": stats.job_capacity,
        "numWorkers": stats.workers,
    });
    let status = if full { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, Json(body)).into_response()
}

/// Bodies are taken as `Result` so that a body over `max_body_bytes` gets the kit's JSON
/// 413 (`payload_too_large`) rather than axum's plain-text rejection.
type Body = Result<Bytes, BytesRejection>;

async fn prove(AxumState(s): AxumState<Arc<State>>, body: Body, kind: ProofKind) -> Result<Json<Value>, ApiError> {
    let body = body?;
    let service = s.stream(kind).draw();
    let started = tokio::time::Instant::now();
    let outcome = s.pool.run(service).await;
    let total = s.scale().to_sim(started.elapsed());
    let label = kind.as_str();
    match outcome {
        Ok(report) => {
            s.own.proofs.with_label_values(&[label, "ok"]).inc();
            s.own.proof_duration.with_label_values(&[label]).observe(total.as_secs_f64());
            s.own.queue_wait.with_label_values(&[label]).observe(report.queue_wait.as_secs_f64());
            Ok(Json(json!({
                "proof_type": label,
                "proof": hex::encode(Sha256::digest(&body)),
                "queue_time_ms": report.queue_wait.as_millis() as u64,
                "proof_duration_ms": total.as_millis() as u64,
            })))
        }
        Err(e) => {
            let result = match e {
                crate::kit::JobError::QueueFull { .. } => "queue_full",
                crate::kit::JobError::Timeout { .. } => "timeout",
            };
            s.own.proofs.with_label_values(&[label, result]).inc();
            Err(ApiError::from(e).with("proof_type", label))
        }
    }
}

#[derive(Deserialize)]
struct AttestationRequest {
    nonce: Option<Value>,
}

fn check_nonce(req: AttestationRequest) -> Result<String, ApiError> {
    let nonce = match req.nonce {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("missing_nonce", "body must be {\"nonce\": \"<hex>\"}"))
        }
        Some(Value::String(n)) => n,
        Some(other) => {
            return Err(ApiError::bad_request("invalid_nonce", format!("nonce must be a hex string, got {other}")))
        }
    };
    let valid = !nonce.is_empty() && nonce.len() <= 1024 && hex::decode(&nonce).is_ok();
    if !valid {
        return Err(ApiError::bad_request(
            "invalid_nonce",
            "nonce must be a non-empty, even-length hex string of at most 1024 characters (e.g. `openssl rand -hex 32`)",
        ));
    }
    Ok(nonce)
}

async fn attestation(AxumState(s): AxumState<Arc<State>>, body: Body) -> Result<Json<Value>, ApiError> {
    let checked = body.map_err(ApiError::from).and_then(|b| parse_json::<AttestationRequest>(&b)).and_then(check_nonce);
    let nonce = match checked {
        Ok(n) => n,
        Err(e) => {
            s.own.attestations.with_label_values(&["rejected"]).inc();
            return Err(e);
        }
    };
    let service = s.samplers.attestation.draw();
    crate::kit::timer::sleep(s.scale().to_real(service)).await;
    s.own.attestations.with_label_values(&["ok"]).inc();
    Ok(Json(json!({
        "nonce": nonce,
        "pcr_measurements": pcrs_for_image(&s.profile.enclave_image),
        "debug_mode": s.profile.debug_mode,
        "cert_chain": [s.chain.leaf_pem, s.chain.ca_pem],
        "timestamp": unix_ms(),
        "tee_provider": s.profile.tee_provider,
        "version": s.profile.version,
    })))
}

fn published(s: &State) -> Value {
    json!({
        "version": s.profile.version,
        "enclave_image": s.profile.published_image,
        "pcrs": pcrs_for_image(&s.profile.published_image),
    })
}

async fn pcr_values(AxumState(s): AxumState<Arc<State>>) -> Json<Value> {
    Json(published(&s))
}

async fn pcr_values_tagged(
    AxumState(s): AxumState<Arc<State>>,
    Path(tag): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let want = format!("v{}", s.profile.version);
    if tag == want || tag == s.profile.version {
        Ok(Json(published(&s)))
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_release",
            format!("no release {tag}; this server publishes {want}"),
        ))
    }
}

async fn metrics_text(AxumState(s): AxumState<Arc<State>>) -> Response {
    metrics::text_response(s.render_metrics())
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_cpu_is_read_from_the_profile_and_checked() {
        let p: Result<Profile, _> = serde_json::from_str(r#"{"base_cpu": 0.25}"#);
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.pool_config().base_cpu, 0.25);
        assert!(p.validate().is_ok());
        let bad = Profile { base_cpu: 1.0, ..Profile::default() };
        assert!(bad.validate().is_err_and(|e| e.to_string().contains("base_cpu") && e.to_string().contains("[0, 1)")));
        let bad = Profile { base_cpu: -0.5, ..Profile::default() };
        assert!(bad.validate().is_err_and(|e| e.to_string().contains("base_cpu")));
        assert_eq!(Profile::default().base_cpu, 0.0);
    }

    #[test]
    fn scaled_service_times_scale_the_pool_kinds_only() {
        let st = ServiceTimes::default();
        let scaled = st.scaled(2.0);
        assert_eq!(scaled.prove, ServiceTime::lognormal(Duration::from_secs(24), Duration::from_secs(80)));
        assert_eq!(scaled.check, ServiceTime::lognormal(Duration::from_secs(4), Duration::from_secs(16)));
        assert_eq!(scaled.prove_tx, ServiceTime::lognormal(Duration::from_secs(30), Duration::from_secs(100)));
        assert_eq!(scaled.attestation, st.attestation);
    }
}
