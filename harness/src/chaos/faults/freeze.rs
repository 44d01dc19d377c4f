//! Fault `freeze`: a target process frozen with SIGSTOP (SIGCONT to undo).
//!
//! Works on any process target (a [`Supervisor`]'s child): its sockets stay open, so
//! clients connect and then hang until their timeout, unlike a crash's refused
//! connections. Recovery `rollback` sends SIGCONT; the undo does the same and is
//! idempotent (SIGCONT to a running process changes nothing).

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::chaos::supervisor::Supervisor;
use crate::chaos::undo::{BoxFuture, Injected, Rollback};
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::freeze::Spec;

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(spec: &Spec) -> Vec<String> {
    let target = spec.target.as_deref().unwrap_or("the process target");
    vec![
        format!("SIGSTOP {target}'s process (connections hang)"),
        format!("recovery `rollback` and rollback: SIGCONT {target}'s process"),
    ]
}

/// Whether the target must run as its own process: always.
pub fn needs_process(_spec: &Spec) -> bool {
    true
}

/// Checks that the process exists and runs before anything is injected.
pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError> {
    let sup = lookup::process(env, spec.target.as_deref())?;
    if !sup.is_running() {
        return Err(FaultError::NoTarget { target: sup.service().to_string(), what: "no such process".into() });
    }
    Ok(())
}

/// SIGSTOPs the process, waits (up to 2 s) until the kernel reports it stopped.
pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError> {
    let sup = lookup::process(env, spec.target.as_deref())?;
    let pid = sup.signal(Signal::SIGSTOP)?;
    let undo = Box::new(Thaw(Arc::clone(sup)));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !sup.is_stopped() {
        if tokio::time::Instant::now() >= deadline {
            let _ = undo.rollback_blocking();
            return Err(crate::chaos::fault_error::ProcessError::NotStopped(pid).into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(Injected { description: format!("SIGSTOP {} pid {pid}", sup.service()), undo })
}

/// Runs a built-in recovery action: `rollback` (SIGCONT).
pub async fn recover(spec: &Spec, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
    let sup = lookup::process(env, spec.target.as_deref())?;
    match action {
        RecoveryAction::Rollback => {
            Thaw(Arc::clone(sup)).rollback().await?;
            Ok(format!("SIGCONT {} pid {:?}", sup.service(), sup.pid()))
        }
        other => Err(FaultError::no_recovery("freeze", sup.service().to_string(), other, "`rollback`")),
    }
}

/// The undo: SIGCONT the process if it is still there.
pub struct Thaw(pub Arc<Supervisor>);

impl Rollback for Thaw {
    fn describe(&self) -> String {
        format!("SIGCONT {} pid {:?}", self.0.service(), self.0.pid())
    }

    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
        Box::pin(async move { self.rollback_blocking() })
    }

    fn rollback_blocking(&self) -> Result<(), FaultError> {
        if !self.0.is_running() {
            // Nothing frozen is left (the process is gone); a kill's undo restarts it.
            return Ok(());
        }
        self.0.signal(Signal::SIGCONT).map(|_| ())
    }
}
