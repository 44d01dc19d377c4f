//! Integration tests for the `gameday` binary: exit codes, messages, outputs, the mock fleet.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::common::{gameday, heavy, repo_file, run, text, wait_manifest, write};

/// A short scenario on the embedded Midnight mock: 3 real seconds of attestations.
fn scenario(objective: &str, extra: &str) -> String {
    format!(
        r#"
name = "cli-test"
seed = 7
time_scale = 10.0
{extra}
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
body = '{{"nonce":"{{{{nonce}}}}"}}'

[[slo]]
name = "attestation latency"
request = "attestation"
objective = "{objective}"
"#
    )
}

#[test]
fn a_failing_slo_exits_1_and_writes_results() {
    let dir = tempfile::tempdir().unwrap();
    // At least the 40 ms median attestation service time: a p95 under 1 ms cannot hold.
    let file = write(dir.path(), "fail.toml", &scenario("p95 < 1ms", ""));
    let out = dir.path().join("out");
    let o = run(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL"), "{}", text(&o));
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["verdict"], "fail");
    assert_eq!(results["slos"][0]["pass"], false);
    assert!(results["requests"][0]["count"].as_u64().unwrap() > 10);
    assert!(!results["requests"][0]["hdr"].as_str().unwrap().is_empty());
}

#[test]
fn a_holding_slo_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "pass.toml", &scenario("p95 < 2s", ""));
    let out = dir.path().join("out");
    let o = run(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("verdict: PASS"));
}

#[test]
fn bad_scenarios_exit_2_naming_file_line_and_field_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = scenario("p95 < 2s", "");
    let cases = [
        ("unknown-field.toml", good.replace("users = 2", "users = 2\nuzers = 3"), "uzers"),
        ("zero.toml", good.replace("\"30s\"", "\"0s\""), "load.duration"),
        ("negative.toml", good.replace("\"30s\"", "\"-30s\""), "negative"),
        ("service.toml", good.replace("\"midnight\"", "\"moonlight\""), "moonlight"),
        ("dist.toml", scenario("p95 < 2s", "[targets.midnight.profile.service_time.prove]\ndist = \"zipf\"\n"), "zipf"),
        ("syntax.toml", "name = \"x\"\n[load\n".to_owned(), "syntax.toml:2"),
    ];
    for (name, body, needle) in cases {
        let file = write(dir.path(), name, &body);
        let out = dir.path().join(format!("out-{name}"));
        let o = run(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {t}");
        assert!(t.contains(needle), "{name}: {t}");
        assert!(t.contains(name), "{name} not named: {t}");
        assert!(!t.contains("panicked"), "{name}: {t}");
        assert!(!out.exists(), "{name}: --out was created");
    }
}

#[test]
fn validate_accepts_the_shipped_smoke_scenario() {
    let smoke = repo_file("scenarios/smoke.toml");
    let o = run(&["validate", smoke.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn non_loopback_targets_are_refused_without_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.toml", &scenario("p95 < 2s", ""));
    let out = dir.path().join("out");
    let o = run(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--target",
        "midnight=http://192.0.2.1:6300",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--allow-remote"), "{}", text(&o));
    assert!(!out.exists());
}

#[test]
fn a_target_that_refuses_connections_exits_3_saying_what_failed() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.toml", &scenario("p95 < 2s", ""));
    let out = dir.path().join("out");
    let target = format!("midnight=http://127.0.0.1:{port}");
    let o = run(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--target", &target, "--quiet"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("no request succeeded"), "{t}");
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["verdict"], "invalid");
    assert!(results["requests"][0]["errors"]["connect"].as_u64().unwrap() > 0);
}

#[test]
fn unwritable_out_dir_exits_3_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.toml", &scenario("p95 < 2s", ""));
    let blocker = write(dir.path(), "not-a-dir", "x");
    let started = Instant::now();
    let o = run(&["run", file.to_str().unwrap(), "--out", blocker.join("out").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("not-a-dir"));
    assert!(started.elapsed() < Duration::from_secs(2), "load ran before the out dir was checked");
}

#[test]
fn mocks_only_midnight_serves_writes_a_manifest_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.json");
    let mut child = gameday()
        .args(["mocks", "--only", "midnight", "--manifest", manifest.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let m = wait_manifest(&manifest);
    let url = m["midnight"].as_str().unwrap().to_owned();
    assert_eq!(m.as_object().unwrap().len(), 1, "{m}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async { reqwest::get(format!("{url}/health")).await.map(|r| r.status().as_u16()) });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let exit = child.wait().unwrap();
    assert_eq!(status.ok(), Some(200));
    assert_eq!(exit.code(), Some(0));
}

#[test]
fn mocks_default_fleet_lists_every_service() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.json");
    let mut child =
        gameday().args(["mocks", "--manifest", manifest.to_str().unwrap()]).stdout(Stdio::null()).spawn().unwrap();
    let m = wait_manifest(&manifest);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let exit = child.wait().unwrap();
    for svc in ["midnight", "scribe", "grahmos", "pxl", "morphsave"] {
        assert!(m.get(svc).is_some(), "{svc} missing from {m}");
    }
    assert_eq!(exit.code(), Some(0));
}

#[test]
fn a_busy_runbook_port_is_named() {
    // Hold Midnight's runbook port; skip (under CI fail) if something else already holds it.
    let Ok(holder) = TcpListener::bind("127.0.0.1:6300") else {
        crate::common::skip("port 6300 (Midnight's runbook port) is already in use on this machine");
        return;
    };
    let o = run(&["mocks", "--only", "midnight", "--ports", "runbook"]);
    drop(holder);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("6300") && t.contains("already in use"), "{t}");
}

#[test]
fn the_smoke_scenario_passes() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let smoke = repo_file("scenarios/smoke.toml");
    let o = run(&["run", smoke.to_str().unwrap(), "--out", dir.path().to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn ctrl_c_keeps_partial_results_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "long.toml", &scenario("p95 < 2s", "").replace("\"30s\"", "\"600s\""));
    let out = dir.path().join("out");
    let child = gameday()
        .args(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Deliberate: Ctrl-C lands mid-run, after some requests were measured (a `--quiet` run
    // shows nothing to poll for; the results' request count checks it below).
    std::thread::sleep(Duration::from_secs(4));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["partial"], true);
    assert_eq!(results["verdict"], "invalid");
    assert!(results["requests"][0]["count"].as_u64().unwrap() > 0, "measured data kept");
    // The reports say so too, verdict first.
    let r = crate::reports::check_outputs(&out, "run");
    assert!(r.markdown.contains("**INVALID") && r.markdown.contains("partial"), "{}", r.markdown);
}

#[test]
fn path_templates_are_expanded_per_request() {
    // MorphSave seeds accounts acct-0001..acct-1000; user 0's `acct-100{{user}}` is
    // acct-1000 (200), while the unexpanded literal path would be a 404 on every request.
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
name = "path-template"
time_scale = 5.0
[load]
users = 1
duration = "10s"
think_time = "100ms"
[[load.request]]
name = "savings"
target = "morphsave"
path = "/api/savings/acct-100{{user}}"
[[slo]]
name = "no errors"
objective = "error_ratio < 0.1%"
"#;
    let file = write(dir.path(), "t.toml", body);
    let out = dir.path().join("out");
    let o = run(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
