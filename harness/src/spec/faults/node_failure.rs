//! Fault `node-failure`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::faults::node_failure`).

use serde::{Deserialize, Serialize};

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The Scribe target (default: the drill's only Scribe cluster).
    #[serde(default)]
    pub target: Option<String>,
    /// The node to stop: `scribe` / `scribe-2` / `2`, or `follower` (the first node that is
    /// not the leader at injection; default: the current leader).
    #[serde(default)]
    pub node: Option<String>,
}
