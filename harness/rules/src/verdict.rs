//! Rule verdicts: what a rule did over the run (pending, firing, when, at what value) and,
//! for alerts and triggers with an expectation, whether that is what the scenario expected.

use std::collections::BTreeMap;

use serde::Serialize;

use super::eval::{Evaluator, Track};
use super::expr::{Rule, Unit};
use super::state::{self, Hold, Span};
use crate::objective::format_seconds;
use crate::objective::Op;
use crate::spec::{AlertRule, Expect};

/// What kind of rule a verdict is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// An `[[alert]]`.
    Alert,
    /// A `[[trigger]]`.
    Trigger,
    /// An SLO's burn-rate alert.
    BurnRate,
}

/// One labelled series of a rule over scraped metrics.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct SeriesVerdict {
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
    /// When it fired.
    pub firing: Vec<Span>,
    /// The worst value it took.
    pub observed: Option<f64>,
}

/// The verdict of one alert, trigger or burn-rate rule.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct RuleVerdict {
    /// The rule's name.
    pub name: String,
    /// Alert, trigger or burn rate.
    pub kind: RuleKind,
    /// The rule as written.
    pub expr: String,
    /// `for`, simulated seconds.
    pub for_s: f64,
    /// `keep_firing_for`, simulated seconds.
    pub keep_firing_for_s: f64,
    /// The `severity` label, if any.
    pub severity: Option<String>,
    /// The threshold (seconds, ratio or number).
    pub threshold: f64,
    /// The threshold as written.
    pub threshold_text: String,
    /// The worst value over the run (largest for `>`/`>=`, smallest for `<`/`<=`).
    pub observed: Option<f64>,
    /// `observed` formatted in the expression's unit, or "no data".
    pub observed_text: String,
    /// The value at the first firing evaluation.
    pub value_at_first_firing: Option<f64>,
    /// When it first fired, simulated seconds since the start; `None` = never.
    pub first_firing_s: Option<f64>,
    /// When it was firing (all series merged).
    pub firing: Vec<Span>,
    /// When it was pending (all series merged).
    pub pending: Vec<Span>,
    /// Evaluations that had a value.
    pub samples: u64,
    /// Per series, when a scraped expression matched more than one or carried labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<SeriesVerdict>,
    /// The expectation as written (`fires within [2d, 3d]`); `None` = informational.
    pub expectation: Option<String>,
    /// Whether the expectation held; `None` = informational.
    pub pass: Option<bool>,
    /// Why it failed, when it did.
    pub reason: Option<String>,
}

/// Formats a value in a unit.
pub fn format_value(v: f64, unit: Option<Unit>) -> String {
    match unit {
        Some(Unit::Seconds) => format_seconds(v),
        Some(Unit::Ratio) => format!("{:.3}%", v * 100.0),
        Some(Unit::PerSecond) => format!("{}/s", significant(v)),
        _ => significant(v),
    }
}

/// Four significant digits, without trailing zeros (`0.0001667`, `2.9`, `1.235e9`).
fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-4..9).contains(&magnitude) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// What a verdict compares: a rule's text, comparison, threshold and unit.
#[derive(Clone, Debug)]
pub struct Check {
    /// The rule as written (or as generated, for burn rates).
    pub text: String,
    /// The comparison.
    pub op: Op,
    /// The threshold.
    pub threshold: f64,
    /// The threshold as written.
    pub threshold_text: String,
    /// The unit of the values.
    pub unit: Option<Unit>,
}

impl From<&Rule> for Check {
    fn from(r: &Rule) -> Self {
        Self {
            text: r.as_written().to_owned(),
            op: r.op,
            threshold: r.threshold.value,
            threshold_text: r.threshold.text.clone(),
            unit: r.expr.unit(),
        }
    }
}

