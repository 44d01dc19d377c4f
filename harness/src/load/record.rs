//! HDR latency recording: per-user histograms, no lock on the hot path, one collector.
//!
//! Each goose user owns a [`UserRecorder`] (in its session data) and records into its
//! own `hdrhistogram::Histogram`s: recording is a plain `&mut` call, no lock, no atomic.
//! When a sample falls into a new interval, the user sends its finished interval to the
//! [`Collector`] over a channel, packed (see [`Batch`]), and resets its histograms in
//! place; at the user's end it flushes the rest.
//! The collector merges batches into a per-interval series and a whole-run total per
//! request kind; an interval a few intervals behind the newest is sealed into the
//! compact [`Intervals`] series, so memory stays flat in run length. Latencies are
//! stored in microseconds of simulated time.
//!
//! Errors are counted by kind and kept in the latency data: a timed-out request is
//! recorded at its timeout, so failures never vanish from the percentiles.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use gameday_core::intervals::{Intervals, PackedHistogram, PackedStats};
pub use gameday_core::outcome::{new_histogram, KindStats, Outcome, SIG_FIGS};

/// One user's finished interval, packed: a few hundred bytes instead of a dense
/// histogram's tens of KiB per kind, so a collector that falls behind for a moment
/// holds little, and the users' histograms are reset in place rather than reallocated
/// every interval (256 users at 1 s intervals churned about 15 MB/s of dense
/// histograms, which left the allocator's heap grown in steps after a backlog).
#[derive(Clone, Debug)]
pub struct Batch {
    /// Interval number since the run's start.
    pub interval: u64,
    /// Stats per request kind (index = position in the mix).
    pub kinds: Vec<PackedStats>,
    /// Open model: how late each send was behind its intended time, real microseconds.
    pub lag: PackedHistogram,
}

impl Batch {
    /// Packs one interval's stats and send lag.
    pub fn new(interval: u64, kinds: &[KindStats], lag: &Histogram<u64>) -> Self {
        Self { interval, kinds: kinds.iter().map(PackedStats::pack).collect(), lag: PackedHistogram::pack(lag) }
    }
}

/// One request a user recorded, kept raw until its interval is handed in.
#[derive(Clone, Copy, Debug)]
struct Sample {
    latency_us: u64,
    kind: u32,
    outcome: Outcome,
}

/// Most samples a user keeps before it hands its interval in early (the collector merges
/// several batches of one interval exactly): bounds a busy user's buffer (~100 KiB).
const MAX_USER_SAMPLES: usize = 4096;

/// A user's recorder: its samples of the current interval, raw, flushed per interval.
///
/// Users keep raw samples rather than histograms: a dense HDR histogram grows to cover
/// the largest value it has seen (~90 KiB for a 1 s latency at 3 significant figures)
/// and keeps that size, so after one latency spike a thousand users held ~180 MB of
/// mostly empty histograms. A user records a few samples per interval at most rates;
/// they are packed on flush through one scratch histogram set per thread.
#[derive(Debug)]
pub struct UserRecorder {
    start: Instant,
    interval: Duration,
    current: u64,
    /// The current interval is `[current_start, current_end)`: most samples fall in it,
    /// and two comparisons tell (no division on the hot path).
    current_start: Instant,
    current_end: Instant,
    kinds: usize,
    samples: Vec<Sample>,
    lags_us: Vec<u64>,
    /// The first error message of each kind in this interval (rare: failures only).
    errors: Vec<(u32, String)>,
    tx: UnboundedSender<Batch>,
    /// When the previous sample was recorded: a user that records less often than once an
    /// interval hands each sample in at once (see [`Self::record`]).
    last_at: Instant,
}

/// What a thread packs users' samples with: one histogram set, reused (reset in place).
struct Scratch {
    kinds: Vec<KindStats>,
    lag: Histogram<u64>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

impl UserRecorder {
    /// A recorder for `kinds` request kinds, intervals of `interval` real time from `start`.
    pub fn new(kinds: usize, start: Instant, interval: Duration, tx: UnboundedSender<Batch>) -> Self {
        let interval = interval.max(Duration::from_micros(1));
        Self {
            start,
            interval,
            current: 0,
            current_start: start,
            current_end: start + interval,
            kinds,
            samples: Vec::new(),
            lags_us: Vec::new(),
            errors: Vec::new(),
            tx,
            last_at: start,
        }
    }

    /// Records how late a send was behind its intended time (open model).
    pub fn record_lag(&mut self, lag: Duration) {
        let us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX).max(1);
        self.lags_us.push(us);
    }

