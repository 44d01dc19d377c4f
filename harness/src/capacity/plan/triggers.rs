//! The scenario's `[[trigger]]`s (and `[[alert]]`s) over the simulated horizon, with the
//! rules engine's own Prometheus semantics (`for`, windows, `keep_firing_for`).
//!
//! The simulator's per-interval figures become the series a live run scrapes
//! (`gameday_cpu_utilisation_ratio`, `gameday_queue_depth`) plus series only a plan has,
//! named `gameday_plan_*`: the week's growth over the previous week
//! (`gameday_plan_weekly_growth_ratio`), its peak rate (`gameday_plan_peak_rate_per_s`)
//! and the latest finished week's peak-hour p95 of the headline requests
//! (`gameday_plan_p95_seconds`), so a runbook's "growth > 30%/week" or "P95 rising"
//! trigger is one rule.

use std::collections::BTreeMap;
use std::time::Duration;

use gameday_mocks::ServiceId;

use crate::capacity::growth::{Growth, WEEK};
use crate::capacity::tally::SimOutput;
use crate::observe::{RunData, Series};
use crate::rules::{self, RuleVerdict};
use crate::scenario::Scenario;
use gameday_mocks::kit::{HumanDuration, PositiveDuration};

use super::weeks::{cpu, SimWeek};

/// Prefix of the series only a plan has (the catalog check lets them through).
pub use crate::spec::PLAN_METRIC_PREFIX;

/// How often the plan evaluates rules over the horizon (simulated).
pub const PLAN_EVAL_STEP: Duration = Duration::from_secs(600);

/// The triggers and alerts judged over the simulation.
pub fn judge(
    s: &Scenario,
    id: ServiceId,
    growth: &Growth,
    report: &SimOutput,
    weeks: &[SimWeek],
    base_cpu: f64,
) -> (Vec<RuleVerdict>, Vec<RuleVerdict>) {
    let names = s.load.requests.iter().map(|r| r.name.get_ref().clone()).collect();
    let data = run_data(names, id, growth, report, weeks, base_cpu);
    // The simulator's series have no gaps but may be sparser than a scrape: an instant
    // lookup reaches back three of its intervals when that is longer than the lookback.
    let three_steps = report.interval.saturating_mul(3);
    let lookback = s.lookback_delta.map_or(Duration::from_secs(300), |d| d.get()).max(three_steps);
    let only_rules = rules::RuleSet {
        slos: &[],
        evaluation_interval: Some(PositiveDuration(HumanDuration(PLAN_EVAL_STEP))),
        lookback_delta: Some(PositiveDuration(HumanDuration(lookback))),
        ..s.rules()
    };
    let r = rules::judge(only_rules, &data);
    (r.triggers, r.alerts)
}

/// What the rules read over the horizon: the simulator's series, named as a live run's
/// (and the plan's own), for request kinds `names` with no recorded intervals.
fn run_data(
    names: Vec<String>,
    id: ServiceId,
    growth: &Growth,
    report: &SimOutput,
    weeks: &[SimWeek],
    base: f64,
) -> RunData {
    let step = report.interval.as_secs_f64();
    let n = report.intervals.len();
    let t = |i: usize| (i + 1) as f64 * step;
    let labels =
        || BTreeMap::from([("service".to_owned(), id.to_string()), ("instance".to_owned(), "simulator".to_owned())]);
    let series = |name: &str, samples: Vec<(f64, f64)>| Series { name: name.to_owned(), labels: labels(), samples };
    let cpu_s: Vec<(f64, f64)> =
        report.cpu_series().into_iter().enumerate().map(|(i, u)| (t(i), cpu(base, u))).collect();
    let queue: Vec<(f64, f64)> = (0..n).map(|i| (t(i), report.mean_queue_depth(i))).collect();
    let week_of = |i: usize| (i as f64 * step / WEEK.as_secs_f64()) as usize;
    let growth_s = (0..n).filter_map(|i| growth.weeks.get(week_of(i))?.growth.map(|g| (t(i), g))).collect();
    let peak = (0..n).filter_map(|i| growth.weeks.get(week_of(i)).map(|w| (t(i), w.peak_rate_per_s))).collect();
    let p95 = (0..n)
        .filter_map(|i| {
            let done = weeks.iter().rev().find(|w| growth.peak_hour(w.load.week).1.as_secs_f64() <= t(i))?;
            Some((t(i), done.peak.p95_s))
        })
        .collect();
    let series = vec![
        series("gameday_cpu_utilisation_ratio", cpu_s),
        series("gameday_queue_depth", queue),
        series("gameday_plan_weekly_growth_ratio", growth_s),
        series("gameday_plan_peak_rate_per_s", peak),
        series("gameday_plan_p95_seconds", p95),
    ];
    RunData::new(step, n as f64 * step, names, crate::load::Intervals::new(), series, Vec::new())
}

/// The week (1-based) a simulated time falls in.
pub fn week_at(t_s: f64) -> u32 {
    (t_s / WEEK.as_secs_f64()).floor() as u32 + 1
}
