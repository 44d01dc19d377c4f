//! One simulated week's figures: load, CPU, latency percentiles, queue, errors, and each
//! SLO's verdict over the week's judged window: the peak hour of each of its seven days
//! (one hour alone holds too few slow requests for a stable p99; seven are one week's
//! worth of peaks).

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::capacity::growth::{Growth, Week};
use crate::capacity::tally::{KindTally, SimOutput, Tally, Window};
use crate::scenario::{Indicator, Scenario};

/// A figure set for one span of simulated time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    /// CPU: the server's base plus the busy share of its workers (0..1).
    pub cpu: f64,
    /// Worker busy fraction (0..1).
    pub utilisation: f64,
    /// Latency percentiles of the headline requests, seconds.
    pub p50_s: f64,
    /// 95th percentile, seconds.
    pub p95_s: f64,
    /// 99th percentile, seconds.
    pub p99_s: f64,
    /// Mean jobs waiting.
    pub queue_mean: f64,
    /// Most jobs waiting.
    pub queue_max: u64,
    /// Failed (refused or timed out) over all requests.
    pub error_ratio: f64,
    /// Requests that ended in the span.
    pub requests: u64,
}

/// One SLO's verdict for one week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SloWeek {
    /// The SLO's name.
    pub name: String,
    /// The objective as written.
    pub objective: String,
    /// What the window showed (seconds or a ratio; `None` with no requests).
    pub observed: Option<f64>,
    /// Whether it holds.
    pub pass: bool,
}

/// The simulated week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimWeek {
    /// The week's load.
    #[serde(flatten)]
    pub load: Week,
    /// Over the whole week (CPU as the runbooks' weekly average). In `plan.json` as
    /// `whole_week`: the flattened load already has `week` (the week's number).
    #[serde(rename = "whole_week")]
    pub week: Figures,
    /// Over the judged window (the peak hour).
    pub peak: Figures,
    /// Each SLO over the judged window.
    pub slos: Vec<SloWeek>,
}

/// The headline kinds: the growth's unit kinds, else every kind.
pub fn headline_kinds(s: &Scenario, unit: &[String]) -> Vec<usize> {
    let all = 0..s.load.requests.len();
    if unit.is_empty() {
        return all.collect();
    }
    all.filter(|&i| unit.contains(s.load.requests[i].name.get_ref())).collect()
}

/// Figures over the windows `parts` (each a span and its tally), from the run's
/// intervals for the queue.
pub fn figures(report: &SimOutput, parts: &[(&Tally, Window)], kinds: &[usize], base_cpu: f64) -> Figures {
    let tally = merge_tallies(parts.iter().map(|p| p.0));
    let len: Duration = parts.iter().map(|p| p.1.len()).sum();
    let merged = merge(&tally, kinds);
    let all: Vec<usize> = (0..tally.kinds.len()).collect();
    let everything = merge(&tally, &all);
    let utilisation = busy_fraction(report, tally.busy_ns, len);
    let (queue_area, queue_max) =
        parts.iter().map(|p| queue(report, p.1)).fold((0.0, 0), |a, b| (a.0 + b.0, a.1.max(b.1)));
    let queue_mean = queue_area / len.as_secs_f64().max(1e-9);
    let q = |p: f64| if merged.latency.is_empty() { 0.0 } else { merged.quantile(p).as_secs_f64() };
    let total = everything.total();
    Figures {
        cpu: cpu(base_cpu, utilisation),
        utilisation,
        p50_s: q(0.5),
        p95_s: q(0.95),
        p99_s: q(0.99),
        queue_mean,
        queue_max,
        error_ratio: if total == 0 { 0.0 } else { (everything.rejected + everything.timed_out) as f64 / total as f64 },
        requests: total,
    }
}

/// CPU from the busy fraction: the base plus the busy share of the rest, at most 1.
pub fn cpu(base_cpu: f64, busy: f64) -> f64 {
    (base_cpu + (1.0 - base_cpu) * busy).clamp(0.0, 1.0)
}

fn busy_fraction(report: &SimOutput, busy_ns: u64, len: Duration) -> f64 {
    let capacity = report.workers.max(1) as f64 * len.as_nanos() as f64;
    if capacity > 0.0 {
        busy_ns as f64 / capacity
    } else {
        0.0
    }
}

/// Queue area (job-seconds waiting) and the most jobs waiting over `window`.
fn queue(report: &SimOutput, window: Window) -> (f64, u64) {
    let step = report.interval.as_nanos().max(1);
    let (a, b) = ((window.start.as_nanos() / step) as usize, (window.end.as_nanos() / step) as usize);
    let slice = report.intervals.get(a..b.min(report.intervals.len())).unwrap_or(&[]);
    let area: u128 = slice.iter().map(|s| s.queue_area_ns).sum();
    let max = slice.iter().map(|s| s.queue_max).max().unwrap_or(0);
    (area as f64 / 1e9, max)
}