    /// Records one request that ended at `at`; the hot path: no lock, and no allocation
    /// once the user's buffer has grown to its usual size.
    ///
    /// A user that records at least once an interval hands its interval in when it moves
    /// to the next one. A sparse user (its previous sample more than an interval ago: an
    /// open model spreads a low rate over many users) hands each sample in at once, so
    /// what drills read live (steady state, detection rules, burn) lags by at most one
    /// interval, however many users share the rate.
    pub fn record(
        &mut self,
        at: Instant,
        kind: usize,
        latency_us: u64,
        outcome: Outcome,
        error: Option<&dyn fmt::Display>,
    ) {
        if at >= self.current_end || at < self.current_start {
            self.rotate(at);
        }
        if kind < self.kinds {
            let kind = kind as u32;
            self.samples.push(Sample { latency_us, kind, outcome });
            if let Some(e) = error.filter(|_| outcome != Outcome::Ok) {
                self.note_error(kind, e);
            }
        }
        let sparse = at.saturating_duration_since(self.last_at) > self.interval;
        self.last_at = at;
        if sparse || self.samples.len() >= MAX_USER_SAMPLES || self.lags_us.len() >= MAX_USER_SAMPLES {
            self.flush();
        }
    }

    #[cold]
    fn note_error(&mut self, kind: u32, e: &dyn fmt::Display) {
        if !self.errors.iter().any(|(k, _)| *k == kind) {
            self.errors.push((kind, e.to_string()));
        }
    }

    /// Moves to the interval holding `at`, sending the finished one.
    #[cold]
    fn rotate(&mut self, at: Instant) {
        let idx = (at.saturating_duration_since(self.start).as_nanos() / self.interval.as_nanos()) as u64;
        self.flush();
        self.current = idx;
        let offset = u32::try_from(idx).map_or(Duration::MAX, |i| self.interval.saturating_mul(i));
        self.current_start = self.start.checked_add(offset).unwrap_or(at);
        self.current_end = self.current_start.checked_add(self.interval).unwrap_or(at);
    }

    /// Sends the current interval to the collector, if it holds anything.
    pub fn flush(&mut self) {
        if self.lags_us.is_empty() && self.samples.is_empty() {
            return;
        }
        let pack = |scratch: &mut Option<Scratch>| {
            let s = scratch.get_or_insert_with(|| Scratch { kinds: Vec::new(), lag: new_histogram() });
            s.kinds.resize_with(self.kinds, KindStats::default);
            self.pack(s)
        };
        // A recorder dropped while its thread ends has no thread-local: a scratch of its own.
        let batch = SCRATCH
            .try_with(|cell| cell.try_borrow_mut().ok().map(|mut c| pack(&mut c)))
            .ok()
            .flatten()
            .unwrap_or_else(|| pack(&mut None));
        self.samples.clear();
        self.lags_us.clear();
        self.errors.clear();
        let _ = self.tx.send(batch);
    }

    /// Records this interval's samples into `s`, packs them, and resets `s`.
    fn pack(&self, s: &mut Scratch) -> Batch {
        for x in &self.samples {
            let err = self.errors.iter().find(|(k, _)| *k == x.kind).map(|(_, e)| e as &dyn fmt::Display);
            if let Some(k) = s.kinds.get_mut(x.kind as usize) {
                k.record(x.latency_us, x.outcome, err);
            }
        }
        for &us in &self.lags_us {
            if s.lag.record(us).is_err() {
                s.lag.saturating_record(us);
            }
        }
        let batch = Batch::new(self.current, &s.kinds[..self.kinds], &s.lag);
        s.kinds.iter_mut().for_each(KindStats::reset);
        s.lag.reset();
        batch
    }
}

impl Drop for UserRecorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The merged recording of a run.
#[derive(Clone, Debug)]
pub struct Recording {
    /// Whole-run stats per request kind.
    pub total: Vec<KindStats>,
    /// Per-interval stats per request kind (compact; decoded on reading).
    pub intervals: Intervals,
    /// Open model: send lag behind the schedule, real microseconds (empty when closed).
    pub lag: Histogram<u64>,
}

impl Default for Recording {
    fn default() -> Self {
        Self { total: Vec::new(), intervals: Intervals::new(), lag: new_histogram() }
    }
}

impl Recording {
    /// Stats merged over the kinds selected by `pick` (all kinds when `None`).
    pub fn merged(&self, pick: Option<usize>) -> KindStats {
        let mut out = KindStats::default();
        for (i, k) in self.total.iter().enumerate() {
            if pick.is_none_or(|p| p == i) {
                out.merge(k);
            }
        }
        out
    }
}

/// What the collector has merged so far, for the progress line.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// Requests merged.
    pub completed: u64,
    /// Failed requests merged.
    pub errors: u64,
    /// p95 latency of the latest interval that has data, simulated seconds.
    pub recent_p95_s: Option<f64>,
}

