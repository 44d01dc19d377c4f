//! MorphSave's metrics. The runbook names no metric, so these follow the usual Node
//! exporter conventions for what its dashboards and thresholds watch:
//! - response time and errors: `http_request_duration_seconds{route,method,status}`
//!   (histogram, simulated seconds; buckets at the 200 ms target and the 500 / 1000 ms
//!   warning and critical thresholds) and `http_requests_total{route,method,status}`;
//! - "Database Connections < 80% of pool size" (warning 70%, critical 90%):
//!   `morphsave_db_pool_size`, `morphsave_db_pool_connections_in_use`,
//!   `morphsave_db_pool_connections_waiting`, `morphsave_db_pool_usage_ratio`,
//!   `morphsave_db_pool_timeouts_total`;
//! - cache: `morphsave_cache_hits_total`, `morphsave_cache_misses_total`,
//!   `morphsave_cache_errors_total`, `morphsave_cache_hit_ratio`;
//! - blockchain: `morphsave_rpc_requests_total{endpoint,result}`,
//!   `morphsave_rpc_errors_total{endpoint,reason}`, `morphsave_rpc_failovers_total`,
//!   `morphsave_block_number`, and what each node served,
//!   `morphsave_rpc_node_requests_total{node,method}`;
//! - health, from the checks `/api/health` runs, run again by each scrape (see
//!   [`DependencyHealth`]): `morphsave_db_up`, `morphsave_cache_up`,
//!   `morphsave_rpc_up{endpoint}` (primary, backup) and `morphsave_health_check_success`
//!   (1 when `/api/health` answers 200: healthy or degraded).

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use tokio::time::Instant;

use super::cache::CacheCounts;
use super::db::PoolSnapshot;
use super::rpc_client::RpcMetrics;
use super::Shared;
use crate::kit::metrics::{register, KitMetrics, MetricsError};

/// Response-time buckets (seconds) around the runbook's 200 / 500 / 1000 ms figures.
pub const DURATION_BUCKETS_S: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The metric handles.
pub(super) struct MorphMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    pool_size: IntGauge,
    pool_in_use: IntGauge,
    pool_waiting: IntGauge,
    pool_usage: Gauge,
    pool_timeouts: IntCounter,
    cache_hits: IntCounter,
    cache_misses: IntCounter,
    cache_errors: IntCounter,
    cache_ratio: Gauge,
    cache_up: IntGauge,
    db_up: IntGauge,
    rpc_up: IntGaugeVec,
    health_ok: IntGauge,
    pub(super) block_number: IntGauge,
    pub(super) rpc: RpcMetrics,
    pub(super) node_requests: IntCounterVec,
}

/// Creates and registers metrics on one registry, one line each.
struct Reg<'a>(&'a Registry);

impl Reg<'_> {
    fn counter(&self, name: &str, help: &str) -> Result<IntCounter, MetricsError> {
        register(self.0, IntCounter::new(name, help)?)
    }

    fn gauge(&self, name: &str, help: &str) -> Result<IntGauge, MetricsError> {
        register(self.0, IntGauge::new(name, help)?)
    }

    fn ratio(&self, name: &str, help: &str) -> Result<Gauge, MetricsError> {
        register(self.0, Gauge::new(name, help)?)
    }

    fn counters(&self, name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, MetricsError> {
        register(self.0, IntCounterVec::new(Opts::new(name, help), labels)?)
    }

    fn gauges(&self, name: &str, help: &str, labels: &[&str]) -> Result<IntGaugeVec, MetricsError> {
        register(self.0, IntGaugeVec::new(Opts::new(name, help), labels)?)
    }

    fn histogram(&self, name: &str, help: &str, labels: &[&str]) -> Result<HistogramVec, MetricsError> {
        let opts = HistogramOpts::new(name, help).buckets(DURATION_BUCKETS_S.to_vec());
        register(self.0, HistogramVec::new(opts, labels)?)
    }

    /// The RPC client's metrics.
    fn rpc(&self) -> Result<RpcMetrics, MetricsError> {
        let r = self;
        Ok(RpcMetrics {
            requests: r.counters(
                "morphsave_rpc_requests_total",
                "Blockchain RPC calls by endpoint and result",
                &["endpoint", "result"],
            )?,
            errors: r.counters(
                "morphsave_rpc_errors_total",
                "Failed blockchain RPC calls by endpoint and reason",
                &["endpoint", "reason"],
            )?,
            failovers: r
                .counter("morphsave_rpc_failovers_total", "Calls answered by the backup after the primary failed")?,
        })
    }
}

