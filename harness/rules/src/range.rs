//! Functions of time-stamped samples in a sliding window: `avg`, `max`, `min`, `sum`,
//! `rate`, `increase`, `deriv`, and the latest-sample lookup.
//!
//! A window at evaluation time `t` holds the samples with `t - W < time <= t` (`[..]`:
//! every sample up to `t`). Both window ends only move forward as `t` grows, so each
//! function runs in one pass: prefix sums for `sum`/`avg`/`deriv`/`increase`, a monotone
//! deque for `max`/`min`. `rate` and `increase` handle counter resets like Prometheus but
//! do not extrapolate to the window's edges: `increase` is the growth between the first
//! and last sample in the window, `rate` that growth over the time between them.
//! Staleness markers are not samples: callers pass [`without_stale`] series to [`over`],
//! and [`latest`] returns no value at or after a marker.

use std::borrow::Cow;
use std::collections::VecDeque;

use super::expr::{RangeFn, Window};
use gameday_core::series::is_stale;

/// Tolerance on window edges: times are sums of float steps.
const EPS: f64 = 1e-9;

/// Evaluates `func` over `samples` (time-ordered `(t, value)`) at each of `times`.
pub fn over(func: RangeFn, samples: &[(f64, f64)], times: &[f64], window: Window) -> Vec<Option<f64>> {
    let n = samples.len();
    let t0 = samples.first().map_or(0.0, |s| s.0);
    // Prefix sums: value, time, time^2, time*value, reset-corrected counter growth.
    let mut sums = vec![[0.0f64; 5]; n + 1];
    for (i, &(t, v)) in samples.iter().enumerate() {
        let x = t - t0;
        let growth = match i.checked_sub(1).map(|p| samples[p].1) {
            Some(prev) if v >= prev => v - prev,
            Some(_) => v,
            None => 0.0,
        };
        let p = sums[i];
        sums[i + 1] = [p[0] + v, p[1] + x, p[2] + x * x, p[3] + x * v, p[4] + growth];
    }
    let mut out = Vec::with_capacity(times.len());
    let (mut a, mut b) = (0usize, 0usize);
    let mut deque: VecDeque<usize> = VecDeque::new();
    for &t in times {
        while b < n && samples[b].0 <= t + EPS {
            if matches!(func, RangeFn::Max | RangeFn::Min) {
                let worse = |x: f64| if func == RangeFn::Max { x <= samples[b].1 } else { x >= samples[b].1 };
                while deque.back().is_some_and(|&j| worse(samples[j].1)) {
                    deque.pop_back();
                }
                deque.push_back(b);
            }
            b += 1;
        }
        if let Window::Last(w) = window {
            while a < b && samples[a].0 <= t - w + EPS {
                a += 1;
            }
        }
        while deque.front().is_some_and(|&j| j < a) {
            deque.pop_front();
        }
        out.push(apply(func, samples, &sums, a, b, &deque));
    }
    out
}

fn apply(
    func: RangeFn,
    samples: &[(f64, f64)],
    sums: &[[f64; 5]],
    a: usize,
    b: usize,
    deque: &VecDeque<usize>,
) -> Option<f64> {
    if a >= b {
        return None;
    }
    let k = (b - a) as f64;
    let d = |j: usize| sums[b][j] - sums[a][j];
    match func {
        RangeFn::Sum => Some(d(0)),
        RangeFn::Avg => Some(d(0) / k),
        RangeFn::Max | RangeFn::Min => deque.front().map(|&j| samples[j].1),
        RangeFn::Increase | RangeFn::Rate if b - a < 2 => None,
        RangeFn::Increase => Some(sums[b][4] - sums[a + 1][4]),
        RangeFn::Rate => {
            let span = samples[b - 1].0 - samples[a].0;
            (span > 0.0).then(|| (sums[b][4] - sums[a + 1][4]) / span)
        }
        RangeFn::Deriv => {
            let denom = k * d(2) - d(1) * d(1);
            (b - a >= 2 && denom > 0.0).then(|| (k * d(3) - d(1) * d(0)) / denom)
        }
    }
}