/// Several spans' tallies as one.
pub fn merge_tallies<'a>(tallies: impl Iterator<Item = &'a Tally>) -> Tally {
    let mut out = Tally::default();
    for t in tallies {
        if out.kinds.len() < t.kinds.len() {
            out.kinds.resize_with(t.kinds.len(), KindTally::default);
        }
        for (o, k) in out.kinds.iter_mut().zip(&t.kinds) {
            add(&mut o.latency, &k.latency);
            o.ok += k.ok;
            o.rejected += k.rejected;
            o.timed_out += k.timed_out;
            o.started += k.started;
            o.wait_ns += k.wait_ns;
        }
        out.busy_ns += t.busy_ns;
    }
    out
}

/// The kinds' tallies merged into one.
pub fn merge(tally: &Tally, kinds: &[usize]) -> KindTally {
    let picked = Tally { kinds: kinds.iter().filter_map(|&i| tally.kinds.get(i).cloned()).collect(), busy_ns: 0 };
    let all = merge_tallies(std::iter::once(&picked));
    let mut out = KindTally::default();
    for k in &all.kinds {
        add(&mut out.latency, &k.latency);
        out.ok += k.ok;
        out.rejected += k.rejected;
        out.timed_out += k.timed_out;
        out.started += k.started;
        out.wait_ns += k.wait_ns;
    }
    out
}

fn add(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Both auto-resize with the same precision, so `add` cannot fail on range; saturate
    // instead of panicking if it ever did.
    if into.add(from).is_err() {
        for v in from.iter_recorded() {
            into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

/// Each SLO of the scenario over `tally` (the judged window).
pub fn judge_slos(s: &Scenario, tally: &Tally) -> Vec<SloWeek> {
    s.slos
        .iter()
        .map(|slo| {
            let kinds: Vec<usize> = match &slo.request {
                Some(r) => s.load.requests.iter().position(|q| q.name.get_ref() == r.get_ref()).into_iter().collect(),
                None => (0..s.load.requests.len()).collect(),
            };
            let k = merge(tally, &kinds);
            let observed = observe(&k, slo.objective.indicator);
            SloWeek {
                name: slo.name.clone(),
                objective: slo.objective.as_written().to_owned(),
                observed,
                pass: observed.is_none_or(|v| slo.objective.op.holds(v, slo.objective.threshold)),
            }
        })
        .collect()
}

fn observe(k: &KindTally, indicator: Indicator) -> Option<f64> {
    let total = k.total();
    if total == 0 {
        return None;
    }
    let failed = (k.rejected + k.timed_out) as f64;
    Some(match indicator {
        Indicator::Percentile(p) => k.quantile(p / 100.0).as_secs_f64(),
        Indicator::Mean => k.latency.mean() / 1e6,
        Indicator::Max => k.latency.max() as f64 / 1e6,
        Indicator::ErrorRatio => failed / total as f64,
        Indicator::Availability => 1.0 - failed / total as f64,
    })
}

/// Windows kept per week: the seven daily peak hours, then the whole week.
pub const WINDOWS_PER_WEEK: usize = 8;

/// The windows of `weeks` (1-based), [`WINDOWS_PER_WEEK`] each, relative to `origin`.
pub fn windows(growth: &Growth, weeks: &[u32], origin: Duration) -> Vec<Window> {
    let at = |(a, b): (Duration, Duration)| Window { start: a - origin, end: b - origin };
    weeks.iter().flat_map(|&w| growth.daily_peak_hours(w).into_iter().chain([growth.week_span(w)]).map(at)).collect()
}

/// Week `week`'s figures from a simulation that kept [`windows`] for it starting at
/// window index `first`.
pub fn sim_week(s: &Scenario, growth: &Growth, report: &SimOutput, first: usize, week: u32, base_cpu: f64) -> SimWeek {
    let kinds = headline_kinds(s, &growth.unit);
    let ws = &report.windows[first..first + WINDOWS_PER_WEEK];
    let peaks: Vec<(&Tally, Window)> = ws[..7].iter().map(|w| (&w.tally, w.window)).collect();
    let whole = &ws[7];
    let peak_tally = merge_tallies(peaks.iter().map(|p| p.0));
    SimWeek {
        load: growth.weeks[week as usize - 1].clone(),
        week: figures(report, &[(&whole.tally, whole.window)], &kinds, base_cpu),
        peak: figures(report, &peaks, &kinds, base_cpu),
        slos: judge_slos(s, &peak_tally),
    }
}
