//! Beyond the horizon: an M/M/c model ([`ErlangCFit`]) fitted to the simulated weeks'
//! peak hours (pool arrival rate, CPU), with its fit error, answers "at this growth rate,
//! when does the current size reach the CPU target and saturate, and what does the week
//! after the horizon need?".
//!
//! The base CPU is the profile's (known, not fitted); the fit finds the effective mean
//! service time of a pool job. Points are the weeks whose peak hour is in steady state (workers busy less than 95%
//! of the time): a saturated week has no M/M/c steady state and would bend the fit. With
//! fewer than two such weeks there is nothing to fit and the plan says so.

use serde::Serialize;

use crate::capacity::fit::{ErlangCFit, ErlangPoint, FitError};
use crate::capacity::Route;
use crate::scenario::Scenario;

use super::model::Service;
use super::weeks::SimWeek;

/// Busy fraction above which a week's peak hour is not used as a fit point.
const STEADY_UTILISATION: f64 = 0.95;

/// Weeks after the horizon that are predicted.
const WEEKS_AFTER: u32 = 2;

/// The fitted model and what it predicts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Extrapolation {
    /// The weeks the model was fitted to.
    pub fitted_weeks: Vec<u32>,
    /// Workers (the scenario's size).
    pub workers: usize,
    /// What the size counts (`workers`, `DB connections`, ...).
    pub unit: String,
    /// Fitted effective mean service time of a pool job, seconds.
    pub mean_service_s: f64,
    /// Fitted base CPU (fraction).
    pub base_cpu: f64,
    /// Largest relative error of the fit at any of its points (fraction).
    pub max_relative_error: f64,
    /// Weekly growth factor of the peak rate over the horizon's last week.
    pub weekly_growth: f64,
    /// Total peak rate (all kinds, per second) at which the current size reaches the CPU
    /// target, and the (fractional) week that happens in at `weekly_growth`.
    pub at_target_cpu: Milestone,
    /// Total peak rate at which the current size saturates, and its week.
    pub at_saturation: Milestone,
    /// The weeks after the horizon: peak rate, CPU at the current size, workers needed.
    pub after: Vec<WeekAfter>,
}

/// A peak rate and the week it is reached.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Milestone {
    /// Total peak rate, per second.
    pub peak_rate_per_s: f64,
    /// Fractional week number (1 = the first week's peak); `None` without growth.
    pub week: Option<f64>,
}

/// One week past the horizon.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeekAfter {
    /// Week number.
    pub week: u32,
    /// Predicted total peak rate, per second.
    pub peak_rate_per_s: f64,
    /// CPU at the current size (1 = saturated).
    pub cpu: f64,
    /// Workers that keep the CPU at the target.
    pub workers_for_target: usize,
}

