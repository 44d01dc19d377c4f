//! Hand-built cases with fixed service times, computed by hand, and the same cases run
//! through the live `WorkerPool` (tokio's paused clock) as a second oracle.

use std::sync::Arc;
use std::time::Duration;

use gameday_mocks::kit::{HumanDuration, PoolConfig, PositiveDuration, Sampler, ServiceTime, TimeScale, WorkerPool};
use gameday_mocks::services::midnight::Profile;

use super::*;
use crate::queueing::utilisation;
use crate::stream::{merge, mixed, of_kind};
use gameday_core::arrival::{Process, RateCurve, Schedule};
use gameday_core::outcome::new_histogram;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn pool(workers: usize, job_capacity: usize, timeout: Duration) -> PoolConfig {
    PoolConfig {
        workers,
        job_capacity,
        job_timeout: PositiveDuration(HumanDuration(timeout)),
        cpu_window: PositiveDuration(HumanDuration(Duration::from_secs(10))),
        base_cpu: 0.0,
    }
}

fn fixed(name: &str, service: Duration, route: Route) -> KindModel {
    KindModel::new(name, Sampler::Fixed(service.as_secs_f64()), route)
}

fn run_fixed(config: PoolConfig, service: Duration, arrivals: &[Duration], interval: Duration) -> SimOutput {
    let model = SimModel::new(config, vec![fixed("job", service, Route::Pool)]);
    let options = SimOptions { seed: 1, interval, windows: Vec::new() };
    simulate(&model, of_kind(arrivals.iter().copied(), 0), &options).unwrap_or_else(|e| panic!("{e}"))
}

/// Latency of each job (ok or not), in submission order, through the live pool.
async fn run_live(config: PoolConfig, service: Duration, arrivals: &[Duration]) -> (Vec<(bool, Duration)>, f64) {
    let live = WorkerPool::new(config, TimeScale::REAL_TIME, service.as_secs_f64());
    let origin = tokio::time::Instant::now();
    let jobs: Vec<_> = arrivals
        .iter()
        .map(|&at| {
            let p = Arc::clone(&live);
            tokio::spawn(async move {
                tokio::time::sleep_until(origin + at).await;
                let started = tokio::time::Instant::now();
                let outcome = p.run(service).await;
                (outcome.is_ok(), started.elapsed())
            })
        })
        .collect();
    let mut out = Vec::new();
    for j in jobs {
        out.push(j.await.unwrap_or((false, Duration::MAX)));
    }
    (out, live.stats().busy_sim_s)
}

fn histogram_of(latencies: &[(bool, Duration)]) -> hdrhistogram::Histogram<u64> {
    let mut h = new_histogram();
    for (_, d) in latencies {
        let _ = h.record((d.as_micros() as u64).max(1));
    }
    h
}

