//! The drill model: `[[drill]]` tables of a scenario, parsed with it and checked with
//! the same file:line:field errors (format: `scenarios/README.md`, "Drills").
//!
//! A drill names a target, a fault ([`FaultSpec`]), when to inject it (`at`, simulated
//! time since the load started), the warm-up window over which the scenario's SLOs must
//! hold first (`steady_state`), a dead-man `timeout`, how detection is observed (a rule
//! or a probe), the recovery step, the verification probes and the exit criteria.

use std::collections::BTreeSet;
use std::time::Duration;

use gameday_mocks::kit::HumanDuration;
use gameday_mocks::ServiceId;

use crate::invalid::Invalid;
use crate::scenario::{Model, Scenario};
use crate::spec::drill::ProbeSpec;
use crate::spec::drill::RecoveryAction;
pub use crate::spec::drill::{Detect, Drill, DrillExpect, Recover};

impl Drill {
    /// The name.
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    /// The target's service id (checked when the scenario was parsed).
    pub fn service(&self) -> Option<ServiceId> {
        self.target.get_ref().parse().ok()
    }

    /// When to inject (simulated).
    pub fn at(&self) -> Duration {
        self.at.get_ref().get()
    }

    /// The steady-state window (simulated).
    pub fn steady_state(&self) -> Duration {
        self.steady_state.as_ref().map_or(self.at(), |w| w.get_ref().get())
    }
}

/// Cross-field checks of every drill against its scenario.
pub fn validate(s: &Scenario) -> Result<(), Invalid> {
    let mut names = BTreeSet::new();
    for (i, d) in s.drills.iter().enumerate() {
        let field = |f: &str| format!("drill[{i}].{f}");
        if !names.insert(d.name()) {
            let msg = format!("drill name `{}` is used twice; names must be unique", d.name());
            return Err(Invalid::new(Some(d.name.span()), field("name"), msg));
        }
        check_target(d.target.get_ref())
            .map_err(|m| Invalid::new(Some(d.target.span()), field("target"), m.to_string()))?;
        check_timing(s, d, i)?;
        check_detect(s, d, i)?;
        check_recover(d, i)?;
        check_probes(d, i)?;
        if let Some(rate) = &d.max_burn_rate {
            if !(*rate.get_ref() > 0.0 && rate.get_ref().is_finite()) {
                let msg = format!("{} must be a positive number", rate.get_ref());
                return Err(Invalid::new(Some(rate.span()), field("max_burn_rate"), msg));
            }
            if budget_slo(s).is_none() {
                let msg = "needs an [[slo]] with an error budget (error_ratio, availability or a percentile)";
                return Err(Invalid::new(Some(rate.span()), field("max_burn_rate"), msg));
            }
        }
    }
    Ok(())
}

/// The service a drill or probe `target` names; the message says why it names none.
fn check_target(name: &str) -> Result<ServiceId, UnknownTarget> {
    name.parse::<ServiceId>().map_err(UnknownTarget)
}

