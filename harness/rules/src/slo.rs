//! SLO verdicts: the objective over the whole run, over every full rolling window (when
//! the SLO has a `window`), the error budget, and the burn-rate alerts.
//!
//! The whole-run and windowed values come from the same exact HDR windows as rules
//! ([`super::client`]); a window with no request has no value and is not a breach. An SLO
//! with no data over the whole run fails: an SLO that was never measured is never a pass.

use serde::Serialize;

use super::burn::{self, Budget, BurnVerdict};
use super::client::Slide;
use super::eval::{client_value, Evaluator};
use super::expr::{Expr, LatencyStat, Matcher, RatioMetric, Window};
use super::state::{self, Hold, Span};
use crate::objective::{Indicator, Op};
use crate::spec::Slo;
use gameday_core::outcome::KindStats;

/// The verdict of one SLO.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Verdict {
    /// The SLO's name.
    pub name: String,
    /// The request kind it covers (`*` = all).
    pub request: String,
    /// The objective as written.
    pub objective: String,
    /// What is measured: `p95`, `mean`, `max`, `error_ratio`, `availability`.
    pub indicator: String,
    /// The comparison: `<`, `<=`, `>`, `>=`.
    pub op: String,
    /// The threshold: seconds for latency indicators, else a ratio.
    pub threshold: f64,
    /// The observed whole-run value (seconds or ratio); `None` when there was no data.
    pub observed: Option<f64>,
    /// The observed value formatted like the objective.
    pub observed_text: String,
    /// Requests the value is over.
    pub samples: u64,
    /// Whether the SLO held: over the whole run and, with a window, over every window.
    pub pass: bool,
    /// Whether the objective held over the whole run.
    pub whole_run_pass: bool,
    /// The rolling-window check, when the SLO has a `window`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowVerdict>,
    /// The error budget, for SLOs that have one (percentiles, error ratio, availability).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// The multi-window burn-rate alerts (informational).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub burn_alerts: Vec<BurnVerdict>,
}

/// The rolling-window check of an SLO.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct WindowVerdict {
    /// Window length, simulated seconds (a whole number of recording intervals).
    pub window_s: f64,
    /// Full windows evaluated that had requests.
    pub windows: u64,
    /// When a window ending then breached the objective (spans of window end times).
    pub breaches: Vec<Span>,
    /// The end of the first breaching window.
    pub first_breach_s: Option<f64>,
    /// The worst window value.
    pub worst: Option<f64>,
    /// `worst` formatted like the objective.
    pub worst_text: String,
    /// The end of the worst window.
    pub worst_window_end_s: Option<f64>,
    /// No full window breached (and at least one was evaluated).
    pub pass: bool,
}

/// The value of an indicator over some requests, or `None` without data (whole-run
/// stats, for callers holding a [`KindStats`]).
pub fn observe(indicator: Indicator, stats: &KindStats) -> Option<f64> {
    let total = stats.total();
    if total == 0 {
        return None;
    }
    let us = |v: u64| v as f64 / 1e6;
    Some(match indicator {
        Indicator::Percentile(p) => us(stats.latency.value_at_quantile(p / 100.0)),
        Indicator::Mean => stats.latency.mean() / 1e6,
        Indicator::Max => us(stats.latency.max()),
        Indicator::ErrorRatio => stats.errors() as f64 / total as f64,
        Indicator::Availability => stats.ok() as f64 / total as f64,
    })
}

/// The `request` matcher of an SLO (none = every request).
pub fn request_matchers(slo: &Slo) -> Vec<Matcher> {
    slo.request.iter().map(|r| Matcher { label: "request".into(), negate: false, value: r.get_ref().clone() }).collect()
}

/// The rule expression an SLO's indicator stands for.
pub fn indicator_expr(slo: &Slo, window: Window) -> Expr {
    let matchers = request_matchers(slo);
    let latency = |stat| Expr::Latency { stat, matchers: matchers.clone(), window };
    match slo.objective.indicator {
        Indicator::Percentile(p) => latency(LatencyStat::Percentile(p)),
        Indicator::Mean => latency(LatencyStat::Mean),
        Indicator::Max => latency(LatencyStat::Max),
        Indicator::ErrorRatio => Expr::Ratio { metric: RatioMetric::ErrorRatio, matchers, window },
        Indicator::Availability => Expr::Ratio { metric: RatioMetric::Availability, matchers, window },
    }
}

