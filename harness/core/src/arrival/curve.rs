//! [`RateCurve`]: the target arrival rate as a function of simulated time, with its
//! parts ([`RateTable`], [`Ramp`], [`Diurnal`]) and their validation.
//!
//! Every curve is a run of spans (see `piece`): a constant is one flat span, steps are
//! flat spans, a ramp and a table of points are linear spans ending on a flat one, a
//! diurnal curve is one wave span per level of its mean. The curve answers the rate at a
//! time, the expected count over an interval (the integral, in closed form), and its
//! peak; [`super::Schedule`] walks the spans to place arrivals.

use std::fmt;
use std::time::Duration;

use super::piece::{Piece, Shape, Span};
use super::rate::{Rate, MAX_RATE_PER_S};

/// Seconds in a day, the default diurnal period.
pub const DAY: Duration = Duration::from_secs(86_400);

/// A curve, or a part of one, that cannot be used; `field` is the path inside the
/// curve (`steps[2].at`, `diurnal.peak_to_average`; empty for the whole curve).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CurveError {
    /// Where in the curve, relative to the curve itself.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CurveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.field, self.message)
        }
    }
}

impl CurveError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// The same error one level further out (`[2].at` inside `steps` is `steps[2].at`).
    pub(crate) fn within(mut self, outer: &str) -> Self {
        self.field = match self.field.chars().next() {
            None => outer.to_owned(),
            Some('[') => format!("{outer}{}", self.field),
            Some(_) => format!("{outer}.{}", self.field),
        };
        self
    }
}

fn show(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
}

/// One `(time, rate)` point of a step or interpolated curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Simulated time since the run's start.
    pub at: Duration,
    /// The rate from (steps) or at (points) that time.
    pub rate: Rate,
}

/// `(time, rate)` points, the first at `0s` and the times strictly increasing.
#[derive(Clone, Debug, PartialEq)]
pub struct RateTable(Vec<Point>);

impl RateTable {
    /// A table, if it is not empty, starts at `0s` and its times increase.
    pub fn new(points: Vec<Point>) -> Result<Self, CurveError> {
        let first = points.first().ok_or_else(|| {
            CurveError::new("", "is empty: give at least one point, the first at \"0s\" (e.g. [\"0s\", \"1/s\"])")
        })?;
        if !first.at.is_zero() {
            let msg = format!("the first point must be at \"0s\" (the run's start), found {}", show(first.at));
            return Err(CurveError::new("[0].at", msg));
        }
        for (i, w) in points.windows(2).enumerate() {
            if w[1].at <= w[0].at {
                let msg = format!(
                    "times must increase: {} is not after the previous point's {}",
                    show(w[1].at),
                    show(w[0].at)
                );
                return Err(CurveError::new(format!("[{}].at", i + 1), msg));
            }
        }
        Ok(Self(points))
    }

    /// The points, in time order.
    pub fn points(&self) -> &[Point] {
        &self.0
    }

    /// The point `i` and the start of the next one (`+inf` after the last), in seconds.
    fn stretch(&self, i: usize) -> Option<(&Point, f64, Option<&Point>)> {
        let p = self.0.get(i)?;
        let next = self.0.get(i + 1);
        Some((p, next.map_or(f64::INFINITY, |n| n.at.as_secs_f64()), next))
    }

    fn max_rate(&self) -> f64 {
        self.0.iter().map(|p| p.rate.per_second()).fold(0.0, f64::max)
    }
}

/// A linear ramp from `from` at `0s` to `to` at `over`, then `to` for the rest of the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ramp {
    from: Rate,
    to: Rate,
    over: Duration,
}

impl Ramp {
    /// A ramp, if `over` is positive.
    pub fn new(from: Rate, to: Rate, over: Duration) -> Result<Self, CurveError> {
        if over.is_zero() {
            return Err(CurveError::new("over", "must be greater than zero"));
        }
        Ok(Self { from, to, over })
    }

    /// The rate at `0s`.
    pub fn from(&self) -> Rate {
        self.from
    }

    /// The rate from `over` on.
    pub fn to(&self) -> Rate {
        self.to
    }

    /// How long the ramp takes.
    pub fn over(&self) -> Duration {
        self.over
    }
}

