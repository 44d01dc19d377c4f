//! The fitted models against synthetic data from known parameters, against the
//! closed forms of `queueing.rs`, and against the simulator.

use std::time::Duration;

use gameday_mocks::kit::{HumanDuration, PoolConfig, PositiveDuration, ServiceTime};

use super::*;
use crate::capacity::queueing::{mmc_mean_wait_s, mmc_wait_exceeds};
use crate::capacity::sim::{simulate, KindModel, Route, SimModel, SimOptions};
use crate::capacity::stream::of_kind;
use crate::load::arrival::{Process, RateCurve, Schedule};

/// A fixed sequence in [-1, 1] standing in for measurement noise.
fn wobble(i: usize) -> f64 {
    ((i as f64 + 1.0) * 12.9898).sin()
}

fn rel(got: f64, want: f64) -> f64 {
    (got / want - 1.0).abs()
}

#[test]
fn erlang_fit_recovers_service_time_and_base_cpu_from_noisy_points() {
    // Known pool: c = 4, S = 2 s, base 10%. Points at utilisation 0.3..0.85 with ±1% noise.
    let (c, s, base) = (4, 2.0, 0.1);
    let points: Vec<ErlangPoint> = [0.3, 0.5, 0.7, 0.85]
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let rate = u * c as f64 / s;
            let wait = mmc_mean_wait_s(c, rate, s).unwrap_or(f64::NAN) * (1.0 + 0.01 * wobble(i));
            ErlangPoint { arrival_rate_per_s: rate, cpu: base + (1.0 - base) * u, wait: Some(WaitObs::MeanS(wait)) }
        })
        .collect();
    let fit = ErlangCFit::fit(c, &points).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{fit:?}");
    assert!(rel(fit.mean_service_s, s) < 0.01, "S {}", fit.mean_service_s);
    assert!((fit.base_cpu - base).abs() < 0.005, "base {}", fit.base_cpu);
    assert!(fit.max_relative_error < 0.02 && fit.rmse < 2.0, "{fit:?}");
    // Exact data with p95 waits instead: recovered to solver precision.
    let exact: Vec<ErlangPoint> = [0.5, 0.8]
        .iter()
        .map(|u| {
            let rate = u * c as f64 / s;
            let p95 = predict(c, s, base, rate).p95_wait_s;
            ErlangPoint { arrival_rate_per_s: rate, cpu: base + (1.0 - base) * u, wait: Some(WaitObs::P95S(p95)) }
        })
        .collect();
    let fit = ErlangCFit::fit(c, &exact).unwrap_or_else(|e| panic!("{e}"));
    assert!(rel(fit.mean_service_s, s) < 1e-6 && (fit.base_cpu - base).abs() < 1e-6, "{fit:?}");
}

#[test]
fn erlang_predictions_match_the_queueing_formulas() {
    let fit = ErlangCFit { workers: 2, mean_service_s: 1.0, base_cpu: 0.0, rmse: 0.0, max_relative_error: 0.0 };
    // By hand (M/M/2, λ = 1, S = 1): C = 1/3, decay c μ - λ = 1/s, p95 = ln((1/3)/0.05) s.
    let p = fit.predict(1.0);
    assert!((p.mean_wait_s - 1.0 / 3.0).abs() < 1e-12 && (p.utilisation - 0.5).abs() < 1e-12);
    assert!((p.p95_wait_s - (20.0f64 / 3.0).ln()).abs() < 1e-12, "{p:?}");
    // Against queueing.rs at several loads: same mean, and P(W > p95) = 5% by its tail.
    let fit = ErlangCFit { workers: 8, mean_service_s: 13.7, base_cpu: 0.2, ..fit };
    for rate in [0.2, 0.4, 0.5, 0.55] {
        let p = fit.predict(rate);
        assert!((p.mean_wait_s - mmc_mean_wait_s(8, rate, 13.7).unwrap_or(f64::NAN)).abs() < 1e-12);
        if p.p95_wait_s > 0.0 {
            let tail = mmc_wait_exceeds(8, rate, 13.7, p.p95_wait_s).unwrap_or(f64::NAN);
            assert!((tail - 0.05).abs() < 1e-12, "rate {rate}: tail {tail}");
        }
        assert!((p.cpu - (0.2 + 0.8 * rate * 13.7 / 8.0)).abs() < 1e-12);
    }
    let sat = fit.predict(1.0);
    assert!(sat.saturated && sat.mean_wait_s.is_infinite() && sat.cpu == 1.0);
    assert!((fit.rate_at_utilisation(0.7) - 0.7 * 8.0 / 13.7).abs() < 1e-12);
    let r = fit.max_rate_for_p95(30.0);
    assert!((fit.predict(r).p95_wait_s - 30.0).abs() < 1e-6 && r < fit.rate_at_utilisation(1.0), "{r}");
}

/// M/M/4 with S = 1 s simulated at `rho`: (rate, utilisation, mean wait).
fn simulated_mm4(rho: f64) -> (f64, f64, f64) {
    let pool = PoolConfig {
        workers: 4,
        job_timeout: PositiveDuration(HumanDuration(Duration::from_secs(1_000_000))),
        ..PoolConfig::default()
    };
    let service = ServiceTime::exponential(Duration::from_secs(1)).sampler().unwrap_or_else(|e| panic!("{e}"));
    let model = SimModel::new(pool, vec![KindModel::new("job", service, Route::Pool)]);
    let rate = 4.0 * rho;
    let curve = RateCurve::Constant(format!("{rate}/s").parse().unwrap_or_else(|e| panic!("{e}")));
    let times = Schedule::new(curve, Process::Poisson, 41, Duration::from_secs_f64(800_000.0 / rate));
    let options = SimOptions { seed: 42, interval: Duration::from_secs(3600), windows: Vec::new() };
    let r = simulate(&model, of_kind(times, 0), &options).unwrap_or_else(|e| panic!("{e}"));
    let wait = r.total.kinds[0].mean_wait().unwrap_or_default().as_secs_f64();
    (rate, r.utilisation(), wait)
}

