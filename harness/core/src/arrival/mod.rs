//! Arrival schedules for the open model: seeded intended send times in simulated time.
//!
//! - [`Rate`]: a human rate string (`"2/s"`, `"1000/day"`);
//! - [`RateCurve`]: the target rate over the run: constant, steps, a linear ramp, an
//!   interpolated table of points, or a diurnal wave (whose mean may step, e.g. weekly
//!   in a growth plan); it gives the rate at a time, the expected count over an interval
//!   and its peak, and validates itself with errors naming the field;
//! - [`Schedule`]: the seeded iterator of intended send offsets following a curve, with
//!   Poisson (non-homogeneous, by time change) or evenly spaced ([`Process::Constant`])
//!   arrivals; drawing one allocates nothing;
//! - [`KindDraw`]: the request kind of each arrival, drawn in schedule order from one
//!   seeded stream, shared by the live pacer and the simulator.
//!
//! The TOML forms are documented in `scenarios/README.md` under `[load]`.

mod curve;
mod forms;
mod kinds;
mod piece;
mod rate;
mod schedule;

pub use curve::{CurveError, Diurnal, DiurnalMean, Point, Ramp, RateCurve, RateTable, DAY};
pub use kinds::{kinds_seed, KindDraw, Tagged, WeightsError};
pub use rate::{Rate, RateError, MAX_RATE_PER_S};
pub use schedule::{Process, Schedule};

#[cfg(test)]
mod tests;
