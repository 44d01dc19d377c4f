//! The rule sections of a scenario as plain serde data: `[[slo]]` ([`Slo`]), `[[alert]]`
//! and `[[trigger]]` ([`AlertRule`]), what a run expects of them ([`Expect`]), and the
//! borrowed [`RuleSet`] the engine judges. Parsing checks what fits in a type (a
//! malformed rule or objective carries its line); cross-references are the harness's.

use gameday_mocks::kit::{HumanDuration, PositiveDuration};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::expr::Rule;
use crate::objective::Objective;

/// Everything the rules engine judges, borrowed from a scenario.
#[derive(Clone, Copy, Debug)]
pub struct RuleSet<'a> {
    /// `[[slo]]`, in scenario order.
    pub slos: &'a [Slo],
    /// `[[alert]]`, in scenario order.
    pub alerts: &'a [AlertRule],
    /// `[[trigger]]`, in scenario order.
    pub triggers: &'a [AlertRule],
    /// How often rules are evaluated (simulated); `None` = the recording interval.
    pub evaluation_interval: Option<PositiveDuration>,
    /// How far back an instant lookup reaches (simulated); `None` = 5m.
    pub lookback_delta: Option<PositiveDuration>,
}

/// A service level objective: an indicator over the run and its objective.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Name shown in the table and reports.
    pub name: String,
    /// The request kind it covers; absent = every request.
    #[serde(default)]
    pub request: Option<Spanned<String>>,
    /// The objective, e.g. `"p95 < 500ms"`, `"error_ratio < 0.1%"`, `"availability >= 99.9%"`.
    pub objective: Objective,
    /// Rolling window: the objective must also hold over every full window of this
    /// length (a 10-minute breach inside a long run fails).
    #[serde(default)]
    pub window: Option<Spanned<PositiveDuration>>,
    /// The SLO period the error budget refers to; burn-rate windows are scaled by the
    /// run's length over it (default 30 days).
    #[serde(default = "default_period")]
    pub period: PositiveDuration,
    /// Whether to evaluate the multi-window burn-rate alerts (default true).
    #[serde(default = "yes")]
    pub burn_alerts: bool,
}

fn default_period() -> PositiveDuration {
    PositiveDuration(HumanDuration(std::time::Duration::from_secs(30 * 86_400)))
}

/// An `[[alert]]` or `[[trigger]]`: a rule with Prometheus `for` semantics, and
/// optionally what the run expects of it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Name shown in reports and exported as the alert name.
    pub name: String,
    /// The rule: `"<expr> <op> <threshold>"` (see `scenarios/README.md`, "Rules").
    pub expr: Spanned<Rule>,
    /// How long the rule must be true before it fires (simulated; default 0).
    #[serde(default)]
    pub r#for: HumanDuration,
    /// How long a firing rule keeps firing after it turns false (simulated; default 0).
    #[serde(default)]
    pub keep_firing_for: HumanDuration,
    /// `severity` label (exported; shown in reports).
    #[serde(default)]
    pub severity: Option<String>,
    /// What the rule means, for people (exported as an annotation).
    #[serde(default)]
    pub description: String,
    /// What the run expects: `fires` or `never`; absent = informational.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// `[from, to]` (simulated, since the run's start): with `fires`, the first firing
    /// must fall in it; with `never`, no firing may overlap it.
    #[serde(default)]
    pub fires_within: Option<Spanned<[HumanDuration; 2]>>,
}

/// What a scenario expects of an alert or trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// It fires (within `fires_within`, when given).
    Fires,
    /// It never fires (within `fires_within`, when given).
    Never,
}

fn yes() -> bool {
    true
}
