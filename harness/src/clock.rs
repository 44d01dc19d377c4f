//! The virtual clock: simulated time <-> real time for one run.
//!
//! Every duration in a scenario is simulated time; `time_scale` is simulated seconds per
//! real second. Load divides simulated waits by it, mocks divide service times by it,
//! and measured real latencies are multiplied by it before they are recorded, so SLOs,
//! reports and rules all read simulated time.

use std::time::{Duration, SystemTime};

use gameday_mocks::TimeScale;
use tokio::time::Instant;

/// The clock of one run: its scale and its start.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    scale: TimeScale,
    start: Instant,
}

impl Clock {
    /// A clock that starts now.
    pub fn start(scale: TimeScale) -> Self {
        Self { scale, start: Instant::now() }
    }

    /// A clock whose time zero is `start` (e.g. a moment after the users are up).
    pub fn starting_at(scale: TimeScale, start: Instant) -> Self {
        Self { scale, start }
    }

    /// The scale.
    pub fn scale(&self) -> TimeScale {
        self.scale
    }

    /// The real instant the clock started.
    pub fn started(&self) -> Instant {
        self.start
    }

    /// The wall-clock time of this clock's zero (simulated time 0), read now from the
    /// monotonic clock's elapsed time (the Unix epoch if the system clock is earlier).
    pub fn zero_wall(&self) -> SystemTime {
        SystemTime::now().checked_sub(self.start.elapsed()).unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// The real duration a simulated one takes.
    pub fn to_real(&self, sim: Duration) -> Duration {
        self.scale.to_real(sim)
    }

    /// The simulated duration a real one stands for.
    pub fn to_sim(&self, real: Duration) -> Duration {
        self.scale.to_sim(real)
    }
}
