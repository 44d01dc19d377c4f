//! What a drill records: its timeline, MTTD, RTO, the error budget it burned, one verdict
//! per exit criterion, its rollbacks and command outputs (`results.json` `drills`), and
//! the terminal lines `gameday drill` prints.
//!
//! Every time is simulated seconds since the load started, on the load's clock, so the
//! timeline lines up with the latency and error series of the same results file.

use serde::Serialize;

use super::drill::Drill;
use super::faults::command::CommandOutput;
use super::guard::RollbackRecord;
use crate::load::{KindStats, Outcome};
use crate::observe::RunData;
use crate::rules::format_sim_time;
use crate::scenario::{Indicator, Op, Slo};

/// How a drill ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrillStatus {
    /// Not started yet (the load ended or was interrupted first).
    #[default]
    Pending,
    /// Ran to verification (the criteria decide pass or fail).
    Completed,
    /// Every criterion held.
    Passed,
    /// A criterion failed, or detection, recovery or verification did not happen in time.
    Failed,
    /// Steady state did not hold: nothing was injected.
    Refused,
    /// The error budget burned faster than `max_burn_rate`: rolled back early.
    Aborted,
    /// The fault could not be checked or injected, or the drill's task failed.
    Error,
    /// Ctrl-C.
    Interrupted,
}

/// The moments of a drill, simulated seconds since the load started.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Timeline {
    /// Whether steady state held (`None`: not checked yet).
    pub steady_state_ok: Option<bool>,
    /// When the fault was injected.
    pub injected_at: Option<f64>,
    /// When detection happened (first probe failure or rule firing).
    pub detected_at: Option<f64>,
    /// When recovery started.
    pub recovery_started_at: Option<f64>,
    /// When every verification probe passed.
    pub verified_at: Option<f64>,
    /// When the fault was rolled back.
    pub rolled_back_at: Option<f64>,
}

/// One SLO checked over the steady-state window.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct SteadyCheck {
    /// The SLO's name.
    pub slo: String,
    /// Its objective.
    pub objective: String,
    /// The value over the window (`None`: no requests).
    pub observed: Option<f64>,
    /// Whether it held.
    pub pass: bool,
}

/// One exit criterion's verdict.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Criterion {
    /// `mttd`, `rto`, `p95`, `max_5xx_ratio`, `max_lost`.
    pub name: String,
    /// The limit (seconds, a ratio or a count).
    pub threshold: f64,
    /// What was observed (`None`: never happened or no data).
    pub observed: Option<f64>,
    /// Whether it held.
    pub pass: bool,
}

/// The error budget a drill burned.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct BudgetBurn {
    /// The SLO whose budget it is.
    pub slo: String,
    /// The share of requests it allows to be bad.
    pub allowed_ratio: f64,
    /// Requests during the drill window.
    pub requests: u64,
    /// Bad ones among them.
    pub bad: u64,
    /// (bad / requests) / allowed ratio.
    pub burn_rate: Option<f64>,
    /// Share of the SLO period's budget consumed, extrapolating the run's traffic over
    /// the period (`bad / (allowed ratio x requests per period)`).
    pub budget_burned: f64,
}

/// The runbook alert a drill relies on: whether and when it fired after injection.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct RunbookAlert {
    /// The `[[alert]]` name; `None` when the drill names none (see `finding`).
    pub name: Option<String>,
    /// Its rule as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Its `for`, simulated seconds.
    pub for_s: f64,
    /// Whether it fired at or after injection.
    pub fired: bool,
    /// When it first fired at or after injection, simulated seconds since the load started.
    pub first_firing_s: Option<f64>,
    /// Injection -> first firing, simulated seconds (the alert-based MTTD).
    pub mttd_s: Option<f64>,
    /// A finding about the runbook: no alert can detect the incident, or the one named
    /// never fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

/// A moment worth keeping (probe results, recovery steps).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Event {
    /// Simulated seconds since the load started.
    pub at_s: f64,
    /// What happened.
    pub what: String,
}

