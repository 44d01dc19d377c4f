//! Open-model pacing: one seeded schedule hands intended send times to every user.
//!
//! The [`Pacer`] runs the arrival [`Schedule`] on its own OS thread, which sleeps with
//! the kernel's precision (timer slack set to 1 us; tokio's timer wheel would round
//! every send up to the next millisecond) and releases each intended send time into a
//! channel at that time (up to [`EARLY`] before it, a batch per wake-up). Idle users
//! wait on the channel; the first free one takes the slot and sends at once, and latency is measured *from the intended time*, as wrk2
//! does: when the server stalls and every user is stuck, the slots queue up, the sends
//! that should have happened are late, and their lateness is part of the latency they
//! report (no coordinated omission). The channel is bounded, so a generator that cannot
//! keep up holds the schedule back instead of growing memory; that shows up as lag.
//!
//! Each slot also carries its request kind, drawn in schedule order from the run's one
//! seeded [`KindDraw`]: a seed fixes the whole sequence of requests whichever user sends
//! each one, so the simulator can replay exactly the sample a live run sent.
//!
//! How late each send was is the generator's health: [`Health`] judges the lag the
//! users recorded against the scenario's bound (default: more than 1% of sends over
//! 10 ms of real time late = saturated), and a saturated run is invalid, never a pass.
//!
//! A send is late for one of two reasons, and only one is the generator's:
//! - **the generator's own lateness**: a user was free, but the pacing thread or the
//!   users' runtime woke too late (CPU-bound, too few cores, a busy machine). The
//!   measurement is not to be trusted: `generator saturated`, run invalid (exit 3);
//! - **every user was waiting on the target**: the slot came due while all users had a
//!   request outstanding, and it went out only when one of those requests gave up at
//!   `request_timeout`. The target stopped answering; the generator did as asked, and
//!   the late sends' latency (from the intended time) is the truth about the outage.
//!   The users are sized so this is rare while users last (see [`super::sizing`]); when
//!   it passes the bound anyway (`max_users` reached), the run *fails* (exit 1) saying
//!   the target stopped answering, with its timeouts, never `generator saturated`.
//!
//! The rule, per late send, costs nothing on a normal run: the user that takes a slot
//! knows whether its own previous request timed out and when; when that request was
//! still outstanding at the slot's intended time, the slot waited for this user, which
//! the target held (a free user would have taken the slot at its time, the channel
//! hands each slot to a waiting user). Only those late sends touch a shared counter
//! ([`Pacer::held`]); [`Health`] takes them out of the generator's lateness. A schedule
//! the generator abandons counts against the target only when the target's hold alone
//! passes the bound.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::arrival::{KindDraw, Schedule};
use crate::clock::Clock;

/// Slots are released up to this long before their time, and users send at once: the
/// pacing thread then sleeps once per batch of slots due within this span instead of
/// once per slot (at 30 000/s that is a sixth of the wake-ups, which were a sixth of
/// the generator's CPU in `perf`), and an early send costs the schedule at most this
/// much jitter. Latency counts from the earlier of the intended and the actual send, so
/// an early send is never credited with time it did not wait.
pub const EARLY: Duration = Duration::from_micros(200);

/// The longest single sleep, so a cancelled run stops promptly.
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// One intended send: when, and which request kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The intended send instant.
    pub at: Instant,
    /// The request kind (index into the mix).
    pub kind: usize,
}

/// Hands out intended sends.
#[derive(Debug)]
pub struct Pacer {
    rx: flume::Receiver<Slot>,
    clock: Clock,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    issued: AtomicU64,
    last_send_us: AtomicU64,
    stop: AtomicBool,
    abandoned: AtomicBool,
    /// Late sends that waited for a user the target held (see the module doc).
    held: AtomicU64,
    /// A send later than this (real microseconds) is late.
    late_after_us: u64,
}

