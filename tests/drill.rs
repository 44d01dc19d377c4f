//! `gameday drill`: parsing errors, `--dry-run`, and the rollback guard on every path out
//! of a drill (success, failed criterion, dead-man timeout, panic, Ctrl-C) and the
//! steady-state refusal. The observable resource is a real file: the `command` fault's
//! inject command creates `injected`, its rollback command moves it to `rolled-back`, so
//! "injected and rolled back" is `!injected && rolled-back`, checked on disk.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use gameday::chaos::runner::{self, DrillOptions, DrillRun};
use gameday::Exit;
use serde_json::Value;

use crate::common::{gameday, heavy, text, write};

/// A scenario with one command drill against the embedded PXL mock; `{dir}` is where
/// the marker files go, the rest of the drill is `drill` (TOML lines after `kind`).
fn scenario(dir: &Path, load_s: u32, top: &str, drill: &str) -> PathBuf {
    let d = dir.display();
    let text = format!(
        r#"name = "drill-test"
time_scale = 1.0
{top}
[load]
users = 2
duration = "{load_s}s"
think_time = "100ms"
request_timeout = "5s"

[[load.request]]
name = "health"
target = "pxl"
path = "/v1/health"

[[slo]]
name = "errors"
objective = "error_ratio < 50%"

[[drill]]
name = "marker"
target = "pxl"
at = "2s"
steady_state = "1s"
timeout = "3s"

[drill.fault]
kind = "command"
inject = ["touch", "{d}/injected"]
rollback = ["mv", "{d}/injected", "{d}/rolled-back"]
timeout = "5s"

[drill.detect]
probe = {{ kind = "http", path = "/v1/no-such-route", expect_status = 200 }}
interval = "200ms"
{drill}
"#
    );
    write(dir, "drill.toml", &text)
}

const RECOVER_BY_ROLLBACK: &str = r#"
[drill.recover]
action = "rollback"
after = "200ms"

[[drill.verify]]
kind = "http"
path = "/v1/health"
"#;

fn options(file: &Path, out: &Path) -> DrillOptions {
    DrillOptions { scenario: file.into(), out: Some(out.into()), quiet: true, ..DrillOptions::default() }
}

/// Runs the drill in-process on its own runtime (as the CLI does), never interrupted.
fn run_drill(opts: &DrillOptions) -> runner::DrillOutcome {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    match rt.block_on(runner::drill(opts, std::future::pending())).expect("the drill runs") {
        DrillRun::Ran(o) => *o,
        DrillRun::DryRun(p) => panic!("expected a run, got a plan: {p}"),
    }
}

/// Injected and rolled back, as the files on disk say.
fn assert_rolled_back(dir: &Path) {
    assert!(!dir.join("injected").exists(), "the fault is still in place");
    assert!(dir.join("rolled-back").exists(), "the fault was never injected, or its rollback never ran");
}

fn drill_json(o: &runner::DrillOutcome) -> Value {
    serde_json::to_value(&o.results.ext.drills[0]).unwrap()
}

#[test]
fn bad_drills_exit_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = scenario(dir.path(), 6, "", RECOVER_BY_ROLLBACK);
    let toml = std::fs::read_to_string(&good).unwrap();
    let cases = [
        ("target = \"pxl\"\nat", "target = \"nowhere\"\nat", "drill[0].target", "target = \"nowhere\""),
        ("at = \"2s\"", "at = \"6s\"", "drill[0].at", "at = \"6s\""),
        ("steady_state = \"1s\"", "steady_state = \"3s\"", "drill[0].steady_state", "steady_state = \"3s\""),
        ("action = \"rollback\"", "action = \"command\"", "drill[0].recover.command", "action = \"command\""),
    ];
    for (from, to, field, line_text) in cases {
        let bad = write(dir.path(), "bad.toml", &toml.replacen(from, to, 1));
        let bad_text = std::fs::read_to_string(&bad).unwrap();
        let line = bad_text.lines().position(|l| l.contains(line_text)).unwrap() + 1;
        let out = gameday().args(["drill", bad.to_str().unwrap(), "--dry-run"]).output().unwrap();
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(2), "{msg}");
        assert!(msg.contains(&format!("bad.toml:{line}:")), "expected line {line}: {msg}");
        assert!(msg.contains(&format!("field `{field}`")), "{msg}");
    }
    // A detection rule naming no alert or SLO.
    let bad = write(
        dir.path(),
        "bad.toml",
        &toml.replacen(
            "probe = { kind = \"http\", path = \"/v1/no-such-route\", expect_status = 200 }",
            "rule = \"Nope\"",
            1,
        ),
    );
    let out = gameday().args(["drill", bad.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("drill[0].detect.rule") && text(&out).contains("Nope"), "{}", text(&out));
}

