//! Test helpers: `Results` built from known samples, histogram comparison.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::results::{IntervalSummary, Machine, ReportKind, RequestSummary, Results, RunVerdict, SCHEMA_VERSION};
use crate::load::{KindStats, Outcome};

/// One sample: request kind, interval index, latency (simulated microseconds), failed.
pub(crate) type Sample<'a> = (&'a str, u64, u64, bool);

/// A run's results built from `samples` the way `run::judge` builds them: per kind a
/// whole-run summary and one summary per interval that saw a request (interval `i`
/// starts at `i * step_s`). Failures are HTTP 5xx. No SLOs, alerts or triggers.
pub(crate) fn results_of(scenario: &str, step_s: f64, samples: &[Sample<'_>]) -> Results {
    let mut names: Vec<&str> = Vec::new();
    let mut whole: BTreeMap<&str, KindStats> = BTreeMap::new();
    let mut per: BTreeMap<&str, BTreeMap<u64, KindStats>> = BTreeMap::new();
    for &(name, i, us, failed) in samples {
        if !names.contains(&name) {
            names.push(name);
        }
        let outcome = if failed { Outcome::Status5xx } else { Outcome::Ok };
        let err: Option<&dyn std::fmt::Display> = if failed { Some(&"HTTP 503") } else { None };
        whole.entry(name).or_default().record(us, outcome, err);
        per.entry(name).or_default().entry(i).or_default().record(us, outcome, err);
    }
    let requests = names
        .iter()
        .map(|n| {
            let intervals = per[n].iter().map(|(i, s)| IntervalSummary::new(*i as f64 * step_s, step_s, s)).collect();
            RequestSummary::new(n, &whole[n], intervals)
        })
        .collect();
    Results {
        schema_version: SCHEMA_VERSION,
        kind: ReportKind::Run,
        gameday_version: "test".into(),
        scenario: scenario.into(),
        scenario_file: format!("{scenario}.toml"),
        seed: 1,
        time_scale: 1.0,
        started_at: "2023-11-14T22:13:20.25Z".into(),
        machine: Machine::default(),
        interval_s: step_s,
        wall_s: 10.0,
        simulated_s: 10.0,
        targets: BTreeMap::new(),
        requests,
        slos: Vec::new(),
        alerts: Vec::new(),
        triggers: Vec::new(),
        rule_step_s: step_s,
        verdict: RunVerdict::Pass,
        reasons: Vec::new(),
        partial: false,
        generator: None,
        observation_problems: Vec::new(),
    }
}

/// Whether two histograms hold the same counts at the same values (whatever their
/// array sizes).
pub(crate) fn same_counts(a: &Histogram<u64>, b: &Histogram<u64>) -> bool {
    let counts = |h: &Histogram<u64>| -> Vec<(u64, u64)> {
        h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect()
    };
    a.len() == b.len() && counts(a) == counts(b)
}
