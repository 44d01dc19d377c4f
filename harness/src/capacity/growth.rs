//! Growth curves: a scenario's `[growth]` table, the weekly volumes it yields and the
//! arrival-rate curve that replays them.
//!
//! A growth curve is a volume per day in week 1 (`start = "1000/day"`) grown by a weekly
//! rate (`rate = "+50%/week"`) for `weeks`, or an explicit table of weekly volumes
//! (`volumes = ["1000/day", "1500/day", ...]`). The volume counts the requests of the
//! `unit` kinds (Midnight's "proofs/day" counts `prove` and `prove-tx`); the other kinds
//! of `[load]`'s mix come along in proportion to their weights. Each day follows the
//! diurnal wave of `peak_to_average` (peak at `peak_at`), so a week's peak rate is
//! `volume / 86400 x (mix weight / unit weight) x peak_to_average`: the runbooks' "peak
//! RPS" column follows from volume and shape. `[[growth.spike]]`s add short bursts on
//! top (in the simulator; see `plan`).

use std::time::Duration;

use serde::Serialize;

use crate::load::arrival::{Diurnal, DiurnalMean, Point, Rate, RateCurve, RateTable, DAY};
use crate::scenario::RequestSpec;
pub use crate::spec::growth::{GrowthSpec, Spike, WeeklyGrowth, MAX_WEEKS, WEEK};

/// Seconds in a day.
pub const DAY_SECS: u64 = 86_400;

impl From<WeeklyGrowth> for String {
    fn from(g: WeeklyGrowth) -> String {
        format!("{:+}%/week", g.0 * 100.0)
    }
}

/// A growth curve that cannot be used: the field inside `[growth]` and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("growth.{field}: {message}")]
pub struct GrowthError {
    /// The field inside `[growth]`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> GrowthError {
    GrowthError { field: field.into(), message: message.into() }
}

/// One planned week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Week {
    /// 1-based.
    pub week: u32,
    /// Volume of the unit requests per day.
    pub volume_per_day: f64,
    /// Growth over the previous week (fraction; week 1: none).
    pub growth: Option<f64>,
    /// Mean rate of all requests (per second).
    pub mean_rate_per_s: f64,
    /// Peak rate of all requests at the daily peak (per second).
    pub peak_rate_per_s: f64,
}

/// A validated growth curve.
#[derive(Clone, Debug)]
pub struct Growth {
    /// The weeks, in order.
    pub weeks: Vec<Week>,
    /// All requests per unit request (mix weight over unit weight).
    pub requests_per_unit: f64,
    /// The request kinds the volume counts (empty: all).
    pub unit: Vec<String>,
    /// The daily wave's peak over average.
    pub peak_to_average: f64,
    /// Time of day of the peak.
    pub peak_at: Duration,
    /// The bursts.
    pub spikes: Vec<Spike>,
}