/// A `target` that names no service.
#[derive(Debug, thiserror::Error)]
#[error("unknown target: {0}")]
struct UnknownTarget(#[source] gameday_mocks::UnknownService);

/// How long the load's clock runs, simulated (a closed model's ramp included).
pub fn load_span(s: &Scenario) -> Duration {
    match s.load.model() {
        Ok(Model::Closed(_)) => s.load.ramp.get() + s.load.duration.get(),
        _ => s.load.duration.get(),
    }
}

fn check_timing(s: &Scenario, d: &Drill, i: usize) -> Result<(), Invalid> {
    let span = load_span(s);
    if d.at() >= span {
        let msg = format!(
            "`at` {} is not before the end of the load ({}): the fault would be injected after the load",
            d.at.get_ref(),
            HumanDuration(span)
        );
        return Err(Invalid::new(Some(d.at.span()), format!("drill[{i}].at"), msg));
    }
    if let Some(w) = &d.steady_state {
        if w.get_ref().get() > d.at() {
            let msg = format!(
                "steady_state {} is longer than `at` ({}): the window would start before the load",
                w.get_ref(),
                d.at.get_ref()
            );
            return Err(Invalid::new(Some(w.span()), format!("drill[{i}].steady_state"), msg));
        }
    }
    Ok(())
}

fn check_detect(s: &Scenario, d: &Drill, i: usize) -> Result<(), Invalid> {
    let field = format!("drill[{i}].detect");
    check_runbook_alert(s, d, &field)?;
    match (&d.detect.rule, &d.detect.probe) {
        (Some(r), None) => {
            let known =
                s.alerts.iter().any(|a| a.name == *r.get_ref()) || s.slos.iter().any(|o| o.name == *r.get_ref());
            if !known {
                let mut names: Vec<&str> = s.alerts.iter().map(|a| a.name.as_str()).collect();
                names.extend(s.slos.iter().map(|o| o.name.as_str()));
                let msg = format!(
                    "rule `{}` names no [[alert]] or [[slo]] of this scenario (it has: {})",
                    r.get_ref(),
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                );
                return Err(Invalid::new(Some(r.span()), format!("{field}.rule"), msg));
            }
            Ok(())
        }
        (None, Some(_)) => Ok(()),
        (Some(r), Some(_)) => Err(Invalid::new(Some(r.span()), field, "give `rule` or `probe`, not both")),
        (None, None) if d.detect.alert.is_some() => Ok(()),
        (None, None) => Err(Invalid::new(
            Some(d.name.span()),
            field,
            "give `alert` (the runbook alert that pages), `rule` (an [[alert]] or [[slo]] name) or `probe`",
        )),
    }
}

/// `alert` names an `[[alert]]` of the scenario; `alert` and `no_alert` exclude each other.
fn check_runbook_alert(s: &Scenario, d: &Drill, field: &str) -> Result<(), Invalid> {
    match (&d.detect.alert, &d.detect.no_alert) {
        (Some(a), Some(_)) => {
            Err(Invalid::new(Some(a.span()), format!("{field}.alert"), "give `alert` or `no_alert`, not both"))
        }
        (Some(a), None) if !s.alerts.iter().any(|x| x.name == *a.get_ref()) => {
            let names: Vec<&str> = s.alerts.iter().map(|x| x.name.as_str()).collect();
            let msg = format!(
                "alert `{}` names no [[alert]] of this scenario (it has: {})",
                a.get_ref(),
                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
            );
            Err(Invalid::new(Some(a.span()), format!("{field}.alert"), msg))
        }
        (None, Some(why)) if why.get_ref().trim().is_empty() => {
            let msg = "say why no runbook alert can detect this incident";
            Err(Invalid::new(Some(why.span()), format!("{field}.no_alert"), msg))
        }
        _ => Ok(()),
    }
}

fn check_recover(d: &Drill, i: usize) -> Result<(), Invalid> {
    let field = format!("drill[{i}].recover");
    let action = d.recover.action.get_ref();
    match (action, &d.recover.command) {
        (RecoveryAction::Command, None) => {
            let msg = "action \"command\" needs `command = [\"program\", \"arg\", ...]`";
            Err(Invalid::new(Some(d.recover.action.span()), format!("{field}.command"), msg))
        }
        (RecoveryAction::Command, Some(c)) if c.get_ref().first().is_none_or(|p| p.trim().is_empty()) => {
            Err(Invalid::new(Some(c.span()), format!("{field}.command"), "the command is empty"))
        }
        (a, Some(c)) if *a != RecoveryAction::Command => {
            let msg = format!("`command` is only used with action = \"command\" (this is \"{}\")", a.name());
            Err(Invalid::new(Some(c.span()), format!("{field}.command"), msg))
        }
        (RecoveryAction::External, _) if d.verify.is_empty() => {
            let msg = "action \"external\" needs at least one [[drill.verify]] probe to see the recovery";
            Err(Invalid::new(Some(d.recover.action.span()), format!("{field}.action"), msg))
        }
        _ => Ok(()),
    }
}

fn check_probes(d: &Drill, i: usize) -> Result<(), Invalid> {
    let probes = d.detect.probe.iter().map(|p| (p, format!("drill[{i}].detect.probe.target")));
    let verify = d.verify.iter().enumerate().map(|(k, p)| (p, format!("drill[{i}].verify[{k}].target")));
    for (p, field) in probes.chain(verify) {
        if let Some(t) = p.target() {
            check_target(t).map_err(|m| Invalid::new(Some(d.name.span()), field.clone(), m.to_string()))?;
        }
        if let ProbeSpec::Http(h) = p {
            let at = field.trim_end_matches("target");
            h.validate().map_err(|(f, m)| Invalid::new(Some(d.name.span()), format!("{at}{f}"), m))?;
        }
    }
    Ok(())
}

/// The SLO whose error budget a drill's burn is measured against: the first with an
/// error ratio or availability objective, else the first with any budget.
pub fn budget_slo(s: &Scenario) -> Option<&crate::scenario::Slo> {
    use crate::scenario::Indicator;
    let budgeted = |o: &&crate::scenario::Slo| crate::rules::burn::allowed_ratio(&o.objective).is_some();
    let ratio =
        |o: &&crate::scenario::Slo| matches!(o.objective.indicator, Indicator::ErrorRatio | Indicator::Availability);
    s.slos.iter().filter(budgeted).find(ratio).or_else(|| s.slos.iter().find(budgeted))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::resolve::parse;
    use crate::scenario::ScenarioError;

    const BASE: &str = r#"name = "t"
[load]
users = 1
duration = "10s"
[[load.request]]
name = "h"
target = "pxl"
path = "/health"
[[slo]]
name = "errors"
objective = "error_ratio < 1%"
[[alert]]
name = "down"
expr = "error_ratio[5s] > 10%"
"#;

    const DRILL: &str = r#"
[[drill]]
name = "d"
target = "pxl"
at = "5s"
steady_state = "3s"
timeout = "10s"
[drill.fault]
kind = "command"
inject = ["true"]
rollback = ["true"]
[drill.detect]
rule = "down"
[drill.recover]
action = "rollback"
"#;

    fn err(drill: &str) -> ScenarioError {
        parse(Path::new("d.toml"), &format!("{BASE}{drill}")).unwrap_err()
    }

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn a_good_drill_parses() {
        let s = parse(Path::new("d.toml"), &format!("{BASE}{DRILL}")).unwrap();
        assert_eq!(s.drills.len(), 1);
        assert_eq!(s.drills[0].steady_state().as_secs(), 3);
        assert_eq!(s.drills[0].fault.name(), "command");
    }

    #[test]
    fn each_bad_drill_names_its_line_and_field() {
        let full = format!("{BASE}{DRILL}");
        let cases: [(&str, &str, &str, &str); 6] = [
            ("target = \"pxl\"\nat", "target = \"moon\"\nat", "drill[0].target", "moon"),
            ("at = \"5s\"", "at = \"10s\"", "drill[0].at", "not before the end"),
            ("steady_state = \"3s\"", "steady_state = \"6s\"", "drill[0].steady_state", "longer than `at`"),
            ("rule = \"down\"", "rule = \"up\"", "drill[0].detect.rule", "names no [[alert]]"),
            ("action = \"rollback\"", "action = \"command\"", "drill[0].recover.command", "needs `command"),
            ("kind = \"command\"", "kind = \"teleport\"", "drill[0].fault.kind", "teleport"),
        ];
        for (from, to, field, msg) in cases {
            let text = full.replacen(from, to, 1);
            let e = parse(Path::new("d.toml"), &text).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{e}");
            assert!(e.message.contains(msg), "{e}");
            let needle = to.lines().next().unwrap();
            let needle = if field == "drill[0].recover.command" { "action = \"command\"" } else { needle };
            assert_eq!(e.position.map(|p| p.0), Some(line_of(&text, needle)), "{e}");
            assert!(e.to_string().starts_with("d.toml:"), "{e}");
        }
    }

    #[test]
    fn duplicate_names_are_refused_at_the_second() {
        let e = err(&format!("{DRILL}{DRILL}"));
        assert_eq!(e.field.as_deref(), Some("drill[1].name"));
        let text = format!("{BASE}{DRILL}{DRILL}");
        let second = text.match_indices("name = \"d\"").nth(1).unwrap().0;
        assert_eq!(e.position.map(|p| p.0), Some(text[..second].lines().count() + 1), "{e}");
    }

    #[test]
    fn detect_needs_exactly_one_of_rule_and_probe() {
        let e =
            err(&DRILL.replace("rule = \"down\"", "rule = \"down\"\nprobe = { kind = \"http\", path = \"/health\" }"));
        assert!(e.message.contains("not both"), "{e}");
        let e = err(&DRILL.replace("rule = \"down\"", "interval = \"1s\""));
        assert!(e.message.contains("give `alert`"), "{e}");
        // The runbook alert alone is a detector; it must name an [[alert]], and excludes `no_alert`.
        let alert_only = DRILL.replace("rule = \"down\"", "alert = \"down\"");
        assert!(parse(Path::new("d.toml"), &format!("{BASE}{alert_only}")).is_ok());
        let e = err(&DRILL.replace("rule = \"down\"", "alert = \"errors\""));
        assert!(e.message.contains("names no [[alert]]") && e.field.as_deref() == Some("drill[0].detect.alert"), "{e}");
        let e = err(&DRILL.replace("rule = \"down\"", "alert = \"down\"\nno_alert = \"x\""));
        assert!(e.message.contains("not both"), "{e}");
        let e = err(&DRILL.replace("rule = \"down\"", "rule = \"down\"\nno_alert = \" \""));
        assert!(e.field.as_deref() == Some("drill[0].detect.no_alert"), "{e}");
    }

    #[test]
    fn a_detect_rule_may_name_an_slo() {
        assert!(parse(Path::new("d.toml"), &format!("{BASE}{}", DRILL.replace("\"down\"", "\"errors\""))).is_ok());
    }
}
