//! The process supervisor: one mock service as its own child process, so drills can
//! really kill it (SIGKILL), freeze it (SIGSTOP / SIGCONT) and restart it, as systemd's
//! `Restart=` would.
//!
//! The child is the real `gameday mocks --only <svc> --manifest <file> --profile <file>
//! --seed N --time-scale X`. The first start takes ephemeral ports; every restart passes
//! `--port NAME=PORT` for each endpoint of the first start, so the load keeps its URLs.
//!
//! Lifetime: the child is spawned with tokio's `kill_on_drop`, and dropping the
//! [`Supervisor`] SIGKILLs and reaps it. A gameday that is itself SIGKILLed runs none of
//! that, so the child is started with `--parent-pid <our pid>`: its first act is
//! `PR_SET_PDEATHSIG(SIGKILL)` on itself (see `gameday mocks`, [`die_with_parent`]; a
//! `pre_exec` hook would need `unsafe`, which the workspace forbids), then it checks that
//! its parent is still us. SIGKILL, not SIGTERM, because a frozen (SIGSTOPped) child acts
//! on nothing else. The kernel sends it when the parent *thread* that spawned the child
//! ends, so children are forked by [`super::spawner`]'s thread, which lives as long as
//! the process (a restart from a blocking rollback's short-lived thread was killed with it). The child's folder (`gameday-proc-<pid>-*`, [`super::cleanup`]) of a killed
//! run is removed by the next supervisor's start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use gameday_mocks::{ServiceId, ServiceProfile, TimeScale};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::fault_error::{FaultError, ProcessError};
use crate::profile::{profile_from_json, profile_to_json};

/// Environment variable naming the `gameday` binary to run mocks with, when the running
/// program is not `gameday` itself (tests, embedding).
pub const BIN_ENV: &str = "GAMEDAY_BIN";

/// How long a start or restart may take to answer `GET /health`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The `gameday` binary to start mock processes with: `$GAMEDAY_BIN` if set, else the
/// running program when it is `gameday`.
pub fn gameday_bin() -> Result<PathBuf, FaultError> {
    if let Some(bin) = std::env::var_os(BIN_ENV) {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe().map_err(ProcessError::CurrentExe)?;
    if exe.file_stem().is_some_and(|s| s == "gameday") {
        Ok(exe)
    } else {
        Err(ProcessError::NotGameday { path: exe, env: BIN_ENV }.into())
    }
}

/// The start of a supervised child's folder's name in the temporary directory.
pub const PROC_DIR_PREFIX: &str = "gameday-proc-";

/// Makes the calling process die (SIGKILL) with its parent, and checks that its parent
/// is still `parent` (it may have died before this ran). Call first thing in the child.
pub fn die_with_parent(parent: u32) -> Result<(), FaultError> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|source| FaultError::Os { what: "PR_SET_PDEATHSIG".into(), source })?;
    let now = nix::unistd::getppid();
    if u32::try_from(now.as_raw()).ok() != Some(parent) {
        return Err(ProcessError::ParentGone { parent, now }.into());
    }
    Ok(())
}

/// What to run under a [`Supervisor`].
#[derive(Clone, Debug)]
pub struct SupervisorConfig {
    /// The `gameday` binary.
    pub bin: PathBuf,
    /// The service and its profile (what a rollback restores).
    pub profile: ServiceProfile,
    /// `--seed`.
    pub seed: u64,
    /// `--time-scale`.
    pub time_scale: TimeScale,
    /// How long a start or restart may take to be healthy.
    pub ready_timeout: Duration,
}

struct Running {
    child: Option<Child>,
    pid: Option<Pid>,
    profile: ServiceProfile,
}