/// Runs the state machine on each track and gathers the verdict (without expectation).
pub fn verdict(name: &str, kind: RuleKind, rule: &Check, tracks: &[Track], times: &[f64], hold: Hold) -> RuleVerdict {
    let worse = |a: f64, b: f64| if matches!(rule.op, Op::Gt | Op::Ge) { a.max(b) } else { a.min(b) };
    let mut firing = Vec::new();
    let mut pending = Vec::new();
    let mut series = Vec::new();
    let mut first: Option<(f64, Option<f64>)> = None;
    let mut observed: Option<f64> = None;
    let mut samples = 0u64;
    for t in tracks {
        let tl = state::run(times, &t.values, |v| rule.op.holds(v, rule.threshold), hold);
        let worst = t.values.iter().flatten().copied().reduce(worse);
        samples += t.values.iter().filter(|v| v.is_some()).count() as u64;
        observed = match (observed, worst) {
            (Some(a), Some(b)) => Some(worse(a, b)),
            (a, b) => a.or(b),
        };
        if let Some(f) = tl.first_firing_s() {
            if first.is_none_or(|(g, _)| f < g) {
                first = Some((f, tl.value_at_first_firing));
            }
        }
        firing.extend(tl.firing.iter().copied());
        pending.extend(tl.pending.iter().copied());
        if tracks.len() > 1 || !t.labels.is_empty() {
            series.push(SeriesVerdict { labels: t.labels.clone(), firing: tl.firing, observed: worst });
        }
    }
    RuleVerdict {
        name: name.to_owned(),
        kind,
        expr: rule.text.clone(),
        for_s: hold.for_s,
        keep_firing_for_s: hold.keep_firing_for_s,
        severity: None,
        threshold: rule.threshold,
        threshold_text: rule.threshold_text.clone(),
        observed,
        observed_text: observed.map_or_else(|| "no data".into(), |v| format_value(v, rule.unit)),
        value_at_first_firing: first.and_then(|f| f.1),
        first_firing_s: first.map(|f| f.0),
        firing: state::union(firing),
        pending: state::union(pending),
        samples,
        series,
        expectation: None,
        pass: None,
        reason: None,
    }
}

/// Evaluates an `[[alert]]` or `[[trigger]]` and checks its expectation.
pub fn judge_alert(a: &AlertRule, kind: RuleKind, ev: &Evaluator<'_>) -> RuleVerdict {
    let rule = a.expr.get_ref();
    let hold = Hold { for_s: a.r#for.get().as_secs_f64(), keep_firing_for_s: a.keep_firing_for.get().as_secs_f64() };
    let tracks = ev.eval(&rule.expr);
    let mut v = verdict(&a.name, kind, &Check::from(rule), &tracks, &ev.grid.times, hold);
    v.severity.clone_from(&a.severity);
    if let Some(expect) = a.expect {
        let within = a.fires_within.as_ref().map(|w| {
            let [from, to] = w.get_ref();
            (from.get().as_secs_f64(), to.get().as_secs_f64(), format!(" within [{from}, {to}]"))
        });
        let range = within.as_ref().map_or(String::new(), |w| w.2.clone());
        v.expectation = Some(match expect {
            Expect::Fires => format!("fires{range}"),
            Expect::Never => format!("never fires{range}"),
        });
        let reason = expectation_failure(&v, expect, within.map(|w| (w.0, w.1)));
        v.pass = Some(reason.is_none());
        v.reason = reason;
    }
    v
}

fn expectation_failure(v: &RuleVerdict, expect: Expect, within: Option<(f64, f64)>) -> Option<String> {
    let at = |t: f64| crate::format_sim_time(t);
    if v.samples == 0 {
        return Some(format!("no data for `{}`: the expectation cannot be checked", v.expr));
    }
    match (expect, v.first_firing_s, within) {
        (Expect::Fires, None, _) => Some(format!("never fired (worst value {})", v.observed_text)),
        (Expect::Fires, Some(t), Some((from, to))) if t < from - 1e-9 || t > to + 1e-9 => {
            Some(format!("first fired at {}, outside [{}, {}]", at(t), at(from), at(to)))
        }
        (Expect::Fires, Some(_), _) => None,
        (Expect::Never, _, w) => {
            let (from, to) = w.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
            v.firing.iter().find(|s| s.overlaps(from, to)).map(|s| format!("fired at {}", at(s.start_s.max(from))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_formatted_in_their_unit() {
        assert_eq!(format_value(0.0001666666, Some(Unit::PerSecond)), "0.0001667/s");
        assert_eq!(format_value(2.9, None), "2.9");
        assert_eq!(format_value(1234.5678, None), "1235");
        assert_eq!(format_value(1.5e10, None), "1.500e10");
        assert_eq!(format_value(0.25, Some(Unit::Seconds)), "250.0ms");
        assert_eq!(format_value(0.0123, Some(Unit::Ratio)), "1.230%");
    }
}
