//! Probe `acl`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::probes::acl`).

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
    /// The queries (default [`DEFAULT_QUERIES`]).
    #[serde(default)]
    pub queries: Option<Vec<String>>,
}
