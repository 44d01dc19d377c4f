//! How many users the open model starts: enough for the in-flight count a target that
//! stops answering would hold, at a high quantile of its Poisson distribution.
//!
//! A user is busy from a send until its answer, at most `request_timeout`. When the
//! target stops answering, every request holds its user for the whole timeout, so the
//! users busy when a slot comes due are the arrivals of the last `request_timeout`:
//! Poisson with mean `m = peak rate x request_timeout` (arrivals see time averages, so
//! the slot sees that count of *other* requests in flight). The slot finds a free user
//! unless all are busy; with `q` the [`QUANTILE`] of Poisson(`m`) and `q + 1` users, a
//! slot waits for a user with probability at most `1 - QUANTILE` (1 in 10 000), well
//! under the 1% of late sends that would count against the run. The old sizing,
//! `ceil(m) + 1`, left about half the slots of a blackholed target waiting (the count
//! exceeds its mean about half the time), which was then read as a saturated generator.
//! A slower target that still answers holds its users for less than the timeout, so
//! the same sizing covers it. Constant arrivals are less variable than Poisson, so
//! Poisson's quantile is an upper bound for them too; a rate curve uses its peak.
//!
//! The quantile is computed exactly: the Poisson weights relative to the mode's
//! (`w(k+1) = w(k) m / (k+1)`, `w(k-1) = w(k) k / m`, no factorials or `exp(-m)` to
//! underflow), summed out to where they fall under 1e-20 of the mode's (about
//! 10 sqrt(m) terms each way), then walked up from the bottom to the first `k` whose
//! cumulative share reaches the quantile. The result is capped by `max_users`, and a
//! mean at or over the cap skips the sum.

use std::time::Duration;

/// The share of slots that find a free user even when the target answers nothing.
pub const QUANTILE: f64 = 0.9999;

/// The fewest users the open model starts (goose's launch and the start barrier need a few).
pub const MIN_USERS: usize = 4;

/// Weights under this share of the mode's are left out of the sums (negligible next to
/// `1 - QUANTILE`).
const NEGLIGIBLE: f64 = 1e-20;

/// Users for the open model: the [`QUANTILE`] of the Poisson in-flight count at
/// `peak_per_s` (simulated requests per second) held for `request_timeout` (simulated),
/// plus one, at least [`MIN_USERS`] and at most `max_users`.
pub fn open_users(peak_per_s: f64, request_timeout: Duration, max_users: u32) -> usize {
    let cap = u64::from(max_users.max(1));
    let mean = peak_per_s * request_timeout.as_secs_f64();
    let needed = if mean.is_finite() && mean < cap as f64 { poisson_quantile(mean, QUANTILE) + 1 } else { cap };
    usize::try_from(needed.max(MIN_USERS as u64).min(cap)).unwrap_or(usize::MAX)
}

/// The smallest `k` with `P(N <= k) >= p` for `N ~ Poisson(mean)` (0 for a mean of 0 or
/// less, or not a number).
pub fn poisson_quantile(mean: f64, p: f64) -> u64 {
    if !(mean > 0.0 && mean.is_finite()) {
        return 0;
    }
    let mode = mean.floor();
    // Weights below the mode, relative to the mode's (which is 1): w(k-1) = w(k) k / m.
    let (mut below, mut w, mut k) = (0.0, 1.0, mode);
    while k > 0.0 && w > NEGLIGIBLE {
        w *= k / mean;
        k -= 1.0;
        below += w;
    }
    let (lowest, w_lowest) = (k, w);
    // The mode and above: w(k+1) = w(k) m / (k+1).
    let (mut above, mut w, mut k) = (0.0, 1.0, mode);
    while w > NEGLIGIBLE {
        above += w;
        k += 1.0;
        w *= mean / k;
    }
    let target = p * (below + above);
    // Walk up from the lowest weight summed to the first k whose share reaches `p`.
    let (mut cumulative, mut w, mut k) = (0.0, w_lowest, lowest);
    loop {
        cumulative += w;
        if cumulative >= target || (k > mode && w <= NEGLIGIBLE) {
            return k as u64;
        }
        k += 1.0;
        w *= mean / k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand computation, Poisson(2): P(N <= k) = e^-2 (1 + 2 + 2 + 4/3 + 2/3 + 4/15 +
    /// 4/45 + 8/315 + 2/315 + 4/2835) gives 0.99976 at k = 8 and 0.99995 at k = 9, so
    /// the 99.99th percentile is 9. Poisson(0.5): e^-0.5 (1 + 0.5 + 0.125 + 0.02083 +
    /// 0.0026042) = 0.999828 at k = 4, + 0.00026042 e^-0.5 = 0.999986 at k = 5.
    #[test]
    fn quantile_matches_hand_computed_small_means() {
        assert_eq!(poisson_quantile(2.0, QUANTILE), 9);
        assert_eq!(poisson_quantile(0.5, QUANTILE), 5);
        // The median of Poisson(2) is 2 (P(N <= 1) = 3 e^-2 = 0.406, P(N <= 2) = 0.677).
        assert_eq!(poisson_quantile(2.0, 0.5), 2);
        assert_eq!(poisson_quantile(0.0, QUANTILE), 0);
        assert_eq!(poisson_quantile(f64::NAN, QUANTILE), 0);
    }

    /// Oracle: the CDF summed term by term from k = 0 in 60-digit decimal arithmetic
    /// (Python's `decimal`, `pmf = exp(-m); pmf *= m / k`), independent of the weights
    /// relative to the mode used here: the 99.99th percentile of Poisson(10) is 24
    /// (CDF 0.999953), of Poisson(100) 139 (CDF 0.999908, at 138 under 0.9999), of
    /// Poisson(1500) 1646 (CDF 0.999903).
    #[test]
    fn quantile_matches_an_exact_decimal_summation() {
        assert_eq!(poisson_quantile(10.0, QUANTILE), 24);
        assert_eq!(poisson_quantile(100.0, QUANTILE), 139);
        assert_eq!(poisson_quantile(1500.0, QUANTILE), 1646);
    }

    #[test]
    fn fifty_per_second_with_a_two_second_timeout_starts_140_users() {
        // In flight when the target answers nothing: Poisson(50/s x 2 s = 100), whose
        // 99.99th percentile is 139 (above), plus the user that takes the slot.
        assert_eq!(open_users(50.0, Duration::from_secs(2), 1000), 140);
        // Capped by `max_users`, and never fewer than MIN_USERS.
        assert_eq!(open_users(50.0, Duration::from_secs(2), 120), 120);
        assert_eq!(open_users(1500.0, Duration::from_secs(60), 1000), 1000);
        assert_eq!(open_users(0.1, Duration::from_millis(100), 1000), MIN_USERS);
        assert_eq!(open_users(1.0, Duration::from_secs(1), 2), 2);
    }
}
