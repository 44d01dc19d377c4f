//! `results.json`: everything a run measured and decided, for tools and later runs.
//!
//! Schema version 2 (`reports/results.schema.json`). Latency figures are milliseconds of
//! simulated time; `hdr` is a histogram of simulated microseconds in HdrHistogram's V2
//! deflate encoding, base64, for the whole run and for every recording interval of each
//! request kind, so other tools, `gameday merge` and `gameday gate` can recompute any
//! percentile exactly. The same file is written by `run`, `drill` (with `drills`), `plan`
//! (with `plan`) and `gate` (with `gate`); `kind` says which.

use std::collections::BTreeMap;

use base64::Engine;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::load::{KindStats, Outcome};
use crate::rules::{RuleVerdict, Verdict};
use crate::targets::Resolved;

/// The results file's schema version.
pub const SCHEMA_VERSION: u32 = 2;

/// Which command wrote a results file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// `gameday run`.
    #[default]
    Run,
    /// `gameday drill`.
    Drill,
    /// `gameday plan`.
    Plan,
    /// `gameday gate`.
    Gate,
    /// `gameday merge`.
    Merge,
}

/// The run's overall verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// One entry per recording interval that saw a request of this kind, in time order.
    #[serde(default)]
    pub intervals: Vec<IntervalSummary>,
}

/// One request kind over one recording interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntervalSummary {
    /// Interval start, simulated seconds since the load started.
    pub start_s: f64,
    /// Interval length, simulated seconds.
    pub length_s: f64,
    /// Requests completed in the interval.
    pub count: u64,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests by kind.
    pub errors: BTreeMap<String, u64>,
    /// Latency percentiles (p50, p90, p95, p99, p99.9, max, mean), simulated milliseconds.
    pub latency_ms: BTreeMap<String, f64>,
    /// The interval's latency histogram (simulated microseconds), V2 deflate, base64.
    pub hdr: String,
}

impl IntervalSummary {
    /// Summarises one kind's stats over the interval starting at `start_s`.
    pub fn new(start_s: f64, length_s: f64, s: &KindStats) -> Self {
        Self {
            start_s,
            length_s,
            count: s.total(),
            ok: s.ok(),
            errors: errors_of(s),
            latency_ms: if s.total() > 0 { percentiles_ms(&s.latency) } else { BTreeMap::new() },
            hdr: encode_hdr(&s.latency),
        }
    }
}

fn errors_of(s: &KindStats) -> BTreeMap<String, u64> {
    Outcome::ERRORS.iter().filter(|o| s.count(**o) > 0).map(|o| (o.as_str().to_owned(), s.count(*o))).collect()
}

/// The machine a run ran on: what a reader needs to compare two runs' figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Host name.
    pub hostname: Option<String>,
    /// Operating system (`linux`, ...).
    pub os: String,
    /// CPU architecture.
    pub arch: String,
    /// Kernel release.
    pub kernel: Option<String>,
    /// CPUs available to this process.
    pub cpus: usize,
    /// 1-minute load average when the run started.
    pub load_avg_1m: Option<f64>,
    /// Total memory, MiB.
    pub memory_total_mib: Option<u64>,
}

impl Machine {
    /// The facts of this machine, now; what cannot be read is `None`.
    pub fn current() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
        let load_avg_1m = read("/proc/loadavg").and_then(|s| s.split_whitespace().next()?.parse().ok());
        let memory_total_mib = read("/proc/meminfo").and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib / 1024)
        });
        Self {
            hostname: read("/proc/sys/kernel/hostname"),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            kernel: read("/proc/sys/kernel/osrelease"),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            load_avg_1m,
            memory_total_mib,
        }
    }
}

impl RequestSummary {
    /// Summarises one kind's stats.
    pub fn new(name: &str, s: &KindStats, intervals: Vec<IntervalSummary>) -> Self {
        let latency_ms = if s.total() > 0 { percentiles_ms(&s.latency) } else { BTreeMap::new() };
        let latency_by_outcome_ms = Outcome::ALL
            .iter()
            .filter_map(|o| s.latency_of(*o).map(|h| (o.as_str().to_owned(), percentiles_ms(&h))))
            .collect();
        let errors = errors_of(s);
        Self {
            name: name.to_owned(),
            count: s.total(),
            ok: s.ok(),
            errors,
            first_error: s.first_error.clone(),
            latency_ms,
            latency_by_outcome_ms,
            hdr: encode_hdr(&s.latency),
            intervals,
        }
    }
}

/// p50, p90, p95, p99, p99.9, max and mean of a histogram of microseconds, in
/// milliseconds (to the microsecond).
pub fn percentiles_ms(h: &hdrhistogram::Histogram<u64>) -> BTreeMap<String, f64> {
    let ms = |us: f64| us.round() / 1e3;
    let mut out = BTreeMap::new();
    for (label, q) in [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999)] {
        out.insert(label.to_owned(), ms(h.value_at_quantile(q) as f64));
    }
    out.insert("max".into(), ms(h.max() as f64));
    out.insert("mean".into(), ms(h.mean()));
    out
}

/// A histogram in HdrHistogram's V2 deflate encoding, base64 (empty if it cannot be encoded).
pub fn encode_hdr(h: &hdrhistogram::Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(buf),
        Err(_) => String::new(),
    }
}

/// Why a results file's `hdr` field cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum HdrError {
    /// Not base64.
    #[error("hdr: not base64: {0}")]
    Base64(#[source] base64::DecodeError),
    /// Not HdrHistogram's encoding.
    #[error("hdr: not an HdrHistogram: {0:?}")]
    Histogram(hdrhistogram::serialization::DeserializeError),
}

/// Decodes [`encode_hdr`]'s output.
pub fn decode_hdr(text: &str) -> Result<hdrhistogram::Histogram<u64>, HdrError> {
    use hdrhistogram::serialization::Deserializer;
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(HdrError::Base64)?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).map_err(HdrError::Histogram)
}

/// The whole results file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// Schema version of this file.
    pub schema_version: u32,
    /// Which command wrote it.
    #[serde(default)]
    pub kind: ReportKind,
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
    /// Start time (RFC 3339, UTC): for `run`, `drill` and `gate`, the wall-clock moment of
    /// simulated time 0, to the nanosecond, so `first_firing_s` and every other time in
    /// simulated seconds since the start can be put on another system's clock.
    pub started_at: String,
    /// The machine it ran on.
    #[serde(default)]
    pub machine: Machine,
    /// Recording interval, simulated seconds.
    #[serde(default)]
    pub interval_s: f64,
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
