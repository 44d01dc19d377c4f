//! Fault `enclave-crash`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::faults::enclave_crash`).

use serde::{Deserialize, Serialize};

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The process target to kill (default: the drill's only process target).
    #[serde(default)]
    pub target: Option<String>,
    /// Recovery `restart` comes back with these profile fields changed (the bad-enclave
    /// variant, e.g. `{ debug_mode = true }` or `{ enclave_image = "evil:1" }`).
    #[serde(default)]
    pub restart_profile: Option<toml::Table>,
}
