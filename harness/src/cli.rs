//! Command-line interface: flags -> options -> command -> exit code, and nothing else.
//!
//! clap parses the flags into each command's options struct (`RunOptions`,
//! `DrillOptions`, `GateOptions`, `PlanCommand`, `FleetOptions`), the command runs in the
//! library and hands back its outcome, and this module prints it (tables, paths) and
//! turns it, or the typed error, into the process exit code: 0 pass; 1 SLO, gate or drill
//! failed; 2 bad usage or scenario; 3 run failed or invalid. Merging flags with the
//! scenario, staging and writing files all happen in the commands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use gameday_mocks::kit::HumanDuration;
use gameday_mocks::{PortPolicy, ServiceId, TimeScale};

use crate::chaos::runner::{self, DrillOptions, DrillRun};
use crate::fleet::{self, FleetOptions};
use crate::run::{self, RunOptions};
use crate::{targets, Error, Exit};

/// gameday: load tests and chaos drills for the runbook services.
#[derive(Debug, Parser)]
#[command(name = "gameday", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario's load against its targets and judge its SLOs (exit 0 pass, 1 fail).
    Run(RunArgs),
    /// Run a scenario and compare it with a committed baseline: the CI regression gate
    /// (exit 0 pass, 1 an SLO failed or a tracked percentile regressed, 2 bad baseline, 3 invalid run).
    Gate(GateArgs),
    /// Run a scenario's load with its [[drill]]s injected (exit 0 all pass, 1 a drill failed, 3 interrupted).
    Drill(DrillArgs),
    /// Start the embedded mocks on loopback and serve until Ctrl-C.
    Mocks(MocksArgs),
    /// Check a scenario file without running it: everything `run` (or `drill`, for a
    /// scenario with drills) would refuse before sending load (exit 0 ok, 2 refused).
    Validate {
        /// The scenario file.
        scenario: PathBuf,
        /// Accept targets that are not on loopback, as `run --allow-remote` would.
        #[arg(long)]
        allow_remote: bool,
    },
    /// Work with a scenario's rules (SLOs, alerts, triggers).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Plan capacity for a growth curve: which week breaks which SLO, when each trigger
    /// fires, what size fixes it (exit 0 fixable, 1 not within the scenario's limits).
    Plan(PlanArgs),
    /// Merge the results.json of shards of one run into one (exact HDR sums; whole-run
    /// SLOs re-judged); writes results.json and hlog/ (exit 0 pass, 1 fail, 3 invalid).
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// The shards' results.json files (at least two).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Directory for the merged results.json and hlog/ (default: out/<scenario name>-merged).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct PlanArgs {
    /// The growth scenario file (TOML with a [growth] table).
    scenario: PathBuf,
    /// Directory for plan.json, plan.svg and the live windows' results (default: out/<name>-plan).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Simulator only: skip the live peak-hour replays and the confirmation run.
    #[arg(long)]
    no_live: bool,
    /// Fit the profile's cost parameters to a table of observed weeks (CSV) and print the residuals.
    #[arg(long, value_name = "TABLE")]
    calibrate: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Write the scenario's SLOs, alerts and triggers as a Prometheus rule file.
    Export {
        /// The scenario file.
        scenario: PathBuf,
        /// Write the rule file here (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Directory for results.json (default: out/<scenario name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Point a service at a running instance: SERVICE=URL (repeatable).
    #[arg(long = "target", value_name = "SERVICE=URL", value_parser = targets::parse_override)]
    targets: Vec<(ServiceId, String)>,
    /// Allow targets that are not on loopback.
    #[arg(long)]
    allow_remote: bool,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the scenario's time scale (simulated seconds per real second, 0.001 to 10000).
    #[arg(long, allow_negative_numbers = true, value_parser = parse_time_scale)]
    time_scale: Option<f64>,
    /// How far back an instant lookup finds a scraped sample (simulated; default 5m, the
    /// scenario's `lookback_delta`), as Prometheus's flag of the same name.
    #[arg(long = "query.lookback-delta", value_name = "DURATION")]
    lookback_delta: Option<HumanDuration>,
    /// No progress output (the verdict table is still printed).
    #[arg(long, short)]
    quiet: bool,
}

