//! Throughput and latency models fitted to measured or simulated points, to extrapolate
//! beyond the measured weeks with the fit error shown.
//!
//! - [`ErlangCFit`]: the worker pool as M/M/c with `c` known: fits the effective mean
//!   service time `S` and the base CPU from `(arrival rate, CPU, mean wait or p95 wait)`
//!   points, then predicts utilisation, CPU, mean and p95 queue wait at any rate, the
//!   rate at a utilisation, and the largest rate whose p95 *queue wait* meets a target.
//!   Residuals are weighted as in calibration: CPU in percentage points, waits in percent
//!   of the observed wait, so 1% of wait weighs as 1 CPU point.
//! - [`UslFit`]: the Universal Scalability Law `X(N) = λN / (1 + σ(N-1) + κN(N-1))`
//!   fitted to `(workers, max throughput)` points (e.g. simulator sweeps at saturation),
//!   with the `N` of peak throughput. Residuals are relative (percent).
//!
//! Both report the fit's RMSE (in residual units) and the largest relative error of any
//! fitted quantity, so a plan can show how far to trust an extrapolation.

use super::lsq::{least_squares, rms, LsqError, Param};
use super::queueing::{erlang_c, mmc_mean_wait_s};

/// Why a model could not be fitted.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FitError {
    /// Not enough usable points for the parameters.
    #[error("{points} point(s) cannot determine {params} parameters; give at least {params}")]
    TooFewPoints {
        /// Points given.
        points: usize,
        /// Parameters fitted.
        params: usize,
    },
    /// A point is unusable.
    #[error("point {index}: {message}")]
    BadPoint {
        /// Its position.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// The solver failed.
    #[error("fit: {0}")]
    Solver(#[source] LsqError<std::convert::Infallible>),
}

fn solver_error(e: LsqError<std::convert::Infallible>) -> FitError {
    FitError::Solver(e)
}

/// An observed queue wait.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WaitObs {
    /// Mean queue wait, seconds.
    MeanS(f64),
    /// 95th-percentile queue wait, seconds.
    P95S(f64),
}

/// One measured or simulated point of a worker pool.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErlangPoint {
    /// Arrival rate, per second.
    pub arrival_rate_per_s: f64,
    /// CPU as the gauge reports it (a fraction: base CPU plus busy share).
    pub cpu: f64,
    /// Queue wait, if measured.
    pub wait: Option<WaitObs>,
}

/// What the M/M/c model predicts at one rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErlangPrediction {
    /// Worker busy fraction `λS / c` (capped at 1).
    pub utilisation: f64,
    /// CPU gauge: `base + (1 - base) * utilisation`.
    pub cpu: f64,
    /// Mean queue wait, seconds (infinite when saturated).
    pub mean_wait_s: f64,
    /// 95th-percentile queue wait, seconds: 0 when fewer than 5% wait, else the `t` with
    /// `P(W > t) = C(c, a) e^{-(cμ - λ) t} = 0.05` (infinite when saturated).
    pub p95_wait_s: f64,
    /// Whether `λS >= c` (no steady state: the queue grows without bound).
    pub saturated: bool,
}

/// An M/M/c model of a pool fitted to points.
#[derive(Clone, Debug, PartialEq)]
pub struct ErlangCFit {
    /// Workers `c` (given, not fitted).
    pub workers: usize,
    /// Fitted effective mean service time `S`, seconds.
    pub mean_service_s: f64,
    /// Fitted base CPU (fraction).
    pub base_cpu: f64,
    /// RMS of the residuals (CPU points and wait percent).
    pub rmse: f64,
    /// The largest relative error of a fitted quantity (CPU or wait), as a fraction.
    pub max_relative_error: f64,
}

impl ErlangCFit {
    /// Fits `S` and the base CPU for a pool of `workers` to `points` (at least two).
    pub fn fit(workers: usize, points: &[ErlangPoint]) -> Result<Self, FitError> {
        check_erlang_points(workers, points)?;
        // Start S from the busiest point's CPU as if the base were 0.
        let top = points.iter().max_by(|a, b| a.arrival_rate_per_s.total_cmp(&b.arrival_rate_per_s));
        let s0 = top.map_or(1.0, |p| (p.cpu * workers as f64 / p.arrival_rate_per_s).max(1e-6));
        let params = [Param::new("mean_service_s", s0, 1e-9, 1e9), Param::new("base_cpu", 0.0, 0.0, 0.99)];
        let residuals = |x: &[f64]| Ok(erlang_residuals(workers, x[0], x[1], points));
        let fit = least_squares(&params, residuals).map_err(solver_error)?;
        let model = Self {
            workers,
            mean_service_s: fit.values[0],
            base_cpu: fit.values[1],
            rmse: rms(&fit.residuals),
            max_relative_error: 0.0,
        };
        let max_relative_error = points.iter().map(|p| model.relative_error(p)).fold(0.0, f64::max);
        Ok(Self { max_relative_error, ..model })
    }

