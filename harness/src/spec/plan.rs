//! `[plan]`: how `gameday plan` sizes the service (plain data).

use std::time::Duration;

use gameday_mocks::kit::HumanDuration;
use gameday_mocks::TimeScale;
use serde::{Deserialize, Serialize};

/// `[plan]`: how the plan sizes the service.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlanSpec {
    /// The smallest size the search may recommend (default 1); the size is the pool the
    /// service's model sizes ([`model::size_unit`]: workers, DB connections, ...).
    pub min_size: usize,
    /// The largest size the scenario allows (default 64): a week that needs more cannot
    /// be fixed (exit 1).
    pub max_size: usize,
    /// The recommended size must hold every SLO at this multiple of the week's load
    /// (Scribe's runbook: 2).
    pub headroom: f64,
    /// And keep the weekly CPU at or under this (e.g. 0.7, the runbooks' scale-out line).
    pub target_cpu: Option<f64>,
    /// Replay weeks live (default true).
    pub live: bool,
    /// Which weeks to replay live (default: every week).
    pub live_weeks: Option<Vec<u32>>,
    /// Time scale of the live windows (default: the scenario's).
    pub live_time_scale: Option<TimeScale>,
    /// Warm-up before each live peak hour (simulated; default 15m).
    pub warmup: HumanDuration,
}

impl Default for PlanSpec {
    fn default() -> Self {
        Self {
            min_size: 1,
            max_size: 64,
            headroom: 1.0,
            target_cpu: None,
            live: true,
            live_weeks: None,
            live_time_scale: None,
            warmup: HumanDuration(Duration::from_secs(900)),
        }
    }
}
