//! Helpers shared by the integration tests: start one mock on an ephemeral loopback port,
//! run the real `gameday` binary, skip (or under CI fail) when an external tool is
//! missing, run `promtool`, and poll until a condition holds instead of sleeping.
//!
//! Every test that needs something outside the build (a tool on PATH, a Python module, a
//! fixed port, network namespaces) decides through [`skip`]: locally it prints a
//! `SKIPPED` line naming what is missing; under `CI=true` (any `CI` other than empty or
//! `false`) it fails, because CI installs everything (`ci/test.sh`) and a test that
//! cannot run there must not pass by skipping.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gameday_mocks::kit::MockContext;
use gameday_mocks::{start, RunningService, ServiceProfile, TimeScale};

/// A started mock and the context that stops it when dropped.
pub struct Mock {
    /// The running service (its endpoints).
    pub service: RunningService,
    /// The context it was started with; cancelled on drop.
    pub ctx: MockContext,
}

impl Mock {
    /// Starts `profile` on port 0 at `scale`.
    pub async fn start(profile: ServiceProfile, scale: f64) -> Mock {
        let ctx = MockContext { scale: TimeScale::new(scale).expect("valid scale"), ..MockContext::default() };
        let service = start(profile, &ctx).await.expect("mock starts");
        Mock { service, ctx }
    }

    /// The main endpoint's base URL.
    pub fn url(&self) -> String {
        self.service.url()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
    }
}

pub fn gameday() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gameday"))
}

pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub fn run(args: &[&str]) -> Output {
    gameday().args(args).stdin(Stdio::null()).output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Waits for a manifest file to appear and parse.
pub fn wait_manifest(path: &Path) -> serde_json::Value {
    poll(&format!("a manifest at {}", path.display()), Duration::from_secs(20), || {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    })
}

/// How often [`poll`] and [`poll_async`] look again.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// Calls `ready` until it returns `Some`, at most `within` (real time); panics naming
/// `what` was awaited when it never does. Blocks the thread: for plain `#[test]`s.
#[track_caller]
pub fn poll<T>(what: &str, within: Duration, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = ready() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(POLL_EVERY);
    }
}

/// [`poll`] for async conditions on a tokio runtime: awaits `ready()` until it returns
/// `Some`, at most `within` (real time); panics naming `what` was awaited when it never does.
pub async fn poll_async<T, F>(what: &str, within: Duration, mut ready: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = ready().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Whether this run is CI's: `CI` set to anything but empty or `false`.
fn under_ci() -> Option<String> {
    std::env::var("CI").ok().filter(|ci| !ci.is_empty() && ci != "false")
}

/// Something the test needs is missing (`why` names it and how to get it): locally prints
/// a `SKIPPED` line and returns, so the caller returns; under CI it fails the test.
#[track_caller]
pub fn skip(why: &str) {
    if let Some(ci) = under_ci() {
        panic!("CI={ci}: {why} (ci/test.sh installs it); a test must not pass by skipping in CI");
    }
    eprintln!("SKIPPED: {why}");
}

/// Whether `tool` is an executable file in a directory on PATH.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// Whether every one of `tools` is on PATH; if not, [`skip`]s naming the missing ones and
/// what `for_what` they were needed for.
#[track_caller]
pub fn have_tools(tools: &[&str], for_what: &str) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !on_path(t)).collect();
    if !missing.is_empty() {
        skip(&format!("{for_what}: {} not on PATH", missing.join(", ")));
    }
    missing.is_empty()
}

/// Runs `promtool args...` with `stdin` as its standard input; `None` after [`skip`] when
/// promtool is not on PATH (Debian package `prometheus`).
#[track_caller]
pub fn promtool(args: &[&str], stdin: &str) -> Option<Output> {
    let command = args.iter().take(2).copied().collect::<Vec<_>>().join(" ");
    if !have_tools(&["promtool"], &format!("promtool {command} (Debian package `prometheus`)")) {
        return None;
    }
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool is on PATH but does not start: {e}"));
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    Some(child.wait_with_output().unwrap())
}

/// Serialises the tests that drive sustained load and measure timing (scenario runs,
/// load-engine accuracy): on a small shared machine two of them at once would each
/// measure the other.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
