//! A run's observed data as rules read it: scraped [`Series`] on the run's simulated
//! clock, the client-side [`Intervals`], and what could not be observed ([`RunData`]).
//!
//! Missing data follows Prometheus: a series that a scrape did not return gets a
//! staleness marker ([`STALE_NAN`]) at that scrape's time; an instant lookup never looks
//! past a marker, and never further back than its lookback. A metric that could not be
//! observed is a line in [`RunData::problems`], never a series of zeros.

use std::collections::BTreeMap;

use crate::intervals::Intervals;

/// The value of a staleness marker: Prometheus's own NaN bit pattern
/// (`value.StaleNaN`, `0x7ff0000000000002`), distinct from a NaN a target exposes.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether a sample value is a staleness marker (not merely a NaN).
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Names of the series every scrape adds for its target, as Prometheus does.
pub const SCRAPE_SERIES: [&str; 2] = ["up", "scrape_duration_seconds"];

/// One scraped metric with one label set, sampled over the run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Metric name as exposed (`gameday_queue_depth`).
    pub name: String,
    /// Labels, including `service` and `instance` added by the scraper.
    pub labels: BTreeMap<String, String>,
    /// `(simulated seconds since the run's start, value)`, in time order; a value may be
    /// a staleness marker ([`is_stale`]): the series ended there.
    pub samples: Vec<(f64, f64)>,
}

impl Series {
    /// The samples with `t0 < t <= t1`: a Prometheus range selector ending at `t1`
    /// (left-open, right-closed), staleness markers included. Binary search; `samples`
    /// must be in time order.
    pub fn window(&self, t0: f64, t1: f64) -> &[(f64, f64)] {
        let start = self.samples.partition_point(|&(t, _)| t <= t0);
        let end = self.samples.partition_point(|&(t, _)| t <= t1).max(start);
        &self.samples[start..end]
    }

    /// The last sample at or before `t` that is at most `lookback_s` old and is not a
    /// staleness marker: a Prometheus instant lookup.
    pub fn at(&self, t: f64, lookback_s: f64) -> Option<(f64, f64)> {
        let end = self.samples.partition_point(|&(s, _)| s <= t);
        let (ts, v) = self.samples[..end].last().copied()?;
        (!is_stale(v) && t - ts <= lookback_s).then_some((ts, v))
    }

    /// Whether every label in `matchers` has the given value; an empty value matches an
    /// absent label, as in PromQL.
    pub fn matches(&self, matchers: &[(&str, &str)]) -> bool {
        matchers.iter().all(|(k, v)| self.labels.get(*k).map_or("", String::as_str) == *v)
    }
}

/// Everything rules can read about a run.
#[derive(Clone, Debug, Default)]
pub struct RunData {
    /// Length of one recording interval, simulated seconds.
    pub step_s: f64,
    /// Length of the run, simulated seconds.
    pub duration_s: f64,
    /// Request kind names, by index in the mix.
    pub requests: Vec<String>,
    /// Client-side stats per interval (interval `i` covers `[i*step_s, (i+1)*step_s)`).
    pub intervals: Intervals,
    /// Scraped series, ordered by name, then labels.
    pub series: Vec<Series>,
    /// What could not be observed (a target without `/metrics`, a metric it lacks).
    pub problems: Vec<String>,
}

impl RunData {
    /// A run's data from the recording's intervals, the scraped series (any order) and
    /// what could not be observed.
    pub fn new(
        step_s: f64,
        duration_s: f64,
        requests: Vec<String>,
        intervals: Intervals,
        mut series: Vec<Series>,
        problems: Vec<String>,
    ) -> Self {
        series.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        Self { step_s, duration_s, requests, intervals, series, problems }
    }

    /// The series named `name` whose labels equal every `(label, value)` in `matchers`
    /// (an empty value matches an absent label). No match is an empty list, never a zero.
    pub fn select(&self, name: &str, matchers: &[(&str, &str)]) -> Vec<&Series> {
        self.select_by(name, |s| s.matches(matchers))
    }

    /// The series named `name` that `keep` accepts (for `!=` and regex matchers).
    pub fn select_by(&self, name: &str, keep: impl Fn(&Series) -> bool) -> Vec<&Series> {
        let start = self.series.partition_point(|s| s.name.as_str() < name);
        self.series[start..].iter().take_while(|s| s.name == name).filter(|s| keep(s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, labels: &[(&str, &str)], samples: &[(f64, f64)]) -> Series {
        Series {
            name: name.into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            samples: samples.to_vec(),
        }
    }

    #[test]
    fn window_is_left_open_and_right_closed() {
        let s = series("q", &[], &[(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]);
        assert_eq!(s.window(1.0, 3.0), &[(2.0, 3.0), (3.0, 4.0)]);
        assert_eq!(s.window(-1.0, 0.0), &[(0.0, 1.0)]);
        assert_eq!(s.window(0.5, 0.9), &[] as &[(f64, f64)]);
        assert_eq!(s.window(3.0, 10.0), &[] as &[(f64, f64)]);
        assert_eq!(s.window(5.0, 1.0), &[] as &[(f64, f64)], "an empty range, not a panic");
        assert_eq!(s.at(2.5, 300.0), Some((2.0, 3.0)));
        assert_eq!(s.at(2.5, 0.4), None, "older than the lookback");
        assert_eq!(s.at(-0.1, 300.0), None);
    }

    #[test]
    fn an_instant_lookup_never_looks_past_a_staleness_marker() {
        let s = series("up", &[], &[(0.0, 1.0), (1.0, STALE_NAN), (2.0, 1.0)]);
        assert_eq!(s.at(0.5, 300.0), Some((0.0, 1.0)));
        assert_eq!(s.at(1.5, 300.0), None);
        assert_eq!(s.at(2.0, 300.0), Some((2.0, 1.0)));
        assert!(is_stale(STALE_NAN) && !is_stale(f64::NAN) && !is_stale(1.0));
    }

    #[test]
    fn select_matches_labels_and_absent_labels() {
        let series = vec![
            series("b", &[("pool", "proof")], &[]),
            series("a", &[("service", "midnight")], &[]),
            series("b", &[("pool", "proof"), ("service", "pxl")], &[]),
            series("b", &[("pool", "ingest")], &[]),
        ];
        let data = RunData::new(1.0, 10.0, vec![], Intervals::new(), series, vec![]);
        assert_eq!(data.series[0].name, "a", "sorted by name");
        assert_eq!(data.select("b", &[("pool", "proof")]).len(), 2);
        assert_eq!(data.select("b", &[("pool", "proof"), ("service", "")]).len(), 1);
        assert_eq!(data.select("b", &[]).len(), 3);
        assert!(data.select("c", &[]).is_empty());
        assert_eq!(data.select_by("b", |s| s.labels.get("pool").is_some_and(|p| p != "proof")).len(), 1);
    }
}
