//! Signals and the output folder, on the real `gameday` binary as a child process: SIGTERM
//! is Ctrl-C for `run`, `gate` and `plan` (partial results, exit 3); an interrupt rolls a
//! frozen drill target back at once and never reports the drill passed; a SIGKILLed
//! drill takes its supervised process with it and its folder is swept by the next start;
//! a SIGKILL while writing never leaves one run's results beside another's reports; a
//! refused run (exit 2) creates no `--out`. Only PIDs these tests started are signalled;
//! every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::common::{gameday, heavy, repo_file, text, write};

fn pid_of(child: &Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).unwrap())
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Waits up to `bound` for `child` to exit; kills it and fails the test otherwise.
fn wait_exit(child: &mut Child, bound: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: gameday did not exit within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn finish(mut child: Child, bound: Duration, what: &str) -> (ExitStatus, String) {
    let status = wait_exit(&mut child, bound, what);
    let out = child.wait_with_output().unwrap();
    (status, text(&out))
}

fn results(dir: &Path) -> Value {
    let path = dir.join("results.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// A closed-model load on the embedded PXL mock for `duration`.
fn pxl_scenario(name: &str, duration: &str) -> String {
    format!(
        r#"name = "{name}"
time_scale = 1.0

[load]
users = 2
duration = "{duration}"
think_time = "100ms"
request_timeout = "5s"

[[load.request]]
name = "health"
target = "pxl"
path = "/v1/health"

[[slo]]
name = "errors"
objective = "error_ratio < 50%"
"#
    )
}

/// SIGTERM `child` once `ready` holds (bounded), then after `delay`.
fn sigterm_when(child: &mut Child, ready: impl Fn() -> bool, delay: Duration) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "never ready");
        assert!(child.try_wait().unwrap().is_none(), "gameday exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Deliberate: how far into the run the signal lands is the case under test (a running
    // `-q` run shows nothing to poll for).
    std::thread::sleep(delay);
    kill(pid_of(child), Signal::SIGTERM).unwrap();
}

fn assert_interrupted(status: ExitStatus, msg: &str, r: &Value) {
    assert_eq!(status.code(), Some(3), "exit 3 after SIGTERM, not killed by it: {msg}");
    assert_eq!(r["partial"], true, "{r:#}");
    assert_eq!(r["verdict"], "invalid", "{r:#}");
    assert!(r["reasons"][0].as_str().unwrap().contains("interrupted"), "{r:#}");
}

#[test]
fn sigterm_on_run_writes_partial_results_and_exits_3() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "long.toml", &pxl_scenario("sigterm-run", "600s"));
    let out = dir.path().join("out");
    let mut child = spawn(gameday().args(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]));
    sigterm_when(&mut child, || true, Duration::from_secs(3));
    let (status, msg) = finish(child, Duration::from_secs(30), "run");
    let r = results(&out);
    assert_interrupted(status, &msg, &r);
    assert!(r["requests"][0]["count"].as_u64().unwrap() > 0, "the partial load is kept: {r:#}");
    assert!(out.join("report.md").exists());
}

#[test]
fn sigterm_on_gate_writes_partial_results_no_baseline_and_exits_3() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "long.toml", &pxl_scenario("sigterm-gate", "600s"));
    let (out, baseline) = (dir.path().join("out"), dir.path().join("base").join("b.json"));
    let mut child = spawn(gameday().args([
        "gate",
        file.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
        "--update-baseline",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]));
    sigterm_when(&mut child, || true, Duration::from_secs(3));
    let (status, msg) = finish(child, Duration::from_secs(30), "gate");
    assert_interrupted(status, &msg, &results(&out));
    assert!(!baseline.exists(), "an interrupted run is no baseline");
}

#[test]
fn sigterm_on_plan_writes_partial_results_and_exits_3() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = repo_file("scenarios/plan/midnight-growth.toml");
    let mut child = spawn(gameday().args(["plan", scenario.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]));
    sigterm_when(&mut child, || true, Duration::from_secs(2));
    let (status, msg) = finish(child, Duration::from_secs(90), "plan");
    assert_interrupted(status, &msg, &results(&out));
    assert!(out.join("plan.json").exists(), "{msg}");
}

