//! PXL's own metrics, under the names the runbook's dashboards and alerts query.
//!
//! - `http_requests_total{component,route,method,status}` (HighErrorRate divides its `5..`
//!   part by the whole) and `http_request_duration_seconds` (a histogram in simulated
//!   seconds, same labels; HighLatency takes `histogram_quantile(0.95, ...)`). Its buckets
//!   include the runbook's thresholds (0.3 s SLO, 0.4 s scaling trigger, 0.5 s alert) so
//!   quantiles near them are exact at the bucket edge;
//! - `proof_queue_length`: proofs waiting for a core worker (QueueDepthHigh > 20);
//! - `pxl_proofs_total{result}`, `pxl_active_sessions`, `pxl_requests_rejected_total{reason}`
//!   (rate_limited, session_limit, invalid_api_key), `pxl_component_up{component}` (1 while that listener
//!   serves: the `up{job="pxl-core"}` of PXLCoreDown, seen from inside).

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts};
use tokio::time::Instant;

use super::{Component, Shared};
use crate::kit::metrics::{register, KitMetrics, MetricsError};

/// Request-duration buckets (seconds) around the runbook's latency thresholds.
pub const DURATION_BUCKETS_S: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The metric handles.
pub(super) struct PxlMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    pub(super) queue_length: Gauge,
    pub(super) proofs: IntCounterVec,
    pub(super) sessions: Gauge,
    pub(super) rejected: IntCounterVec,
    component_up: GaugeVec,
}

impl PxlMetrics {
    pub(super) fn new(kit: &KitMetrics) -> Result<Self, MetricsError> {
        let r = kit.registry();
        let counters = |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, MetricsError> {
            register(r, IntCounterVec::new(Opts::new(name, help), labels)?)
        };
        let gauge = |name: &str, help: &str| -> Result<Gauge, MetricsError> { register(r, Gauge::new(name, help)?) };
        let labels = &["component", "route", "method", "status"];
        let duration =
            HistogramOpts::new("http_request_duration_seconds", "Time to answer a request, simulated seconds")
                .buckets(DURATION_BUCKETS_S.to_vec());
        Ok(Self {
            requests: counters("http_requests_total", "HTTP requests answered", labels)?,
            duration: register(r, HistogramVec::new(duration, labels)?)?,
            queue_length: gauge("proof_queue_length", "Proof requests waiting for a core worker")?,
            proofs: counters("pxl_proofs_total", "Proofs by result", &["result"])?,
            sessions: gauge("pxl_active_sessions", "Requests in flight through the gateway API")?,
            rejected: counters("pxl_requests_rejected_total", "Gateway requests refused by a limit", &["reason"])?,
            component_up: register(
                r,
                GaugeVec::new(
                    Opts::new("pxl_component_up", "1 while the component's listener serves"),
                    &["component"],
                )?,
            )?,
        })
    }
}

impl Shared {
    /// Refreshes the gauges read from live state and renders the whole registry.
    pub(super) fn render_metrics(&self) -> Result<String, MetricsError> {
        let stats = self.pool.stats();
        self.kit.observe_pool("proof", &stats);
        self.metrics.queue_length.set(stats.pending as f64);
        self.metrics.sessions.set(self.sessions_in_use() as f64);
        for c in Component::ALL {
            let up = if self.is_up(c) { 1.0 } else { 0.0 };
            self.metrics.component_up.with_label_values(&[c.label()]).set(up);
        }
        self.kit.render()
    }
}

/// Middleware: records `http_requests_total` and `http_request_duration_seconds` for
/// one component's requests.
pub(super) async fn track(
    State((shared, component)): State<(Arc<Shared>, Component)>,
    req: Request,
    next: Next,
) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status();
    let labels = [component.label(), route.as_str(), method.as_str(), status.as_str()];
    shared.metrics.requests.with_label_values(&labels).inc();
    let sim_s = shared.scale.to_sim(start.elapsed()).as_secs_f64();
    shared.metrics.duration.with_label_values(&labels).observe(sim_s);
    resp
}
