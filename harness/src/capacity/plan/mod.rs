//! `gameday plan`: replay a growth curve through the simulator (the whole horizon) and
//! against the live mock (each week's peak hour), and answer the planning questions:
//! per week the load, CPU, latency, queue and each SLO's verdict; when each scaling
//! trigger first fires; the first week that breaches each SLO; and the size that keeps
//! every SLO with the scenario's headroom, confirmed by one live run.
//!
//! - [`chart`]: the `plan.svg` chart;
//! - [`command`]: the command end to end (staging, files, exit code);
//! - [`model`]: the sized service's simulator model and the arrival stream;
//! - [`weeks`]: one week's figures and SLO verdicts;
//! - [`triggers`]: the scenario's triggers over the simulated horizon (rules engine);
//! - [`recommend`]: the size search;
//! - [`live`]: live replay of a week's peak hour;
//! - [`output`]: `plan.json` and the terminal table.

pub mod chart;
pub mod command;
pub mod extrapolate;
pub mod live;
pub mod model;
pub mod output;
pub mod recommend;
pub mod report;
pub mod triggers;
pub mod weeks;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gameday_mocks::ServiceId;

use crate::capacity::calibrate::CalibrateError;
use crate::capacity::growth::{Growth, GrowthError};
use crate::capacity::sim::{simulate, SimError, SimOptions};
use crate::load::arrival::{CurveError, RateError, WeightsError};
use crate::scenario::Scenario;

use self::output::{CapacityPlan, WeekRow};
use self::weeks::SimWeek;
pub use crate::spec::plan::PlanSpec;

