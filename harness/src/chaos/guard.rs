//! The rollback guard: every injected fault is undone, on every path out of a drill.
//!
//! An injection hands its [`Rollback`] to the guard ([`Guard::register`]), which starts a
//! dead-man timer for it at once: at `timeout` the fault is rolled back whatever the
//! drill is doing (a timer task on the runtime, not a check in the drill's loop). The
//! runner rolls back on success, failure, abort, error, a panic of the drill's task (the
//! guard lives outside it) and Ctrl-C; if the guard itself is dropped with faults still
//! in place (the runtime is going away), [`Rollback::rollback_blocking`] is the last
//! resort.
//!
//! Rolling back is idempotent and serialised per fault: the first caller undoes it, a
//! concurrent caller waits for that to finish, later callers return at once. Each
//! rollback is recorded (what, why, when, ok or the error) for the report.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::undo::{Injected, Rollback};
use crate::clock::Clock;

/// One rollback, for the report.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct RollbackRecord {
    /// The drill whose fault it was.
    pub drill: String,
    /// What was undone.
    pub what: String,
    /// Why now: `verified`, `criterion failed`, `dead-man timeout`, `panic`, `interrupted`, ...
    pub reason: String,
    /// Simulated seconds since the load started (when the load's clock is known).
    pub at_s: Option<f64>,
    /// When, RFC 3339.
    pub when: String,
    /// Whether the undo succeeded.
    pub ok: bool,
    /// The undo's error, if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A fault the guard holds: its undo, and whether it has been rolled back.
struct Entry {
    drill: String,
    undo: Box<dyn Rollback>,
    /// `true` once rolled back; the async lock serialises concurrent rollbacks.
    done: tokio::sync::Mutex<bool>,
    /// Cancelled once rolled back (drills select on it).
    rolled_back: CancellationToken,
}

struct Inner {
    entries: Mutex<Vec<Arc<Entry>>>,
    records: Mutex<Vec<RollbackRecord>>,
    clock: Mutex<Option<Clock>>,
}

/// Holds every injected fault's undo. Cheap to clone; clones share the faults.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").field("held", &self.held()).finish()
    }
}

/// A registered fault: its id in the guard and a token cancelled when it is rolled back.
#[derive(Clone, Debug)]
pub struct Registration {
    /// Index in the guard.
    pub id: usize,
    /// Cancelled once the fault has been rolled back (by anyone, the dead-man included).
    pub rolled_back: CancellationToken,
}

/// The dead-man's reason, as recorded.
pub const DEAD_MAN: &str = "dead-man timeout";

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}

impl Guard {
    /// An empty guard.
    pub fn new() -> Self {
        let inner = Inner { entries: Mutex::default(), records: Mutex::default(), clock: Mutex::default() };
        Self { inner: Arc::new(inner) }
    }

    /// The load's clock, to stamp rollbacks with simulated time.
    pub fn set_clock(&self, clock: Clock) {
        *self.inner.clock.lock().unwrap_or_else(PoisonError::into_inner) = Some(clock);
    }

