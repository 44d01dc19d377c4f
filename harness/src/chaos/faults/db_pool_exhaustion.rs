//! Fault `db-pool-exhaustion`: MorphSave's database pool held until exhausted.
//!
//! STUB: the shape every fault has (see [`crate::chaos::fault`]); its owner replaces the bodies.

use serde::{Deserialize, Serialize};

use crate::chaos::env::DrillEnv;
use crate::chaos::fault::{FaultError, Injected, RecoveryAction};

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {}

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn plan(_spec: &Spec) -> Vec<String> {
    vec!["db-pool-exhaustion: not implemented yet".to_owned()]
}

/// Whether the target must run as its own process.
pub fn needs_process(_spec: &Spec) -> bool {
    false
}

/// Checks that the target exists before anything is injected.
pub async fn preflight(_spec: &Spec, _env: &DrillEnv) -> Result<(), FaultError> {
    Err(FaultError::Failed("fault `db-pool-exhaustion` is not implemented yet".to_owned()))
}

/// Injects the fault and returns its undo.
pub async fn inject(_spec: &Spec, _env: &DrillEnv) -> Result<Injected, FaultError> {
    Err(FaultError::Failed("fault `db-pool-exhaustion` is not implemented yet".to_owned()))
}

/// Runs a built-in recovery action for this fault.
pub async fn recover(_spec: &Spec, action: &RecoveryAction, _env: &DrillEnv) -> Result<String, FaultError> {
    Err(FaultError::Unsupported {
        fault: "db-pool-exhaustion".to_owned(),
        target: String::new(),
        why: format!("no built-in recovery `{}`", action.name()),
    })
}