#[test]
fn dry_run_prints_the_plan_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // The target is a listener of ours: a dry run must not connect to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let top = format!("[targets.pxl]\nurl = \"{url}\"\n");
    let file = scenario(dir.path(), 6, &top, RECOVER_BY_ROLLBACK);
    let out_dir = dir.path().join("out");
    let out = gameday()
        .args(["drill", file.to_str().unwrap(), "--dry-run", "--out", out_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(0), "{msg}");
    let d = dir.path().display();
    assert!(msg.contains(&format!("inject: run `touch {d}/injected`")), "{msg}");
    assert!(msg.contains(&format!("rollback: run `mv {d}/injected {d}/rolled-back`")), "{msg}");
    assert!(msg.contains("steady state") && msg.contains("dead-man"), "{msg}");
    assert!(msg.contains(&format!("remote {url}")), "{msg}");
    assert!(!dir.path().join("injected").exists(), "the inject command ran");
    assert!(!dir.path().join("rolled-back").exists(), "the rollback command ran");
    assert!(!out_dir.exists(), "--out was created");
    assert!(listener.accept().is_err(), "the dry run connected to the target");
    // Without a URL the target would be an embedded mock: still nothing starts.
    let file = scenario(dir.path(), 6, "", RECOVER_BY_ROLLBACK);
    let out = gameday().args(["drill", file.to_str().unwrap(), "--dry-run"]).output().unwrap();
    assert!(text(&out).contains("pxl: embedded mock"), "{}", text(&out));
    assert!(!dir.path().join("injected").exists());
}

#[test]
fn a_passing_drill_is_rolled_back_and_measured() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let file =
        scenario(dir.path(), 6, "", &format!("{RECOVER_BY_ROLLBACK}\n[drill.expect]\nmttd = \"2s\"\nrto = \"3s\"\n"));
    let o = run_drill(&options(&file, &dir.path().join("out")));
    assert_rolled_back(dir.path());
    let d = drill_json(&o);
    assert_eq!(d["status"], "passed", "{d:#}");
    assert_eq!(o.exit, Exit::Pass);
    let t = &d["timeline"];
    let at = |k: &str| t[k].as_f64().unwrap_or_else(|| panic!("no {k}: {d:#}"));
    // The order of the steps, and the drill's own `at` (2 s) as the lower bound.
    assert!(at("injected_at") >= 2.0, "{t}");
    assert!(at("injected_at") <= at("detected_at") && at("detected_at") <= at("recovery_started_at"), "{t}");
    assert!(at("recovery_started_at") - at("detected_at") >= 0.2 - 1e-3, "operator reaction `after`: {t}");
    assert!(at("recovery_started_at") <= at("verified_at"), "{t}");
    assert!((d["mttd_s"].as_f64().unwrap() - (at("detected_at") - at("injected_at"))).abs() < 1e-9);
    assert!((d["rto_s"].as_f64().unwrap() - (at("verified_at") - at("injected_at"))).abs() < 1e-9);
    let rollbacks = d["rollbacks"].as_array().unwrap();
    assert_eq!(rollbacks.len(), 1, "rolled back once: {d:#}");
    assert_eq!(rollbacks[0]["reason"], "recovery");
    assert_eq!(d["criteria"].as_array().unwrap().len(), 2);
    let file: Value = serde_json::from_slice(&std::fs::read(&o.results_path).unwrap()).unwrap();
    assert_eq!(file["drills"][0]["name"], "marker");
    assert_eq!(file["partial"], false);
}

#[test]
fn a_failing_criterion_fails_the_drill_and_still_rolls_back() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    // No request to the mock is answered within a microsecond.
    let file = scenario(dir.path(), 6, "", &format!("{RECOVER_BY_ROLLBACK}\n[drill.expect]\np95 = \"1us\"\n"));
    let o = run_drill(&options(&file, &dir.path().join("out")));
    assert_rolled_back(dir.path());
    let d = drill_json(&o);
    assert_eq!(d["status"], "failed", "{d:#}");
    assert_eq!(d["criteria"][0]["name"], "p95");
    assert_eq!(d["criteria"][0]["pass"], false);
    assert!(d["criteria"][0]["observed"].as_f64().unwrap() > 1e-6);
    assert_eq!(o.exit, Exit::Failed);
}

#[test]
fn the_dead_man_rolls_back_at_the_timeout_when_recovery_never_verifies() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let never =
        "\n[drill.recover]\naction = \"external\"\n\n[[drill.verify]]\nkind = \"http\"\npath = \"/v1/no-such-route\"\n";
    let file = scenario(dir.path(), 8, "", never);
    let o = run_drill(&options(&file, &dir.path().join("out")));
    assert_rolled_back(dir.path());
    let d = drill_json(&o);
    assert_eq!(d["status"], "failed", "{d:#}");
    assert!(d["reason"].as_str().unwrap().contains("not verified"), "{d:#}");
    let rb = &d["rollbacks"][0];
    assert_eq!(rb["reason"], "dead-man timeout", "{d:#}");
    // timeout = "3s" after injection (scale 1), measured on the load's clock.
    let after = rb["at_s"].as_f64().unwrap() - d["timeline"]["injected_at"].as_f64().unwrap();
    assert!((2.9..4.5).contains(&after), "rolled back {after}s after injection");
    assert!(d["timeline"]["verified_at"].is_null());
    assert_eq!(o.exit, Exit::Failed);
}