/// Everything about one drill.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct DrillRecord {
    /// The drill's name.
    pub name: String,
    /// Its target.
    pub target: String,
    /// The fault's kind.
    pub fault: String,
    /// How it ended.
    pub status: DrillStatus,
    /// Why it failed, was refused, aborted or errored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The moments.
    pub timeline: Timeline,
    /// The steady-state checks.
    pub steady_state: Vec<SteadyCheck>,
    /// Injection -> detection, simulated seconds: by the runbook alert when the drill
    /// names one, else by the detection probe or rule.
    pub mttd_s: Option<f64>,
    /// Injection -> detection by `[drill.detect]`'s probe or rule, simulated seconds.
    pub probe_mttd_s: Option<f64>,
    /// The runbook alert the drill relies on, judged over the whole run.
    pub runbook_alert: RunbookAlert,
    /// Injection -> verification, simulated seconds.
    pub rto_s: Option<f64>,
    /// The budget burned during the drill window.
    pub budget: Option<BudgetBurn>,
    /// `budget.budget_burned`, for quick reading.
    pub budget_burned: Option<f64>,
    /// One verdict per exit criterion.
    pub criteria: Vec<Criterion>,
    /// Every rollback of this drill's faults.
    pub rollbacks: Vec<RollbackRecord>,
    /// Recovery command outputs.
    pub commands: Vec<CommandOutput>,
    /// What happened, in order.
    pub events: Vec<Event>,
}

impl DrillRecord {
    /// A fresh report for `d`.
    pub fn new(d: &Drill) -> Self {
        Self {
            name: d.name().to_owned(),
            target: d.target.get_ref().clone(),
            fault: d.fault.name().to_owned(),
            ..Self::default()
        }
    }

    /// Marks the drill as ended with `status` for `reason` (the first reason wins).
    pub fn end(&mut self, status: DrillStatus, reason: impl Into<String>) {
        self.status = status;
        if self.reason.is_none() {
            self.reason = Some(reason.into());
        }
    }

    /// Whether this drill passed.
    pub fn passed(&self) -> bool {
        self.status == DrillStatus::Passed
    }
}

/// Stats merged over the request kinds `pick` selects, over intervals `lo..hi`.
pub fn merged(intervals: &crate::load::Intervals, lo: u64, hi: u64, pick: &[bool]) -> KindStats {
    let mut out = KindStats::default();
    for (_, kinds) in intervals.range(lo..hi) {
        for (k, st) in kinds.iter().enumerate() {
            if pick.get(k).copied().unwrap_or(false) {
                out.merge(st);
            }
        }
    }
    out
}

/// The request kinds an SLO covers.
pub fn pick(slo: Option<&Slo>, requests: &[String]) -> Vec<bool> {
    let want = slo.and_then(|s| s.request.as_ref()).map(|r| r.get_ref().as_str());
    requests.iter().map(|r| want.is_none_or(|w| w == r)).collect()
}

/// Requests that break an objective's budget: failures, or (percentile objectives)
/// latencies on the wrong side of the threshold.
pub fn bad_requests(slo: &Slo, st: &KindStats) -> u64 {
    match slo.objective.indicator {
        Indicator::Percentile(_) => {
            let threshold_us = (slo.objective.threshold * 1e6) as u64;
            let within = match slo.objective.op {
                Op::Lt => st.latency.count_between(0, threshold_us.saturating_sub(1)),
                _ => st.latency.count_between(0, threshold_us),
            };
            st.total().saturating_sub(within)
        }
        _ => st.errors(),
    }
}

/// The interval range `lo..hi` overlapping `[from_s, to_s]`.
pub fn interval_range(step_s: f64, from_s: f64, to_s: f64) -> (u64, u64) {
    if step_s <= 0.0 {
        return (0, 0);
    }
    let lo = (from_s / step_s + 1e-9).floor().max(0.0) as u64;
    let hi = ((to_s / step_s - 1e-9).ceil().max(0.0) as u64).max(lo + 1);
    (lo, hi)
}

/// The drill window: injection to verification (or rollback, or the end of the load).
pub fn window(r: &DrillRecord, end_s: f64) -> Option<(f64, f64)> {
    let t = &r.timeline;
    let from = t.injected_at?;
    let to = t.verified_at.or(t.rolled_back_at).unwrap_or(end_s).max(from);
    Some((from, to))
}