    /// Takes an injected fault's undo and starts its dead-man timer: at `timeout` (real
    /// time) it is rolled back whatever else happens. Must be called inside a runtime.
    pub fn register(&self, drill: &str, injected: Injected, timeout: Duration) -> Registration {
        let entry = Arc::new(Entry {
            drill: drill.to_owned(),
            undo: injected.undo,
            done: tokio::sync::Mutex::new(false),
            rolled_back: CancellationToken::new(),
        });
        let token = entry.rolled_back.clone();
        let registration_token = entry.rolled_back.clone();
        let id = {
            let mut entries = self.inner.entries.lock().unwrap_or_else(PoisonError::into_inner);
            entries.push(Arc::clone(&entry));
            entries.len() - 1
        };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let deadline = Instant::now() + timeout;
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = token.cancelled() => return,
            }
            if let Some(inner) = weak.upgrade() {
                Guard { inner }.roll_back_entry(&entry, DEAD_MAN).await;
            }
        });
        Registration { id, rolled_back: registration_token }
    }

    fn entries(&self) -> Vec<Arc<Entry>> {
        self.inner.entries.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Rolls back fault `id` (no-op if already done); returns whether it is now undone
    /// without error.
    pub async fn roll_back(&self, id: usize, reason: &str) -> bool {
        let entry = self.entries().get(id).cloned();
        match entry {
            Some(e) => self.roll_back_entry(&e, reason).await,
            None => false,
        }
    }

    /// Rolls back every fault of `drill`.
    pub async fn roll_back_drill(&self, drill: &str, reason: &str) {
        for e in self.entries().iter().filter(|e| e.drill == drill) {
            self.roll_back_entry(e, reason).await;
        }
    }

    /// Rolls back every fault still in place.
    pub async fn roll_back_all(&self, reason: &str) {
        for e in self.entries() {
            self.roll_back_entry(&e, reason).await;
        }
    }

    async fn roll_back_entry(&self, e: &Entry, reason: &str) -> bool {
        let mut done = e.done.lock().await;
        if *done {
            return true;
        }
        let result = e.undo.rollback().await;
        *done = true;
        e.rolled_back.cancel();
        let ok = result.is_ok();
        self.record(e, reason, result.err().map(|err| err.to_string()));
        ok
    }

    fn record(&self, e: &Entry, reason: &str, error: Option<String>) {
        let clock = *self.inner.clock.lock().unwrap_or_else(PoisonError::into_inner);
        let at_s = clock.map(|c| c.to_sim(Instant::now().saturating_duration_since(c.started())).as_secs_f64());
        let rec = RollbackRecord {
            drill: e.drill.clone(),
            what: e.undo.describe(),
            reason: reason.to_owned(),
            at_s,
            when: crate::run::now_rfc3339(),
            ok: error.is_none(),
            error,
        };
        self.inner.records.lock().unwrap_or_else(PoisonError::into_inner).push(rec);
    }

    /// Whether fault `id` has been rolled back.
    pub fn is_rolled_back(&self, id: usize) -> bool {
        self.entries().get(id).is_some_and(|e| e.rolled_back.is_cancelled())
    }

    /// Faults still in place.
    pub fn held(&self) -> usize {
        self.entries().iter().filter(|e| !e.rolled_back.is_cancelled()).count()
    }

    /// Every rollback so far, in order.
    pub fn records(&self) -> Vec<RollbackRecord> {
        self.inner.records.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The rollbacks of one drill.
    pub fn records_of(&self, drill: &str) -> Vec<RollbackRecord> {
        self.records().into_iter().filter(|r| r.drill == drill).collect()
    }
}

impl Drop for Inner {
    /// Last resort: undo what is still in place without a runtime.
    fn drop(&mut self) {
        let entries = std::mem::take(self.entries.get_mut().unwrap_or_else(PoisonError::into_inner));
        for e in entries {
            let done = e.done.try_lock().map(|d| *d).unwrap_or(false);
            if !done {
                if let Err(err) = e.undo.rollback_blocking() {
                    eprintln!("error: rolling back `{}` of drill `{}` failed: {err}", e.undo.describe(), e.drill);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::chaos::fault_error::FaultError;
    use crate::chaos::undo::BoxFuture;

    /// An undo that counts its calls (the resource is the counter itself).
    struct Counting {
        calls: Arc<AtomicUsize>,
        blocking: Arc<AtomicUsize>,
        fail: bool,
    }

    impl Rollback for Counting {
        fn describe(&self) -> String {
            "count".into()
        }
        fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                if self.fail {
                    Err(FaultError::RollbackCommand("exit status 1".into()))
                } else {
                    Ok(())
                }
            })
        }
        fn rollback_blocking(&self) -> Result<(), FaultError> {
            self.blocking.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn counting(fail: bool) -> (Injected, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let (calls, blocking) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let undo = Box::new(Counting { calls: Arc::clone(&calls), blocking: Arc::clone(&blocking), fail });
        (Injected { description: "x".into(), undo }, calls, blocking)
    }

    #[tokio::test(start_paused = true)]
    async fn the_dead_man_rolls_back_at_the_timeout_and_only_once() {
        let guard = Guard::new();
        let (inj, calls, _) = counting(false);
        let reg = guard.register("d", inj, Duration::from_secs(30));
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0, "not before the timeout");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(reg.rolled_back.is_cancelled());
        assert!(guard.roll_back(reg.id, "verified").await);
        guard.roll_back_all("end").await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "idempotent");
        let recs = guard.records();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].reason, DEAD_MAN);
    }

    #[tokio::test]
    async fn concurrent_rollbacks_run_the_undo_once_and_both_wait_for_it() {
        let guard = Guard::new();
        let (inj, calls, _) = counting(false);
        let reg = guard.register("d", inj, Duration::from_secs(60));
        let (a, ()) = tokio::join!(guard.roll_back(reg.id, "one"), guard.roll_back_drill("d", "two"));
        assert!(a);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(guard.held(), 0);
    }

    #[tokio::test]
    async fn a_failed_undo_is_recorded_with_its_error() {
        let guard = Guard::new();
        let (inj, _, _) = counting(true);
        let reg = guard.register("d", inj, Duration::from_secs(60));
        assert!(!guard.roll_back(reg.id, "failure").await);
        let r = &guard.records_of("d")[0];
        assert!(!r.ok);
        assert_eq!(r.error.as_deref(), Some("rollback command failed: exit status 1"));
    }

    #[tokio::test]
    async fn dropping_the_guard_undoes_what_is_left_without_a_runtime() {
        let guard = Guard::new();
        let (inj, calls, blocking) = counting(false);
        let (inj2, _, blocking2) = counting(false);
        let a = guard.register("a", inj, Duration::from_secs(60));
        guard.register("b", inj2, Duration::from_secs(60));
        guard.roll_back(a.id, "verified").await;
        drop(guard);
        assert_eq!((calls.load(Ordering::SeqCst), blocking.load(Ordering::SeqCst)), (1, 0));
        assert_eq!(blocking2.load(Ordering::SeqCst), 1);
    }
}