/// A drill freezing the Midnight process (a supervised child) at 3 s, recovered only
/// after 30 s, under a load whose requests hang for up to 20 s on the frozen process.
fn freeze_scenario(dir: &Path) -> PathBuf {
    let text = r#"name = "freeze-interrupt"
seed = 1
time_scale = 1.0

[load]
rate = "20/s"
duration = "60s"
request_timeout = "20s"

[[load.request]]
name = "health"
target = "midnight"
path = "/health"

[[slo]]
name = "errors"
objective = "error_ratio < 50%"

[[drill]]
name = "freeze"
target = "midnight"
at = "3s"
steady_state = "2s"
timeout = "40s"

[drill.fault]
kind = "freeze"

[drill.detect]
probe = { kind = "http", path = "/health", expect_status = 200, timeout = "1s" }
interval = "500ms"
no_alert = "test drill"

[drill.recover]
action = "rollback"
after = "30s"

[[drill.verify]]
kind = "http"
path = "/health"
expect_status = 200
"#;
    write(dir, "freeze.toml", text)
}

/// The PIDs of `parent`'s children.
fn children_of(parent: Pid) -> Vec<Pid> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else { return vec![] };
    let mut out = Vec::new();
    for t in tasks.filter_map(Result::ok) {
        let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        out.extend(kids.split_whitespace().filter_map(|p| p.parse().ok()).map(Pid::from_raw));
    }
    out
}

/// Waits (bounded) for `gameday`'s supervised child to be frozen; returns its PID.
fn frozen_child(child: &mut Child) -> Pid {
    crate::common::poll("the supervised child to be frozen", Duration::from_secs(60), || {
        assert!(child.try_wait().unwrap().is_none(), "gameday exited before freezing");
        children_of(pid_of(child)).into_iter().find(|p| gameday::chaos::supervisor::proc_state(*p) == Some('T'))
    })
}

fn drill_cmd(file: &Path, out: &Path, tmp: &Path) -> Command {
    let mut cmd = gameday();
    cmd.args(["drill", file.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()]).env("TMPDIR", tmp);
    cmd
}

#[test]
fn interrupting_a_drill_long_after_a_freeze_thaws_at_once_and_never_passes() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let file = freeze_scenario(dir.path());
    let out = dir.path().join("out");
    // Whether the old code's Ctrl-C reached the drill or goose alone was a race (goose's
    // handler replaced the drill's when it won): it lost 5 of 6 times when started from a
    // script, and won here, under the test harness, 4 of 4.
    let mut child = spawn(&mut drill_cmd(&file, &out, dir.path()));
    let frozen = frozen_child(&mut child);
    // Deliberate: long enough for requests to pile up on the frozen process (the hung
    // requests are the case under test; nothing outside shows how many there are).
    std::thread::sleep(Duration::from_secs(2));
    kill(pid_of(&child), Signal::SIGINT).unwrap();
    let sent = Instant::now();
    let thawed = loop {
        let state = gameday::chaos::supervisor::proc_state(frozen);
        if state != Some('T') {
            break sent.elapsed();
        }
        assert!(sent.elapsed() < Duration::from_secs(25), "still frozen 25 s after Ctrl-C");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(thawed < Duration::from_secs(2), "thawed {thawed:?} after Ctrl-C: it waited for the hung requests");
    let (status, msg) = finish(child, Duration::from_secs(40), "drill");
    assert_eq!(status.code(), Some(3), "{msg}");
    let r = results(&out);
    assert_eq!(r["partial"], true);
    let d = &r["drills"][0];
    assert_eq!(d["status"], "interrupted", "{d:#}");
    assert_eq!(r["drills_pass"], false);
    assert_eq!(d["rollbacks"][0]["reason"], "interrupted", "{d:#}");
}

