//! The `grahmos_*` Prometheus series, on top of the kit's standard set.
//!
//! - `grahmos_search_requests_total{result}`: `ok`, `unauthorized`, `bad_request`,
//!   `index_unavailable`, `index_corrupt`, `queue_full`, `job_timeout`;
//! - `grahmos_search_duration_seconds` (histogram, simulated seconds);
//! - `grahmos_search_hidden_by_acl_total`: matches the access rule kept from callers;
//! - `grahmos_cache_requests_total{result}`: `hit`, `miss` (fetched), `stale`, `unavailable`;
//!   `grahmos_stale_responses_total`; `grahmos_cache_entries`;
//! - `grahmos_upstream_requests_total{result}` (`ok`, `error`, `timeout`, `skipped`),
//!   `grahmos_upstream_errors_total`, `grahmos_upstream_up` (1 up, 0.5 degraded, 0 down);
//! - `grahmos_index_release_info{release}` (1 for the serving release; the series is
//!   absent while no release serves), `grahmos_index_healthy`, `grahmos_index_documents`,
//!   `grahmos_index_reloads_total{result}`. They are computed at scrape time by
//!   [`IndexStore::checked_health`](super::index::IndexStore::checked_health), the same
//!   full check `/_healthz` runs, so `grahmos_index_healthy` is 0 exactly while
//!   `/_healthz` answers 503;
//! - `grahmos_cert_expiry_days`, `grahmos_cert_not_after_timestamp_seconds`,
//!   `grahmos_cert_reloads_total`, `grahmos_tls_handshakes_total{result}`;
//! - `grahmos_auth_requests_total{endpoint,result}`, `grahmos_dpop_nonces_issued_total`;
//! - `grahmos_requests_total{route,method,status}` and the runbook's
//!   `http_request_duration_seconds{route,status}` (histogram, simulated seconds).

use std::sync::atomic::Ordering;
use std::time::UNIX_EPOCH;

use prometheus::{Counter, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts};

use super::index::IndexHealth;
use super::tls::{EdgeTls, HandshakeCounters};
use super::upstream::Backhaul;
use crate::kit::metrics::{catch_up, register, KitMetrics, MetricsError, LATENCY_BUCKETS_S};

/// The service's own metrics: the request-side series handlers update, and the state
/// series copied in when `/metrics` is scraped.
pub struct OwnMetrics {
    /// Searches by result.
    pub searches: IntCounterVec,
    /// Search latency (simulated seconds).
    pub search_duration: Histogram,
    /// Matches hidden by the access rule.
    pub hidden_by_acl: IntCounter,
    /// Upstream-part outcomes of searches.
    pub cache: IntCounterVec,
    /// Responses marked stale.
    pub stale: IntCounter,
    /// Auth endpoint outcomes.
    pub auth: IntCounterVec,
    /// Nonces issued.
    pub nonces: IntCounter,
    /// Edge API requests by route, method and status (`grahmos_requests_total`).
    pub requests: IntCounterVec,
    /// Edge API latency by route and status, simulated seconds: the runbook's
    /// `http_request_duration_seconds` (its p95 dashboard query).
    pub http_duration: HistogramVec,
    infra: Infra,
}

/// Series that mirror the state of the index, the backhaul and TLS.
struct Infra {
    cache_entries: Gauge,
    upstream: IntCounterVec,
    upstream_errors: Counter,
    upstream_up: Gauge,
    release: GaugeVec,
    index_healthy: Gauge,
    index_documents: Gauge,
    reloads: IntCounterVec,
    cert_days: Gauge,
    cert_not_after: Gauge,
    cert_reloads: Counter,
    handshakes: IntCounterVec,
}

