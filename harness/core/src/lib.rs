//! gameday-core: the data every gameday engine shares, and nothing that runs.
//!
//! - [`arrival`]: seeded arrival schedules in simulated time (rate curves, Poisson or
//!   evenly spaced arrivals, the request kind of each arrival), shared by the live pacer
//!   and the simulator so both see the same arrivals;
//! - [`outcome`]: how a request ended and the HDR latency and outcome counts of one
//!   request kind;
//! - [`intervals`]: the compact per-interval series of those stats over a run;
//! - [`series`]: scraped time series with Prometheus staleness, and [`series::RunData`],
//!   everything rules read about a run.
//!
//! It sits just above the mocks' unit types and below every engine (`gameday-rules`,
//! `gameday-sim`, the harness's `load` and `observe`); see `ARCHITECTURE.md`.

pub mod arrival;
pub mod intervals;
pub mod outcome;
pub mod series;
