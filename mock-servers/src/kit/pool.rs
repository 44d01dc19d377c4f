//! The worker pool: `workers` concurrent jobs behind a bounded FIFO queue.
//!
//! This is the part of a service that load and capacity planning see: admission (503 with
//! `Retry-After` when `job_capacity` jobs already wait), FIFO queueing for a worker, a
//! modelled service time, and a per-job timeout measured from admission (queue wait plus
//! service, as a client sees it). A job runs in its own task, so a client that hangs up
//! does not free the worker early: the work goes on, as it would on the real server.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout_at, Instant};

use super::cpu::CpuMeter;
use super::units::{HumanDuration, PositiveDuration, TimeScale};

/// The pool's knobs, as a service profile writes them (`--num-workers`, `--job-capacity`,
/// `--job-timeout` in the Midnight runbook).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Jobs processed at once.
    pub workers: usize,
    /// Jobs that may wait for a worker; 0 means unbounded.
    pub job_capacity: usize,
    /// A job not finished this long after admission fails (simulated time).
    pub job_timeout: PositiveDuration,
    /// Window over which the CPU gauge averages (simulated time).
    pub cpu_window: PositiveDuration,
    /// CPU the server uses with no work (enclave runtime, attestation, monitoring), as a
    /// fraction in `[0, 1)`; the gauge reports `base_cpu + (1 - base_cpu) * busy`, so
    /// all workers busy is 100% whatever the base. Default 0.
    pub base_cpu: f64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: 8,
            job_capacity: 0,
            job_timeout: PositiveDuration(HumanDuration(Duration::from_secs(600))),
            cpu_window: PositiveDuration(HumanDuration(Duration::from_secs(60))),
            base_cpu: 0.0,
        }
    }
}

impl PoolConfig {
    /// The CPU gauge for a worker busy fraction: `base_cpu + (1 - base_cpu) * busy`
    /// (both clamped to `[0, 1]`).
    pub fn cpu_from_busy(&self, busy_fraction: f64) -> f64 {
        cpu_from_busy(self.base_cpu, busy_fraction)
    }

    /// Checks `base_cpu` is a fraction in `[0, 1)`; the error names the field.
    pub fn validate_base_cpu(base_cpu: f64) -> Result<(), BaseCpuError> {
        if base_cpu.is_finite() && (0.0..1.0).contains(&base_cpu) {
            Ok(())
        } else {
            Err(BaseCpuError::OutOfRange { got: base_cpu })
        }
    }
}

/// Why [`PoolConfig::validate_base_cpu`] refused a value.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum BaseCpuError {
    /// Not a finite fraction in `[0, 1)`.
    #[error("base_cpu must be a fraction in [0, 1) (0.2 = 20% CPU with no work), got {got}")]
    OutOfRange {
        /// The value given.
        got: f64,
    },
}

/// The CPU gauge for a worker busy fraction given the idle server's `base_cpu`:
/// `base + (1 - base) * busy`, both clamped to `[0, 1]` (NaN counts as 0).
pub fn cpu_from_busy(base_cpu: f64, busy_fraction: f64) -> f64 {
    let clamp = |x: f64| if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
    let base = clamp(base_cpu);
    base + (1.0 - base) * clamp(busy_fraction)
}

/// Why a job did not complete.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum JobError {
    /// The queue already held `capacity` jobs.
    #[error("job queue is full ({capacity} jobs pending)")]
    QueueFull {
        /// The configured `job_capacity`.
        capacity: usize,
        /// Suggested client back-off in real seconds (for `Retry-After`).
        retry_after_s: u64,
    },
    /// The job was not done within `job_timeout` of admission.
    #[error("job timed out after {timeout} (simulated)")]
    Timeout {
        /// The configured `job_timeout`.
        timeout: HumanDuration,
    },
}

/// What a completed job reports, in simulated time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JobDone {
    /// Time spent waiting for a worker.
    pub queue_wait: Duration,
    /// Time spent being served.
    pub service: Duration,
}

/// A pool of workers with a bounded queue.
#[derive(Debug)]
pub struct WorkerPool {
    config: PoolConfig,
    scale: TimeScale,
    permits: Arc<Semaphore>,
    pending: AtomicUsize,
    processing: AtomicUsize,
    completed: AtomicU64,
    rejected: AtomicU64,
    timed_out: AtomicU64,
    cpu: CpuMeter,
    mean_service_s: f64,
}

