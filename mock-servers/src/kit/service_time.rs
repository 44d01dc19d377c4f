//! The service-time model: how long one request of a kind keeps a worker busy.
//!
//! A [`ServiceTime`] is data in a profile (`{ dist = "lognormal", median = "12s",
//! p99 = "40s" }`); [`ServiceTime::sampler`] turns it into a `rand_distr` distribution
//! once, so sampling on the request path is one draw. Values are simulated time; the
//! mock divides them by the run's [`TimeScale`](super::units::TimeScale). The same data
//! feeds the discrete-event simulator, so the live mock and the simulator agree.
//!
//! A [`ServiceStream`] is a kind's sampler with its own named, seeded RNG
//! ([`stream_seed`]): a mock draws the `n`-th request of a kind from the `n`-th draw
//! of that stream, and the simulator draws from the same stream for the same seed, so a
//! live run and its simulated twin give each request the same service time (common
//! random numbers).

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal, Uniform};
use serde::{Deserialize, Serialize};

use super::units::HumanDuration;

/// The standard normal quantile at 0.99, used to turn (median, p99) into a log-normal.
pub const Z_99: f64 = 2.326_347_874_040_841;

/// A service-time distribution for one request kind, in simulated time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum ServiceTime {
    /// Always the same time (M/D/1-style service).
    Fixed {
        /// The service time.
        value: HumanDuration,
    },
    /// Exponential with the given mean (M/M/c-style service).
    Exponential {
        /// The mean service time.
        mean: HumanDuration,
    },
    /// Log-normal fixed by its median and 99th percentile, the way latency is quoted.
    Lognormal {
        /// The median service time.
        median: HumanDuration,
        /// The 99th percentile service time; must exceed the median.
        p99: HumanDuration,
    },
    /// Uniform between two bounds.
    Uniform {
        /// The shortest service time.
        min: HumanDuration,
        /// The longest service time; must not be below `min`.
        max: HumanDuration,
    },
}

/// A ready-to-sample form of a [`ServiceTime`], in simulated seconds.
#[derive(Clone, Debug)]
pub enum Sampler {
    /// A constant.
    Fixed(f64),
    /// Exponential.
    Exponential(Exp<f64>),
    /// Log-normal.
    Lognormal(LogNormal<f64>),
    /// Uniform.
    Uniform(Uniform<f64>),
}

impl ServiceTime {
    /// A fixed service time.
    pub fn fixed(value: Duration) -> Self {
        Self::Fixed { value: value.into() }
    }

    /// An exponential service time with the given mean.
    pub fn exponential(mean: Duration) -> Self {
        Self::Exponential { mean: mean.into() }
    }

    /// A log-normal service time given its median and 99th percentile.
    pub fn lognormal(median: Duration, p99: Duration) -> Self {
        Self::Lognormal { median: median.into(), p99: p99.into() }
    }

    /// Checks the parameters and builds the sampler; the error says which parameter is wrong.
    pub fn sampler(&self) -> Result<Sampler, SamplerError> {
        match self {
            Self::Fixed { value } => Ok(Sampler::Fixed(value.0.as_secs_f64())),
            Self::Exponential { mean } => {
                let mean_s = positive_secs(mean, "mean")?;
                Ok(Sampler::Exponential(Exp::new(1.0 / mean_s)?))
            }
            Self::Lognormal { median, p99 } => {
                let median_s = positive_secs(median, "median")?;
                let p99_s = positive_secs(p99, "p99")?;
                if p99_s <= median_s {
                    return Err(SamplerError::P99NotAboveMedian { p99: *p99, median: *median });
                }
                let sigma = (p99_s.ln() - median_s.ln()) / Z_99;
                Ok(Sampler::Lognormal(LogNormal::new(median_s.ln(), sigma)?))
            }
            Self::Uniform { min, max } => {
                if max < min {
                    return Err(SamplerError::MaxBelowMin { min: *min, max: *max });
                }
                Ok(Sampler::Uniform(Uniform::new_inclusive(min.0.as_secs_f64(), max.0.as_secs_f64())?))
            }
        }
    }

