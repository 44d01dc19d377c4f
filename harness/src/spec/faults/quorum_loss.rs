//! Fault `quorum-loss`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::faults::quorum_loss`).

use serde::{Deserialize, Serialize};

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The Scribe target (default: the drill's only Scribe cluster).
    #[serde(default)]
    pub target: Option<String>,
    /// The nodes to stop (default: the leader, then the lowest-numbered followers, as
    /// many as it takes to lose the majority: 2 of 3).
    #[serde(default)]
    pub nodes: Option<Vec<String>>,
}
