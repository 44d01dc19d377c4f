//! The discrete-event simulator of a mock's worker pool, in simulated time.
//!
//! It executes the model `gameday_mocks::kit::pool::WorkerPool` executes live:
//! - `workers` identical workers behind one FIFO queue;
//! - a job that finds a worker free (and so the queue empty) starts at once and never
//!   takes a queue slot; otherwise it waits, and is refused (503 `queue_full`) if
//!   `job_capacity` jobs already wait (0 = unbounded);
//! - `job_timeout` counts from admission: a job not done by then fails (504) *and frees
//!   its worker at the deadline* (the live pool drops the permit when `timeout_at` fires),
//!   so the worker is busy only up to the deadline;
//! - the service time is drawn per request from the kind's [`Sampler`] and the kind's
//!   stream ([`KindModel::stream`]: a `StdRng` seeded by `stream_seed(seed, name)`, the
//!   way the mock seeds its `ServiceStream`s), in arrival order whether or not the job is
//!   admitted (as the mock draws before submitting); kinds naming the same stream share
//!   it;
//! - "CPU" is worker busy time over worker capacity, as the mock's `CpuMeter` counts it;
//!   the reports' `cpu` views add the pool's `base_cpu` as the mock's gauge does
//!   (`base + (1 - base) * busy`), while `utilisation` stays the busy fraction;
//! - [`SimModel::cost_scale`] multiplies every pool kind's service time (calibration's
//!   knob; the live equivalent is a profile whose service times are `scaled`);
//! - kinds on [`Route::Direct`] (Midnight's attestation) bypass the pool: latency is their
//!   service time, they never queue and add no CPU.
//!
//! # How it runs fast
//! FIFO with identical workers needs no general event calendar: jobs start in admission
//! order, so processing arrivals in order with a min-heap of the workers' next-free
//! times gives each job its start (`max(arrival, earliest free)`) and end at once
//! (Kiefer-Wolfowitz). Queue departures are then non-decreasing in arrival order, so the
//! waiting jobs are a `VecDeque` of start times, popped as the clock passes them. Each
//! event costs O(log workers). A job never has to leave the queue by its deadline:
//! every job ahead of it ends (or is cut) by its own, earlier deadline, so a worker frees
//! in time (a tie leaves it starting exactly at its deadline, cut at once: the same 504).
//!
//! # What it leaves out
//! Network and HTTP overhead (loopback latency, connection limits), the generator's own
//! limits, client-side timeouts and retries (a refused request is not resent), and the
//! live meter's 1% interpolation error; refusals are recorded at zero latency where the
//! live recorder sees a loopback round trip. Time is whole nanoseconds.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use gameday_mocks::kit::{stream_seed, PoolConfig, Sampler};
use gameday_mocks::services::midnight;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::tally::{ns, Recorder, SimOutcome, SimOutput, Window};

/// How a request kind reaches its service time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Through the worker pool (queue, capacity, timeout, CPU).
    Pool,
    /// Straight to its service time, in parallel with everything (no queue, no CPU).
    Direct,
}

/// One request kind of the model.
#[derive(Clone, Debug)]
pub struct KindModel {
    /// Name (the mock's kind label, e.g. `prove-tx`).
    pub name: String,
    /// Service-time distribution (simulated seconds).
    pub service: Sampler,
    /// Pool or direct.
    pub route: Route,
    /// The random stream its service times come from: the mock's stream name
    /// (`midnight/prove-tx`, `pxl/proof`) where the mock draws this kind from a stream of
    /// its own, so a simulation seeded like a live run draws the same service times.
    pub stream: String,
}

impl KindModel {
    /// A kind drawing from a stream of its own, `sim/<name>`.
    pub fn new(name: &str, service: Sampler, route: Route) -> Self {
        Self { name: name.to_owned(), service, route, stream: format!("sim/{name}") }
    }

    /// The same kind drawing from the stream `stream`.
    pub fn with_stream(self, stream: &str) -> Self {
        Self { stream: stream.to_owned(), ..self }
    }
}

