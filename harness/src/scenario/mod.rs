//! Scenario files: parsing, validation and the errors a user sees.
//!
//! A scenario is TOML (format documented in `scenarios/README.md`). [`load`] reads and
//! parses it; every failure is one [`ScenarioError`] naming the file, the line and column,
//! and the field path (`load.requests[2].weight`), so a user can go straight to it.

pub mod locate;
pub mod model;
pub use gameday_rules::objective;
pub mod probe;
mod request;

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

/// The largest scenario file gameday reads (10 MiB); shipped scenarios are a few KiB.
pub const MAX_SCENARIO_BYTES: u64 = 10 * 1024 * 1024;

/// Reads and parses a scenario file (at most [`MAX_SCENARIO_BYTES`], UTF-8); see [`parse`].
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = read_text(path)?;
    parse(path, &text)
}

/// A scenario's (or a mock profile's) text, read through a cap so `/dev/zero` or a huge
/// file cannot exhaust memory; invalid UTF-8 is refused with its line and column.
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    use std::io::Read;
    let refuse = |position, message| ScenarioError { file: path.to_path_buf(), position, field: None, message };
    let file = std::fs::File::open(path).map_err(|e| refuse(None, format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_SCENARIO_BYTES + 1).read_to_end(&mut bytes).map_err(|e| refuse(None, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(refuse(
            None,
            format!(
                "the file is larger than {} MiB; a scenario or profile is a short TOML file",
                MAX_SCENARIO_BYTES >> 20
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let at = line_col(&String::from_utf8_lossy(&e.as_bytes()[..valid]), valid);
        refuse(Some(at), format!("not UTF-8 text (invalid byte 0x{:02x})", e.as_bytes()[valid]))
    })
}

/// Parses scenario text and checks what the file alone decides (types, names, references
/// between its own tables); `path` is used in error messages. Checks that need an
/// engine (the growth curve, drills, the gate) are `crate::resolve`'s: use
/// `resolve::parse` for a scenario a command can run.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let de = toml::Deserializer::new(text);
    let refuse =
        |span: Option<Range<usize>>, field: String, message: String| error_at(path, text, span, &field, message);
    let mut scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let inner = e.into_inner();
        let message = inner.message().trim().to_owned();
        refuse(inner.span(), missing_field(&path, &message).unwrap_or(path), message)
    })?;
    validate(&scenario, text).map_err(|(span, field, message)| refuse(span, field, message))?;
    scenario.origin = Origin { file: path.to_path_buf(), text: text.into() };
    Ok(scenario)
}

/// An error in `text` (read from `path`) at `span`, or where `field` is written when the
/// span is unknown.
pub fn error_at(path: &Path, text: &str, span: Option<Range<usize>>, field: &str, message: String) -> ScenarioError {
    let field = locate::clean_field(field);
    let span = span.or_else(|| locate::span_of(text, &field));
    ScenarioError {
        file: path.to_path_buf(),
        position: span.map(|s| line_col(text, s.start)),
        field: Some(field).filter(|f| !f.is_empty()),
        message,
    }
}

type Invalid = (Option<Range<usize>>, String, String);

impl Scenario {
    /// The rule sections, as the rules engine judges them.
    pub fn rules(&self) -> gameday_rules::RuleSet<'_> {
        gameday_rules::RuleSet {
            slos: &self.slos,
            alerts: &self.alerts,
            triggers: &self.triggers,
            evaluation_interval: self.evaluation_interval,
            lookback_delta: self.lookback_delta,
        }
    }
}

impl Scenario {
    /// A refusal of this scenario's `field` found after parsing (a check that needs a
    /// flag, such as the loopback guard), naming the line the field is on.
    pub fn refusal(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        self.origin.refusal(field, message)
    }

    /// The `[targets]` table with the file it came from, as the target resolver and the
    /// scrape targets read it.
    pub fn targets_section(&self) -> TargetsSection<'_> {
        TargetsSection { targets: &self.targets, origin: &self.origin }
    }

    /// The services the requests and `[[probe]]`s use, in order.
    pub fn used_services(&self) -> Vec<gameday_mocks::ServiceId> {
        let mut ids: Vec<gameday_mocks::ServiceId> = self.load.requests.iter().map(|r| r.target).collect();
        ids.extend(self.probes.iter().filter_map(|p| p.target()?.parse::<gameday_mocks::ServiceId>().ok()));
        ids.sort();
        ids.dedup();
        ids
    }
}