/// Why a plan could not be made. The variant decides the exit code ([`PlanError::exit`]).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The scenario has no `[growth]` table.
    #[error("{}: no [growth] table; `gameday plan` needs a growth curve", .0.display())]
    NoGrowth(PathBuf),
    /// The growth curve is unusable.
    #[error("{0}")]
    Growth(#[from] GrowthError),
    /// A week's rate or wave cannot be built from the growth curve.
    #[error("growth: {0}")]
    GrowthCurve(#[from] CurveError),
    /// A week's mean rate is not a rate.
    #[error("growth: {0}")]
    GrowthRate(#[source] RateError),
    /// The mix sends to more than one service.
    #[error(
        "a plan sizes one service, but the load sends to {}; split it into one growth scenario per service",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    SeveralServices(Vec<ServiceId>),
    /// The sized service is a URL, not the embedded mock.
    #[error(
        "targets.{0}: a plan models the embedded mock's profile; remove `url` (live windows run against the embedded mock)"
    )]
    NotEmbedded(ServiceId),
    /// The service's profile cannot be modelled.
    #[error("targets.{service}.profile: {source}")]
    Profile {
        /// The service.
        service: ServiceId,
        /// Why the simulator refused it.
        #[source]
        source: SimError,
    },
    /// A live window's scenario has no rate (the plan builds it with one).
    #[error("live window without a rate")]
    NoRate,
    /// A live window's request weights are unusable.
    #[error("{0}")]
    Kinds(#[source] WeightsError),
    /// A live window's run refused its input (exit 2; other run failures are noted in
    /// the plan as "not measured").
    #[error("{0}")]
    LiveWindow(#[source] Box<crate::Error>),
    /// The calibration table or fit failed.
    #[error("{0}")]
    Calibrate(#[from] CalibrateError),
    /// A calibration week's volume is not a rate.
    #[error("{}: {source}", .table.display())]
    Volume {
        /// The calibration table.
        table: PathBuf,
        /// Why.
        #[source]
        source: RateError,
    },
    /// Calibration asked of a scenario whose service is not Midnight.
    #[error("calibration fits the Midnight profile")]
    NotMidnight,
    /// The simulator refused its input.
    #[error("{0}")]
    Sim(#[from] SimError),
    /// `plan.json` could not be serialised.
    #[error("plan.json: {0}")]
    Serialise(#[source] serde_json::Error),
    /// An output file could not be written.
    #[error("{0}")]
    Write(#[source] Box<crate::Error>),
    /// The plan's chart could not be drawn.
    #[error("{0}")]
    Chart(#[source] Box<chart::PlanChartError>),
    /// The calibrated profile cannot be written as TOML.
    #[error("profile: {0}")]
    CalibratedProfile(#[source] toml::ser::Error),
}

impl PlanError {
    /// The exit code: a scenario or table the plan cannot use is bad usage (2); a
    /// simulator or output failure fails the run (3).
    pub fn exit(&self) -> crate::Exit {
        use crate::Exit;
        match self {
            Self::LiveWindow(e) => e.exit(),
            Self::Sim(_) | Self::Serialise(_) | Self::Write(_) | Self::Chart(_) | Self::CalibratedProfile(_) => {
                Exit::RunFailed
            }
            Self::NoGrowth(_)
            | Self::Growth(_)
            | Self::GrowthCurve(_)
            | Self::GrowthRate(_)
            | Self::SeveralServices(_)
            | Self::NotEmbedded(_)
            | Self::Profile { .. }
            | Self::NoRate
            | Self::Kinds(_)
            | Self::Calibrate(_)
            | Self::Volume { .. }
            | Self::NotMidnight => Exit::Usage,
        }
    }
}

/// What `gameday plan` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Output directory (as results name it).
    pub out: PathBuf,
    /// Where the live windows are written now (a staging folder that becomes `out`);
    /// `None`: `out` itself.
    pub write_to: Option<PathBuf>,
    /// Skip the live windows.
    pub no_live: bool,
    /// No progress output.
    pub quiet: bool,
}

impl PlanOptions {
    /// Where files go now: [`PlanOptions::write_to`], else `out`.
    pub fn write_dir(&self) -> &Path {
        self.write_to.as_deref().unwrap_or(&self.out)
    }
}

/// Makes the plan for a growth scenario (stopping before the next live window once
/// interrupted: Ctrl-C, SIGTERM).
pub async fn plan(s: &Scenario, opts: &PlanOptions) -> Result<CapacityPlan, PlanError> {
    let spec = s.plan.clone();
    let growth = growth_of(s)?;
    let svc = model::service(s)?;
    let started = Instant::now();
    let (sim_weeks, report_events) = simulate_horizon(s, &svc, &growth)?;
    let report = &report_events;
    let (triggers, alerts) = triggers::judge(s, svc.id, &growth, report, &sim_weeks, svc.base_cpu);
    let sim_wall = started.elapsed();
    let mut rows: Vec<WeekRow> = sim_weeks.into_iter().map(WeekRow::from_sim).collect();
    for row in &mut rows {
        row.recommended = Some(recommend::recommend(s, &svc, &growth, &spec, &row.sim)?);
    }
    if spec.live && !opts.no_live {
        live_weeks(s, &svc, &growth, &spec, opts, &mut rows).await?;
    }
    let confirmation = confirm(s, &svc, &growth, &spec, opts, &rows).await?;
    let target_cpu = spec.target_cpu.unwrap_or(1.0);
    let extrapolation = extrapolate::extrapolate(s, &svc, &rows.iter().map(|r| &r.sim).collect::<Vec<_>>(), target_cpu);
    let mut out = CapacityPlan::new(s, &svc, &growth, rows, triggers, alerts, confirmation, report.events, sim_wall);
    match extrapolation {
        Ok(x) => out.extrapolation = Some(x),
        Err(why) => out.extrapolation_note = Some(why.to_string()),
    }
    Ok(out)
}

/// The validated growth curve of a scenario.
pub fn growth_of(s: &Scenario) -> Result<Growth, PlanError> {
    let spec = s.growth.as_ref().ok_or_else(|| PlanError::NoGrowth(s.origin.file.clone()))?;
    Ok(Growth::new(spec, &s.load.requests)?)
}

/// The whole horizon at the scenario's size: one [`SimWeek`] per week.
fn simulate_horizon(
    s: &Scenario,
    svc: &model::Service,
    growth: &Growth,
) -> Result<(Vec<SimWeek>, crate::capacity::SimOutput), PlanError> {
    let all: Vec<u32> = growth.weeks.iter().map(|w| w.week).collect();
    let windows = weeks::windows(growth, &all, Duration::ZERO);
    let options = SimOptions { seed: s.seed, interval: Duration::from_secs(60), windows };
    let keep = model::simulated_kinds(s, svc, &growth.unit, false);
    let arrivals = model::arrivals(s, growth, (Duration::ZERO, growth.horizon()), 1.0, &keep)?;
    let report = simulate(&svc.model, arrivals, &options)?;
    let weeks = all
        .iter()
        .enumerate()
        .map(|(i, &w)| weeks::sim_week(s, growth, &report, i * weeks::WINDOWS_PER_WEEK, w, svc.base_cpu))
        .collect();
    Ok((weeks, report))
}

async fn live_weeks(
    s: &Scenario,
    svc: &model::Service,
    growth: &Growth,
    spec: &PlanSpec,
    opts: &PlanOptions,
    rows: &mut [WeekRow],
) -> Result<(), PlanError> {
    let chosen: Vec<u32> = spec.live_weeks.clone().unwrap_or_else(|| growth.weeks.iter().map(|w| w.week).collect());
    for row in rows.iter_mut().filter(|r| chosen.contains(&r.sim.load.week)) {
        let week = row.sim.load.week;
        if !opts.quiet {
            eprintln!("plan: live replay of week {week}'s peak hour at {} {}", svc.size(), svc.unit());
        }
        if let Some(warning) = live::floor_warning(row.sim.peak.p50_s, spec.live_time_scale.unwrap_or(s.time_scale)) {
            eprintln!("plan: week {week}: warning: {warning}");
        }
        if crate::run::interrupt::is_interrupted() {
            break;
        }
        let dirs = (opts.write_dir(), opts.out.as_path());
        row.live = Some(live::replay(s, svc, growth, spec, week, svc.size(), dirs, opts.quiet).await?);
    }
    Ok(())
}

/// One live run at the recommended size of the last week that needed one.
async fn confirm(
    s: &Scenario,
    svc: &model::Service,
    growth: &Growth,
    spec: &PlanSpec,
    opts: &PlanOptions,
    rows: &[WeekRow],
) -> Result<Option<live::LiveWeek>, PlanError> {
    if !spec.live || opts.no_live || crate::run::interrupt::is_interrupted() {
        return Ok(None);
    }
    let Some((week, size)) = rows.iter().rev().find_map(|r| Some((r.sim.load.week, r.recommended.as_ref()?.size?)))
    else {
        return Ok(None);
    };
    if !opts.quiet {
        eprintln!("plan: confirming week {week} live at the recommended {size} {}", svc.unit());
    }
    live::replay(s, svc, growth, spec, week, size, (opts.write_dir(), &opts.out), opts.quiet).await.map(Some)
}

/// Writes `plan.json` into `dir` atomically.
pub fn write(dir: &Path, report: &CapacityPlan) -> Result<PathBuf, PlanError> {
    let text = serde_json::to_string_pretty(report).map_err(PlanError::Serialise)?;
    let path = dir.join("plan.json");
    crate::report::write_atomic(&path, text.as_bytes()).map_err(|e| PlanError::Write(Box::new(e)))?;
    Ok(path)
}

/// Writes `plan.svg` (see [`output::chart`]) into `dir`; its path.
pub fn write_chart(dir: &Path, s: &Scenario, report: &CapacityPlan) -> Result<PathBuf, PlanError> {
    let path = dir.join("plan.svg");
    chart::write_svg(&path, &output::chart(s, report)).map_err(|e| PlanError::Chart(Box::new(e)))?;
    Ok(path)
}

/// `gameday plan --calibrate TABLE`: fits the Midnight profile's `base_cpu` and cost
/// scale to observed weeks, each week predicted by simulating the scenario's mix and
/// daily wave at that week's volume; CPU and p95 are read over the daily peak hours,
/// where capacity tables quote them.
pub fn calibrate(s: &Scenario, table: &Path) -> Result<crate::capacity::calibrate::Calibration, PlanError> {
    use crate::capacity::calibrate::{self, PredictedWeek};
    let observed = calibrate::load_table(table)?;
    growth_of(s)?;
    let spec = s.growth.clone().ok_or_else(|| PlanError::NoGrowth(s.origin.file.clone()))?;
    let volumes = observed
        .iter()
        .map(|w| crate::load::arrival::Rate::per_second_checked(w.volume_per_day / 86_400.0))
        .collect::<Result<Vec<_>, _>>();
    let volumes = volumes.map_err(|source| PlanError::Volume { table: table.to_path_buf(), source })?;
    let spec = crate::capacity::growth::GrowthSpec {
        start: None,
        rate: None,
        weeks: None,
        volumes: Some(volumes),
        spikes: Vec::new(),
        ..spec
    };
    let weekly = Growth::new(&spec, &s.load.requests)?;
    let gameday_mocks::ServiceProfile::Midnight(profile) = s.targets.get(gameday_mocks::ServiceId::Midnight).1 else {
        return Err(PlanError::NotMidnight);
    };
    let id = gameday_mocks::ServiceId::Midnight;
    let predict = |candidate: &crate::capacity::SimModel| {
        let svc = model::service_from(s, id, candidate.clone());
        let (weeks, _) = simulate_horizon(s, &svc, &weekly)?;
        Ok::<_, PlanError>(weeks.iter().map(|w| PredictedWeek { cpu: w.peak.cpu, p95_s: w.peak.p95_s }).collect())
    };
    Ok(calibrate::calibrate_midnight(&profile, &observed, predict)?)
}

impl From<PlanError> for crate::capacity::calibrate::CalibrateError {
    /// A plan's horizon run inside a calibration: the simulator's own error, or the plan's.
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Sim(e) => Self::Sim(e),
            other => Self::Predict(Box::new(other)),
        }
    }
}
