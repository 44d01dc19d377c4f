//! The piecewise arithmetic under every [`super::RateCurve`]: a curve is a run of
//! [`Span`]s, each a flat rate, a linear ramp or a diurnal wave, and this module answers
//! three questions about one span: the rate at a time, the integral over an interval
//! (the expected count), and where the integral from a time reaches a given amount (the
//! inverse, which turns unit-rate arrivals into arrivals on the curve). Times are
//! simulated seconds since the run's start, as `f64`.

use std::f64::consts::PI;

/// One piece of a curve over `[start, end)`; the last span of a curve has `end = +inf`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Span {
    /// First second the piece covers.
    pub start: f64,
    /// First second after it (`f64::INFINITY` for the last piece).
    pub end: f64,
    /// The rate over the piece.
    pub piece: Piece,
}

/// A rate over a span.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Piece {
    /// A constant rate (events per second).
    Flat(f64),
    /// `r(t) = r0 + slope * (t - t0)`, non-negative over its span.
    Linear { r0: f64, slope: f64, t0: f64 },
    /// `r(t) = mean * shape(t)`, where the shape has mean 1 over each period.
    Diurnal { mean: f64, shape: Shape },
}

/// The unit-mean diurnal wave: its peak is `peak_to_average`, at `peak_at` (seconds into
/// each `period`).
///
/// For `1 <= p <= 2` (p = peak_to_average, D = period, y = offset from the nearest peak):
/// `shape = 1 + (p - 1) cos(2 pi y / D)`, never below `2 - p`.
/// For `p > 2`: a raised-cosine hump of half-width `w = D / p` and zero elsewhere,
/// `shape = (p / 2) (1 + cos(pi y / w))` for `|y| < w`. Both have mean 1 and maximum p,
/// and they agree at p = 2 (`1 + cos`), so the family is continuous in p.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Shape {
    /// Peak over mean, `>= 1`.
    pub peak_to_average: f64,
    /// Seconds from the start of a period to its peak, in `[0, period)`.
    pub peak_at: f64,
    /// Seconds in a period (a day unless configured).
    pub period: f64,
}

impl Shape {
    /// The offset from the nearest peak, in `[-D/2, D/2)`, and the index of that period.
    fn offset(&self, t: f64) -> (f64, f64) {
        let d = self.period;
        let n = ((t - self.peak_at) / d + 0.5).floor();
        (t - self.peak_at - n * d, n)
    }

    /// The shape's value at `t` (mean 1 over a period).
    pub fn value(&self, t: f64) -> f64 {
        self.eval(t).1
    }

    /// An antiderivative of the shape: `cum(b) - cum(a)` is its integral over `[a, b]`.
    pub fn cum(&self, t: f64) -> f64 {
        self.eval(t).0
    }

    /// The antiderivative and the value at `t`, sharing one sine-cosine.
    fn eval(&self, t: f64) -> (f64, f64) {
        let (y, n) = self.offset(t);
        let (p, d) = (self.peak_to_average, self.period);
        // `within` is the integral from the start of this period's window (y = -D/2) to y.
        let (within, value) = if p <= 2.0 {
            let (sin, cos) = (2.0 * PI * y / d).sin_cos();
            ((y + 0.5 * d) + (p - 1.0) * d / (2.0 * PI) * sin, 1.0 + (p - 1.0) * cos)
        } else {
            let w = d / p;
            if y <= -w {
                (0.0, 0.0)
            } else if y >= w {
                (d, 0.0)
            } else {
                let (sin, cos) = (PI * y / w).sin_cos();
                (0.5 * p * ((y + w) + w / PI * sin), 0.5 * p * (1.0 + cos))
            }
        };
        (n * d + within, value)
    }

    /// The highest value over `[a, b]`.
    fn max_on(&self, a: f64, b: f64) -> f64 {
        if b - a >= self.period {
            return self.peak_to_average;
        }
        let k = ((a - self.peak_at) / self.period).ceil();
        if self.peak_at + k * self.period <= b {
            return self.peak_to_average;
        }
        // No peak inside: the wave falls monotonically away from each peak, so the
        // maximum is at an end.
        self.value(a).max(self.value(b))
    }
}

impl Piece {
    /// The rate at `t`.
    pub fn rate(&self, t: f64) -> f64 {
        match *self {
            Piece::Flat(r) => r,
            Piece::Linear { r0, slope, t0 } => (r0 + slope * (t - t0)).max(0.0),
            Piece::Diurnal { mean, shape } => mean * shape.value(t),
        }
    }

