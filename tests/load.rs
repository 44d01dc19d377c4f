//! The load engine end to end through the real binary: coordinated omission, latency
//! accuracy against known service-time distributions, and generator saturation.
//!
//! Oracles: a mock process really stopped with SIGSTOP for a known time (so the share of
//! requests that must have waited is known), the service-time distribution's own
//! quantiles (fixed 20 ms; exponential mean 20 ms, p99 = 20 ms x ln 100), and a rate
//! this machine cannot send.

use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::common::{gameday, heavy, run, text, wait_manifest, write};

mod outage;

/// A scenario of one request kind at time scale 1.
fn one_request(load: &str, path: &str, extra: &str) -> String {
    format!(
        r#"
name = "load-test"
seed = 11
time_scale = 1.0
{extra}
[load]
{load}
request_timeout = "10s"

[[load.request]]
name = "req"
target = "midnight"
method = "{method}"
path = "{path}"
{body}
"#,
        method = if path == "/attestation" { "POST" } else { "GET" },
        body = if path == "/attestation" { r#"body = '{"nonce":"{{nonce}}"}'"# } else { "" },
    )
}

/// Runs a scenario through the binary; returns exit code, output and results.json.
fn run_scenario(dir: &Path, name: &str, text_: &str, extra_args: &[&str]) -> (Option<i32>, String, Value) {
    let file = write(dir, &format!("{name}.toml"), text_);
    let out = dir.join(name);
    let mut args = vec!["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra_args);
    let o = run(&args);
    let results = std::fs::read(out.join("results.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
    (o.status.code(), text(&o), results.unwrap_or(Value::Null))
}

/// `run_scenario` for a run whose figures a test checks: a run the tool itself declared
/// not a measurement (exit 3, "generator saturated": a busy machine delayed the sends)
/// is repeated, up to three attempts. The oracles and tolerances stay as they are; only
/// a run the tool says is invalid is not judged.
fn run_measured(dir: &Path, name: &str, text_: &str, extra_args: &[&str]) -> (Option<i32>, String, Value) {
    let mut attempt = run_scenario(dir, name, text_, extra_args);
    for _ in 1..3 {
        if attempt.0 != Some(3) || !attempt.1.contains("generator saturated") {
            break;
        }
        eprintln!("{name}: generator saturated on this machine; running again");
        attempt = run_scenario(dir, name, text_, extra_args);
    }
    attempt
}

/// The request kind's latency statistic (`p50`, `p99`, `mean`, `max`) in milliseconds.
fn ms(results: &Value, stat: &str) -> f64 {
    results["requests"][0]["latency_ms"][stat].as_f64().unwrap_or_else(|| panic!("no {stat} in {results}"))
}

/// A Midnight mock in its own process, stopped with SIGSTOP for `stall` every `every`
/// while a stall thread runs; always resumed and killed on drop.
struct StallingMock {
    child: Child,
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StallingMock {
    fn start(dir: &Path) -> Self {
        let manifest = dir.join("manifest.json");
        let child = gameday()
            .args(["mocks", "--only", "midnight", "--manifest", manifest.to_str().unwrap()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let url = wait_manifest(&manifest)["midnight"].as_str().unwrap().to_owned();
        Self { child, url, stop: Arc::new(AtomicBool::new(false)), thread: None }
    }

    fn stall(&mut self, stall: Duration, every: Duration) {
        let pid = Pid::from_raw(self.child.id() as i32);
        let stop = Arc::clone(&self.stop);
        self.thread = Some(std::thread::spawn(move || {
            // Bounded: at most 20 cycles, and stops when told.
            for _ in 0..20 {
                if sleep_unless(&stop, every - stall) {
                    break;
                }
                kill(pid, Signal::SIGSTOP).unwrap();
                let stopped = sleep_unless(&stop, stall);
                kill(pid, Signal::SIGCONT).unwrap();
                if stopped {
                    break;
                }
            }
        }));
    }

    fn calm(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.stop.store(false, Ordering::SeqCst);
    }
}

/// Sleeps `d` in small steps; true when `stop` was set meanwhile.
fn sleep_unless(stop: &AtomicBool, d: Duration) -> bool {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

impl Drop for StallingMock {
    fn drop(&mut self) {
        self.calm();
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn open_model_latency_shows_server_stalls_that_a_closed_model_hides() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let mut mock = StallingMock::start(dir.path());
    let target = format!("midnight={}", mock.url);
    let args = ["--target", target.as_str()];
    let open = one_request("rate = \"100/s\"\narrivals = \"constant\"\nduration = \"20s\"", "/health", "");
    let closed = one_request("users = 2\nthink_time = \"20ms\"\nduration = \"20s\"", "/health", "");

    // Without stalls: a loopback /health answers in about a millisecond.
    let (code, out, calm) = run_measured(dir.path(), "open-calm", &open, &args);
    assert_eq!(code, Some(0), "{out}");
    assert!(ms(&calm, "p99") < 20.0, "calm p99 {} ms", ms(&calm, "p99"));

    // Stalled 1 s in every 10 s: 10% of the intended sends fall in a stall and wait up to
    // 1 s, so the 99th percentile sits high in that second (>= 500 ms).
    mock.stall(Duration::from_secs(1), Duration::from_secs(10));
    let (code, out, open_stalled) = run_measured(dir.path(), "open-stalled", &open, &args);
    assert_eq!(code, Some(0), "{out}");
    let p99 = ms(&open_stalled, "p99");
    assert!(p99 >= 500.0, "open-model p99 {p99} ms does not show the stalls");
    mock.calm();

    // The closed model under the same stalls: its 2 users wait out each stall, so only
    // a handful of requests see it: the maximum shows a stall, the p99 does not.
    mock.stall(Duration::from_secs(1), Duration::from_secs(10));
    let (code, out, closed_stalled) = run_measured(dir.path(), "closed-stalled", &closed, &args);
    assert_eq!(code, Some(0), "{out}");
    let (p99, max) = (ms(&closed_stalled, "p99"), ms(&closed_stalled, "max"));
    assert!(max >= 500.0, "the closed users never hit a stall (max {max} ms)");
    assert!(p99 < 100.0, "closed-model p99 {p99} ms: expected the stalls hidden");
}

#[test]
fn reported_latency_matches_known_service_time_distributions() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let fixed = one_request(
        "rate = \"100/s\"\nduration = \"15s\"",
        "/attestation",
        "[targets.midnight.profile.service_time.attestation]\ndist = \"fixed\"\nvalue = \"20ms\"\n",
    );
    let (code, out, r) = run_measured(dir.path(), "fixed", &fixed, &[]);
    assert_eq!(code, Some(0), "{out}");
    let p50 = ms(&r, "p50");
    assert!((p50 - 20.0).abs() <= 20.0 * 0.02 + 1.0, "fixed 20 ms: p50 {p50} ms");

    // Exponential, mean 20 ms: mean 20 ms and p99 = 20 ms x ln(100) = 92.1 ms.
    let exp = one_request(
        "rate = \"300/s\"\nduration = \"20s\"",
        "/attestation",
        "[targets.midnight.profile.service_time.attestation]\ndist = \"exponential\"\nmean = \"20ms\"\n",
    );
    let (code, out, r) = run_measured(dir.path(), "exponential", &exp, &[]);
    assert_eq!(code, Some(0), "{out}");
    // What the client measures is the service time plus the HTTP round trip; the fixed
    // run above measured that round trip on this machine (its p50 minus 20 ms), so the
    // oracle is the theory plus that measured overhead, not a wider tolerance.
    let overhead = (p50 - 20.0).max(0.0);
    let (mean, p99) = (ms(&r, "mean") - overhead, ms(&r, "p99") - overhead);
    let p99_expected = 20.0 * 100f64.ln();
    assert!(
        (mean - 20.0).abs() <= 20.0 * 0.05,
        "exponential mean {mean} ms net of {overhead} ms overhead, expected 20 ms"
    );
    assert!(
        (p99 - p99_expected).abs() <= p99_expected * 0.05,
        "exponential p99 {p99} ms net of {overhead} ms overhead, expected {p99_expected:.1}"
    );
}

#[test]
fn asking_for_more_than_the_generator_can_send_is_invalid_not_a_pass() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let s = one_request("rate = \"200000/s\"\nmax_users = 8\nduration = \"3s\"", "/health", "");
    let (code, out, r) = run_scenario(dir.path(), "saturated", &s, &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("generator saturated"), "{out}");
    assert_eq!(r["verdict"], "invalid", "{r}");
    let g = &r["generator"];
    assert_eq!(g["saturated"], true, "{g}");
    let achieved = g["achieved_rate"].as_f64().unwrap();
    assert!(achieved < 200_000.0 * 0.5, "it claims to have sustained {achieved}/s");
}
