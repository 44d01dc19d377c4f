//! Capacity planning: `gameday plan` and the fitting engines it uses. The discrete-event
//! simulator and the queueing theory it is checked against are the `gameday-sim` crate
//! (re-exported here as [`sim`], [`tally`], [`stream`] and [`queueing`]).
//!
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

pub use gameday_sim::{queueing, sim, stream, tally};
pub use gameday_sim::{simulate, KindModel, Route, SimError, SimModel, SimOptions};
pub use gameday_sim::{IntervalStats, KindCounts, KindTally, SimOutcome, SimOutput, Tally, Window, WindowTally};