#[tokio::test(start_paused = true)]
async fn job_timeout_counts_from_admission_and_frees_the_worker_at_the_deadline() {
    // One worker, job_timeout 5 s, every job 4 s; arrivals at 0, 0.5, 1, 20 s. By hand:
    // J0 runs 0-4: ok, 4 s. J1 waits to 4, deadline 5.5 < 8: cut at 5.5, worker busy 1.5 s.
    // J2 starts at 5.5 (not 8: the cut job freed the worker), deadline 6: cut, busy 0.5 s.
    // J3 runs 20-24: ok, 4 s. Busy 4 + 1.5 + 0.5 + 4 = 10 s; waits 0 + 3.5 + 4.5 + 0 = 8 s.
    let arrivals = [ms(0), ms(500), ms(1000), ms(20_000)];
    let config = pool(1, 0, Duration::from_secs(5));
    let r = run_fixed(config.clone(), ms(4000), &arrivals, Duration::from_secs(60));
    let k = &r.total.kinds[0];
    assert_eq!((k.ok, k.timed_out, k.rejected, k.started), (2, 2, 0, 4));
    assert_eq!(k.wait_ns, 8_000_000_000);
    assert_eq!(r.total.busy_ns, 10_000_000_000);
    assert!(k.latency.equivalent(k.latency.min(), 4_000_000), "shortest {}", k.latency.min());
    assert!(k.latency.equivalent(k.latency.max(), 5_000_000), "longest {}", k.latency.max());
    let (live, busy_s) = run_live(config, ms(4000), &arrivals).await;
    let oks: Vec<bool> = live.iter().map(|l| l.0).collect();
    assert_eq!(oks, vec![true, false, false, true]);
    assert_eq!(histogram_of(&live), k.latency);
    assert!((busy_s - 10.0).abs() < 1e-3, "live busy {busy_s}");
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_refuses_and_a_freed_slot_admits_again() {
    // One worker, one waiting place, 4 s jobs at 0, 1, 2, 4.5 s. By hand: J0 runs 0-4;
    // J1 waits 1-4, runs to 8 (7 s); J2 finds J1 waiting: refused; J3 at 4.5 finds the
    // queue empty (J1 started at 4), waits to 8, runs to 12 (7.5 s). Busy 12 s.
    let arrivals = [ms(0), ms(1000), ms(2000), ms(4500)];
    let config = pool(1, 1, Duration::from_secs(600));
    let r = run_fixed(config.clone(), ms(4000), &arrivals, Duration::from_secs(60));
    let k = &r.total.kinds[0];
    assert_eq!((k.ok, k.rejected, k.timed_out), (3, 1, 0));
    assert_eq!(k.wait_ns, 6_500_000_000);
    assert_eq!(r.total.busy_ns, 12_000_000_000);
    assert_eq!(r.queue_max, 1);
    assert_eq!(r.events, 7, "4 arrivals + 3 departures; a refusal is its arrival only");
    let (live, busy_s) = run_live(config, ms(4000), &arrivals).await;
    let oks: Vec<bool> = live.iter().map(|l| l.0).collect();
    assert_eq!(oks, vec![true, true, false, true]);
    let live_us: Vec<u64> = live.iter().map(|l| l.1.as_micros() as u64).collect();
    assert_eq!(live_us, vec![4_000_000, 7_000_000, 0, 7_500_000], "live pool, by hand");
    // The refusal is recorded at zero (1 µs, the histogram's floor) in both.
    assert_eq!(histogram_of(&live), k.latency);
    assert!((busy_s - 12.0).abs() < 1e-3, "live busy {busy_s}");
}

#[test]
fn intervals_and_windows_split_busy_time_and_queue_occupancy_exactly() {
    // One worker, 4 s jobs at 0 and 1 s, 5 s intervals, window [5 s, 10 s). By hand:
    // busy 0-8: interval 0 gets 5 s, interval 1 gets 3 s; J1 waits 1-4: queue area 3 s
    // in interval 0; J0 ends at 4 (interval 0), J1 at 8 (interval 1, in the window, 7 s).
    let model = SimModel::new(pool(1, 0, Duration::from_secs(600)), vec![fixed("job", ms(4000), Route::Pool)]);
    let window = Window { start: Duration::from_secs(5), end: Duration::from_secs(10) };
    let options = SimOptions { seed: 1, interval: Duration::from_secs(5), windows: vec![window] };
    let r = simulate(&model, of_kind([ms(0), ms(1000)], 0), &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.intervals.len(), 2);
    assert_eq!((r.intervals[0].busy_ns, r.intervals[1].busy_ns), (5_000_000_000, 3_000_000_000));
    assert_eq!(r.intervals[0].queue_area_ns, 3_000_000_000);
    assert!((r.mean_queue_depth(0) - 0.6).abs() < 1e-12);
    assert_eq!((r.intervals[0].queue_max, r.intervals[1].queue_at_start), (1, 0));
    assert_eq!((r.intervals[0].kinds[0].ok, r.intervals[1].kinds[0].ok), (1, 1));
    assert_eq!(r.intervals[1].kinds[0].latency_max_us, 7_000_000);
    assert_eq!((r.intervals[0].kinds[0].arrivals, r.intervals[1].kinds[0].arrivals), (2, 0));
    let w = &r.windows[0].tally;
    assert_eq!((w.kinds[0].ok, w.busy_ns), (1, 3_000_000_000));
    assert!((r.window_utilisation(0) - 0.6).abs() < 1e-12);
    // CPU gauge over a 10 s window (2 intervals): 5/5, then (5+3)/10.
    assert_eq!(r.cpu_series(), vec![1.0, 0.8]);
    assert_eq!(r.span, Duration::from_secs(8));
    assert!((r.utilisation() - 1.0).abs() < 1e-12);
}

#[test]
fn direct_kinds_neither_queue_nor_use_the_pool() {
    // A 10 s pool job at 0 holds the only worker; a 1 s direct request at 1 s still takes 1 s.
    let kinds = vec![fixed("prove", Duration::from_secs(10), Route::Pool), fixed("attest", ms(1000), Route::Direct)];
    let model = SimModel::new(pool(1, 1, Duration::from_secs(600)), kinds);
    let arrivals = [(ms(0), 0), (ms(1000), 1), (ms(2000), 1)];
    let r = simulate(&model, arrivals, &SimOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let attest = &r.total.kinds[1];
    assert_eq!((attest.ok, attest.latency.max()), (2, attest.latency.highest_equivalent(1_000_000)));
    assert_eq!(r.total.busy_ns, 10_000_000_000);
    assert_eq!(r.queue_max, 0);
}

#[test]
fn bad_input_is_refused_with_the_position() {
    let model = SimModel::new(pool(1, 0, Duration::from_secs(1)), vec![fixed("job", ms(1), Route::Pool)]);
    let o = SimOptions::default();
    let back = simulate(&model, [(ms(5), 0), (ms(4), 0)], &o);
    assert!(matches!(back, Err(SimError::OutOfOrder { index: 1, .. })), "{back:?}");
    let unknown = simulate(&model, [(ms(5), 3)], &o);
    assert!(matches!(unknown, Err(SimError::UnknownKind { index: 0, kind: 3, kinds: 1 })));
    let zero = SimOptions { interval: Duration::ZERO, ..SimOptions::default() };
    assert_eq!(simulate(&model, [], &zero).err(), Some(SimError::ZeroInterval));
    let w = Window { start: ms(5), end: ms(5) };
    let empty = SimOptions { windows: vec![w], ..SimOptions::default() };
    assert!(matches!(simulate(&model, [], &empty), Err(SimError::EmptyWindow { index: 0, .. })));
    let tiny = SimOptions { interval: Duration::from_nanos(1), ..SimOptions::default() };
    assert!(matches!(simulate(&model, [(ms(50), 0)], &tiny), Err(SimError::TooManyIntervals { .. })));
}

#[test]
fn four_weeks_of_midnight_busy_the_pool_as_the_mean_service_times_predict() {
    // Proofs 3300/day split check:prove:prove-tx = 2:5:3, attestations 5000/day, 28 days.
    // Oracle: utilisation = Σ λ_k E[S_k] / c with E[S] the log-normal mean exp(μ + σ²/2).
    let profile = Profile::default();
    let model = SimModel::midnight(&profile).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.kind_index("attestation"), Some(3));
    let horizon = Duration::from_secs(28 * 86_400);
    let curve = |r: &str| RateCurve::Constant(r.parse().unwrap_or_else(|e| panic!("{e}")));
    let proofs = Schedule::new(curve("3300/day"), Process::Poisson, 1, horizon);
    let proofs = mixed(proofs, &[2, 5, 3], 2).unwrap_or_else(|e| panic!("{e}"));
    let attest = of_kind(Schedule::new(curve("5000/day"), Process::Poisson, 3, horizon), 3);
    let streams: Vec<Box<dyn Iterator<Item = (Duration, usize)>>> = vec![Box::new(proofs), Box::new(attest)];
    let r = simulate(&model, merge(streams), &SimOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let st = &profile.service_time;
    let mean_s = (2.0 * st.check.mean_secs() + 5.0 * st.prove.mean_secs() + 3.0 * st.prove_tx.mean_secs()) / 10.0;
    let want = utilisation(3300.0 / 86_400.0, mean_s, profile.workers);
    let got = r.total.busy_ns as f64 / (profile.workers as f64 * horizon.as_nanos() as f64);
    assert!((got / want - 1.0).abs() < 0.02, "utilisation {got} vs {want}");
    let n_attest = r.total.kinds[3].total() as f64;
    assert!((n_attest / (28.0 * 5000.0) - 1.0).abs() < 0.01, "{n_attest}");
    assert_eq!(r.intervals.len() as u64, r.span.as_secs() / 60 + 1, "the series covers the run");
    let p50 = r.total.kinds[3].quantile(0.5).as_secs_f64();
    assert!((p50 / 0.040 - 1.0).abs() < 0.02, "attestation median {p50} s, configured 40 ms");
}

#[test]
fn profile_samplers_are_the_ones_the_mock_builds() {
    let bad = Profile {
        service_time: gameday_mocks::services::midnight::ServiceTimes {
            prove: ServiceTime::lognormal(Duration::from_secs(10), Duration::from_secs(5)),
            ..Default::default()
        },
        ..Profile::default()
    };
    let err = SimModel::midnight(&bad).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.starts_with("service_time.prove: p99"), "{err}");
}

#[test]
fn base_cpu_lifts_the_cpu_views_but_not_utilisation() {
    // The case above (busy 5 s of interval 0, 3 s of interval 1, window [5, 10) 3 s busy)
    // with base_cpu 0.5: CPU = 0.5 + 0.5 * busy, by hand.
    let mut config = pool(1, 0, Duration::from_secs(600));
    config.base_cpu = 0.5;
    let model = SimModel::new(config, vec![fixed("job", ms(4000), Route::Pool)]);
    let window = Window { start: Duration::from_secs(5), end: Duration::from_secs(10) };
    let options = SimOptions { seed: 1, interval: Duration::from_secs(5), windows: vec![window] };
    let r = simulate(&model, of_kind([ms(0), ms(1000)], 0), &options).unwrap_or_else(|e| panic!("{e}"));
    assert!((r.window_utilisation(0) - 0.6).abs() < 1e-12);
    assert!((r.window_cpu(0) - 0.8).abs() < 1e-12);
    assert!((r.interval_cpu(0) - 1.0).abs() < 1e-12 && (r.interval_cpu(1) - 0.8).abs() < 1e-12);
    assert!((r.interval_cpu(7) - 0.5).abs() < 1e-12, "an idle interval is the base");
    // Whole run: busy 8 s over span 8 s.
    assert!((r.utilisation() - 1.0).abs() < 1e-12 && (r.cpu() - 1.0).abs() < 1e-12);
    assert_eq!(r.cpu_series(), vec![1.0, 0.9]);
}

#[test]
fn cost_scale_multiplies_pool_service_times_only() {
    // Jobs of 4 s at 0 and 1 s, cost_scale 0.5: 2 s each; J0 0-2, J1 waits 1-2 and runs
    // 2-4 (latency 3 s). The direct kind (1 s) is not scaled.
    let kinds = vec![fixed("job", ms(4000), Route::Pool), fixed("direct", ms(1000), Route::Direct)];
    let model = SimModel::new(pool(1, 0, Duration::from_secs(600)), kinds).with_cost_scale(0.5);
    let options = SimOptions { seed: 1, interval: Duration::from_secs(10), windows: Vec::new() };
    let arrivals = [(ms(0), 0), (ms(1000), 0), (ms(1000), 1)];
    let r = simulate(&model, arrivals, &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.total.busy_ns, 4_000_000_000);
    assert_eq!(r.intervals[0].kinds[0].latency_max_us, 3_000_000);
    assert_eq!(r.intervals[0].kinds[1].latency_max_us, 1_000_000);
    assert_eq!(r.total.kinds[0].mean_wait(), Some(ms(500)));
    let more = model.with_capacity(3, 7);
    assert_eq!((more.pool.workers, more.pool.job_capacity, more.cost_scale), (3, 7, 0.5));
    assert_eq!(model.with_workers(0).pool.workers, 1);
}

/// The twin's premise: a Midnight kind in the simulator draws the same service times,
/// in the same order, as the mock's `ServiceStream` of that name for the same seed. One
/// direct kind, arrivals far apart, so each latency is exactly its draw: the window's
/// histogram must hold the stream's draws (to the histogram's microsecond).
#[test]
fn midnight_kinds_draw_the_mocks_service_time_streams() {
    let model = SimModel::midnight(&Profile::default()).unwrap_or_else(|e| panic!("{e}"));
    let attestation = model.kind_index("attestation").unwrap_or_else(|| panic!("no attestation kind"));
    let n = 200u64;
    let arrivals = (0..n).map(|i| Duration::from_secs(10 * i));
    let whole = Window { start: Duration::ZERO, end: Duration::from_secs(10 * n + 10) };
    let options = SimOptions { seed: 42, interval: Duration::from_secs(60), windows: vec![whole] };
    let report = simulate(&model, of_kind(arrivals, attestation), &options).unwrap_or_else(|e| panic!("{e}"));
    let sampler = model.kinds[attestation].service.clone();
    let stream = gameday_mocks::kit::ServiceStream::new(sampler, 42, "midnight/attestation");
    let mut expected = new_histogram();
    for _ in 0..n {
        expected.record((stream.draw().as_nanos() / 1000).max(1) as u64).unwrap_or_else(|e| panic!("{e}"));
    }
    let got = &report.windows[0].tally.kinds[attestation].latency;
    assert_eq!(got.len(), n);
    for q in [0.1, 0.5, 0.9, 0.99, 1.0] {
        assert_eq!(got.value_at_quantile(q), expected.value_at_quantile(q), "quantile {q}");
    }
    // Another seed is another stream.
    let other =
        gameday_mocks::kit::ServiceStream::new(model.kinds[attestation].service.clone(), 43, "midnight/attestation");
    let first =
        gameday_mocks::kit::ServiceStream::new(model.kinds[attestation].service.clone(), 42, "midnight/attestation");
    assert_ne!(other.draw(), first.draw());
}
