//! `[growth]`: a growth curve for `gameday plan` as the scenario writes it (plain data;
//! the engine that turns it into weekly volumes is `capacity::growth`).

use std::time::Duration;

use gameday_core::arrival::Rate;
use gameday_mocks::kit::{HumanDuration, PositiveDuration};
use serde::{Deserialize, Serialize};

/// A week of simulated time.
pub const WEEK: Duration = Duration::from_secs(7 * 86_400);

/// The longest horizon a plan accepts (ten years of weeks).
pub const MAX_WEEKS: u32 = 520;

/// `[growth]` as the scenario writes it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrowthSpec {
    /// Week 1's volume of the unit requests: `"1000/day"`.
    #[serde(default)]
    pub start: Option<Rate>,
    /// Growth per week: `"+50%/week"` (or `"-10%/week"`).
    #[serde(default)]
    pub rate: Option<WeeklyGrowth>,
    /// Weeks to plan (with `start` and `rate`).
    #[serde(default)]
    pub weeks: Option<u32>,
    /// Or: the volume of each week, explicitly.
    #[serde(default)]
    pub volumes: Option<Vec<Rate>>,
    /// The request kinds the volume counts (default: every kind of the mix).
    #[serde(default)]
    pub unit: Vec<String>,
    /// Peak over average of the daily wave (1 = flat).
    #[serde(default = "one")]
    pub peak_to_average: f64,
    /// Time of day of the daily peak (default 14h).
    #[serde(default = "two_pm")]
    pub peak_at: HumanDuration,
    /// Short bursts on top of the curve.
    #[serde(default, rename = "spike")]
    pub spikes: Vec<Spike>,
}

pub(crate) fn one() -> f64 {
    1.0
}

pub(crate) fn two_pm() -> HumanDuration {
    HumanDuration(Duration::from_secs(14 * 3600))
}

/// A burst: `multiplier` times the curve's rate for `duration`, starting `at` into `week`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spike {
    /// The week (1-based).
    pub week: u32,
    /// Offset into the week (`"2d10h"`).
    pub at: HumanDuration,
    /// How long it lasts.
    pub duration: PositiveDuration,
    /// Rate multiplier during the spike (> 1).
    pub multiplier: f64,
}

/// A weekly growth rate such as `"+50%/week"`: the fraction added each week.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(into = "String")]
pub struct WeeklyGrowth(pub f64);

/// A string that is not a [`WeeklyGrowth`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a weekly growth like \"+50%/week\" or \"-10%/week\"")]
pub struct WeeklyGrowthError(pub String);

impl std::str::FromStr for WeeklyGrowth {
    type Err = WeeklyGrowthError;

    fn from_str(s: &str) -> Result<Self, WeeklyGrowthError> {
        let bad = || WeeklyGrowthError(s.to_owned());
        let pct = s.trim().strip_suffix("/week").and_then(|p| p.trim().strip_suffix('%')).ok_or_else(bad)?;
        let v: f64 = pct.trim().trim_start_matches('+').parse().map_err(|_| bad())?;
        if !v.is_finite() {
            return Err(bad());
        }
        Ok(Self(v / 100.0))
    }
}

impl<'de> Deserialize<'de> for WeeklyGrowth {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
