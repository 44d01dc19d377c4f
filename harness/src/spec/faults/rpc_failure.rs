//! Fault `rpc-failure`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::faults::rpc_failure`).

use serde::{Deserialize, Serialize};

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The MorphSave target (default: the drill's only embedded MorphSave).
    #[serde(default)]
    pub target: Option<String>,
}
