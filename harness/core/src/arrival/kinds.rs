//! Request kinds drawn in schedule order: the `n`-th arrival of an open-model schedule
//! gets the `n`-th draw of one seeded stream, whichever user ends up sending it.
//!
//! The live pacer ([`crate::load::pacing::Pacer`]) and the simulator's arrival stream
//! ([`crate::capacity::stream::mixed`]) draw from the same stream for the same seed, so
//! a live window and its simulated twin see the same sequence of request kinds (common
//! random numbers: what differs between them is the model, not the sample).

use std::time::Duration;

use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The seed of the kind stream of a run seeded with `seed`.
pub fn kinds_seed(seed: u64) -> u64 {
    seed ^ 0x006d_6978
}

/// Weights no kind can be drawn from (none, or all zero).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("request weights: {0}")]
pub struct WeightsError(rand::distr::weighted::Error);

/// A seeded stream of request kinds (indices into the mix) drawn with weights.
#[derive(Clone, Debug)]
pub struct KindDraw {
    pick: WeightedIndex<u32>,
    rng: StdRng,
}

impl KindDraw {
    /// Kinds with `weights` (index = kind) from a `StdRng` seeded with `seed`; an error
    /// names what is wrong with the weights (none, or all zero).
    pub fn new(weights: &[u32], seed: u64) -> Result<Self, WeightsError> {
        let pick = WeightedIndex::new(weights).map_err(WeightsError)?;
        Ok(Self { pick, rng: StdRng::seed_from_u64(seed) })
    }

    /// The next arrival's kind.
    pub fn next_kind(&mut self) -> usize {
        self.rng.sample(&self.pick)
    }

    /// Tags each of `times` with the next kind.
    pub fn tag<I: IntoIterator<Item = Duration>>(self, times: I) -> Tagged<I::IntoIter> {
        Tagged { times: times.into_iter(), draw: self }
    }
}

/// See [`KindDraw::tag`].
#[derive(Debug)]
pub struct Tagged<I> {
    times: I,
    draw: KindDraw,
}

impl<I: Iterator<Item = Duration>> Iterator for Tagged<I> {
    type Item = (Duration, usize);

    fn next(&mut self) -> Option<(Duration, usize)> {
        let t = self.times.next()?;
        Some((t, self.draw.next_kind()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_kinds_in_the_same_order() {
        let mut a = KindDraw::new(&[2, 5, 3], 9).unwrap();
        let times = (0..1000u64).map(Duration::from_millis);
        let tagged: Vec<usize> = KindDraw::new(&[2, 5, 3], 9).unwrap().tag(times).map(|(_, k)| k).collect();
        let drawn: Vec<usize> = (0..1000).map(|_| a.next_kind()).collect();
        assert_eq!(tagged, drawn);
        let other: Vec<usize> = {
            let mut b = KindDraw::new(&[2, 5, 3], 10).unwrap();
            (0..1000).map(|_| b.next_kind()).collect()
        };
        assert_ne!(drawn, other, "another seed is another stream");
    }

    #[test]
    fn all_zero_weights_are_refused_with_a_message() {
        let e = KindDraw::new(&[0, 0], 1).unwrap_err();
        assert!(e.to_string().contains("request weights"), "{e}");
    }
}
