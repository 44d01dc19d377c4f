//! Rules against independent oracles: Prometheus's own rule engine (`promtool test rules`)
//! on the same series, `promtool check rules` on exported files, and the real binary's
//! validation errors and exit codes.
//!
//! Without `promtool` (Debian package `prometheus`) the promtool checks skip with a
//! printed note locally and fail under `CI=true` (`common::skip`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use gameday::observe::{RunData, Series};
use gameday::rules;
use gameday::rules_export as export;
use gameday::scenario;

use crate::common::{promtool, repo_file, run as gameday, text};

const HEAD: &str = r#"
name = "oracle"
[load]
users = 1
duration = "40m"
[[load.request]]
name = "a"
target = "midnight"
path = "/ready"
"#;

const ALERTS: &str = r#"
[[alert]]
name = "Pending3m"
expr = "queue_depth > 5"
for = "3m"
severity = "page"

[[alert]]
name = "KeepFiring"
expr = "queue_depth > 5"
keep_firing_for = "2m"

[[alert]]
name = "WindowMax"
expr = "max(queue_depth)[150s] > 5"
for = "2m"
keep_firing_for = "1m"

[[alert]]
name = "WindowAvg"
expr = "avg(queue_depth)[210s] >= 4"
for = "1m"

[[alert]]
name = "Trend"
expr = "deriv(queue_depth)[270s] > 0.02"

[[trigger]]
name = "LowFloor"
expr = 'min(queue_depth{pool="prove"})[150s] < 1'
for = "1m"
keep_firing_for = "1m"
"#;

/// One value per minute, `None` = no sample (promtool's `_`).
fn pattern(spec: &str) -> Vec<Option<f64>> {
    spec.split_whitespace().map(|v| v.parse().ok()).collect()
}

/// Prometheus's rule engine and gameday's agree, at every evaluation of a 40-minute run,
/// on which series of which alert fire: `for`, `keep_firing_for`, gaps, windows.
#[test]
fn firing_matches_prometheus_at_every_evaluation() {
    let s = scenario::parse(Path::new("oracle.toml"), &format!("{HEAD}{ALERTS}")).unwrap();
    let series = [
        ("prove", "0 0 9 9 9 9 9 0 0 9 9 0 9 9 9 9 9 9 9 0 0 0 0 0 9 _ _ 9 9 9 0 0 2 4 6 8 9 9 0 0 0"),
        ("check", "0 6 6 6 0 6 6 6 6 6 6 0 0 _ _ _ _ _ _ _ 6 6 0 6 0 6 0 6 6 6 6 6 0 0 3 3 3 3 3 3 3"),
    ];
    let mut data = RunData { step_s: 60.0, duration_s: 2400.0, requests: vec!["a".into()], ..RunData::default() };
    for (pool, spec) in series {
        let samples = pattern(spec).iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as f64 * 60.0, v))).collect();
        let labels = [("pool".to_owned(), pool.to_owned())].into();
        data.series.push(Series { name: "gameday_queue_depth".into(), labels, samples });
    }
    let report = rules::judge(s.rules(), &data);
    assert_eq!(report.evaluations, 41);
    let verdicts: Vec<_> = report.alerts.iter().chain(&report.triggers).collect();
    // Not vacuous: every rule fires at some point and is quiet at another.
    for v in &verdicts {
        assert!(!v.firing.is_empty(), "{} never fired", v.name);
        assert!(v.firing.iter().all(|f| f.start_s > 0.0 || f.end_s.is_some()), "{} always fired", v.name);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), export::export(&s).yaml).unwrap();
    let mut test = String::from(
        "rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    for (pool, spec) in series {
        let values: Vec<&str> = spec.split_whitespace().collect();
        let _ = writeln!(
            test,
            "      - series: 'gameday_queue_depth{{pool=\"{pool}\"}}'\n        values: '{}'",
            values.join(" ")
        );
    }
    test.push_str("    alert_rule_test:\n");
    let mut firing_checks = 0;
    for v in &verdicts {
        firing_checks += expected_alerts(&mut test, &s, v);
    }
    assert!(firing_checks > 40, "only {firing_checks} firing checks");
    let test_file = dir.path().join("test.yml");
    std::fs::write(&test_file, &test).unwrap();
    let Some(out) = promtool(&["test", "rules", test_file.to_str().unwrap()], "") else { return };
    assert!(out.status.success(), "promtool disagrees:\n{}\n--- test file ---\n{test}", text(&out));
}

