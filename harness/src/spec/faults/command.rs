//! Fault `command`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::faults::command`).

use std::time::Duration;

use gameday_mocks::kit::{HumanDuration, PositiveDuration};
use serde::{Deserialize, Serialize};

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The command that injects the fault: program and arguments (no shell).
    pub inject: Vec<String>,
    /// The command that undoes it.
    pub rollback: Vec<String>,
    /// Each command is killed after this long (real time; default 1m).
    #[serde(default = "default_timeout")]
    pub timeout: PositiveDuration,
}

pub(crate) fn default_timeout() -> PositiveDuration {
    PositiveDuration(HumanDuration(Duration::from_secs(60)))
}