    /// Fits `S` alone for a pool of `workers` whose base CPU is known (the profile's),
    /// to `points` (at least one): the base and `S` trade off against each other when a
    /// few points are not quite on a line, so a known base is better fixed than fitted.
    pub fn fit_with_base(workers: usize, base_cpu: f64, points: &[ErlangPoint]) -> Result<Self, FitError> {
        if points.is_empty() {
            return Err(FitError::TooFewPoints { points: 0, params: 1 });
        }
        check_erlang_points(workers, points)?;
        let top = points.iter().max_by(|a, b| a.arrival_rate_per_s.total_cmp(&b.arrival_rate_per_s));
        let s0 = top.map_or(1.0, |p| (p.cpu * workers as f64 / p.arrival_rate_per_s).max(1e-6));
        let params = [Param::new("mean_service_s", s0, 1e-9, 1e9)];
        let residuals = |x: &[f64]| Ok(erlang_residuals(workers, x[0], base_cpu, points));
        let fit = least_squares(&params, residuals).map_err(solver_error)?;
        let model = Self {
            workers,
            mean_service_s: fit.values[0],
            base_cpu,
            rmse: rms(&fit.residuals),
            max_relative_error: 0.0,
        };
        let max_relative_error = points.iter().map(|p| model.relative_error(p)).fold(0.0, f64::max);
        Ok(Self { max_relative_error, ..model })
    }

    /// The model's prediction at `arrival_rate_per_s`.
    pub fn predict(&self, arrival_rate_per_s: f64) -> ErlangPrediction {
        predict(self.workers, self.mean_service_s, self.base_cpu, arrival_rate_per_s)
    }

    /// The arrival rate at which workers are busy a fraction `u` of the time.
    pub fn rate_at_utilisation(&self, u: f64) -> f64 {
        u * self.workers as f64 / self.mean_service_s
    }

    /// The largest arrival rate whose p95 queue wait is at most `slo_wait_s` (bisection;
    /// the p95 wait grows with the rate). Subtract the service time from a latency SLO
    /// before asking.
    pub fn max_rate_for_p95(&self, slo_wait_s: f64) -> f64 {
        let (mut lo, mut hi) = (0.0, self.rate_at_utilisation(1.0));
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if self.predict(mid).p95_wait_s <= slo_wait_s {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn relative_error(&self, p: &ErlangPoint) -> f64 {
        let pred = self.predict(p.arrival_rate_per_s);
        let cpu = ((pred.cpu - p.cpu) / p.cpu.max(1e-9)).abs();
        let wait = match p.wait {
            Some(WaitObs::MeanS(w)) if w > 0.0 => ((pred.mean_wait_s - w) / w).abs(),
            Some(WaitObs::P95S(w)) if w > 0.0 => ((pred.p95_wait_s - w) / w).abs(),
            _ => 0.0,
        };
        cpu.max(wait)
    }
}

fn check_erlang_points(workers: usize, points: &[ErlangPoint]) -> Result<(), FitError> {
    if workers == 0 {
        return Err(FitError::BadPoint { index: 0, message: "workers must be at least 1".into() });
    }
    for (index, p) in points.iter().enumerate() {
        let bad = |message: String| Err(FitError::BadPoint { index, message });
        if !(p.arrival_rate_per_s.is_finite() && p.arrival_rate_per_s > 0.0) {
            return bad(format!("arrival rate {} must be greater than zero", p.arrival_rate_per_s));
        }
        if !(0.0..=1.0).contains(&p.cpu) {
            return bad(format!("cpu {} must be a fraction in [0, 1]", p.cpu));
        }
    }
    if points.len() < 2 {
        return Err(FitError::TooFewPoints { points: points.len(), params: 2 });
    }
    Ok(())
}

/// CPU residuals in points; wait residuals in percent of the observed wait (a saturated
/// prediction of a finite wait counts as 1000%).
fn erlang_residuals(workers: usize, s: f64, base: f64, points: &[ErlangPoint]) -> Vec<f64> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for p in points {
        let pred = predict(workers, s, base, p.arrival_rate_per_s);
        out.push(100.0 * (pred.cpu - p.cpu));
        let (got, want) = match p.wait {
            Some(WaitObs::MeanS(w)) => (pred.mean_wait_s, w),
            Some(WaitObs::P95S(w)) => (pred.p95_wait_s, w),
            None => continue,
        };
        let scale = want.max(1e-3 * s);
        out.push(if got.is_finite() { (100.0 * (got - want) / scale).clamp(-1000.0, 1000.0) } else { 1000.0 });
    }
    out
}

fn predict(workers: usize, s: f64, base: f64, rate: f64) -> ErlangPrediction {
    let c = workers.max(1) as f64;
    let a = rate * s;
    let utilisation = (a / c).clamp(0.0, 1.0);
    let cpu = base + (1.0 - base) * utilisation;
    let saturated = a >= c;
    if saturated || rate <= 0.0 {
        let inf = if saturated { f64::INFINITY } else { 0.0 };
        return ErlangPrediction { utilisation, cpu, mean_wait_s: inf, p95_wait_s: inf, saturated };
    }
    let mean_wait_s = mmc_mean_wait_s(workers, rate, s).unwrap_or(f64::INFINITY);
    let p_wait = erlang_c(workers, a).unwrap_or(1.0);
    let decay_per_s = (c - a) / s;
    let p95_wait_s = if p_wait <= 0.05 { 0.0 } else { (p_wait / 0.05).ln() / decay_per_s };
    ErlangPrediction { utilisation, cpu, mean_wait_s, p95_wait_s, saturated }
}

/// One `(workers, max throughput)` point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UslPoint {
    /// Workers (or nodes, replicas).
    pub n: f64,
    /// Throughput at saturation, per second.
    pub throughput_per_s: f64,
}

