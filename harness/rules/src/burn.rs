//! Error budgets and multi-window burn-rate alerts of SLOs.
//!
//! **Budget**: the share of requests an SLO allows to be bad. `error_ratio < X`: `X`;
//! `availability >= A`: `1 - A`; `pNN < T`: `1 - NN/100` of requests may take `T` or
//! longer (a request is bad when its HDR bucket value breaks the objective, the same test
//! the percentile makes, so "p95 holds" and "at most 5% bad" agree). `mean` and `max`
//! have no budget. The run's budget is that share of the run's requests; the report gives
//! the share consumed and when the run exhausted it.
//!
//! **Burn rate** over a window = (bad / all requests in it) / allowed share. The alerts
//! are the SRE workbook's pairs for a 30-day SLO: 14.4x over 1 h and 5 m (page), 6x over
//! 6 h and 30 m (ticket); an alert is true when both windows burn faster than the
//! factor. A run is shorter than the SLO `period`, so the windows are scaled by
//! `min(1, run length / period)` (a 1-day run of a 30-day SLO: 1 h -> 2 m, 5 m -> 10 s),
//! rounded up to whole recording intervals, at least one. They are evaluated once the
//! long window is full, so the first requests of a run cannot page on their own.

use serde::Serialize;

use super::client::{ClientData, Slide};
use super::eval::{Evaluator, Track};
use super::state::Hold;
use super::verdict::{verdict, Check, RuleKind, RuleVerdict};
use super::Window;
use crate::objective::{Indicator, Objective, Op};
use crate::spec::Slo;

/// One burn-rate alert of the workbook.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurnPair {
    /// Burn-rate factor.
    pub factor: f64,
    /// Long window for a 30-day SLO, seconds.
    pub long_s: f64,
    /// Short window, seconds.
    pub short_s: f64,
    /// Severity label.
    pub severity: &'static str,
}

/// The two pairs: 14.4x over 1 h / 5 m (page), 6x over 6 h / 30 m (ticket).
pub const PAIRS: [BurnPair; 2] = [
    BurnPair { factor: 14.4, long_s: 3600.0, short_s: 300.0, severity: "page" },
    BurnPair { factor: 6.0, long_s: 21_600.0, short_s: 1800.0, severity: "ticket" },
];

/// An SLO's error budget over the run.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Budget {
    /// The share of requests allowed to be bad.
    pub allowed_ratio: f64,
    /// Requests in the run.
    pub requests: u64,
    /// Bad requests (errors, or latency breaking the objective).
    pub bad: u64,
    /// Bad requests the budget allows over the run.
    pub allowed_bad: f64,
    /// Share of the budget consumed (1 = all of it).
    pub consumed: f64,
    /// Share left (negative when overspent).
    pub remaining: f64,
    /// When the run had used its whole budget, simulated seconds.
    pub exhausted_at_s: Option<f64>,
}

/// A burn-rate alert's verdict, with the windows it used.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct BurnVerdict {
    /// Burn-rate factor.
    pub factor: f64,
    /// Long window after scaling, simulated seconds.
    pub long_window_s: f64,
    /// Short window after scaling, simulated seconds.
    pub short_window_s: f64,
    /// The rule verdict (informational).
    #[serde(flatten)]
    pub rule: RuleVerdict,
}

/// The share of requests an objective allows to be bad, if it has a budget.
pub fn allowed_ratio(obj: &Objective) -> Option<f64> {
    let upper = matches!(obj.op, Op::Lt | Op::Le);
    let r = match obj.indicator {
        Indicator::ErrorRatio if upper => obj.threshold,
        Indicator::Availability if !upper => 1.0 - obj.threshold,
        Indicator::Percentile(p) if upper => 1.0 - p / 100.0,
        _ => return None,
    };
    (r > 0.0).then_some(r)
}

/// Bad and all requests in the window a slide holds.
fn bad(obj: &Objective, slide: &Slide<'_>) -> (u64, u64) {
    match obj.indicator {
        Indicator::Percentile(_) => slide.over(|us| !obj.op.holds(us as f64 / 1e6, obj.threshold)),
        _ => {
            let total = slide.total();
            let ok = slide.count(&gameday_core::outcome::Outcome::ALL.map(|o| o == gameday_core::outcome::Outcome::Ok));
            (total - ok, total)
        }
    }
}