    /// The same distribution with every time multiplied by `factor` (a non-positive or
    /// non-finite factor gives zero times): a log-normal keeps its shape (`sigma`), so
    /// each draw is the unscaled draw times `factor`.
    pub fn scaled(&self, factor: f64) -> Self {
        let f = if factor.is_finite() && factor > 0.0 { factor } else { 0.0 };
        let mul = |d: &HumanDuration| HumanDuration(Duration::from_secs_f64((d.0.as_secs_f64() * f).min(1e15)));
        match self {
            Self::Fixed { value } => Self::Fixed { value: mul(value) },
            Self::Exponential { mean } => Self::Exponential { mean: mul(mean) },
            Self::Lognormal { median, p99 } => Self::Lognormal { median: mul(median), p99: mul(p99) },
            Self::Uniform { min, max } => Self::Uniform { min: mul(min), max: mul(max) },
        }
    }

    /// The distribution's mean in simulated seconds (for Retry-After estimates and capacity maths).
    pub fn mean_secs(&self) -> f64 {
        match self {
            Self::Fixed { value } => value.0.as_secs_f64(),
            Self::Exponential { mean } => mean.0.as_secs_f64(),
            Self::Lognormal { median, p99 } => {
                let m = median.0.as_secs_f64().max(f64::MIN_POSITIVE);
                let sigma = (p99.0.as_secs_f64().max(m).ln() - m.ln()) / Z_99;
                m * (sigma * sigma / 2.0).exp()
            }
            Self::Uniform { min, max } => (min.0.as_secs_f64() + max.0.as_secs_f64()) / 2.0,
        }
    }
}

fn positive_secs(d: &HumanDuration, name: &'static str) -> Result<f64, SamplerError> {
    let s = d.0.as_secs_f64();
    if s > 0.0 {
        Ok(s)
    } else {
        Err(SamplerError::NotPositive { name })
    }
}

/// Why [`ServiceTime::sampler`] refused the parameters; the message names the parameter.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SamplerError {
    /// A mean, median or p99 of zero.
    #[error("{name} must be greater than zero")]
    NotPositive {
        /// The parameter.
        name: &'static str,
    },
    /// A log-normal whose p99 is not above its median.
    #[error("p99 ({p99}) must be greater than median ({median})")]
    P99NotAboveMedian {
        /// The 99th percentile given.
        p99: HumanDuration,
        /// The median given.
        median: HumanDuration,
    },
    /// A uniform whose max is below its min.
    #[error("max ({max}) must not be below min ({min})")]
    MaxBelowMin {
        /// The lower bound given.
        min: HumanDuration,
        /// The upper bound given.
        max: HumanDuration,
    },
    /// The exponential distribution refused its rate.
    #[error(transparent)]
    Exponential(#[from] rand_distr::ExpError),
    /// The log-normal distribution refused its parameters.
    #[error(transparent)]
    Lognormal(#[from] rand_distr::NormalError),
    /// The uniform distribution refused its bounds.
    #[error(transparent)]
    Uniform(#[from] rand_distr::uniform::Error),
}

impl Sampler {
    /// Draws one service time in simulated seconds.
    pub fn sample_secs<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Self::Fixed(v) => *v,
            Self::Exponential(d) => d.sample(rng),
            Self::Lognormal(d) => d.sample(rng),
            Self::Uniform(d) => d.sample(rng),
        }
    }

    /// Draws one service time as a simulated [`Duration`].
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        Duration::from_secs_f64(self.sample_secs(rng).max(0.0))
    }
}

/// The seed of the random stream named `name` (e.g. `midnight/prove-tx`) in a run
/// seeded with `seed`: distinct names draw independently.
pub fn stream_seed(seed: u64, name: &str) -> u64 {
    name.bytes().fold(seed, |acc, b| acc.rotate_left(5) ^ u64::from(b))
}

/// One request kind's service times: its sampler and its own seeded stream.
#[derive(Debug)]
pub struct ServiceStream {
    sampler: Sampler,
    rng: Mutex<StdRng>,
}