impl Origin {
    /// A refusal of `field` in this file found after parsing, naming the line the field
    /// is on.
    pub fn refusal(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        let text = &self.text;
        ScenarioError {
            file: self.file.clone(),
            position: locate::span_of(text, field).map(|s| line_col(text, s.start)),
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
}

/// The `[targets]` table and the file it came from: what the targets and the scrape
/// targets read, and where a refusal of one of its URLs points.
#[derive(Clone, Copy, Debug)]
pub struct TargetsSection<'a> {
    /// The table.
    pub targets: &'a Targets,
    /// The scenario file, for refusals found after parsing.
    pub origin: &'a Origin,
}

impl TargetsSection<'_> {
    /// A refusal of `field` (`targets.<service>.url`), at its line.
    pub fn refusal(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        self.origin.refusal(field, message)
    }
}

/// serde's "missing field `x`" is reported at the table that lacks it: name the field.
fn missing_field(path: &str, message: &str) -> Option<String> {
    let name = message.strip_prefix("missing field `")?.split('`').next()?;
    Some(if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") })
}

/// Cross-field checks that serde cannot express.
fn validate(s: &Scenario, _text: &str) -> Result<(), Invalid> {
    check_name(&s.name)?;
    if s.growth.is_none() || s.load.rate.is_some() || s.load.users.is_some() {
        s.load.model().map_err(|e| (None, model_field(&s.load), e.to_string()))?;
        // else `[growth]` gives the rate
    }
    if s.load.requests.is_empty() {
        return Err((None, "load".into(), "the load has no [[load.request]] entries".into()));
    }
    let names = request::validate(&s.load.requests)?;
    check_load_durations(&s.load)?;
    check_scrape_settings(s)?;
    check_targets(s)?;
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
    probe::validate(s)
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

/// The longest load phase (simulated): a year. Longer is a typo, and would overflow the
/// real-time clock at the slowest time scale.
const MAX_LOAD_PHASE: std::time::Duration = std::time::Duration::from_secs(366 * 86_400);

fn check_load_durations(l: &Load) -> Result<(), Invalid> {
    let phases = [
        ("duration", l.duration.get()),
        ("ramp", l.ramp.get()),
        ("think_time", l.think_time.get()),
        ("request_timeout", l.request_timeout.get()),
        ("late_after", l.late_after.map(|d| d.get()).unwrap_or_default()),
    ];
    match phases.iter().find(|(_, d)| *d > MAX_LOAD_PHASE) {
        Some((name, d)) => Err((None, format!("load.{name}"), format!("{d:?} is longer than a year (366d)"))),
        None => Ok(()),
    }
}

/// The field a `rate`/`users` refusal points at: the one given, or the `[load]` table.
pub(crate) fn model_field(load: &Load) -> String {
    match (&load.rate, load.users) {
        (Some(_), _) => "load.rate".into(),
        (None, Some(_)) => "load.users".into(),
        (None, None) => "load".into(),
    }
}

/// The scenario's name: shown in reports and the default output directory
/// (`out/<name>`, sanitised there); control characters are refused here.
fn check_name(name: &str) -> Result<(), Invalid> {
    if name.trim().is_empty() {
        return Err((None, "name".into(), "the scenario needs a name".into()));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err((None, "name".into(), format!("contains the control character {:?}", c)));
    }
    if name.chars().count() > 200 {
        return Err((None, "name".into(), "is longer than 200 characters".into()));
    }
    Ok(())
}

/// Each target's URL is an http(s) URL, and each embedded mock's profile is one its mock
/// accepts (the same check the mock makes when it starts).
fn check_targets(s: &Scenario) -> Result<(), Invalid> {
    for &id in gameday_mocks::ServiceId::ALL {
        let (url, profile) = s.targets.get(id);
        if let Some(u) = url {
            let field = format!("targets.{id}.url");
            let parsed = url::Url::parse(&u)
                .map_err(|e| (None, field.clone(), format!("`{}` is not a URL: {e}", crate::redact::scrub(&u))))?;
            if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
                return Err((
                    None,
                    field,
                    format!("`{}` must be an http:// or https:// URL with a host", crate::redact::scrub(&u)),
                ));
            }
        } else if let Err(e) = profile.validate() {
            return Err((None, format!("targets.{id}.profile"), e.to_string()));
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

    #[test]
    fn a_bad_curve_in_a_scenario_names_file_line_and_field() {
        let text = r#"name = "t"
    [load]
    duration = "10s"
    rate = { steps = [["0s", "1/s"], ["10m", "2/s"], ["5m", "3/s"]] }
    [[load.request]]
    name = "h"
    target = "midnight"
    path = "/health"
    "#;
        let err = parse(std::path::Path::new("s.toml"), text).unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(4), "{err}");
        assert_eq!(err.field.as_deref(), Some("load.rate"), "{err}");
        assert!(err.message.contains("`steps[2].at`: times must increase"), "{err}");
    }
}