fn leftovers(tmp: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn a_sigkilled_drill_takes_its_frozen_child_along_and_its_folder_is_swept() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let file = freeze_scenario(dir.path());
    let out = dir.path().join("out");
    let mut child = spawn(&mut drill_cmd(&file, &out, &tmp));
    let frozen = frozen_child(&mut child);
    assert_eq!(leftovers(&tmp, "gameday-proc-").len(), 1, "the supervised process's folder");
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    // Gone, or a zombie waiting for init to reap it: either way no longer running or frozen.
    while gameday::chaos::supervisor::proc_state(frozen).is_some_and(|s| s != 'Z') {
        if Instant::now() > deadline {
            let _ = kill(frozen, Signal::SIGKILL);
            panic!("the supervised child {frozen} outlived its SIGKILLed drill");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // The next drill's start removes the dead run's folder (this one stops at `--out`).
    let blocked = write(dir.path(), "a-file", "x").join("out");
    let o = drill_cmd(&file, &blocked, &tmp).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(leftovers(&tmp, "gameday-proc-").is_empty(), "{:?}", leftovers(&tmp, "gameday-proc-"));
}

#[test]
fn a_grahmos_drill_leaves_no_edge_folder() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let d = dir.path().display();
    let text = format!(
        r#"name = "grahmos-folders"
time_scale = 1.0
[load]
users = 2
duration = "5s"
think_time = "100ms"
request_timeout = "5s"
[[load.request]]
name = "health"
target = "grahmos"
path = "/api/health"
[[slo]]
name = "errors"
objective = "error_ratio < 50%"
[[drill]]
name = "marker"
target = "grahmos"
at = "2s"
steady_state = "1s"
timeout = "2s"
[drill.fault]
kind = "command"
inject = ["touch", "{d}/injected"]
rollback = ["rm", "{d}/injected"]
timeout = "5s"
[drill.detect]
probe = {{ kind = "http", path = "/api/health", expect_status = 200 }}
interval = "200ms"
no_alert = "test drill"
[drill.recover]
action = "rollback"
after = "100ms"
[[drill.verify]]
kind = "http"
path = "/api/health"
"#
    );
    let file = write(dir.path(), "grahmos.toml", &text);
    let child = spawn(&mut drill_cmd(&file, &dir.path().join("out"), &tmp));
    let (status, msg) = finish(child, Duration::from_secs(60), "grahmos drill");
    assert!(dir.path().join("out").join("results.json").exists(), "{status}: {msg}");
    assert!(leftovers(&tmp, "grahmos-edge-").is_empty(), "{:?}", leftovers(&tmp, "grahmos-edge-"));
}

/// The scenario name a report file names (`# gameday run: NAME`), if any.
fn report_name(md: &str) -> Option<String> {
    md.lines().next()?.split_once(": ").map(|(_, name)| name.trim().to_owned())
}

#[test]
fn a_sigkill_while_writing_never_leaves_a_mix_of_two_runs() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A first complete run: run-0.
    let first = write(dir.path(), "s.toml", &pxl_scenario("run-0", "2s"));
    let o = gameday().args(["run", first.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]).output().unwrap();
    assert!(out.join("report.md").exists(), "{}", text(&o));
    // Then runs killed at delays around the end of their load, when they write.
    // A 2 s run takes about 2.2 s, writing last: kill from 1.96 to 2.15 s (the old writer
    // left a mix in 2 of these 20 rounds).
    for i in 1..=20u32 {
        let file = write(dir.path(), "s.toml", &pxl_scenario(&format!("run-{i}"), "2s"));
        let mut child = spawn(gameday().args(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]));
        // Deliberate: the kill's moment, swept across the writing, is the case under test.
        std::thread::sleep(Duration::from_millis(1950 + 10 * u64::from(i)));
        let _ = child.kill();
        let _ = child.wait();
        let Ok(bytes) = std::fs::read(out.join("results.json")) else {
            assert!(!out.join("report.md").exists(), "round {i}: a report without its results");
            continue;
        };
        let r: Value = serde_json::from_slice(&bytes).unwrap();
        let md = std::fs::read_to_string(out.join("report.md")).unwrap_or_default();
        let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap_or_default();
        let name = r["scenario"].as_str().unwrap();
        assert_eq!(report_name(&md).as_deref(), Some(name), "round {i}: report.md of another run than results.json");
        assert!(junit.contains(name), "round {i}: junit.xml of another run than results.json ({name})");
    }
    // Nothing staged or stray is left next to or in `--out` by the killed runs, once a
    // run has completed.
    let o = gameday().args(["run", first.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let beside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(beside.is_empty(), "left next to --out: {beside:?}");
    assert!(leftovers(&out, ".tmp").is_empty(), "left in --out: {:?}", leftovers(&out, ".tmp"));
}

#[test]
fn refused_commands_create_no_out_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut text_ = pxl_scenario("refused", "2s");
    // A probe kind `run` refuses (exit 2) after its early checks.
    text_.push_str("\n[[probe]]\nname = \"att\"\nkind = \"attestation\"\ntarget = \"pxl\"\ninterval = \"1s\"\n");
    let file = write(dir.path(), "refused.toml", &text_);
    for cmd in ["run", "plan"] {
        let out = dir.path().join(format!("{cmd}-parent")).join("out");
        let o = gameday().args([cmd, file.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", text(&o));
        assert!(!out.parent().unwrap().exists(), "{cmd}: exit 2 created {}", out.display());
    }
    let out = dir.path().join("gate-parent").join("out");
    let baseline = dir.path().join("base-parent").join("b.json");
    let o = gameday()
        .args(["gate", file.to_str().unwrap(), "--baseline", baseline.to_str().unwrap(), "--update-baseline"])
        .args(["--out", out.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "gate: {}", text(&o));
    assert!(!out.parent().unwrap().exists() && !baseline.parent().unwrap().exists(), "gate: exit 2 created folders");
}