impl Pacer {
    /// Starts releasing `schedule` (offsets from the clock's start), each slot with the
    /// next kind of `kinds`, on a pacing thread; at most `backlog` released slots wait
    /// for a user. A generator still behind the
    /// schedule `give_up` (real time) after the start abandons the rest, so a saturated
    /// run ends on time and says how much it could not send. A send more than
    /// `late_after` behind its slot is late.
    pub fn start(
        schedule: Schedule,
        kinds: KindDraw,
        clock: Clock,
        backlog: usize,
        give_up: Duration,
        late_after: Duration,
    ) -> Result<Self, std::io::Error> {
        let (tx, rx) = flume::bounded(backlog.max(1));
        let late_after_us = u64::try_from(late_after.as_micros()).unwrap_or(u64::MAX);
        let shared = Arc::new(Shared { late_after_us, ..Shared::default() });
        let thread_shared = Arc::clone(&shared);
        let give_up_at = clock.started().into_std() + give_up;
        std::thread::Builder::new()
            .name("gameday-pacer".into())
            .spawn(move || release(schedule, kinds, clock, give_up_at, &tx, &thread_shared))?;
        Ok(Self { rx, clock, shared })
    }

    /// The next intended send, or `None` once the schedule is over (or abandoned: the
    /// slots still queued are not sent, so an abandoned run ends within one request
    /// timeout instead of draining a backlog the target holds).
    pub async fn next(&self) -> Option<Slot> {
        let slot = self.rx.recv_async().await.ok()?;
        (!self.shared.abandoned.load(Ordering::Relaxed)).then_some(slot)
    }

    /// Stops releasing slots (Ctrl-C); users then drain and stop.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// Notes that a request went out at `at` (for the rate the generator sustained).
    pub fn sent(&self, at: Instant) {
        let us = u64::try_from(at.saturating_duration_since(self.clock.started()).as_micros()).unwrap_or(u64::MAX);
        self.shared.last_send_us.fetch_max(us, Ordering::Relaxed);
    }

