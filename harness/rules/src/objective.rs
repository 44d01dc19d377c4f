//! SLO objectives as written in scenarios: `"<indicator> <op> <threshold>"`.
//!
//! Indicators: `pNN` / `pNN.N` (latency percentile), `mean`, `max` (latency, threshold a
//! duration such as `500ms`), `error_ratio` and `availability` (threshold a percentage
//! such as `0.1%` or a ratio such as `0.001`). Parsing happens during deserialisation, so
//! a malformed objective is reported at its line in the scenario file.

use std::fmt;
use std::str::FromStr;

use gameday_mocks::kit::{DurationError, HumanDuration};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What an objective measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Indicator {
    /// A latency percentile, 0 < p < 100.
    Percentile(f64),
    /// Mean latency.
    Mean,
    /// Maximum latency.
    Max,
    /// Failed requests / all requests.
    ErrorRatio,
    /// Successful requests / all requests.
    Availability,
}

impl Indicator {
    /// Whether the threshold is a latency (else a ratio).
    pub fn is_latency(self) -> bool {
        matches!(self, Self::Percentile(_) | Self::Mean | Self::Max)
    }
}

impl fmt::Display for Indicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Percentile(p) => write!(f, "p{p}"),
            Self::Mean => f.write_str("mean"),
            Self::Max => f.write_str("max"),
            Self::ErrorRatio => f.write_str("error_ratio"),
            Self::Availability => f.write_str("availability"),
        }
    }
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// Whether `observed op threshold` holds.
    pub fn holds(self, observed: f64, threshold: f64) -> bool {
        match self {
            Self::Lt => observed < threshold,
            Self::Le => observed <= threshold,
            Self::Gt => observed > threshold,
            Self::Ge => observed >= threshold,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// A parsed objective. `threshold` is in seconds for latency indicators, a ratio in
/// `[0, 1]` otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Objective {
    /// What is measured.
    pub indicator: Indicator,
    /// How it is compared.
    pub op: Op,
    /// Seconds (latency) or a ratio.
    pub threshold: f64,
    text: String,
}

impl Objective {
    /// The objective as written.
    pub fn as_written(&self) -> &str {
        &self.text
    }

    /// Formats a value of this objective's indicator for display (ms/s or %).
    pub fn format_value(&self, v: f64) -> String {
        if self.indicator.is_latency() {
            format_seconds(v)
        } else {
            format!("{:.3}%", v * 100.0)
        }
    }
}

/// Formats seconds as `12.3ms` or `4.56s`.
pub fn format_seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1}ms", s * 1e3)
    } else {
        format!("{s:.2}s")
    }
}

/// Why an objective's text is not `<indicator> <op> <threshold>`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ObjectiveError {
    /// Not three words.
    #[error("objective `{0}` must be `<indicator> <op> <threshold>`, e.g. \"p95 < 500ms\" or \"error_ratio < 0.1%\"")]
    Shape(String),
    /// `pNN` outside (0, 100).
    #[error("`{0}` is not a percentile between p0 and p100 (e.g. p95, p99.9)")]
    Percentile(String),
    /// An indicator that does not exist.
    #[error("unknown indicator `{0}` (known: pNN, mean, max, error_ratio, availability)")]
    Indicator(String),
    /// A comparison that does not exist.
    #[error("unknown comparison `{0}` (use <, <=, > or >=)")]
    Comparison(String),
    /// A latency threshold that is not a duration.
    #[error(transparent)]
    Duration(#[from] DurationError),
    /// A ratio threshold that is not a number or percentage.
    #[error("`{0}` is not a ratio (write `0.1%` or `0.001`)")]
    Ratio(String),
    /// A ratio outside 0..=1.
    #[error("`{0}` is outside 0%..100%")]
    RatioRange(String),
}

fn parse_indicator(s: &str) -> Result<Indicator, ObjectiveError> {
    match s {
        "mean" => Ok(Indicator::Mean),
        "max" => Ok(Indicator::Max),
        "error_ratio" | "error_rate" => Ok(Indicator::ErrorRatio),
        "availability" => Ok(Indicator::Availability),
        p if p.starts_with('p') => match p[1..].parse::<f64>() {
            Ok(q) if q > 0.0 && q < 100.0 => Ok(Indicator::Percentile(q)),
            _ => Err(ObjectiveError::Percentile(p.to_owned())),
        },
        other => Err(ObjectiveError::Indicator(other.to_owned())),
    }
}

fn parse_ratio(s: &str) -> Result<f64, ObjectiveError> {
    let v = match s.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|p| p / 100.0),
        None => s.parse::<f64>(),
    }
    .map_err(|_| ObjectiveError::Ratio(s.to_owned()))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(ObjectiveError::RatioRange(s.to_owned()))
    }
}

impl FromStr for Objective {
    type Err = ObjectiveError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [ind, op, value] = parts.as_slice() else {
            return Err(ObjectiveError::Shape(text.to_owned()));
        };
        let indicator = parse_indicator(ind)?;
        let op = match *op {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            other => return Err(ObjectiveError::Comparison(other.to_owned())),
        };
        let threshold = if indicator.is_latency() {
            value.parse::<HumanDuration>()?.get().as_secs_f64()
        } else {
            parse_ratio(value)?
        };
        Ok(Self { indicator, op, threshold, text: format!("{ind} {} {value}", op.as_str()) })
    }
}

impl<'de> Deserialize<'de> for Objective {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Objective {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_latency_and_ratio_objectives() {
        let o: Objective = "p95 < 500ms".parse().unwrap();
        assert_eq!((o.indicator, o.op, o.threshold), (Indicator::Percentile(95.0), Op::Lt, 0.5));
        let o: Objective = "error_ratio < 0.1%".parse().unwrap();
        assert!((o.threshold - 0.001).abs() < 1e-12);
        let o: Objective = "availability >= 0.999".parse().unwrap();
        assert_eq!(o.op, Op::Ge);
    }

    #[test]
    fn rejects_malformed_objectives_with_a_reason() {
        for (text, needle) in [
            ("p95 500ms", "must be"),
            ("p100 < 1s", "percentile"),
            ("latency < 1s", "unknown indicator"),
            ("p95 ~ 1s", "comparison"),
            ("error_ratio < 150%", "outside"),
            ("p99 < fast", "duration"),
        ] {
            let err = text.parse::<Objective>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
