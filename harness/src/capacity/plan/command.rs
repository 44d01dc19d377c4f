//! The `gameday plan SCENARIO` command end to end: resolve the scenario (with `--seed`),
//! refuse an unusable `--out` before anything runs, then either fit a calibration table
//! (`--calibrate`) or make the plan, stage every file (live windows, `plan.json`,
//! `plan.svg`, `results.json` and the reports) and swap the set in as `--out`.
//!
//! The exit code: 0 the plan is feasible; 1 no size keeps every SLO; 3 interrupted.

use std::path::{Path, PathBuf};

use crate::capacity::calibrate::{self, Calibration};
use crate::report::{self, OutSet};
use crate::{run, Error, Exit};

use super::{CapacityPlan, PlanError, PlanOptions};

/// What `gameday plan` was asked to do (flags already parsed).
#[derive(Clone, Debug, Default)]
pub struct PlanCommand {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Output directory (default `out/<scenario name>-plan`).
    pub out: Option<PathBuf>,
    /// `--seed` override.
    pub seed: Option<u64>,
    /// `--calibrate TABLE`: fit Midnight's profile to observed weeks instead of planning.
    pub calibrate: Option<PathBuf>,
    /// `--no-live`: simulate only.
    pub no_live: bool,
    /// No progress output.
    pub quiet: bool,
}

/// What `gameday plan` did.
#[derive(Debug)]
pub enum PlanOutcome {
    /// A plan, written under `out`.
    Planned {
        /// The plan.
        plan: Box<CapacityPlan>,
        /// The output directory.
        out: PathBuf,
        /// Whether `plan.svg` was drawn.
        chart: bool,
        /// The exit code.
        exit: Exit,
    },
    /// A calibration, its profile written to `profile`.
    Calibrated {
        /// The fit and its residuals.
        calibration: Box<Calibration>,
        /// The calibrated profile (TOML).
        profile: PathBuf,
    },
}

/// Runs `gameday plan`.
pub async fn command(c: &PlanCommand) -> Result<PlanOutcome, Error> {
    let mut s = crate::resolve::load(&c.scenario)?;
    if let Some(seed) = c.seed {
        s.seed = seed;
    }
    let out = c.out.clone().unwrap_or_else(|| report::out_dir::default_dir(&s.name, "-plan"));
    report::prepare_out_dir(&out)?;
    if let Some(table) = &c.calibrate {
        return calibrate_to(&s, table, &out);
    }
    // The live windows and every file are staged and swapped in as `out` at the end.
    let set = OutSet::begin(&out)?;
    let opts =
        PlanOptions { out: out.clone(), write_to: Some(set.dir().to_path_buf()), no_live: c.no_live, quiet: c.quiet };
    let started_at = run::now_rfc3339();
    let plan = super::plan(&s, &opts).await?;
    super::write(set.dir(), &plan)?;
    // The chart is a view of plan.json: a chart that cannot be drawn is a warning.
    let chart = match super::write_chart(set.dir(), &s, &plan) {
        Ok(svg) => std::fs::read_to_string(&svg).ok(),
        Err(e) => {
            eprintln!("warning: {}: {e}", out.join("plan.svg").display());
            None
        }
    };
    let mut results = super::report::results(&s, &plan, started_at, chart);
    let interrupted = run::interrupt::is_interrupted();
    if interrupted {
        run::mark_interrupted(&mut results.run);
    }
    report::write_run_set(set.dir(), &results)?;
    set.commit()?;
    let exit = match (interrupted, plan.feasible) {
        (true, _) => Exit::RunFailed,
        (false, true) => Exit::Pass,
        (false, false) => Exit::Failed,
    };
    Ok(PlanOutcome::Planned { plan: Box::new(plan), out, chart: results.ext.chart.is_some(), exit })
}

/// Fits the calibration table and writes the calibrated profile under `out`.
fn calibrate_to(s: &crate::scenario::Scenario, table: &Path, out: &Path) -> Result<PlanOutcome, Error> {
    let calibration = super::calibrate(s, table)?;
    let doc = serde_json::json!({ "targets": { "midnight": { "profile": &calibration.profile } } });
    let profile = toml::to_string_pretty(&doc).map_err(PlanError::CalibratedProfile)?;
    let path = out.join("calibrated-profile.toml");
    std::fs::create_dir_all(out).map_err(|source| Error::Io { path: out.to_path_buf(), source })?;
    report::write_atomic(&path, profile.as_bytes())?;
    Ok(PlanOutcome::Calibrated { calibration: Box::new(calibration), profile: path })
}

/// The residuals table `--calibrate` prints.
pub fn render_calibration(c: &Calibration) -> String {
    calibrate::render_residuals(c)
}