impl ServiceStream {
    /// The stream `name` of a run seeded with `seed`, drawing from `sampler`.
    pub fn new(sampler: Sampler, seed: u64, name: &str) -> Self {
        Self { sampler, rng: Mutex::new(StdRng::seed_from_u64(stream_seed(seed, name))) }
    }

    /// The next request's service time (simulated).
    pub fn draw(&self) -> Duration {
        match self.rng.lock() {
            Ok(mut rng) => self.sampler.sample(&mut *rng),
            Err(poisoned) => self.sampler.sample(&mut *poisoned.into_inner()),
        }
    }

    /// The sampler.
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::units::TimeScale;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn quantile(sorted: &[f64], q: f64) -> f64 {
        let idx = ((sorted.len() as f64) * q).ceil() as usize - 1;
        sorted[idx.min(sorted.len() - 1)]
    }

    fn samples(st: &ServiceTime, n: usize) -> Vec<f64> {
        let sampler = st.sampler().unwrap_or(Sampler::Fixed(f64::NAN));
        let mut rng = StdRng::seed_from_u64(7);
        let mut v: Vec<f64> = (0..n).map(|_| sampler.sample_secs(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn lognormal_median_and_p99_match_the_configuration_within_two_percent() {
        let st = ServiceTime::lognormal(Duration::from_secs(12), Duration::from_secs(40));
        let v = samples(&st, 100_000);
        let (median, p99) = (quantile(&v, 0.5), quantile(&v, 0.99));
        assert!((median / 12.0 - 1.0).abs() < 0.02, "median {median}");
        assert!((p99 / 40.0 - 1.0).abs() < 0.02, "p99 {p99}");
    }

    #[test]
    fn exponential_mean_matches_and_p99_is_mean_times_ln_100() {
        let st = ServiceTime::exponential(Duration::from_millis(200));
        let v = samples(&st, 100_000);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean / 0.2 - 1.0).abs() < 0.02, "mean {mean}");
        // Independent oracle: the exponential's quantile function, -mean * ln(1 - q).
        let p99 = quantile(&v, 0.99);
        let expected = 0.2 * 100f64.ln();
        assert!((p99 / expected - 1.0).abs() < 0.03, "p99 {p99} vs {expected}");
    }

    #[test]
    fn time_scale_divides_sampled_service_times() {
        let sampler = ServiceTime::fixed(Duration::from_secs(20)).sampler();
        let mut rng = StdRng::seed_from_u64(1);
        let sim = sampler.map(|s| s.sample(&mut rng)).unwrap_or_default();
        let scale = TimeScale::new(1000.0).unwrap_or_default();
        assert_eq!(scale.to_real(sim), Duration::from_millis(20));
    }

    #[test]
    fn scaled_distributions_scale_every_draw() {
        let s = Duration::from_secs;
        let cases = [
            ServiceTime::fixed(s(2)),
            ServiceTime::exponential(s(3)),
            ServiceTime::lognormal(s(12), s(40)),
            ServiceTime::Uniform { min: s(1).into(), max: s(5).into() },
        ];
        for st in cases {
            let (a, b) = (st.sampler(), st.scaled(1.5).sampler());
            let (Ok(a), Ok(b)) = (a, b) else { panic!("{st:?}") };
            let (mut ra, mut rb) = (StdRng::seed_from_u64(3), StdRng::seed_from_u64(3));
            for _ in 0..100 {
                let (x, y) = (a.sample_secs(&mut ra), b.sample_secs(&mut rb));
                assert!((y / x - 1.5).abs() < 1e-6, "{st:?}: {x} -> {y}");
            }
            assert!((st.scaled(1.5).mean_secs() / st.mean_secs() - 1.5).abs() < 1e-9);
        }
    }

    #[test]
    fn bad_parameters_are_named() {
        let st = ServiceTime::lognormal(Duration::from_secs(10), Duration::from_secs(5));
        assert!(st.sampler().err().map(|e| e.to_string()).unwrap_or_default().contains("p99"));
        let st = ServiceTime::exponential(Duration::ZERO);
        assert!(st.sampler().err().map(|e| e.to_string()).unwrap_or_default().contains("mean"));
    }
}
