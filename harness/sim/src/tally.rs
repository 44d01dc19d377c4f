//! What a simulation reports, and the recorder that builds it.
//!
//! Attribution mirrors the live recorder (`load::record`): a request is counted in the
//! interval (and window) in which it *ends*, and its latency histogram holds every request
//! (a success at its latency, a `job_timeout` failure at the timeout, a queue-full refusal
//! at zero), so simulated percentiles compare like for like with live ones. Busy time and
//! queue occupancy are integrals, split exactly across intervals and windows. Latencies
//! are simulated microseconds; integrals are simulated nanoseconds.

use std::time::Duration;

use gameday_mocks::kit::cpu_from_busy;
use hdrhistogram::Histogram;

use gameday_core::outcome::new_histogram;

/// A span of simulated time `[start, end)` whose per-kind latency histograms the planner
/// wants (e.g. each week's peak hour). Whole-run histograms are always kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Start (simulated offset from the run's start).
    pub start: Duration,
    /// End, exclusive.
    pub end: Duration,
}

impl Window {
    /// Its length.
    pub fn len(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// How a simulated request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimOutcome {
    /// Served in full (the live mock's 200).
    Ok,
    /// Refused because `job_capacity` jobs already waited (the live 503 `queue_full`).
    Rejected,
    /// Not done within `job_timeout` of admission (the live 504 `job_timeout`).
    TimedOut,
}

/// One request kind's results over a span.
#[derive(Clone, Debug, PartialEq)]
pub struct KindTally {
    /// Latency of every request that ended in the span, simulated microseconds.
    pub latency: Histogram<u64>,
    /// Requests served in full.
    pub ok: u64,
    /// Requests refused with the queue full.
    pub rejected: u64,
    /// Requests failed by the job timeout.
    pub timed_out: u64,
    /// Pool jobs that got a worker (served in full or cut by the timeout).
    pub started: u64,
    /// Sum of the queue waits of `started` jobs, simulated nanoseconds.
    pub wait_ns: u128,
}

impl Default for KindTally {
    fn default() -> Self {
        Self { latency: new_histogram(), ok: 0, rejected: 0, timed_out: 0, started: 0, wait_ns: 0 }
    }
}

impl KindTally {
    /// All requests that ended in the span.
    pub fn total(&self) -> u64 {
        self.ok + self.rejected + self.timed_out
    }

    /// Mean queue wait of the jobs that got a worker (`None` when none did).
    pub fn mean_wait(&self) -> Option<Duration> {
        let n = u128::from(self.started);
        (n > 0).then(|| nanos(u64::try_from(self.wait_ns / n).unwrap_or(u64::MAX)))
    }

    /// The latency at quantile `q` in `[0, 1]` (zero when the span saw no request).
    pub fn quantile(&self, q: f64) -> Duration {
        Duration::from_micros(self.latency.value_at_quantile(q))
    }

    fn record(&mut self, latency_ns: u64, outcome: SimOutcome, wait_ns: Option<u64>) {
        let us = (latency_ns / 1_000).max(1);
        if self.latency.record(us).is_err() {
            self.latency.saturating_record(us);
        }
        match outcome {
            SimOutcome::Ok => self.ok += 1,
            SimOutcome::Rejected => self.rejected += 1,
            SimOutcome::TimedOut => self.timed_out += 1,
        }
        if let Some(w) = wait_ns {
            self.started += 1;
            self.wait_ns += u128::from(w);
        }
    }
}

/// Per-kind results and pool busy time over a span.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Per request kind, in model order.
    pub kinds: Vec<KindTally>,
    /// Worker busy time in the span, simulated nanoseconds (the CPU integral).
    pub busy_ns: u64,
}

impl Tally {
    fn new(kinds: usize) -> Self {
        Self { kinds: vec![KindTally::default(); kinds], busy_ns: 0 }
    }
}

/// A [`Window`] and what happened in it.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowTally {
    /// The window.
    pub window: Window,
    /// Its results.
    pub tally: Tally,
}

/// One request kind's counts in one interval (no histogram: intervals are many).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// Requests that arrived in the interval.
    pub arrivals: u64,
    /// Requests served in full that ended in the interval.
    pub ok: u64,
    /// Requests refused (queue full) in the interval.
    pub rejected: u64,
    /// Requests failed by the job timeout that ended in the interval.
    pub timed_out: u64,
    /// Sum of the latencies of the requests that ended in the interval, microseconds.
    pub latency_sum_us: u64,
    /// The longest of those latencies, microseconds.
    pub latency_max_us: u64,
}

/// One interval of the time series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntervalStats {
    /// Per request kind.
    pub kinds: Vec<KindCounts>,
    /// Worker busy time in the interval, simulated nanoseconds.
    pub busy_ns: u64,
    /// Integral of the queue depth over the interval, job-nanoseconds.
    pub queue_area_ns: u128,
    /// Jobs waiting at the interval's start (the sampled queue depth).
    pub queue_at_start: u64,
    /// The most jobs waiting at any instant of the interval.
    pub queue_max: u64,
}