/// The Universal Scalability Law fitted to points.
#[derive(Clone, Debug, PartialEq)]
pub struct UslFit {
    /// Throughput of one worker, per second (`λ`).
    pub lambda: f64,
    /// Contention (`σ`, serial fraction), `>= 0`.
    pub sigma: f64,
    /// Coherency cost (`κ`, crosstalk), `>= 0`.
    pub kappa: f64,
    /// RMS of the relative residuals, percent.
    pub rmse_percent: f64,
    /// The largest relative error at a point, as a fraction.
    pub max_relative_error: f64,
}

impl UslFit {
    /// Fits `λ, σ, κ` to `points` (at least three, at distinct `n`).
    pub fn fit(points: &[UslPoint]) -> Result<Self, FitError> {
        for (index, p) in points.iter().enumerate() {
            if !(p.n.is_finite() && p.n >= 1.0 && p.throughput_per_s.is_finite() && p.throughput_per_s > 0.0) {
                let message = format!("n {} must be >= 1 and throughput {} > 0", p.n, p.throughput_per_s);
                return Err(FitError::BadPoint { index, message });
            }
        }
        if points.len() < 3 {
            return Err(FitError::TooFewPoints { points: points.len(), params: 3 });
        }
        let lambda0 = points.iter().map(|p| p.throughput_per_s / p.n).fold(0.0, f64::max);
        let params = [
            Param::new("lambda", lambda0, lambda0 * 1e-6, lambda0 * 1e6),
            Param::new("sigma", 0.01, 0.0, 1.0),
            Param::new("kappa", 1e-4, 0.0, 1.0),
        ];
        let residuals = |x: &[f64]| {
            Ok(points.iter().map(|p| 100.0 * (usl(x[0], x[1], x[2], p.n) / p.throughput_per_s - 1.0)).collect())
        };
        let fit = least_squares(&params, residuals).map_err(solver_error)?;
        let max_relative_error = fit.residuals.iter().map(|r| r.abs() / 100.0).fold(0.0, f64::max);
        Ok(Self {
            lambda: fit.values[0],
            sigma: fit.values[1],
            kappa: fit.values[2],
            rmse_percent: rms(&fit.residuals),
            max_relative_error,
        })
    }

    /// Predicted throughput at `n`.
    pub fn throughput(&self, n: f64) -> f64 {
        usl(self.lambda, self.sigma, self.kappa, n)
    }

    /// The `n` of peak throughput, `sqrt((1 - σ) / κ)`; `None` when `κ = 0` (throughput
    /// keeps rising).
    pub fn peak_n(&self) -> Option<f64> {
        (self.kappa > 0.0).then(|| ((1.0 - self.sigma).max(0.0) / self.kappa).sqrt())
    }
}

fn usl(lambda: f64, sigma: f64, kappa: f64, n: f64) -> f64 {
    lambda * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))
}

#[cfg(test)]
mod tests;
