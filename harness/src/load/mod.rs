//! Load generation: the request mix, the goose driver and HDR latency recording.
//!
//! - [`mix`]: weighted request kinds with templated bodies (a fresh nonce per request);
//! - [`driver`]: goose users sending the mix (closed model), timed by gameday;
//! - [`record`]: per-user HDR histograms, no lock on the hot path, merged per interval.

pub mod arrival;
pub mod driver;
pub mod mix;
pub mod record;

pub use driver::{run, Outcomes, Plan};
pub use mix::Mix;
pub use record::{KindStats, Outcome, Recording};
