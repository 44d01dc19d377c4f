//! The spec leaf: plain data that several layers must agree on and that belongs to no
//! engine or command, kept below the scenario file model so nothing reaches up for it.

/// Prefix of the series `gameday plan` synthesises from its simulation (never scraped),
/// so rules over them pass the catalog check.
pub const PLAN_METRIC_PREFIX: &str = "gameday_plan_";
