//! Tests of the arrival module against independent oracles: the exponential CDF (KS),
//! Poisson count statistics, numerical integration of `rate_at`, and hand-written closed
//! forms of the ramp and diurnal integrals.

use std::f64::consts::PI;
use std::time::Duration;

use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
struct Wrap {
    rate: RateCurve,
}

fn curve(rate_toml: &str) -> RateCurve {
    match toml::from_str::<Wrap>(&format!("rate = {rate_toml}")) {
        Ok(w) => w.rate,
        Err(e) => panic!("{rate_toml}: {e}"),
    }
}

fn curve_err(rate_toml: &str) -> String {
    match toml::from_str::<Wrap>(&format!("rate = {rate_toml}")) {
        Ok(w) => panic!("{rate_toml} parsed as {:?}", w.rate),
        Err(e) => e.message().to_owned(),
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Arrival times in seconds.
fn times(c: &RateCurve, process: Process, seed: u64, horizon_s: f64) -> Vec<f64> {
    Schedule::new(c.clone(), process, seed, secs(horizon_s)).map(|d| d.as_secs_f64()).collect()
}

fn gaps(t: &[f64]) -> Vec<f64> {
    let mut prev = 0.0;
    t.iter()
        .map(|&x| {
            let g = x - prev;
            prev = x;
            g
        })
        .collect()
}

/// The one-sample Kolmogorov-Smirnov statistic D_n of `samples` against the CDF `cdf`.
fn ks(mut samples: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len() as f64;
    samples.iter().enumerate().fold(0.0, |d: f64, (i, &x)| {
        let f = cdf(x);
        d.max((i as f64 + 1.0) / n - f).max(f - i as f64 / n)
    })
}

/// The 1% critical value of D_n for large n: sqrt(n) D_n converges to the Kolmogorov
/// distribution, whose 0.99 quantile is 1.6276 (Smirnov 1948; Marsaglia, Tsang & Wang,
/// "Evaluating Kolmogorov's distribution", J. Stat. Software 8(18), 2003).
fn ks_critical_1pct(n: usize) -> f64 {
    1.628 / (n as f64).sqrt()
}

/// The chi-square quantile for `k` degrees of freedom at standard-normal quantile `z`
/// (Wilson & Hilferty 1931 approximation, good to well under 1% for k >= 10).
fn chi2_quantile(k: f64, z: f64) -> f64 {
    let c = 2.0 / (9.0 * k);
    k * (1.0 - c + z * c.sqrt()).powi(3)
}

const Z_99: f64 = 2.3263;
const Z_995: f64 = 2.5758;

/// Midpoint-rule integral of the curve's `rate_at` over `[a, b]` in `n` slices: an
/// oracle that knows nothing of the closed forms.
fn integral(c: &RateCurve, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    (0..n).map(|i| c.rate_at(secs(a + (i as f64 + 0.5) * h))).sum::<f64>() * h
}

#[test]
fn poisson_gaps_pass_kolmogorov_smirnov_against_the_exponential() {
    let rate = 1000.0;
    let c = curve("\"1000/s\"");
    for seed in [1, 2, 3, 42, 1234] {
        let g = gaps(&times(&c, Process::Poisson, seed, 60.0));
        let n = g.len();
        let d = ks(g.clone(), |x| 1.0 - (-rate * x).exp());
        assert!(d < ks_critical_1pct(n), "seed {seed}: D_n = {d} >= {} (n = {n})", ks_critical_1pct(n));
        // The test has power: the same gaps are rejected against a rate 5% off.
        let off = ks(g, |x| 1.0 - (-1.05 * rate * x).exp());
        assert!(off > ks_critical_1pct(n), "seed {seed}: a 5% rate error went unnoticed, D_n = {off}");
    }
    // And evenly spaced arrivals are (rightly) rejected as exponential.
    let even = gaps(&times(&c, Process::Constant, 1, 60.0));
    let n = even.len();
    assert!(ks(even, |x| 1.0 - (-rate * x).exp()) > ks_critical_1pct(n));
}

#[test]
fn achieved_count_over_60s_is_within_2_percent_and_3_sigma() {
    // At 1000/s the count over 60 s is Poisson(60000): sigma = 245 = 0.41%, so 2% is
    // 4.9 sigma and every seed must land inside it.
    let c = curve("\"1000/s\"");
    let mean = 60_000.0;
    let sigma = f64::sqrt(mean);
    for seed in 1..=10 {
        let n = times(&c, Process::Poisson, seed, 60.0).len() as f64;
        assert!((n - mean).abs() <= 0.02 * mean, "seed {seed}: {n} arrivals, target {mean}");
        assert!((n - mean).abs() <= 3.0 * sigma, "seed {seed}: {n} arrivals, more than 3 sigma from {mean}");
    }
}

#[test]
fn counts_across_seeds_have_poisson_mean_and_variance() {
    // 200 runs of 60 s at 50/s: counts ~ Poisson(3000). The mean of 200 is within
    // 3 sigma/sqrt(200); the dispersion (k-1) s^2 / mean ~ chi-square(k-1) lies inside
    // its two-sided 1% band. Evenly spaced arrivals have no variance at all.
    let c = curve("\"50/s\"");
    let k = 200;
    let counts: Vec<f64> = (0..k).map(|s| times(&c, Process::Poisson, 1000 + s, 60.0).len() as f64).collect();
    let expect = 3000.0;
    let mean = counts.iter().sum::<f64>() / k as f64;
    assert!((mean - expect).abs() <= 3.0 * (expect / k as f64).sqrt(), "mean count {mean}");
    let var = counts.iter().map(|n| (n - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    let stat = (k - 1) as f64 * var / expect;
    let df = (k - 1) as f64;
    let (lo, hi) = (chi2_quantile(df, -Z_995), chi2_quantile(df, Z_995));
    assert!(stat > lo && stat < hi, "dispersion statistic {stat} outside [{lo}, {hi}] (variance {var})");
    let even: Vec<usize> = (0..5).map(|s| times(&c, Process::Constant, s, 60.0).len()).collect();
    // One arrival every 20 ms, the first at 20 ms, none at 60 s itself: 2999 each.
    assert!(even.iter().all(|&n| n == 2999), "{even:?}");
}

/// Buckets the arrivals over `[0, horizon)` and compares each bucket with the numerical
/// integral of the curve: within 4 sigma each, and chi-square under its 1% critical value.
fn assert_counts_follow_integral(c: &RateCurve, seed: u64, horizon_s: f64, buckets: usize) {
    let t = times(c, Process::Poisson, seed, horizon_s);
    let width = horizon_s / buckets as f64;
    let mut observed = vec![0.0; buckets];
    for x in t {
        observed[((x / width) as usize).min(buckets - 1)] += 1.0;
    }
    let mut chi2 = 0.0;
    for (i, obs) in observed.iter().enumerate() {
        let a = i as f64 * width;
        let expect = integral(c, a, a + width, 2000);
        assert!(expect > 0.0, "bucket {i} of {c:?} expects nothing");
        assert!((obs - expect).abs() <= 4.0 * expect.sqrt(), "{c:?} bucket {i}: {obs} arrivals, expected {expect}");
        chi2 += (obs - expect).powi(2) / expect;
    }
    let critical = chi2_quantile(buckets as f64, Z_99);
    assert!(chi2 < critical, "{c:?}: chi-square {chi2} >= {critical}");
}

#[test]
fn step_ramp_points_and_diurnal_counts_match_the_integral_per_bucket() {
    let steps = curve(r#"{ steps = [["0s", "20/s"], ["10m", "100/s"], ["20m", "5/s"]] }"#);
    assert_counts_follow_integral(&steps, 7, 1800.0, 30);
    let ramp = curve(r#"{ ramp = { from = "10/s", to = "200/s", over = "10m" } }"#);
    assert_counts_follow_integral(&ramp, 8, 900.0, 30);
    let down = curve(r#"{ ramp = { from = "200/s", to = "1/s", over = "10m" } }"#);
    assert_counts_follow_integral(&down, 9, 600.0, 20);
    let points = curve(r#"{ points = [["0s", "5/s"], ["5m", "80/s"], ["15m", "10/s"], ["20m", "40/s"]] }"#);
    assert_counts_follow_integral(&points, 10, 1500.0, 25);
    let day = curve(r#"{ diurnal = { mean = "2/s", peak_to_average = 1.8, peak_at = "14h" } }"#);
    assert_counts_follow_integral(&day, 11, 2.0 * 86_400.0, 48);
    // p > 2: zero at night, so only compare the hours around the peak.
    let spiky = curve(r#"{ diurnal = { mean = "1/s", peak_to_average = 4, peak_at = "12h", period = "1d" } }"#);
    let t = times(&spiky, Process::Poisson, 12, 86_400.0);
    assert!(t.iter().all(|&x| (x - 43_200.0).abs() < 86_400.0 / 4.0), "arrival outside the 12h hump");
    let n = t.len() as f64;
    assert!((n - 86_400.0).abs() <= 4.0 * 86_400f64.sqrt(), "{n} arrivals in a day of mean 1/s");
}

#[test]
fn growth_weeks_shaped_by_a_day_follow_the_integral() {
    let weekly = curve(
        r#"{ diurnal = { mean = { steps = [["0s", "1/s"], ["2d", "3/s"], ["3d", "0/s"], ["4d", "1.5/s"]] }, peak_to_average = 1.5, peak_at = "14h" } }"#,
    );
    assert_counts_follow_integral(&weekly, 13, 3.0 * 86_400.0, 72);
    // Day 4 (mean 0) sends nothing; day 5 sends 1.5/s on average.
    let t = times(&weekly, Process::Poisson, 14, 5.0 * 86_400.0);
    assert!(!t.iter().any(|&x| (3.0 * 86_400.0..4.0 * 86_400.0).contains(&x)));
    let day5 = t.iter().filter(|&&x| x >= 4.0 * 86_400.0).count() as f64;
    assert!((day5 - 1.5 * 86_400.0).abs() <= 4.0 * (1.5f64 * 86_400.0).sqrt(), "day 5: {day5}");
}

/// Hand-derived integral of `m (1 + (p-1) cos(2 pi (s - phi) / D))` from 0 to t.
fn diurnal_integral_by_hand(m: f64, p: f64, phi: f64, d: f64, t: f64) -> f64 {
    let w = 2.0 * PI / d;
    m * t + m * (p - 1.0) / w * ((w * (t - phi)).sin() + (w * phi).sin())
}

#[test]
fn time_rescaled_gaps_of_a_changing_curve_are_unit_exponential() {
    // Time-rescaling theorem (Brown et al., Neural Computation 14, 2002): for a Poisson
    // process of intensity r(t), the increments of L(t) = integral of r between
    // arrivals are Exp(1). L is written out by hand here.
    let (from, to, over) = (20.0, 400.0, 300.0);
    let ramp = curve(r#"{ ramp = { from = "20/s", to = "400/s", over = "5m" } }"#);
    let l_ramp = |t: f64| {
        let u = t.min(over);
        from * u + (to - from) * u * u / (2.0 * over) + to * (t - over).max(0.0)
    };
    let (m, p, phi, d) = (5.0, 1.6, 50_400.0, 86_400.0);
    let day = curve(r#"{ diurnal = { mean = "5/s", peak_to_average = 1.6, peak_at = "14h" } }"#);
    let l_day = |t: f64| diurnal_integral_by_hand(m, p, phi, d, t);
    for (c, l, horizon) in [(&ramp, &l_ramp as &dyn Fn(f64) -> f64, 400.0), (&day, &l_day, 86_400.0)] {
        let t = times(c, Process::Poisson, 21, horizon);
        let rescaled: Vec<f64> = t.iter().map(|&x| l(x)).collect();
        let g = gaps(&rescaled);
        let n = g.len();
        let dn = ks(g, |x| 1.0 - (-x).exp());
        assert!(dn < ks_critical_1pct(n), "{c:?}: D_n = {dn} (n = {n})");
    }
}

#[test]
fn constant_process_spacing_is_exact() {
    let c = curve("\"4/s\"");
    let t = times(&c, Process::Constant, 1, 60.0);
    // Arrivals at 0.25, 0.5, ... 59.75 s: 239 of them, gaps exactly 1/4 s.
    assert_eq!(t.len(), 239);
    for (k, x) in t.iter().enumerate() {
        assert!((x - 0.25 * (k + 1) as f64).abs() < 1e-9, "arrival {k} at {x}");
    }
    // On a ramp, arrival k is where the hand-computed integral reaches k.
    let ramp = curve(r#"{ ramp = { from = "1/s", to = "9/s", over = "100s" } }"#);
    let l = |t: f64| t.min(100.0) + 8.0 * t.min(100.0).powi(2) / 200.0 + 9.0 * (t - 100.0).max(0.0);
    let t = times(&ramp, Process::Constant, 1, 200.0);
    assert_eq!(t.len(), 1399, "L(200) = 100 + 400 + 900 = 1400, the last at exactly 200 s excluded");
    for (k, x) in t.iter().enumerate() {
        assert!((l(*x) - (k + 1) as f64).abs() < 1e-6, "arrival {k} at {x}: L = {}", l(*x));
    }
    // On a diurnal curve, likewise with the hand-derived integral.
    let day = curve(r#"{ diurnal = { mean = "1/s", peak_to_average = 2, peak_at = "6h" } }"#);
    let horizon = 50_000.3;
    let t = times(&day, Process::Constant, 1, horizon);
    let l_end = diurnal_integral_by_hand(1.0, 2.0, 21_600.0, 86_400.0, horizon);
    assert_eq!(t.len() as f64, l_end.floor(), "one arrival per unit of L up to L({horizon}) = {l_end}");
    for (k, x) in t.iter().enumerate().step_by(97) {
        let l = diurnal_integral_by_hand(1.0, 2.0, 21_600.0, 86_400.0, *x);
        assert!((l - (k + 1) as f64).abs() < 1e-6, "arrival {k} at {x}: L = {l}");
    }
}

#[test]
fn a_seed_gives_one_schedule() {
    let c = curve(r#"{ diurnal = { mean = "20/s", peak_to_average = 3, peak_at = "1h", period = "2h" } }"#);
    let a = times(&c, Process::Poisson, 5, 7200.0);
    let b = times(&c, Process::Poisson, 5, 7200.0);
    let other = times(&c, Process::Poisson, 6, 7200.0);
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert!(a.windows(2).all(|w| w[0] < w[1]), "times increase");
    // A clone part-way continues identically.
    let mut s = Schedule::new(c, Process::Poisson, 5, secs(7200.0));
    let _ = s.by_ref().take(100).count();
    let rest: Vec<Duration> = s.clone().collect();
    assert_eq!(rest, s.collect::<Vec<_>>());
}

#[test]
fn diurnal_mean_and_peak_to_average_match_the_configuration() {
    for p in [1.0, 1.3, 1.8, 2.0, 2.5, 6.0, 40.0] {
        let c = curve(&format!(r#"{{ diurnal = {{ mean = "3/s", peak_to_average = {p}, peak_at = "14h" }} }}"#));
        // Oracle: numerical integration over the day and a 1 s grid search for the max.
        let mean = integral(&c, 0.0, 86_400.0, 864_000) / 86_400.0;
        assert!((mean - 3.0).abs() < 1e-6 * 3.0, "p = {p}: mean {mean}");
        let (mut top, mut at, mut low) = (0.0, 0.0, f64::INFINITY);
        for s in 0..86_400 {
            let r = c.rate_at(Duration::from_secs(s));
            if r > top {
                (top, at) = (r, s as f64);
            }
            low = low.min(r);
        }
        assert!((top / mean - p).abs() < 1e-6 * p, "p = {p}: max/mean {}", top / mean);
        if p > 1.0 {
            assert_eq!(at, 50_400.0, "p = {p}: peak at {at}");
        }
        assert!((c.peak_per_second() - 3.0 * p).abs() < 1e-9, "p = {p}: peak {}", c.peak_per_second());
        let trough = if p <= 2.0 { 3.0 * (2.0 - p) } else { 0.0 };
        assert!((low - trough).abs() < 1e-6, "p = {p}: min {low}");
    }
}

#[test]
fn expected_count_matches_the_numerical_integral() {
    let curves = [
        curve("\"2.5/s\""),
        curve(r#"{ steps = [["0s", "1/s"], ["10m", "5/s"], ["1h", "0/s"], ["2h", "3/s"]] }"#),
        curve(r#"{ ramp = { from = "1/s", to = "10/s", over = "10m" } }"#),
        curve(r#"{ points = [["0s", "0/s"], ["30m", "12/s"], ["1h", "2/s"]] }"#),
        curve(r#"{ diurnal = { mean = "2/s", peak_to_average = 1.8, peak_at = "14h" } }"#),
        curve(r#"{ diurnal = { mean = "2/s", peak_to_average = 7, peak_at = "3h" } }"#),
        curve(
            r#"{ diurnal = { mean = { steps = [["0s", "1/s"], ["1d", "4/s"]] }, peak_to_average = 3, peak_at = "23h" } }"#,
        ),
    ];
    let intervals =
        [(0.0, 60.0), (300.0, 4000.0), (590.0, 610.0), (3000.0, 9000.0), (0.0, 200_000.0), (80_000.0, 95_000.0)];
    for c in &curves {
        for (a, b) in intervals {
            let exact = c.expected_count(secs(a), secs(b));
            let numeric = integral(c, a, b, 100_000);
            assert!((exact - numeric).abs() <= 1e-4 * numeric.max(1.0), "{c:?} over [{a}, {b}]: {exact} vs {numeric}");
        }
    }
}

#[test]
fn rate_and_peak_of_each_form_match_hand_values() {
    let steps = curve(r#"{ steps = [["0s", "1/s"], ["10m", "300/min"], ["1h", "2/s"]] }"#);
    let at = |c: &RateCurve, s: f64| c.rate_at(secs(s));
    assert_eq!((at(&steps, 0.0), at(&steps, 599.9), at(&steps, 600.0), at(&steps, 1e6)), (1.0, 1.0, 5.0, 2.0));
    assert_eq!(steps.peak_per_second(), 5.0);
    assert_eq!(steps.peak_between(secs(3600.0), secs(7200.0)), 2.0);
    let ramp = curve(r#"{ ramp = { from = "10/s", to = "2/s", over = "100s" } }"#);
    assert!((at(&ramp, 25.0) - 8.0).abs() < 1e-12 && at(&ramp, 500.0) == 2.0);
    assert_eq!(ramp.peak_per_second(), 10.0);
    assert!((ramp.peak_between(secs(50.0), secs(60.0)) - 6.0).abs() < 1e-12);
    let points = curve(
        r#"{ points = [{ at = "0s", rate = "0/s" }, { at = "1m", rate = "6/s" }, { at = "2m", rate = "3/s" }] }"#,
    );
    assert!((at(&points, 30.0) - 3.0).abs() < 1e-12 && (at(&points, 90.0) - 4.5).abs() < 1e-12);
    assert_eq!((points.peak_per_second(), at(&points, 1e5)), (6.0, 3.0));
    let day = curve(r#"{ diurnal = { mean = "1000/day", peak_to_average = 2, peak_at = "12h" } }"#);
    assert!((day.peak_per_second() - 2000.0 / 86_400.0).abs() < 1e-15);
    // Off-peak window 0h-1h: the peak there is at 1h, 1 + cos(2 pi * 11/24) times the mean.
    let off = day.peak_between(Duration::ZERO, secs(3600.0));
    let hand = 1000.0 / 86_400.0 * (1.0 + (2.0 * PI * 11.0 / 24.0).cos());
    assert!((off - hand).abs() < 1e-15, "{off} vs {hand}");
    let weekly = curve(
        r#"{ diurnal = { mean = { steps = [["0s", "1/s"], ["7d", "3/s"]] }, peak_to_average = 1.5, peak_at = "14h" } }"#,
    );
    assert_eq!(weekly.peak_per_second(), 4.5);
}

#[test]
fn every_documented_toml_form_parses_and_round_trips() {
    let forms = [
        r#""2/s""#,
        r#"{ steps = [["0s", "1/s"], ["10m", "5/s"]] }"#,
        r#"{ steps = [{ at = "0s", rate = "1/s" }, { at = "10m", rate = "5/s" }] }"#,
        r#"{ ramp = { from = "1/s", to = "10/s", over = "10m" } }"#,
        r#"{ points = [["0s", "1/s"], ["1h", "10/s"], ["2h", "1/s"]] }"#,
        r#"{ diurnal = { mean = "2/s", peak_to_average = 1.8, peak_at = "14h" } }"#,
        r#"{ diurnal = { mean = "1000/day", peak_to_average = 3, peak_at = "6h", period = "12h" } }"#,
        r#"{ diurnal = { mean = { steps = [["0s", "1000/day"], ["7d", "1500/day"]] }, peak_to_average = 1.8, peak_at = "14h" } }"#,
    ];
    for f in forms {
        let c = curve(f);
        let text = toml::to_string(&serde_json::json!({ "rate": c })).unwrap_or_default();
        let back: Wrap = toml::from_str(&text).unwrap_or_else(|e| panic!("{f} -> {text}: {e}"));
        assert_eq!(back.rate, c, "{f} -> {text}");
    }
    // The table form of TOML is the same thing.
    let table: Wrap =
        toml::from_str("[rate.diurnal]\nmean = \"2/s\"\npeak_to_average = 1.8\npeak_at = \"14h\"\n").unwrap();
    assert_eq!(table.rate, curve(forms[5]));
    assert_eq!(curve(forms[1]), curve(forms[2]));
}

#[test]
fn bad_curves_are_refused_naming_the_field() {
    let cases = [
        ("\"-2/s\"", "negative"),
        ("\"0/s\"", "zero everywhere"),
        ("\"5e8/s\"", "limit"),
        ("2", "a rate like"),
        ("{ steps = [] }", "`steps`: is empty"),
        (r#"{ steps = [["1m", "1/s"]] }"#, "`steps[0].at`: the first point must be at \"0s\""),
        (r#"{ steps = [["0s", "1/s"], ["10m", "2/s"], ["5m", "3/s"]] }"#, "`steps[2].at`: times must increase"),
        (r#"{ steps = [["0s", "1/s"], ["0s", "2/s"]] }"#, "`steps[1].at`"),
        (r#"{ steps = [["0s", "0/s"], ["1m", "0/s"]] }"#, "zero everywhere"),
        (r#"{ steps = [["0s", "-1/s"]] }"#, "negative"),
        (r#"{ steps = [["0s"]] }"#, "invalid length"),
        (r#"{ points = [["1s", "1/s"]] }"#, "`points[0].at`"),
        (r#"{ ramp = { from = "1/s", to = "2/s", over = "0s" } }"#, "`ramp.over`: must be greater than zero"),
        (r#"{ ramp = { from = "1/s", to = "2/s" } }"#, "missing field `over`"),
        (
            r#"{ diurnal = { mean = "2/s", peak_to_average = 0.8, peak_at = "14h" } }"#,
            "`diurnal.peak_to_average`: must be at least 1",
        ),
        (
            r#"{ diurnal = { mean = "2/s", peak_to_average = 1.5, peak_at = "25h" } }"#,
            "`diurnal.peak_at`: must fall within the period",
        ),
        (r#"{ diurnal = { mean = "2/s", peak_to_average = 1.5, peak_at = "1h", period = "0s" } }"#, "`diurnal.period`"),
        (r#"{ diurnal = { mean = "1e6/s", peak_to_average = 100, peak_at = "1h" } }"#, "above the limit"),
        (
            r#"{ diurnal = { mean = { steps = [["0s", "1/s"], ["0s", "2/s"]] }, peak_to_average = 1.5, peak_at = "1h" } }"#,
            "`mean.steps[1].at`",
        ),
        (r#"{ steps = [["0s", "1/s"]], ramp = { from = "1/s", to = "2/s", over = "1m" } }"#, "exactly one of"),
        (r#"{ stepz = [["0s", "1/s"]] }"#, "unknown field `stepz`"),
        ("{}", "found none"),
    ];
    for (toml, expect) in cases {
        let err = curve_err(toml);
        assert!(err.contains(expect), "{toml}: `{err}` does not contain `{expect}`");
    }
    // Constructors check the same rules.
    let p = |at, r: f64| Point { at: Duration::from_secs(at), rate: Rate::per_second_checked(r).unwrap() };
    assert_eq!(RateTable::new(vec![p(0, 1.0), p(5, 1.0), p(5, 2.0)]).unwrap_err().field, "[2].at");
    assert_eq!(Ramp::new(Rate::ZERO, Rate::ZERO, Duration::ZERO).unwrap_err().field, "over");
    let mean = DiurnalMean::Constant(Rate::per_second_checked(1.0).unwrap());
    assert_eq!(Diurnal::new(mean, f64::NAN, Duration::ZERO, DAY).unwrap_err().field, "peak_to_average");
    assert!(RateCurve::Constant(Rate::ZERO).validate().is_err());
}

#[test]
fn a_window_gives_offsets_from_its_start() {
    // The peak hour of a day: 13:30 to 14:30.
    let c = curve(r#"{ diurnal = { mean = "20/s", peak_to_average = 2, peak_at = "14h" } }"#);
    let (from, until) = (secs(48_600.0), secs(52_200.0));
    let s = Schedule::window(c.clone(), Process::Poisson, 3, from, until);
    let expect = integral(&c, 48_600.0, 52_200.0, 36_000);
    assert!((s.expected_count() - expect).abs() < 1e-6 * expect);
    let t: Vec<f64> = s.map(|d| d.as_secs_f64()).collect();
    assert!(t.iter().all(|&x| (0.0..3600.0).contains(&x)));
    let n = t.len() as f64;
    assert!((n - expect).abs() <= 4.0 * expect.sqrt(), "{n} arrivals in the peak hour, expected {expect}");
    // Near the peak the rate is about 40/s, twice the mean.
    assert!(n > 1.9 * 20.0 * 3600.0, "{n}");
    assert_eq!(Schedule::window(c, Process::Poisson, 3, until, from).count(), 0);
}

#[test]
fn a_curve_that_falls_to_zero_ends_the_schedule() {
    let c = curve(r#"{ steps = [["0s", "5/s"], ["10s", "0/s"]] }"#);
    let mut s = Schedule::new(c, Process::Poisson, 1, Duration::from_secs(86_400 * 365));
    let t: Vec<Duration> = s.by_ref().collect();
    assert!(t.iter().all(|d| *d < Duration::from_secs(10)));
    assert!((t.len() as f64 - 50.0).abs() <= 4.0 * 50f64.sqrt(), "{}", t.len());
    assert_eq!(s.next(), None, "the schedule stays ended");
}