    /// The integral of the rate over `[a, b]` (`a <= b`, both inside the span; `b` may
    /// be infinite only for a flat piece).
    pub fn area(&self, a: f64, b: f64) -> f64 {
        if b <= a {
            return 0.0;
        }
        match *self {
            Piece::Flat(0.0) => 0.0,
            Piece::Flat(r) => r * (b - a),
            Piece::Linear { slope, .. } if b.is_infinite() => {
                // Only reached by a hand-built curve: curves end on a flat or diurnal piece.
                let ra = self.rate(a);
                if slope >= 0.0 && ra + slope > 0.0 {
                    f64::INFINITY
                } else if slope < 0.0 {
                    ra * ra / (-2.0 * slope)
                } else {
                    0.0
                }
            }
            Piece::Linear { .. } => 0.5 * (self.rate(a) + self.rate(b)) * (b - a),
            Piece::Diurnal { mean: 0.0, .. } => 0.0,
            Piece::Diurnal { .. } if b.is_infinite() => f64::INFINITY,
            Piece::Diurnal { mean, shape } => mean * (shape.cum(b) - shape.cum(a)),
        }
    }

    /// The highest rate over `[a, b]`.
    pub fn max_on(&self, a: f64, b: f64) -> f64 {
        match *self {
            Piece::Flat(r) => r,
            Piece::Linear { .. } => self.rate(a).max(if b.is_finite() { self.rate(b) } else { 0.0 }),
            Piece::Diurnal { mean, shape } => mean * shape.max_on(a, b),
        }
    }

    /// The first `x` in `[a, end]` where the integral from `a` reaches `amount`, or
    /// `Err(rest)` when the whole of `[a, end)` holds less, `rest` being what is left.
    pub fn advance(&self, a: f64, end: f64, amount: f64) -> Result<f64, f64> {
        if amount <= 0.0 {
            return Ok(a);
        }
        let total = self.area(a, end);
        if total < amount {
            return Err(amount - total);
        }
        let x = match *self {
            Piece::Flat(r) => a + amount / r,
            Piece::Linear { slope, .. } => {
                // Solve ra*u + slope*u^2/2 = amount for u >= 0, in the form that does not
                // cancel when slope ~ 0.
                let ra = self.rate(a);
                let root = (ra * ra + 2.0 * slope * amount).max(0.0).sqrt();
                a + 2.0 * amount / (ra + root)
            }
            Piece::Diurnal { mean, shape } => diurnal_advance(mean, &shape, a, end, amount),
        };
        Ok(x.min(end))
    }
}

/// Where the integral of `mean * shape` from `a` reaches `amount` (known to be reached
/// before `end`): skip whole periods (each holds `mean * period`), then a safeguarded
/// Newton search inside one period.
fn diurnal_advance(mean: f64, shape: &Shape, a: f64, end: f64, amount: f64) -> f64 {
    let per_period = mean * shape.period;
    let whole = (amount / per_period).floor();
    let x0 = a + whole * shape.period;
    let rest = (amount - whole * per_period).max(0.0);
    let (c0, v0) = shape.eval(x0);
    let (mut lo, mut hi) = (x0, (x0 + shape.period).min(end));
    // First guess: the local rate at x0 holds (exact to second order for short gaps).
    let local = if v0 > 0.0 { mean * v0 } else { mean };
    let mut x = (x0 + rest / local).clamp(lo, hi);
    // The antiderivative grows to about one period, so it is known to a few ulps of the
    // period: below that Newton steps are noise. 16 ulps of a day is 0.3 ns.
    let tol = 16.0 * f64::EPSILON * shape.period.max(x0.abs());
    for _ in 0..100 {
        let (c, v) = shape.eval(x);
        let f = mean * (c - c0) - rest;
        if f < 0.0 {
            lo = x;
        } else if f > 0.0 {
            hi = x;
        } else {
            break;
        }
        let newton = if v > 0.0 { x - f / (mean * v) } else { f64::NAN };
        if (newton - x).abs() <= tol {
            x = newton.clamp(lo, hi);
            break;
        }
        x = if newton > lo && newton < hi { newton } else { 0.5 * (lo + hi) };
        if hi - lo <= tol {
            break;
        }
    }
    x
}
