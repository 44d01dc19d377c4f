//! Fault `index-corruption`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::faults::index_corruption`).

use serde::{Deserialize, Serialize};

/// How the index is broken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `rm -rf current/*`.
    #[default]
    Delete,
    /// Every file overwritten with random bytes.
    Garble,
}

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The Grahmos target (default: the drill's only Grahmos target).
    #[serde(default)]
    pub target: Option<String>,
    /// How the index is broken.
    #[serde(default)]
    pub mode: Mode,
    /// Seed of the garbage (default 0).
    #[serde(default)]
    pub seed: Option<u64>,
}