impl WorkerPool {
    /// A pool for `config` at `scale`; `mean_service_s` (simulated) feeds `Retry-After`.
    pub fn new(config: PoolConfig, scale: TimeScale, mean_service_s: f64) -> Arc<Self> {
        let workers = config.workers.max(1);
        let cpu = CpuMeter::new(workers, scale.to_real(config.cpu_window.get()));
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(workers)),
            config,
            scale,
            pending: AtomicUsize::new(0),
            processing: AtomicUsize::new(0),
            completed: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            cpu,
            mean_service_s,
        })
    }

    /// Submits a job that keeps a worker busy for `service` (simulated) and waits for it.
    ///
    /// A job that finds a free worker takes it at once and never holds a queue slot; only
    /// a job that must wait is counted against `job_capacity` (the semaphore hands freed
    /// permits to waiters first, so this cannot jump the queue).
    pub async fn run(self: &Arc<Self>, service: Duration) -> Result<JobDone, JobError> {
        let admitted = Instant::now();
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                self.admit()?;
                None
            }
        };
        let (tx, rx) = oneshot::channel();
        let pool = Arc::clone(self);
        tokio::spawn(async move {
            let outcome = pool.process(admitted, permit, service).await;
            let _ = tx.send(outcome);
        });
        let timeout = self.config.job_timeout.0;
        rx.await.unwrap_or(Err(JobError::Timeout { timeout }))
    }

    fn admit(&self) -> Result<(), JobError> {
        let before = self.pending.fetch_add(1, Ordering::SeqCst);
        let cap = self.config.job_capacity;
        if cap > 0 && before >= cap {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(JobError::QueueFull { capacity: cap, retry_after_s: self.retry_after_s() });
        }
        Ok(())
    }

    /// Real seconds until a queue slot is likely to free: the mean service time of one
    /// job divided over the workers, at least 1 s (the header's resolution).
    fn retry_after_s(&self) -> u64 {
        let sim = self.mean_service_s / self.config.workers.max(1) as f64;
        let real = sim / self.scale.factor();
        real.ceil().max(1.0) as u64
    }

    /// Waits for a worker unless `permit` already holds one, then serves the job.
    async fn process(
        &self,
        admitted: Instant,
        permit: Option<OwnedSemaphorePermit>,
        service: Duration,
    ) -> Result<JobDone, JobError> {
        let timeout = self.config.job_timeout.0;
        let deadline = admitted + self.scale.to_real(timeout.0);
        let _permit = match permit {
            Some(permit) => permit,
            None => {
                let waited = timeout_at(deadline, Arc::clone(&self.permits).acquire_owned()).await;
                self.pending.fetch_sub(1, Ordering::SeqCst);
                let Ok(Ok(permit)) = waited else {
                    self.timed_out.fetch_add(1, Ordering::Relaxed);
                    return Err(JobError::Timeout { timeout });
                };
                permit
            }
        };
        let queue_wait = self.scale.to_sim(admitted.elapsed());
        self.processing.fetch_add(1, Ordering::SeqCst);
        let served = {
            let _busy = self.cpu.busy();
            timeout_at(deadline, super::timer::sleep(self.scale.to_real(service))).await
        };
        self.processing.fetch_sub(1, Ordering::SeqCst);
        match served {
            Ok(()) => {
                self.completed.fetch_add(1, Ordering::Relaxed);
                Ok(JobDone { queue_wait, service })
            }
            Err(_) => {
                self.timed_out.fetch_add(1, Ordering::Relaxed);
                Err(JobError::Timeout { timeout })
            }
        }
    }

    /// A snapshot of the pool for `/ready` and `/metrics`.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            workers: self.config.workers,
            job_capacity: self.config.job_capacity,
            pending: self.pending.load(Ordering::SeqCst),
            processing: self.processing.load(Ordering::SeqCst),
            completed: self.completed.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            timed_out: self.timed_out.load(Ordering::Relaxed),
            cpu_utilisation: self.config.cpu_from_busy(self.cpu.utilisation()),
            busy_sim_s: self.scale.to_sim(self.cpu.busy_total()).as_secs_f64(),
        }
    }

    /// The pool's configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Whether a new job would be refused right now.
    pub fn is_full(&self) -> bool {
        let cap = self.config.job_capacity;
        cap > 0 && self.pending.load(Ordering::SeqCst) >= cap
    }
}