/// One mock service running as a child process (see the module docs).
pub struct Supervisor {
    config: SupervisorConfig,
    dir: tempfile::TempDir,
    urls: BTreeMap<String, String>,
    ports: BTreeMap<String, u16>,
    state: Mutex<Running>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("service", &self.service())
            .field("pid", &self.pid())
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

/// Starts `profile`'s service as a supervised process (with [`gameday_bin`]) and waits
/// until it is healthy: what a drill environment holds as `Target::Process`.
pub async fn start_process_target(
    profile: ServiceProfile,
    seed: u64,
    time_scale: TimeScale,
) -> Result<Arc<Supervisor>, FaultError> {
    let config = SupervisorConfig { bin: gameday_bin()?, profile, seed, time_scale, ready_timeout: READY_TIMEOUT };
    Supervisor::start(config).await.map(Arc::new)
}

impl Supervisor {
    /// Starts the service on ephemeral ports and waits until `GET /health` answers 200.
    pub async fn start(config: SupervisorConfig) -> Result<Supervisor, FaultError> {
        let dir = super::cleanup::temp_dir(PROC_DIR_PREFIX)
            .map_err(|source| FaultError::Io { path: std::env::temp_dir(), source })?;
        let profile = config.profile.clone();
        let mut sup = Supervisor {
            config,
            dir,
            urls: BTreeMap::new(),
            ports: BTreeMap::new(),
            state: Mutex::new(Running { child: None, pid: None, profile: profile.clone() }),
        };
        let urls = sup.spawn_and_wait(&profile).await?;
        sup.ports = urls
            .iter()
            .filter_map(|(name, url)| {
                let port = url::Url::parse(url).ok()?.port()?;
                Some((name.clone(), port))
            })
            .collect();
        sup.urls = urls;
        Ok(sup)
    }

    fn lock(&self) -> MutexGuard<'_, Running> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Which service runs.
    pub fn service(&self) -> ServiceId {
        self.config.profile.id()
    }

    /// The profile it was first started with (what rollbacks restore).
    pub fn original_profile(&self) -> &ServiceProfile {
        &self.config.profile
    }

    /// The profile the current (or last) process was started with.
    pub fn profile(&self) -> ServiceProfile {
        self.lock().profile.clone()
    }

    /// The current child's PID (the last one, if it has died and not been restarted).
    pub fn pid(&self) -> Option<Pid> {
        self.lock().pid
    }

    /// The main endpoint's base URL (the same across restarts).
    pub fn url(&self) -> String {
        let main = self.service().as_str();
        self.urls.get(main).or_else(|| self.urls.values().next()).cloned().unwrap_or_default()
    }

    /// Every endpoint's base URL by manifest name.
    pub fn urls(&self) -> &BTreeMap<String, String> {
        &self.urls
    }

    /// Sends `signal` to the current child. Synchronous (usable without a runtime).
    pub fn signal(&self, signal: Signal) -> Result<Pid, FaultError> {
        let pid = self.live_pid()?;
        nix::sys::signal::kill(pid, signal)
            .map_err(|source| FaultError::Os { what: format!("{signal} to pid {pid}"), source })?;
        Ok(pid)
    }

    /// Sends `signal`; after SIGKILL, also waits (up to 5 s) until the child is reaped, so
    /// its PID and ports are really gone when this returns.
    pub async fn kill(&self, signal: Signal) -> Result<Pid, FaultError> {
        let pid = self.signal(signal)?;
        if signal == Signal::SIGKILL {
            self.reap(Duration::from_secs(5)).await?;
        }
        Ok(pid)
    }

    /// Whether a child is alive (running or stopped, not exited, not a zombie).
    pub fn is_running(&self) -> bool {
        let mut st = self.lock();
        let Some(child) = st.child.as_mut() else { return false };
        match child.try_wait() {
            Ok(None) => {}
            Ok(Some(_)) | Err(_) => {
                st.child = None;
                return false;
            }
        }
        st.pid.and_then(proc_state).is_some_and(|s| s != 'Z' && s != 'X')
    }

    /// Whether the child is stopped (state `T` in `/proc/PID/stat`), as after SIGSTOP.
    pub fn is_stopped(&self) -> bool {
        self.is_running() && self.pid().and_then(proc_state).is_some_and(|s| s == 'T' || s == 't')
    }

    /// Restarts the service with its original profile on the same ports (killing the
    /// current child first if there is one) and waits until it is healthy.
    pub async fn restart(&self) -> Result<Pid, FaultError> {
        self.restart_with(&self.config.profile.clone()).await
    }

