//! The gate's statistics: is the current run's percentile larger than the baseline's by
//! more than a tolerance, beyond what noise explains?
//!
//! The samples are per-interval percentiles (one value per recording interval), compared
//! on a log scale so a shift is a ratio. The question is one-sided with the tolerance in
//! the null hypothesis, H0: `current <= baseline x (1 + tolerance)`, tested with the
//! Mann-Whitney U (Wilcoxon rank-sum) test on `ln(current) - ln(1 + tolerance)` against
//! `ln(baseline)`: normal approximation with tie and continuity corrections. The false-alarm
//! rate is at most `alpha` when the true slowdown equals the tolerance, and far lower for
//! an unchanged system. The size of the change is the Hodges-Lehmann estimate (median of
//! all pairwise log differences) with its distribution-free confidence interval (Moses).

/// The outcome of one comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Shift {
    /// Hodges-Lehmann estimate of `current / baseline - 1`.
    pub change: f64,
    /// Lower bound of the two-sided `1 - alpha` confidence interval of the change.
    pub change_low: f64,
    /// Upper bound of that interval.
    pub change_high: f64,
    /// One-sided p-value of H0 "the change is at most the tolerance".
    pub p_value: f64,
    /// Whether H0 is rejected at `alpha`: a regression beyond the tolerance.
    pub regressed: bool,
}

/// Why a comparison could not be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// Too few samples on one side for the normal approximation.
    #[error("{side} has {n} intervals; the rank test needs at least {min}")]
    TooFew {
        /// `baseline` or `current`.
        side: &'static str,
        /// How many it has.
        n: usize,
        /// How many it needs.
        min: usize,
    },
    /// A value that is not a positive finite number (a latency of 0 or NaN).
    #[error("{side} holds a value that is not a positive number: {value}")]
    NotPositive {
        /// `baseline` or `current`.
        side: &'static str,
        /// The value.
        value: f64,
    },
}

/// The fewest samples per side the normal approximation is trusted with.
pub const MIN_SAMPLES: usize = 8;

/// Compares `current` with `baseline` (positive values, e.g. per-interval p95 in ms).
pub fn compare(baseline: &[f64], current: &[f64], tolerance: f64, alpha: f64) -> Result<Shift, StatsError> {
    let b = logs("baseline", baseline)?;
    let c = logs("current", current)?;
    let allowed = (1.0 + tolerance).ln();
    let shifted: Vec<f64> = c.iter().map(|x| x - allowed).collect();
    let p_value = rank_sum_p_greater(&shifted, &b);
    let mut diffs: Vec<f64> = c.iter().flat_map(|x| b.iter().map(move |y| x - y)).collect();
    diffs.sort_by(f64::total_cmp);
    let (low, high) = moses_interval(&diffs, b.len(), c.len(), alpha);
    Ok(Shift {
        change: median_sorted(&diffs).exp() - 1.0,
        change_low: low.exp() - 1.0,
        change_high: high.exp() - 1.0,
        p_value,
        regressed: p_value < alpha,
    })
}

fn logs(side: &'static str, xs: &[f64]) -> Result<Vec<f64>, StatsError> {
    if xs.len() < MIN_SAMPLES {
        return Err(StatsError::TooFew { side, n: xs.len(), min: MIN_SAMPLES });
    }
    xs.iter()
        .map(|&x| if x.is_finite() && x > 0.0 { Ok(x.ln()) } else { Err(StatsError::NotPositive { side, value: x }) })
        .collect()
}