impl RunArgs {
    fn options(self) -> RunOptions {
        RunOptions {
            scenario: self.scenario,
            out: self.out,
            targets: self.targets,
            allow_remote: self.allow_remote,
            seed: self.seed,
            time_scale: self.time_scale,
            lookback_delta: self.lookback_delta,
            quiet: self.quiet,
        }
    }
}

#[derive(Debug, clap::Args)]
struct GateArgs {
    #[command(flatten)]
    run: RunArgs,
    /// The baseline: a results.json of an earlier run of the same scenario (e.g.
    /// reports/baselines/NAME.json).
    #[arg(long, value_name = "FILE")]
    baseline: PathBuf,
    /// Write this run's results as the baseline instead of comparing.
    #[arg(long)]
    update_baseline: bool,
}

#[derive(Debug, clap::Args)]
struct DrillArgs {
    /// The scenario file (TOML) with one or more [[drill]] tables.
    scenario: PathBuf,
    /// Directory for results.json (default: out/<scenario name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Point a service at a running instance: SERVICE=URL (repeatable).
    #[arg(long = "target", value_name = "SERVICE=URL", value_parser = targets::parse_override)]
    targets: Vec<(ServiceId, String)>,
    /// Allow targets that are not on loopback.
    #[arg(long)]
    allow_remote: bool,
    /// Print each drill's plan (steps, commands, rollbacks) and touch nothing.
    #[arg(long)]
    dry_run: bool,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// How far back an instant lookup finds a scraped sample (simulated; default 5m).
    #[arg(long = "query.lookback-delta", value_name = "DURATION")]
    lookback_delta: Option<HumanDuration>,
    /// No progress output (the drill verdicts are still printed).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Ports {
    /// Ports chosen by the OS.
    Ephemeral,
    /// The runbooks' own ports (6300, 8001-8003, ...).
    Runbook,
}

#[derive(Debug, clap::Args)]
struct MocksArgs {
    /// Start only this service (repeatable).
    #[arg(long, value_parser = parse_service)]
    only: Vec<ServiceId>,
    /// Which ports to listen on.
    #[arg(long, value_enum, default_value_t = Ports::Ephemeral)]
    ports: Ports,
    /// Write the manifest {service: url} to this file.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Simulated seconds per real second for the mocks' service times (0.001 to 10000).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true, value_parser = parse_time_scale)]
    time_scale: f64,
    /// Seed for the mocks' random draws.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The profile of the one `--only` service: a TOML file holding what a scenario's
    /// `[targets.<service>.profile]` holds (or JSON, for a `.json` file).
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Listen on PORT for the endpoint NAME of the manifest (`midnight=6301`,
    /// `scribe-2=9002`), whatever `--ports` says (repeatable). A restarted mock keeps its URLs.
    #[arg(long = "port", value_name = "NAME=PORT", value_parser = parse_named_port)]
    fixed_ports: Vec<(String, u16)>,
    /// Die with this parent process (SIGKILL when it ends): set by a drill's supervisor.
    #[arg(long, hide = true, value_name = "PID")]
    parent_pid: Option<u32>,
}

/// A flag value clap refuses (it prints the message after the flag's name; exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// `--port` without `=`.
    #[error("`{0}`: expected NAME=PORT")]
    NoEquals(String),
    /// `--port NAME=x` where x is not a port number.
    #[error("`{given}`: port: {reason}")]
    Port {
        /// The value as given.
        given: String,
        /// Why it is not a port.
        reason: std::num::ParseIntError,
    },
    /// `--port =1` or `--port name=0`.
    #[error("`{0}`: expected NAME=PORT with a name and a port from 1 to 65535")]
    NamedPort(String),
    /// `--time-scale x` where x is not a number.
    #[error("`{0}` is not a number")]
    NotANumber(String),
    /// A time scale out of range.
    #[error("{0}")]
    TimeScale(#[from] gameday_mocks::kit::units::TimeScaleError),
    /// An unknown service.
    #[error("{0}")]
    Service(#[from] gameday_mocks::UnknownService),
}

fn parse_named_port(s: &str) -> Result<(String, u16), FlagError> {
    let (name, port) = s.split_once('=').ok_or_else(|| FlagError::NoEquals(s.to_owned()))?;
    let port: u16 = port.parse().map_err(|reason| FlagError::Port { given: s.to_owned(), reason })?;
    if name.is_empty() || port == 0 {
        return Err(FlagError::NamedPort(s.to_owned()));
    }
    Ok((name.to_owned(), port))
}

/// `--time-scale`: a number in the range [`TimeScale::new`] enforces.
fn parse_time_scale(s: &str) -> Result<f64, FlagError> {
    let v: f64 = s.trim().parse().map_err(|_| FlagError::NotANumber(s.to_owned()))?;
    Ok(TimeScale::new(v)?.factor())
}

fn parse_service(s: &str) -> Result<ServiceId, FlagError> {
    Ok(s.parse()?)
}

/// Why a command refused its inputs (exit 2) or could not write its output (exit 3),
/// besides the errors of the library calls it makes.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `gameday mocks --profile` without exactly one `--only`.
    #[error("--profile needs exactly one --only SERVICE")]
    ProfileNeedsOne,
    /// `--time-scale` out of range.
    #[error("--time-scale: {0}")]
    TimeScale(gameday_mocks::kit::units::TimeScaleError),
}

impl CliError {
    /// The exit code: refused flags are bad usage.
    pub fn exit(&self) -> Exit {
        Exit::Usage
    }
}

/// Parses the command line, runs it, and returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(Exit::Usage as u8) } else { ExitCode::SUCCESS };
        }
    };
    init_tracing();
    // First, before any thread starts: a supervised mock dies with the drill that started it.
    if let Command::Mocks(MocksArgs { parent_pid: Some(parent), .. }) = &cli.command {
        if let Err(e) = crate::chaos::supervisor::die_with_parent(*parent) {
            eprintln!("error: {e}");
            return ExitCode::from(Exit::RunFailed as u8);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::RunFailed as u8);
        }
    };
    let exit = runtime.block_on(dispatch(cli.command));
    drop(runtime);
    crate::chaos::cleanup::remove_at_exit();
    ExitCode::from(exit as u8)
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // A failed verifying handshake is counted as a load error; the verifier would also
        // log each one.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,goose=error,rustls_platform_verifier=off"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

