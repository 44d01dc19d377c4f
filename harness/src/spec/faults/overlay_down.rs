//! Fault `overlay-down`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::faults::overlay_down`).

use serde::{Deserialize, Serialize};

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The PXL target (default: the drill's only embedded PXL).
    #[serde(default)]
    pub target: Option<String>,
    /// The overlay: `chrono` (default) or `v4`.
    #[serde(default)]
    pub overlay: Option<String>,
}
