//! Helpers shared by the integration tests: start one mock on an ephemeral loopback port,
//! run the real `gameday` binary.

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
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(bytes) = std::fs::read(path) {
            if let Ok(v) = serde_json::from_slice(&bytes) {
                return v;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no manifest at {}", path.display());
}

/// Serialises the tests that drive sustained load and measure timing (scenario runs,
/// load-engine accuracy): on a small shared machine two of them at once would each
/// measure the other.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
