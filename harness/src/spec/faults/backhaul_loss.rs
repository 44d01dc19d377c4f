//! Fault `backhaul-loss`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::faults::backhaul_loss`).

use gameday_mocks::kit::HumanDuration;
use serde::{Deserialize, Serialize};

/// How the link fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Packets vanish: connections hang.
    #[default]
    Blackhole,
    /// Connections are reset.
    Reset,
    /// A fraction of connections is lost.
    Loss,
}

/// Where the fault is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Toxics on the in-process fault proxy.
    #[default]
    Proxy,
    /// `tc netem` on a veth pair in a network namespace the run creates (root only).
    Netns,
}

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The Grahmos target (default: the drill's only Grahmos target).
    #[serde(default)]
    pub target: Option<String>,
    /// How the link fails.
    #[serde(default)]
    pub mode: Mode,
    /// With `mode = "loss"`: the share of connections lost, 0 < f <= 1.
    #[serde(default)]
    pub fraction: Option<f64>,
    /// Latency added to the link's answers meanwhile.
    #[serde(default)]
    pub latency: Option<HumanDuration>,
    /// Spread (uniform ±) of that latency.
    #[serde(default)]
    pub jitter: Option<HumanDuration>,
    /// Where the fault is applied.
    #[serde(default)]
    pub backend: Backend,
}
