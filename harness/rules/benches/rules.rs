//! Evaluating rules over a day of 1 s steps: the run a `gameday run` of one simulated
//! day with 1 s recording intervals hands the rules engine (86 400 client intervals of
//! about five requests each, plus scraped `gameday_queue_depth` and CPU series every
//! 15 s). Each bench builds a fresh `Evaluator`, so the per-selection client data (the
//! cumulative histograms behind sliding windows) is built inside the timed loop, as in
//! a real run. Throughput is in evaluation steps (86 401 per rule).
//!
//! - `rules/<name>`: one expression evaluated at every step;
//! - `rules/judge_day`: `rules::judge` over a scenario with three SLOs (objective,
//!   rolling window, error budget and the four burn-rate alerts) and two alerts with `for`.
//!
//! Target: a day's rules in well under a second, so judging is never a noticeable part
//! of a run (no figure in the issue; reported).

#![allow(missing_docs)] // the group macros generate undocumented public functions

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gameday_core::intervals::Intervals;
use gameday_core::outcome::{KindStats, Outcome};
use gameday_core::series::{RunData, Series};
use gameday_rules::{judge, AlertRule, Evaluator, Rule, RuleSet, Slo};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, LogNormal};

const DAY_S: u64 = 86_400;

/// `n` latencies in microseconds, log-normal with median 20 ms and p99 near 200 ms,
/// seeded (the same stream as `gameday_benches::latencies_us`).
fn latencies_us(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let dist = LogNormal::new(20_000f64.ln(), 1.0).ok();
    (0..n).map(|_| dist.map_or(20_000, |d| d.sample(&mut rng).clamp(50.0, 60e6) as u64)).collect()
}
const PER_SECOND: usize = 5;
const SCRAPE_EVERY_S: u64 = 15;

/// One day at 1 s intervals of request kind `a`, one request in 200 a 5xx, with scraped
/// queue depth (a slow wave, 0..80) and CPU (0.3..0.9) every 15 s.
fn day() -> RunData {
    let lat = latencies_us(DAY_S as usize * PER_SECOND, 7);
    let mut intervals = Intervals::new();
    for i in 0..DAY_S {
        let mut k = KindStats::default();
        for j in 0..PER_SECOND {
            let n = i as usize * PER_SECOND + j;
            let outcome = if n % 200 == 199 { Outcome::Status5xx } else { Outcome::Ok };
            k.record(lat[n], outcome, None);
        }
        intervals.insert(i, vec![k]);
    }
    let wave = |t: f64| 0.5 * (1.0 + (t * std::f64::consts::TAU / 7200.0).sin());
    let labels = |pool: &str| {
        BTreeMap::from([
            ("pool".to_owned(), pool.to_owned()),
            ("service".to_owned(), "midnight".to_owned()),
            ("instance".to_owned(), "127.0.0.1:6300".to_owned()),
        ])
    };
    let times = (0..=DAY_S / SCRAPE_EVERY_S).map(|k| (k * SCRAPE_EVERY_S) as f64);
    let series = vec![
        Series {
            name: "gameday_cpu_utilisation_ratio".into(),
            labels: labels("proof"),
            samples: times.clone().map(|t| (t, 0.3 + 0.6 * wave(t))).collect(),
        },
        Series {
            name: "gameday_queue_depth".into(),
            labels: labels("proof"),
            samples: times.map(|t| (t, (80.0 * wave(t)).round())).collect(),
        },
    ];
    RunData {
        step_s: 1.0,
        duration_s: DAY_S as f64,
        requests: vec!["a".into()],
        intervals,
        series,
        problems: Vec::new(),
    }
}

fn rule(text: &str) -> Rule {
    text.parse().unwrap_or_else(|e| panic!("bench rule {text}: {e}"))
}

fn expressions(c: &mut Criterion) {
    let data = day();
    let cases = [
        ("p95_5m", r#"p95(latency{request="a"})[5m] > 45ms"#),
        ("error_ratio_1h", "error_ratio[1h] > 1%"),
        ("max_queue_depth_2m", "max(queue_depth)[2m] > 50"),
        ("avg_cpu_15m", "avg(cpu)[15m] > 70%"),
        ("deriv_p95_5m_over_30m", r#"deriv(p95(latency{request="a"})[5m])[30m] > 10ms/h"#),
    ];
    let mut g = c.benchmark_group("rules");
    g.sample_size(10);
    g.throughput(Throughput::Elements(DAY_S + 1));
    for (name, text) in cases {
        let r = rule(text);
        g.bench_function(name, |b| {
            b.iter(|| {
                let ev = Evaluator::new(black_box(&data), None);
                let tracks = ev.eval(&r.expr);
                tracks.iter().flat_map(|t| &t.values).filter(|v| v.is_some_and(|v| r.holds(v))).count()
            })
        });
    }
    g.finish();
}

/// The rule tables of a scenario loading request kind `a` for a day.
const RULES: &str = r#"
[[slo]]
name = "a p95"
request = "a"
objective = "p95 < 200ms"
[[slo]]
name = "a p99 over 5m windows"
request = "a"
objective = "p99 < 1s"
window = "5m"
[[slo]]
name = "errors"
objective = "error_ratio < 1%"
[[alert]]
name = "QueueDepthHigh"
expr = "queue_depth > 60"
for = "5m"
[[alert]]
name = "CpuHigh"
expr = "avg(cpu)[10m] > 85%"
for = "10m"
"#;

#[derive(serde::Deserialize)]
struct Tables {
    slo: Vec<Slo>,
    alert: Vec<AlertRule>,
}

fn judge_day(c: &mut Criterion) {
    let data = day();
    let t: Tables = toml::from_str(RULES).unwrap_or_else(|e| panic!("{e}"));
    let set =
        RuleSet { slos: &t.slo, alerts: &t.alert, triggers: &[], evaluation_interval: None, lookback_delta: None };
    let mut g = c.benchmark_group("rules");
    g.sample_size(10);
    g.throughput(Throughput::Elements(DAY_S + 1));
    g.bench_function("judge_day", |b| b.iter(|| judge(black_box(set), black_box(&data))));
    g.finish();
}

criterion_group!(benches, expressions, judge_day);
criterion_main!(benches);
