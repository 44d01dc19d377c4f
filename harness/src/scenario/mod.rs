//! Scenario files: parsing, validation and the errors a user sees.
//!
//! A scenario is TOML (format documented in `scenarios/README.md`). [`load`] reads and
//! parses it; every failure is one [`ScenarioError`] naming the file, the line and column,
//! and the field path (`load.requests[2].weight`), so a user can go straight to it.

pub mod model;
pub mod objective;
pub mod probe;

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use model::{AlertRule, Expect, Load, Method, Model, Origin, Ratio, RequestSpec, Scenario, Slo, Target, Targets};
pub use objective::{Indicator, Objective, Op};

/// A scenario that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    /// The scenario file.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// The field path, when known (`load.users`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.to_path_buf(),
        position: None,
        field: None,
        message: format!("cannot read scenario: {e}"),
    })?;
    parse(path, &text)
}

/// Parses and validates scenario text; `path` is used in error messages.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let de = toml::Deserializer::new(text);
    let mut scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = Some(e.path().to_string()).filter(|p| p != "." && !p.is_empty());
        let inner = e.into_inner();
        ScenarioError {
            file: path.to_path_buf(),
            position: inner.span().map(|s| line_col(text, s.start)),
            field,
            message: inner.message().trim().to_owned(),
        }
    })?;
    growth_rate(&mut scenario).map_err(|(field, message)| ScenarioError {
        file: path.to_path_buf(),
        position: None,
        field: Some(field),
        message,
    })?;
    validate(&scenario, text).map_err(|(span, field, message)| ScenarioError {
        file: path.to_path_buf(),
        position: span.map(|s| line_col(text, s.start)),
        field: Some(field),
        message,
    })?;
    scenario.origin = Origin { file: path.to_path_buf(), text: text.into() };
    Ok(scenario)
}

type Invalid = (Option<Range<usize>>, String, String);

/// Checks `[growth]` and `[plan]`; a growth scenario without its own `load.rate` or
/// `load.users` runs its growth curve (so `gameday run` replays it too).
fn growth_rate(s: &mut Scenario) -> Result<(), (String, String)> {
    check_plan(&s.plan)?;
    let Some(spec) = &s.growth else { return Ok(()) };
    let growth = crate::capacity::growth::Growth::new(spec, &s.load.requests)
        .map_err(|e| (format!("growth.{}", e.field), e.message))?;
    if s.plan.live_weeks.iter().flatten().any(|&w| w == 0 || w as usize > growth.weeks.len()) {
        return Err(("plan.live_weeks".into(), format!("weeks are numbered 1..={}", growth.weeks.len())));
    }
    if s.load.rate.is_none() && s.load.users.is_none() {
        s.load.rate = Some(growth.curve().map_err(|e| ("growth".to_owned(), e.to_string()))?);
    }
    Ok(())
}

fn check_plan(p: &crate::capacity::plan::PlanSpec) -> Result<(), (String, String)> {
    if !(p.headroom >= 1.0 && p.headroom <= 100.0) {
        return Err(("plan.headroom".into(), format!("must be in [1, 100], found {}", p.headroom)));
    }
    if let Some(c) = p.target_cpu.filter(|c| !(*c > 0.0 && *c <= 1.0)) {
        return Err(("plan.target_cpu".into(), format!("must be in (0, 1], found {c}")));
    }
    if p.min_size == 0 || p.min_size > p.max_size {
        let msg = format!("need 1 <= min_size <= max_size, found {} and {}", p.min_size, p.max_size);
        return Err(("plan.min_size".into(), msg));
    }
    Ok(())
}

