//! Sub-millisecond sleeps for modelled service times.
//!
//! tokio's timer wheel ticks once a millisecond, so `tokio::time::sleep(20ms)` wakes
//! 20-21 ms later: a bias of half a millisecond on every modelled service time, which
//! is most of the error budget of a latency-accuracy check (and all of it for a 1 ms
//! service time at a high time scale). [`sleep`] sleeps the bulk on tokio's timer and
//! the last stretch on one timer thread that waits with the kernel's precision (timer
//! slack 1 us): a heap of deadlines, a condvar wait until the earliest, a oneshot per
//! sleeper. Only sleeps within [`COARSE_MARGIN`] of their deadline are on the heap, so
//! it stays small whatever the load.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// How long before its deadline a sleep leaves tokio's timer for the precise one.
pub const COARSE_MARGIN: Duration = Duration::from_micros(1500);

/// Sleeps `d` with sub-millisecond precision.
pub async fn sleep(d: Duration) {
    sleep_until(tokio::time::Instant::now() + d).await;
}

/// Sleeps until `deadline` with sub-millisecond precision.
///
/// When tokio's clock is paused or advanced (tests), the deadline is far from the real
/// clock after the coarse sleep; the sleep then stays on tokio's timer, so paused-time
/// tests keep their exact virtual durations.
pub async fn sleep_until(deadline: tokio::time::Instant) {
    let now = tokio::time::Instant::now();
    if deadline <= now {
        return;
    }
    if deadline - now > COARSE_MARGIN {
        tokio::time::sleep_until(deadline - COARSE_MARGIN).await;
    }
    let target = deadline.into_std();
    let left = target.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return;
    }
    match timer().filter(|_| left <= COARSE_MARGIN * 2) {
        Some(t) => {
            let _ = t.add(target).await;
        }
        // A virtual clock, or no timer thread (the OS refused one): tokio's timer.
        None => tokio::time::sleep_until(deadline).await,
    }
}

struct Entry {
    at: Instant,
    seq: u64,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

#[derive(Default)]
struct Heap {
    entries: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

struct Timer {
    heap: Mutex<Heap>,
    wake: Condvar,
}

fn timer() -> Option<&'static Timer> {
    static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();
    *TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::new(Timer { heap: Mutex::default(), wake: Condvar::new() }));
        std::thread::Builder::new().name("gameday-timer".into()).spawn(move || t.run()).ok().map(|_| t)
    })
}

impl Timer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Heap> {
        self.heap.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add(&self, at: Instant) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut heap = self.lock();
        heap.seq += 1;
        let seq = heap.seq;
        let earliest = heap.entries.peek().is_none_or(|Reverse(e)| at < e.at);
        heap.entries.push(Reverse(Entry { at, seq, tx }));
        drop(heap);
        if earliest {
            self.wake.notify_one();
        }
        rx
    }

    fn run(&self) {
        #[cfg(target_os = "linux")]
        let _ = nix::sys::prctl::set_timerslack(1_000);
        let mut heap = self.lock();
        loop {
            let now = Instant::now();
            while heap.entries.peek().is_some_and(|Reverse(e)| e.at <= now) {
                if let Some(Reverse(e)) = heap.entries.pop() {
                    let _ = e.tx.send(());
                }
            }
            heap = match heap.entries.peek().map(|Reverse(e)| e.at - now) {
                Some(wait) => match self.wake.wait_timeout(heap, wait) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                },
                None => self.wake.wait(heap).unwrap_or_else(std::sync::PoisonError::into_inner),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sleeps_end_within_a_fraction_of_a_millisecond_of_their_deadline() {
        // tokio's own sleep overshoots by up to a whole tick (1 ms); this one must land
        // after the deadline and, at the median, well under a tick past it.
        let mut late_us = Vec::new();
        for i in 0..40u64 {
            let d = Duration::from_micros(2_000 + 137 * i);
            let t0 = Instant::now();
            sleep(d).await;
            let took = t0.elapsed();
            assert!(took >= d, "woke {:?} early", d - took);
            late_us.push((took - d).as_micros());
        }
        late_us.sort_unstable();
        assert!(late_us[late_us.len() / 2] < 300, "median overshoot {} us", late_us[late_us.len() / 2]);
    }
}
