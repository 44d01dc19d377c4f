//! Whole-engine tests on hand-built runs, against hand-computed firing times.

use std::path::Path;

use crate::load::{KindStats, Outcome};
use crate::observe::Series;
use crate::rules::*;
use crate::scenario::Scenario;

/// A scenario with one request kind `a` and the given rule tables.
fn scenario(duration: &str, tables: &str) -> Scenario {
    let text = format!(
        "name = \"t\"\n[load]\nusers = 1\nduration = \"{duration}\"\n\
         [[load.request]]\nname = \"a\"\ntarget = \"midnight\"\npath = \"/x\"\n{tables}"
    );
    crate::scenario::parse(Path::new("t.toml"), &text).unwrap_or_else(|e| panic!("{e}"))
}

/// A run of `n` intervals of `step_s`; `fill(i)` gives `(latency_us, outcome, count)` lots.
fn run(n: u64, step_s: f64, fill: impl Fn(u64) -> Vec<(u64, Outcome, u64)>) -> RunData {
    let mut d = RunData { step_s, duration_s: n as f64 * step_s, requests: vec!["a".into()], ..Default::default() };
    for i in 0..n {
        let lots = fill(i);
        if lots.is_empty() {
            continue;
        }
        let mut k = KindStats::default();
        for (us, o, c) in lots {
            (0..c).for_each(|_| k.record(us, o, None));
        }
        d.intervals.insert(i, vec![k]);
    }
    d
}

fn span(a: f64, b: Option<f64>) -> state::Span {
    state::Span { start_s: a, end_s: b }
}

#[test]
fn burn_rate_alerts_fire_at_the_hand_computed_steps() {
    // 10 h at 1-minute intervals, 100 requests a minute; from minute 300 to 479, 20 of
    // them fail (20% errors, burn rate 20 against a 1% budget). The period equals the run,
    // so the windows are the workbook's: 14.4x over 1 h (60 intervals) and 5 m (5).
    // At minute k the 1 h window holds m = k - 300 failing minutes: burn = 20m/6000/0.01
    // = m/3 > 14.4 first at m = 44, minute 344 (t = 20640 s). It resolves when the 5 m
    // window falls to 3 failing minutes of 5 (burn 12), minute 482 (t = 28920 s).
    // 6x over 6 h (360) and 30 m (30): m/18 > 6 first at m = 109, minute 409 (24540 s);
    // resolves when the 30 m window's burn (510 - k) * 20 / 30 is no longer > 6, k = 501.
    let s = scenario(
        "10h",
        "[[slo]]\nname = \"errors\"\nrequest = \"a\"\nobjective = \"error_ratio < 1%\"\nperiod = \"10h\"\n",
    );
    let d = run(600, 60.0, |i| {
        let bad = if (300..480).contains(&i) { 20 } else { 0 };
        vec![(10_000, Outcome::Ok, 100 - bad), (10_000, Outcome::Status5xx, bad)]
    });
    let report = judge(s.rules(), &d);
    let v = &report.slos[0];
    let burns = &v.burn_alerts;
    assert_eq!((burns[0].factor, burns[0].long_window_s, burns[0].short_window_s), (14.4, 3600.0, 300.0));
    assert_eq!(burns[0].rule.first_firing_s, Some(20640.0));
    assert_eq!(burns[0].rule.firing, vec![span(20640.0, Some(28920.0))]);
    assert_eq!((burns[1].long_window_s, burns[1].short_window_s), (21_600.0, 1800.0));
    assert_eq!(burns[1].rule.firing, vec![span(24540.0, Some(30060.0))]);
    // Budget: 1% of 60000 requests = 600; 180 minutes x 20 = 3600 bad = 6 budgets, used
    // up when the cumulative bad count passes 600: 31 failing minutes, t = 331 min.
    let b = v.budget.as_ref().unwrap();
    assert_eq!((b.requests, b.bad), (60_000, 3600));
    assert!((b.consumed - 6.0).abs() < 1e-9);
    assert_eq!(b.exhausted_at_s, Some(331.0 * 60.0));
    // The whole-run ratio is 6% > 1%: the SLO fails.
    assert!(!v.pass);
}

#[test]
fn burn_windows_scale_with_the_run() {
    // A 1-day run of a 30-day SLO: windows x 1/30 -> 1 h = 120 s, 5 m = 10 s, 6 h = 720 s,
    // 30 m = 60 s; at 1 s intervals they stay as computed.
    let s = scenario("1d", "[[slo]]\nname = \"e\"\nobjective = \"error_ratio < 1%\"\n");
    let d = run(86_400, 1.0, |i| if i % 600 == 0 { vec![(1000, Outcome::Ok, 1)] } else { vec![] });
    let r = judge(s.rules(), &d);
    let w: Vec<(f64, f64)> = r.slos[0].burn_alerts.iter().map(|b| (b.long_window_s, b.short_window_s)).collect();
    assert_eq!(w, vec![(120.0, 10.0), (720.0, 60.0)]);
}