/// The service model: one pool and the request kinds.
#[derive(Clone, Debug)]
pub struct SimModel {
    /// The pool's knobs, exactly as the mock's profile gives them (with `base_cpu`).
    pub pool: PoolConfig,
    /// Request kinds; an arrival's kind is an index into this.
    pub kinds: Vec<KindModel>,
    /// Multiplies every [`Route::Pool`] kind's drawn service time (1.0 = the profile).
    /// Draws are the same with any scale, so runs differ only by the scaling.
    pub cost_scale: f64,
}

impl SimModel {
    /// A model of `pool` and `kinds` at the profile's cost (`cost_scale` 1).
    pub fn new(pool: PoolConfig, kinds: Vec<KindModel>) -> Self {
        Self { pool, kinds, cost_scale: 1.0 }
    }

    /// The same model with `workers` workers (the recommendation search's knob).
    pub fn with_workers(&self, workers: usize) -> Self {
        let mut m = self.clone();
        m.pool.workers = workers.max(1);
        m
    }

    /// The same model with `workers` workers and room for `job_capacity` waiting jobs
    /// (0 = unbounded).
    pub fn with_capacity(&self, workers: usize, job_capacity: usize) -> Self {
        let mut m = self.with_workers(workers);
        m.pool.job_capacity = job_capacity;
        m
    }

    /// The same model with every pool kind's service time multiplied by `cost_scale`.
    pub fn with_cost_scale(&self, cost_scale: f64) -> Self {
        Self { cost_scale, ..self.clone() }
    }

    /// The same model with base CPU `base_cpu` (a fraction in `[0, 1)`).
    pub fn with_base_cpu(&self, base_cpu: f64) -> Self {
        let mut m = self.clone();
        m.pool.base_cpu = base_cpu;
        m
    }

    /// Midnight's model from the mock's own profile: `check`, `prove`, `prove-tx` through
    /// the pool, `attestation` direct (kinds in that order).
    pub fn midnight(profile: &midnight::Profile) -> Result<Self, SimError> {
        let st = &profile.service_time;
        let kind = |name: &str, service: &gameday_mocks::kit::ServiceTime, route| {
            let service =
                service.sampler().map_err(|source| SimError::ServiceTime { kind: name.to_owned(), source })?;
            Ok::<_, SimError>(KindModel::new(name, service, route).with_stream(&format!("midnight/{name}")))
        };
        Ok(Self::new(
            profile.pool_config(),
            vec![
                kind("check", &st.check, Route::Pool)?,
                kind("prove", &st.prove, Route::Pool)?,
                kind("prove-tx", &st.prove_tx, Route::Pool)?,
                kind("attestation", &st.attestation, Route::Direct)?,
            ],
        ))
    }

    /// The index of a kind by name.
    pub fn kind_index(&self, name: &str) -> Option<usize> {
        self.kinds.iter().position(|k| k.name == name)
    }
}

/// How to run and what to keep.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Seed of the service-time draws (each kind's stream is seeded from it and the
    /// stream's name; a live run's mocks use the scenario's seed).
    pub seed: u64,
    /// Length of one interval of the time series.
    pub interval: Duration,
    /// Spans that get their own per-kind latency histograms.
    pub windows: Vec<Window>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self { seed: 1, interval: Duration::from_secs(60), windows: Vec::new() }
    }
}

