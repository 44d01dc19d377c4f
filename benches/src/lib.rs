//! Shared inputs for gameday's criterion benches (`benches/benches/*.rs`): realistic
//! latency samples and the per-user interval batches the collector merges.
//!
//! The benches themselves are in `benches/benches/`; `benches/README.md` says how to
//! run them and which targets they check.

use gameday::load::record::{Batch, KindStats, Outcome};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, LogNormal};

/// Request kinds in the benches' mix (e.g. attestation, prove, health).
pub const KINDS: usize = 3;

/// `n` latencies in microseconds, log-normal with median 20 ms and p99 near 200 ms (a
/// service like Midnight's attestation), seeded so every run sees the same values.
pub fn latencies_us(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    // ln(20_000 us) and sigma so that p99 = median * e^(2.326 sigma) ~ 10x the median.
    let dist = LogNormal::new(20_000f64.ln(), 1.0).ok();
    (0..n).map(|_| dist.map_or(20_000, |d| d.sample(&mut rng).clamp(50.0, 60e6) as u64)).collect()
}

/// One user's finished interval holding `requests` requests spread over [`KINDS`] kinds:
/// what a goose user sends the collector once per interval. With `timeouts`, one request
/// in a hundred is a timeout recorded at 60 s, which widens the histograms the way a
/// bad minute of a real run does.
pub fn batch(interval: u64, requests: usize, seed: u64, timeouts: bool) -> Batch {
    let mut kinds = vec![KindStats::default(); KINDS];
    // Open model: every send's lag behind its intended time, tens to hundreds of us.
    let mut lag = gameday::load::record::new_histogram();
    for (i, latency_us) in latencies_us(requests, seed).into_iter().enumerate() {
        let (latency_us, outcome) =
            if timeouts && i % 100 == 99 { (60_000_000, Outcome::Timeout) } else { (latency_us, Outcome::Ok) };
        kinds[i % KINDS].record(latency_us, outcome, None);
        lag.saturating_record(50 + (i as u64 * 37) % 400);
    }
    Batch::new(interval, &kinds, &lag)
}