#[test]
fn a_panic_in_the_drill_task_is_rolled_back_by_the_guard() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 6, "", RECOVER_BY_ROLLBACK);
    let mut opts = options(&file, &dir.path().join("out"));
    opts.panic_after_inject = Some("marker".into());
    let o = run_drill(&opts);
    assert_rolled_back(dir.path());
    let d = drill_json(&o);
    assert_eq!(d["status"], "error", "{d:#}");
    assert!(d["reason"].as_str().unwrap().contains("panicked"), "{d:#}");
    assert_eq!(d["rollbacks"][0]["reason"], "panic");
    // Rolled back when the task died, not at the dead-man timeout (3 s) or the end.
    let after = d["rollbacks"][0]["at_s"].as_f64().unwrap() - d["timeline"]["injected_at"].as_f64().unwrap();
    assert!(after < 2.0, "rolled back {after}s after injection");
    assert_eq!(o.exit, Exit::RunFailed);
}

#[test]
fn steady_state_that_does_not_hold_refuses_to_inject() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 5, "", RECOVER_BY_ROLLBACK);
    let toml = std::fs::read_to_string(&file).unwrap().replace("error_ratio < 50%", "p99 < 1us");
    let file = write(dir.path(), "drill.toml", &toml);
    let o = run_drill(&options(&file, &dir.path().join("out")));
    assert!(
        !dir.path().join("injected").exists() && !dir.path().join("rolled-back").exists(),
        "something was injected"
    );
    let d = drill_json(&o);
    assert_eq!(d["status"], "refused", "{d:#}");
    assert_eq!(d["timeline"]["steady_state_ok"], false);
    assert!(d["timeline"]["injected_at"].is_null());
    assert_eq!(d["steady_state"][0]["pass"], false);
    assert!(d["rollbacks"].as_array().unwrap().is_empty());
    assert_eq!(o.exit, Exit::Failed);
}

#[test]
fn ctrl_c_rolls_back_writes_partial_results_and_exits_3() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let never =
        "\n[drill.recover]\naction = \"external\"\n\n[[drill.verify]]\nkind = \"http\"\npath = \"/v1/no-such-route\"\n";
    let file = scenario(dir.path(), 30, "", never);
    let toml = std::fs::read_to_string(&file).unwrap().replace("timeout = \"3s\"", "timeout = \"25s\"");
    let file = write(dir.path(), "drill.toml", &toml);
    let out_dir = dir.path().join("out");
    let mut child = gameday()
        .args(["drill", file.to_str().unwrap(), "--quiet", "--out", out_dir.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    crate::common::poll("the drill to inject", Duration::from_secs(30), || {
        assert!(child.try_wait().unwrap().is_none(), "gameday exited before injecting");
        dir.path().join("injected").exists().then_some(())
    });
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gameday did not exit after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child.wait_with_output().unwrap();
    let msg = crate::common::text(&output);
    assert_eq!(status.code(), Some(3), "{msg}");
    assert_rolled_back(dir.path());
    let results: Value = serde_json::from_slice(&std::fs::read(out_dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["partial"], true);
    let d = &results["drills"][0];
    assert_eq!(d["status"], "interrupted", "{d:#}");
    assert_eq!(d["rollbacks"][0]["reason"], "interrupted", "{d:#}");
    assert!(d["timeline"]["injected_at"].as_f64().is_some());
}

#[test]
fn every_shipped_drill_validates_and_dry_runs() {
    let dir = crate::common::repo_file("scenarios/drills");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no drills in {}", dir.display());
    for f in &files {
        let o = gameday().args(["validate", f.to_str().unwrap()]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}: {}", f.display(), text(&o));
        let o = gameday().args(["drill", f.to_str().unwrap(), "--dry-run"]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}: {}", f.display(), text(&o));
        assert!(text(&o).contains("roll back"), "{}: {}", f.display(), text(&o));
        // Each names the runbook alert that should page, or says why none can.
        let doc: toml::Table = toml::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        for d in doc["drill"].as_array().unwrap() {
            let detect = d["detect"].as_table().unwrap();
            assert!(
                detect.contains_key("alert") != detect.contains_key("no_alert"),
                "{}: drill `{}` names neither `alert` nor `no_alert`",
                f.display(),
                d["name"]
            );
            assert!(text(&o).contains("runbook alert"), "{}: the plan shows the alert: {}", f.display(), text(&o));
        }
    }
}