/// The budget burned over `[from, to]` against `slo`; `period_share` = run span / SLO period.
pub fn budget(slo: &Slo, data: &RunData, from: f64, to: f64) -> Option<BudgetBurn> {
    let allowed = crate::rules::burn::allowed_ratio(&slo.objective)?;
    let pick = pick(Some(slo), &data.requests);
    let (lo, hi) = interval_range(data.step_s, from, to);
    let st = merged(&data.intervals, lo, hi, &pick);
    let run_total = merged(&data.intervals, 0, u64::MAX, &pick).total();
    let bad = bad_requests(slo, &st);
    let per_period = run_total as f64 * slo.period.get().as_secs_f64() / data.duration_s.max(1e-9);
    let budget_burned = if per_period > 0.0 { bad as f64 / (allowed * per_period) } else { 0.0 };
    let burn_rate = (st.total() > 0).then(|| bad as f64 / st.total() as f64 / allowed);
    Some(BudgetBurn {
        slo: slo.name.clone(),
        allowed_ratio: allowed,
        requests: st.total(),
        bad,
        burn_rate,
        budget_burned,
    })
}

/// Judges the exit criteria of `d` over the finished run.
pub fn criteria(d: &Drill, r: &DrillRecord, data: &RunData) -> Vec<Criterion> {
    let e = &d.expect;
    let mut out = Vec::new();
    let within = |name: &str, limit: f64, observed: Option<f64>| Criterion {
        name: name.into(),
        threshold: limit,
        observed,
        pass: observed.is_some_and(|o| o <= limit),
    };
    // With a runbook alert, detection is the alert firing (judged over the whole run),
    // within `mttd` or at least before the dead-man timeout.
    let alert_named = d.detect.alert.is_some();
    let mttd_s = if alert_named { r.runbook_alert.mttd_s } else { r.mttd_s };
    match e.mttd {
        Some(m) => out.push(within("mttd", m.get().as_secs_f64(), mttd_s)),
        None if alert_named => out.push(within("mttd", d.timeout.get().as_secs_f64(), mttd_s)),
        None => {}
    }
    if let Some(m) = e.rto {
        out.push(within("rto", m.get().as_secs_f64(), r.rto_s));
    }
    let stats = window(r, data.duration_s).map(|(from, to)| {
        let (lo, hi) = interval_range(data.step_s, from, to);
        merged(&data.intervals, lo, hi, &vec![true; data.requests.len()])
    });
    let total = stats.as_ref().map(KindStats::total).filter(|t| *t > 0);
    if let Some(p) = e.p95 {
        let observed =
            stats.as_ref().filter(|_| total.is_some()).map(|s| s.latency.value_at_quantile(0.95) as f64 / 1e6);
        out.push(within("p95", p.get().as_secs_f64(), observed));
    }
    if let Some(max) = e.max_5xx_ratio {
        let observed = stats.as_ref().zip(total).map(|(s, t)| s.count(Outcome::Status5xx) as f64 / t as f64);
        out.push(within("max_5xx_ratio", max.0, observed));
    }
    if let Some(max) = e.max_lost {
        let observed = stats.as_ref().map(|s| (s.count(Outcome::Connect) + s.count(Outcome::Timeout)) as f64);
        out.push(within("max_lost", max as f64, observed));
    }
    out
}

fn fmt_value(name: &str, v: f64) -> String {
    match name {
        "mttd" | "rto" | "p95" => crate::scenario::objective::format_seconds(v),
        "max_5xx_ratio" => format!("{:.3}%", v * 100.0),
        _ => format!("{v:.0}"),
    }
}

/// The runbook alert's line: alert-based MTTD next to probe-based MTTD, or the finding.
pub fn alert_line(a: &RunbookAlert, probe_mttd_s: Option<f64>) -> String {
    let secs = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format_sim_time(v).replace(' ', ""));
    let probe = format!("probe MTTD {}", secs(probe_mttd_s));
    match (&a.name, &a.finding) {
        (Some(name), None) => {
            format!("runbook alert `{name}` (for {}): fired, MTTD {}; {probe}", secs(Some(a.for_s)), secs(a.mttd_s))
        }
        (Some(name), Some(f)) => format!("FINDING runbook alert `{name}`: {f}; {probe}"),
        (None, Some(f)) => format!("FINDING no runbook alert: {f}; {probe}"),
        (None, None) => format!("runbook alert: none named; {probe}"),
    }
}

