//! Probe `tls`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::probes::tls`).

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
    /// The served certificate must stay valid at least this long (default 0: not expired).
    #[serde(default)]
    pub min_valid: Option<HumanDuration>,
}
