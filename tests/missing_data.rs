//! Truth when targets fail (issue 17): a dead or stopped target is seen by the runbook's
//! own alerts, through `up`, staleness and `absent()`, in real drills on real processes.
//!
//! Oracles: the runbook's `for` and the scrape and evaluation intervals (an alert on `up`
//! fires `for` after the first failed scrape, which comes at most one scrape interval
//! after the fault), and the drill's own injection and recovery times.

use serde_json::Value;

use crate::common::{gameday, heavy, repo_file, text, write};
use crate::drill_e2e::drill_file;

fn drill_named<'a>(results: &'a Value, name: &str) -> &'a Value {
    results["drills"].as_array().unwrap().iter().find(|d| d["name"] == name).unwrap_or_else(|| panic!("{results:#}"))
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn bad_missing_data_input_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(repo_file("scenarios/smoke.toml")).unwrap();
    let unknown_fn =
        base.replace(r#"expr = 'up{service="midnight"} < 1'"#, r#"expr = 'absnet(up{service="midnight"}) > 0'"#);
    assert_ne!(unknown_fn, base, "smoke.toml writes ProofServerDown on `up`");
    let line = unknown_fn.lines().position(|l| l.contains("absnet")).unwrap() + 1;
    let zero_lookback = base.replacen("time_scale = 40.0", "time_scale = 40.0\nlookback_delta = \"0s\"", 1);
    for (name, body, needles) in [
        ("unknown-fn.toml", unknown_fn, vec![format!("unknown-fn.toml:{line}"), "unknown function `absnet`".into()]),
        ("lookback.toml", zero_lookback, vec!["lookback.toml:".into(), "lookback_delta".into()]),
    ] {
        let file = write(dir.path(), name, &body);
        let o = gameday().args(["validate", file.to_str().unwrap()]).output().unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {t}");
        for needle in &needles {
            assert!(t.contains(needle.as_str()), "{name}: `{needle}` not in: {t}");
        }
        assert!(!t.contains("panicked"), "{name}: {t}");
    }
    let smoke = repo_file("scenarios/smoke.toml");
    let out = dir.path().join("out");
    let o = gameday()
        .args(["run", smoke.to_str().unwrap(), "--out", out.to_str().unwrap(), "--query.lookback-delta", "0s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--query.lookback-delta"), "{}", text(&o));
    assert!(!out.exists(), "nothing written for a bad flag");
}

/// The shipped Midnight crash drill: the runbook's P0, written on `up` with its `for`
/// of 3 minutes, pages; the health probe saw the crash first.
#[test]
fn a_killed_midnight_pages_proof_server_down_within_its_budget() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let (code, results, out) = drill_file(dir.path(), &repo_file("scenarios/drills/midnight-enclave-crash.toml"));
    assert_eq!(code, Some(0), "{out}");
    let d = drill_named(&results, "enclave-crash");
    let alert = &d["runbook_alert"];
    assert_eq!(alert["name"], "ProofServerDown", "{d:#}");
    assert_eq!(alert["fired"], true, "{d:#}");
    // Fires `for` (180 s) after the first failed scrape, which is at most one scrape
    // interval (10 s simulated at time_scale 10) plus one evaluation (10 s) after the kill.
    let mttd = num(&alert["mttd_s"]);
    assert!((180.0..=200.0 + 1e-6).contains(&mttd), "alert MTTD {mttd}: {d:#}");
    assert_eq!(num(&d["mttd_s"]), mttd, "the alert is the drill's detection");
    let probe = num(&d["probe_mttd_s"]);
    assert!(probe < mttd && probe <= 20.0 + 1e-6, "probe MTTD {probe} (10 s polls)");
    // The run's own alert verdict agrees: firing from injection + MTTD.
    let injected = num(&d["timeline"]["injected_at"]);
    let verdict = results["alerts"].as_array().unwrap().iter().find(|a| a["name"] == "ProofServerDown").unwrap();
    assert!((num(&verdict["first_firing_s"]) - (injected + mttd)).abs() < 1e-6, "{verdict:#}");
    assert!(out.contains("runbook alert `ProofServerDown`"), "{out}");
}

/// Runbook 001's NodeDown on `up`, with a short `for`: a stopped leader pages and keeps
/// paging while it is down; a stopped follower (which costs no write) pages too.
#[test]
fn a_stopped_scribe_leader_or_follower_fires_node_down_while_down() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "scribe.toml", SCRIBE);
    let (code, results, out) = drill_file(dir.path(), &file);
    assert_eq!(code, Some(0), "{out}");
    for name in ["leader-down", "follower-down"] {
        let d = drill_named(&results, name);
        let alert = &d["runbook_alert"];
        assert_eq!((alert["name"].as_str(), alert["fired"].as_bool()), (Some("NodeDown"), Some(true)), "{d:#}");
        // `for` 5 s after the first failed scrape (1 s scrapes and evaluations).
        let mttd = num(&alert["mttd_s"]);
        assert!((5.0..=7.0 + 1e-6).contains(&mttd), "{name}: alert MTTD {mttd}");
        // Firing from detection until the node is back: past the start of recovery.
        let injected = num(&d["timeline"]["injected_at"]);
        let recovered = num(&d["timeline"]["recovery_started_at"]);
        let verdict = results["alerts"].as_array().unwrap().iter().find(|a| a["name"] == "NodeDown").unwrap();
        let span = verdict["firing"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| num(&s["start_s"]) >= injected)
            .unwrap_or_else(|| panic!("{name}: {verdict:#}"));
        assert!((num(&span["start_s"]) - (injected + mttd)).abs() < 1e-6, "{name}: {span} vs {injected} + {mttd}");
        let end = span["end_s"].as_f64().unwrap_or(f64::INFINITY);
        assert!(end >= recovered, "{name}: stopped firing at {end}, before recovery at {recovered}");
    }
    // The follower's stop never failed a write: the write probe did not see it.
    assert!(drill_named(&results, "follower-down")["probe_mttd_s"].is_null(), "{results:#}");
}

const SCRIBE: &str = r#"
name = "scribe-node-down"
seed = 1101
time_scale = 1.0

[load]
users = 4
duration = "55s"
ramp = "2s"
think_time = "500ms"
request_timeout = "5s"

[[load.request]]
name = "read"
target = "scribe"
path = "/account-1001"
headers = { "X-API-Key" = "read-key" }
weight = 3

[[load.request]]
name = "update"
target = "scribe"
method = "PUT"
path = "/account-1001"
body = '{"value":"balance:{{user}}-{{seq}}"}'
headers = { "X-API-Key" = "write-key", "Content-Type" = "application/json" }

[targets.scribe.profile.seed_data]
account-1001 = "balance:1000"

[[alert]]
name = "NodeDown"
expr = 'up{service="scribe"} < 1'
for = "5s"

[[drill]]
name = "leader-down"
target = "scribe"
at = "8s"
steady_state = "0s"
timeout = "25s"
fault = { kind = "node-failure" }
detect = { alert = "NodeDown", probe = { kind = "scribe-write", timeout = "2s" }, interval = "1s" }
recover = { action = "restart-node", after = "4s" }
verify = [{ kind = "scribe-write" }]

[[drill]]
name = "follower-down"
target = "scribe"
at = "32s"
steady_state = "0s"
timeout = "20s"
fault = { kind = "node-failure", node = "follower" }
detect = { alert = "NodeDown", probe = { kind = "scribe-write", timeout = "2s" }, interval = "1s" }
recover = { action = "restart-node", after = "4s" }
verify = [{ kind = "scribe-write" }]
"#;
