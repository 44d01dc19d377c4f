//! Rules evaluated over a run's recording: for now, SLOs over the whole run.
//!
//! A verdict carries the observed value next to the objective, so a failure explains
//! itself. A rule with no data (no request of its kind was sent) fails: an SLO that was
//! never measured is never a pass.

pub mod slo;

pub use slo::{evaluate, Verdict};
