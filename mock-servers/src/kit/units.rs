//! Units that cross the scenario / mock boundary: human durations and the time scale.
//!
//! Every duration in a profile or scenario is *simulated* time and is written as a human
//! string (`"45s"`, `"600s"`, `"7d"`). [`TimeScale`] converts simulated time to the real
//! time a mock sleeps and back (see "One clock" in the architecture note).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as a human string in files (`"250ms"`, `"45s"`, `"7d"`).
///
/// Parsing rejects negative values and garbage with a message that names the value, so
/// a scenario error points at the field that holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The wrapped duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

/// Why a string is not a [`HumanDuration`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DurationError {
    /// The duration starts with `-`.
    #[error("duration `{0}` is negative")]
    Negative(String),
    /// The duration does not parse.
    #[error("`{text}` is not a duration like \"250ms\", \"45s\" or \"7d\": {source}")]
    Syntax {
        /// The text as written.
        text: String,
        /// What humantime refused.
        #[source]
        source: humantime::DurationError,
    },
}

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        if trimmed.starts_with('-') {
            return Err(DurationError::Negative(s.to_owned()));
        }
        humantime::parse_duration(trimmed)
            .map(Self)
            .map_err(|source| DurationError::Syntax { text: s.to_owned(), source })
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// A duration that must be strictly positive (a run length, a window, a timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PositiveDuration(pub HumanDuration);

impl PositiveDuration {
    /// The wrapped duration.
    pub fn get(self) -> Duration {
        self.0 .0
    }
}

impl<'de> Deserialize<'de> for PositiveDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let h = HumanDuration::deserialize(d)?;
        if h.0.is_zero() {
            return Err(serde::de::Error::custom("duration must be greater than zero"));
        }
        Ok(Self(h))
    }
}

/// Simulated seconds per real second. `1` runs in real time; `100` runs a simulated
/// hour in 36 real seconds. Mocks divide modelled service times by it; load multiplies
/// arrival rates by it; reports multiply measured real latencies by it.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct TimeScale(f64);

/// Why [`TimeScale::new`] refused a scale.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum TimeScaleError {
    /// Outside [`TimeScale::MIN`]`..=`[`TimeScale::MAX`] (or NaN).
    #[error(
        "time_scale must be between {} and {} simulated seconds per real second, got {got}",
        TimeScale::MIN,
        TimeScale::MAX
    )]
    OutOfRange {
        /// The scale asked for.
        got: f64,
    },
}

impl TimeScale {
    /// Real time.
    pub const REAL_TIME: TimeScale = TimeScale(1.0);

    /// The slowest scale: a simulated second lasts 1000 real seconds.
    pub const MIN: f64 = 1e-3;
    /// The fastest scale: a simulated day lasts 8.6 real seconds. Faster, a millisecond of
    /// service time is shorter than a loopback round trip.
    pub const MAX: f64 = 1e4;

    /// A scale, if it is in [`Self::MIN`]`..=`[`Self::MAX`] (the one place the range is enforced).
    pub fn new(sim_per_real: f64) -> Result<Self, TimeScaleError> {
        if (Self::MIN..=Self::MAX).contains(&sim_per_real) {
            Ok(Self(sim_per_real))
        } else {
            Err(TimeScaleError::OutOfRange { got: sim_per_real })
        }
    }

    /// Simulated seconds per real second.
    pub fn factor(self) -> f64 {
        self.0
    }

    /// The real time that a simulated duration takes (saturating at `Duration::MAX`).
    pub fn to_real(self, simulated: Duration) -> Duration {
        Duration::try_from_secs_f64(simulated.as_secs_f64() / self.0).unwrap_or(Duration::MAX)
    }

    /// The simulated time that a real duration stands for (saturating at `Duration::MAX`).
    pub fn to_sim(self, real: Duration) -> Duration {
        Duration::try_from_secs_f64(real.as_secs_f64() * self.0).unwrap_or(Duration::MAX)
    }
}

impl Default for TimeScale {
    fn default() -> Self {
        Self::REAL_TIME
    }
}

impl<'de> Deserialize<'de> for TimeScale {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        TimeScale::new(v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_durations_and_rejects_negative() {
        assert_eq!("250ms".parse::<HumanDuration>().map(HumanDuration::get), Ok(Duration::from_millis(250)));
        assert_eq!("7d".parse::<HumanDuration>().map(HumanDuration::get), Ok(Duration::from_secs(7 * 86_400)));
        assert!("-5s".parse::<HumanDuration>().is_err());
        assert!("soon".parse::<HumanDuration>().is_err());
    }

    #[test]
    fn time_scale_converts_both_ways() {
        let scale = TimeScale::new(100.0).unwrap_or_default();
        assert_eq!(scale.to_real(Duration::from_secs(20)), Duration::from_millis(200));
        assert_eq!(scale.to_sim(Duration::from_millis(5)), Duration::from_millis(500));
        assert!(TimeScale::new(0.0).is_err());
        assert!(TimeScale::new(f64::NAN).is_err());
    }
}