/// Cross-field checks that serde cannot express.
fn validate(s: &Scenario, _text: &str) -> Result<(), Invalid> {
    s.load.model().map_err(|m| (None, "load".to_owned(), m))?;
    if s.load.requests.is_empty() {
        return Err((None, "load.request".into(), "the load has no [[load.request]] entries".into()));
    }
    let mut names = BTreeSet::new();
    for (i, r) in s.load.requests.iter().enumerate() {
        let field = format!("load.request[{i}]");
        if !names.insert(r.name.get_ref().as_str()) {
            let msg = format!("request name `{}` is used twice; names must be unique", r.name.get_ref());
            return Err((Some(r.name.span()), format!("{field}.name"), msg));
        }
        if !r.path.starts_with('/') {
            let msg = format!("path `{}` must start with `/`", r.path);
            return Err((Some(r.name.span()), format!("{field}.path"), msg));
        }
    }
    check_scrape_settings(s)?;
    for (i, slo) in s.slos.iter().enumerate() {
        if let Some(req) = &slo.request {
            if !names.contains(req.get_ref().as_str()) {
                let known: Vec<&str> = names.iter().copied().collect();
                let msg = format!("unknown request `{}` (the load has: {})", req.get_ref(), known.join(", "));
                return Err((Some(req.span()), format!("slo[{i}].request"), msg));
            }
        }
        if let Some(w) = &slo.window {
            if w.get_ref().get() > s.load.duration.get() {
                let msg = format!(
                    "window {} is longer than the load ({}): no full window to check",
                    w.get_ref().0,
                    s.load.duration.0
                );
                return Err((Some(w.span()), format!("slo[{i}].window"), msg));
            }
        }
    }
    let requests: Vec<&str> = names.into_iter().collect();
    validate_rules(s, &requests)?;
    if let Some(g) = &s.gate {
        crate::gate::validate(g, &requests).map_err(|(field, msg)| (None, field, msg))?;
    }
    probe::validate(s)?;
    crate::chaos::drill::validate(s)
}

/// Checks `[[alert]]` and `[[trigger]]` tables: rule text against the mix, unique
/// names, and expectations that make sense.
fn validate_rules(s: &Scenario, requests: &[&str]) -> Result<(), Invalid> {
    for (table, list) in [("alert", &s.alerts), ("trigger", &s.triggers)] {
        let mut seen = BTreeSet::new();
        for (i, a) in list.iter().enumerate() {
            let at = Some(a.expr.span());
            if !seen.insert(a.name.as_str()) {
                return Err((at, format!("{table}[{i}].name"), format!("{table} name `{}` is used twice", a.name)));
            }
            crate::rules::static_check(a.expr.get_ref(), requests)
                .map_err(|m| (at.clone(), format!("{table}[{i}].expr"), format!("rule `{}`: {m}", a.expr.get_ref())))?;
            let Some(w) = &a.fires_within else { continue };
            let field = format!("{table}[{i}].fires_within");
            let [from, to] = w.get_ref();
            if a.expect.is_none() {
                return Err((Some(w.span()), field, "`fires_within` needs `expect = \"fires\"` or `\"never\"`".into()));
            }
            if from > to {
                return Err((Some(w.span()), field, format!("the range [{from}, {to}] ends before it starts")));
            }
        }
    }
    Ok(())
}