/// The runbook alert of `d` judged over the whole run: when it first fired at or after
/// injection, or the finding when it did not (or the drill names none).
pub fn runbook_alert(d: &Drill, s: &crate::scenario::Scenario, r: &DrillRecord, data: &RunData) -> RunbookAlert {
    let Some(name) = d.detect.alert.as_ref().map(|a| a.get_ref()) else {
        let finding = d.detect.no_alert.as_ref().map_or_else(
            || {
                "the drill names no runbook alert (`detect.alert`): it cannot show that anyone would be paged"
                    .to_owned()
            },
            |why| format!("no runbook alert can detect this incident: {}", why.get_ref()),
        );
        return RunbookAlert { finding: Some(finding), ..RunbookAlert::default() };
    };
    let Some(a) = s.alerts.iter().find(|a| a.name == *name) else {
        return RunbookAlert {
            name: Some(name.clone()),
            finding: Some("no such [[alert]]".into()),
            ..Default::default()
        };
    };
    let mut out = RunbookAlert {
        name: Some(name.clone()),
        expr: Some(a.expr.get_ref().as_written().to_owned()),
        for_s: a.r#for.get().as_secs_f64(),
        ..RunbookAlert::default()
    };
    let Some(injected) = r.timeline.injected_at else {
        out.finding = Some("not judged: nothing was injected".into());
        return out;
    };
    let ev = crate::rules::evaluator(s.rules(), data);
    let v = crate::rules::verdict::judge_alert(a, crate::rules::RuleKind::Alert, &ev);
    let first = v.firing.iter().find(|sp| sp.overlaps(injected, f64::INFINITY)).map(|sp| sp.start_s.max(injected));
    out.fired = first.is_some();
    out.first_firing_s = first;
    out.mttd_s = first.map(|t| t - injected);
    if first.is_none() {
        out.finding = Some(format!(
            "it never fired after injection (worst value {}): as written it would page no one for this incident",
            v.observed_text
        ));
    }
    out
}

/// The terminal lines of one drill.
pub fn render(r: &DrillRecord) -> String {
    let status = serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let mut s = format!("drill `{}` ({} on {}): {}", r.name, r.fault, r.target, status.to_uppercase());
    if let Some(why) = &r.reason {
        s.push_str(&format!(" ({why})"));
    }
    let secs = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format_sim_time(v).replace(' ', ""));
    let burned = r.budget.as_ref().map_or_else(
        || "-".to_owned(),
        |b| {
            let rate = b.burn_rate.map_or_else(String::new, |x| format!(", burn rate {x:.1}x"));
            format!("{:.4}% of `{}`{rate}", b.budget_burned * 100.0, b.slo)
        },
    );
    s.push_str(&format!("\n  MTTD {}  RTO {}  budget burned {burned}", secs(r.mttd_s), secs(r.rto_s)));
    s.push_str(&format!("\n  {}", alert_line(&r.runbook_alert, r.probe_mttd_s)));
    for c in &r.criteria {
        let verdict = if c.pass { "PASS" } else { "FAIL" };
        let observed = c.observed.map_or_else(|| "never / no data".to_owned(), |o| fmt_value(&c.name, o));
        s.push_str(&format!("\n  {verdict} {}: {observed} (limit {})", c.name, fmt_value(&c.name, c.threshold)));
    }
    for rb in &r.rollbacks {
        let how = if rb.ok { "ok".to_owned() } else { format!("FAILED: {}", rb.error.as_deref().unwrap_or("")) };
        let at = rb.at_s.map_or_else(String::new, |t| format!(" at {}", format_sim_time(t)));
        s.push_str(&format!("\n  rollback ({}){at}: {} [{how}]", rb.reason, rb.what));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_ranges_cover_the_window() {
        assert_eq!(interval_range(1.0, 2.5, 4.2), (2, 5));
        assert_eq!(interval_range(1.0, 3.0, 3.0), (3, 4));
        assert_eq!(interval_range(0.5, 0.0, 1.0), (0, 2));
    }
}
