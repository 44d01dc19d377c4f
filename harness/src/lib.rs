//! gameday: a load-testing and chaos-drill harness for the runbook services.
//!
//! The library does the work; `cli` only turns flags into calls and errors into exit
//! codes. Modules, one per concern (see ARCHITECTURE.md):
//! - [`capacity`]: the discrete-event simulator of a service's worker pool and queueing theory;
//! - [`chaos`]: drills: faults (one file each), the drill runner and its rollback guard;
//! - [`clock`]: the virtual clock (simulated <-> real time);
//! - [`scenario`]: the scenario file model, parsing and validation;
//! - [`targets`]: where each service is (embedded mock or URL) and the loopback guard;
//! - [`http_guard`]: what every HTTP client does with redirects and long bodies;
//! - [`load`]: the goose driver, the request mix and HDR latency recording;
//! - [`observe`]: the run's time series (client-side and scraped);
//! - [`probe`]: active checks run on the run's clock and recorded as `probe_success` series;
//! - [`rules`]: SLOs, alerts and scaling triggers over the run (Prometheus semantics), and their export;
//! - [`redact`]: credentials in URLs masked in every output;
//! - [`report`]: `results.json` (written atomically) and the terminal table;
//! - [`fleet`]: `gameday mocks`, the embedded mock fleet as its own process;
//! - [`run`]: `gameday run`, tying the above together;
//! - [`gate`]: `gameday gate`, the CI regression gate (a run compared with a baseline).

pub mod capacity;
pub mod chaos;
pub mod cli;
pub mod clock;
pub mod fleet;
pub mod gate;
pub mod http_guard;
pub mod load;
pub mod observe;
pub mod probe;
pub mod redact;
pub mod report;
pub use gameday_rules as rules;
pub mod resolve;
pub mod rules_export;
#[cfg(test)]
mod rules_tests;
pub mod run;
pub mod scenario;
pub mod spec;
pub mod targets;

use std::path::PathBuf;

/// The documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every SLO, gate and drill criterion held.
    Pass = 0,
    /// An SLO, gate or drill criterion failed.
    Failed = 1,
    /// Bad usage or a bad scenario.
    Usage = 2,
    /// The run itself failed or cannot be trusted.
    RunFailed = 3,
}

/// Everything that stops gameday from producing a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario file is unusable.
    #[error("{0}")]
    Scenario(#[from] scenario::ScenarioError),
    /// A flag or target is unusable.
    #[error("{0}")]
    Usage(String),
    /// A mock's profile is unusable.
    #[error("{0}")]
    MockProfile(gameday_mocks::MockError),
    /// A mock could not start (a port in use, ...).
    #[error("{0}")]
    MockStart(gameday_mocks::MockError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The run could not be completed or produced nothing usable.
    #[error("run failed: {0}")]
    RunFailed(String),
}

impl Error {
    /// The exit code this error maps to.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Scenario(_) | Error::Usage(_) | Error::MockProfile(_) => Exit::Usage,
            Error::MockStart(_) | Error::Io { .. } | Error::RunFailed(_) => Exit::RunFailed,
        }
    }
}

impl From<gameday_mocks::MockError> for Error {
    fn from(e: gameday_mocks::MockError) -> Self {
        match e {
            gameday_mocks::MockError::Profile { .. } => Error::MockProfile(e),
            _ => Error::MockStart(e),
        }
    }
}
