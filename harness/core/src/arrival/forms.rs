//! The TOML (serde) forms of a [`RateCurve`]: a rate string, or a table with exactly one
//! of `steps`, `ramp`, `points`, `diurnal`. Deserializing validates, so a bad curve
//! fails while parsing with the line of the value and a message naming the field.

use std::fmt;

use gameday_mocks::kit::HumanDuration;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::curve::{CurveError, Diurnal, DiurnalMean, Point, Ramp, RateCurve, RateTable, DAY};
use super::rate::Rate;

/// The table form: exactly one key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CurveTable {
    steps: Option<Vec<Point>>,
    ramp: Option<RampTable>,
    points: Option<Vec<Point>>,
    diurnal: Option<DiurnalTable>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RampTable {
    from: Rate,
    to: Rate,
    over: HumanDuration,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct DiurnalTable {
    mean: DiurnalMean,
    peak_to_average: f64,
    peak_at: HumanDuration,
    #[serde(default = "default_period")]
    period: HumanDuration,
}

fn default_period() -> HumanDuration {
    HumanDuration(DAY)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeanTable {
    steps: Vec<Point>,
}

impl CurveTable {
    fn into_curve(self) -> Result<RateCurve, CurveError> {
        let given: Vec<&str> = [
            ("steps", self.steps.is_some()),
            ("ramp", self.ramp.is_some()),
            ("points", self.points.is_some()),
            ("diurnal", self.diurnal.is_some()),
        ]
        .iter()
        .filter_map(|(k, set)| set.then_some(*k))
        .collect();
        if given.len() != 1 {
            let found = if given.is_empty() { "none".to_owned() } else { given.join(" and ") };
            let msg = format!("give exactly one of `steps`, `ramp`, `points`, `diurnal`; found {found}");
            return Err(CurveError::new("", msg));
        }
        let curve = if let Some(p) = self.steps {
            RateCurve::Steps(RateTable::new(p).map_err(|e| e.within("steps"))?)
        } else if let Some(p) = self.points {
            RateCurve::Points(RateTable::new(p).map_err(|e| e.within("points"))?)
        } else if let Some(r) = self.ramp {
            RateCurve::Ramp(Ramp::new(r.from, r.to, r.over.get()).map_err(|e| e.within("ramp"))?)
        } else if let Some(d) = self.diurnal {
            let made = Diurnal::new(d.mean, d.peak_to_average, d.peak_at.get(), d.period.get());
            RateCurve::Diurnal(made.map_err(|e| e.within("diurnal"))?)
        } else {
            return Err(CurveError::new("", "no curve given"));
        };
        curve.validate()?;
        Ok(curve)
    }
}

struct CurveVisitor;

impl<'de> Visitor<'de> for CurveVisitor {
    type Value = RateCurve;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a rate like \"2/s\" or a table with one of `steps`, `ramp`, `points`, `diurnal`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RateCurve, E> {
        let curve = RateCurve::Constant(v.parse().map_err(E::custom)?);
        curve.validate().map_err(E::custom)?;
        Ok(curve)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RateCurve, A::Error> {
        let table = CurveTable::deserialize(MapAccessDeserializer::new(map))?;
        table.into_curve().map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for RateCurve {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CurveVisitor)
    }
}

/// How a curve is written back (the same forms it is read from).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum CurveOut<'a> {
    Steps(&'a [Point]),
    Ramp(RampTable),
    Points(&'a [Point]),
    Diurnal(DiurnalTable),
}

impl Serialize for RateCurve {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RateCurve::Constant(r) => r.serialize(s),
            RateCurve::Steps(t) => CurveOut::Steps(t.points()).serialize(s),
            RateCurve::Points(t) => CurveOut::Points(t.points()).serialize(s),
            RateCurve::Ramp(r) => {
                CurveOut::Ramp(RampTable { from: r.from(), to: r.to(), over: HumanDuration(r.over()) }).serialize(s)
            }
            RateCurve::Diurnal(d) => CurveOut::Diurnal(DiurnalTable {
                mean: d.mean().clone(),
                peak_to_average: d.peak_to_average(),
                peak_at: HumanDuration(d.peak_at()),
                period: HumanDuration(d.period()),
            })
            .serialize(s),
        }
    }
}

struct MeanVisitor;

impl<'de> Visitor<'de> for MeanVisitor {
    type Value = DiurnalMean;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a rate like \"2/s\" or a table `{ steps = [[\"0s\", \"1000/day\"], ...] }`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DiurnalMean, E> {
        v.parse().map(DiurnalMean::Constant).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DiurnalMean, A::Error> {
        let table = MeanTable::deserialize(MapAccessDeserializer::new(map))?;
        let steps = RateTable::new(table.steps).map_err(|e| de::Error::custom(e.within("mean.steps")))?;
        Ok(DiurnalMean::Steps(steps))
    }
}

impl<'de> Deserialize<'de> for DiurnalMean {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MeanVisitor)
    }
}

impl Serialize for DiurnalMean {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            steps: &'a [Point],
        }
        match self {
            DiurnalMean::Constant(r) => r.serialize(s),
            DiurnalMean::Steps(t) => Out { steps: t.points() }.serialize(s),
        }
    }
}

/// A point is `["10m", "5/s"]` or `{ at = "10m", rate = "5/s" }`.
struct PointVisitor;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PointTable {
    at: HumanDuration,
    rate: Rate,
}

impl<'de> Visitor<'de> for PointVisitor {
    type Value = Point;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a point [\"10m\", \"5/s\"] or { at = \"10m\", rate = \"5/s\" }")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Point, A::Error> {
        let at: HumanDuration = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let rate: Rate = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(3, &self));
        }
        Ok(Point { at: at.get(), rate })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Point, A::Error> {
        let p = PointTable::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Point { at: p.at.get(), rate: p.rate })
    }
}

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PointVisitor)
    }
}

impl Serialize for Point {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&HumanDuration(self.at))?;
        t.serialize_element(&self.rate)?;
        t.end()
    }
}