async fn dispatch(command: Command) -> Exit {
    let long_running = matches!(
        command,
        Command::Run(_) | Command::Gate(_) | Command::Drill(_) | Command::Mocks(_) | Command::Plan(_)
    );
    if long_running {
        // Ctrl-C and SIGTERM alike: the run stops, partial results are written, exit 3.
        if let Err(e) = run::interrupt::install() {
            eprintln!("warning: cannot listen for SIGINT/SIGTERM: {e}");
        }
    }
    let result = match command {
        Command::Run(args) => run_cmd(args).await,
        Command::Gate(args) => gate_cmd(args).await,
        Command::Drill(args) => drill_cmd(args).await,
        Command::Mocks(args) => mocks_cmd(args).await,
        Command::Validate { scenario, allow_remote } => validate_cmd(&scenario, allow_remote).await,
        Command::Rules(RulesCommand::Export { scenario, out }) => rules_export_cmd(&scenario, out.as_deref()),
        Command::Plan(args) => plan_cmd(args).await,
        Command::Merge(args) => merge_cmd(&args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {}", crate::redact::scrub(&e.to_string()));
        e.exit()
    })
}

async fn run_cmd(a: RunArgs) -> Result<Exit, Error> {
    let report = run::run(&a.options()).await?;
    println!("{}", crate::report::table::render(&report.results));
    println!("results: {}", report.results_path.display());
    Ok(report.exit)
}

async fn gate_cmd(a: GateArgs) -> Result<Exit, Error> {
    let opts =
        crate::gate::GateOptions { run: a.run.options(), baseline: a.baseline, update_baseline: a.update_baseline };
    let o = crate::gate::gate(&opts).await?;
    println!("{}", crate::report::table::render(&o.results.run));
    if let Some(g) = &o.results.ext.gate {
        println!(
            "\ngate against {} (tolerance {:.0}%, false-alarm rate {})",
            g.baseline,
            g.tolerance * 100.0,
            g.false_alarm_rate
        );
        for c in &g.comparisons {
            println!("  {}", c.describe(g.tolerance, g.false_alarm_rate));
        }
    }
    if o.baseline_written {
        println!("baseline written: {}", opts.baseline.display());
    } else if opts.update_baseline {
        eprintln!("error: the run is invalid: the baseline {} was not written", opts.baseline.display());
    }
    println!("report: {}", o.out.join("report.md").display());
    Ok(o.exit)
}

