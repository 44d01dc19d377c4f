//! `gameday plan`: the Midnight runbook's growth table replayed through the simulator
//! (and live), checked against the runbook's own conclusions and against hand-computed
//! growth figures; bad growth input exits 2 naming the field.

use serde_json::Value;

use crate::common::{repo_file, run, text, write};

fn plan_json(dir: &std::path::Path) -> Value {
    let bytes = std::fs::read(dir.join("plan.json")).unwrap_or_else(|e| panic!("plan.json: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("plan.json: {e}"))
}

fn midnight_plan(extra: &[&str]) -> (std::process::Output, Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let scenario = repo_file("scenarios/plan/midnight-growth.toml");
    let out = dir.path().to_str().unwrap_or_default().to_owned();
    let mut args = vec!["plan", scenario.to_str().unwrap_or_default(), "--out", &out, "--quiet"];
    args.extend_from_slice(extra);
    let o = run(&args);
    let v = plan_json(dir.path());
    (o, v, dir)
}

fn trigger_week(v: &Value, name: &str) -> Option<u64> {
    v["triggers"].as_array()?.iter().find(|t| t["name"] == name)?["week"].as_u64()
}

#[test]
fn midnight_plan_reproduces_the_runbook_conclusions() {
    let (o, v, _dir) = midnight_plan(&["--no-live"]);
    let weeks = v["weeks"].as_array().cloned().unwrap_or_default();
    assert_eq!(weeks.len(), 4, "{}", text(&o));
    // The table's volumes by hand: 1000 x 1.5^k (the runbook rounds 2250 -> 2200, 3375 -> 3300).
    let volumes: Vec<f64> = weeks.iter().map(|w| w["sim"]["volume_per_day"].as_f64().unwrap_or(0.0)).collect();
    assert_eq!(volumes, vec![1000.0, 1500.0, 2250.0, 3375.0]);
    // "Peak RPS" 2 / 3 / 4.5 / 6.8 follows from volume x 120 requests per proof x 1.44 / 86400.
    for (w, table) in weeks.iter().zip([2.0, 3.0, 4.5, 6.8]) {
        let peak = w["sim"]["peak_rate_per_s"].as_f64().unwrap_or(0.0);
        assert!((peak - table).abs() / table < 0.01, "peak {peak} vs runbook {table}");
    }
    // The runbook's triggers: growth > 30%/week from week 2, CPU > 70% sustained in week 3.
    assert_eq!(trigger_week(&v, "growth over 30%/week"), Some(2), "{}", text(&o));
    assert_eq!(trigger_week(&v, "CPU over 70% sustained for a week"), Some(3), "{}", text(&o));
    // Week 4 is at capacity: the SLOs break at the scenario's size ...
    let w4 = &weeks[3];
    assert!(w4["sim"]["slos"].as_array().is_some_and(|s| s.iter().any(|x| x["pass"] == false)), "{}", text(&o));
    // ... and the recommended size holds it (exit 0: every week fixable).
    let rec = w4["recommended"]["size"].as_u64().unwrap_or(0);
    assert!(rec > v["size"].as_u64().unwrap_or(0), "recommended {rec}: {}", text(&o));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("first fires in week 3"), "{}", text(&o));
}

#[test]
fn same_seed_same_plan() {
    let (_, a, _d1) = midnight_plan(&["--no-live"]);
    let (_, b, _d2) = midnight_plan(&["--no-live"]);
    assert_eq!(a["weeks"], b["weeks"]);
    assert_eq!(a["triggers"], b["triggers"]);
}

#[test]
fn bad_growth_is_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = std::fs::read_to_string(repo_file("scenarios/plan/midnight-growth.toml")).unwrap_or_default();
    for (from, to, field) in [
        ("weeks = 4", "weeks = 0", "growth.weeks"),
        ("rate = \"+50%/week\"", "rate = \"-120%/week\"", "growth.rate"),
        ("rate = \"+50%/week\"", "rate = \"+90000%/week\"", "growth"),
        ("\nunit = [\"prove\"]", "\nunit = [\"mint\"]", "growth.unit"),
        ("headroom = 1.0", "headroom = 0.5", "plan.headroom"),
    ] {
        let p = write(dir.path(), "bad.toml", &base.replacen(from, to, 1));
        let o = run(&[
            "plan",
            p.to_str().unwrap_or_default(),
            "--no-live",
            "--out",
            dir.path().to_str().unwrap_or_default(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{to}: {}", text(&o));
        assert!(text(&o).contains(field), "{to}: expected `{field}` in {}", text(&o));
    }
}
