//! The run's data while it runs: what drills read to check steady state, to evaluate a
//! detection rule and to watch the error budget burn, before the load has finished.
//!
//! A [`Tap`] is handed to the load's collector (every merged batch goes into it too) and
//! to the scraper (every kept sample too). [`Tap::snapshot`] gives a [`RunData`] of what
//! has arrived so far, the same type the rules judge a finished run with, so a rule
//! evaluated live and after the run reads the same numbers. A user's interval reaches
//! the collector when that user records into the next one, so the newest interval may
//! still be filling: callers read complete intervals only (see [`Tap::snapshot`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{RunData, Scraped, Series};
use crate::load::{KindStats, Recording};

type Key = (String, BTreeMap<String, String>);

#[derive(Debug, Default)]
struct Inner {
    intervals: BTreeMap<u64, Vec<KindStats>>,
    series: BTreeMap<Key, Vec<(f64, f64)>>,
}

/// Shared, cheap to clone: every clone sees the same data.
#[derive(Clone, Debug, Default)]
pub struct Tap {
    inner: Arc<Mutex<Inner>>,
}

impl Tap {
    /// An empty tap.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds one user's finished interval (the collector calls this for every batch).
    pub fn merge_batch(&self, interval: u64, kinds: &[KindStats]) {
        let mut inner = self.lock();
        let slot = inner.intervals.entry(interval).or_insert_with(|| vec![KindStats::default(); kinds.len()]);
        for (s, k) in slot.iter_mut().zip(kinds) {
            s.merge(k);
        }
    }

    /// Adds one scraped sample (the scraper calls this for every kept sample).
    pub fn push_sample(&self, name: &str, labels: &BTreeMap<String, String>, t: f64, value: f64) {
        let mut inner = self.lock();
        let points = inner.series.entry((name.to_owned(), labels.clone())).or_default();
        if points.last().is_none_or(|&(last, _)| last < t) {
            points.push((t, value));
        }
    }

    /// Per request kind, the stats merged over the intervals `lo..hi`.
    pub fn stats(&self, lo: u64, hi: u64, kinds: usize) -> Vec<KindStats> {
        let inner = self.lock();
        let mut out = vec![KindStats::default(); kinds];
        for (_, slot) in inner.intervals.range(lo..hi) {
            for (o, k) in out.iter_mut().zip(slot) {
                o.merge(k);
            }
        }
        out
    }

    /// What has arrived so far as a run of `upto_s` simulated seconds (intervals of
    /// `step_s`): intervals from `upto_s` on are left out, so pass the end of the last
    /// complete interval.
    pub fn snapshot(&self, step_s: f64, upto_s: f64, requests: Vec<String>) -> RunData {
        let inner = self.lock();
        let slots = if step_s > 0.0 { (upto_s / step_s + 1e-9).floor().max(0.0) as u64 } else { 0 };
        let intervals = inner.intervals.range(..slots).map(|(k, v)| (*k, v.clone())).collect();
        let series = inner
            .series
            .iter()
            .map(|((name, labels), samples)| {
                let kept = samples.iter().copied().filter(|&(t, _)| t <= upto_s).collect();
                Series { name: name.clone(), labels: labels.clone(), samples: kept }
            })
            .collect();
        RunData::new(step_s, upto_s, requests, intervals, series, Vec::new())
    }

    /// Everything recorded so far as a [`Recording`] (for a run cut short).
    pub fn recording(&self, kinds: usize) -> Recording {
        let inner = self.lock();
        let mut total = vec![KindStats::default(); kinds];
        for slot in inner.intervals.values() {
            for (t, k) in total.iter_mut().zip(slot) {
                t.merge(k);
            }
        }
        let intervals = inner.intervals.iter().map(|(k, v)| (*k, v.clone())).collect();
        Recording { total, intervals, ..Recording::default() }
    }

    /// Everything scraped so far.
    pub fn scraped(&self) -> Scraped {
        let inner = self.lock();
        let series = inner
            .series
            .iter()
            .map(|((name, labels), samples)| Series {
                name: name.clone(),
                labels: labels.clone(),
                samples: samples.clone(),
            })
            .collect();
        Scraped { series, ..Scraped::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Outcome;

    fn kind(ms: &[u64], outcome: Outcome) -> KindStats {
        let mut k = KindStats::default();
        ms.iter().for_each(|m| k.record(m * 1000, outcome, None));
        k
    }

    #[test]
    fn batches_merge_per_interval_and_snapshots_leave_out_the_filling_interval() {
        let tap = Tap::new();
        tap.merge_batch(0, &[kind(&[10, 20], Outcome::Ok)]);
        tap.merge_batch(0, &[kind(&[30], Outcome::Status5xx)]);
        tap.merge_batch(1, &[kind(&[40], Outcome::Ok)]);
        tap.merge_batch(2, &[kind(&[50], Outcome::Ok)]);
        let s = tap.stats(0, 2, 1);
        assert_eq!((s[0].total(), s[0].errors()), (4, 1));
        // At 2.5 s with 1 s intervals, interval 2 is still filling.
        let data = tap.snapshot(1.0, 2.5, vec!["a".into()]);
        assert_eq!(data.intervals.keys().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(tap.recording(1).total[0].total(), 5);
    }

    #[test]
    fn samples_keep_time_order_and_snapshots_cut_at_the_time() {
        let tap = Tap::new();
        let labels = BTreeMap::from([("service".to_owned(), "pxl".to_owned())]);
        tap.push_sample("up", &labels, 1.0, 1.0);
        tap.push_sample("up", &labels, 1.0, 5.0);
        tap.push_sample("up", &labels, 2.0, 0.0);
        let data = tap.snapshot(1.0, 1.5, vec![]);
        assert_eq!(data.select("up", &[("service", "pxl")])[0].samples, [(1.0, 1.0)]);
        assert_eq!(tap.scraped().series[0].samples.len(), 2);
    }
}
