//! The modelled Redis cache: a hit ratio, a service time, and an outage.
//!
//! While up, a lookup takes `cache_time` and hits with probability `cache_hit_ratio`
//! (seeded draws). While down (the drill's "Redis down"), every cache call fails after
//! `cache_down_penalty` (the client's connect timeout), lookups count as misses and
//! errors, and callers fall back to the database: reads get slower and the pool busier,
//! which is what the runbook's dashboards would show.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

use crate::kit::{Sampler, TimeScale};

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The value was cached.
    Hit,
    /// Not cached: read the database.
    Miss,
    /// The cache is down: read the database.
    Down,
}

/// Counters since start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CacheCounts {
    /// Lookups that hit.
    pub hits: u64,
    /// Lookups that missed (including those made while the cache was down).
    pub misses: u64,
    /// Cache calls that failed because the cache was down.
    pub errors: u64,
}

impl CacheCounts {
    /// Hits over lookups (1 before any lookup, so an idle cache does not alarm).
    pub fn hit_ratio(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            1.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

/// The cache model.
#[derive(Debug)]
pub struct Cache {
    up: AtomicBool,
    hit_ratio: f64,
    time: Sampler,
    down_penalty: Duration,
    scale: TimeScale,
    rng: Mutex<StdRng>,
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
}

impl Cache {
    /// A cache that is up; `down_penalty` is simulated time.
    pub fn new(hit_ratio: f64, time: Sampler, down_penalty: Duration, scale: TimeScale, rng: Mutex<StdRng>) -> Self {
        Self {
            up: AtomicBool::new(true),
            hit_ratio,
            time,
            down_penalty,
            scale,
            rng,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    /// Takes the cache down or brings it back.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// Whether the cache answers.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// One lookup, with its cost.
    pub async fn get(&self) -> Lookup {
        if !self.call().await {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Lookup::Down;
        }
        let hit = {
            let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            rng.random_bool(self.hit_ratio.clamp(0.0, 1.0))
        };
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        if hit {
            Lookup::Hit
        } else {
            Lookup::Miss
        }
    }

    /// A write or invalidation, with its cost; false if the cache is down.
    pub async fn set(&self) -> bool {
        self.call().await
    }

    /// `PING`: true if the cache answers.
    pub async fn ping(&self) -> bool {
        self.call().await
    }

    /// Counters since start.
    pub fn counts(&self) -> CacheCounts {
        CacheCounts {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    /// Pays one call's cost; false (after the penalty) if the cache is down.
    async fn call(&self) -> bool {
        if !self.is_up() {
            tokio::time::sleep(self.scale.to_real(self.down_penalty)).await;
            self.errors.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let t = {
            let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.time.sample(&mut *rng)
        };
        tokio::time::sleep(self.scale.to_real(t)).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cache(hit_ratio: f64) -> Cache {
        let rng = Mutex::new(StdRng::seed_from_u64(3));
        Cache::new(hit_ratio, Sampler::Fixed(0.002), Duration::from_millis(50), TimeScale::REAL_TIME, rng)
    }

    #[tokio::test(start_paused = true)]
    async fn the_observed_hit_ratio_converges_on_the_configured_one() {
        let c = cache(0.8);
        for _ in 0..10_000 {
            c.get().await;
        }
        // Binomial(10000, 0.8): sd = sqrt(10000 * 0.8 * 0.2) = 40 hits, so +-1% is 2.5 sd.
        assert!((c.counts().hit_ratio() - 0.8).abs() < 0.01, "{:?}", c.counts());
    }

    #[tokio::test(start_paused = true)]
    async fn a_down_cache_misses_after_the_penalty() {
        let c = cache(1.0);
        let t = tokio::time::Instant::now();
        assert_eq!(c.get().await, Lookup::Hit);
        assert_eq!(t.elapsed(), Duration::from_millis(2));
        c.set_up(false);
        let t = tokio::time::Instant::now();
        assert_eq!(c.get().await, Lookup::Down);
        assert_eq!(t.elapsed(), Duration::from_millis(50));
        assert_eq!(c.counts(), CacheCounts { hits: 1, misses: 1, errors: 1 });
    }
}
