//! Fault `enclave-crash`: the Midnight proof server process killed with SIGKILL.
//!
//! The target runs as its own process under a [`Supervisor`]; the fault SIGKILLs it (and
//! reaps it), so in-flight proofs are lost and the load sees connection errors until it
//! is back. Recovery `restart` is the supervisor's restart on the same ports, optionally
//! with `restart_profile` (the bad-enclave variant: `{ debug_mode = true }` or
//! `{ enclave_image = "..." }`), which the attestation probe must then catch. The rollback
//! makes sure a process runs again, unfrozen, with the ORIGINAL profile (idempotent).

use std::sync::Arc;

use nix::sys::signal::Signal;

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::chaos::supervisor::{with_override, Supervisor};
use crate::chaos::undo::{BoxFuture, Injected, Rollback};
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::enclave_crash::Spec;

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(spec: &Spec) -> Vec<String> {
    let target = spec.target.as_deref().unwrap_or("the process target");
    let mut steps = vec![format!("SIGKILL {target}'s process (in-flight proofs are lost)")];
    match &spec.restart_profile {
        Some(over) => {
            steps.push(format!("recovery `restart`: restart it on the same ports with profile changes {over}"))
        }
        None => steps.push("recovery `restart`: restart it on the same ports".into()),
    }
    steps.push(format!("rollback: make sure {target} runs, unfrozen, with its original profile"));
    steps
}

/// Whether the target must run as its own process: always.
pub fn needs_process(_spec: &Spec) -> bool {
    true
}

/// Checks that the process exists and runs before anything is injected.
pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError> {
    let sup = lookup::process(env, spec.target.as_deref())?;
    if let Some(over) = &spec.restart_profile {
        with_override(sup.original_profile(), over)?;
    }
    if !sup.is_running() {
        return Err(FaultError::NoTarget { target: sup.service().to_string(), what: "no such process".into() });
    }
    Ok(())
}

/// SIGKILLs the process and returns the undo (restart with the original profile).
pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError> {
    let sup = lookup::process(env, spec.target.as_deref())?;
    let pid = sup.kill(Signal::SIGKILL).await?;
    Ok(Injected {
        description: format!("SIGKILL {} pid {pid}", sup.service()),
        undo: Box::new(EnsureOriginal(Arc::clone(sup))),
    })
}

/// Runs a built-in recovery action: `restart` (with `restart_profile` if set) or `rollback`.
pub async fn recover(spec: &Spec, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
    let sup = lookup::process(env, spec.target.as_deref())?;
    match action {
        RecoveryAction::Restart => {
            let pid = match &spec.restart_profile {
                Some(over) => sup.restart_with(&with_override(sup.original_profile(), over)?).await?,
                None => sup.restart().await?,
            };
            let with = if spec.restart_profile.is_some() { " with the changed profile" } else { "" };
            Ok(format!("restarted {} as pid {pid} on {}{with}", sup.service(), sup.url()))
        }
        RecoveryAction::Rollback => {
            EnsureOriginal(Arc::clone(sup)).rollback().await?;
            Ok(format!("{} runs with its original profile as pid {:?}", sup.service(), sup.pid()))
        }
        other => {
            Err(FaultError::no_recovery("enclave-crash", sup.service().to_string(), other, "`restart` or `rollback`"))
        }
    }
}

/// The undo of a kill (or of a bad restart): a running, unfrozen process with the
/// original profile. Also the undo of [`super::freeze`]'s SIGSTOP when the process died.
pub struct EnsureOriginal(pub Arc<Supervisor>);

impl EnsureOriginal {
    fn healthy(&self) -> bool {
        let s = &self.0;
        s.is_running() && !s.is_stopped() && s.profile() == *s.original_profile()
    }
}

impl Rollback for EnsureOriginal {
    fn describe(&self) -> String {
        format!("make sure {} runs, unfrozen, with its original profile", self.0.service())
    }

    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
        Box::pin(async move {
            if self.healthy() {
                return Ok(());
            }
            self.0.restart().await.map(|_| ())
        })
    }

    /// Without a runtime: SIGCONT if stopped; a dead or wrong process is restarted from
    /// a helper thread with its own runtime (bounded by the supervisor's ready timeout).
    fn rollback_blocking(&self) -> Result<(), FaultError> {
        if self.healthy() {
            return Ok(());
        }
        if self.0.is_stopped() && self.0.profile() == *self.0.original_profile() {
            return self.0.signal(Signal::SIGCONT).map(|_| ());
        }
        let sup = Arc::clone(&self.0);
        let timeout = crate::chaos::supervisor::READY_TIMEOUT * 2;
        lookup::block_on_undo(async move { sup.restart().await.map(|_| ()) }, timeout)
    }
}
