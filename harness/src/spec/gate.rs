//! `[gate]`: how `gameday gate` compares a run with its baseline (plain data).

use serde::{Deserialize, Serialize};

use crate::spec::units::Ratio;

/// The scenario's `[gate]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    /// Percentiles compared per request kind (`p50`, `p90`, `p95`, `p99`, `p99.9`, `mean`, `max`).
    #[serde(default = "default_track")]
    pub track: Vec<String>,
    /// Request kinds compared (default: every kind).
    #[serde(default)]
    pub requests: Vec<String>,
    /// A slowdown up to this ratio is accepted (`"5%"`).
    #[serde(default = "default_tolerance")]
    pub tolerance: Ratio,
    /// The chance of failing a run whose true slowdown equals the tolerance (`0.01`).
    #[serde(default = "default_false_alarm_rate")]
    pub false_alarm_rate: f64,
    /// Intervals with fewer requests of a kind than this are left out (their percentile is noise).
    #[serde(default = "default_min_samples")]
    pub min_samples_per_interval: u64,
}

impl Default for GateSpec {
    fn default() -> Self {
        Self {
            track: default_track(),
            requests: Vec::new(),
            tolerance: default_tolerance(),
            false_alarm_rate: default_false_alarm_rate(),
            min_samples_per_interval: default_min_samples(),
        }
    }
}

pub(crate) fn default_track() -> Vec<String> {
    vec!["p50".into(), "p95".into(), "p99".into()]
}

pub(crate) fn default_tolerance() -> Ratio {
    Ratio(0.05)
}

pub(crate) fn default_false_alarm_rate() -> f64 {
    0.01
}

pub(crate) fn default_min_samples() -> u64 {
    20
}

/// The percentiles `track` may name: those every interval summary holds.
pub const TRACKABLE: [&str; 7] = ["p50", "p90", "p95", "p99", "p99.9", "mean", "max"];