/// The mean level of a diurnal curve: one rate, or steps (e.g. one level per week of a
/// growth plan) each shaped by the same daily wave.
#[derive(Clone, Debug, PartialEq)]
pub enum DiurnalMean {
    /// The same mean every period.
    Constant(Rate),
    /// A mean that changes at the given times.
    Steps(RateTable),
}

/// A smooth daily wave: mean `mean`, peak `mean * peak_to_average` at `peak_at` into each
/// `period` (the run starts at `0s` = 00:00 of day one). The formula is in
/// `scenarios/README.md` and on `piece::Shape`.
#[derive(Clone, Debug, PartialEq)]
pub struct Diurnal {
    mean: DiurnalMean,
    peak_to_average: f64,
    peak_at: Duration,
    period: Duration,
}

impl Diurnal {
    /// A diurnal curve, if `peak_to_average >= 1`, `0 < period`, `peak_at < period` and
    /// the peak rate stays within [`MAX_RATE_PER_S`].
    pub fn new(
        mean: DiurnalMean,
        peak_to_average: f64,
        peak_at: Duration,
        period: Duration,
    ) -> Result<Self, CurveError> {
        if peak_to_average.is_nan() || peak_to_average < 1.0 {
            let msg = format!("must be at least 1 (the peak is never below the mean), found {peak_to_average}");
            return Err(CurveError::new("peak_to_average", msg));
        }
        if period.is_zero() {
            return Err(CurveError::new("period", "must be greater than zero"));
        }
        if peak_at >= period {
            let msg = format!("must fall within the period ({}), found {}", show(period), show(peak_at));
            return Err(CurveError::new("peak_at", msg));
        }
        let top = match &mean {
            DiurnalMean::Constant(r) => r.per_second(),
            DiurnalMean::Steps(t) => t.max_rate(),
        };
        let peak = top * peak_to_average;
        if peak_to_average.is_infinite() || peak > MAX_RATE_PER_S {
            let msg = format!("mean x peak_to_average = {peak}/s is above the limit of {MAX_RATE_PER_S}/s");
            return Err(CurveError::new("peak_to_average", msg));
        }
        Ok(Self { mean, peak_to_average, peak_at, period })
    }

    /// The mean level.
    pub fn mean(&self) -> &DiurnalMean {
        &self.mean
    }

    /// Peak over mean.
    pub fn peak_to_average(&self) -> f64 {
        self.peak_to_average
    }

    /// Time of the peak into each period.
    pub fn peak_at(&self) -> Duration {
        self.peak_at
    }

    /// The wave's period (a day by default).
    pub fn period(&self) -> Duration {
        self.period
    }

    fn shape(&self) -> Shape {
        Shape {
            peak_to_average: self.peak_to_average,
            peak_at: self.peak_at.as_secs_f64(),
            period: self.period.as_secs_f64(),
        }
    }
}

/// The target arrival rate over the run (simulated time). The TOML forms are in
/// `scenarios/README.md` under `[load]`; every variant's data is validated when built.
#[derive(Clone, Debug, PartialEq)]
pub enum RateCurve {
    /// One rate for the whole run: `rate = "2/s"`.
    Constant(Rate),
    /// Piecewise constant: each point's rate holds until the next point.
    Steps(RateTable),
    /// A linear ramp, then its end rate.
    Ramp(Ramp),
    /// Linear interpolation between points; the last rate holds after the last point.
    Points(RateTable),
    /// A daily wave around a mean.
    Diurnal(Diurnal),
}

impl RateCurve {
    /// The curve, if it sends anything at all (its peak is above zero).
    pub fn validate(&self) -> Result<(), CurveError> {
        if self.peak_per_second() > 0.0 {
            Ok(())
        } else {
            Err(CurveError::new("", "the rate is zero everywhere, so no request would be sent"))
        }
    }