/// The latest sample at or before each of `times`, if it is at most `lookback_s` old
/// and is not a staleness marker: Prometheus's instant lookup (`--query.lookback-delta`).
pub fn latest(samples: &[(f64, f64)], times: &[f64], lookback_s: f64) -> Vec<Option<f64>> {
    let mut b = 0usize;
    times
        .iter()
        .map(|&t| {
            while b < samples.len() && samples[b].0 <= t + EPS {
                b += 1;
            }
            let (ts, v) = samples[..b].last().copied()?;
            (!is_stale(v) && t - ts <= lookback_s + EPS).then_some(v)
        })
        .collect()
}

/// The samples without staleness markers, as a range selector returns them (borrowed
/// when there is none).
pub fn without_stale(samples: &[(f64, f64)]) -> Cow<'_, [(f64, f64)]> {
    if samples.iter().any(|&(_, v)| is_stale(v)) {
        Cow::Owned(samples.iter().copied().filter(|&(_, v)| !is_stale(v)).collect())
    } else {
        Cow::Borrowed(samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gameday_core::series::STALE_NAN;

    fn near(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn window_functions_match_hand_computation() {
        // Samples every 10 s: 1, 5, 2, 8, 3, 0 (a counter reset at 50 s).
        let s: Vec<(f64, f64)> =
            [1.0, 5.0, 2.0, 8.0, 3.0, 0.0].iter().enumerate().map(|(i, v)| (i as f64 * 10.0, *v)).collect();
        let times = [0.0, 25.0, 30.0, 50.0];
        let w = Window::Last(25.0); // (t-25, t]: at 30 -> samples at 10, 20, 30.
        let max = over(RangeFn::Max, &s, &times, w);
        assert_eq!(max, vec![Some(1.0), Some(5.0), Some(8.0), Some(8.0)]);
        let min = over(RangeFn::Min, &s, &times, w);
        assert_eq!(min, vec![Some(1.0), Some(2.0), Some(2.0), Some(0.0)]);
        let avg = over(RangeFn::Avg, &s, &times, w);
        assert!(near(avg[2], 5.0) && near(avg[3], (8.0 + 3.0 + 0.0) / 3.0));
        assert!(near(over(RangeFn::Sum, &s, &times, Window::All)[3], 19.0));
        // Increase over (25, 50]: 8 -> 3 is a reset (counts 3), 3 -> 0 a reset (counts 0).
        let inc = over(RangeFn::Increase, &s, &times, w);
        assert_eq!(inc[0], None);
        assert!(near(inc[3], 3.0));
        // Over (5, 30]: 5 -> 2 reset (+2), 2 -> 8 (+6) = 8 over 20 s.
        assert!(near(over(RangeFn::Rate, &s, &times, w)[2], 0.4));
        // Least squares over (5, 30] (x = 10, 20, 30; y = 5, 2, 8): slope = 3/20.
        assert!(near(over(RangeFn::Deriv, &s, &times, w)[2], 0.15));
    }

    #[test]
    fn latest_sample_respects_the_lookback() {
        let s = [(0.0, 1.0), (60.0, 2.0), (500.0, 3.0)];
        let got = latest(&s, &[0.0, 59.0, 60.0, 359.0, 361.0, 500.0], 300.0);
        assert_eq!(got, vec![Some(1.0), Some(1.0), Some(2.0), Some(2.0), None, Some(3.0)]);
        // A 30 s lookback: the sample at 60 is gone by 91.
        assert_eq!(latest(&s, &[90.0, 91.0], 30.0), vec![Some(2.0), None]);
    }

    #[test]
    fn a_staleness_marker_ends_the_latest_value_and_is_not_a_sample() {
        let s = [(0.0, 1.0), (10.0, STALE_NAN), (20.0, 4.0)];
        assert_eq!(latest(&s, &[5.0, 10.0, 15.0, 20.0], 300.0), vec![Some(1.0), None, None, Some(4.0)]);
        let fresh = without_stale(&s);
        assert_eq!(&*fresh, &[(0.0, 1.0), (20.0, 4.0)]);
        // The window (0, 20] holds one sample, 4: the marker is not a value.
        assert_eq!(over(RangeFn::Max, &fresh, &[20.0], Window::Last(20.0)), vec![Some(4.0)]);
        assert!(matches!(without_stale(&[(0.0, 1.0)]), Cow::Borrowed(_)));
    }
}