/// The SLO's error budget over the run, if its objective has one.
pub fn budget(slo: &Slo, ev: &Evaluator<'_>, data: &ClientData) -> Option<Budget> {
    let allowed = allowed_ratio(&slo.objective)?;
    let mut slide = Slide::new(data);
    slide.set(0, data.len());
    let (bad_n, total) = bad(&slo.objective, &slide);
    let allowed_bad = allowed * total as f64;
    let consumed = if allowed_bad > 0.0 { bad_n as f64 / allowed_bad } else { 0.0 };
    let mut cumulative = Slide::new(data);
    let exhausted_at_s = (0..ev.grid.times.len()).find_map(|k| {
        cumulative.set(0, ev.grid.bounds(k, Window::All).1);
        (total > 0 && bad(&slo.objective, &cumulative).0 as f64 > allowed_bad).then(|| ev.grid.times[k])
    });
    Some(Budget {
        allowed_ratio: allowed,
        requests: total,
        bad: bad_n,
        allowed_bad,
        consumed,
        remaining: 1.0 - consumed,
        exhausted_at_s,
    })
}

/// How much the workbook's windows shrink for this run: `min(1, run / period)`.
pub fn scale(run_s: f64, period_s: f64) -> f64 {
    if period_s <= 0.0 {
        1.0
    } else {
        (run_s / period_s).min(1.0)
    }
}

/// The SLO's burn-rate alerts over the run.
pub fn alerts(slo: &Slo, ev: &Evaluator<'_>, data: &ClientData) -> Vec<BurnVerdict> {
    let Some(allowed) = allowed_ratio(&slo.objective) else { return Vec::new() };
    let g = &ev.grid;
    let run_s = if ev.data.duration_s > 0.0 { ev.data.duration_s } else { g.slots as f64 * g.step_s };
    let k = scale(run_s, slo.period.get().as_secs_f64());
    PAIRS
        .iter()
        .map(|pair| {
            let (long, short) = (g.window_slots(pair.long_s * k), g.window_slots(pair.short_s * k));
            let values = burn_values(&slo.objective, ev, data, allowed, (long, short));
            let (long_s, short_s) = (long as f64 * g.step_s, short as f64 * g.step_s);
            let check = Check {
                text: format!(
                    "min(burn_rate[{}], burn_rate[{}]) > {}",
                    super::format_window(long_s),
                    super::format_window(short_s),
                    pair.factor
                ),
                op: Op::Gt,
                threshold: pair.factor,
                threshold_text: pair.factor.to_string(),
                unit: None,
            };
            let name = format!("{}: burn rate {}x", slo.name, pair.factor);
            let track = Track { labels: Default::default(), values };
            let mut rule = verdict(&name, RuleKind::BurnRate, &check, &[track], &g.times, Hold::default());
            rule.severity = Some(pair.severity.to_owned());
            BurnVerdict { factor: pair.factor, long_window_s: long_s, short_window_s: short_s, rule }
        })
        .collect()
}

/// The burn rate (the smaller of the two windows') at each evaluation time.
fn burn_values(
    obj: &Objective,
    ev: &Evaluator<'_>,
    data: &ClientData,
    allowed: f64,
    slots: (usize, usize),
) -> Vec<Option<f64>> {
    let (mut long, mut short) = (Slide::new(data), Slide::new(data));
    let ratio = |s: &Slide<'_>| {
        let (b, n) = bad(obj, s);
        (n > 0).then(|| b as f64 / n as f64 / allowed)
    };
    (0..ev.grid.times.len())
        .map(|k| {
            let hi = ev.grid.bounds(k, Window::All).1;
            if hi < slots.0 {
                return None;
            }
            long.set(hi - slots.0, hi);
            short.set(hi - slots.1, hi);
            Some(ratio(&long)?.min(ratio(&short)?))
        })
        .collect()
}
