//! Reports and the CI gate through the real binary: every output of `run`, `gate`, `drill`
//! and `plan` checked by independent readers (the JSON Schema validator `jsonschema`
//! against the committed schema, `roxmltree` for JUnit and SVG), and the gate's refusals.
//!
//! [`check_outputs`] is shared: the drill and plan tests call it on their own outputs.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{gameday, heavy, repo_file, text, write};

/// What [`check_outputs`] read back.
pub struct Outputs {
    /// `results.json`.
    pub results: Value,
    /// `report.md`.
    pub markdown: String,
    /// JUnit cases: (suite, name, outcome: `pass`, `failure`, `error`, `skipped`).
    pub cases: Vec<(String, String, String)>,
}

/// Validates `results.json` in `dir` against `reports/results.schema.json` with Python's
/// `jsonschema` (an implementation we did not write).
pub fn validate_schema(results: &Path) {
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        jsonschema.Draft202012Validator.check_schema(schema)\n\
        v = jsonschema.Draft202012Validator(schema)\n\
        errors = sorted(v.iter_errors(json.load(open(sys.argv[2]))), key=lambda e: list(e.path))\n\
        [print('/'.join(map(str, e.path)), e.message[:300]) for e in errors[:10]]\n\
        sys.exit(1 if errors else 0)\n";
    let schema = repo_file("reports/results.schema.json");
    let o = Command::new("python3").args(["-c", script]).arg(&schema).arg(results).output();
    let o = o.unwrap_or_else(|e| panic!("python3 not runnable ({e}): ci/test.sh installs it"));
    assert!(o.status.success(), "{} does not match the schema:\n{}", results.display(), text(&o));
}

/// Checks every report file in `dir` for a results file of `kind`; returns what it read.
pub fn check_outputs(dir: &Path, kind: &str) -> Outputs {
    let results_path = dir.join("results.json");
    validate_schema(&results_path);
    let results: Value = serde_json::from_slice(&std::fs::read(&results_path).unwrap()).unwrap();
    assert_eq!(results["kind"], kind);
    // A drill run's report is decided by its drills (the load's own verdict is informational).
    let verdict = match (kind, results["verdict"].as_str().unwrap(), results["drills_pass"].as_bool()) {
        ("drill", "invalid", _) => "INVALID".to_owned(),
        ("drill", _, Some(pass)) => (if pass { "PASS" } else { "FAIL" }).to_owned(),
        (_, v, _) => v.to_uppercase(),
    };

    let markdown = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let first_lines: Vec<&str> = markdown.lines().filter(|l| !l.trim().is_empty()).take(2).collect();
    assert!(first_lines[0].starts_with("# gameday "), "{markdown}");
    assert!(first_lines[1].starts_with(&format!("**{}", verdict.as_str())), "verdict first: {markdown}");

    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let cases = junit_cases(&junit);
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests").unwrap().parse::<usize>().unwrap(), cases.len());
    let failed = cases.iter().filter(|c| c.2 == "failure").count();
    assert_eq!(root.attribute("failures").unwrap().parse::<usize>().unwrap(), failed);

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("id=\"verdict\""), "no verdict banner");
    for external in ["<script", "<link", "src=\"http", "href=\"http", "url(http"] {
        assert!(!html.contains(external), "report.html is not self-contained: it has {external}");
    }
    let charts = dir.join("charts");
    let svgs: Vec<_> = std::fs::read_dir(&charts).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    for svg in &svgs {
        let body = std::fs::read_to_string(svg).unwrap();
        let parsed = roxmltree::Document::parse(&body).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
        assert_eq!(parsed.root_element().tag_name().name(), "svg");
    }
    assert_eq!(html.matches("<svg").count(), svgs.len(), "every chart inline in report.html");
    Outputs { results, markdown, cases }
}

fn junit_cases(xml: &str) -> Vec<(String, String, String)> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("junit.xml: {e}\n{xml}"));
    let mut out = Vec::new();
    for suite in doc.descendants().filter(|n| n.has_tag_name("testsuite")) {
        let cases: Vec<_> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(suite.attribute("tests").unwrap().parse::<usize>().unwrap(), cases.len());
        for c in cases {
            let outcome = c
                .children()
                .find(|n| n.is_element() && ["failure", "error", "skipped"].contains(&n.tag_name().name()))
                .map_or("pass", |n| n.tag_name().name());
            out.push((
                suite.attribute("name").unwrap().to_owned(),
                c.attribute("name").unwrap().to_owned(),
                outcome.to_owned(),
            ));
        }
    }
    out
}

/// Attestation at `rate` for `secs` seconds with a lognormal service time of `median_ms`
/// (p99 three times that) and a `[gate]` table.
fn gate_scenario(name: &str, median_ms: u32, rate: u32, secs: u32) -> String {
    format!(
        r#"
name = "{name}"
seed = 5
[targets.midnight.profile.service_time.attestation]
dist = "lognormal"
median = "{median_ms}ms"
p99 = "{p99}ms"
[load]
rate = "{rate}/s"
duration = "{secs}s"
request_timeout = "5s"
[[load.request]]
name = "attestation"
target = "midnight"
method = "POST"
path = "/attestation"
body = '{{"nonce":"{{{{nonce}}}}"}}'
[[slo]]
name = "attestation p95"
request = "attestation"
objective = "p95 < 2s"
[[slo]]
name = "attestation p50 impossible"
request = "attestation"
objective = "p50 < 1ms"
[[alert]]
name = "slow attestations"
expr = 'p95(latency{{request="attestation"}}[2s]) > 1ms'
expect = "fires"
[gate]
track = ["p50", "p95"]
tolerance = "5%"
min_samples_per_interval = 100
"#,
        p99 = median_ms * 3
    )
}

