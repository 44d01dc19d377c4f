//! The recording hot path: one latency into a `KindStats` histogram, and one request
//! through `UserRecorder::record` (interval check + histogram + outcome count), with and
//! without the once-per-interval flush to the collector. Target: <= 20 ns per record.

#![allow(missing_docs)] // the group macros generate undocumented public functions

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gameday::load::record::{KindStats, Outcome, UserRecorder};
use gameday_benches::{latencies_us, KINDS};

const SAMPLES: usize = 4096;

fn kind_stats(c: &mut Criterion) {
    let lat = latencies_us(SAMPLES, 1);
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(1));
    let mut stats = KindStats::default();
    let mut i = 0usize;
    g.bench_function("kind_stats", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            stats.record(black_box(lat[i % SAMPLES]), black_box(Outcome::Ok), None);
        })
    });
    g.finish();
}

fn user_recorder(c: &mut Criterion) {
    let lat = latencies_us(SAMPLES, 2);
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(1));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let start = tokio::time::Instant::now();
    let interval = Duration::from_secs(1);

    // Every request lands in the same interval: the pure per-request cost.
    let mut rec = UserRecorder::new(KINDS, start, interval, tx.clone());
    let at = start + Duration::from_millis(300);
    let mut i = 0usize;
    g.bench_function("user_recorder", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            rec.record(black_box(at), i % KINDS, black_box(lat[i % SAMPLES]), Outcome::Ok, None);
        })
    });

    // A user sending 250 requests/s with 1 s intervals: one flush (a fresh set of
    // histograms and a channel send) per 250 records, amortised in the figure.
    g.bench_function("user_recorder_with_flush_every_250", |b| {
        b.iter_custom(|iters| {
            let mut rec = UserRecorder::new(KINDS, start, interval, tx.clone());
            let step_ns = (interval / 250).as_nanos() as u64;
            let t0 = Instant::now();
            for n in 0..iters {
                let at = start + Duration::from_nanos(step_ns * n);
                let k = n as usize;
                rec.record(black_box(at), k % KINDS, black_box(lat[k % SAMPLES]), Outcome::Ok, None);
            }
            let took = t0.elapsed();
            drop(rec);
            while rx.try_recv().is_ok() {}
            took
        })
    });
    g.finish();
}

criterion_group!(benches, kind_stats, user_recorder);
criterion_main!(benches);