/// Intervals kept open (as plain stats) behind the newest one that has a batch: most
/// users hand in an interval within a few intervals of its end, so few late batches
/// need the decode-merge-encode of a sealed one.
const OPEN_INTERVALS: u64 = 3;

/// Receives batches and merges them.
#[derive(Debug)]
pub struct Collector {
    rx: UnboundedReceiver<Batch>,
    recording: Recording,
    /// The newest intervals, still taking batches as plain stats; sealed into
    /// `recording.intervals` once [`OPEN_INTERVALS`] newer ones have started.
    open: BTreeMap<u64, Vec<KindStats>>,
    live: Option<tokio::sync::watch::Sender<Live>>,
    tap: Option<crate::observe::Tap>,
}

impl Collector {
    /// A collector for `kinds` request kinds.
    pub fn new(kinds: usize, rx: UnboundedReceiver<Batch>) -> Self {
        let recording = Recording { total: vec![KindStats::default(); kinds], ..Recording::default() };
        Self { rx, recording, open: BTreeMap::new(), live: None, tap: None }
    }

    /// Publishes a [`Live`] snapshot a few times a second while merging.
    pub fn with_live(mut self, live: tokio::sync::watch::Sender<Live>) -> Self {
        self.live = Some(live);
        self
    }

    /// Also merges every batch into `tap`, for readers during the run (drills).
    pub fn with_tap(mut self, tap: Option<crate::observe::Tap>) -> Self {
        self.tap = tap;
        self
    }

    fn publish(&self) {
        let Some(tx) = &self.live else { return };
        let (mut completed, mut errors) = (0, 0);
        for k in &self.recording.total {
            completed += k.total();
            errors += k.errors();
        }
        let recent = self.open.values().rev().find(|ks| ks.iter().any(|k| k.total() > 0));
        let recent_p95_s = recent.map(|ks| {
            let mut all = KindStats::default();
            ks.iter().for_each(|k| all.merge(k));
            all.latency.value_at_quantile(0.95) as f64 / 1e6
        });
        tx.send_replace(Live { completed, errors, recent_p95_s });
    }

    fn merge(&mut self, batch: Batch) {
        let lag = batch.lag.unpack();
        if !lag.is_empty() {
            let _ = self.recording.lag.add(&lag);
        }
        let (interval, kinds): (u64, Vec<KindStats>) =
            (batch.interval, batch.kinds.iter().map(PackedStats::unpack).collect());
        if let Some(tap) = &self.tap {
            tap.merge_batch(interval, &kinds);
        }
        let n = self.recording.total.len();
        for (k, t) in kinds.iter().zip(self.recording.total.iter_mut()) {
            t.merge(k);
        }
        let newest = self.open.keys().next_back().copied().unwrap_or(0).max(interval);
        if interval + OPEN_INTERVALS <= newest && !self.open.contains_key(&interval) {
            // A user that sends rarely hands in an old interval late: merge it exactly.
            self.recording.intervals.merge(interval, &kinds);
        } else {
            let slot = self.open.entry(interval).or_insert_with(|| vec![KindStats::default(); n]);
            for (s, k) in slot.iter_mut().zip(&kinds) {
                s.merge(k);
            }
        }
        self.seal_before(newest.saturating_sub(OPEN_INTERVALS - 1));
    }

