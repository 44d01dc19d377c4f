//! `[[probe]]` tables: active checks a scenario runs on the run's clock during `gameday
//! run`, `gate` and `drill`, recorded as `probe_success` and `probe_duration_seconds`
//! series (format: `scenarios/README.md`, "Probes"; engine: [`crate::probe`]).
//!
//! A table is flat (every kind's fields next to `name`, `kind` and `interval`) so each
//! field keeps its own line for errors; [`ProbeDecl::spec`] turns it into the same
//! [`ProbeSpec`] a drill's `[drill.detect] probe` and `[[drill.verify]]` use.

use std::collections::BTreeSet;
use std::ops::Range;
use std::time::Duration;

use gameday_mocks::kit::HumanDuration;
use gameday_mocks::ServiceId;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{Method, Scenario};
use crate::spec::drill::ProbeSpec;
use crate::spec::probes;
use crate::spec::probes::http::JsonMatch;

/// How often a probe runs when its table gives no `interval` (simulated; blackbox
/// exporter's usual scrape interval).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

/// The kinds, and the fields each takes besides `name`, `kind`, `target`, `interval`, `timeout`.
const KINDS: &[(&str, &[&str])] = &[
    ("http", &["url", "path", "method", "body", "expect_status", "expect_body", "expect_json"]),
    ("attestation", &["max_age", "min_valid"]),
    ("tls", &["min_valid"]),
    ("canary", &["query"]),
    ("acl", &["queries"]),
    ("scribe-write", &["key", "api_key"]),
];

/// One `[[probe]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeDecl {
    /// Unique name: the series' `probe` label.
    pub name: Spanned<String>,
    /// `http` (default), `attestation`, `tls`, `canary`, `acl` or `scribe-write`.
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    /// The service probed (its base URL; the series' `service` label).
    #[serde(default)]
    pub target: Option<Spanned<String>>,
    /// `http` only: an absolute URL instead of `target` and `path`.
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// How often, simulated (default [`DEFAULT_INTERVAL`]).
    #[serde(default)]
    pub interval: Option<Spanned<HumanDuration>>,
    /// The most one check may take, real time (default 5s); a check that takes longer fails.
    #[serde(default)]
    pub timeout: Option<Spanned<HumanDuration>>,
    /// `http`: path on the target's base URL.
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    /// `http`: the method (default GET).
    #[serde(default)]
    pub method: Option<Spanned<Method>>,
    /// `http`: a JSON request body.
    #[serde(default)]
    pub body: Option<Spanned<String>>,
    /// `http`: the status that passes (default any 2xx).
    #[serde(default)]
    pub expect_status: Option<Spanned<u16>>,
    /// `http`: a substring the body must contain.
    #[serde(default)]
    pub expect_body: Option<Spanned<String>>,
    /// `http`: `{ field = "status", equals = "ok" }`.
    #[serde(default)]
    pub expect_json: Option<Spanned<JsonMatch>>,
    /// `attestation`: the oldest acceptable attestation.
    #[serde(default)]
    pub max_age: Option<Spanned<HumanDuration>>,
    /// `attestation`, `tls`: the certificate must stay valid this long.
    #[serde(default)]
    pub min_valid: Option<Spanned<HumanDuration>>,
    /// `canary`: the query.
    #[serde(default)]
    pub query: Option<Spanned<String>>,
    /// `acl`: the queries.
    #[serde(default)]
    pub queries: Option<Spanned<Vec<String>>>,
    /// `scribe-write`: the key written.
    #[serde(default)]
    pub key: Option<Spanned<String>>,
    /// `scribe-write`: the API key used.
    #[serde(default)]
    pub api_key: Option<Spanned<String>>,
}

fn val<T: Clone>(o: &Option<Spanned<T>>) -> Option<T> {
    o.as_ref().map(|v| v.get_ref().clone())
}

impl ProbeDecl {
    /// The name (the `probe` label).
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    /// The kind (`http` unless given).
    pub fn kind(&self) -> &str {
        self.kind.as_ref().map_or("http", |k| k.get_ref().as_str())
    }

