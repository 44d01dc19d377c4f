//! The targets a drill can reach: embedded mocks started with their fault hooks, mock
//! processes under a supervisor, or remote URLs (staging, command faults only).
//!
//! STUB (the lead's seam): the drill runner's owner fills in how targets are started;
//! each fault's owner adds the handle its faults need as a [`Target`] variant.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::proxy::FaultProxy;
use super::targets_grahmos::GrahmosTarget;

/// One target a drill can aim a fault at.
#[non_exhaustive]
pub enum Target {
    /// A service reached only by URL (staging): only command faults apply.
    Remote {
        /// Its base URL.
        url: String,
    },
    /// The embedded Grahmos edge with a fault proxy on its backhaul
    /// ([`super::targets_grahmos::start_grahmos_target`]).
    Grahmos(Arc<GrahmosTarget>),
}

/// All targets of one drill run, by the name the scenario uses (`midnight`, `grahmos`, ...).
#[derive(Default)]
pub struct DrillEnv {
    /// Targets by name.
    pub targets: BTreeMap<String, Target>,
    /// Fault proxies the runner put in front of targets (by target name) for the
    /// `latency` fault: the load is sent through them (see
    /// [`super::faults::latency::wants_proxy`]).
    pub proxies: BTreeMap<String, Arc<FaultProxy>>,
}

impl DrillEnv {
    /// The target called `name`.
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.get(name)
    }

    /// The Grahmos target called `name`.
    pub fn grahmos(&self, name: &str) -> Option<&Arc<GrahmosTarget>> {
        match self.targets.get(name) {
            Some(Target::Grahmos(g)) => Some(g),
            _ => None,
        }
    }

    /// The fault proxy in front of target `name`, if the runner started one.
    pub fn proxy(&self, name: &str) -> Option<&Arc<FaultProxy>> {
        self.proxies.get(name)
    }
}
