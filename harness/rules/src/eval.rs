//! Evaluating expressions over a run: the evaluation grid and one value per series per step.
//!
//! Rules are evaluated at `t = 0, s, 2s, ...` simulated seconds, `s` the evaluation step
//! (the scenario's `evaluation_interval`, default the recording interval, rounded to a
//! whole number of recording intervals), up to the end of the run. A client-side window
//! `[W]` at `t` covers the recording intervals inside `[t - W, t)`, `W` rounded up to
//! whole intervals; `[..]` covers `[0, t)`. Client expressions give one series; scraped
//! ones give one per matching scraped series (labels kept), like a Prometheus vector.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::client::{ClientData, Slide};
use super::expr::{Aggregation, Expr, LatencyStat, Matcher, RangeFn, RatioMetric, Selector, Window};
use super::range;
use gameday_core::outcome::Outcome;
use gameday_core::series::RunData;

/// Tolerance when turning float times into interval counts.
const EPS: f64 = 1e-9;

/// Prometheus's default `--query.lookback-delta`: 5 minutes (simulated seconds here).
pub const DEFAULT_LOOKBACK_S: f64 = 300.0;

/// When rules are evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// Recording interval, simulated seconds.
    pub step_s: f64,
    /// Evaluation step, simulated seconds (a whole number of recording intervals).
    pub eval_step_s: f64,
    /// Recording intervals per evaluation step.
    pub per_eval: usize,
    /// Recording intervals in the run.
    pub slots: usize,
    /// Evaluation times, simulated seconds.
    pub times: Vec<f64>,
}

impl Grid {
    /// The grid for a run; `eval_step_s` defaults to the recording interval.
    pub fn new(data: &RunData, eval_step_s: Option<f64>) -> Self {
        let step_s = if data.step_s > 0.0 { data.step_s } else { 1.0 };
        let recorded = data.intervals.keys().next_back().map_or(0, |k| k + 1) as usize;
        let planned = (data.duration_s / step_s - EPS).ceil().max(0.0) as usize;
        let slots = recorded.max(planned);
        let per_eval = eval_step_s.map_or(1, |e| ((e / step_s).round() as usize).max(1));
        let evals = slots / per_eval;
        let times = (0..=evals).map(|k| (k * per_eval) as f64 * step_s).collect();
        Self { step_s, eval_step_s: per_eval as f64 * step_s, per_eval, slots, times }
    }

    /// Recording intervals a window covers (at least one).
    pub fn window_slots(&self, w: f64) -> usize {
        ((w / self.step_s - EPS).ceil() as usize).max(1)
    }

    /// The interval range `[lo, hi)` of a window at evaluation `k`.
    pub fn bounds(&self, k: usize, window: Window) -> (usize, usize) {
        let hi = (k * self.per_eval).min(self.slots);
        match window {
            Window::All => (0, hi),
            Window::Last(w) => (hi.saturating_sub(self.window_slots(w)), hi),
        }
    }
}

/// One series of values, one per evaluation time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Track {
    /// Labels of the scraped series (empty for client-side expressions).
    pub labels: BTreeMap<String, String>,
    /// Value at each evaluation time; `None` = no data.
    pub values: Vec<Option<f64>>,
}