    /// The rate at simulated time `t` (events per simulated second).
    pub fn rate_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        self.span(self.span_index(t)).map_or(0.0, |s| s.piece.rate(t))
    }

    /// The expected number of arrivals over `[from, to)`: the integral of the rate.
    pub fn expected_count(&self, from: Duration, to: Duration) -> f64 {
        let (a, b) = (from.as_secs_f64(), to.as_secs_f64());
        let mut sum = 0.0;
        let mut i = self.span_index(a);
        while let Some(s) = self.span(i) {
            sum += s.piece.area(a.max(s.start), b.min(s.end));
            if b <= s.end {
                break;
            }
            i += 1;
        }
        sum
    }

    /// The highest rate the curve reaches at any time (events per simulated second).
    pub fn peak_per_second(&self) -> f64 {
        self.peak_between(Duration::ZERO, Duration::MAX)
    }

    /// The highest rate over `[from, to]`.
    pub fn peak_between(&self, from: Duration, to: Duration) -> f64 {
        let (a, b) = (from.as_secs_f64(), to.as_secs_f64());
        let mut peak: f64 = 0.0;
        let mut i = self.span_index(a);
        while let Some(s) = self.span(i) {
            if s.start > b {
                break;
            }
            peak = peak.max(s.piece.max_on(a.max(s.start), b.min(s.end)));
            i += 1;
        }
        peak
    }

    /// The first time after `t` at which `amount` more expected arrivals have come (the
    /// inverse of [`Self::expected_count`]), or `None` if the curve never gets there.
    /// `hint` is the span holding `t`, kept between calls so walking is O(1).
    pub(crate) fn advance(&self, hint: &mut usize, t: f64, amount: f64) -> Option<f64> {
        let (mut t, mut amount) = (t, amount);
        loop {
            let s = self.span(*hint)?;
            match s.piece.advance(t.max(s.start), s.end, amount) {
                Ok(x) => return Some(x),
                Err(_) if s.end.is_infinite() => return None,
                Err(rest) => {
                    amount = rest;
                    t = s.end;
                    *hint += 1;
                }
            }
        }
    }

    /// The index of the span holding `t` (the first for `t <= 0`).
    pub(crate) fn span_index(&self, t: f64) -> usize {
        let n = self.span_count();
        let (mut lo, mut hi) = (0, n);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.span(mid).is_some_and(|s| s.start <= t) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn span_count(&self) -> usize {
        match self {
            Self::Constant(_) => 1,
            Self::Steps(t) | Self::Points(t) => t.0.len(),
            Self::Ramp(_) => 2,
            Self::Diurnal(d) => match &d.mean {
                DiurnalMean::Constant(_) => 1,
                DiurnalMean::Steps(t) => t.0.len(),
            },
        }
    }

    /// Span `i` of the curve, `None` past the last.
    pub(crate) fn span(&self, i: usize) -> Option<Span> {
        let whole = |piece| Span { start: 0.0, end: f64::INFINITY, piece };
        match self {
            Self::Constant(r) => (i == 0).then(|| whole(Piece::Flat(r.per_second()))),
            Self::Steps(t) => {
                let (p, end, _) = t.stretch(i)?;
                Some(Span { start: p.at.as_secs_f64(), end, piece: Piece::Flat(p.rate.per_second()) })
            }
            Self::Points(t) => {
                let (p, end, next) = t.stretch(i)?;
                let (start, r0) = (p.at.as_secs_f64(), p.rate.per_second());
                let piece = match next {
                    Some(n) => Piece::Linear { r0, slope: (n.rate.per_second() - r0) / (end - start), t0: start },
                    None => Piece::Flat(r0),
                };
                Some(Span { start, end, piece })
            }
            Self::Ramp(r) => ramp_span(r, i),
            Self::Diurnal(d) => {
                let shape = d.shape();
                match &d.mean {
                    DiurnalMean::Constant(m) => (i == 0).then(|| whole(Piece::Diurnal { mean: m.per_second(), shape })),
                    DiurnalMean::Steps(t) => {
                        let (p, end, _) = t.stretch(i)?;
                        let piece = Piece::Diurnal { mean: p.rate.per_second(), shape };
                        Some(Span { start: p.at.as_secs_f64(), end, piece })
                    }
                }
            }
        }
    }
}

fn ramp_span(r: &Ramp, i: usize) -> Option<Span> {
    let over = r.over.as_secs_f64();
    let (from, to) = (r.from.per_second(), r.to.per_second());
    match i {
        0 => {
            Some(Span { start: 0.0, end: over, piece: Piece::Linear { r0: from, slope: (to - from) / over, t0: 0.0 } })
        }
        1 => Some(Span { start: over, end: f64::INFINITY, piece: Piece::Flat(to) }),
        _ => None,
    }
}
