//! `results.json`: everything a run measured and decided, for tools and later runs.
//!
//! Schema version 1. Latency figures are milliseconds of simulated time; `hdr` is the
//! whole-run histogram of each request kind in HdrHistogram's V2 deflate encoding,
//! base64, so other tools (and `gameday merge`, later) can recompute any percentile.

use std::collections::BTreeMap;

use base64::Engine;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use serde::Serialize;

use crate::load::{KindStats, Outcome};
use crate::rules::{RuleVerdict, Verdict};
use crate::targets::Resolved;

/// The results file's schema version.
pub const SCHEMA_VERSION: u32 = 1;

/// The run's overall verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunVerdict {
    /// Every SLO held.
    Pass,
    /// At least one SLO failed.
    Fail,
    /// The run cannot be trusted (nothing succeeded, interrupted, ...).
    Invalid,
}

/// One request kind's summary.
#[derive(Clone, Debug, Serialize)]
pub struct RequestSummary {
    /// Request name.
    pub name: String,
    /// Requests sent.
    pub count: u64,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests by kind.
    pub errors: BTreeMap<String, u64>,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// Latency percentiles in simulated milliseconds (p50, p90, p95, p99, p99.9, max, mean).
    pub latency_ms: BTreeMap<String, f64>,
    /// The same percentiles per outcome (`ok`, `http_5xx`, `timeout`, ...) that occurred.
    pub latency_by_outcome_ms: BTreeMap<String, BTreeMap<String, f64>>,
    /// The whole-run latency histogram (simulated microseconds), V2 deflate, base64.
    pub hdr: String,
}

impl RequestSummary {
    /// Summarises one kind's stats.
    pub fn new(name: &str, s: &KindStats) -> Self {
        let latency_ms = if s.total() > 0 { percentiles_ms(&s.latency) } else { BTreeMap::new() };
        let latency_by_outcome_ms = Outcome::ALL
            .iter()
            .filter_map(|o| s.latency_of(*o).map(|h| (o.as_str().to_owned(), percentiles_ms(&h))))
            .collect();
        let errors =
            Outcome::ERRORS.iter().filter(|o| s.count(**o) > 0).map(|o| (o.as_str().to_owned(), s.count(*o))).collect();
        Self {
            name: name.to_owned(),
            count: s.total(),
            ok: s.ok(),
            errors,
            first_error: s.first_error.clone(),
            latency_ms,
            latency_by_outcome_ms,
            hdr: encode_hdr(s),
        }
    }
}

/// p50, p90, p95, p99, p99.9, max and mean of a histogram of microseconds, in
/// milliseconds (to the microsecond).
fn percentiles_ms(h: &hdrhistogram::Histogram<u64>) -> BTreeMap<String, f64> {
    let ms = |us: f64| us.round() / 1e3;
    let mut out = BTreeMap::new();
    for (label, q) in [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999)] {
        out.insert(label.to_owned(), ms(h.value_at_quantile(q) as f64));
    }
    out.insert("max".into(), ms(h.max() as f64));
    out.insert("mean".into(), ms(h.mean()));
    out
}

fn encode_hdr(s: &KindStats) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(&s.latency, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(buf),
        Err(_) => String::new(),
    }
}

/// The whole results file.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    /// Schema version of this file.
    pub schema_version: u32,
    /// gameday's version.
    pub gameday_version: String,
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub scenario_file: String,
    /// The seed used.
    pub seed: u64,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Start time (RFC 3339, UTC).
    pub started_at: String,
    /// Real seconds the load ran.
    pub wall_s: f64,
    /// Simulated seconds the load ran.
    pub simulated_s: f64,
    /// Where each service was.
    pub targets: BTreeMap<String, Resolved>,
    /// Per request kind.
    pub requests: Vec<RequestSummary>,
    /// Every SLO's verdict.
    pub slos: Vec<Verdict>,
    /// Every alert's verdict.
    pub alerts: Vec<RuleVerdict>,
    /// Every scaling trigger's verdict.
    pub triggers: Vec<RuleVerdict>,
    /// Rule evaluation step, simulated seconds.
    pub rule_step_s: f64,
    /// The overall verdict.
    pub verdict: RunVerdict,
    /// Why, in one line per failure.
    pub reasons: Vec<String>,
    /// Whether the run was cut short (Ctrl-C) and holds partial data.
    pub partial: bool,
    /// Open model: how well the generator kept to the schedule (absent when closed).
    pub generator: Option<crate::load::Health>,
    /// What could not be observed (a target without `/metrics`, a metric it lacks):
    /// missing data, never zeros.
    pub observation_problems: Vec<String>,
}