/// Evaluates expressions over one run, caching client data per request selection.
#[derive(Debug)]
pub struct Evaluator<'a> {
    /// The run.
    pub data: &'a RunData,
    /// The evaluation grid.
    pub grid: Grid,
    /// How far back an instant lookup may find a sample, simulated seconds.
    pub lookback_s: f64,
    cache: RefCell<HashMap<Vec<bool>, Rc<ClientData>>>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator over `data` with the given evaluation step and Prometheus's default
    /// lookback ([`DEFAULT_LOOKBACK_S`]).
    pub fn new(data: &'a RunData, eval_step_s: Option<f64>) -> Self {
        let grid = Grid::new(data, eval_step_s);
        Self { data, grid, lookback_s: DEFAULT_LOOKBACK_S, cache: RefCell::default() }
    }

    /// The same evaluator with an instant lookup reaching back `lookback_s` (> 0).
    pub fn with_lookback(mut self, lookback_s: f64) -> Self {
        self.lookback_s = lookback_s;
        self
    }

    /// The client data of the request kinds `pick` selects.
    pub fn client(&self, pick: &[bool]) -> Rc<ClientData> {
        let mut cache = self.cache.borrow_mut();
        let entry =
            cache.entry(pick.to_vec()).or_insert_with(|| Rc::new(ClientData::build(self.data, pick, self.grid.slots)));
        Rc::clone(entry)
    }

    /// Which request kinds `request` matchers select.
    pub fn pick_requests(&self, matchers: &[Matcher]) -> Vec<bool> {
        self.data
            .requests
            .iter()
            .map(|name| matchers.iter().filter(|m| m.label == "request").all(|m| m.matches(Some(name))))
            .collect()
    }

    /// The expression's series.
    pub fn eval(&self, expr: &Expr) -> Vec<Track> {
        match expr {
            Expr::Latency { matchers, window, .. }
            | Expr::Ratio { matchers, window, .. }
            | Expr::Count { matchers, window, .. } => {
                let data = self.client(&self.pick_requests(matchers));
                vec![Track { labels: BTreeMap::new(), values: self.client_values(expr, &data, *window) }]
            }
            Expr::Instant(sel) => self
                .scraped(sel)
                .map(|(labels, s)| Track { labels, values: range::latest(s, &self.grid.times, self.lookback_s) })
                .collect(),
            Expr::Range { func, sel, window } => self.ranged(*func, sel, *window),
            Expr::Aggregate { func, inner } => {
                let tracks = self.eval(inner);
                let values = (0..self.grid.times.len()).map(|k| aggregate(*func, &tracks, k)).collect();
                vec![Track { labels: BTreeMap::new(), values }]
            }
            Expr::Absent { inner, labels } => {
                let tracks = self.eval(inner);
                vec![Track { labels: labels.clone(), values: absent(&tracks, self.grid.times.len()) }]
            }
            Expr::AbsentOverTime { sel, window } => {
                let tracks = self.ranged(RangeFn::Max, sel, *window);
                let labels = sel.matchers.iter().filter(|m| !m.negate);
                let labels = labels.map(|m| (m.label.clone(), m.value.clone())).collect();
                vec![Track { labels, values: absent(&tracks, self.grid.times.len()) }]
            }
            Expr::Over { func, inner, window } => self
                .eval(inner)
                .into_iter()
                .map(|t| {
                    let samples: Vec<(f64, f64)> =
                        self.grid.times.iter().zip(&t.values).filter_map(|(x, v)| v.map(|v| (*x, v))).collect();
                    Track { labels: t.labels, values: range::over(*func, &samples, &self.grid.times, *window) }
                })
                .collect(),
        }
    }

    /// `func` over each matching series' samples in the window (staleness markers skipped).
    fn ranged(&self, func: RangeFn, sel: &Selector, window: Window) -> Vec<Track> {
        self.scraped(sel)
            .map(|(labels, s)| {
                let values = range::over(func, &range::without_stale(s), &self.grid.times, window);
                Track { labels, values }
            })
            .collect()
    }

    fn scraped<'s>(&'s self, sel: &'s Selector) -> impl Iterator<Item = (BTreeMap<String, String>, &'s [(f64, f64)])> {
        self.data
            .series
            .iter()
            .filter(move |s| {
                s.name == sel.name && sel.matchers.iter().all(|m| m.matches(s.labels.get(&m.label).map(String::as_str)))
            })
            .map(|s| (s.labels.clone(), s.samples.as_slice()))
    }

    fn client_values(&self, expr: &Expr, data: &ClientData, window: Window) -> Vec<Option<f64>> {
        let mut slide = Slide::new(data);
        (0..self.grid.times.len())
            .map(|k| {
                let (lo, hi) = self.grid.bounds(k, window);
                slide.set(lo, hi);
                client_value(expr, &slide, (hi - lo) as f64 * self.grid.step_s)
            })
            .collect()
    }
}

