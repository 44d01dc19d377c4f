//! gameday: a load-testing and chaos-drill harness for the runbook services.
//!
//! The library does the work; `cli` only turns flags into calls and errors into exit
//! codes. Modules, one per concern, bottom to top (the order `tests/layers.rs` holds;
//! see `ARCHITECTURE.md` at the repository root):
//! - leaves: [`invalid`] (a refused scenario value before it gets its line), [`clock`]
//!   (simulated <-> real time), [`redact`] (credentials masked in every output),
//!   [`http_guard`] (redirects and long bodies, the one loopback check);
//! - [`spec`]: each engine's and command's section of the scenario file as plain data;
//! - [`scenario`]: the scenario file model composing the specs, parsing and in-file checks;
//! - [`profile`] (mock profiles as JSON/TOML) and [`targets`] (where each service is);
//! - engines: [`load`] (the goose driver, the request mix, HDR recording into a
//!   [`load::record::Sink`]), [`observe`] (scraped series, catalogs), [`probe`] (active
//!   checks as `probe_success` series), `capacity::growth` (growth curves); the rules
//!   engine and the simulator are the crates `gameday-rules` ([`rules`]) and `gameday-sim`;
//! - [`resolve`]: cross-references that need an engine (growth, gate, drills, catalogs);
//! - [`report`]: the results core (`results.json`, each command's section through
//!   [`report::section::Extended`]), the report document and its renderers;
//! - commands: [`run`] (`gameday run` and the run pipeline with its hooks), [`merge`]
//!   (`gameday merge`), [`validate`] (`gameday validate`), [`chaos`] (faults, probes and `gameday drill`),
//!   [`gate`] (`gameday gate`), [`capacity`] (`gameday plan`), [`fleet`]
//!   (`gameday mocks`), [`rules_export`] (`gameday rules export`);
//! - [`cli`]: flags -> options -> command -> exit code.

pub mod capacity;
pub mod chaos;
pub mod cli;
pub mod clock;
pub mod fleet;
pub mod gate;
pub mod http_guard;
pub mod invalid;
pub mod load;
pub mod merge;
pub mod observe;
pub mod probe;
pub mod profile;
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
pub mod validate;

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
    /// `gameday merge` refused its inputs.
    #[error("{0}")]
    Merge(#[from] merge::MergeCmdError),
    /// An output could not be written, or an interval log given to read is not one.
    #[error("{}{}", run_failed_prefix(.0.exit()), .0)]
    Report(#[from] report::ReportError),
    /// `gameday plan` could not make a plan.
    #[error("{}{}", run_failed_prefix(.0.exit()), .0)]
    Plan(#[from] capacity::plan::PlanError),
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
            Error::Scenario(_) | Error::MockProfile(_) => Exit::Usage,
            Error::MockStart(_) | Error::Io { .. } => Exit::RunFailed,
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
            Error::Merge(e) => e.exit(),
            Error::Report(e) => e.exit(),
            Error::Plan(e) => e.exit(),
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use gameday_mocks::ServiceId;

    use super::*;

    /// Oracle: the messages and exit codes the `Error::Usage(String)` /
    /// `Error::RunFailed(String)` and `PlanError`'s `String` sites produced before they
    /// were typed.
    #[test]
    fn typed_errors_keep_their_messages_and_exit_codes() {
        let cases: Vec<(Error, &str, Exit)> = vec![
            (
                load::LoadError::Stuck { bound: Duration::from_secs(2) }.into(),
                "run failed: load did not stop within 2s",
                Exit::RunFailed,
            ),
            (
                load::LoadError::Start(load::pacing::StartError::NoUser).into(),
                "run failed: no user started",
                Exit::RunFailed,
            ),
            (
                gate::BaselineError::Schema { path: PathBuf::from("b.json"), found: None }.into(),
                "baseline b.json: field `schema_version` is none, this gameday reads 2; re-create the baseline with --update-baseline",
                Exit::Usage,
            ),
            (
                chaos::runner::DrillError::NoDrill { scenario: PathBuf::from("s.toml") }.into(),
                "s.toml: the scenario has no [[drill]]",
                Exit::Usage,
            ),
            (run::RunError::RuntimeGone.into(), "run failed: the mocks' runtime is gone", Exit::RunFailed),
            (
                run::RunError::ZeroLookback.into(),
                "--query.lookback-delta: must be longer than zero (Prometheus's default is 5m)",
                Exit::Usage,
            ),
            (
                targets::TargetError::UnusedByLoad { service: ServiceId::Pxl, url: "http://127.0.0.1:1".into() }.into(),
                "--target pxl=http://127.0.0.1:1: the scenario sends no requests to pxl",
                Exit::Usage,
            ),
            (
                fleet::FleetError::UnknownPort { name: "rpc".into(), port: 9 }.into(),
                "--port rpc=9: no started service has an endpoint `rpc`",
                Exit::Usage,
            ),
            (merge::MergeCmdError::TooFewFiles(1).into(), "merge needs at least 2 results files, got 1", Exit::Usage),
            (cli::CliError::ProfileNeedsOne.into(), "--profile needs exactly one --only SERVICE", Exit::Usage),
            (
                capacity::plan::PlanError::NoGrowth(PathBuf::from("g.toml")).into(),
                "g.toml: no [growth] table; `gameday plan` needs a growth curve",
                Exit::Usage,
            ),
            (
                capacity::plan::PlanError::SeveralServices(vec![ServiceId::Midnight, ServiceId::Pxl]).into(),
                "a plan sizes one service, but the load sends to midnight, pxl; split it into one growth scenario per service",
                Exit::Usage,
            ),
            (
                capacity::plan::PlanError::Sim(capacity::SimError::ZeroInterval).into(),
                "run failed: interval must be greater than zero",
                Exit::RunFailed,
            ),
            (
                capacity::plan::PlanError::Write(Box::new(Error::Io {
                    path: PathBuf::from("out/plan.json"),
                    source: std::io::Error::other("disk full"),
                }))
                .into(),
                "run failed: out/plan.json: disk full",
                Exit::RunFailed,
            ),
            (
                report::ReportError::NotALog {
                    path: PathBuf::from("x.hlog"),
                    found: hdrhistogram::serialization::interval_log::LogIteratorError::ParseError { offset: 0 },
                }
                .into(),
                "x.hlog: not an interval log: ParseError { offset: 0 }",
                Exit::Usage,
            ),
        ];
        for (e, message, exit) in cases {
            assert_eq!(
                e.to_string(),
                message.replace("reads 2", &format!("reads {}", report::results::SCHEMA_VERSION))
            );
            assert_eq!(e.exit(), exit, "{e}");
        }
    }

    #[test]
    fn a_refused_flag_target_names_the_flag_and_the_guard() {
        let e = targets::check_loopback(ServiceId::Midnight, "http://10.0.0.5:1", false).unwrap_err();
        let flag: Error = targets::TargetError::Flag { service: ServiceId::Midnight, reason: e }.into();
        assert_eq!(
            flag.to_string(),
            "--target midnight=...: target midnight: `http://10.0.0.5:1` is not a loopback address; gameday sends traffic only to 127.0.0.0/8, ::1 or localhost unless --allow-remote is given"
        );
        assert_eq!(flag.exit(), Exit::Usage);
    }
}