/// `metrics` is a path or an http(s) URL, and not given together with `scrape = false`.
fn check_scrape_settings(s: &Scenario) -> Result<(), Invalid> {
    for &id in gameday_mocks::ServiceId::ALL {
        let Some(metrics) = s.targets.scrape(id).metrics else { continue };
        let field = format!("targets.{id}.metrics");
        let m = metrics.get_ref();
        if !s.targets.scrape(id).enabled {
            let msg = "`metrics` is set but `scrape = false`; drop one of them".to_owned();
            return Err((Some(metrics.span()), field, msg));
        }
        let is_url = url::Url::parse(m).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !m.starts_with('/') && !is_url {
            let msg = format!("`{m}` is neither a path starting with `/` nor an http(s) URL");
            return Err((Some(metrics.span()), field, msg));
        }
    }
    Ok(())
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let upto = &text[..offset.min(text.len())];
    let line = upto.matches('\n').count() + 1;
    let col = upto.rfind('\n').map_or(upto.len(), |nl| upto.len() - nl - 1) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
[load]
users = 2
duration = "10s"
[[load.request]]
name = "att"
target = "midnight"
method = "POST"
path = "/attestation"
body = '{"nonce":"{{nonce}}"}'
[[slo]]
name = "att p95"
request = "att"
objective = "p95 < 500ms"
"#;

    fn err(text: &str) -> ScenarioError {
        parse(Path::new("s.toml"), text).unwrap_err()
    }

    #[test]
    fn a_good_scenario_parses() {
        let s = parse(Path::new("s.toml"), GOOD).unwrap();
        assert_eq!(s.load.requests.len(), 1);
        assert_eq!(s.slos[0].objective.threshold, 0.5);
    }

    #[test]
    fn zero_duration_names_line_and_field() {
        let e = err(&GOOD.replace("\"10s\"", "\"0s\""));
        assert_eq!(e.position.map(|p| p.0), Some(5), "{e}");
        assert_eq!(e.field.as_deref(), Some("load.duration"));
        assert!(e.message.contains("greater than zero"), "{e}");
    }

    #[test]
    fn negative_duration_is_refused() {
        let e = err(&GOOD.replace("\"10s\"", "\"-3s\""));
        assert!(e.message.contains("negative"), "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(5));
    }

    #[test]
    fn unknown_service_and_field_name_their_line() {
        let e = err(&GOOD.replace("\"midnight\"", "\"moonlight\""));
        assert_eq!(e.position.map(|p| p.0), Some(8), "{e}");
        assert!(e.message.contains("moonlight"), "{e}");
        let e = err(&GOOD.replace("users = 2", "users = 2\nuzers = 3"));
        assert_eq!(e.position.map(|p| p.0), Some(5), "{e}");
        assert!(e.message.contains("uzers"), "{e}");
    }

    #[test]
    fn unknown_distribution_is_refused_at_its_line() {
        let text =
            format!("{GOOD}\n[targets.midnight.profile.service_time.prove]\ndist = \"pareto\"\nmedian = \"1s\"\n");
        let e = err(&text);
        assert!(e.message.contains("pareto"), "{e}");
        assert!(e.position.is_some());
    }

    #[test]
    fn slo_on_unknown_request_is_refused() {
        let e = err(&GOOD.replace("request = \"att\"", "request = \"prove\""));
        assert_eq!(e.position.map(|p| p.0), Some(14), "{e}");
        assert_eq!(e.field.as_deref(), Some("slo[0].request"));
    }

    #[test]
    fn metrics_settings_are_checked() {
        let target = |body: &str| format!("{GOOD}\n[targets.midnight]\nurl = \"http://127.0.0.1:1\"\n{body}\n");
        let s = parse(Path::new("s.toml"), &target("metrics = \"/prometheus\"")).unwrap();
        let setting = s.targets.scrape(gameday_mocks::ServiceId::Midnight);
        assert!(setting.enabled);
        assert_eq!(setting.metrics.map(|m| m.into_inner()).as_deref(), Some("/prometheus"));
        assert!(parse(Path::new("s.toml"), &target("metrics = \"http://127.0.0.1:9100/metrics\"")).is_ok());
        assert!(
            !parse(Path::new("s.toml"), &target("scrape = false"))
                .unwrap()
                .targets
                .scrape(gameday_mocks::ServiceId::Midnight)
                .enabled
        );
        assert!(parse(Path::new("s.toml"), GOOD).unwrap().targets.scrape(gameday_mocks::ServiceId::Scribe).enabled);
        let e = err(&target("metrics = \"prometheus\""));
        assert_eq!(e.field.as_deref(), Some("targets.midnight.metrics"), "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(19), "{e}");
        let e = err(&target("metrics = \"/m\"\nscrape = false"));
        assert!(e.message.contains("scrape = false"), "{e}");
        let e = err(&target("scrape = \"no\""));
        assert!(e.message.contains("bool"), "{e}");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = err("name = \"t\"\n[load\n");
        assert_eq!(e.position.map(|p| p.0), Some(2), "{e}");
    }
}