    /// Moves the open intervals before `first_open` into the compact series.
    fn seal_before(&mut self, first_open: u64) {
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() >= first_open {
                break;
            }
            let (i, kinds) = entry.remove_entry();
            self.recording.intervals.merge(i, &kinds);
        }
    }

    /// Merges batches until `stop` is cancelled, then drains what is left.
    pub async fn run(mut self, stop: tokio_util::sync::CancellationToken) -> Recording {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                b = self.rx.recv() => match b {
                    Some(b) => self.merge(b),
                    None => break,
                },
                _ = tick.tick(), if self.live.is_some() => self.publish(),
                () = stop.cancelled() => break,
            }
        }
        while let Ok(b) = self.rx.try_recv() {
            self.merge(b);
        }
        self.seal_before(u64::MAX);
        self.recording
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn users_record_without_sharing_and_the_collector_merges_exactly() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let start = Instant::now();
        let interval = Duration::from_secs(1);
        let mut a = UserRecorder::new(2, start, interval, tx.clone());
        let mut b = UserRecorder::new(2, start, interval, tx);
        // Hand-built data: user a sends 1..=100 ms on kind 0 in interval 0; user b sends
        // 101..=200 ms on kind 0 in interval 1 and one timeout on kind 1.
        for ms in 1..=100u64 {
            a.record(start, 0, ms * 1000, Outcome::Ok, None);
        }
        let later = start + Duration::from_millis(1500);
        for ms in 101..=200u64 {
            b.record(later, 0, ms * 1000, Outcome::Ok, None);
        }
        b.record(later, 1, 60_000_000, Outcome::Timeout, Some(&"timed out"));
        drop((a, b));
        let stop = tokio_util::sync::CancellationToken::new();
        let rec = Collector::new(2, rx).run(stop).await;
        let all = rec.merged(Some(0));
        assert_eq!(all.total(), 200);
        // The median of 1..=200 ms is 100 ms; HDR keeps 3 significant figures.
        let p50 = all.latency.value_at_quantile(0.5) as f64;
        assert!((p50 - 100_000.0).abs() <= 100.0, "p50 {p50}");
        assert_eq!(rec.intervals.len(), 2);
        assert_eq!(rec.intervals.get(0).unwrap()[0].total(), 100);
        assert_eq!(rec.intervals.get(1).unwrap()[1].count(Outcome::Timeout), 1);
        assert_eq!(rec.merged(None).errors(), 1);
        assert!(rec.merged(Some(1)).latency.max() >= 60_000_000 - 60_000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_sparse_user_hands_each_sample_in_at_once() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let start = Instant::now();
        let mut u = UserRecorder::new(1, start, Duration::from_secs(1), tx);
        // Two samples 100 ms apart in interval 0: kept until the user moves on.
        u.record(start + Duration::from_millis(100), 0, 1000, Outcome::Ok, None);
        u.record(start + Duration::from_millis(200), 0, 1000, Outcome::Ok, None);
        assert!(rx.try_recv().is_err(), "a dense user hands in whole intervals");
        // 8 s later (one of many users sharing a low rate): interval 0 goes in, and the new
        // sample too, at once, not at this user's next request.
        u.record(start + Duration::from_millis(8200), 0, 1000, Outcome::Ok, None);
        let first = rx.try_recv().unwrap();
        let second = rx.try_recv().unwrap();
        assert_eq!((first.interval, second.interval), (0, 8));
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn sealed_intervals_take_late_batches_exactly_and_stay_small() {
        // Ten minutes of 1 s intervals, 100 requests each at 1..=100 ms, then a user that
        // sends rarely hands in 5 more requests for interval 2, long after it was sealed.
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let batch = |interval: u64, ms: std::ops::RangeInclusive<u64>| {
            let mut k = KindStats::default();
            ms.for_each(|m| k.record(m * 1000, Outcome::Ok, None));
            Batch::new(interval, &[k], &new_histogram())
        };
        for i in 0..600 {
            tx.send(batch(i, 1..=100)).unwrap();
        }
        tx.send(batch(2, 96..=100)).unwrap();
        drop(tx);
        let rec = Collector::new(1, rx).run(tokio_util::sync::CancellationToken::new()).await;
        assert_eq!(rec.intervals.len(), 600);
        let two = &rec.intervals.get(2).unwrap()[0];
        assert_eq!(two.total(), 105);
        // 105 values, the top 10 of them 96..=100 ms: p95 is the 100th value, 98 ms.
        assert_eq!(two.latency.highest_equivalent(two.latency.value_at_quantile(0.95)) / 1000, 98);
        assert_eq!(rec.total[0].total(), 60_005);
        // Dense, each interval's histogram (values to 100 ms) holds thousands of u64 counts.
        let dense = 600 * two.latency.distinct_values() * 8;
        let packed = rec.intervals.heap_bytes();
        assert!(packed * 20 < dense, "packed {packed} B vs dense {dense} B");
    }

    #[test]
    fn latency_is_kept_per_status_class() {
        // 98 successes at 10 ms, one 5xx at 3 ms and one timeout at 2 s, merged from two
        // halves: each class reads back its own values.
        let (mut a, mut b) = (KindStats::default(), KindStats::default());
        for i in 0..98 {
            let half = if i % 2 == 0 { &mut a } else { &mut b };
            half.record(10_000, Outcome::Ok, None);
        }
        a.record(3_000, Outcome::Status5xx, Some(&"HTTP 500"));
        b.record(2_000_000, Outcome::Timeout, None);
        a.merge(&b);
        let within =
            |h: &Histogram<u64>, us: u64| h.min().abs_diff(us) <= us / 1000 && h.max().abs_diff(us) <= us / 1000;
        let ok = a.latency_of(Outcome::Ok).unwrap();
        assert_eq!(ok.len(), 98);
        assert!(within(&ok, 10_000), "ok {}..{}", ok.min(), ok.max());
        let fivexx = a.latency_of(Outcome::Status5xx).unwrap();
        assert_eq!(fivexx.len(), 1);
        assert!(within(&fivexx, 3_000));
        assert!(a.latency_of(Outcome::Timeout).unwrap().min() >= 1_998_000);
        assert!(a.latency_of(Outcome::Connect).is_none());
        assert_eq!(a.latency.len(), 100);
    }
}
