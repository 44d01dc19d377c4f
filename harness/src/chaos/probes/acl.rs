//! Probe `acl`: a Grahmos tenant's query never returns another tenant's documents.
//!
//! STUB: the shape every probe has; its owner replaces the body.

use gameday_mocks::kit::HumanDuration;
use serde::{Deserialize, Serialize};

use crate::chaos::env::DrillEnv;
use crate::chaos::fault::FaultError;
use crate::chaos::probe::ProbeOutcome;

/// The probe's parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The target to probe (default: the drill's target).
    #[serde(default)]
    pub target: Option<String>,
    /// Give up (and count a failure) after this long (default 5s).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
}

/// Runs the probe once.
pub async fn check(_spec: &Spec, _target: &str, _env: &DrillEnv) -> Result<ProbeOutcome, FaultError> {
    Err(FaultError::Failed("probe `acl` is not implemented yet".to_owned()))
}
