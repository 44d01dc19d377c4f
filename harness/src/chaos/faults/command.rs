//! Fault `command`: staging: inject and roll back with commands the scenario names.
//!
//! `inject` and `rollback` are argument vectors run without a shell (`["kubectl",
//! "delete", "pod", "api-0"]`), each killed after `timeout`; their exit status and
//! output (truncated to [`MAX_OUTPUT_BYTES`] per stream) are kept for the report. The
//! preflight checks both programs exist and are executable before anything runs. The
//! drill's own recovery command (`[drill.recover] action = "command"`) runs through
//! [`run_command`] too.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::undo::{BoxFuture, Injected, Rollback};
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::command::Spec;

/// The most bytes of each of stdout and stderr kept for the report.
pub const MAX_OUTPUT_BYTES: usize = 4096;

/// What running one command produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// The command as run.
    pub argv: Vec<String>,
    /// Its exit code (`None`: killed by a signal, timed out, or never started).
    pub exit_code: Option<i32>,
    /// Whether it was killed at its timeout.
    pub timed_out: bool,
    /// Standard output, truncated.
    pub stdout: String,
    /// Standard error, truncated (or why it could not start).
    pub stderr: String,
    /// How long it ran, real seconds.
    pub duration_s: f64,
}

impl CommandOutput {
    /// Whether it ran to completion with exit code 0.
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// One line: the command and how it ended.
    pub fn summary(&self) -> String {
        let how = match (self.timed_out, self.exit_code) {
            (true, _) => "timed out".to_owned(),
            (false, Some(c)) => format!("exit {c}"),
            (false, None) => "did not finish".to_owned(),
        };
        let out = self.stdout.trim();
        let err = self.stderr.trim();
        let mut s = format!("`{}`: {how}", self.argv.join(" "));
        if !out.is_empty() {
            s.push_str(&format!("; stdout: {}", first_line(out)));
        }
        if !err.is_empty() {
            s.push_str(&format!("; stderr: {}", first_line(err)));
        }
        s
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn truncate(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_OUTPUT_BYTES)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > MAX_OUTPUT_BYTES {
        s.push_str(&format!("... ({} bytes more)", bytes.len() - MAX_OUTPUT_BYTES));
    }
    s
}

impl CommandOutput {
    /// `argv` before it ran: no exit code, no output.
    fn not_run(argv: &[String]) -> Self {
        Self {
            argv: argv.to_vec(),
            exit_code: None,
            timed_out: false,
            stdout: String::new(),
            stderr: String::new(),
            duration_s: 0.0,
        }
    }
}

/// Runs `argv` without a shell, killing it after `timeout`.
pub async fn run_command(argv: &[String], timeout: Duration) -> CommandOutput {
    let started = Instant::now();
    let mut out = CommandOutput::not_run(argv);
    let Some((program, args)) = argv.split_first() else {
        out.stderr = "empty command".into();
        return out;
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    match child {
        Err(e) => out.stderr = format!("cannot start `{program}`: {e}"),
        Ok(child) => match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Err(_) => out.timed_out = true,
            Ok(Err(e)) => out.stderr = format!("waiting for `{program}` failed: {e}"),
            Ok(Ok(o)) => {
                out.exit_code = o.status.code();
                out.stdout = truncate(&o.stdout);
                out.stderr = truncate(&o.stderr);
            }
        },
    }
    out.duration_s = started.elapsed().as_secs_f64();
    out
}

/// The same without a runtime (the guard's last resort): polls the child until `timeout`.
pub fn run_command_blocking(argv: &[String], timeout: Duration) -> CommandOutput {
    let started = Instant::now();
    let mut out = CommandOutput::not_run(argv);
    let Some((program, args)) = argv.split_first() else {
        out.stderr = "empty command".into();
        return out;
    };
    let spawned = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            out.stderr = format!("cannot start `{program}`: {e}");
            return out;
        }
    };
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                out.exit_code = status.code();
                break;
            }
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                out.timed_out = true;
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                out.stderr = format!("waiting for `{program}` failed: {e}");
                break;
            }
        }
    }
    out.duration_s = started.elapsed().as_secs_f64();
    out
}

/// Where `program` is: itself when it names a path, else the first match on `PATH`,
/// if it is an executable file.
pub fn find_executable(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| executable(p))
}

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(spec: &Spec) -> Vec<String> {
    let t = &spec.timeout.0;
    vec![
        format!("inject: run `{}` (no shell, killed after {t})", spec.inject.join(" ")),
        format!("rollback: run `{}` (no shell, killed after {t})", spec.rollback.join(" ")),
    ]
}

/// Whether the target must run as its own process.
pub fn needs_process(_spec: &Spec) -> bool {
    false
}

fn check_argv(role: &'static str, argv: &[String]) -> Result<(), FaultError> {
    let Some(program) = argv.first().filter(|p| !p.trim().is_empty()) else {
        return Err(FaultError::EmptyCommand(role));
    };
    if find_executable(program).is_none() {
        return Err(FaultError::NoTarget {
            target: program.clone(),
            what: format!("the `{role}` program is not an executable file (nor on PATH)"),
        });
    }
    Ok(())
}