/// Why a simulation could not run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SimError {
    /// An arrival names a kind the model does not have.
    #[error("arrival {index} has kind {kind}, but the model has {kinds} kinds")]
    UnknownKind {
        /// Position of the arrival.
        index: u64,
        /// The kind it named.
        kind: usize,
        /// Kinds in the model.
        kinds: usize,
    },
    /// Arrivals went back in time.
    #[error("arrival {index} at {at:?} comes before the previous one at {previous:?}; arrivals must be in time order")]
    OutOfOrder {
        /// Position of the arrival.
        index: u64,
        /// Its time.
        at: Duration,
        /// The previous arrival's time.
        previous: Duration,
    },
    /// The series interval is zero.
    #[error("interval must be greater than zero")]
    ZeroInterval,
    /// A window ends at or before its start.
    #[error("window {index}: end {end:?} is not after start {start:?}")]
    EmptyWindow {
        /// Position of the window.
        index: usize,
        /// Its start.
        start: Duration,
        /// Its end.
        end: Duration,
    },
    /// A kind's service-time parameters are unusable.
    #[error("service_time.{kind}: {source}")]
    ServiceTime {
        /// The kind.
        kind: String,
        /// What is wrong.
        #[source]
        source: gameday_mocks::kit::service_time::SamplerError,
    },
    /// The run is too long for the series interval.
    #[error(
        "an arrival at {at:?} would need more than {MAX_INTERVALS} intervals of {interval:?}; use a longer interval"
    )]
    TooManyIntervals {
        /// The arrival's time.
        at: Duration,
        /// The interval.
        interval: Duration,
    },
    /// Request-kind weights are unusable.
    #[error("kind weights: {0}")]
    Weights(#[from] gameday_core::arrival::WeightsError),
}

/// The most intervals a series may have (4 weeks of 1 s intervals fit in 2.5 million).
pub const MAX_INTERVALS: u64 = 10_000_000;

/// Runs `arrivals` (simulated arrival time, kind index; in time order) through `model`.
pub fn simulate<I>(model: &SimModel, arrivals: I, options: &SimOptions) -> Result<SimOutput, SimError>
where
    I: IntoIterator<Item = (Duration, usize)>,
{
    check_options(options)?;
    let mut engine = Engine::new(model, options);
    let mut previous = 0;
    for (index, (at, kind)) in (0u64..).zip(arrivals) {
        let at_ns = ns(at);
        if at_ns < previous {
            return Err(SimError::OutOfOrder { index, at, previous: Duration::from_nanos(previous) });
        }
        if kind >= model.kinds.len() {
            return Err(SimError::UnknownKind { index, kind, kinds: model.kinds.len() });
        }
        if at_ns / engine.interval_ns >= MAX_INTERVALS {
            return Err(SimError::TooManyIntervals { at, interval: options.interval });
        }
        previous = at_ns;
        engine.arrive(at_ns, kind);
    }
    Ok(engine.finish())
}

fn check_options(options: &SimOptions) -> Result<(), SimError> {
    if ns(options.interval) == 0 {
        return Err(SimError::ZeroInterval);
    }
    match options.windows.iter().position(Window::is_empty) {
        Some(index) => {
            let w = options.windows[index];
            Err(SimError::EmptyWindow { index, start: w.start, end: w.end })
        }
        None => Ok(()),
    }
}

/// One seeded RNG per distinct stream name of the model's kinds, and each kind's index
/// into them.
fn streams(model: &SimModel, seed: u64) -> (Vec<StdRng>, Vec<usize>) {
    let mut names: Vec<&str> = Vec::new();
    let stream_of = model
        .kinds
        .iter()
        .map(|k| {
            names.iter().position(|n| *n == k.stream).unwrap_or_else(|| {
                names.push(&k.stream);
                names.len() - 1
            })
        })
        .collect();
    let rngs = names.iter().map(|n| StdRng::seed_from_u64(stream_seed(seed, n))).collect();
    (rngs, stream_of)
}

/// The simulator's state between arrivals.
struct Engine<'m> {
    model: &'m SimModel,
    /// One RNG per distinct stream; `stream_of[kind]` indexes it.
    rngs: Vec<StdRng>,
    stream_of: Vec<usize>,
    /// Each worker's next-free time (ns); the top is the earliest.
    free_at: BinaryHeap<Reverse<u64>>,
    /// Start times of the jobs waiting for a worker, non-decreasing.
    waiting: VecDeque<u64>,
    capacity: usize,
    timeout_ns: u64,
    cost_scale: f64,
    interval_ns: u64,
    /// Start of the next interval whose queue depth is still to be sampled.
    next_sample_ns: u64,
    rec: Recorder,
}

