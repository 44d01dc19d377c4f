//! Arrival streams for the simulator: arrival times (such as a
//! [`Schedule`](gameday_core::arrival::Schedule)) tagged with request kinds, and several
//! time-ordered streams merged into one.
//!
//! The simulator takes any iterator of `(simulated arrival time, kind index)` in time
//! order; these helpers build one from `Iterator<Item = Duration>` sources.

use std::time::Duration;

use gameday_core::arrival::{KindDraw, Tagged};

use crate::sim::SimError;

/// Every arrival of `times` as `kind`.
pub fn of_kind<I>(times: I, kind: usize) -> impl Iterator<Item = (Duration, usize)>
where
    I: IntoIterator<Item = Duration>,
{
    times.into_iter().map(move |t| (t, kind))
}

/// Arrivals of `times`, each given a kind drawn with `weights` (index = kind) from the
/// kind stream seeded with `seed` (see [`KindDraw`]): the live pacer draws the same
/// kinds in the same order for the same seed.
pub fn mixed<I>(times: I, weights: &[u32], seed: u64) -> Result<Tagged<I::IntoIter>, SimError>
where
    I: IntoIterator<Item = Duration>,
{
    Ok(KindDraw::new(weights, seed)?.tag(times))
}

/// Time-ordered streams merged into one time-ordered stream; on equal times the stream
/// listed first goes first.
pub fn merge<I>(streams: Vec<I>) -> Merge<I>
where
    I: Iterator<Item = (Duration, usize)>,
{
    let heads = streams.into_iter().map(|mut s| (s.next(), s)).collect();
    Merge { heads }
}

/// See [`merge`].
#[derive(Debug)]
pub struct Merge<I> {
    heads: Vec<(Option<(Duration, usize)>, I)>,
}

impl<I: Iterator<Item = (Duration, usize)>> Iterator for Merge<I> {
    type Item = (Duration, usize);

    fn next(&mut self) -> Option<(Duration, usize)> {
        let mut best: Option<usize> = None;
        for (i, (head, _)) in self.heads.iter().enumerate() {
            let Some((t, _)) = head else { continue };
            if best.is_none_or(|b| self.heads[b].0.is_some_and(|(bt, _)| *t < bt)) {
                best = Some(i);
            }
        }
        let (head, stream) = self.heads.get_mut(best?)?;
        std::mem::replace(head, stream.next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&s| Duration::from_secs(s)).collect()
    }

    #[test]
    fn merge_keeps_every_arrival_in_time_order_and_breaks_ties_by_stream_order() {
        let a = of_kind(secs(&[1, 3, 3, 7]), 0);
        let b = of_kind(secs(&[0, 3, 8]), 1);
        let boxed: Vec<Box<dyn Iterator<Item = (Duration, usize)>>> = vec![Box::new(a), Box::new(b)];
        let got: Vec<(u64, usize)> = merge(boxed).map(|(t, k)| (t.as_secs(), k)).collect();
        // Hand-merged: 0b, 1a, 3a, 3a, 3b, 7a, 8b.
        assert_eq!(got, vec![(0, 1), (1, 0), (3, 0), (3, 0), (3, 1), (7, 0), (8, 1)]);
    }

    #[test]
    fn mixed_draws_kinds_in_proportion_to_the_weights() {
        let times = (0..100_000u64).map(Duration::from_millis);
        let mut counts = [0u64; 3];
        for (_, k) in mixed(times, &[1, 2, 7], 9).into_iter().flatten() {
            counts[k] += 1;
        }
        // Expected 10%, 20%, 70% of 100 000; 3 sigma of a binomial at n = 1e5 is < 0.5%.
        for (got, want) in counts.iter().zip([10_000.0, 20_000.0, 70_000.0]) {
            assert!((*got as f64 - want).abs() < 500.0, "{counts:?}");
        }
    }

    #[test]
    fn all_zero_weights_are_an_error() {
        assert!(matches!(mixed(Vec::new(), &[0, 0], 1), Err(SimError::Weights(_))));
    }
}
