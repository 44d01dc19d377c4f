//! Load generation: the request mix, the goose driver and HDR latency recording.
//!
//! - [`mix`]: weighted request kinds with templated bodies (a fresh nonce per request);
//! - [`arrival`]: seeded arrival schedules (open model) over rate curves;
//! - [`pacing`]: intended send times shared by the users, and the generator's health;
//! - [`sizing`]: how many users the open model starts (a Poisson quantile of in-flight);
//! - [`outage`]: whether a target stopped answering (an outage, not a saturated generator);
//! - [`driver`]: goose users sending the mix (open or closed model), timed by gameday;
//! - [`progress`]: the terminal progress line;
//! - [`record`]: per-user HDR histograms, no lock on the hot path, merged per interval.

pub mod driver;
pub mod mix;
pub mod outage;
pub mod pacing;
pub mod progress;
pub mod record;
pub mod sizing;

pub use driver::{run, LoadConfig, LoadError, LoadRun, Pace};
pub use gameday_core::arrival;
pub use gameday_core::intervals::{self as series, Intervals};
pub use mix::{Mix, MixError};
pub use outage::Unanswered;
pub use pacing::{Health, Kept, LateBound};
pub use record::{KindStats, Outcome, Recording};
