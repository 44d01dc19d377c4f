//! [`Schedule`]: the seeded sequence of intended send times drawn from a [`RateCurve`].
//!
//! Both processes work by a time change. Let `L(t)` be the curve's integral from the
//! window's start (the expected count). Arrivals of a unit-rate process at operational
//! times `s_1 < s_2 < ...` become arrivals on the curve at `t_k = L^-1(s_k)`:
//! - **Poisson**: `s_k - s_(k-1)` are independent Exp(1) draws, which gives exactly a
//!   non-homogeneous Poisson process with intensity `rate(t)` (the time-rescaling theorem;
//!   for a constant curve, Exp(rate) gaps);
//! - **Constant**: `s_k = k`, one arrival each time the expected count grows by 1, so a
//!   constant curve gives gaps of exactly `1 / rate` and a ramp gives gaps that shrink
//!   with it.
//!
//! `L^-1` is solved span by span in closed form (flat, linear) or by a safeguarded Newton
//! search (diurnal), remembering the current span, so drawing an arrival allocates
//! nothing and costs O(1).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::Exp1;
use serde::{Deserialize, Serialize};

use super::curve::RateCurve;

/// How arrivals are spaced around the curve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Process {
    /// Exponential inter-arrival times around the curve (the default: independent users).
    #[default]
    Poisson,
    /// Evenly spaced in expected count: one arrival per unit of the curve's integral.
    Constant,
}

/// A seeded sequence of intended send times: simulated offsets from the window's start,
/// increasing, all before the window's end. The same curve, process, seed and window
/// always give the same sequence.
#[derive(Clone, Debug)]
pub struct Schedule {
    curve: RateCurve,
    process: Process,
    rng: StdRng,
    window: (Duration, Duration),
    from_s: f64,
    until_s: f64,
    t_s: f64,
    span: usize,
    done: bool,
}

impl Schedule {
    /// A schedule over `[0, horizon)` of simulated time.
    pub fn new(curve: RateCurve, process: Process, seed: u64, horizon: Duration) -> Self {
        Self::window(curve, process, seed, Duration::ZERO, horizon)
    }

    /// A schedule over the part `[from, until)` of the curve (e.g. the peak hour of a
    /// week of a growth plan), its times given as offsets from `from`.
    pub fn window(curve: RateCurve, process: Process, seed: u64, from: Duration, until: Duration) -> Self {
        let from_s = from.as_secs_f64();
        let span = curve.span_index(from_s);
        Self {
            curve,
            process,
            rng: StdRng::seed_from_u64(seed),
            window: (from, until),
            from_s,
            until_s: until.as_secs_f64(),
            t_s: from_s,
            span,
            done: until <= from,
        }
    }

    /// The expected number of arrivals in the window (the curve's integral over it).
    pub fn expected_count(&self) -> f64 {
        self.curve.expected_count(self.window.0, self.window.1)
    }

    /// The curve the schedule follows.
    pub fn curve(&self) -> &RateCurve {
        &self.curve
    }

    /// The spacing process.
    pub fn process(&self) -> Process {
        self.process
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.done {
            return None;
        }
        let amount: f64 = match self.process {
            Process::Poisson => self.rng.sample(Exp1),
            Process::Constant => 1.0,
        };
        let next = self.curve.advance(&mut self.span, self.t_s, amount).filter(|t| *t < self.until_s);
        let offset = next.and_then(|t| Duration::try_from_secs_f64(t - self.from_s).ok());
        match (next, offset) {
            (Some(t), Some(offset)) => {
                self.t_s = t;
                Some(offset)
            }
            _ => {
                self.done = true;
                None
            }
        }
    }
}

impl std::iter::FusedIterator for Schedule {}
