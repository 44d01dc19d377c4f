//! The mock kit: what every service mock is built from.
//!
//! - [`serve`](serve::serve): run a router on an already bound listener, graceful shutdown;
//! - [`pool`]: workers, a bounded FIFO queue (503 + `Retry-After` when full), job timeout;
//! - [`service_time`]: per request kind, a seeded `rand_distr` distribution of service time;
//! - [`cpu`]: busy fraction of worker capacity over a window (the "CPU" of scaling triggers);
//! - [`metrics`]: Prometheus text exposition with the standard set plus the service's own;
//! - [`errors`]: JSON error bodies and the 404/405/413 fallbacks;
//! - [`listener`]: a listener that fault hooks really stop and restart on the same port;
//! - [`killable`]: a listener whose open connections drop at once (a killed process);
//! - [`timer`]: sub-millisecond sleeps for modelled service times;
//! - [`units`]: human durations and the time scale (simulated seconds per real second).

pub mod certs;
pub mod cpu;
pub mod errors;
pub mod killable;
pub mod listener;
pub mod metrics;
pub mod pool;
pub mod serve;
pub mod service_time;
pub mod timer;
pub mod units;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio_util::sync::CancellationToken;

pub use errors::ApiError;
pub use pool::{cpu_from_busy, JobDone, JobError, PoolConfig, PoolStats, WorkerPool};
pub use serve::{bind_loopback, serve, serve_listener, BindError, ConnLimits};
pub use service_time::{stream_seed, Sampler, ServiceStream, ServiceTime};
pub use units::{DurationError, HumanDuration, PositiveDuration, TimeScale};

/// Which ports the mocks listen on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PortPolicy {
    /// Ephemeral ports chosen by the OS (tests, parallel runs).
    #[default]
    Ephemeral,
    /// The runbooks' own ports (6300, 8001-8003, ...), failing clearly if one is taken.
    Runbook,
}

/// What every mock needs to start: the clock, the seed, where to listen, when to stop.
#[derive(Clone, Debug)]
pub struct MockContext {
    /// Simulated seconds per real second.
    pub scale: TimeScale,
    /// Seed for every random draw the mock makes.
    pub seed: u64,
    /// Address to listen on (loopback).
    pub host: IpAddr,
    /// Ephemeral or runbook ports.
    pub ports: PortPolicy,
    /// Fixed ports that win over [`PortPolicy`]: runbook port -> port to bind instead
    /// (`gameday mocks --port NAME=PORT`, so a restarted mock process keeps its URLs).
    pub fixed_ports: BTreeMap<u16, u16>,
    /// Cancelled to shut the mock down gracefully.
    pub shutdown: CancellationToken,
}

impl Default for MockContext {
    fn default() -> Self {
        Self {
            scale: TimeScale::REAL_TIME,
            seed: 0x6a6d_6461_7921,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: PortPolicy::Ephemeral,
            fixed_ports: BTreeMap::new(),
            shutdown: CancellationToken::new(),
        }
    }
}

impl MockContext {
    /// The port to bind for a service whose runbook port is `runbook_port`: its fixed port if
    /// one is set, else per the [`PortPolicy`].
    pub fn port(&self, runbook_port: u16) -> u16 {
        if let Some(&fixed) = self.fixed_ports.get(&runbook_port) {
            return fixed;
        }
        match self.ports {
            PortPolicy::Ephemeral => 0,
            PortPolicy::Runbook => runbook_port,
        }
    }

    /// A seeded RNG for one service, distinct per `salt` so services draw independently.
    pub fn rng(&self, salt: &str) -> Mutex<StdRng> {
        Mutex::new(StdRng::seed_from_u64(stream_seed(self.seed, salt)))
    }

    /// Service times of one request kind from the stream `name` (see [`ServiceStream`]).
    pub fn stream(&self, name: &str, sampler: Sampler) -> ServiceStream {
        ServiceStream::new(sampler, self.seed, name)
    }
}
