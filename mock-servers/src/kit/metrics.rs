//! Prometheus text exposition for a mock: the kit's standard metrics plus a service's own.
//!
//! Every mock exposes the same base set, so gameday's observer and rules can rely on
//! them against any mock:
//! - `gameday_http_requests_total{route,method,status}` and
//!   `gameday_http_request_duration_seconds{route,status}` (simulated seconds),
//!   recorded by [`track`] around every request;
//! - per worker pool: `gameday_queue_depth`, `gameday_jobs_in_flight`,
//!   `gameday_cpu_utilisation_ratio`, `gameday_worker_busy_seconds_total`,
//!   `gameday_workers`, `gameday_jobs_rejected_total{reason}`.
//!
//! A service registers its runbook's own metric names on the same [`Registry`]. The
//! output is the classic text format (0.0.4), which `promtool check metrics` reads.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Counter, CounterVec, Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use tokio::time::Instant;

use super::pool::PoolStats;
use super::units::TimeScale;

/// Latency buckets in seconds, from 1 ms to 15 min: wide enough for attestation
/// (hundreds of ms) and proofs (tens of seconds) on one scale.
pub const LATENCY_BUCKETS_S: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 300.0,
    600.0, 900.0,
];

/// A metric could not be created or registered (a programming error in a service module,
/// such as a duplicate name), reported at start-up rather than panicking.
#[derive(Debug, thiserror::Error)]
#[error("metrics registry: {0}")]
pub struct MetricsError(#[from] pub prometheus::Error);

/// The kit's standard metrics, on a registry the service adds its own metrics to.
#[derive(Clone, Debug)]
pub struct KitMetrics {
    registry: Registry,
    scale: TimeScale,
    requests: IntCounterVec,
    duration: HistogramVec,
    queue_depth: IntGaugeVec,
    in_flight: IntGaugeVec,
    workers: IntGaugeVec,
    cpu: GaugeVec,
    busy: CounterVec,
    rejected: IntCounterVec,
}

impl KitMetrics {
    /// A fresh registry with the standard metrics registered.
    pub fn new(scale: TimeScale) -> Result<Arc<Self>, MetricsError> {
        let registry = Registry::new();
        let m = Self {
            requests: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("gameday_http_requests_total", "HTTP requests answered, by route, method and status"),
                    &["route", "method", "status"],
                )?,
            )?,
            duration: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "gameday_http_request_duration_seconds",
                        "Time to answer a request, in simulated seconds",
                    )
                    .buckets(LATENCY_BUCKETS_S.to_vec()),
                    &["route", "status"],
                )?,
            )?,
            queue_depth: register(
                &registry,
                IntGaugeVec::new(Opts::new("gameday_queue_depth", "Jobs waiting for a worker"), &["pool"])?,
            )?,
            in_flight: register(
                &registry,
                IntGaugeVec::new(Opts::new("gameday_jobs_in_flight", "Jobs being processed"), &["pool"])?,
            )?,
            workers: register(
                &registry,
                IntGaugeVec::new(Opts::new("gameday_workers", "Configured workers"), &["pool"])?,
            )?,
            cpu: register(
                &registry,
                GaugeVec::new(
                    Opts::new(
                        "gameday_cpu_utilisation_ratio",
                        "CPU over the CPU window: base_cpu plus the busy fraction of the rest",
                    ),
                    &["pool"],
                )?,
            )?,
            busy: register(
                &registry,
                CounterVec::new(
                    Opts::new("gameday_worker_busy_seconds_total", "Busy worker-seconds (simulated)"),
                    &["pool"],
                )?,
            )?,
            rejected: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("gameday_jobs_rejected_total", "Jobs refused or failed by the pool, by reason"),
                    &["pool", "reason"],
                )?,
            )?,
            registry,
            scale,
        };
        Ok(Arc::new(m))
    }

    /// The registry, for a service's own metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The run's time scale.
    pub fn scale(&self) -> TimeScale {
        self.scale
    }

    /// Copies a pool snapshot into the pool gauges and counters.
    pub fn observe_pool(&self, pool: &str, s: &PoolStats) {
        self.queue_depth.with_label_values(&[pool]).set(as_i64(s.pending as u64));
        self.in_flight.with_label_values(&[pool]).set(as_i64(s.processing as u64));
        self.workers.with_label_values(&[pool]).set(as_i64(s.workers as u64));
        self.cpu.with_label_values(&[pool]).set(s.cpu_utilisation);
        catch_up(&self.busy.with_label_values(&[pool]), s.busy_sim_s);
        let rejected = self.rejected.with_label_values(&[pool, "queue_full"]);
        rejected.inc_by(s.rejected.saturating_sub(rejected.get()));
        let timed_out = self.rejected.with_label_values(&[pool, "timeout"]);
        timed_out.inc_by(s.timed_out.saturating_sub(timed_out.get()));
    }

    /// Renders every registered metric as Prometheus text.
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn record(&self, route: &str, method: &str, status: StatusCode, real: std::time::Duration) {
        let status = status.as_str();
        self.requests.with_label_values(&[route, method, status]).inc();
        let sim_s = self.scale.to_sim(real).as_secs_f64();
        self.duration.with_label_values(&[route, status]).observe(sim_s);
    }
}

/// Registers a collector and hands it back.
pub fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    c: C,
) -> Result<C, MetricsError> {
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Raises a float counter to `total` (counters only go up).
pub fn catch_up(counter: &Counter, total: f64) {
    let delta = total - counter.get();
    if delta > 0.0 {
        counter.inc_by(delta);
    }
}

/// Middleware: counts every request and observes its latency under its matched route.
pub async fn track(State(m): State<Arc<KitMetrics>>, req: Request, next: Next) -> Response {
    // Both are cheap clones (a shared string, a standard method): no allocation per request.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let start = Instant::now();
    let resp = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    m.record(route, method.as_str(), resp.status(), start.elapsed());
    resp
}

/// Answers `/metrics` with the given text, or 500 with the error.
pub fn text_response(rendered: Result<String, MetricsError>) -> Response {
    match rendered {
        Ok(body) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response(),
        Err(e) => {
            super::errors::ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "metrics", e.to_string()).into_response()
        }
    }
}