#[test]
fn a_ten_minute_breach_fails_the_window_but_not_the_whole_run() {
    // 2 h at 10 s intervals, 100 requests an interval at 10 ms, except 3000 s..3600 s at
    // 1 s. Whole run: 6000 of 72000 slow (8.3%) -> p90 = 10 ms, passes `p90 < 500ms`.
    // A 10 m window (60 intervals, 6000 requests) breaches when more than 10% of it (over
    // 6 intervals) is slow: windows ending at 3070 s .. 4130 s, resolved at 4140 s.
    let s = scenario("2h", "[[slo]]\nname = \"p90\"\nrequest = \"a\"\nobjective = \"p90 < 500ms\"\nwindow = \"10m\"\n");
    let d = run(720, 10.0, |i| vec![(if (300..360).contains(&i) { 1_000_000 } else { 10_000 }, Outcome::Ok, 100)]);
    let v = &judge(s.rules(), &d).slos[0];
    assert!(v.observed.is_some_and(|p| (p - 0.010).abs() < 0.0001), "{:?}", v.observed);
    let w = v.window.as_ref().unwrap();
    assert_eq!(w.breaches, vec![span(3070.0, Some(4140.0))]);
    assert_eq!(w.first_breach_s, Some(3070.0));
    assert!(w.worst.is_some_and(|x| (x - 1.0).abs() < 0.001), "{:?}", w.worst);
    assert!(!w.pass && !v.pass);
    // Full windows only: ends at 600 s .. 7200 s.
    assert_eq!(w.windows, 720 - 60 + 1);
    let f = judge(s.rules(), &d).failures();
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].contains("10m windows") && f[0].contains("51m 10s"), "{f:?}");
}

#[test]
fn triggers_report_when_they_fired_and_check_expectations() {
    // A CPU gauge scraped every 60 s: 0.5 for the first 2 h, then 0.9. The trigger
    // `avg(cpu)[15m] > 70%` for 15m: the 15 m average passes 0.7 when more than half of
    // the 15 samples in (t - 15m, t] are 0.9 (0.5 * 7 + 0.9 * 8 = 10.7 > 10.5): t = 7620 s;
    // it fires 15 minutes later, at 8520 s.
    let tables = r#"
[[trigger]]
name = "scale-out"
expr = "avg(cpu)[15m] > 70%"
for = "15m"
expect = "fires"
fires_within = ["2h", "3h"]

[[trigger]]
name = "too-early"
expr = "avg(cpu)[15m] > 70%"
for = "15m"
expect = "fires"
fires_within = ["0s", "1h"]

[[alert]]
name = "never"
expr = "max(cpu)[5m] > 95%"
expect = "never"

[[alert]]
name = "info"
expr = "queue_depth > 1"
"#;
    let s = scenario("4h", tables);
    let mut d = run(240, 60.0, |_| vec![(1000, Outcome::Ok, 1)]);
    let samples = (0..=240).map(|i| (i as f64 * 60.0, if i < 120 { 0.5 } else { 0.9 })).collect();
    let labels = [("pool".to_owned(), "prove".to_owned())].into();
    d.series.push(Series { name: "gameday_cpu_utilisation_ratio".into(), labels, samples });
    let r = judge(s.rules(), &d);
    let t = &r.triggers[0];
    assert_eq!(t.first_firing_s, Some(8520.0));
    assert_eq!(t.pending, vec![span(7620.0, Some(8520.0))]);
    assert_eq!((t.pass, t.expectation.as_deref()), (Some(true), Some("fires within [2h, 3h]")));
    assert_eq!(r.triggers[1].pass, Some(false));
    assert!(r.triggers[1].reason.as_deref().unwrap_or("").contains("2h 22m"), "{:?}", r.triggers[1].reason);
    assert_eq!(r.alerts[0].pass, Some(true));
    // No queue series at all: informational and visibly without data.
    assert_eq!((r.alerts[1].pass, r.alerts[1].observed_text.as_str()), (None, "no data"));
    let f = r.failures();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        f[0],
        "trigger `too-early` failed: expected it fires within [0s, 1h], but first fired at 2h 22m, outside [0s, 1h]"
    );
}

#[test]
fn a_day_of_one_second_steps_with_an_hour_window() {
    // 86400 evaluations of 1 h windows (3600 intervals each) over sparse data (a request
    // every 20 s; dense per-interval histograms would take gigabytes) and a 1 s gauge:
    // each step adds and removes one interval, so this stays quick.
    let s = scenario(
        "1d",
        "[[slo]]\nname = \"p99\"\nobjective = \"p99 < 1s\"\nwindow = \"1h\"\n\
         [[alert]]\nname = \"cpu\"\nexpr = \"avg(cpu)[1h] > 60%\"\nfor = \"10m\"\n\
         [[alert]]\nname = \"errors\"\nexpr = \"error_ratio[1h] > 50%\"\n",
    );
    let mut d = run(86_400, 1.0, |i| {
        if i % 20 != 0 {
            return vec![];
        }
        let slow = (50_000..52_000).contains(&i);
        vec![(
            if slow { 1_500 } else { 200 + i % 1500 },
            if i % 400 == 200 { Outcome::Timeout } else { Outcome::Ok },
            1,
        )]
    });
    let samples = (0..86_400).map(|i| (i as f64, if (40_000..50_000).contains(&i) { 0.9 } else { 0.2 })).collect();
    d.series.push(Series { name: "gameday_cpu_utilisation_ratio".into(), samples, ..Default::default() });
    let r = judge(s.rules(), &d);
    assert_eq!(r.evaluations, 86_401);
    assert!(r.slos[0].window.as_ref().is_some_and(|w| w.pass && w.windows == 86_400 - 3600 + 1));
    // avg over (t-3600, t] = 0.2 + 0.7 n / 3600 with n samples at 0.9 passes 0.6 at
    // n = 2058 (t = 42057); it fires 10 minutes later.
    assert_eq!(r.alerts[0].pending, vec![span(42_057.0, Some(42_657.0))]);
    assert_eq!(r.alerts[0].first_firing_s, Some(42_657.0));
    // Alerts see partial windows at the start, as Prometheus does: the worst error ratio
    // is at t = 201 s, one timeout (at 200 s) in the 11 requests sent by then.
    assert_eq!(r.alerts[1].first_firing_s, None);
    assert!(r.alerts[1].observed.is_some_and(|x| (x - 1.0 / 11.0).abs() < 1e-12), "{:?}", r.alerts[1].observed);
}
