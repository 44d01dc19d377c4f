//! Arrival schedules for the open model: seeded intended send times in simulated time.
//!
//! (Interface stub: constant-rate Poisson only; the full curve set lands with issue 5.)

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A rate written as `"2/s"`, `"1000/day"`: events per simulated second.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Rate {
    per_s: f64,
}

impl Rate {
    /// Events per simulated second.
    pub fn per_second(self) -> f64 {
        self.per_s
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a rate like \"2/s\", \"120/min\" or \"1000/day\"");
        let (n, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let n: f64 = n.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            "d" | "day" => 86_400.0,
            "w" | "week" => 604_800.0,
            _ => return Err(bad()),
        };
        if !n.is_finite() || n <= 0.0 {
            return Err(format!("rate `{s}` must be positive"));
        }
        Ok(Self { per_s: n / per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.per_s)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The target arrival rate over the run.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RateCurve {
    /// One rate for the whole run.
    Constant(Rate),
}

impl RateCurve {
    /// The highest rate the curve reaches (events per simulated second).
    pub fn peak_per_second(&self) -> f64 {
        match self {
            Self::Constant(r) => r.per_second(),
        }
    }
}

/// How arrivals are spaced around the curve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Process {
    /// Exponential inter-arrival times (the default: independent users).
    #[default]
    Poisson,
    /// Evenly spaced arrivals.
    Constant,
}

/// A seeded sequence of intended send times (simulated offsets from the start), bounded
/// by a horizon.
#[derive(Debug)]
pub struct Schedule {
    curve: RateCurve,
    process: Process,
    horizon_s: f64,
    t_s: f64,
    rng: StdRng,
}

impl Schedule {
    /// A schedule over `[0, horizon)`.
    pub fn new(curve: RateCurve, process: Process, seed: u64, horizon: Duration) -> Self {
        Self { curve, process, horizon_s: horizon.as_secs_f64(), t_s: 0.0, rng: StdRng::seed_from_u64(seed) }
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let rate = self.curve.peak_per_second();
        let gap = match self.process {
            Process::Poisson => Exp::new(rate).map_or(f64::INFINITY, |e| e.sample(&mut self.rng)),
            Process::Constant => 1.0 / rate,
        };
        self.t_s += gap;
        (self.t_s < self.horizon_s).then(|| Duration::from_secs_f64(self.t_s))
    }
}
