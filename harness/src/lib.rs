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
//! - [`invalid`]: a refused scenario value (span, field, message) before it gets its line;
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
pub mod invalid;
pub mod load;
pub mod observe;
pub mod probe;
pub mod redact;
pub mod report;
pub mod rules;
pub mod run;
pub mod scenario;
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
    /// The run's targets cannot be decided.
    #[error("{0}")]
    Target(#[from] targets::TargetError),
    /// The request mix cannot be built.
    #[error("{0}")]
    Mix(#[from] load::MixError),
    /// The load did not run to its end.
    #[error("run failed: {0}")]
    Load(#[from] load::LoadError),
    /// A gate baseline cannot be used or written.
    #[error("{}{}", run_failed_prefix(.0.exit()), .0)]
    Baseline(#[from] gate::BaselineError),
    /// A drill's targets could not be started.
    #[error("{}{}", run_failed_prefix(.0.exit()), .0)]
    DrillEnv(#[from] chaos::env::EnvError),
    /// `gameday drill` stopped before a verdict.
    #[error("{}{}", run_failed_prefix(.0.exit()), .0)]
    Drill(#[from] chaos::runner::DrillError),
    /// A service's metrics could not be discovered.
    #[error("run failed: {0}")]
    Discover(#[from] observe::catalog::DiscoverError),
    /// `gameday mocks` could not start or describe the fleet.
    #[error("{}{}", run_failed_prefix(.0.exit()), .0)]
    Fleet(#[from] fleet::FleetError),
    /// `gameday run` stopped before a verdict.
    #[error("{}{}", run_failed_prefix(.0.exit()), .0)]
    Run(#[from] run::RunError),
    /// A command's flags are unusable.
    #[error("{0}")]
    Cli(#[from] cli::CliError),
}

/// What a failed run's message starts with: `run failed: ` for exit 3, else nothing.
fn run_failed_prefix(exit: Exit) -> &'static str {
    match exit {
        Exit::RunFailed => "run failed: ",
        _ => "",
    }
}

impl Error {
    /// The exit code this error maps to: an operation's error decides its own.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Scenario(_) | Error::Usage(_) | Error::MockProfile(_) => Exit::Usage,
            Error::MockStart(_) | Error::Io { .. } | Error::RunFailed(_) => Exit::RunFailed,
            Error::Target(e) => e.exit(),
            Error::Mix(e) => e.exit(),
            Error::Load(e) => e.exit(),
            Error::Baseline(e) => e.exit(),
            Error::DrillEnv(e) => e.exit(),
            Error::Drill(e) => e.exit(),
            Error::Discover(e) => e.exit(),
            Error::Fleet(e) => e.exit(),
            Error::Run(e) => e.exit(),
            Error::Cli(e) => e.exit(),
        }
    }
}

impl From<targets::LoopbackError> for Error {
    fn from(e: targets::LoopbackError) -> Self {
        Error::Target(e.into())
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