/// One aggregation across the tracks' values at evaluation `k`; none with a value: none.
fn aggregate(func: Aggregation, tracks: &[Track], k: usize) -> Option<f64> {
    let values = tracks.iter().filter_map(|t| t.values.get(k).copied().flatten());
    let (n, sum, min, max) = values.fold((0usize, 0.0, f64::INFINITY, f64::NEG_INFINITY), |(n, s, lo, hi), v| {
        (n + 1, s + v, lo.min(v), hi.max(v))
    });
    (n > 0).then(|| match func {
        Aggregation::Sum => sum,
        Aggregation::Count => n as f64,
        Aggregation::Avg => sum / n as f64,
        Aggregation::Min => min,
        Aggregation::Max => max,
    })
}

/// PromQL `absent`: 1 at each evaluation where no track has a value, else no value.
fn absent(tracks: &[Track], evaluations: usize) -> Vec<Option<f64>> {
    (0..evaluations)
        .map(|k| tracks.iter().all(|t| t.values.get(k).is_none_or(Option::is_none)).then_some(1.0))
        .collect()
}

/// Which outcomes `kind` matchers select; `errors_only` drops `ok`.
pub fn pick_outcomes(matchers: &[Matcher], errors_only: bool) -> [bool; Outcome::COUNT] {
    let mut out = [false; Outcome::COUNT];
    for (slot, o) in out.iter_mut().zip(Outcome::ALL) {
        *slot = !(errors_only && o == gameday_core::outcome::Outcome::Ok)
            && matchers.iter().filter(|m| m.label == "kind").all(|m| m.matches(Some(o.as_str())));
    }
    out
}

