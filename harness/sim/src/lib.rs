//! gameday-sim: a discrete-event simulator of a mock's worker pool, and the queueing
//! theory it is checked against. `gameday plan` runs weeks of traffic through it.
//!
//! - [`sim`]: runs a service model (the mock's own `PoolConfig` and service-time
//!   samplers) over an arrival stream in simulated time, four weeks of traffic in well
//!   under a second; see its docs for the model and what it leaves out;
//! - [`tally`]: what a simulation reports: per-kind HDR latency, ok / refused / timed-out
//!   counts, busy time (CPU), queue depth, per interval and per chosen window;
//! - [`stream`]: arrival streams from `Iterator<Item = Duration>` schedules: tag with a
//!   kind, draw kinds from weights, merge time-ordered streams;
//! - [`queueing`]: Erlang B/C, M/M/c and M/G/1 (Pollaczek-Khinchine) waits, M/M/c/K
//!   blocking.
//!
//! It depends only on the mocks (whose pool and samplers it runs) and `gameday-core`
//! (the arrival schedules it shares with the live load); see `ARCHITECTURE.md`.

pub mod queueing;
pub mod sim;
pub mod stream;
pub mod tally;

pub use sim::{simulate, KindModel, Route, SimError, SimModel, SimOptions};
pub use tally::{IntervalStats, KindCounts, KindTally, SimOutcome, SimOutput, Tally, Window, WindowTally};

#[cfg(test)]
mod theory_tests;