    /// Restarts the service with `profile` (e.g. the bad-PCR enclave) on the same ports.
    pub async fn restart_with(&self, profile: &ServiceProfile) -> Result<Pid, FaultError> {
        if profile.id() != self.service() {
            return Err(ProcessError::WrongProfile { service: self.service(), profile: profile.id() }.into());
        }
        if self.is_running() {
            self.signal(Signal::SIGKILL)?;
            self.reap(Duration::from_secs(5)).await?;
        }
        // A port the OS has not released yet fails the bind: retry a few times.
        let mut last = None;
        for _ in 0..5 {
            match self.spawn_and_wait(profile).await {
                Ok(_) => return self.live_pid(),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(last.unwrap_or(FaultError::Process(ProcessError::RestartFailed)))
    }

    /// Waits until `GET /health` on the main URL answers 200, up to `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), FaultError> {
        wait_healthy(&self.url(), timeout, || self.is_running()).await
    }

    fn live_pid(&self) -> Result<Pid, FaultError> {
        if !self.is_running() {
            return Err(FaultError::NoTarget {
                target: self.service().to_string(),
                what: "no such process (not running)".into(),
            });
        }
        self.pid().ok_or_else(|| FaultError::NoTarget { target: self.service().to_string(), what: "no pid".into() })
    }

    async fn reap(&self, timeout: Duration) -> Result<(), FaultError> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut st = self.lock();
                match st.child.as_mut().map(Child::try_wait) {
                    None | Some(Ok(Some(_))) | Some(Err(_)) => {
                        st.child = None;
                        return Ok(());
                    }
                    Some(Ok(None)) => {}
                }
            }
            if Instant::now() >= deadline {
                return Err(ProcessError::NotExited { pid: self.pid(), within: timeout }.into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.path().join("manifest.json")
    }

    fn command(&self, profile_file: &Path) -> Command {
        let mut cmd = Command::new(&self.config.bin);
        cmd.arg("mocks")
            .args(["--only", self.service().as_str()])
            .arg("--manifest")
            .arg(self.manifest_path())
            .arg("--profile")
            .arg(profile_file)
            .args(["--seed", &self.config.seed.to_string()])
            .args(["--time-scale", &self.config.time_scale.factor().to_string()])
            .args(["--parent-pid", &std::process::id().to_string()]);
        for (name, port) in &self.ports {
            cmd.arg("--port").arg(format!("{name}={port}"));
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).kill_on_drop(true);
        cmd
    }

    /// Spawns a child with `profile`, waits for its manifest and health; returns the manifest.
    async fn spawn_and_wait(&self, profile: &ServiceProfile) -> Result<BTreeMap<String, String>, FaultError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| FaultError::Io { path, source }
        };
        let manifest = self.manifest_path();
        match std::fs::remove_file(&manifest) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&manifest)(e)),
            _ => {}
        }
        let profile_file = self.dir.path().join("profile.json");
        let json = profile_to_json(profile).map_err(FaultError::Profile)?;
        std::fs::write(&profile_file, json.to_string()).map_err(io(&profile_file))?;
        let log = self.dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&log).map_err(io(&log))?;
        let mut cmd = self.command(&profile_file);
        cmd.stderr(Stdio::from(stderr));
        let child = super::spawner::spawn(cmd).await.map_err(io(&self.config.bin))?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok()).map(Pid::from_raw);
        {
            let mut st = self.lock();
            st.child = Some(child);
            st.pid = pid;
            st.profile = profile.clone();
        }
        let started = self.wait_started(&manifest).await;
        match started {
            Ok(urls) => Ok(urls),
            Err(e) => {
                let _ = self.signal(Signal::SIGKILL);
                let _ = self.reap(Duration::from_secs(5)).await;
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail = tail.lines().last().unwrap_or("").trim_end().to_owned();
                Err(FaultError::Child { service: self.service(), source: Box::new(e), tail })
            }
        }
    }

    async fn wait_started(&self, manifest: &Path) -> Result<BTreeMap<String, String>, FaultError> {
        let deadline = Instant::now() + self.config.ready_timeout;
        let urls = loop {
            if let Some(urls) = read_manifest(manifest) {
                break urls;
            }
            if !self.is_running() {
                return Err(ProcessError::ExitedBeforeManifest.into());
            }
            if Instant::now() >= deadline {
                return Err(ProcessError::NoManifest(self.config.ready_timeout).into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let main = self.service().as_str();
        let url = urls.get(main).cloned().unwrap_or_default();
        let left = deadline.saturating_duration_since(Instant::now());
        wait_healthy(&url, left, || self.is_running()).await?;
        Ok(urls)
    }
}

impl Drop for Supervisor {
    /// SIGKILLs the child (also when it is stopped) and reaps it, bounded to a second.
    fn drop(&mut self) {
        let mut st = self.lock();
        if let Some(mut child) = st.child.take() {
            let _ = child.start_kill();
            for _ in 0..100 {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The state letter of `/proc/PID/stat` (`R`, `S`, `T`, `Z`, ...), `None` if there is no
/// such process.
pub fn proc_state(pid: Pid) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the state follows the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().chars().next()
}

fn read_manifest(path: &Path) -> Option<BTreeMap<String, String>> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn wait_healthy(url: &str, timeout: Duration, alive: impl Fn() -> bool) -> Result<(), FaultError> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(crate::http_guard::no_redirects())
        .timeout(Duration::from_secs(1))
        .build()
        .map_err(|source| FaultError::Http { what: "HTTP client".into(), source })?;
    let deadline = Instant::now() + timeout;
    let health = format!("{}/health", url.trim_end_matches('/'));
    loop {
        let last = match client.get(&health).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!("status {}", r.status()),
            Err(e) => e.to_string(),
        };
        if !alive() {
            return Err(ProcessError::ExitedBeforeHealthy { health, last }.into());
        }
        if Instant::now() >= deadline {
            return Err(ProcessError::Unhealthy { health, within: timeout, last }.into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `profile` with the fields of `over` replaced (tables merged key by key), as a scenario's
/// `restart_profile = { debug_mode = true }` asks. Unknown fields are refused.
pub fn with_override(profile: &ServiceProfile, over: &toml::Table) -> Result<ServiceProfile, FaultError> {
    let mut base = profile_to_json(profile).map_err(FaultError::Profile)?;
    let over = serde_json::to_value(over).map_err(FaultError::RestartProfileJson)?;
    merge(&mut base, over);
    profile_from_json(profile.id(), base).map_err(FaultError::RestartProfile)
}

/// Serde tags of the profiles' enums (`service_time.* = { dist = ... }`): a table that
/// changes its tag is a different variant and replaces the base's table whole.
const TAGS: [&str; 2] = ["dist", "kind"];

fn merge(base: &mut Value, over: Value) {
    let retagged = |b: &serde_json::Map<String, Value>, o: &serde_json::Map<String, Value>| {
        TAGS.iter().any(|t| o.get(*t).is_some_and(|v| b.get(*t) != Some(v)))
    };
    match (base, over) {
        (Value::Object(b), Value::Object(o)) if !retagged(b, &o) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use gameday_mocks::services::midnight;

    #[test]
    fn proc_state_follows_the_kernel_through_stop_continue_and_reap() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
        let wait_for = |want: Option<char>| {
            for _ in 0..200 {
                if proc_state(pid) == want {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            false
        };
        assert!(wait_for(Some('S')), "a sleeping child: {:?}", proc_state(pid));
        nix::sys::signal::kill(pid, Signal::SIGSTOP).unwrap();
        assert!(wait_for(Some('T')), "stopped: {:?}", proc_state(pid));
        nix::sys::signal::kill(pid, Signal::SIGCONT).unwrap();
        assert!(wait_for(Some('S')), "continued: {:?}", proc_state(pid));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(proc_state(pid), None, "reaped");
    }

    #[test]
    fn override_changes_only_the_named_fields() {
        let base = ServiceProfile::Midnight(midnight::Profile::default());
        let over: toml::Table =
            toml::from_str("debug_mode = true\n[service_time.check]\ndist = \"fixed\"\nvalue = \"1s\"\n").unwrap();
        let ServiceProfile::Midnight(got) = with_override(&base, &over).unwrap() else { panic!("not midnight") };
        let want = midnight::Profile::default();
        assert!(got.debug_mode);
        assert_eq!(got.enclave_image, want.enclave_image);
        assert_eq!(got.service_time.check, gameday_mocks::kit::ServiceTime::fixed(Duration::from_secs(1)));
        assert_eq!(got.service_time.prove, want.service_time.prove);
        let bad: toml::Table = toml::from_str("no_such_knob = 1").unwrap();
        let err = with_override(&base, &bad).unwrap_err().to_string();
        assert!(err.contains("no_such_knob"), "{err}");
    }
}
