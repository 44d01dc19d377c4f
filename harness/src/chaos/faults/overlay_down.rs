//! Fault `overlay-down`: a PXL overlay (`chrono` by default, or `v4`) taken down.
//!
//! The overlay's listener really closes (PXL's listener switch, as when its container
//! stops); the gateway's `/v1/health` then answers `degraded` naming it, while proofs
//! through the core keep working. Recovery `restore-overlay` (or `rollback`) binds the
//! same port again. The undo brings the overlay up (idempotent).

use std::time::Duration;

use gameday_mocks::services::pxl::{Component, Control};

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::chaos::undo::{BoxFuture, Injected, Rollback};
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::overlay_down::Spec;

fn overlay(spec: &Spec) -> Result<Component, FaultError> {
    let name = spec.overlay.as_deref().unwrap_or("chrono");
    Component::OVERLAYS.into_iter().find(|c| c.overlay_name() == Some(name)).ok_or_else(|| FaultError::NoTarget {
        target: "pxl".into(),
        what: format!("no overlay `{name}` (overlays: chrono, v4)"),
    })
}

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(spec: &Spec) -> Vec<String> {
    let name = spec.overlay.as_deref().unwrap_or("chrono");
    vec![
        format!("close PXL overlay {name}'s listener (the gateway reports degraded)"),
        format!("recovery `restore-overlay` and rollback: bind overlay {name} again on its port"),
    ]
}

/// Whether the target must run as its own process: no (the embedded mock's switches).
pub fn needs_process(_spec: &Spec) -> bool {
    false
}

/// Checks that PXL and the overlay exist (and the overlay is up) before anything is injected.
pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError> {
    let control = lookup::pxl(env, spec.target.as_deref())?;
    let c = overlay(spec)?;
    if !control.is_up(c) {
        return Err(FaultError::AlreadyDown(format!("PXL {}", c.label())));
    }
    Ok(())
}

/// Takes the overlay down and returns the undo (bring it up).
pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError> {
    let control = lookup::pxl(env, spec.target.as_deref())?;
    let c = overlay(spec)?;
    control.take_down(c).await?;
    Ok(Injected {
        description: format!("PXL {} down ({} closed)", c.label(), control.addr(c)),
        undo: Box::new(BringUp { control: control.clone(), component: c }),
    })
}

/// Runs a built-in recovery action: `restore-overlay` or `rollback`.
pub async fn recover(spec: &Spec, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
    let control = lookup::pxl(env, spec.target.as_deref())?;
    let c = overlay(spec)?;
    match action {
        RecoveryAction::RestoreOverlay | RecoveryAction::Rollback => {
            control.bring_up(c).await?;
            Ok(format!("PXL {} up again on {}", c.label(), control.addr(c)))
        }
        other => Err(FaultError::no_recovery("overlay-down", "pxl", other, "`restore-overlay` or `rollback`")),
    }
}

/// The undo: the overlay's listener up again.
pub struct BringUp {
    /// PXL's switches.
    pub control: Control,
    /// The overlay.
    pub component: Component,
}

impl Rollback for BringUp {
    fn describe(&self) -> String {
        format!("bring PXL {} up on {}", self.component.label(), self.control.addr(self.component))
    }

    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
        Box::pin(async move { Ok(self.control.bring_up(self.component).await?) })
    }

    fn rollback_blocking(&self) -> Result<(), FaultError> {
        let undo = BringUp { control: self.control.clone(), component: self.component };
        lookup::block_on_undo(async move { undo.rollback().await }, Duration::from_secs(10))
    }
}