/// A client-side expression's value over the window `slide` holds (`len_s` long).
pub fn client_value(expr: &Expr, slide: &Slide<'_>, len_s: f64) -> Option<f64> {
    let us = |v: u64| v as f64 / 1e6;
    match expr {
        Expr::Latency { stat, .. } => match stat {
            LatencyStat::Percentile(p) => slide.quantile_us(p / 100.0).map(us),
            LatencyStat::Max => slide.quantile_us(1.0).map(us),
            LatencyStat::Min => slide.min_us().map(us),
            LatencyStat::Mean => slide.mean_us().map(|m| m / 1e6),
        },
        Expr::Ratio { metric, matchers, .. } => {
            let total = slide.total();
            let part = match metric {
                RatioMetric::ErrorRatio => slide.count(&pick_outcomes(matchers, true)),
                RatioMetric::Availability => {
                    slide.count(&pick_outcomes(&[], false)) - slide.count(&pick_outcomes(&[], true))
                }
            };
            (total > 0).then(|| part as f64 / total as f64)
        }
        Expr::Count { func, errors_only, matchers, .. } => {
            let n = slide.count(&pick_outcomes(matchers, *errors_only)) as f64;
            match func {
                RangeFn::Rate => (len_s > 0.0).then(|| n / len_s),
                _ => Some(n),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gameday_core::outcome::{KindStats, Outcome};
    use gameday_core::series::Series;

    fn run_with(per_interval: &[(u64, u64)]) -> RunData {
        // (ok, timeouts) per 1 s interval, one request kind `a`; ok at 10 ms, timeouts at 1 s.
        let mut d = RunData {
            step_s: 1.0,
            duration_s: per_interval.len() as f64,
            requests: vec!["a".into()],
            ..Default::default()
        };
        for (i, &(ok, to)) in per_interval.iter().enumerate() {
            let mut k = KindStats::default();
            (0..ok).for_each(|_| k.record(10_000, Outcome::Ok, None));
            (0..to).for_each(|_| k.record(1_000_000, Outcome::Timeout, None));
            d.intervals.insert(i as u64, vec![k]);
        }
        d
    }

    fn values(ev: &Evaluator<'_>, rule: &str) -> Vec<Option<f64>> {
        let r: super::super::expr::Rule = rule.parse().unwrap();
        ev.eval(&r.expr).remove(0).values
    }

    #[test]
    fn client_windows_cover_the_intervals_before_t() {
        let d = run_with(&[(9, 1), (10, 0), (5, 5), (10, 0)]);
        let ev = Evaluator::new(&d, None);
        assert_eq!(ev.grid.times, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        // error_ratio[2s] at t: intervals [t-2, t). t=3: intervals 1, 2 = 5/20.
        assert_eq!(values(&ev, "error_ratio[2s] > 0"), vec![None, Some(0.1), Some(0.05), Some(0.25), Some(0.25)]);
        // The whole run so far at t=4: 6 errors of 40.
        assert_eq!(values(&ev, "availability[..] < 1")[4], Some(34.0 / 40.0));
        // rate over a window as long as the data: t=1 -> 10 requests in 1 s; t=4 (3s) -> 30/3.
        assert_eq!(values(&ev, "rate(requests)[3s] > 0")[1], Some(10.0));
        assert_eq!(values(&ev, "rate(requests)[3s] > 0")[4], Some(10.0));
        assert_eq!(values(&ev, "increase(errors{kind=\"timeout\"})[..] > 0")[4], Some(6.0));
        assert_eq!(values(&ev, "increase(errors{kind=\"http_5xx\"})[..] > 0")[4], Some(0.0));
        // p50 over interval 2 alone (5 at 10 ms, 5 at 1 s): the 5th value, 10 ms (its bucket's top).
        let p50 = values(&ev, "p50(latency)[1s] > 0")[3].unwrap();
        assert!((p50 - 0.010).abs() < 0.00001, "{p50}");
        let p60 = values(&ev, "p60(latency)[1s] > 0")[3].unwrap();
        assert!((p60 - 1.0).abs() < 0.001, "{p60}");
    }

    #[test]
    fn evaluation_step_is_a_whole_number_of_intervals() {
        let d = run_with(&[(1, 0); 10]);
        let ev = Evaluator::new(&d, Some(2.6));
        assert_eq!(ev.grid.eval_step_s, 3.0);
        assert_eq!(ev.grid.times, vec![0.0, 3.0, 6.0, 9.0]);
    }

    #[test]
    fn scraped_series_give_one_track_each() {
        let mut d = run_with(&[(1, 0); 4]);
        for pool in ["a", "b"] {
            let labels = [("pool".to_owned(), pool.to_owned())].into();
            let samples = (0..5).map(|i| (i as f64, if pool == "a" { i as f64 } else { 10.0 })).collect();
            d.series.push(Series { name: "gameday_queue_depth".into(), labels, samples });
        }
        let ev = Evaluator::new(&d, None);
        let r: super::super::expr::Rule = "max(queue_depth)[2s] > 1".parse().unwrap();
        let tracks = ev.eval(&r.expr);
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[0].values, vec![Some(0.0), Some(1.0), Some(2.0), Some(3.0), Some(4.0)]);
        let r: super::super::expr::Rule = r#"queue_depth{pool!="a"} > 1"#.parse().unwrap();
        let tracks = ev.eval(&r.expr);
        assert_eq!(tracks.len(), 1);
        assert_eq!(tracks[0].labels["pool"], "b");
        // A subquery: the max over 2 s of `avg(queue_depth)[2s]` of pool a (values 0, .5, 1.5, 2.5, 3.5).
        let r: super::super::expr::Rule = r#"max(avg(queue_depth{pool="a"})[2s])[2s] > 1"#.parse().unwrap();
        assert_eq!(ev.eval(&r.expr)[0].values, vec![Some(0.0), Some(0.5), Some(1.5), Some(2.5), Some(3.5)]);
    }

    /// A target scraped every second, answering at 0-2 s and 6 s, dead at 3-5 s: `up`
    /// as the scraper records it, and a health gauge that goes stale at 3 s.
    fn dead_between_3_and_5() -> RunData {
        use gameday_core::series::STALE_NAN;
        let mut d = run_with(&[(1, 0); 7]);
        let labels: BTreeMap<String, String> = [("service".to_owned(), "midnight".to_owned())].into();
        let up = (0..7).map(|i| (i as f64, if (3..6).contains(&i) { 0.0 } else { 1.0 })).collect();
        let health = vec![(0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (3.0, STALE_NAN), (6.0, 1.0)];
        d.series.push(Series { name: "up".into(), labels: labels.clone(), samples: up });
        d.series.push(Series { name: "health".into(), labels, samples: health });
        d.series.sort_by(|a, b| a.name.cmp(&b.name));
        d
    }

    #[test]
    fn a_stale_series_has_no_value_and_absent_sees_it() {
        let d = dead_between_3_and_5();
        let ev = Evaluator::new(&d, None);
        // The last value before the gap does not live on (the 5m lookback is not reached).
        let health = values(&ev, "health < 1");
        assert_eq!(health, [Some(1.0), Some(1.0), Some(1.0), None, None, None, Some(1.0), Some(1.0)]);
        assert_eq!(values(&ev, "up < 1")[3..6], [Some(0.0); 3]);
        let t = ev.eval(&r#"absent(health{service="midnight"}) > 0"#.parse::<super::super::expr::Rule>().unwrap().expr);
        assert_eq!(t[0].labels["service"], "midnight", "absent() carries the selector's = labels");
        assert_eq!(t[0].values[2..7], [None, Some(1.0), Some(1.0), Some(1.0), None]);
        // absent_over_time over 2 s: no sample in (t-2, t] only at t = 5.
        let got = values(&ev, "absent_over_time(health[2s]) > 0");
        assert_eq!(got[3..7], [None, Some(1.0), Some(1.0), None]);
        // Across series: with `up` alone, sum = count of answering targets.
        assert_eq!(values(&ev, "sum(up) < 1")[2..5], [Some(1.0), Some(0.0), Some(0.0)]);
        assert_eq!(values(&ev, "count(health) < 1")[2..5], [Some(1.0), None, None]);
        // A metric no target has is absent everywhere.
        assert!(values(&ev, "absent(nothing_here) > 0").iter().all(|v| *v == Some(1.0)));
        // The lookback bounds a lookup too: with 0.5 s, the sample at 6 s is gone at 7 s.
        let ev = Evaluator::new(&d, None).with_lookback(0.5);
        assert_eq!(values(&ev, "health < 1")[6..], [Some(1.0), None]);
    }

    #[test]
    fn a_for_whose_expression_has_no_result_resets() {
        use crate::state::{run, Hold};
        let d = dead_between_3_and_5();
        let ev = Evaluator::new(&d, None);
        // `health < 2` is true while there is data; the gap (no result) resets `for` 2s.
        let v = values(&ev, "health < 2");
        let tl = run(&ev.grid.times, &v, |x| x < 2.0, Hold { for_s: 2.0, keep_firing_for_s: 0.0 });
        assert_eq!(tl.firing.len(), 1, "{tl:?}");
        assert_eq!((tl.firing[0].start_s, tl.firing[0].end_s), (2.0, Some(3.0)));
        assert!(!tl.firing_at(6.0), "pending again from 6, not firing");
        // The same dead target on `up`: fires after 2 s of 0 and stays firing while it is down.
        let v = values(&ev, "up < 1");
        let tl = run(&ev.grid.times, &v, |x| x < 1.0, Hold { for_s: 2.0, keep_firing_for_s: 0.0 });
        assert_eq!((tl.firing[0].start_s, tl.firing[0].end_s), (5.0, Some(6.0)));
    }
}
