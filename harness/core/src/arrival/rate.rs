//! [`Rate`]: an arrival rate written as a human string (`"2/s"`, `"1000/day"`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The highest rate a scenario may ask for, in events per simulated second.
///
/// Ten million per second is far beyond what one generator sends (about 50k/s here) and
/// what the simulator runs in reasonable time; anything above it is a typo (`"2/ms"`
/// meant as `"2/s"`, a day volume written per second).
pub const MAX_RATE_PER_S: f64 = 1e7;

/// A rate written as `"2/s"`, `"120/min"`, `"1000/day"`, `"50/week"` or with decimals
/// (`"0.5/s"`, `"2.5e3/h"`): events per simulated second, finite, `>= 0` and at most
/// [`MAX_RATE_PER_S`].
///
/// Units: `s` `sec` `second`, `m` `min` `minute`, `h` `hour`, `d` `day`, `w` `week`
/// (plurals accepted). Zero is a valid rate (a pause in a step curve); a curve that is
/// zero everywhere is rejected by [`super::RateCurve`]'s validation.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Rate {
    per_s: f64,
}

impl Rate {
    /// No arrivals.
    pub const ZERO: Rate = Rate { per_s: 0.0 };

    /// A rate of `per_s` events per simulated second, if finite, `>= 0` and at most
    /// [`MAX_RATE_PER_S`].
    pub fn per_second_checked(per_s: f64) -> Result<Self, RateError> {
        if per_s.is_nan() {
            Err(RateError::NaN)
        } else if per_s < 0.0 {
            Err(RateError::NegativePerS { per_s })
        } else if per_s > MAX_RATE_PER_S {
            Err(RateError::AbovePerS { per_s })
        } else {
            Ok(Self { per_s })
        }
    }

    /// Events per simulated second.
    pub fn per_second(self) -> f64 {
        self.per_s
    }
}

/// Seconds in one unit of a rate's denominator.
fn unit_seconds(unit: &str) -> Option<f64> {
    let unit = unit.strip_suffix('s').filter(|u| !u.is_empty() && *u != "m").unwrap_or(unit);
    Some(match unit {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        "d" | "day" => 86_400.0,
        "w" | "week" => 604_800.0,
        _ => return None,
    })
}

/// Why a rate is refused; the written forms name the text as given.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RateError {
    /// Not `N/unit`.
    #[error("`{0}` is not a rate like \"2/s\", \"120/min\", \"1000/day\" or \"50/week\"")]
    NotARate(String),
    /// `N` is infinite or NaN.
    #[error("rate `{0}` must be a finite number")]
    NotFinite(String),
    /// `N` is below zero (or `-0`).
    #[error("rate `{0}` must not be negative")]
    Negative(String),
    /// Above [`MAX_RATE_PER_S`].
    #[error("rate `{text}` ({per_s}/s) is above the limit of {MAX_RATE_PER_S}/s")]
    Above {
        /// The rate as written.
        text: String,
        /// Its events per second.
        per_s: f64,
    },
    /// A computed rate is NaN.
    #[error("rate is not a number")]
    NaN,
    /// A computed rate is below zero.
    #[error("rate {per_s}/s must not be negative")]
    NegativePerS {
        /// Events per second.
        per_s: f64,
    },
    /// A computed rate is above [`MAX_RATE_PER_S`].
    #[error("rate {per_s}/s is above the limit of {MAX_RATE_PER_S}/s")]
    AbovePerS {
        /// Events per second.
        per_s: f64,
    },
}

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RateError::NotARate(s.to_owned());
        let (n, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let n: f64 = n.trim().parse().map_err(|_| bad())?;
        let per = unit_seconds(unit.trim()).ok_or_else(bad)?;
        if !n.is_finite() {
            return Err(RateError::NotFinite(s.to_owned()));
        }
        if n < 0.0 || (n == 0.0 && n.is_sign_negative()) {
            return Err(RateError::Negative(s.to_owned()));
        }
        let per_s = n / per;
        if per_s > MAX_RATE_PER_S {
            return Err(RateError::Above { text: s.to_owned(), per_s });
        }
        Ok(Self { per_s })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_rates_convert_to_events_per_second() {
        // Oracle: the unit's length in seconds, by hand.
        let cases = [
            ("2/s", 2.0),
            ("120/min", 2.0),
            ("120/m", 2.0),
            ("7200/h", 2.0),
            ("1000/day", 1000.0 / 86_400.0),
            ("1000/days", 1000.0 / 86_400.0),
            ("50/week", 50.0 / 604_800.0),
            ("0.5/s", 0.5),
            (" 2.5e3 / hour ", 2500.0 / 3600.0),
            ("0/s", 0.0),
            ("3/secs", 3.0),
        ];
        for (text, per_s) in cases {
            let r: Rate = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!((r.per_second() - per_s).abs() <= 1e-12 * per_s.max(1.0), "{text}: {}", r.per_second());
        }
    }

    #[test]
    fn bad_rates_are_refused_with_the_value_named() {
        for text in ["2", "2/", "/s", "two/s", "2/fortnight", "2/ms", "-1/s", "-0/s", "inf/s", "NaN/s", "2e9/s"] {
            let err = text.parse::<Rate>().expect_err(text);
            assert!(err.to_string().contains(&format!("`{text}`")), "{text}: {err}");
        }
        assert!("-1/s".parse::<Rate>().unwrap_err().to_string().contains("negative"));
        assert!("2e9/s".parse::<Rate>().unwrap_err().to_string().contains("limit"));
        assert!(Rate::per_second_checked(-1.0).is_err());
        assert!(Rate::per_second_checked(f64::NAN).is_err());
        assert!(Rate::per_second_checked(2e7).is_err());
    }

    #[test]
    fn display_round_trips() {
        for text in ["2/s", "1000/day", "50/week", "0.1/s", "1/h"] {
            let r: Rate = text.parse().unwrap_or(Rate::ZERO);
            let back: Rate = r.to_string().parse().unwrap_or(Rate::ZERO);
            assert_eq!(r, back, "{text}");
        }
    }
}