/// Why there is no extrapolation (a note in the plan, not a failure).
#[derive(Debug, thiserror::Error)]
pub enum ExtrapolateError {
    /// Nothing of the mix queues for a worker.
    #[error("no request of the mix reaches the worker pool")]
    NoPoolTraffic,
    /// The M/M/c fit over the steady weeks failed.
    #[error("{0} (weeks in steady state)")]
    Fit(#[source] FitError),
    /// The plan has no weeks.
    #[error("no weeks")]
    NoWeeks,
}

/// Fits the model to the simulated weeks `rows` and extrapolates; `Err` says why there
/// is no fit.
pub fn extrapolate(
    s: &Scenario,
    svc: &Service,
    rows: &[&SimWeek],
    target_cpu: f64,
) -> Result<Extrapolation, ExtrapolateError> {
    let share = pool_share(s, svc);
    if share <= 0.0 {
        return Err(ExtrapolateError::NoPoolTraffic);
    }
    let steady: Vec<&SimWeek> = rows.iter().copied().filter(|r| r.peak.utilisation < STEADY_UTILISATION).collect();
    let points: Vec<ErlangPoint> = steady
        .iter()
        .map(|r| ErlangPoint { arrival_rate_per_s: r.load.peak_rate_per_s * share, cpu: r.peak.cpu, wait: None })
        .collect();
    let fit = ErlangCFit::fit_with_base(svc.size(), svc.base_cpu, &points).map_err(ExtrapolateError::Fit)?;
    let last = *rows.last().ok_or(ExtrapolateError::NoWeeks)?;
    let weekly_growth = match rows {
        [.., a, b] if a.load.peak_rate_per_s > 0.0 => b.load.peak_rate_per_s / a.load.peak_rate_per_s,
        _ => 1.0,
    };
    let busy_target = ((target_cpu - fit.base_cpu) / (1.0 - fit.base_cpu)).clamp(0.0, 1.0);
    let milestone = |busy: f64| {
        let peak_rate_per_s = fit.rate_at_utilisation(busy) / share;
        Milestone { peak_rate_per_s, week: week_of(peak_rate_per_s, last, weekly_growth) }
    };
    let after = (1..=WEEKS_AFTER)
        .map(|k| {
            let peak = last.load.peak_rate_per_s * weekly_growth.powi(k as i32);
            let offered_workers = peak * share * fit.mean_service_s;
            WeekAfter {
                week: last.load.week + k,
                peak_rate_per_s: peak,
                cpu: fit.predict(peak * share).cpu,
                workers_for_target: (offered_workers / busy_target.max(1e-9)).ceil().max(1.0) as usize,
            }
        })
        .collect();
    Ok(Extrapolation {
        fitted_weeks: steady.iter().map(|r| r.load.week).collect(),
        workers: fit.workers,
        unit: super::model::size_unit(svc.id).to_owned(),
        mean_service_s: fit.mean_service_s,
        base_cpu: fit.base_cpu,
        max_relative_error: fit.max_relative_error,
        weekly_growth,
        at_target_cpu: milestone(busy_target),
        at_saturation: milestone(1.0),
        after,
    })
}

/// The share of all requests that reach the pool, by mix weight.
fn pool_share(s: &Scenario, svc: &Service) -> f64 {
    let weight = |i: usize| f64::from(s.load.requests[i].weight.get());
    let total: f64 = (0..s.load.requests.len()).map(weight).sum();
    let pool: f64 = (0..s.load.requests.len()).filter(|&i| svc.model.kinds[i].route == Route::Pool).map(weight).sum();
    if total > 0.0 {
        pool / total
    } else {
        0.0
    }
}

/// The fractional week whose peak is `rate`, growing by `growth` a week from `last`.
fn week_of(rate: f64, last: &SimWeek, growth: f64) -> Option<f64> {
    let from = last.load.peak_rate_per_s;
    (growth > 1.0 && from > 0.0).then(|| f64::from(last.load.week) + (rate / from).ln() / growth.ln())
}

/// One paragraph for the terminal.
pub fn render(x: &Extrapolation) -> String {
    let week = |m: &Milestone| m.week.map_or_else(|| "no growth".to_owned(), |w| format!("week {w:.1}"));
    let weeks: Vec<String> = x.fitted_weeks.iter().map(ToString::to_string).collect();
    let mut out = format!(
        "extrapolation (M/M/{} fit to weeks {}: service {:.3}s, base CPU {:.1}%, max fit error {:.1}%; growth x{:.2}/week):\n",
        x.workers,
        weeks.join(", "),
        x.mean_service_s,
        x.base_cpu * 100.0,
        x.max_relative_error * 100.0,
        x.weekly_growth
    );
    out.push_str(&format!(
        "  {} {} reach the CPU target at {:.2} req/s peak ({}) and saturate at {:.2} req/s ({})\n",
        x.workers,
        x.unit,
        x.at_target_cpu.peak_rate_per_s,
        week(&x.at_target_cpu),
        x.at_saturation.peak_rate_per_s,
        week(&x.at_saturation)
    ));
    for a in &x.after {
        out.push_str(&format!(
            "  week {}: {:.2} req/s peak, CPU {:.0}% at {} {}; {} {} for the CPU target\n",
            a.week,
            a.peak_rate_per_s,
            a.cpu * 100.0,
            x.workers,
            x.unit,
            a.workers_for_target,
            x.unit
        ));
    }
    out
}
