//! `gameday plan --calibrate TABLE`: fit a profile's cost parameters to a table of
//! observed weeks by least squares, and show the residual per week.
//!
//! The table is CSV with a header naming its columns, in any order:
//! `week,volume_per_day,peak_rps,cpu_percent,p95_s`; `week`, `volume_per_day` and
//! `cpu_percent` are required, `peak_rps` and `p95_s` optional (column or cell);
//! `cpu_percent` is `45` or `45%`. Blank lines and lines starting with `#` are skipped.
//! Every error names the file, line and column ([`CalibrateError`]: a usage error, exit 2).
//!
//! Midnight's fit ([`calibrate_midnight`]) moves two parameters of the simulator model:
//! `base_cpu` (the pool's idle CPU) and `cost_scale` (multiplies every pool kind's
//! service time); the caller's `predict` turns a model into per-week CPU and p95 (the
//! planner simulates each week's growth curve). Residuals: CPU in percentage points,
//! and, for weeks whose p95 was observed, the p95's error in percent of the observed
//! p95. So 1% of p95 weighs as much as 1 CPU point: both are "percent" quantities of
//! similar size at the planner's decision points (a 10% p95 miss matters about as much
//! as 10 CPU points), and neither unit (seconds vs fractions) dominates.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use gameday_mocks::kit::PoolConfig;
use gameday_mocks::services::midnight;

use super::lsq::{least_squares_with, rms, LsqError, LsqOptions, Param};
use super::sim::{SimError, SimModel};

/// One observed week of the user's table.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedWeek {
    /// Week number as the table gives it.
    pub week: u32,
    /// Requests per day.
    pub volume_per_day: f64,
    /// Peak request rate, if the table has it.
    pub peak_rate_per_s: Option<f64>,
    /// CPU as a fraction in `[0, 1]` (the table's percent / 100).
    pub cpu: f64,
    /// Observed p95 latency in seconds, if the table has it.
    pub p95_s: Option<f64>,
}

/// What the caller's model run predicts for one week (same order as the table).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PredictedWeek {
    /// CPU as a fraction (the gauge: base CPU included).
    pub cpu: f64,
    /// p95 latency in seconds.
    pub p95_s: f64,
}

/// One fitted parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct FittedParam {
    /// Name (`base_cpu`, `cost_scale`).
    pub name: String,
    /// Fitted value.
    pub value: f64,
}

/// One week's observed vs predicted values at the fitted parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct WeekResidual {
    /// Week number.
    pub week: u32,
    /// Requests per day.
    pub volume_per_day: f64,
    /// Observed CPU, fraction.
    pub observed_cpu: f64,
    /// Predicted CPU, fraction.
    pub predicted_cpu: f64,
    /// Predicted minus observed, percentage points.
    pub cpu_points: f64,
    /// Observed p95, seconds (if the table has it).
    pub observed_p95_s: Option<f64>,
    /// Predicted p95, seconds.
    pub predicted_p95_s: f64,
}

impl WeekResidual {
    /// Predicted minus observed p95 in percent of the observed (when observed).
    pub fn p95_percent(&self) -> Option<f64> {
        self.observed_p95_s.map(|o| 100.0 * (self.predicted_p95_s - o) / o)
    }
}

/// A calibrated profile and how well it fits.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// The base profile with the fitted `base_cpu` and service times scaled by `cost_scale`.
    pub profile: midnight::Profile,
    /// The fitted parameters, `base_cpu` then `cost_scale`.
    pub params: Vec<FittedParam>,
    /// Per week, in table order.
    pub weeks: Vec<WeekResidual>,
    /// The largest |CPU residual|, percentage points.
    pub max_abs_cpu_points: f64,
    /// RMS of all residuals (CPU points and p95 percent).
    pub rmse: f64,
    /// Solver iterations.
    pub iterations: usize,
}