/// A point-in-time view of a [`WorkerPool`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolStats {
    /// Configured workers.
    pub workers: usize,
    /// Configured queue capacity (0 = unbounded).
    pub job_capacity: usize,
    /// Jobs waiting for a worker.
    pub pending: usize,
    /// Jobs being served.
    pub processing: usize,
    /// Jobs completed since start.
    pub completed: u64,
    /// Jobs refused because the queue was full.
    pub rejected: u64,
    /// Jobs failed by the job timeout.
    pub timed_out: u64,
    /// The CPU gauge over the CPU window: `base_cpu + (1 - base_cpu) *` the busy fraction
    /// of worker capacity.
    pub cpu_utilisation: f64,
    /// Busy worker-seconds since start (simulated).
    pub busy_sim_s: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(workers: usize, cap: usize, timeout_s: u64) -> Arc<WorkerPool> {
        let config = PoolConfig {
            workers,
            job_capacity: cap,
            job_timeout: PositiveDuration(HumanDuration(Duration::from_secs(timeout_s))),
            ..PoolConfig::default()
        };
        WorkerPool::new(config, TimeScale::REAL_TIME, 10.0)
    }

    #[tokio::test(start_paused = true)]
    async fn fifo_queue_makes_the_second_job_wait_one_service_time() {
        let p = pool(1, 0, 600);
        let (a, b) = tokio::join!(p.run(Duration::from_secs(5)), p.run(Duration::from_secs(5)));
        let (a, b) = (a.ok(), b.ok());
        assert_eq!(a.map(|r| r.queue_wait), Some(Duration::ZERO));
        assert_eq!(b.map(|r| r.queue_wait), Some(Duration::from_secs(5)));
    }

    #[tokio::test(start_paused = true)]
    async fn full_queue_refuses_with_retry_after() {
        let p = pool(1, 1, 600);
        let p1 = Arc::clone(&p);
        let running = tokio::spawn(async move { p1.run(Duration::from_secs(5)).await });
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_millis(1)).await;
        let p2 = Arc::clone(&p);
        let queued = tokio::spawn(async move { p2.run(Duration::from_secs(5)).await });
        tokio::task::yield_now().await;
        let refused = p.run(Duration::from_secs(5)).await;
        assert_eq!(refused, Err(JobError::QueueFull { capacity: 1, retry_after_s: 10 }));
        assert!(running.await.is_ok_and(|r| r.is_ok()));
        assert!(queued.await.is_ok_and(|r| r.is_ok()));
        assert_eq!(p.stats().rejected, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_that_finds_a_free_worker_does_not_take_a_queue_slot() {
        // Regression: the first job used to count as pending until its task first ran, so
        // a job arriving in that gap was refused although the queue was empty.
        let p = pool(1, 1, 600);
        let five = Duration::from_secs(5);
        let (a, b, c) = tokio::join!(p.run(five), p.run(five), p.run(five));
        assert_eq!(a.map(|r| r.queue_wait), Ok(Duration::ZERO));
        assert_eq!(b.map(|r| r.queue_wait), Ok(five));
        assert_eq!(c, Err(JobError::QueueFull { capacity: 1, retry_after_s: 10 }));
    }

    #[tokio::test(start_paused = true)]
    async fn cpu_gauge_adds_the_base_cpu_to_the_busy_fraction() {
        // Two workers, base 20%: one busy for the whole window is busy fraction 1/2, so
        // the gauge is 0.2 + 0.8 * 0.5 = 0.6 (by hand); both busy is 100%.
        let config = PoolConfig { workers: 2, base_cpu: 0.2, ..PoolConfig::default() };
        let p = WorkerPool::new(config, TimeScale::REAL_TIME, 10.0);
        let p1 = Arc::clone(&p);
        let one = tokio::spawn(async move { p1.run(Duration::from_secs(300)).await });
        tokio::time::sleep(Duration::from_secs(120)).await;
        let half = p.stats().cpu_utilisation;
        assert!((half - 0.6).abs() < 0.011, "one of two busy: {half}");
        let p2 = Arc::clone(&p);
        let two = tokio::spawn(async move { p2.run(Duration::from_secs(300)).await });
        tokio::time::sleep(Duration::from_secs(120)).await;
        let full = p.stats().cpu_utilisation;
        assert!((full - 1.0).abs() < 0.011, "both busy: {full}");
        assert!(one.await.is_ok_and(|r| r.is_ok()) && two.await.is_ok_and(|r| r.is_ok()));
        tokio::time::sleep(Duration::from_secs(120)).await;
        let idle = p.stats().cpu_utilisation;
        assert!((idle - 0.2).abs() < 1e-9, "idle is the base: {idle}");
    }

    #[test]
    fn base_cpu_outside_zero_to_one_is_refused_by_name() {
        for bad in [-0.1, 1.0, 1.5, f64::NAN] {
            let e = PoolConfig::validate_base_cpu(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("base_cpu"), "{bad}: {e}");
        }
        assert!(PoolConfig::validate_base_cpu(0.0).is_ok() && PoolConfig::validate_base_cpu(0.99).is_ok());
        // 0.3 + 0.7 x 0.5 by hand, to floating-point rounding.
        assert!((cpu_from_busy(0.3, 0.5) - 0.65).abs() < 1e-12);
    }

    #[tokio::test(start_paused = true)]
    async fn job_longer_than_the_timeout_fails() {
        let p = pool(1, 0, 3);
        let r = p.run(Duration::from_secs(5)).await;
        assert!(matches!(r, Err(JobError::Timeout { .. })));
        assert_eq!(p.stats().timed_out, 1);
        assert_eq!(p.stats().processing, 0);
    }
}
