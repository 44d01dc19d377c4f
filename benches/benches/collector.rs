//! The collector's merge throughput: per-user interval batches, as goose users send
//! them, merged into the per-interval series and the whole-run totals. Target: it keeps
//! up with 50k requests/s, i.e. merging one simulated second of 50k requests (200 users
//! x 250 requests, 3 kinds) takes well under a second.

#![allow(missing_docs)] // the group macros generate undocumented public functions

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use gameday::load::record::{Batch, Collector};
use gameday_benches::{batch, KINDS};
use tokio_util::sync::CancellationToken;

const USERS: usize = 200;
const PER_USER: usize = 250;

/// One second of a 50k requests/s run: one batch per user, then the users' channel closes.
fn second_of_batches(timeouts: bool) -> Vec<Batch> {
    (0..USERS).map(|u| batch(0, PER_USER, u as u64, timeouts)).collect()
}

fn merge(c: &mut Criterion) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a tokio runtime for the bench: {e}"),
    };
    let template = [("50k_per_s", second_of_batches(false)), ("50k_per_s_with_timeouts", second_of_batches(true))];
    let mut g = c.benchmark_group("collector");
    g.throughput(Throughput::Elements((USERS * PER_USER) as u64));
    for (name, batches) in &template {
        g.bench_function(*name, |b| {
            b.iter_batched(
                || {
                    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                    for bt in batches {
                        let _ = tx.send(bt.clone());
                    }
                    drop(tx);
                    Collector::new(KINDS, rx)
                },
                |collector| rt.block_on(collector.run(CancellationToken::new())),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, merge);
criterion_main!(benches);