fn gate(dir: &Path, scenario: &Path, baseline: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = dir.join("gate-out");
    let o = gameday()
        .args(["gate", scenario.to_str().unwrap(), "--baseline", baseline.to_str().unwrap()])
        .args(["--out", out.to_str().unwrap(), "--quiet"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (o.status.code(), text(&o))
}

#[test]
fn a_run_writes_every_report_and_each_check_is_a_junit_case() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "r.toml", &gate_scenario("report-run", 20, 100, 3));
    let out = dir.path().join("out");
    let o = gameday().args(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "the impossible SLO fails the run: {}", text(&o));
    let r = check_outputs(&out, "run");
    // One case for the run's validity, one per SLO, one per alert expectation.
    let names: Vec<(&str, &str)> = r.cases.iter().map(|c| (c.0.as_str(), c.2.as_str())).collect();
    assert_eq!(names, [("run", "pass"), ("slo", "pass"), ("slo", "failure"), ("alerts", "pass")], "{:?}", r.cases);
    assert!(r.markdown.contains("attestation p50 impossible"), "{}", r.markdown);
    // Per-interval histograms: their counts add up to the whole run's.
    let kind = &r.results["requests"][0];
    let per_interval: u64 = kind["intervals"].as_array().unwrap().iter().map(|i| i["count"].as_u64().unwrap()).sum();
    assert_eq!(per_interval, kind["count"].as_u64().unwrap());
    for chart in ["latency-attestation.svg", "percentiles.svg", "throughput.svg"] {
        let svg = std::fs::read_to_string(out.join("charts").join(chart)).unwrap();
        assert!(svg.contains("latency (ms)") || svg.contains("requests/s"), "{chart} has no axis label");
    }
}

#[test]
fn the_gate_passes_an_unchanged_run_and_catches_a_slower_mock() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baselines/g.json");
    let same = write(dir.path(), "g.toml", &gate_scenario("gate-e2e", 50, 400, 15).replace("p50 < 1ms", "p50 < 1s"));
    let (code, out) = gate(dir.path(), &same, &baseline, &["--update-baseline"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("baseline written"), "{out}");

    let (code, out) = gate(dir.path(), &same, &baseline, &[]);
    assert_eq!(code, Some(0), "an unchanged run must pass: {out}");
    let r = check_outputs(&dir.path().join("gate-out"), "gate");
    assert_eq!(r.results["gate"]["pass"], true);

    // The same scenario with the mock 10% slower everywhere (median and p99).
    let slow = write(dir.path(), "slow.toml", &gate_scenario("gate-e2e", 55, 400, 15).replace("p50 < 1ms", "p50 < 1s"));
    let (code, out) = gate(dir.path(), &slow, &baseline, &[]);
    assert_eq!(code, Some(1), "a 10% slower mock must fail the gate: {out}");
    assert!(out.contains(": REGRESSED: +"), "names the percentile and the change: {out}");
    let r = check_outputs(&dir.path().join("gate-out"), "gate");
    let p95 =
        r.results["gate"]["comparisons"].as_array().unwrap().iter().find(|c| c["percentile"] == "p95").unwrap().clone();
    let change = p95["change"].as_f64().unwrap();
    assert!((0.05..0.2).contains(&change), "estimated change {change} for a 10% slowdown");
    assert!(r.cases.iter().any(|c| c.0 == "gate" && c.2 == "failure"), "{:?}", r.cases);
    assert!(r.markdown.contains("REGRESSED"), "the reason is in the summary");
}

#[test]
fn bad_baselines_are_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(dir.path(), "g.toml", &gate_scenario("gate-bad", 20, 100, 60));
    let start = std::time::Instant::now();

    let missing = dir.path().join("none.json");
    let (code, out) = gate(dir.path(), &s, &missing, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("none.json") && out.contains("--update-baseline"), "says how to create one: {out}");

    let mut other: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_file("reports/baselines/ci-gate.json")).unwrap()).unwrap();
    let file = dir.path().join("other.json");
    std::fs::write(&file, other.to_string()).unwrap();
    let (code, out) = gate(dir.path(), &s, &file, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("`ci-gate`") && out.contains("another scenario"), "{out}");

    other["schema_version"] = 1.into();
    other["scenario"] = "gate-bad".into();
    std::fs::write(&file, other.to_string()).unwrap();
    let (code, out) = gate(dir.path(), &s, &file, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("schema_version"), "{out}");

    // An unwritable --out: exit 3 before the 60 s load.
    let blocker = write(dir.path(), "a-file", "x");
    let o = gameday()
        .args(["gate", s.to_str().unwrap(), "--baseline", missing.to_str().unwrap(), "--update-baseline"])
        .args(["--out", blocker.join("sub").to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("a-file"), "{}", text(&o));
    assert!(start.elapsed() < std::time::Duration::from_secs(30), "something ran a load");
}

#[test]
fn the_committed_ci_baseline_matches_the_schema_and_its_scenario() {
    let baseline = repo_file("reports/baselines/ci-gate.json");
    validate_schema(&baseline);
    let b: Value = serde_json::from_slice(&std::fs::read(&baseline).unwrap()).unwrap();
    assert_eq!(b["scenario"], "ci-gate");
    assert_eq!(b["verdict"], "pass");
    let intervals = b["requests"][0]["intervals"].as_array().unwrap();
    assert!(intervals.len() >= 25, "{} intervals", intervals.len());
}