fn merge_cmd(a: &MergeArgs) -> Result<Exit, Error> {
    let merged = crate::merge::merge(&a.files, a.out.as_deref())?;
    println!("{}", crate::report::table::render(&merged.results));
    println!("results: {}", merged.results_path.display());
    println!(
        "interval logs: {}; report: {}",
        merged.out.join("hlog").display(),
        merged.out.join("report.md").display()
    );
    Ok(run::exit_of(merged.results.verdict))
}

async fn plan_cmd(a: PlanArgs) -> Result<Exit, Error> {
    use crate::capacity::plan::{self, command::PlanOutcome};
    let c = plan::command::PlanCommand {
        scenario: a.scenario,
        out: a.out,
        seed: a.seed,
        calibrate: a.calibrate,
        no_live: a.no_live,
        quiet: a.quiet,
    };
    match plan::command::command(&c).await? {
        PlanOutcome::Calibrated { calibration, profile } => {
            print!("{}", plan::command::render_calibration(&calibration));
            println!("calibrated profile: {}", profile.display());
            Ok(Exit::Pass)
        }
        PlanOutcome::Planned { plan: p, out, chart, exit } => {
            print!("{}", plan::output::render(&p));
            println!("plan: {}", out.join("plan.json").display());
            if chart {
                println!("chart: {}", out.join("plan.svg").display());
            }
            println!("report: {}", out.join("report.md").display());
            Ok(exit)
        }
    }
}

async fn drill_cmd(a: DrillArgs) -> Result<Exit, Error> {
    let opts = DrillOptions {
        scenario: a.scenario,
        out: a.out,
        targets: a.targets,
        allow_remote: a.allow_remote,
        dry_run: a.dry_run,
        seed: a.seed,
        lookback_delta: a.lookback_delta,
        quiet: a.quiet,
        #[cfg(feature = "test-hooks")]
        panic_after_inject: None,
    };
    match runner::drill(&opts, run::interrupt::interrupted()).await? {
        DrillRun::DryRun(plan) => {
            println!("{plan}");
            Ok(Exit::Pass)
        }
        DrillRun::Ran(o) => {
            println!("{}", crate::report::table::render_with(&o.results.run, runner::LOAD_VERDICT_LABEL));
            println!("{}", runner::render(&o.results));
            println!("results: {}", o.results_path.display());
            Ok(o.exit)
        }
    }
}

async fn mocks_cmd(a: MocksArgs) -> Result<Exit, Error> {
    let profile = match (&a.profile, a.only.as_slice()) {
        (None, _) => None,
        (Some(path), [id]) => Some(fleet::read_profile(*id, path)?),
        (Some(_), _) => return Err(CliError::ProfileNeedsOne.into()),
    };
    let opts = FleetOptions {
        only: a.only,
        ports: match a.ports {
            Ports::Ephemeral => PortPolicy::Ephemeral,
            Ports::Runbook => PortPolicy::Runbook,
        },
        manifest: a.manifest,
        time_scale: TimeScale::new(a.time_scale).map_err(CliError::TimeScale)?,
        seed: a.seed,
        profile,
        fixed_ports: a.fixed_ports.into_iter().collect(),
    };
    fleet::serve(&opts, run::interrupt::interrupted()).await?;
    Ok(Exit::Pass)
}

async fn validate_cmd(path: &std::path::Path, allow_remote: bool) -> Result<Exit, Error> {
    let v = crate::validate::validate(path, allow_remote).await?;
    for w in &v.warnings {
        eprintln!("warning: {w}");
    }
    println!("{}", v.summary(path));
    Ok(Exit::Pass)
}

fn rules_export_cmd(path: &std::path::Path, out: Option<&std::path::Path>) -> Result<Exit, Error> {
    let export = crate::rules_export::command(path, out)?;
    for w in &export.warnings {
        eprintln!("warning: {w}");
    }
    if out.is_none() {
        print!("{}", export.yaml);
    }
    Ok(Exit::Pass)
}
