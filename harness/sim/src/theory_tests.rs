//! The simulator against closed-form queueing theory (the independent oracle), and its
//! determinism. Arrivals come from the real `load::arrival::Schedule` (Poisson).

use std::time::Duration;

use gameday_mocks::kit::{HumanDuration, PoolConfig, PositiveDuration, ServiceTime};

use crate::queueing::{md1_mean_wait_s, mmc_mean_wait_s, mmck_blocking, utilisation};
use crate::sim::{simulate, KindModel, Route, SimModel, SimOptions};
use crate::stream::of_kind;
use crate::tally::SimOutput;
use gameday_core::arrival::{Process, RateCurve, Schedule};

/// Arrivals per theory case: enough for a mean wait within ~1-2% at ρ = 0.8.
const ARRIVALS: f64 = 1_000_000.0;

fn model(workers: usize, job_capacity: usize, service: &ServiceTime) -> SimModel {
    let pool = PoolConfig {
        workers,
        job_capacity,
        job_timeout: PositiveDuration(HumanDuration(Duration::from_secs(1_000_000))),
        ..PoolConfig::default()
    };
    let service = service.sampler().unwrap_or(gameday_mocks::kit::Sampler::Fixed(f64::NAN));
    SimModel::new(pool, vec![KindModel::new("job", service, Route::Pool)])
}

/// Poisson arrivals at `rate_per_s` for `ARRIVALS / rate` seconds, through `model`.
fn run(model: &SimModel, rate_per_s: f64, arrival_seed: u64, sim_seed: u64) -> SimOutput {
    let rate = format!("{rate_per_s}/s").parse().unwrap_or_else(|e| panic!("{e}"));
    let horizon = Duration::from_secs_f64(ARRIVALS / rate_per_s);
    let times = Schedule::new(RateCurve::Constant(rate), Process::Poisson, arrival_seed, horizon);
    let options = SimOptions { seed: sim_seed, interval: Duration::from_secs(3600), windows: Vec::new() };
    simulate(model, of_kind(times, 0), &options).unwrap_or_else(|e| panic!("{e}"))
}

fn mean_wait_s(r: &SimOutput) -> f64 {
    r.total.kinds[0].mean_wait().unwrap_or_default().as_secs_f64()
}

fn assert_within(got: f64, want: f64, tolerance: f64, what: &str) {
    let err = (got / want - 1.0).abs();
    eprintln!("{what}: simulated {got:.5}, theory {want:.5}, relative error {:.2}%", err * 100.0);
    assert!(err < tolerance, "{what}: simulated {got}, theory {want}");
}

fn check_mmc(workers: usize, rho: f64) {
    let mean_s = 1.0;
    let rate = rho * workers as f64 / mean_s;
    let r = run(&model(workers, 0, &ServiceTime::exponential(Duration::from_secs(1))), rate, 11, 12);
    let theory = mmc_mean_wait_s(workers, rate, mean_s).unwrap_or(f64::NAN);
    assert_within(mean_wait_s(&r), theory, 0.05, &format!("M/M/{workers} W_q at rho {rho}"));
    assert_within(r.utilisation(), utilisation(rate, mean_s, workers), 0.01, "M/M/c utilisation");
    assert_eq!(r.total.kinds[0].ok, r.total.kinds[0].total());
}

#[test]
fn mm4_mean_wait_matches_erlang_c_at_half_load() {
    check_mmc(4, 0.5);
}

#[test]
fn mm4_mean_wait_matches_erlang_c_at_eight_tenths_load() {
    check_mmc(4, 0.8);
}

fn check_md1(rho: f64) {
    let service_s = 2.0;
    let rate = rho / service_s;
    let r = run(&model(1, 0, &ServiceTime::fixed(Duration::from_secs(2))), rate, 21, 22);
    let theory = md1_mean_wait_s(rate, service_s).unwrap_or(f64::NAN);
    assert_within(mean_wait_s(&r), theory, 0.05, &format!("M/D/1 W_q at rho {rho}"));
    assert_within(r.utilisation(), rho, 0.01, "M/D/1 utilisation");
}

#[test]
fn md1_mean_wait_matches_pollaczek_khinchine() {
    check_md1(0.5);
    check_md1(0.8);
}

#[test]
fn refusals_match_mmck_blocking_probability() {
    // M/M/2 with two waiting places, offered at a = 2 (ρ = 1): a loss system in steady state.
    let r = run(&model(2, 2, &ServiceTime::exponential(Duration::from_secs(1))), 2.0, 31, 32);
    let k = &r.total.kinds[0];
    let refused = k.rejected as f64 / k.total() as f64;
    let theory = mmck_blocking(2, 2, 2.0).unwrap_or(f64::NAN);
    assert_within(refused, theory, 0.03, "M/M/2/(2+2) blocking");
    assert!(r.queue_max <= 2, "queue never exceeds job_capacity: {}", r.queue_max);
}

#[test]
fn same_seed_gives_identical_results_and_another_seed_does_not() {
    let m = model(3, 5, &ServiceTime::lognormal(Duration::from_secs(2), Duration::from_secs(9)));
    let small = |arrival_seed, sim_seed| {
        let rate = "1.2/s".parse().unwrap_or_else(|e| panic!("{e}"));
        let times =
            Schedule::new(RateCurve::Constant(rate), Process::Poisson, arrival_seed, Duration::from_secs(50_000));
        let options = SimOptions { seed: sim_seed, interval: Duration::from_secs(600), windows: Vec::new() };
        simulate(&m, of_kind(times, 0), &options).unwrap_or_else(|e| panic!("{e}"))
    };
    let (a, b, c) = (small(1, 2), small(1, 2), small(1, 3));
    // Same seeds: the whole report is identical (histograms, series, windows, counts).
    assert!(a == b, "two runs with the same seeds differ");
    let (ka, kb, kc) = (&a.total.kinds[0], &b.total.kinds[0], &c.total.kinds[0]);
    assert_eq!(ka.latency, kb.latency);
    assert_eq!((ka.ok, ka.rejected, ka.wait_ns), (kb.ok, kb.rejected, kb.wait_ns));
    assert_eq!(a.intervals, b.intervals);
    assert_eq!(a.total.busy_ns, b.total.busy_ns);
    assert_ne!(ka.latency, kc.latency);
    assert_ne!(a.total.busy_ns, c.total.busy_ns);
    assert!(ka.rejected > 0, "the case exercises refusals too");
}
