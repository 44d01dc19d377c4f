//! Fault `freeze`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::faults::freeze`).

use serde::{Deserialize, Serialize};

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The process target to freeze (default: the drill's only process target).
    #[serde(default)]
    pub target: Option<String>,
}