impl MorphMetrics {
    pub(super) fn new(kit: &KitMetrics) -> Result<Self, MetricsError> {
        let r = Reg(kit.registry());
        let http = &["route", "method", "status"];
        Ok(Self {
            requests: r.counters("http_requests_total", "HTTP requests answered", http)?,
            duration: r.histogram("http_request_duration_seconds", "API response time, simulated seconds", http)?,
            pool_size: r.gauge("morphsave_db_pool_size", "Configured database connections")?,
            pool_in_use: r.gauge("morphsave_db_pool_connections_in_use", "Database connections checked out")?,
            pool_waiting: r.gauge("morphsave_db_pool_connections_waiting", "Requests waiting for a connection")?,
            pool_usage: r.ratio("morphsave_db_pool_usage_ratio", "Connections in use over pool size")?,
            pool_timeouts: r
                .counter("morphsave_db_pool_timeouts_total", "Requests that timed out waiting for a connection")?,
            cache_hits: r.counter("morphsave_cache_hits_total", "Cache lookups that hit")?,
            cache_misses: r
                .counter("morphsave_cache_misses_total", "Cache lookups that missed or found the cache down")?,
            cache_errors: r.counter("morphsave_cache_errors_total", "Cache calls that failed: cache down")?,
            cache_ratio: r.ratio("morphsave_cache_hit_ratio", "Hits over lookups since start")?,
            cache_up: r.gauge("morphsave_cache_up", "1 when the cache answered PING in this scrape's health check")?,
            db_up: r.gauge(
                "morphsave_db_up",
                "1 when the database answered through the pool in this scrape's health check",
            )?,
            rpc_up: r.gauges(
                "morphsave_rpc_up",
                "1 when the node answered eth_blockNumber in this scrape's health check",
                &["endpoint"],
            )?,
            health_ok: r
                .gauge("morphsave_health_check_success", "1 when /api/health answers 200 (healthy or degraded)")?,
            block_number: r.gauge("morphsave_block_number", "Last block number the app read")?,
            rpc: r.rpc()?,
            node_requests: r.counters(
                "morphsave_rpc_node_requests_total",
                "JSON-RPC calls each node answered, by method",
                &["node", "method"],
            )?,
        })
    }

    /// Copies the health check's verdicts into the health gauges.
    pub(super) fn observe_health(&self, h: &DependencyHealth) {
        self.db_up.set(i64::from(h.database));
        self.cache_up.set(i64::from(h.cache));
        self.rpc_up.with_label_values(&["primary"]).set(i64::from(h.rpc_primary));
        self.rpc_up.with_label_values(&["backup"]).set(i64::from(h.rpc_backup));
        self.health_ok.set(i64::from(h.answers_200));
    }

    /// Copies live pool and cache state into the gauges and counters.
    pub(super) fn observe(&self, pool: &PoolSnapshot, cache: &CacheCounts) {
        self.pool_size.set(as_i64(pool.size as u64));
        self.pool_in_use.set(as_i64(pool.in_use as u64));
        self.pool_waiting.set(as_i64(pool.waiting as u64));
        self.pool_usage.set(pool.in_use as f64 / pool.size.max(1) as f64);
        catch_up(&self.pool_timeouts, pool.timeouts);
        catch_up(&self.cache_hits, cache.hits);
        catch_up(&self.cache_misses, cache.misses);
        catch_up(&self.cache_errors, cache.errors);
        self.cache_ratio.set(cache.hit_ratio());
    }
}

/// The verdicts of one run of `/api/health`'s checks ([`super::app`]'s
/// `check_dependencies`), as the health gauges export them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DependencyHealth {
    /// The database answered `SELECT 1` through the pool in time.
    pub database: bool,
    /// The cache answered `PING`.
    pub cache: bool,
    /// The primary RPC node answered `eth_blockNumber`.
    pub rpc_primary: bool,
    /// The backup RPC node answered `eth_blockNumber`.
    pub rpc_backup: bool,
    /// `/api/health` answers 200 (healthy or degraded).
    pub answers_200: bool,
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn catch_up(c: &IntCounter, total: u64) {
    c.inc_by(total.saturating_sub(c.get()));
}

/// Middleware: records `http_requests_total` and `http_request_duration_seconds`.
pub(super) async fn track(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status();
    let labels = [route.as_str(), method.as_str(), status.as_str()];
    shared.metrics.requests.with_label_values(&labels).inc();
    let sim_s = shared.scale.to_sim(start.elapsed()).as_secs_f64();
    shared.metrics.duration.with_label_values(&labels).observe(sim_s);
    resp
}
