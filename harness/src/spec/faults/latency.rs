//! Fault `latency`: its parameters as the scenario writes them (plain data; the
//! engine is `chaos::faults::latency`).

use gameday_mocks::kit::HumanDuration;
use serde::{Deserialize, Serialize};

/// Which link gets the latency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Link {
    /// Between the load and the target (the runner's front proxy).
    #[default]
    Front,
    /// Between a Grahmos edge and its upstream.
    Upstream,
}

/// Per chunk or per connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PerSpec {
    /// Every chunk.
    #[default]
    Chunk,
    /// The first chunk of each connection.
    Connection,
}

/// Which direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamSpec {
    /// Requests.
    Upstream,
    /// Answers (default).
    #[default]
    Downstream,
    /// Both.
    Both,
}

/// The fault's parameters, as the scenario's `[drill.fault]` gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The target (default: the only proxied target, or the only Grahmos target).
    #[serde(default)]
    pub target: Option<String>,
    /// Which link.
    #[serde(default)]
    pub link: Link,
    /// The added delay.
    pub latency: HumanDuration,
    /// Uniform spread around it.
    #[serde(default)]
    pub jitter: Option<HumanDuration>,
    /// Per chunk or per connection.
    #[serde(default)]
    pub per: PerSpec,
    /// Which direction.
    #[serde(default)]
    pub stream: StreamSpec,
    /// Share of connections affected (default 1).
    #[serde(default)]
    pub toxicity: Option<f64>,
}