#[test]
fn erlang_fit_to_the_simulator_predicts_its_waits_at_half_and_eight_tenths_load() {
    let sims: Vec<(f64, f64, f64)> = [0.5, 0.8].iter().map(|&rho| simulated_mm4(rho)).collect();
    let points: Vec<ErlangPoint> = sims
        .iter()
        .map(|&(rate, u, w)| ErlangPoint { arrival_rate_per_s: rate, cpu: u, wait: Some(WaitObs::MeanS(w)) })
        .collect();
    let fit = ErlangCFit::fit(4, &points).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("fit to the simulator: {fit:?}");
    assert!(rel(fit.mean_service_s, 1.0) < 0.03, "S {}", fit.mean_service_s);
    assert!(fit.base_cpu < 0.01, "no base CPU in the simulated pool: {}", fit.base_cpu);
    for &(rate, u, w) in &sims {
        let p = fit.predict(rate);
        eprintln!(
            "rate {rate}: simulated wait {w:.4} s, model {:.4} s; utilisation {u:.4} vs {:.4}",
            p.mean_wait_s, p.utilisation
        );
        assert!(rel(p.mean_wait_s, w) < 0.05, "rate {rate}: model {} vs simulated {w}", p.mean_wait_s);
        assert!(rel(p.utilisation, u) < 0.02);
    }
}

#[test]
fn usl_fit_recovers_contention_and_coherency() {
    let (lambda, sigma, kappa) = (100.0, 0.05, 0.001);
    let points: Vec<UslPoint> = [1.0, 2.0, 4.0, 8.0, 16.0, 24.0, 32.0, 48.0, 64.0]
        .iter()
        .enumerate()
        .map(|(i, &n)| UslPoint {
            n,
            throughput_per_s: lambda * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))
                * (1.0 + 0.005 * wobble(i)),
        })
        .collect();
    let fit = UslFit::fit(&points).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{fit:?}, peak at {:?}", fit.peak_n());
    assert!(rel(fit.lambda, lambda) < 0.02, "{fit:?}");
    assert!((fit.sigma - sigma).abs() < 0.01, "{fit:?}");
    assert!(rel(fit.kappa, kappa) < 0.2, "{fit:?}");
    // Peak by hand: sqrt(0.95 / 0.001) = 30.82.
    assert!(fit.peak_n().is_some_and(|n| rel(n, 30.82) < 0.08), "{:?}", fit.peak_n());
    assert!(fit.max_relative_error < 0.01 && fit.rmse_percent < 1.0, "{fit:?}");
}

#[test]
fn usl_fit_to_saturated_simulator_sweeps_finds_linear_scaling() {
    // A pool without shared locks scales linearly: N workers of 1 s jobs, offered twice
    // their capacity, complete N jobs per second. USL: λ = 1, σ = κ = 0.
    let points: Vec<UslPoint> = [1usize, 2, 4, 8, 16]
        .iter()
        .map(|&n| {
            let pool = PoolConfig { workers: n, job_capacity: 0, ..PoolConfig::default() };
            let service = ServiceTime::fixed(Duration::from_secs(1)).sampler().unwrap_or_else(|e| panic!("{e}"));
            let model = SimModel::new(pool, vec![KindModel::new("job", service, Route::Pool)]);
            let horizon = Duration::from_secs(500);
            let step = Duration::from_secs_f64(0.5 / n as f64);
            let times = (0..).map(move |i| step * i).take_while(move |t| *t < horizon);
            let options = SimOptions { seed: 1, interval: Duration::from_secs(100), windows: Vec::new() };
            let r = simulate(&model, of_kind(times, 0), &options).unwrap_or_else(|e| panic!("{e}"));
            let done: u64 = r.intervals[..5].iter().map(|s| s.kinds[0].ok).sum();
            UslPoint { n: n as f64, throughput_per_s: done as f64 / 500.0 }
        })
        .collect();
    let fit = UslFit::fit(&points).unwrap_or_else(|e| panic!("{e}"));
    assert!(rel(fit.lambda, 1.0) < 0.01 && fit.sigma < 0.01 && fit.kappa < 1e-4, "{fit:?} from {points:?}");
}

#[test]
fn too_few_or_bad_points_are_refused() {
    let one = [ErlangPoint { arrival_rate_per_s: 1.0, cpu: 0.5, wait: None }];
    assert_eq!(ErlangCFit::fit(4, &one), Err(FitError::TooFewPoints { points: 1, params: 2 }));
    let bad = [one[0], ErlangPoint { arrival_rate_per_s: -1.0, cpu: 0.5, wait: None }];
    assert!(matches!(ErlangCFit::fit(4, &bad), Err(FitError::BadPoint { index: 1, .. })));
    let two = [UslPoint { n: 1.0, throughput_per_s: 1.0 }, UslPoint { n: 2.0, throughput_per_s: 2.0 }];
    assert_eq!(UslFit::fit(&two), Err(FitError::TooFewPoints { points: 2, params: 3 }));
}