    /// The target service, if it names one.
    pub fn target(&self) -> Option<&str> {
        self.target.as_ref().map(|t| t.get_ref().as_str())
    }

    /// How often it runs, simulated.
    pub fn interval(&self) -> Duration {
        self.interval.as_ref().map_or(DEFAULT_INTERVAL, |i| i.get_ref().get())
    }

    /// The check, as the drills' probes spell it.
    pub fn spec(&self) -> ProbeSpec {
        let (target, timeout) = (val(&self.target), val(&self.timeout));
        match self.kind() {
            "attestation" => ProbeSpec::Attestation(probes::attestation::Spec {
                target,
                timeout,
                max_age: val(&self.max_age),
                min_valid: val(&self.min_valid),
            }),
            "tls" => ProbeSpec::Tls(probes::tls::Spec { target, timeout, min_valid: val(&self.min_valid) }),
            "canary" => ProbeSpec::Canary(probes::canary::Spec { target, timeout, query: val(&self.query) }),
            "acl" => ProbeSpec::Acl(probes::acl::Spec { target, timeout, queries: val(&self.queries) }),
            "scribe-write" => ProbeSpec::ScribeWrite(probes::scribe_write::Spec {
                target,
                timeout,
                key: val(&self.key),
                api_key: val(&self.api_key),
            }),
            _ => ProbeSpec::Http(probes::http::Spec {
                target,
                timeout,
                path: val(&self.path).unwrap_or_default(),
                url: val(&self.url),
                method: val(&self.method).unwrap_or_default(),
                body: val(&self.body),
                expect_status: val(&self.expect_status),
                expect_body: val(&self.expect_body),
                expect_json: val(&self.expect_json),
            }),
        }
    }