/// Everything one simulation measured.
#[derive(Clone, Debug, PartialEq)]
pub struct SimOutput {
    /// Request kind names, in model order (index = kind).
    pub kinds: Vec<String>,
    /// Workers in the pool.
    pub workers: usize,
    /// Length of one interval of the series.
    pub interval: Duration,
    /// The window of the CPU gauge (the pool's `cpu_window`).
    pub cpu_window: Duration,
    /// The pool's `base_cpu`: CPU used with no work, added by the `cpu` views.
    pub base_cpu: f64,
    /// Whole-run results.
    pub total: Tally,
    /// Results per requested window, in the order given.
    pub windows: Vec<WindowTally>,
    /// The time series, interval `i` covering `[i * interval, (i + 1) * interval)`.
    pub intervals: Vec<IntervalStats>,
    /// Time of the last event (arrival or departure).
    pub span: Duration,
    /// Events processed: arrivals plus departures (a refusal is its arrival only).
    pub events: u64,
    /// The most jobs waiting at any instant.
    pub queue_max: u64,
}

impl SimOutput {
    /// The index of a request kind by name.
    pub fn kind_index(&self, name: &str) -> Option<usize> {
        self.kinds.iter().position(|k| k == name)
    }

    /// Busy fraction of worker capacity over the whole run (`[0, span)`).
    pub fn utilisation(&self) -> f64 {
        self.busy_fraction(self.total.busy_ns, self.span)
    }

    /// Busy fraction of worker capacity in interval `i` (0 past the end).
    pub fn interval_utilisation(&self, i: usize) -> f64 {
        let busy = self.intervals.get(i).map_or(0, |s| s.busy_ns);
        self.busy_fraction(busy, self.interval)
    }

    /// Busy fraction of worker capacity in requested window `i` (0 if there is none).
    pub fn window_utilisation(&self, i: usize) -> f64 {
        self.windows.get(i).map_or(0.0, |w| self.busy_fraction(w.tally.busy_ns, w.window.len()))
    }

    /// CPU over the whole run as the mock's gauge reports it:
    /// `base_cpu + (1 - base_cpu) * utilisation()`.
    pub fn cpu(&self) -> f64 {
        cpu_from_busy(self.base_cpu, self.utilisation())
    }

    /// CPU in interval `i` (`base_cpu` past the end: an idle server).
    pub fn interval_cpu(&self, i: usize) -> f64 {
        cpu_from_busy(self.base_cpu, self.interval_utilisation(i))
    }

    /// CPU in requested window `i` (`base_cpu` if there is none).
    pub fn window_cpu(&self, i: usize) -> f64 {
        cpu_from_busy(self.base_cpu, self.window_utilisation(i))
    }

    /// Mean jobs waiting over interval `i`.
    pub fn mean_queue_depth(&self, i: usize) -> f64 {
        let area = self.intervals.get(i).map_or(0, |s| s.queue_area_ns);
        area as f64 / (self.interval.as_nanos().max(1) as f64)
    }

    /// The CPU gauge at the end of each interval: `base_cpu + (1 - base_cpu) *` the busy
    /// fraction over the trailing `cpu_window` (rounded to whole intervals, at least
    /// one); like the live meter, over the time since the start before one window has
    /// passed.
    pub fn cpu_series(&self) -> Vec<f64> {
        let per = self.cpu_window.as_nanos() as f64 / self.interval.as_nanos().max(1) as f64;
        let k = (per.round() as usize).max(1);
        let mut out = Vec::with_capacity(self.intervals.len());
        let mut sum: u128 = 0;
        for (i, s) in self.intervals.iter().enumerate() {
            sum += u128::from(s.busy_ns);
            if i >= k {
                sum -= u128::from(self.intervals[i - k].busy_ns);
            }
            let n = (i + 1).min(k) as u32;
            let busy = sum as f64 / (self.workers.max(1) as f64 * self.interval.as_nanos() as f64 * f64::from(n));
            out.push(cpu_from_busy(self.base_cpu, busy));
        }
        out
    }

    fn busy_fraction(&self, busy_ns: u64, over: Duration) -> f64 {
        let capacity = self.workers.max(1) as f64 * over.as_nanos() as f64;
        if capacity > 0.0 {
            busy_ns as f64 / capacity
        } else {
            0.0
        }
    }
}

/// Builds a [`SimOutput`] as the engine goes; every method is O(1) amortised except
/// that spans crossing interval boundaries touch each interval they cover.
#[derive(Debug)]
pub(crate) struct Recorder {
    kinds: usize,
    interval_ns: u64,
    total: Tally,
    windows: Vec<(u64, u64, Tally)>,
    intervals: Vec<IntervalStats>,
    span_ns: u64,
    events: u64,
    queue_max: u64,
}

impl Recorder {
    /// A recorder for `kinds` kinds, intervals of `interval_ns`, windows in nanoseconds.
    pub(crate) fn new(kinds: usize, interval_ns: u64, windows: &[Window]) -> Self {
        let windows = windows.iter().map(|w| (ns(w.start), ns(w.end), Tally::new(kinds))).collect();
        Self {
            kinds,
            interval_ns,
            total: Tally::new(kinds),
            windows,
            intervals: Vec::new(),
            span_ns: 0,
            events: 0,
            queue_max: 0,
        }
    }