/// Appends promtool `alert_rule_test` entries for one rule at every minute: the alerts
/// gameday says are firing then (labels and annotations as exported). Returns how many
/// firing alerts it expects in all.
fn expected_alerts(test: &mut String, s: &scenario::Scenario, v: &rules::RuleVerdict) -> usize {
    let rule = s.alerts.iter().chain(&s.triggers).find(|a| a.name == v.name).unwrap();
    let trigger = s.triggers.iter().any(|t| t.name == v.name);
    let mut count = 0;
    for minute in 0..=40 {
        let t = minute as f64 * 60.0;
        let _ = write!(test, "      - eval_time: {minute}m\n        alertname: {}\n        exp_alerts:", v.name);
        let firing: Vec<&BTreeMap<String, String>> =
            v.series.iter().filter(|sv| sv.firing.iter().any(|f| f.contains(t))).map(|sv| &sv.labels).collect();
        test.push_str(if firing.is_empty() { " []\n" } else { "\n" });
        for labels in firing {
            count += 1;
            let _ = writeln!(test, "          - exp_labels:");
            for (k, val) in labels {
                let _ = writeln!(test, "              {k}: \"{val}\"");
            }
            if let Some(sev) = &rule.severity {
                let _ = writeln!(test, "              severity: \"{sev}\"");
            }
            if trigger {
                let _ = writeln!(test, "              gameday_rule: \"scaling_trigger\"");
            }
            let summary = format!("{}: {}", rule.name, rule.expr.get_ref()).replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(test, "            exp_annotations:\n              summary: \"{summary}\"");
        }
    }
    count
}

#[test]
fn exported_rule_files_pass_promtool_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut exported = Vec::new();
    for name in [
        "rules-example.toml",
        "smoke.toml",
        "pxl-smoke.toml",
        "scribe-smoke.toml",
        "grahmos-smoke.toml",
        "morphsave-smoke.toml",
    ] {
        let out_file = dir.path().join(format!("{name}.yml"));
        let o = gameday(&[
            "rules",
            "export",
            repo_file(&format!("scenarios/{name}")).to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        let yaml = std::fs::read_to_string(&out_file).unwrap();
        assert!(yaml.contains("groups:"), "{name}: {yaml}");
        exported.push((name, out_file, yaml));
    }
    // Every export is checked: a missing promtool skips (or fails under CI) once, after
    // all six were exported, never part-way through the list.
    for (name, out_file, yaml) in &exported {
        let Some(check) = promtool(&["check", "rules", out_file.to_str().unwrap()], "") else { break };
        assert!(check.status.success(), "{name}: promtool check rules:\n{}\n{yaml}", text(&check));
    }
    // Without --out the file goes to standard output.
    let o = gameday(&["rules", "export", repo_file("scenarios/rules-example.toml").to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("alert: \"QueueDepthHigh\"") && stdout.contains("keep_firing_for: 30s"), "{stdout}");
}

#[test]
fn rules_promtool_cannot_express_are_left_out_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    let extra = "[[alert]]\nname = \"Timeouts\"\nexpr = 'rate(errors{kind=\"timeout\"})[5m] > 0'\n\
                 [[alert]]\nname = \"Ever\"\nexpr = \"max(latency)[..] > 1s\"\n\
                 [[alert]]\nname = \"Fine\"\nexpr = \"error_ratio[5m] > 1%\"\n";
    std::fs::write(&file, format!("{HEAD}{extra}")).unwrap();
    let out_file = dir.path().join("rules.yml");
    let o = gameday(&["rules", "export", file.to_str().unwrap(), "--out", out_file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("alert `Timeouts` not exported") && err.contains("client-side failures"), "{err}");
    assert!(err.contains("alert `Ever` not exported") && err.contains("[..]"), "{err}");
    let yaml = std::fs::read_to_string(&out_file).unwrap();
    assert!(yaml.contains("# alert `Timeouts` not exported") && yaml.contains("alert: \"Fine\""), "{yaml}");
    let Some(check) = promtool(&["check", "rules", out_file.to_str().unwrap()], "") else { return };
    assert!(check.status.success(), "{}\n{yaml}", text(&check));
}

/// Bad rules are refused by `gameday validate` with exit 2, naming the file, the line of
/// the rule and its field.
#[test]
fn bad_rules_are_refused_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "parse",
            "[[alert]]\nname = \"x\"\nexpr = 'p95(latency{request=\"a\"}[5m] > 1s'\n",
            "alert[0].expr",
            "expected `)`",
        ),
        (
            "request",
            "[[alert]]\nname = \"x\"\nexpr = 'p95(latency{request=\"b\"})[5m] > 1s'\n",
            "alert[0].expr",
            "unknown request `b`",
        ),
        (
            "metric",
            "[[trigger]]\nname = \"x\"\nexpr = 'p95(cpu)[5m] > 1s'\n",
            "trigger[0].expr",
            "client `latency` only",
        ),
        (
            "kind",
            "[[trigger]]\nname = \"x\"\nexpr = 'rate(errors{kind=\"teapot\"})[5m] > 1'\n",
            "trigger[0].expr",
            "unknown kind",
        ),
        ("unit", "[[alert]]\nname = \"x\"\nexpr = 'error_ratio[5m] > 2s'\n", "alert[0].expr", "is a duration"),
        (
            "within",
            "[[trigger]]\nname = \"x\"\nexpr = 'error_ratio[5m] > 1%'\nfires_within = [\"1h\", \"2h\"]\n",
            "trigger[0].fires_within",
            "needs `expect",
        ),
        (
            "window",
            "[[slo]]\nname = \"x\"\nobjective = \"p95 < 1s\"\nwindow = \"1h\"\n",
            "slo[0].window",
            "longer than the load",
        ),
    ];
    let head_lines = HEAD.lines().count();
    for (name, table, field, needle) in cases {
        let file = dir.path().join(format!("{name}.toml"));
        std::fs::write(&file, format!("{HEAD}{table}")).unwrap();
        let o = gameday(&["validate", file.to_str().unwrap()]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {t}");
        assert!(t.contains(needle) && t.contains(field), "{name}: {t}");
        // The offending value is on the table's third or fourth line.
        let lines = [head_lines + 3, head_lines + 4].map(|l| format!("{name}.toml:{l}:"));
        assert!(lines.iter().any(|l| t.contains(l)), "{name}: expected one of {lines:?} in {t}");
    }
}