    /// The kind-specific fields given, with their spans.
    fn given(&self) -> Vec<(&'static str, Range<usize>)> {
        fn at<T>(name: &'static str, o: &Option<Spanned<T>>) -> Option<(&'static str, Range<usize>)> {
            o.as_ref().map(|v| (name, v.span()))
        }
        [
            at("url", &self.url),
            at("path", &self.path),
            at("method", &self.method),
            at("body", &self.body),
            at("expect_status", &self.expect_status),
            at("expect_body", &self.expect_body),
            at("expect_json", &self.expect_json),
            at("max_age", &self.max_age),
            at("min_valid", &self.min_valid),
            at("query", &self.query),
            at("queries", &self.queries),
            at("key", &self.key),
            at("api_key", &self.api_key),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// A failed check: the span of the offending value, the field path and the message.
type Invalid = (Option<Range<usize>>, String, String);

/// Checks every `[[probe]]`: unique names, a known kind, a target or a URL, positive
/// durations, and only the fields its kind takes.
pub fn validate(s: &Scenario) -> Result<(), Invalid> {
    let mut names = BTreeSet::new();
    for (i, p) in s.probes.iter().enumerate() {
        let field = |f: &str| format!("probe[{i}].{f}");
        let name_at = Some(p.name.span());
        if p.name().trim().is_empty() || p.name().contains('/') {
            let msg = format!("`{}`: a probe name is non-empty and has no `/` (drill probes use it)", p.name());
            return Err((name_at, field("name"), msg));
        }
        if !names.insert(p.name()) {
            return Err((
                name_at,
                field("name"),
                format!("probe name `{}` is used twice; names must be unique", p.name()),
            ));
        }
        let Some((_, fields)) = KINDS.iter().find(|(k, _)| *k == p.kind()) else {
            let known: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            let msg = format!("unknown probe kind `{}` (known: {})", p.kind(), known.join(", "));
            return Err((p.kind.as_ref().map(Spanned::span), field("kind"), msg));
        };
        if let Some((f, span)) = p.given().into_iter().find(|(f, _)| !fields.contains(f)) {
            let msg = format!("`{f}` does not apply to kind `{}` (it takes: {})", p.kind(), fields.join(", "));
            return Err((Some(span), field(f), msg));
        }
        if p.kind() != "http" && s.drills.is_empty() {
            let msg = format!(
                "kind `{}` needs a drill's target hooks and runs under `gameday drill` only; this scenario has no [[drill]] (use kind `http` for `gameday run`)",
                p.kind()
            );
            return Err((p.kind.as_ref().map(Spanned::span).or(name_at), field("kind"), msg));
        }
        check_where(p).map_err(|(at, f, msg)| (at.or(name_at.clone()), field(f), msg))?;
        for (f, d) in [("interval", &p.interval), ("timeout", &p.timeout)] {
            if let Some(d) = d.as_ref().filter(|d| d.get_ref().get().is_zero()) {
                return Err((Some(d.span()), field(f), format!("{f} must be longer than 0s")));
            }
        }
        if let ProbeSpec::Http(h) = p.spec() {
            h.validate().map_err(|(f, msg)| (p.given().into_iter().find(|g| g.0 == f).map(|g| g.1), field(f), msg))?;
        }
    }
    check_rules(s)
}

/// A target (a known service) or, for `http`, a URL: exactly one.
fn check_where(p: &ProbeDecl) -> Result<(), (Option<Range<usize>>, &'static str, String)> {
    match (&p.target, &p.url) {
        (Some(_), Some(u)) => Err((Some(u.span()), "url", "give `target` or `url`, not both".into())),
        (None, None) => {
            let services: Vec<&str> = ServiceId::ALL.iter().map(|s| s.as_str()).collect();
            let what = if p.kind() == "http" { " or `url`" } else { "" };
            let msg = format!("the probe needs `target` (one of {}){what}", services.join(", "));
            Err((None, "target", msg))
        }
        (Some(t), None) => match t.get_ref().parse::<ServiceId>() {
            Ok(_) => Ok(()),
            Err(e) => Err((Some(t.span()), "target", format!("unknown target: {e}"))),
        },
        (None, Some(_)) => Ok(()),
    }
}

/// Every probe name a rule may select: the `[[probe]]`s, and each drill's
/// `<drill>/detect` and `<drill>/verify/<i>`.
pub fn probe_names(s: &Scenario) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = s.probes.iter().map(|p| p.name().to_owned()).collect();
    for d in &s.drills {
        if d.detect.probe.is_some() {
            names.insert(format!("{}/detect", d.name()));
        }
        names.extend((0..d.verify.len()).map(|i| format!("{}/verify/{i}", d.name())));
    }
    names
}

/// Rules on `probe_success` / `probe_duration_seconds` name only declared probes and the
/// labels those series have.
fn check_rules(s: &Scenario) -> Result<(), Invalid> {
    let names = probe_names(s);
    for (table, list) in [("alert", &s.alerts), ("trigger", &s.triggers)] {
        for (i, a) in list.iter().enumerate() {
            for sel in crate::rules::check::selectors(a.expr.get_ref()) {
                if !crate::spec::probes::is_probe_metric(&sel.name) {
                    continue;
                }
                let err = |msg: String| (Some(a.expr.span()), format!("{table}[{i}].expr"), msg);
                for m in &sel.matchers {
                    match m.label.as_str() {
                        "probe" if !m.negate && !names.contains(&m.value) => {
                            let known: Vec<&str> = names.iter().map(String::as_str).collect();
                            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                            return Err(err(format!("`{}`: no probe `{}` (declared: {known})", sel.name, m.value)));
                        }
                        "probe" | "service" | "instance" => {}
                        other => {
                            let msg =
                                format!("`{}` has no label `{other}` (it has probe, service, instance)", sel.name);
                            return Err(err(msg));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::scenario::parse;

    const BASE: &str = r#"name = "t"
[load]
users = 1
duration = "10m"
[[load.request]]
name = "h"
target = "midnight"
path = "/status"
"#;

    const PROBE: &str = r#"
[[probe]]
name = "health"
target = "midnight"
path = "/health"
interval = "1m"
[[alert]]
name = "down"
expr = 'probe_success{probe="health"} < 1'
for = "2m"
"#;

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().collect::<Vec<_>>().iter().rposition(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn a_good_probe_parses_with_its_defaults() {
        let s = parse(Path::new("p.toml"), &format!("{BASE}{PROBE}")).unwrap();
        assert_eq!(s.probes[0].kind(), "http");
        assert_eq!(s.probes[0].interval().as_secs(), 60);
        let no_interval = PROBE.replace("interval = \"1m\"\n", "");
        let s = parse(Path::new("p.toml"), &format!("{BASE}{no_interval}")).unwrap();
        assert_eq!(s.probes[0].interval(), super::DEFAULT_INTERVAL);
        let by_url = PROBE.replace("target = \"midnight\"\npath = \"/health\"", "url = \"http://127.0.0.1:9/x\"");
        assert!(parse(Path::new("p.toml"), &format!("{BASE}{by_url}")).is_ok());
        let tls = PROBE.replace("path = \"/health\"", "kind = \"tls\"\nmin_valid = \"1d\"");
        // A drill-only kind in a scenario without drills: `run` would refuse it, so parsing does.
        let e = parse(Path::new("p.toml"), &format!("{BASE}{tls}")).unwrap_err();
        assert!(e.message.contains("gameday drill") && e.field.as_deref() == Some("probe[0].kind"), "{e}");
    }

    #[test]
    fn each_bad_probe_names_its_line_and_field() {
        let full = format!("{BASE}{PROBE}");
        // (replace, with, field, message, line of)
        let cases: [(&str, &str, &str, &str, &str); 10] = [
            (
                "target = \"midnight\"\npath = \"/health\"\ni",
                "path = \"/health\"\ni",
                "probe[0].target",
                "needs `target`",
                "name = \"health\"",
            ),
            (
                "target = \"midnight\"\npath = \"/health\"\ni",
                "target = \"moon\"\npath = \"/health\"\ni",
                "probe[0].target",
                "moon",
                "target = \"moon\"",
            ),
            ("interval = \"1m\"", "interval = \"0s\"", "probe[0].interval", "longer than 0s", "interval = \"0s\""),
            ("interval = \"1m\"", "timeout = \"0s\"", "probe[0].timeout", "longer than 0s", "timeout = \"0s\""),
            ("interval = \"1m\"", "kind = \"ping\"", "probe[0].kind", "unknown probe kind `ping`", "kind = \"ping\""),
            ("interval = \"1m\"", "kind = \"tls\"", "probe[0].path", "does not apply to kind `tls`", "path ="),
            ("path = \"/health\"", "path = \"health\"", "probe[0].path", "start with `/`", "path = \"health\""),
            ("path = \"/health\"", "url = \"http://127.0.0.1/\"", "probe[0].url", "not both", "url ="),
            ("interval = \"1m\"", "expect_status = 42", "probe[0].expect_status", "not an HTTP", "expect_status"),
            ("probe=\"health\"", "probe=\"helth\"", "alert[0].expr", "no probe `helth`", "expr ="),
        ];
        for (from, to, field, msg, at) in cases {
            let text = full.replacen(from, to, 1);
            let e = parse(Path::new("p.toml"), &text).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{e}");
            assert!(e.message.contains(msg), "{e}");
            assert_eq!(e.position.map(|p| p.0), Some(line_of(&text, at)), "{e}");
            assert!(e.to_string().starts_with("p.toml:"), "{e}");
        }
    }

    #[test]
    fn duplicate_names_and_unknown_fields_are_refused() {
        let twice = format!("{BASE}{PROBE}{}", PROBE.split("[[alert]]").next().unwrap());
        let e = parse(Path::new("p.toml"), &twice).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("probe[1].name"), "{e}");
        let text = format!("{BASE}{}", PROBE.replace("interval", "every"));
        let e = parse(Path::new("p.toml"), &text).unwrap_err();
        assert!(e.message.contains("every"), "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(line_of(&text, "every")), "{e}");
    }

    #[test]
    fn rules_may_name_drill_probes_and_no_other_label() {
        let text = format!("{BASE}{PROBE}").replace("probe=\"health\"", "probe=\"health\",job=\"x\"");
        let e = parse(Path::new("p.toml"), &text).unwrap_err();
        assert!(e.message.contains("no label `job`"), "{e}");
    }
}
