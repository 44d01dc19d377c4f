//! The targets a drill can reach: embedded mocks started with their fault hooks, mock
//! processes under a supervisor, or remote URLs (staging, command faults only).
//!
//! STUB (the lead's seam): the drill runner's owner fills in how targets are started;
//! each fault's owner adds the handle its faults need as a [`Target`] variant.

use std::collections::BTreeMap;

/// One target a drill can aim a fault at.
#[non_exhaustive]
pub enum Target {
    /// A service reached only by URL (staging): only command faults apply.
    Remote {
        /// Its base URL.
        url: String,
    },
}

/// All targets of one drill run, by the name the scenario uses (`midnight`, `grahmos`, ...).
#[derive(Default)]
pub struct DrillEnv {
    /// Targets by name.
    pub targets: BTreeMap<String, Target>,
}

impl DrillEnv {
    /// The target called `name`.
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.get(name)
    }
}