/// Judges one SLO over the run.
pub fn judge(slo: &Slo, ev: &Evaluator<'_>) -> Verdict {
    let request = slo.request.as_ref().map(|r| r.get_ref().clone());
    let expr = indicator_expr(slo, Window::All);
    let data = ev.client(&ev.pick_requests(&request_matchers(slo)));
    let mut slide = Slide::new(&data);
    slide.set(0, data.len());
    let observed = client_value(&expr, &slide, 0.0);
    let samples = slide.total();
    let whole = observed.is_some_and(|v| slo.objective.op.holds(v, slo.objective.threshold));
    let window = slo.window.as_ref().map(|w| judge_window(slo, ev, w.get_ref().get().as_secs_f64()));
    let budget = burn::budget(slo, ev, &data);
    let burn_alerts = if slo.burn_alerts && budget.is_some() { burn::alerts(slo, ev, &data) } else { Vec::new() };
    Verdict {
        name: slo.name.clone(),
        request: request.unwrap_or_else(|| "*".into()),
        objective: slo.objective.as_written().to_owned(),
        indicator: slo.objective.indicator.to_string(),
        op: slo.objective.op.as_str().to_owned(),
        threshold: slo.objective.threshold,
        observed_text: observed.map_or_else(|| "no data".into(), |v| slo.objective.format_value(v)),
        observed,
        samples,
        pass: whole && window.as_ref().is_none_or(|w| w.pass),
        whole_run_pass: whole,
        window,
        budget,
        burn_alerts,
    }
}

fn judge_window(slo: &Slo, ev: &Evaluator<'_>, window_s: f64) -> WindowVerdict {
    let g = &ev.grid;
    let slots = g.window_slots(window_s);
    let expr = indicator_expr(slo, Window::Last(window_s));
    let mut values = ev.eval(&expr).pop().unwrap_or_default().values;
    for (k, v) in values.iter_mut().enumerate() {
        if g.bounds(k, Window::All).1 < slots {
            *v = None; // not a full window yet
        }
    }
    let obj = &slo.objective;
    let tl = state::run(&g.times, &values, |v| !obj.op.holds(v, obj.threshold), Hold::default());
    let worse_is_larger = matches!(obj.op, Op::Lt | Op::Le);
    let worst = values.iter().enumerate().filter_map(|(k, v)| v.map(|v| (k, v))).reduce(|a, b| {
        if (worse_is_larger && b.1 > a.1) || (!worse_is_larger && b.1 < a.1) {
            b
        } else {
            a
        }
    });
    let windows = values.iter().filter(|v| v.is_some()).count() as u64;
    WindowVerdict {
        window_s: slots as f64 * g.step_s,
        windows,
        first_breach_s: tl.first_firing_s(),
        pass: tl.firing.is_empty() && windows > 0,
        breaches: tl.firing,
        worst: worst.map(|w| w.1),
        worst_text: worst.map_or_else(|| "no full window".into(), |w| obj.format_value(w.1)),
        worst_window_end_s: worst.map(|w| g.times[w.0]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gameday_core::outcome::Outcome;

    #[test]
    fn indicators_match_hand_computed_values() {
        // 990 requests at 10 ms and 10 timeouts recorded at 2 s: p99 is 10 ms (the 990th
        // value), p99.5 is 2 s, the error ratio is 10/1000, availability 99%.
        let mut s = KindStats::default();
        for _ in 0..990 {
            s.record(10_000, Outcome::Ok, None);
        }
        for _ in 0..10 {
            s.record(2_000_000, Outcome::Timeout, None);
        }
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() <= b * 0.001 + 1e-9);
        assert!(near(observe(Indicator::Percentile(99.0), &s), 0.010));
        assert!(near(observe(Indicator::Percentile(99.5), &s), 2.0));
        assert!(near(observe(Indicator::ErrorRatio, &s), 0.01));
        assert!(near(observe(Indicator::Availability, &s), 0.99));
        assert!(near(observe(Indicator::Mean, &s), 0.0299));
        assert_eq!(observe(Indicator::Max, &KindStats::default()), None);
    }
}