/// Why a calibration could not be done. All are usage errors (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// The table cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The table.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A cell or the header is wrong.
    #[error("{}:{line}: column {column}: {message}", path.display())]
    Table {
        /// The table.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The column's name (or number when it has none).
        column: String,
        /// What is wrong.
        message: String,
    },
    /// Fewer observed weeks than parameters to fit.
    #[error(
        "{table}: {weeks} observed week(s) cannot determine {params} parameters ({names}); give at least {params}"
    )]
    TooFewWeeks {
        /// The table (file name, or "calibration table").
        table: String,
        /// Weeks given.
        weeks: usize,
        /// Parameters fitted.
        params: usize,
        /// Their names.
        names: String,
    },
    /// The base profile cannot be modelled.
    #[error("profile: {0}")]
    Profile(#[source] SimError),
    /// The model run failed.
    #[error("simulation: {0}")]
    Sim(#[from] SimError),
    /// `predict` returned the wrong number of weeks.
    #[error("predict returned {got} weeks for a table of {want}")]
    PredictCount {
        /// Weeks returned.
        got: usize,
        /// Weeks in the table.
        want: usize,
    },
    /// `predict` failed other than in the simulator (a plan's horizon could not be run).
    #[error("{0}")]
    Predict(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The fit failed (did not converge, or the model gave NaN).
    #[error("fit: {0}")]
    Fit(#[source] Box<LsqError<CalibrateError>>),
    /// The fitted base CPU is outside the pool's range.
    #[error("fit: {0}")]
    BaseCpu(#[source] gameday_mocks::kit::pool::BaseCpuError),
}

/// The parameters [`calibrate_midnight`] fits.
pub const MIDNIGHT_PARAMS: [&str; 2] = ["base_cpu", "cost_scale"];

const REQUIRED: [&str; 3] = ["week", "volume_per_day", "cpu_percent"];
const OPTIONAL: [&str; 2] = ["peak_rps", "p95_s"];

/// Reads a table of observed weeks (see the module docs for the format). A table with
/// fewer weeks than Midnight's two parameters is refused, naming the file.
pub fn load_table(path: &Path) -> Result<Vec<ObservedWeek>, CalibrateError> {
    let text = std::fs::read_to_string(path).map_err(|source| CalibrateError::Io { path: path.into(), source })?;
    let weeks = parse_table(path, &text)?;
    if weeks.len() < MIDNIGHT_PARAMS.len() {
        return Err(too_few(&path.display().to_string(), weeks.len()));
    }
    Ok(weeks)
}

fn too_few(table: &str, weeks: usize) -> CalibrateError {
    CalibrateError::TooFewWeeks {
        table: table.to_owned(),
        weeks,
        params: MIDNIGHT_PARAMS.len(),
        names: MIDNIGHT_PARAMS.join(", "),
    }
}

/// Parses the table's text; `path` names it in errors.
pub fn parse_table(path: &Path, text: &str) -> Result<Vec<ObservedWeek>, CalibrateError> {
    let err = |line: usize, column: &str, message: String| CalibrateError::Table {
        path: path.into(),
        line,
        column: column.to_owned(),
        message,
    };
    let mut lines =
        text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let Some((header_line, header)) = lines.next() else {
        return Err(err(1, "(header)", format!("empty table; expected a header `{}`", expected_header())));
    };
    let columns: Vec<String> = header.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
    if let Some(unknown) = columns.iter().find(|c| !REQUIRED.contains(&c.as_str()) && !OPTIONAL.contains(&c.as_str())) {
        return Err(err(header_line, unknown, format!("unknown column; expected `{}`", expected_header())));
    }
    if let Some(missing) = REQUIRED.iter().find(|r| !columns.iter().any(|c| c == *r)) {
        return Err(err(header_line, missing, format!("missing column; expected `{}`", expected_header())));
    }
    let mut weeks = Vec::new();
    for (line, row) in lines {
        let cells: Vec<&str> = row.split(',').map(str::trim).collect();
        if cells.len() != columns.len() {
            let message = format!("{} cells, the header has {} columns", cells.len(), columns.len());
            return Err(err(line, &format!("{}", cells.len().min(columns.len()) + 1), message));
        }
        weeks.push(parse_row(&columns, &cells).map_err(|(col, message)| err(line, col, message))?);
    }
    Ok(weeks)
}

fn expected_header() -> String {
    "week,volume_per_day,peak_rps,cpu_percent,p95_s".into()
}

fn parse_row<'c>(columns: &'c [String], cells: &[&str]) -> Result<ObservedWeek, (&'c str, String)> {
    let mut w = ObservedWeek { week: 0, volume_per_day: 0.0, peak_rate_per_s: None, cpu: 0.0, p95_s: None };
    for (name, &cell) in columns.iter().zip(cells) {
        let name = name.as_str();
        let bad = |m: String| (name, m);
        let not_number = |e: NumberError| (name, e.to_string());
        match name {
            "week" => w.week = cell.parse().map_err(|_| bad(format!("`{cell}` is not a week number")))?,
            "volume_per_day" => w.volume_per_day = number(cell, false).map_err(not_number)?,
            "cpu_percent" => {
                let pct = number(cell.strip_suffix('%').unwrap_or(cell).trim(), true).map_err(not_number)?;
                if pct > 100.0 {
                    return Err(bad(format!("{pct}% is more than 100%")));
                }
                w.cpu = pct / 100.0;
            }
            "peak_rps" if !cell.is_empty() => w.peak_rate_per_s = Some(number(cell, false).map_err(not_number)?),
            "p95_s" if !cell.is_empty() => w.p95_s = Some(number(cell, false).map_err(not_number)?),
            _ => {}
        }
    }
    Ok(w)
}

/// Why a cell is not the number its column wants.
#[derive(Debug, thiserror::Error)]
enum NumberError {
    /// Not a number at all.
    #[error("`{0}` is not a number")]
    NotANumber(String),
    /// Out of range: `zero_ok` says which range.
    #[error("`{cell}` must be {}", if *.zero_ok { "zero or more" } else { "greater than zero" })]
    Range {
        /// The cell as written.
        cell: String,
        /// Whether zero was allowed.
        zero_ok: bool,
    },
}

/// A finite number, positive (or, with `zero_ok`, non-negative).
fn number(cell: &str, zero_ok: bool) -> Result<f64, NumberError> {
    let v: f64 = cell.parse().map_err(|_| NumberError::NotANumber(cell.to_owned()))?;
    let ok = v.is_finite() && (v > 0.0 || (zero_ok && v == 0.0));
    if ok {
        Ok(v)
    } else {
        Err(NumberError::Range { cell: cell.to_owned(), zero_ok })
    }
}

/// Fits Midnight's `base_cpu` and `cost_scale` to `table` (see the module docs for the
/// residuals and their weighting). `predict` runs a model over the table's weeks and
/// returns one [`PredictedWeek`] per row, in order.
pub fn calibrate_midnight<P, E>(
    base: &midnight::Profile,
    table: &[ObservedWeek],
    mut predict: P,
) -> Result<Calibration, CalibrateError>
where
    P: FnMut(&SimModel) -> Result<Vec<PredictedWeek>, E>,
    E: Into<CalibrateError>,
{
    if table.len() < MIDNIGHT_PARAMS.len() {
        return Err(too_few("calibration table", table.len()));
    }
    let model = SimModel::midnight(base).map_err(CalibrateError::Profile)?;
    let params = [Param::new("base_cpu", 0.1, 0.0, 0.95), Param::new("cost_scale", 1.0, 0.02, 50.0)];
    let mut run = |x: &[f64]| -> Result<Vec<PredictedWeek>, CalibrateError> {
        let m = model.with_base_cpu(x[0]).with_cost_scale(x[1]);
        let got = predict(&m).map_err(Into::into)?;
        if got.len() != table.len() {
            return Err(CalibrateError::PredictCount { got: got.len(), want: table.len() });
        }
        Ok(got)
    };
    // The simulator's outputs are smooth in the parameters only down to histogram and
    // window resolution: difference over 1% steps.
    let options = LsqOptions { diff_step: 1e-2, ftol: 1e-9, xtol: 1e-6, max_iterations: 100 };
    let objective = |x: &[f64]| -> Result<Vec<f64>, CalibrateError> { Ok(residuals(table, &run(x)?)) };
    let fit = least_squares_with(&params, &options, objective).map_err(|e: LsqError<CalibrateError>| match e {
        LsqError::Residuals(inner) => inner,
        other => CalibrateError::Fit(Box::new(other)),
    })?;
    let predicted = run(&fit.values)?;
    let weeks: Vec<WeekResidual> = table.iter().zip(&predicted).map(|(o, p)| week_residual(o, p)).collect();
    let max_abs_cpu_points = weeks.iter().map(|w| w.cpu_points.abs()).fold(0.0, f64::max);
    let (base_cpu, cost_scale) = (fit.values[0], fit.values[1]);
    PoolConfig::validate_base_cpu(base_cpu).map_err(CalibrateError::BaseCpu)?;
    let profile = midnight::Profile { base_cpu, service_time: base.service_time.scaled(cost_scale), ..base.clone() };
    let params = MIDNIGHT_PARAMS
        .iter()
        .zip(&fit.values)
        .map(|(name, &value)| FittedParam { name: (*name).to_owned(), value })
        .collect();
    Ok(Calibration {
        profile,
        params,
        weeks,
        max_abs_cpu_points,
        rmse: rms(&fit.residuals),
        iterations: fit.iterations,
    })
}

/// CPU residuals in points, then p95 residuals in percent for the weeks that have one.
fn residuals(table: &[ObservedWeek], predicted: &[PredictedWeek]) -> Vec<f64> {
    let cpu = table.iter().zip(predicted).map(|(o, p)| 100.0 * (p.cpu - o.cpu));
    let p95 = table.iter().zip(predicted).filter_map(|(o, p)| o.p95_s.map(|obs| 100.0 * (p.p95_s - obs) / obs));
    cpu.chain(p95).collect()
}

fn week_residual(o: &ObservedWeek, p: &PredictedWeek) -> WeekResidual {
    WeekResidual {
        week: o.week,
        volume_per_day: o.volume_per_day,
        observed_cpu: o.cpu,
        predicted_cpu: p.cpu,
        cpu_points: 100.0 * (p.cpu - o.cpu),
        observed_p95_s: o.p95_s,
        predicted_p95_s: p.p95_s,
    }
}

/// The fit as a terminal table: parameters, then per week volume, observed and
/// predicted CPU, the residual in points, and p95 (observed, predicted, error) when the
/// table has it.
pub fn render_residuals(c: &Calibration) -> String {
    let mut out = String::new();
    let params: Vec<String> = c.params.iter().map(|p| format!("{} = {:.4}", p.name, p.value)).collect();
    let _ = writeln!(out, "calibrated: {} ({} iterations, rmse {:.2})", params.join(", "), c.iterations, c.rmse);
    let with_p95 = c.weeks.iter().any(|w| w.observed_p95_s.is_some());
    let _ = write!(out, "{:>4}  {:>12}  {:>8}  {:>8}  {:>9}", "week", "volume/day", "cpu obs", "cpu sim", "residual");
    if with_p95 {
        let _ = write!(out, "  {:>9}  {:>9}  {:>8}", "p95 obs", "p95 sim", "p95 err");
    }
    out.push('\n');
    for w in &c.weeks {
        let _ = write!(
            out,
            "{:>4}  {:>12.0}  {:>7.1}%  {:>7.1}%  {:>+6.1} pt",
            w.week,
            w.volume_per_day,
            100.0 * w.observed_cpu,
            100.0 * w.predicted_cpu,
            w.cpu_points
        );
        if with_p95 {
            match (w.observed_p95_s, w.p95_percent()) {
                (Some(o), Some(pct)) => {
                    let _ = write!(out, "  {:>8.2}s  {:>8.2}s  {:>+7.1}%", o, w.predicted_p95_s, pct);
                }
                _ => {
                    let _ = write!(out, "  {:>9}  {:>8.2}s  {:>8}", "-", w.predicted_p95_s, "-");
                }
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "max |cpu residual| {:.1} points", c.max_abs_cpu_points);
    out
}

#[cfg(test)]
mod tests;
