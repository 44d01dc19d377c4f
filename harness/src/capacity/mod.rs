//! Capacity planning's engines: a discrete-event simulator of a mock's worker pool and
//! the queueing theory it is checked against.
//!
//! - [`sim`]: runs a service model (the mock's own `PoolConfig` and service-time
//!   samplers) over an arrival stream in simulated time, four weeks of traffic in well
//!   under a second; see its docs for the model and what it leaves out;
//! - [`tally`]: what a simulation reports: per-kind HDR latency, ok / refused / timed-out
//!   counts, busy time (CPU), queue depth, per interval and per chosen window;
//! - [`stream`]: arrival streams from `Iterator<Item = Duration>` schedules: tag with a
//!   kind, draw kinds from weights, merge time-ordered streams;
//! - [`queueing`]: Erlang B/C, M/M/c and M/G/1 (Pollaczek-Khinchine) waits, M/M/c/K
//!   blocking;
//! - [`lsq`]: a small bounded Levenberg-Marquardt least-squares solver;
//! - [`calibrate`]: `gameday plan --calibrate TABLE`: observed weeks in, a profile with
//!   fitted `base_cpu` and cost scale out, residuals per week;
//! - [`fit`]: Erlang C and Universal Scalability Law models fitted to points, to
//!   extrapolate with the fit error shown.
//!
//! - [`growth`]: `[growth]` curves: weekly volumes on a daily wave, spikes;
//! - [`plan`]: `gameday plan`: the simulated horizon, live peak hours, triggers, the size search.

pub mod calibrate;
pub mod fit;
pub mod growth;
pub mod lsq;
pub mod plan;
pub mod queueing;
pub mod sim;
pub mod stream;
pub mod tally;

pub use sim::{simulate, KindModel, Route, SimError, SimModel, SimOptions};
pub use tally::{IntervalStats, KindCounts, KindTally, SimOutcome, SimReport, Tally, Window, WindowTally};

#[cfg(test)]
mod theory_tests;