    fn slot(&mut self, at_ns: u64) -> &mut IntervalStats {
        let idx = (at_ns / self.interval_ns) as usize;
        if idx >= self.intervals.len() {
            let kinds = self.kinds;
            self.intervals.resize_with(idx + 1, || IntervalStats {
                kinds: vec![KindCounts::default(); kinds],
                ..Default::default()
            });
        }
        &mut self.intervals[idx]
    }

    /// A request of `kind` arrived.
    pub(crate) fn arrival(&mut self, kind: usize, at_ns: u64) {
        self.events += 1;
        self.span_ns = self.span_ns.max(at_ns);
        self.slot(at_ns).kinds[kind].arrivals += 1;
    }

    /// A request of `kind` that arrived at `arrived_ns` ended at `ended_ns`; `wait_ns` is
    /// its queue wait if it got a worker.
    pub(crate) fn ended(
        &mut self,
        kind: usize,
        arrived_ns: u64,
        ended_ns: u64,
        outcome: SimOutcome,
        wait_ns: Option<u64>,
    ) {
        if outcome != SimOutcome::Rejected {
            self.events += 1;
        }
        self.span_ns = self.span_ns.max(ended_ns);
        let latency_ns = ended_ns - arrived_ns;
        let us = latency_ns / 1_000;
        let c = &mut self.slot(ended_ns).kinds[kind];
        match outcome {
            SimOutcome::Ok => c.ok += 1,
            SimOutcome::Rejected => c.rejected += 1,
            SimOutcome::TimedOut => c.timed_out += 1,
        }
        c.latency_sum_us += us;
        c.latency_max_us = c.latency_max_us.max(us);
        self.total.kinds[kind].record(latency_ns, outcome, wait_ns);
        for (start, end, tally) in &mut self.windows {
            if (*start..*end).contains(&ended_ns) {
                tally.kinds[kind].record(latency_ns, outcome, wait_ns);
            }
        }
    }

    /// A worker was busy over `[start_ns, end_ns)`.
    pub(crate) fn busy(&mut self, start_ns: u64, end_ns: u64) {
        self.total.busy_ns += end_ns - start_ns;
        for (start, end, tally) in &mut self.windows {
            tally.busy_ns += overlap(start_ns, end_ns, *start, *end);
        }
        self.split(start_ns, end_ns, |s, d| s.busy_ns += d);
    }

    /// A job waited over `[from_ns, to_ns)`.
    pub(crate) fn queued(&mut self, from_ns: u64, to_ns: u64) {
        self.split(from_ns, to_ns, |s, d| s.queue_area_ns += u128::from(d));
    }

    /// `depth` jobs wait at `at_ns` (just after an arrival joined the queue).
    pub(crate) fn queue_depth(&mut self, at_ns: u64, depth: u64) {
        self.queue_max = self.queue_max.max(depth);
        let s = self.slot(at_ns);
        s.queue_max = s.queue_max.max(depth);
    }

    /// `depth` jobs wait at the start of interval `at_ns / interval`.
    pub(crate) fn queue_sample(&mut self, at_ns: u64, depth: u64) {
        let s = self.slot(at_ns);
        s.queue_at_start = depth;
        s.queue_max = s.queue_max.max(depth);
    }

    /// The time of the last event so far.
    pub(crate) fn span_ns(&self) -> u64 {
        self.span_ns
    }

    /// Adds `f(interval, overlap)` for every interval `[from, to)` covers.
    fn split(&mut self, from_ns: u64, to_ns: u64, f: impl Fn(&mut IntervalStats, u64)) {
        let mut t = from_ns;
        while t < to_ns {
            let boundary = (t / self.interval_ns + 1).saturating_mul(self.interval_ns);
            let upto = boundary.min(to_ns);
            f(self.slot(t), upto - t);
            t = upto;
        }
    }

    /// The finished report.
    pub(crate) fn finish(self, kinds: Vec<String>, workers: usize, cpu_window: Duration, base_cpu: f64) -> SimOutput {
        let windows = self
            .windows
            .into_iter()
            .map(|(start, end, tally)| WindowTally { window: Window { start: nanos(start), end: nanos(end) }, tally })
            .collect();
        SimOutput {
            kinds,
            workers,
            interval: nanos(self.interval_ns),
            cpu_window,
            base_cpu,
            total: self.total,
            windows,
            intervals: self.intervals,
            span: nanos(self.span_ns),
            events: self.events,
            queue_max: self.queue_max,
        }
    }
}

/// Length of the overlap of `[a0, a1)` and `[b0, b1)`.
fn overlap(a0: u64, a1: u64, b0: u64, b1: u64) -> u64 {
    a1.min(b1).saturating_sub(a0.max(b0))
}

/// A duration in whole nanoseconds (saturating; 584 years fit).
pub(crate) fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn nanos(n: u64) -> Duration {
    Duration::from_nanos(n)
}
