//! Helpers shared by the integration tests: start one mock on an ephemeral loopback port.

use gameday_mocks::kit::MockContext;
use gameday_mocks::{start, RunningService, ServiceProfile, TimeScale};

/// A started mock and the context that stops it when dropped.
pub struct Mock {
    /// The running service (its endpoints).
    pub service: RunningService,
    /// The context it was started with; cancelled on drop.
    pub ctx: MockContext,
}

impl Mock {
    /// Starts `profile` on port 0 at `scale`.
    pub async fn start(profile: ServiceProfile, scale: f64) -> Mock {
        let ctx = MockContext { scale: TimeScale::new(scale).expect("valid scale"), ..MockContext::default() };
        let service = start(profile, &ctx).await.expect("mock starts");
        Mock { service, ctx }
    }

    /// The main endpoint's base URL.
    pub fn url(&self) -> String {
        self.service.url()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
    }
}