/// One-sided p-value of the Mann-Whitney U test that `x` tends to be larger than `y`
/// (normal approximation, tie-corrected variance, continuity correction).
pub fn rank_sum_p_greater(x: &[f64], y: &[f64]) -> f64 {
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let mut all: Vec<(f64, bool)> = x.iter().map(|&v| (v, true)).chain(y.iter().map(|&v| (v, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum_x, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_x += mid_rank * all[i..=j].iter().filter(|e| e.1).count() as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let u = rank_sum_x - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let mean = n1 * n2 / 2.0;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if var <= 0.0 {
        return 0.5;
    }
    let z = (u - mean - 0.5) / var.sqrt();
    normal_sf(z)
}

/// Moses' distribution-free confidence interval for the Hodges-Lehmann shift: order
/// statistics of the sorted pairwise differences at ranks given by U's critical value.
fn moses_interval(sorted_diffs: &[f64], n1: usize, n2: usize, alpha: f64) -> (f64, f64) {
    let (a, b) = (n1 as f64, n2 as f64);
    let z = normal_quantile(1.0 - alpha / 2.0);
    let c = (a * b / 2.0 - z * (a * b * (a + b + 1.0) / 12.0).sqrt()).floor().max(0.0) as usize;
    let last = sorted_diffs.len().saturating_sub(1);
    (sorted_diffs[c.min(last)], sorted_diffs[last.saturating_sub(c)])
}

fn median_sorted(xs: &[f64]) -> f64 {
    let n = xs.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => xs[n / 2],
        _ => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9,
/// refined by one Newton step on [`normal_sf`]).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    let density = (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    x - ((1.0 - normal_sf(x)) - p) / density
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, LogNormal};

    #[test]
    fn the_normal_tail_matches_published_tables() {
        // Values from any standard normal table.
        for (z, sf) in [(0.0, 0.5), (1.0, 0.158_655_25), (1.959_964, 0.025), (2.326_348, 0.01), (3.090_232, 0.001)] {
            assert!((normal_sf(z) - sf).abs() < 2e-7, "P(Z > {z}) = {} not {sf}", normal_sf(z));
        }
        for p in [0.9, 0.975, 0.99, 0.995, 0.999] {
            assert!((1.0 - normal_sf(normal_quantile(p)) - p).abs() < 1e-7, "quantile({p})");
        }
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
    }

    /// The exact one-sided p-value by enumerating every split of the pooled ranks: the
    /// definition of the test, with no approximation.
    fn exact_p_greater(x: &[f64], y: &[f64]) -> f64 {
        let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
        let stat = |xs: &[f64], ys: &[f64]| -> f64 {
            xs.iter()
                .map(|a| {
                    ys.iter()
                        .map(|b| {
                            if a > b {
                                1.0
                            } else if a == b {
                                0.5
                            } else {
                                0.0
                            }
                        })
                        .sum::<f64>()
                })
                .sum()
        };
        let observed = stat(x, y);
        let n = pooled.len();
        let (mut hits, mut total) = (0u64, 0u64);
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize != x.len() {
                continue;
            }
            let picked = |want: bool| -> Vec<f64> {
                pooled.iter().enumerate().filter(|(i, _)| (mask & (1 << i) != 0) == want).map(|(_, v)| *v).collect()
            };
            let (xs, ys) = (picked(true), picked(false));
            total += 1;
            if stat(&xs, &ys) >= observed - 1e-9 {
                hits += 1;
            }
        }
        hits as f64 / total as f64
    }

    #[test]
    fn the_rank_test_agrees_with_exact_enumeration() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for shift in [0.0, 0.3, 0.8] {
            let x: Vec<f64> = (0..8).map(|_| rng.random::<f64>() + shift).collect();
            let y: Vec<f64> = (0..8).map(|_| rng.random::<f64>()).collect();
            let (approx, exact) = (rank_sum_p_greater(&x, &y), exact_p_greater(&x, &y));
            // n = 8 + 8 is small for the normal approximation: it holds to about 0.01.
            assert!((approx - exact).abs() < 0.012, "shift {shift}: approx {approx} exact {exact}");
        }
    }

    #[test]
    fn a_hand_computed_example_with_ties() {
        // x = [3, 4, 5], y = [1, 2, 3]: pooled ranks 1, 2, 3.5, 3.5, 5, 6; R_x = 14.5,
        // U = 14.5 - 6 = 8.5; mean 4.5; var = 9/12 x (7 - 6/30) = 5.1; z = (8.5 - 4.5 - 0.5) /
        // sqrt(5.1) = 1.54983; P(Z > z) = 0.060592.
        let p = rank_sum_p_greater(&[3.0, 4.0, 5.0], &[1.0, 2.0, 3.0]);
        assert!((p - 0.060_592).abs() < 1e-5, "{p}");
    }

    fn lognormal_sample(rng: &mut rand::rngs::StdRng, n: usize, median: f64, sigma: f64) -> Vec<f64> {
        let d = LogNormal::new(median.ln(), sigma).unwrap();
        (0..n).map(|_| d.sample(rng)).collect()
    }

    #[test]
    fn false_alarms_stay_under_alpha_at_the_tolerance_and_a_real_regression_is_caught() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let (alpha, tol, trials) = (0.05, 0.05, 400);
        let mut at_tolerance = 0;
        let mut unchanged = 0;
        let mut caught = 0;
        for _ in 0..trials {
            let base = lognormal_sample(&mut rng, 30, 100.0, 0.03);
            let same = lognormal_sample(&mut rng, 30, 100.0, 0.03);
            let edge = lognormal_sample(&mut rng, 30, 105.0, 0.03);
            let slow = lognormal_sample(&mut rng, 30, 110.0, 0.03);
            unchanged += usize::from(compare(&base, &same, tol, alpha).unwrap().regressed);
            at_tolerance += usize::from(compare(&base, &edge, tol, alpha).unwrap().regressed);
            caught += usize::from(compare(&base, &slow, tol, alpha).unwrap().regressed);
        }
        // At the boundary the rate is alpha: 400 x 0.05 = 20, binomial sd 4.4; allow 3 sd.
        assert!(at_tolerance <= 33, "{at_tolerance} of {trials} false alarms at the tolerance");
        assert_eq!(unchanged, 0, "an unchanged system raised {unchanged} alarms");
        assert!(caught >= trials * 99 / 100, "a 10% slowdown caught only {caught} of {trials} times");
    }

    #[test]
    fn the_interval_covers_the_true_change_and_the_estimate_is_close() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut covered = 0;
        for _ in 0..200 {
            let base = lognormal_sample(&mut rng, 40, 50.0, 0.05);
            let cur = lognormal_sample(&mut rng, 40, 55.0, 0.05);
            let s = compare(&base, &cur, 0.0, 0.05).unwrap();
            covered += usize::from(s.change_low <= 0.1 && 0.1 <= s.change_high);
            assert!((s.change - 0.1).abs() < 0.05, "estimate {}", s.change);
        }
        // 95% intervals: expect about 190 of 200 (binomial sd 3.1).
        assert!(covered >= 180, "the 95% interval covered the true change {covered} of 200 times");
    }

    #[test]
    fn too_few_or_non_positive_values_are_refused() {
        assert!(matches!(compare(&[1.0; 3], &[1.0; 10], 0.05, 0.01), Err(StatsError::TooFew { side: "baseline", .. })));
        let mut bad = vec![1.0; 10];
        bad[4] = 0.0;
        assert!(matches!(compare(&[1.0; 10], &bad, 0.05, 0.01), Err(StatsError::NotPositive { side: "current", .. })));
    }
}