impl<'m> Engine<'m> {
    fn new(model: &'m SimModel, options: &SimOptions) -> Self {
        let workers = model.pool.workers.max(1);
        let interval_ns = ns(options.interval);
        let (rngs, stream_of) = streams(model, options.seed);
        Self {
            model,
            rngs,
            stream_of,
            free_at: std::iter::repeat_n(Reverse(0), workers).collect(),
            waiting: VecDeque::new(),
            capacity: model.pool.job_capacity,
            timeout_ns: ns(model.pool.job_timeout.get()),
            cost_scale: model.cost_scale,
            interval_ns,
            next_sample_ns: 0,
            rec: Recorder::new(model.kinds.len(), interval_ns, &options.windows),
        }
    }

    fn arrive(&mut self, at_ns: u64, kind: usize) {
        self.sample_queue_until(at_ns);
        self.leave_queue_until(at_ns);
        self.rec.arrival(kind, at_ns);
        let k = &self.model.kinds[kind];
        let service_s = k.service.sample_secs(&mut self.rngs[self.stream_of[kind]]);
        match k.route {
            Route::Direct => {
                let service_ns = secs_to_ns(service_s);
                self.rec.ended(kind, at_ns, at_ns.saturating_add(service_ns), SimOutcome::Ok, None)
            }
            Route::Pool => self.admit(at_ns, kind, secs_to_ns(service_s * self.cost_scale)),
        }
    }

    /// The pool: take a free worker, else wait (or be refused), then serve until done or
    /// until the deadline, whichever comes first.
    fn admit(&mut self, at_ns: u64, kind: usize, service_ns: u64) {
        let Some(mut top) = self.free_at.peek_mut() else { return };
        let free_ns = top.0;
        if free_ns > at_ns && self.capacity > 0 && self.waiting.len() >= self.capacity {
            drop(top);
            self.rec.ended(kind, at_ns, at_ns, SimOutcome::Rejected, None);
            return;
        }
        let start = free_ns.max(at_ns);
        let deadline = at_ns.saturating_add(self.timeout_ns);
        let done = start.saturating_add(service_ns);
        let end = done.min(deadline).max(start);
        top.0 = end;
        drop(top);
        if start > at_ns {
            self.waiting.push_back(start);
            self.rec.queued(at_ns, start);
            self.rec.queue_depth(at_ns, self.waiting.len() as u64);
        }
        self.rec.busy(start, end);
        let outcome = if done <= deadline { SimOutcome::Ok } else { SimOutcome::TimedOut };
        self.rec.ended(kind, at_ns, end, outcome, Some(start - at_ns));
    }

    /// Drops the waiting jobs that have started by `t_ns`.
    fn leave_queue_until(&mut self, t_ns: u64) {
        while self.waiting.front().is_some_and(|&s| s <= t_ns) {
            self.waiting.pop_front();
        }
    }

    /// Samples the queue depth at every interval start up to `t_ns`.
    fn sample_queue_until(&mut self, t_ns: u64) {
        while self.next_sample_ns <= t_ns && self.next_sample_ns < u64::MAX {
            self.leave_queue_until(self.next_sample_ns);
            self.rec.queue_sample(self.next_sample_ns, self.waiting.len() as u64);
            self.next_sample_ns = self.next_sample_ns.saturating_add(self.interval_ns);
        }
    }

    fn finish(mut self) -> SimOutput {
        let last = self.rec.span_ns();
        self.sample_queue_until(last);
        let names = self.model.kinds.iter().map(|k| k.name.clone()).collect();
        let workers = self.model.pool.workers.max(1);
        self.rec.finish(names, workers, self.model.pool.cpu_window.get(), self.model.pool.base_cpu)
    }
}

/// Simulated seconds to whole nanoseconds (negative and NaN to zero, huge saturating).
fn secs_to_ns(s: f64) -> u64 {
    let n = (s * 1e9).round();
    if n > 0.0 {
        n as u64
    } else {
        0
    }
}

mod models;

#[cfg(test)]
mod tests;
