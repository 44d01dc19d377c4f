//! A real Prometheus as the oracle of gameday's alerts when targets fail: runs
//! `ci/prometheus-e2e.sh` (the Midnight mock as its own process, `prometheus` scraping it
//! every second and loading `gameday rules export`'s rules, `gameday drill` freezing,
//! killing and restarting it) and checks what the script wrote.
//!
//! Checked here, not taken from the script's verdict: every firing episode of every alert
//! agrees with Prometheus's within one scrape plus one evaluation interval (2 s), start and
//! end; the episodes gameday reports are the ones in its own results.json; each fault made
//! the alert meant for it fire, soon after the drill injected it (the freeze: `up` and the
//! scrape duration; the kill: `up` and `absent()`; the restart: `absent()` alone; the
//! queue: before the first fault).
//!
//! Needs `prometheus` and `promtool` (Debian package `prometheus`): without them, a skip
//! with a message, or a failure under `CI=true` (`ci/test.sh` installs them).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{heavy, repo_file, skip};

/// One scrape interval plus one evaluation interval, seconds.
const TOLERANCE_S: f64 = 2.0;
/// The script's own bound is about 4 minutes.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Whether `prometheus` and `promtool` run; a skip with a notice, or a failure under CI.
fn prometheus_available() -> bool {
    let runs = |tool: &str| Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    let ok = runs("prometheus") && runs("promtool");
    if !ok {
        skip("prometheus or promtool is missing (Debian package `prometheus`): no real-Prometheus oracle");
    }
    ok
}

/// Runs the script with this build's binary, killing it (by its PID) past the bound.
fn run_script(out: &Path) -> (Option<i32>, String) {
    let log = out.join("script.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("bash")
        .arg(repo_file("ci/prometheus-e2e.sh"))
        .env("GAMEDAY", env!("CARGO_BIN_EXE_gameday"))
        .env("OUT", out)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    (status, std::fs::read_to_string(&log).unwrap_or_default())
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// The compared episodes (both sides present) of `alert`: (gameday start, prometheus start).
fn episodes<'a>(cmp: &'a Value, alert: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    cmp["episodes"].as_array().unwrap().iter().filter(move |e| e["alert"] == alert)
}

/// When drill `name` injected its fault, simulated seconds since the start.
fn injected_at(results: &Value, name: &str) -> f64 {
    let d = results["drills"].as_array().unwrap().iter().find(|d| d["name"] == name).unwrap();
    num(&d["timeline"]["injected_at"]).unwrap_or_else(|| panic!("drill {name} never injected: {d}"))
}

/// Whether `alert` has a compared episode starting in `[from, from + within]` (gameday's side).
fn fired_after(cmp: &Value, alert: &str, from: f64, within: f64) -> bool {
    episodes(cmp, alert).filter_map(|e| num(&e["gameday_start_s"])).any(|s| s >= from && s <= from + within)
}

#[test]
fn alert_firing_times_agree_with_a_real_prometheus_on_killed_frozen_and_restarted_targets() {
    if !prometheus_available() {
        return;
    }
    let _one = heavy();
    let dir = tempfile::tempdir().unwrap();
    let (status, log) = run_script(dir.path());
    println!("{log}");
    assert_eq!(status, Some(0), "ci/prometheus-e2e.sh failed:\n{log}");
    let results = read_json(&dir.path().join("results.json"));
    let cmp = read_json(&dir.path().join("comparison.json"));
    assert_eq!(results["drills_pass"], true, "a drill failed:\n{log}");
    check_agreement(&cmp, &results);
    check_each_fault_fired_its_alert(&cmp, &results);
}

/// Every compared episode within the tolerance; gameday's side is its results.json.
fn check_agreement(cmp: &Value, results: &Value) {
    let scale = num(&results["time_scale"]).unwrap();
    for alert in results["alerts"].as_array().unwrap() {
        let name = alert["name"].as_str().unwrap();
        let spans: Vec<f64> =
            alert["firing"].as_array().unwrap().iter().map(|s| num(&s["start_s"]).unwrap() / scale).collect();
        let compared: Vec<&Value> = episodes(cmp, name).collect();
        assert!(!compared.is_empty(), "{name}: never compared: {cmp}");
        for e in compared {
            let edge = e["verdict"].as_str().unwrap().contains("ignored");
            let (Some(g), Some(p)) = (num(&e["gameday_start_s"]), num(&e["prometheus_start_s"])) else {
                assert!(edge, "{name}: an episode only one side saw: {e}");
                continue;
            };
            assert!(spans.iter().any(|s| (s - g).abs() < 1e-6), "{name}: {g} is not in results.json: {spans:?}");
            assert!((p - g).abs() <= TOLERANCE_S, "{name}: fired at {g} s in gameday, {p} s in Prometheus");
            if let (Some(ge), Some(pe)) = (num(&e["gameday_end_s"]), num(&e["prometheus_end_s"])) {
                assert!((pe - ge).abs() <= TOLERANCE_S, "{name}: resolved at {ge} s in gameday, {pe} s in Prometheus");
            }
        }
    }
}

/// Each fault fired the alerts meant for it, within 10 s of its injection.
fn check_each_fault_fired_its_alert(cmp: &Value, results: &Value) {
    let (freeze, kill, bounce) =
        (injected_at(results, "freeze"), injected_at(results, "kill"), injected_at(results, "bounce"));
    for (alert, fault, at) in [
        ("MidnightDown", "freeze", freeze),
        ("MidnightScrapeSlow", "freeze", freeze),
        ("MidnightDown", "kill", kill),
        ("MidnightChecksAbsent", "kill", kill),
        ("MidnightChecksAbsent", "bounce", bounce),
    ] {
        assert!(fired_after(cmp, alert, at, 10.0), "{alert} did not fire within 10 s of the {fault} at {at} s: {cmp}");
    }
    assert!(
        fired_after(cmp, "MidnightQueueHigh", 0.0, freeze),
        "the queue alert did not fire before the freeze: {cmp}"
    );
    assert!(!fired_after(cmp, "MidnightScrapeSlow", kill, 30.0), "a refused scrape is not a slow one: {cmp}");
}