/// Checks that both programs exist and are executable before anything is injected.
pub async fn preflight(spec: &Spec, _env: &DrillEnv) -> Result<(), FaultError> {
    check_argv("inject", &spec.inject)?;
    check_argv("rollback", &spec.rollback)
}

/// Runs the inject command; a failed command is a failed injection (then its rollback
/// command runs at once, in case it half-did something).
pub async fn inject(spec: &Spec, _env: &DrillEnv) -> Result<Injected, FaultError> {
    let timeout = spec.timeout.get();
    let out = run_command(&spec.inject, timeout).await;
    if !out.ok() {
        let undo = run_command(&spec.rollback, timeout).await;
        return Err(FaultError::InjectCommand { ran: out.summary(), undo: undo.summary() });
    }
    let undo = Box::new(CommandRollback { argv: spec.rollback.clone(), timeout, ran: Mutex::new(None) });
    Ok(Injected { description: format!("ran {}", out.summary()), undo })
}

/// The `command` fault has no built-in recovery of its own (`rollback` is the guard's).
pub async fn recover(_spec: &Spec, action: &RecoveryAction, _env: &DrillEnv) -> Result<String, FaultError> {
    Err(FaultError::no_recovery("command", String::new(), action, "\"rollback\" or \"command\""))
}

/// Runs the rollback command once; later calls are no-ops.
struct CommandRollback {
    argv: Vec<String>,
    timeout: Duration,
    ran: Mutex<Option<CommandOutput>>,
}

impl CommandRollback {
    fn finish(&self, out: CommandOutput) -> Result<(), FaultError> {
        let result = if out.ok() { Ok(()) } else { Err(FaultError::RollbackCommand(out.summary())) };
        *self.ran.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(out);
        result
    }

    fn already_ran(&self) -> bool {
        self.ran.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_some()
    }
}

impl Rollback for CommandRollback {
    fn describe(&self) -> String {
        match &*self.ran.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Some(out) => format!("ran {}", out.summary()),
            None => format!("run `{}`", self.argv.join(" ")),
        }
    }

    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
        Box::pin(async move {
            if self.already_ran() {
                return Ok(());
            }
            let out = run_command(&self.argv, self.timeout).await;
            self.finish(out)
        })
    }

    fn rollback_blocking(&self) -> Result<(), FaultError> {
        if self.already_ran() {
            return Ok(());
        }
        let out = run_command_blocking(&self.argv, self.timeout);
        self.finish(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[tokio::test]
    async fn inject_and_rollback_act_on_a_real_file_and_the_undo_runs_once() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("marker");
        let m = marker.to_str().unwrap();
        let spec = Spec {
            inject: argv(&["touch", m]),
            rollback: argv(&["rm", m]),
            timeout: crate::spec::faults::command::default_timeout(),
        };
        let env = DrillEnv::default();
        preflight(&spec, &env).await.unwrap();
        let injected = inject(&spec, &env).await.unwrap();
        assert!(marker.exists());
        injected.undo.rollback().await.unwrap();
        assert!(!marker.exists());
        // A second undo is a no-op (`rm` of a missing file would fail).
        injected.undo.rollback().await.unwrap();
        injected.undo.rollback_blocking().unwrap();
        assert!(injected.undo.describe().contains("exit 0"), "{}", injected.undo.describe());
    }

    #[tokio::test]
    async fn a_missing_program_fails_the_preflight() {
        let spec = Spec {
            inject: argv(&["no-such-program-gameday"]),
            rollback: argv(&["true"]),
            timeout: crate::spec::faults::command::default_timeout(),
        };
        let e = preflight(&spec, &DrillEnv::default()).await.unwrap_err();
        assert!(e.to_string().contains("no-such-program-gameday"), "{e}");
    }

    #[tokio::test]
    async fn a_slow_command_is_killed_at_its_timeout_and_output_is_kept() {
        let out = run_command(&argv(&["sleep", "5"]), Duration::from_millis(200)).await;
        assert!(out.timed_out && !out.ok());
        assert!(out.duration_s < 4.0, "{}", out.duration_s);
        let out = run_command(&argv(&["sh", "-c", "echo hello; echo oops >&2; exit 3"]), Duration::from_secs(5)).await;
        assert_eq!((out.exit_code, out.stdout.trim(), out.stderr.trim()), (Some(3), "hello", "oops"));
        let out = run_command_blocking(&argv(&["sleep", "5"]), Duration::from_millis(200));
        assert!(out.timed_out);
    }

    #[tokio::test]
    async fn a_failed_inject_runs_the_rollback_command() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("undone");
        let spec = Spec {
            inject: argv(&["false"]),
            rollback: argv(&["touch", marker.to_str().unwrap()]),
            timeout: crate::spec::faults::command::default_timeout(),
        };
        let e = inject(&spec, &DrillEnv::default()).await.unwrap_err();
        assert!(e.to_string().contains("inject command failed"), "{e}");
        assert!(marker.exists());
    }
}