/// Scraped metrics are checked against the targets' catalogs: an unknown name or label
/// names the rule's line.
#[test]
fn unknown_scraped_metrics_are_refused_with_the_rule_line() {
    use gameday::observe::Catalog;
    use gameday_mocks::ServiceId;
    let text = format!("{HEAD}[[alert]]\nname = \"q\"\nexpr = 'queue_depth{{queue=\"x\"}} > 5'\n");
    let s = scenario::parse(Path::new("c.toml"), &text).unwrap();
    let mut cat = Catalog::default();
    cat.metrics.insert("gameday_queue_depth".into(), ["pool".to_owned()].into());
    let catalogs = [(ServiceId::Midnight, cat)].into();
    let e = gameday::resolve::check_metrics(&s, &catalogs).unwrap_err();
    assert_eq!(e.position.map(|p| p.0), Some(HEAD.lines().count() + 3), "{e}");
    assert_eq!(e.field.as_deref(), Some("alert[0].expr"));
    assert!(e.to_string().starts_with("c.toml:") && e.message.contains("no label `queue`"), "{e}");
}

/// A failed trigger expectation fails the run (exit 1) and says why; a held one passes.
#[test]
fn a_failed_expectation_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = r#"
name = "expectations"
time_scale = 10.0
[load]
users = 2
duration = "30s"
think_time = "100ms"
request_timeout = "5s"
[[load.request]]
name = "attestation"
target = "midnight"
method = "POST"
path = "/attestation"
body = '{"nonce":"{{nonce}}"}'

[[trigger]]
name = "traffic"
expr = 'rate(requests{request="attestation"})[5s] > 1/s'
expect = "fires"
fires_within = ["0s", "15s"]

[[trigger]]
name = "idle"
expr = "increase(requests)[..] > 0"
expect = "never"
"#;
    let file = dir.path().join("e.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.path().join("out");
    let o = gameday(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("trigger `idle` failed: expected it never fires, but fired at"), "{t}");
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let triggers = results["triggers"].as_array().unwrap();
    assert_eq!(triggers[0]["pass"], true, "{:#}", triggers[0]);
    assert!(triggers[0]["first_firing_s"].as_f64().is_some_and(|t| t <= 15.0), "{:#}", triggers[0]);
    assert_eq!(triggers[1]["pass"], false);
    assert_eq!(results["verdict"], "fail");
}
