//! Probe `canary`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::probes::canary`).

use gameday_mocks::kit::HumanDuration;
use serde::{Deserialize, Serialize};

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
    /// The query (default: the runbook's `canary test`).
    #[serde(default)]
    pub query: Option<String>,
}
