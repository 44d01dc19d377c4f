//! The spec leaf: each engine's and command's part of the scenario file as plain serde
//! data, below the scenario file model that composes them, so nothing reaches up for a
//! type. Parsing checks only what fits in a type; cross-references are checked by
//! `resolve`, and the engines and commands own the behaviour (`impl` blocks live with
//! them).
//!
//! - [`units`]: [`units::Ratio`], [`units::Method`];
//! - [`drill`]: `[[drill]]`; [`faults`] and [`probes`]: one file per fault and probe kind;
//! - [`gate`]: `[gate]`; [`growth`]: `[growth]`; [`plan`]: `[plan]`.
//!
//! The rules' own sections (`[[slo]]`, `[[alert]]`, `[[trigger]]`) are `gameday_rules::spec`.

pub mod drill;
pub mod faults;
pub mod gate;
pub mod growth;
pub mod plan;
pub mod probes;
pub mod units;

/// Prefix of the series `gameday plan` synthesises from its simulation (never scraped),
/// so rules over them pass the catalog check.
pub const PLAN_METRIC_PREFIX: &str = "gameday_plan_";