fn counter_vec(kit: &KitMetrics, name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, MetricsError> {
    register(kit.registry(), IntCounterVec::new(Opts::new(name, help), labels)?)
}

fn int_counter(kit: &KitMetrics, name: &str, help: &str) -> Result<IntCounter, MetricsError> {
    register(kit.registry(), IntCounter::new(name, help)?)
}

fn counter(kit: &KitMetrics, name: &str, help: &str) -> Result<Counter, MetricsError> {
    register(kit.registry(), Counter::new(name, help)?)
}

fn gauge(kit: &KitMetrics, name: &str, help: &str) -> Result<Gauge, MetricsError> {
    register(kit.registry(), Gauge::new(name, help)?)
}

impl Infra {
    fn new(k: &KitMetrics) -> Result<Self, MetricsError> {
        let release = GaugeVec::new(
            Opts::new("grahmos_index_release_info", "1 for the serving release; absent while the index is broken"),
            &["release"],
        )?;
        Ok(Self {
            cache_entries: gauge(k, "grahmos_cache_entries", "Cached upstream answers")?,
            upstream: counter_vec(
                k,
                "grahmos_upstream_requests_total",
                "Upstream fetches by result (ok, error, timeout, skipped by the breaker)",
                &["result"],
            )?,
            upstream_errors: counter(k, "grahmos_upstream_errors_total", "Failed upstream fetches")?,
            upstream_up: gauge(k, "grahmos_upstream_up", "Upstream link: 1 up, 0.5 degraded, 0 down")?,
            release: register(k.registry(), release)?,
            index_healthy: gauge(k, "grahmos_index_healthy", "1 while the search index can answer")?,
            index_documents: gauge(k, "grahmos_index_documents", "Documents in the serving release")?,
            reloads: counter_vec(k, "grahmos_index_reloads_total", "Index loads by result", &["result"])?,
            cert_days: gauge(
                k,
                "grahmos_cert_expiry_days",
                "Days until the edge's TLS certificate expires (negative once expired)",
            )?,
            cert_not_after: gauge(
                k,
                "grahmos_cert_not_after_timestamp_seconds",
                "notAfter of the served TLS certificate, Unix seconds",
            )?,
            cert_reloads: counter(k, "grahmos_cert_reloads_total", "TLS certificates hot-reloaded since start")?,
            handshakes: counter_vec(
                k,
                "grahmos_tls_handshakes_total",
                "TLS handshakes on the edge listener by result",
                &["result"],
            )?,
        })
    }
}

impl OwnMetrics {
    /// Registers every series on the kit's registry.
    pub fn new(k: &KitMetrics) -> Result<Self, MetricsError> {
        let duration = HistogramOpts::new("grahmos_search_duration_seconds", "Search time, simulated seconds")
            .buckets(LATENCY_BUCKETS_S.to_vec());
        let http = HistogramOpts::new("http_request_duration_seconds", "Edge API request duration, simulated seconds")
            .buckets(LATENCY_BUCKETS_S.to_vec());
        Ok(Self {
            searches: counter_vec(k, "grahmos_search_requests_total", "Searches by result", &["result"])?,
            search_duration: register(k.registry(), Histogram::with_opts(duration)?)?,
            hidden_by_acl: int_counter(
                k,
                "grahmos_search_hidden_by_acl_total",
                "Matching documents the access rule kept from the caller",
            )?,
            cache: counter_vec(
                k,
                "grahmos_cache_requests_total",
                "Upstream part of searches: hit, miss (fetched), stale, unavailable",
                &["result"],
            )?,
            stale: int_counter(
                k,
                "grahmos_stale_responses_total",
                "Search answers marked stale (served from cache with the upstream failing)",
            )?,
            auth: counter_vec(k, "grahmos_auth_requests_total", "Auth endpoint outcomes", &["endpoint", "result"])?,
            nonces: int_counter(k, "grahmos_dpop_nonces_issued_total", "DPoP nonces issued")?,
            requests: counter_vec(
                k,
                "grahmos_requests_total",
                "Edge API requests by route, method and status",
                &["route", "method", "status"],
            )?,
            http_duration: register(k.registry(), HistogramVec::new(http, &["route", "status"])?)?,
            infra: Infra::new(k)?,
        })
    }

    /// Copies the index's state into its gauges. `grahmos_index_release_info` exists only
    /// while a release serves: a broken index has no serving release, so the series
    /// disappears from the scrape (Prometheus marks it stale) rather than reading 0.
    pub fn observe_index(&self, h: &IndexHealth, reloads: (u64, u64)) {
        self.infra.release.reset();
        if let (true, Some(r)) = (h.healthy, &h.release) {
            self.infra.release.with_label_values(&[r]).set(1.0);
        }
        self.infra.index_healthy.set(if h.healthy { 1.0 } else { 0.0 });
        self.infra.index_documents.set(h.documents as f64);
        raise(&self.infra.reloads.with_label_values(&["ok"]), reloads.0);
        raise(&self.infra.reloads.with_label_values(&["failed"]), reloads.1);
    }

    /// Copies the backhaul's state into its series.
    pub fn observe_backhaul(&self, b: &Backhaul) {
        let c = &b.counters;
        raise(&self.infra.upstream.with_label_values(&["ok"]), c.ok.load(Ordering::Relaxed));
        let errors = c.errors.load(Ordering::Relaxed);
        let timeouts = c.timeouts.load(Ordering::Relaxed);
        raise(&self.infra.upstream.with_label_values(&["timeout"]), timeouts);
        raise(&self.infra.upstream.with_label_values(&["error"]), errors.saturating_sub(timeouts));
        raise(&self.infra.upstream.with_label_values(&["skipped"]), c.skipped.load(Ordering::Relaxed));
        catch_up(&self.infra.upstream_errors, errors as f64);
        let status = b.status();
        self.infra.cache_entries.set(status.cache_entries as f64);
        self.infra.upstream_up.set(match status.state {
            "up" => 1.0,
            "degraded" => 0.5,
            _ => 0.0,
        });
    }

    /// Copies the certificate's dates and handshake counts.
    pub fn observe_tls(&self, tls: &EdgeTls, hs: &HandshakeCounters) {
        self.infra.cert_days.set(tls.days_to_expiry());
        let not_after = tls.not_after().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        self.infra.cert_not_after.set(not_after);
        catch_up(&self.infra.cert_reloads, tls.reloads() as f64);
        raise(&self.infra.handshakes.with_label_values(&["ok"]), hs.ok.load(Ordering::Relaxed));
        raise(&self.infra.handshakes.with_label_values(&["failed"]), hs.failed.load(Ordering::Relaxed));
    }
}

/// Raises an integer counter to `total`.
fn raise(c: &IntCounter, total: u64) {
    c.inc_by(total.saturating_sub(c.get()));
}
