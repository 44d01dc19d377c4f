//! The modelled PostgreSQL connection pool (as Prisma's): `size` connections; a query
//! takes one for its service time; a request that finds none free waits, and fails with
//! `db_pool_timeout` if none frees within `timeout` (Prisma's P2024, `pool_timeout`).
//!
//! Waiting is FIFO (tokio's semaphore is fair), so under exhaustion the oldest waiter is
//! served first, as in the real pool. [`DbPool::hold`] takes connections and keeps them,
//! as a leak or a long migration would: the drill's way to exhaust the pool for real.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// No connection became free within the pool timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolTimeout;

/// A point-in-time view of the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSnapshot {
    /// Configured connections.
    pub size: usize,
    /// Connections checked out (by queries or held).
    pub in_use: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
    /// Acquisitions that timed out since start.
    pub timeouts: u64,
}

/// The connection pool.
#[derive(Debug)]
pub struct DbPool {
    size: usize,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    timeouts: AtomicU64,
    held: Mutex<Vec<OwnedSemaphorePermit>>,
}

impl DbPool {
    /// A pool of `size` connections.
    pub fn new(size: usize) -> Self {
        Self {
            size,
            permits: Arc::new(Semaphore::new(size)),
            waiting: AtomicUsize::new(0),
            timeouts: AtomicU64::new(0),
            held: Mutex::new(Vec::new()),
        }
    }

    /// Checks out a connection, waiting at most `timeout` (real time).
    pub async fn acquire(&self, timeout: Duration) -> Result<OwnedSemaphorePermit, PoolTimeout> {
        if let Ok(conn) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(conn);
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let got = tokio::time::timeout(timeout, Arc::clone(&self.permits).acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match got {
            Ok(Ok(conn)) => Ok(conn),
            _ => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(PoolTimeout)
            }
        }
    }

    /// Runs one query: a connection for `service` (real time), waiting at most `timeout`.
    pub async fn query(&self, service: Duration, timeout: Duration) -> Result<(), PoolTimeout> {
        let _conn = self.acquire(timeout).await?;
        tokio::time::sleep(service).await;
        Ok(())
    }

    /// Takes up to `n` more connections (waiting for busy ones to come back) and keeps
    /// them until [`DbPool::release_held`]; returns how many are held in all.
    pub async fn hold(&self, n: usize) -> usize {
        let room = self.size.saturating_sub(self.held_count());
        for _ in 0..n.min(room) {
            let Ok(conn) = Arc::clone(&self.permits).acquire_owned().await else {
                break;
            };
            self.lock_held().push(conn);
        }
        self.held_count()
    }

    /// Gives back every held connection; returns how many were held.
    pub fn release_held(&self) -> usize {
        let released: Vec<_> = self.lock_held().drain(..).collect();
        released.len()
    }

    /// A snapshot for health and metrics.
    pub fn snapshot(&self) -> PoolSnapshot {
        PoolSnapshot {
            size: self.size,
            in_use: self.size.saturating_sub(self.permits.available_permits()),
            waiting: self.waiting.load(Ordering::SeqCst),
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }

    fn held_count(&self) -> usize {
        self.lock_held().len()
    }

    fn lock_held(&self) -> std::sync::MutexGuard<'_, Vec<OwnedSemaphorePermit>> {
        match self.held.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waiters_past_the_timeout_fail_and_the_rest_are_served_in_order() {
        // Pool 2, queries of 400 ms, timeout 600 ms, 6 at once. By hand: queries 0-1 get
        // a connection at 0, 2-3 at 400 ms (< 600), 4-5 would get one at 800 ms (> 600):
        // they time out. 4 served, 2 timeouts.
        let pool = Arc::new(DbPool::new(2));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let pool = Arc::clone(&pool);
                tokio::spawn(async move { pool.query(Duration::from_millis(400), Duration::from_millis(600)).await })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            if matches!(t.await, Ok(Ok(()))) {
                ok += 1;
            }
        }
        assert_eq!(ok, 4);
        assert_eq!(pool.snapshot().timeouts, 2);
        assert_eq!(pool.snapshot().in_use, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn held_connections_exhaust_the_pool_until_released() {
        let pool = DbPool::new(3);
        assert_eq!(pool.hold(5).await, 3, "never more than the pool size");
        assert_eq!(pool.snapshot().in_use, 3);
        assert_eq!(pool.acquire(Duration::from_secs(1)).await.err(), Some(PoolTimeout));
        assert_eq!(pool.release_held(), 3);
        assert!(pool.acquire(Duration::from_secs(1)).await.is_ok());
    }
}