impl Growth {
    /// Validates `spec` against the load's mix.
    pub fn new(spec: &GrowthSpec, mix: &[RequestSpec]) -> Result<Self, GrowthError> {
        let volumes = weekly_volumes(spec)?;
        let requests_per_unit = requests_per_unit(spec, mix)?;
        if !(spec.peak_to_average >= 1.0 && spec.peak_to_average.is_finite()) {
            let msg = format!("must be at least 1 (the peak is never below the mean), found {}", spec.peak_to_average);
            return Err(err("peak_to_average", msg));
        }
        if spec.peak_at.0 >= DAY {
            return Err(err(
                "peak_at",
                format!("must be within a day, found {}", humantime::format_duration(spec.peak_at.0)),
            ));
        }
        let weeks = volumes
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let mean = v / 86_400.0 * requests_per_unit;
                Week {
                    week: i as u32 + 1,
                    volume_per_day: v,
                    growth: i.checked_sub(1).map(|p| v / volumes[p] - 1.0),
                    mean_rate_per_s: mean,
                    peak_rate_per_s: mean * spec.peak_to_average,
                }
            })
            .collect();
        let g = Self {
            weeks,
            requests_per_unit,
            unit: spec.unit.clone(),
            peak_to_average: spec.peak_to_average,
            peak_at: spec.peak_at.0,
            spikes: spec.spikes.clone(),
        };
        g.check_spikes()?;
        g.curve().map_err(|e| err("volumes", e.to_string()))?;
        Ok(g)
    }

    fn check_spikes(&self) -> Result<(), GrowthError> {
        for (i, s) in self.spikes.iter().enumerate() {
            if s.week == 0 || s.week as usize > self.weeks.len() {
                return Err(err(
                    format!("spike[{i}].week"),
                    format!("must be 1..={}, found {}", self.weeks.len(), s.week),
                ));
            }
            if s.at.0 + s.duration.get() > WEEK {
                return Err(err(format!("spike[{i}].at"), "the spike must end within its week"));
            }
            if !(s.multiplier > 1.0 && s.multiplier <= 1000.0) {
                return Err(err(
                    format!("spike[{i}].multiplier"),
                    format!("must be in (1, 1000], found {}", s.multiplier),
                ));
            }
        }
        Ok(())
    }

    /// The horizon: all weeks.
    pub fn horizon(&self) -> Duration {
        WEEK * self.weeks.len() as u32
    }

    /// The arrival-rate curve of all requests over the horizon: the daily wave around
    /// each week's mean.
    pub fn curve(&self) -> Result<RateCurve, crate::load::arrival::CurveError> {
        let points = self
            .weeks
            .iter()
            .map(|w| Rate::per_second_checked(w.mean_rate_per_s).map(|r| Point { at: WEEK * (w.week - 1), rate: r }))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| crate::load::arrival::CurveError { field: String::new(), message: m.to_string() })?;
        let mean = DiurnalMean::Steps(RateTable::new(points)?);
        Ok(RateCurve::Diurnal(Diurnal::new(mean, self.peak_to_average, self.peak_at, DAY)?))
    }

    /// The busiest hour of `week` (1-based): the hour centred on the daily peak of the
    /// week's last day (every day of a week has the same mean).
    pub fn peak_hour(&self, week: u32) -> (Duration, Duration) {
        let day_start = WEEK * week - DAY;
        let centre = day_start + self.peak_at;
        let half = Duration::from_secs(1800);
        let start = centre.saturating_sub(half).max(day_start);
        (start, start + Duration::from_secs(3600))
    }

    /// The peak hour of each day of `week` (1-based).
    pub fn daily_peak_hours(&self, week: u32) -> Vec<(Duration, Duration)> {
        let (start, _) = self.week_span(week);
        let last = self.peak_hour(week).0 - (start + DAY * 6);
        (0..7).map(|d| (start + DAY * d + last, start + DAY * d + last + Duration::from_secs(3600))).collect()
    }

    /// The span of `week` (1-based).
    pub fn week_span(&self, week: u32) -> (Duration, Duration) {
        (WEEK * (week - 1), WEEK * week)
    }
}

fn weekly_volumes(spec: &GrowthSpec) -> Result<Vec<f64>, GrowthError> {
    let per_day = |r: &Rate| r.per_second() * 86_400.0;
    let volumes: Vec<f64> = match (&spec.volumes, &spec.start, &spec.rate, spec.weeks) {
        (Some(v), None, None, None) => v.iter().map(per_day).collect(),
        (Some(_), ..) => return Err(err("volumes", "give either `volumes` or `start` + `rate` + `weeks`, not both")),
        (None, Some(start), Some(rate), Some(weeks)) => {
            if weeks == 0 {
                return Err(err("weeks", "the horizon is zero weeks; plan at least one"));
            }
            if weeks > MAX_WEEKS {
                return Err(err("weeks", format!("{weeks} weeks is beyond the {MAX_WEEKS}-week limit")));
            }
            if rate.0 <= -1.0 {
                let msg = format!("{:+}%/week would take the volume to zero or below", rate.0 * 100.0);
                return Err(err("rate", msg));
            }
            (0..weeks).map(|w| per_day(start) * (1.0 + rate.0).powi(w as i32)).collect()
        }
        (None, None, ..) => {
            return Err(err("start", "missing: give `start` (e.g. \"1000/day\"), `rate` and `weeks`, or `volumes`"))
        }
        (None, Some(_), None, _) => return Err(err("rate", "missing: the weekly growth, e.g. \"+50%/week\"")),
        (None, Some(_), Some(_), None) => return Err(err("weeks", "missing: how many weeks to plan")),
    };
    if volumes.is_empty() {
        return Err(err("volumes", "the table is empty; the horizon is zero weeks"));
    }
    if let Some(i) = volumes.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(err(
            format!("volumes[{i}]"),
            format!("week {} has volume {}/day; it must be positive", i + 1, volumes[i]),
        ));
    }
    Ok(volumes)
}