    /// Notes a send `lag` behind its slot that waited for a user the target held (its
    /// previous request was outstanding at the slot's time and then timed out); only a
    /// late one is counted. Called on that rare path only.
    #[cold]
    pub fn held(&self, lag: Duration) {
        if u64::try_from(lag.as_micros()).unwrap_or(u64::MAX) > self.shared.late_after_us {
            self.shared.held.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Late sends that waited for a user the target held.
    pub fn held_count(&self) -> u64 {
        self.shared.held.load(Ordering::Relaxed)
    }

    /// Real time from the start to the last send.
    pub fn sending_span(&self) -> Duration {
        Duration::from_micros(self.shared.last_send_us.load(Ordering::Relaxed))
    }

    /// Whether the generator fell so far behind that it abandoned part of the schedule.
    pub fn abandoned(&self) -> bool {
        self.shared.abandoned.load(Ordering::Relaxed)
    }

    /// Slots released so far.
    pub fn issued(&self) -> u64 {
        self.shared.issued.load(Ordering::Relaxed)
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The pacing thread: sleeps until each slot is due, then releases it.
fn release(
    schedule: Schedule,
    mut kinds: KindDraw,
    clock: Clock,
    give_up_at: std::time::Instant,
    tx: &flume::Sender<Slot>,
    shared: &Shared,
) {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_timerslack(1_000);
    let start = clock.started().into_std();
    for offset in schedule {
        let due = start + clock.to_real(offset);
        loop {
            if shared.stop.load(Ordering::Relaxed) || goose::is_killswitch_triggered() {
                return;
            }
            let now = std::time::Instant::now();
            if now + EARLY >= due {
                break;
            }
            std::thread::sleep((due - now - EARLY).min(MAX_SLEEP));
        }
        if std::time::Instant::now() > give_up_at {
            shared.abandoned.store(true, Ordering::Relaxed);
            return;
        }
        if tx.send(Slot { at: Instant::from_std(due), kind: kinds.next_kind() }).is_err() {
            return;
        }
        shared.issued.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a user needs once the run has started: the clock, and the pacer when open.
#[derive(Clone, Debug)]
pub struct Started {
    /// The run's clock; time zero is when the schedule began.
    pub clock: Clock,
    /// Open model: the shared pacer.
    pub pacer: Option<Arc<Pacer>>,
}

type Opener = Box<dyn FnOnce() -> Result<Started, StartError> + Send>;

/// Why the run's schedule never started.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StartError {
    /// The barrier was never opened.
    #[error("the run never started")]
    NeverStarted,
    /// No user arrived at the barrier.
    #[error("no user started")]
    NoUser,
    /// The pacing thread could not be spawned (shared: every waiting user sees it).
    #[error("cannot start the pacing thread: {0}")]
    Pacing(Arc<std::io::Error>),
}

/// Starts the run's clock once every user is up, so the first slots are not late
/// because goose was still launching users (it starts one per millisecond at best).
pub struct StartBarrier {
    expected: usize,
    ready: AtomicUsize,
    patience: Duration,
    opener: Mutex<Option<Opener>>,
    tx: watch::Sender<Option<Result<Started, StartError>>>,
}

impl std::fmt::Debug for StartBarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartBarrier")
            .field("expected", &self.expected)
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

impl StartBarrier {
    /// A barrier that calls `open` when `expected` users have arrived, or after `patience`.
    pub fn new(expected: usize, patience: Duration, open: Opener) -> Self {
        let (tx, _) = watch::channel(None);
        Self { expected, ready: AtomicUsize::new(0), patience, opener: Mutex::new(Some(open)), tx }
    }

    /// A barrier that is already open (closed model: users start as goose launches them).
    pub fn already(started: Started) -> Self {
        let (tx, _) = watch::channel(Some(Ok(started)));
        Self { expected: 0, ready: AtomicUsize::new(0), patience: Duration::ZERO, opener: Mutex::new(None), tx }
    }

    /// A user is up; waits until the run starts.
    pub async fn arrive(&self) -> Result<Started, StartError> {
        if self.ready.fetch_add(1, Ordering::AcqRel) + 1 >= self.expected {
            self.open();
        }
        self.started().await
    }

    /// Waits until the run starts (opening the barrier after `patience` regardless).
    pub async fn started(&self) -> Result<Started, StartError> {
        let mut rx = self.tx.subscribe();
        if tokio::time::timeout(self.patience, rx.wait_for(Option::is_some)).await.is_err() {
            self.open();
        }
        let opened = self.tx.borrow().clone();
        opened.unwrap_or(Err(StartError::NeverStarted))
    }

    /// The start, if it happened.
    pub fn get(&self) -> Option<Result<Started, StartError>> {
        self.tx.borrow().clone()
    }

    fn open(&self) {
        let opener = match self.opener.lock() {
            Ok(mut o) => o.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(open) = opener {
            self.tx.send_replace(Some(open()));
        }
    }
}

/// The bound past which the generator is saturated.
#[derive(Clone, Copy, Debug)]
pub struct LateBound {
    /// A send later than this (real time) behind its intended time is late.
    pub late_after: Duration,
    /// The share of late sends the run tolerates.
    pub max_late_ratio: f64,
}

/// How well the generator kept to the schedule.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Health {
    /// Requests sent on the open-model schedule.
    pub sent: u64,
    /// Requests the schedule held (its expected count over the run).
    pub scheduled: u64,
    /// Sends later than the bound.
    pub late: u64,
    /// `late / sent`.
    pub late_ratio: f64,
    /// The bound, real milliseconds.
    pub late_after_ms: f64,
    /// The tolerated late ratio.
    pub max_late_ratio: f64,
    /// Send lag percentiles, real milliseconds.
    pub lag_p50_ms: f64,
    /// 99th percentile send lag, real milliseconds.
    pub lag_p99_ms: f64,
    /// Largest send lag, real milliseconds.
    pub lag_max_ms: f64,
    /// Scheduled rate, requests per simulated second (mean over the run).
    pub scheduled_rate: f64,
    /// Rate the generator actually sent at, requests per simulated second.
    pub achieved_rate: f64,
    /// Whether the generator fell so far behind that it gave up on the rest of the schedule.
    pub abandoned: bool,
    /// Whether the generator itself fell behind past the bound (the sends the target
    /// held left out).
    pub saturated: bool,
    /// Late sends that waited for a user the target held: every user was waiting on a
    /// request that then timed out (see the module doc). Part of `late`.
    #[serde(default)]
    pub late_held_by_target: u64,
    /// Users the run started.
    #[serde(default)]
    pub users: u64,
    /// Whether the sends the target held passed the bound: the target stopped answering
    /// and held every user, which fails the run (it is not the generator's lateness).
    #[serde(default)]
    pub held_by_target: bool,
}

/// What the pacer and the users saw of the schedule, besides the lag.
#[derive(Clone, Copy, Debug)]
pub struct Kept {
    /// Requests the schedule held (its expected count over the run when abandoned).
    pub scheduled: u64,
    /// Whether the generator gave up on part of the schedule.
    pub abandoned: bool,
    /// Late sends that waited for a user the target held ([`Pacer::held_count`]).
    pub held: u64,
    /// Users the run started.
    pub users: usize,
}

impl Health {
    /// Judges the recorded send lag (real microseconds) of the sends, made over
    /// `sending_sim_s` simulated seconds, against the schedule `kept` over
    /// `duration_sim_s`. Late sends the target held are not the generator's lateness;
    /// past the bound they make `held_by_target`, and an abandoned schedule is then the
    /// target's doing too.
    pub fn judge(
        lag_us: &Histogram<u64>,
        bound: LateBound,
        kept: Kept,
        duration_sim_s: f64,
        sending_sim_s: f64,
    ) -> Self {
        let Kept { scheduled, abandoned, held, users } = kept;
        let sent = lag_us.len();
        let late_us = u64::try_from(bound.late_after.as_micros()).unwrap_or(u64::MAX);
        let late = sent - lag_us.count_between(0, late_us).min(sent);
        let ratio = |n: u64| if sent == 0 { 0.0 } else { n as f64 / sent as f64 };
        let held = held.min(late);
        let held_by_target = ratio(held) > bound.max_late_ratio;
        let own_late = ratio(late - held) > bound.max_late_ratio;
        let late_ratio = ratio(late);
        let ms = |us: u64| us as f64 / 1e3;
        Self {
            sent,
            scheduled,
            late,
            late_ratio,
            late_after_ms: bound.late_after.as_secs_f64() * 1e3,
            max_late_ratio: bound.max_late_ratio,
            lag_p50_ms: ms(lag_us.value_at_quantile(0.5)),
            lag_p99_ms: ms(lag_us.value_at_quantile(0.99)),
            lag_max_ms: ms(lag_us.max()),
            scheduled_rate: scheduled as f64 / duration_sim_s.max(f64::MIN_POSITIVE),
            achieved_rate: sent as f64 / sending_sim_s.max(f64::MIN_POSITIVE),
            abandoned,
            saturated: own_late || (abandoned && !held_by_target),
            late_held_by_target: held,
            users: users as u64,
            held_by_target: held_by_target && !own_late,
        }
    }

    /// Why the target, not the generator, made the sends late (when `held_by_target`).
    pub fn held_reason(&self) -> String {
        format!(
            "{} of {} sends ({:.1}%, bound {:.1}%) were more than {:.0} ms late because all {} users were waiting on requests that then timed out{}; the generator kept up (raise `max_users` to keep to the schedule through an outage)",
            self.late_held_by_target,
            self.sent,
            self.late_held_by_target as f64 * 100.0 / self.sent.max(1) as f64,
            self.max_late_ratio * 100.0,
            self.late_after_ms,
            self.users,
            if self.abandoned {
                format!(", and it sent {} of {} scheduled requests", self.sent, self.scheduled)
            } else {
                String::new()
            },
        )
    }

    /// The one-line reason of a saturated run.
    pub fn reason(&self) -> String {
        format!(
            "generator saturated: {}{:.1}% of {} sends were more than {:.0} ms late (bound {:.1}%); lag p99 {:.0} ms, max {:.0} ms; it sustained {:.1} req/s of the {:.1} req/s scheduled",
            if self.abandoned { format!("it sent {} of {} scheduled requests and gave up on the rest; ", self.sent, self.scheduled) } else { String::new() },
            self.late_ratio * 100.0,
            self.sent,
            self.late_after_ms,
            self.max_late_ratio * 100.0,
            self.lag_p99_ms,
            self.lag_max_ms,
            self.achieved_rate,
            self.scheduled_rate,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::arrival::{Process, RateCurve};
    use crate::load::record::new_histogram;
    use gameday_mocks::TimeScale;

    #[tokio::test]
    async fn slots_are_released_at_their_time_on_the_scaled_clock() {
        // A constant 10/s schedule over 1 s simulated at 2x: slots 50 ms real apart, each
        // released no earlier than EARLY before its time. (How many fit in the horizon
        // is the schedule's business, tested in `arrival`.)
        let curve: RateCurve = toml::Value::String("10/s".into()).try_into().unwrap();
        let clock = Clock::start(TimeScale::new(2.0).unwrap());
        let schedule = Schedule::new(curve, Process::Constant, 1, Duration::from_secs(1));
        let kinds = KindDraw::new(&[1, 3], 5).unwrap();
        let pacer = Pacer::start(schedule, kinds.clone(), clock, 4, Duration::from_secs(60), Duration::from_millis(10))
            .unwrap();
        let mut slots = Vec::new();
        let mut drawn = Vec::new();
        while let Some(Slot { at, kind }) = pacer.next().await {
            let now = Instant::now();
            assert!(now + EARLY + Duration::from_micros(5) >= at, "released {:?} early", at - now);
            slots.push((at, now));
            drawn.push(kind);
        }
        // The kinds are the draw's stream in schedule order.
        let mut expected = kinds;
        assert_eq!(drawn, (0..drawn.len()).map(|_| expected.next_kind()).collect::<Vec<_>>());
        assert!(slots.len() >= 9, "{} slots", slots.len());
        assert_eq!(pacer.issued(), slots.len() as u64);
        let first = slots[0].0 - clock.started();
        for (i, (at, _)) in slots.iter().enumerate() {
            let expected = first + Duration::from_millis(50 * i as u64);
            let got = *at - clock.started();
            assert!(got.abs_diff(expected) < Duration::from_micros(2), "slot {i}: {got:?}");
        }
    }

    #[test]
    fn health_counts_sends_past_the_bound() {
        // 990 sends 1 ms late and 10 sends 50 ms late: 1% late at a 10 ms bound.
        let mut lag = new_histogram();
        lag.record_n(1_000, 990).unwrap();
        lag.record_n(50_000, 10).unwrap();
        let bound = LateBound { late_after: Duration::from_millis(10), max_late_ratio: 0.01 };
        let h = Health::judge(&lag, bound, kept(0, false), 100.0, 100.0);
        assert_eq!((h.sent, h.late), (1000, 10));
        assert!(!h.saturated, "exactly at the bound is not past it");
        lag.record(50_000).unwrap();
        let h = Health::judge(&lag, bound, kept(0, false), 100.0, 100.0);
        assert!(h.saturated);
        assert!(h.reason().contains("generator saturated"), "{}", h.reason());
    }

    fn kept(held: u64, abandoned: bool) -> Kept {
        Kept { scheduled: 1000, abandoned, held, users: 140 }
    }

    #[test]
    fn sends_the_target_held_are_not_the_generators_lateness() {
        // 1000 sends, 300 of them 2 s late: a blackholed target held every user. When the
        // users say the target held 290 of them, the generator's own lateness is 10 (1%,
        // at the bound): not saturated, but the target's hold (29%) fails the run.
        let mut lag = new_histogram();
        lag.record_n(1_000, 700).unwrap();
        lag.record_n(2_000_000, 300).unwrap();
        let bound = LateBound { late_after: Duration::from_millis(10), max_late_ratio: 0.01 };
        let h = Health::judge(&lag, bound, kept(290, false), 100.0, 100.0);
        assert_eq!((h.late, h.late_held_by_target), (300, 290));
        assert!(!h.saturated && h.held_by_target, "{h:?}");
        assert!(h.held_reason().contains("all 140 users were waiting"), "{}", h.held_reason());
        // Abandoned while the target held the users: still the target's doing.
        let h = Health::judge(&lag, bound, kept(290, true), 100.0, 100.0);
        assert!(!h.saturated && h.held_by_target, "{h:?}");
        // The same lag with no user held by the target is the generator's: saturated,
        // and so is an abandoned schedule the target did not hold back.
        let h = Health::judge(&lag, bound, kept(0, false), 100.0, 100.0);
        assert!(h.saturated && !h.held_by_target, "{h:?}");
        let mut on_time = new_histogram();
        on_time.record_n(1_000, 1000).unwrap();
        let h = Health::judge(&on_time, bound, kept(0, true), 100.0, 100.0);
        assert!(h.saturated && !h.held_by_target, "{h:?}");
        // Both at once: the generator's own lateness wins (the run cannot be trusted).
        let h = Health::judge(&lag, bound, kept(100, false), 100.0, 100.0);
        assert!(h.saturated && !h.held_by_target, "{h:?}");
    }
}
