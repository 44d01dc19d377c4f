//! CPU accounting: the fraction of worker capacity that was busy over a window.
//!
//! A mock has no real CPU to measure, so "CPU" is modelled the way capacity tables mean
//! it: busy worker-seconds divided by available worker-seconds. The meter keeps the exact
//! busy-time integral `B(t) = done + in_flight * t - sum(start_i)` in atomics; `B` is
//! piecewise linear between job starts and ends, so samples taken at those events (at
//! most one per 1/100 of the window) let [`CpuMeter::utilisation`] interpolate `B` at
//! any past instant with at most 1% error. Scaling triggers such as "CPU > 70% for 15m"
//! are then checked against the gauge this produces.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Busy-time accounting for a pool of `workers`.
#[derive(Debug)]
pub struct CpuMeter {
    workers: u64,
    origin: Instant,
    window: Duration,
    done_ns: AtomicU64,
    in_flight: AtomicU64,
    start_sum_ns: AtomicU64,
    samples: Mutex<VecDeque<(u64, u64)>>,
}

/// Marks one worker busy until dropped.
#[derive(Debug)]
pub struct BusyGuard<'a> {
    meter: &'a CpuMeter,
    start_ns: u64,
}

impl CpuMeter {
    /// A meter for `workers` workers whose gauge averages over `window` of real time.
    pub fn new(workers: usize, window: Duration) -> Self {
        Self {
            workers: workers.max(1) as u64,
            origin: Instant::now(),
            window: window.max(Duration::from_millis(1)),
            done_ns: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            start_sum_ns: AtomicU64::new(0),
            samples: Mutex::new(VecDeque::new()),
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Marks a worker busy from now until the guard drops.
    pub fn busy(&self) -> BusyGuard<'_> {
        self.sample();
        let start_ns = self.now_ns();
        self.start_sum_ns.fetch_add(start_ns, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        BusyGuard { meter: self, start_ns }
    }

    /// The busy-time integral at `now_ns`, in worker-nanoseconds.
    fn busy_total_at(&self, now_ns: u64) -> u64 {
        let in_flight = self.in_flight.load(Ordering::SeqCst);
        let start_sum = self.start_sum_ns.load(Ordering::SeqCst);
        let done = self.done_ns.load(Ordering::SeqCst);
        (done + in_flight.saturating_mul(now_ns)).saturating_sub(start_sum)
    }

    /// Total busy worker-time since the meter started (a counter).
    pub fn busy_total(&self) -> Duration {
        Duration::from_nanos(self.busy_total_at(self.now_ns()))
    }

    /// Records a sample of the integral, at most one per 1/100 of the window.
    fn sample(&self) {
        let now = self.now_ns();
        let busy = self.busy_total_at(now);
        let window_ns = u64::try_from(self.window.as_nanos()).unwrap_or(u64::MAX);
        let Ok(mut samples) = self.samples.lock() else { return };
        if samples.back().is_some_and(|&(t, _)| now.saturating_sub(t) < window_ns / 100) {
            return;
        }
        samples.push_back((now, busy));
        // Keep exactly one sample at or before the window's start.
        while samples.len() > 2 && samples[1].0 + window_ns <= now {
            samples.pop_front();
        }
    }

    /// Busy fraction of worker capacity over the last window, in `[0, 1]`.
    ///
    /// Before one window has passed, the fraction is over the time since the meter started.
    pub fn utilisation(&self) -> f64 {
        self.sample();
        let now = self.now_ns();
        let busy_now = self.busy_total_at(now);
        let window_ns = u64::try_from(self.window.as_nanos()).unwrap_or(u64::MAX);
        let from = now.saturating_sub(window_ns);
        let busy_from = match self.samples.lock() {
            Ok(samples) => interpolate(&samples, from, now, busy_now),
            Err(_) => 0,
        };
        let span = (now - from).max(1) as f64;
        let frac = busy_now.saturating_sub(busy_from) as f64 / (span * self.workers as f64);
        frac.clamp(0.0, 1.0)
    }
}

/// The integral at `at`, interpolated between the samples that bracket it.
fn interpolate(samples: &VecDeque<(u64, u64)>, at: u64, now: u64, busy_now: u64) -> u64 {
    let mut prev: Option<(u64, u64)> = None;
    for &(t, b) in samples.iter().chain(std::iter::once(&(now, busy_now))) {
        if t >= at {
            return match prev {
                Some((t0, b0)) if t > t0 => {
                    let f = (at - t0) as f64 / (t - t0) as f64;
                    b0 + ((b - b0) as f64 * f) as u64
                }
                _ if t == at => b,
                _ => 0,
            };
        }
        prev = Some((t, b));
    }
    busy_now
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        let end = self.meter.now_ns();
        let m = self.meter;
        m.done_ns.fetch_add(end.saturating_sub(self.start_ns), Ordering::SeqCst);
        m.start_sum_ns.fetch_sub(self.start_ns, Ordering::SeqCst);
        m.in_flight.fetch_sub(1, Ordering::SeqCst);
        m.sample();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::time::advance;

    #[tokio::test(start_paused = true)]
    async fn one_of_two_workers_busy_the_whole_time_is_half() {
        let meter = CpuMeter::new(2, Duration::from_secs(10));
        let guard = meter.busy();
        advance(Duration::from_secs(30)).await;
        let u = meter.utilisation();
        drop(guard);
        assert!((u - 0.5).abs() < 1e-6, "utilisation {u}");
    }

    #[tokio::test(start_paused = true)]
    async fn window_covers_only_the_last_window() {
        // Busy 4 s then idle 6 s on one worker: over a 5 s window ending at 10 s the
        // busy fraction is 0; over a window ending at 6 s it is 3/5 (busy 1..4 of 1..6).
        let meter = CpuMeter::new(1, Duration::from_secs(5));
        advance(Duration::from_secs(1)).await;
        let guard = meter.busy();
        advance(Duration::from_secs(3)).await;
        drop(guard);
        advance(Duration::from_secs(2)).await;
        let mid = meter.utilisation();
        assert!((mid - 0.6).abs() < 0.011, "mid {mid}");
        advance(Duration::from_secs(4)).await;
        assert!(meter.utilisation() < 1e-9);
        assert_eq!(meter.busy_total(), Duration::from_secs(3));
    }
}