fn requests_per_unit(spec: &GrowthSpec, mix: &[RequestSpec]) -> Result<f64, GrowthError> {
    let total: f64 = mix.iter().map(|r| f64::from(r.weight.get())).sum();
    if spec.unit.is_empty() {
        return Ok(1.0);
    }
    let mut unit = 0.0;
    for (i, name) in spec.unit.iter().enumerate() {
        let Some(r) = mix.iter().find(|r| r.name.get_ref() == name) else {
            let known: Vec<&str> = mix.iter().map(|r| r.name.get_ref().as_str()).collect();
            return Err(err(
                format!("unit[{i}]"),
                format!("unknown request `{name}` (the load has: {})", known.join(", ")),
            ));
        };
        unit += f64::from(r.weight.get());
    }
    if unit <= 0.0 {
        return Err(err("unit", "the unit requests have zero weight in the mix"));
    }
    Ok(total / unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> GrowthSpec {
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn fifty_percent_a_week_compounds() {
        let g = Growth::new(&spec("start = \"1000/day\"\nrate = \"+50%/week\"\nweeks = 4"), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let v: Vec<f64> = g.weeks.iter().map(|w| w.volume_per_day.round()).collect();
        // 1000 x 1.5^k by hand: the runbook's table rounds 3375 to 3300.
        assert_eq!(v, vec![1000.0, 1500.0, 2250.0, 3375.0]);
        assert!((g.weeks[1].growth.unwrap_or(0.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn bad_growth_names_the_field() {
        for (text, field) in [
            ("start = \"1000/day\"\nrate = \"+50%/week\"\nweeks = 0", "weeks"),
            ("start = \"1000/day\"\nrate = \"-100%/week\"\nweeks = 3", "rate"),
            ("start = \"1000/day\"\nweeks = 3", "rate"),
            ("volumes = []", "volumes"),
            ("start = \"1000/day\"\nrate = \"+5000%/week\"\nweeks = 12", "volumes"),
        ] {
            let e = Growth::new(&spec(text), &[]).err().unwrap_or_else(|| panic!("accepted {text}"));
            assert_eq!(e.field, field, "{text}: {e}");
        }
        assert!(toml::from_str::<GrowthSpec>("rate = \"50 per week\"").is_err());
    }

    #[test]
    fn peak_rate_follows_volume_and_shape() {
        let g = Growth::new(&spec("start = \"86400/day\"\nrate = \"+0%/week\"\nweeks = 1\npeak_to_average = 2.5"), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let curve = g.curve().unwrap_or_else(|e| panic!("{e}"));
        // 86400/day = 1/s mean; the wave's peak is 2.5/s at 14:00.
        assert!((g.weeks[0].peak_rate_per_s - 2.5).abs() < 1e-9);
        assert!((curve.rate_at(Duration::from_secs(14 * 3600)) - 2.5).abs() < 1e-6);
        let (a, b) = g.peak_hour(1);
        assert_eq!(b - a, Duration::from_secs(3600));
        assert_eq!(a, WEEK - DAY + Duration::from_secs(13 * 3600 + 1800));
    }
}
