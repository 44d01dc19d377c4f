//! gameday-rules: SLOs, alerts and scaling triggers, one rule type with Prometheus
//! semantics, evaluated over a run's [`RunData`] in simulated time.
//!
//! The crate owns its part of the scenario file ([`spec`], [`objective`]) as plain serde
//! data and knows nothing of scenarios, commands or reports: [`judge`] takes a
//! [`RuleSet`] and the run's data. Cross-checks against the targets' metric catalogs and
//! the export to a Prometheus rule file live in the harness.
//!
//! A rule is `<expr> <op> <threshold>`, e.g. `p95(latency{request="prove"})[5m] > 45s`,
//! `error_ratio[1h] > 0.1%`, `avg(cpu)[15m] > 70%`, `max(queue_depth)[2m] > 50`,
//! `deriv(p95(latency{request="prove"})[5m])[30m] > 10ms/h` (the language:
//! [`expr`]; the user's guide: `scenarios/README.md`, "Rules"). It is evaluated at a
//! fixed step over the run ([`eval`]); `for` and `keep_firing_for` drive a pending ->
//! firing -> resolved state machine per series exactly as Prometheus does ([`state`]).
//!
//! - `[[slo]]`: the objective over the whole run, over every full rolling `window`, an
//!   error budget and the multi-window burn-rate alerts ([`slo`], [`burn`]);
//! - `[[alert]]`: reported; failing the run only when it carries an expectation;
//! - `[[trigger]]`: a scaling trigger, whose verdict is *when* it fired; an expectation
//!   (`expect = "fires"`, `fires_within = ["2d", "3d"]`) fails the run when it does not hold.
//!
//! Every verdict carries the observed value next to the threshold, so a failure explains
//! itself.

pub mod burn;
pub mod check;
pub mod client;
pub mod eval;
pub mod expr;
pub mod objective;
pub mod range;
pub mod slo;
pub mod spec;
pub mod state;
mod syntax;
pub mod verdict;

use serde::Serialize;

pub use check::{static_check, CheckError};
pub use eval::{Evaluator, Grid, Track};
pub use expr::{Expr, Rule, Unit, Window};
pub use gameday_core::series::RunData;
pub use objective::{format_seconds, Indicator, Objective, ObjectiveError, Op};
pub use slo::Verdict;
pub use spec::{AlertRule, Expect, RuleSet, Slo};
pub use verdict::{RuleKind, RuleVerdict};

/// Everything the rules decided about a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RuleVerdicts {
    /// Evaluation step, simulated seconds.
    pub step_s: f64,
    /// Evaluations per rule.
    pub evaluations: usize,
    /// SLO verdicts, in scenario order.
    pub slos: Vec<Verdict>,
    /// Alert verdicts, in scenario order.
    pub alerts: Vec<RuleVerdict>,
    /// Trigger verdicts, in scenario order.
    pub triggers: Vec<RuleVerdict>,
}

impl RuleVerdicts {
    /// One line per failure: a failed SLO (whole run or window) or an unmet expectation.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for v in self.slos.iter().filter(|v| !v.pass) {
            if !v.whole_run_pass {
                out.push(format!(
                    "SLO `{}` failed: {} observed {} over {} requests",
                    v.name, v.objective, v.observed_text, v.samples
                ));
            }
            if let Some(w) = v.window.as_ref().filter(|w| !w.pass) {
                let at = w
                    .first_breach_s
                    .map_or(String::new(), |t| format!(", first in the window ending at {}", format_sim_time(t)));
                let win = format_window(w.window_s);
                out.push(format!(
                    "SLO `{}` failed over {win} windows: {} worst {}{at}",
                    v.name, v.objective, w.worst_text
                ));
            }
        }
        for (table, list) in [("alert", &self.alerts), ("trigger", &self.triggers)] {
            for r in list.iter().filter(|r| r.pass == Some(false)) {
                let expected = r.expectation.as_deref().unwrap_or("");
                let why = r.reason.as_deref().unwrap_or("");
                out.push(format!("{table} `{}` failed: expected it {expected}, but {why}", r.name));
            }
        }
        out
    }
}

/// Judges every SLO, alert and trigger of the set over the run.
pub fn judge(rules: RuleSet<'_>, data: &RunData) -> RuleVerdicts {
    let ev = evaluator(rules, data);
    RuleVerdicts {
        step_s: ev.grid.eval_step_s,
        evaluations: ev.grid.times.len(),
        slos: rules.slos.iter().map(|s| slo::judge(s, &ev)).collect(),
        alerts: rules.alerts.iter().map(|a| verdict::judge_alert(a, RuleKind::Alert, &ev)).collect(),
        triggers: rules.triggers.iter().map(|a| verdict::judge_alert(a, RuleKind::Trigger, &ev)).collect(),
    }
}

/// The evaluator the set's rules are judged with: its `evaluation_interval` and
/// `lookback_delta`.
pub fn evaluator<'a>(rules: RuleSet<'_>, data: &'a RunData) -> Evaluator<'a> {
    let step = rules.evaluation_interval.map(|d| d.get().as_secs_f64());
    let lookback = rules.lookback_delta.map_or(eval::DEFAULT_LOOKBACK_S, |d| d.get().as_secs_f64());
    Evaluator::new(data, step).with_lookback(lookback)
}

/// Formats a simulated time since the start: `1d 2h 3m 4s`, `250ms`.
pub fn format_sim_time(t: f64) -> String {
    let d = std::time::Duration::from_secs_f64(t.max(0.0));
    let d = if d.as_secs() >= 1 {
        std::time::Duration::from_secs(d.as_secs())
    } else {
        std::time::Duration::from_millis(d.as_millis() as u64)
    };
    if d.is_zero() {
        "0s".into()
    } else {
        humantime::format_duration(d).to_string()
    }
}

/// Formats a window length compactly: `1h`, `5m`, `1m30s`, `250ms` (Prometheus duration form).
pub fn format_window(s: f64) -> String {
    let mut ms = (s * 1000.0).round().max(0.0) as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, len) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
        if ms >= len {
            out.push_str(&format!("{}{unit}", ms / len));
            ms %= len;
        }
    }
    out
}
