//! What an injected fault hands back: its undo ([`Rollback`]), and how the guard sees it
//! ([`Injected`]). Every fault's `inject` returns one; the guard (`super::guard`) calls it
//! on every path out of a drill.

use std::future::Future;
use std::pin::Pin;

use super::fault_error::FaultError;

/// A boxed future, as the rollbacks return (object-safe async).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The undo of one injected fault.
///
/// The guard calls [`Rollback::rollback`] on every path out of a drill; it must be
/// idempotent (a second call is a no-op that returns `Ok`) and must not assume the
/// drill got as far as recovery. [`Rollback::rollback_blocking`] is the last resort the
/// guard's `Drop` uses when no runtime is left to await on (process exit after a panic).
pub trait Rollback: Send + Sync {
    /// One line: what is undone (`SIGCONT pid 4242`, `restore /tmp/x/current from backup`).
    fn describe(&self) -> String;
    /// Undoes the fault. Idempotent.
    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>>;
    /// Undoes what can be undone without a runtime (signals, files, flags). Idempotent.
    fn rollback_blocking(&self) -> Result<(), FaultError>;
}

/// An injected fault: what was done and how to undo it.
pub struct Injected {
    /// One line: what was injected.
    pub description: String,
    /// The undo, handed to the guard.
    pub undo: Box<dyn Rollback>,
}

impl std::fmt::Debug for Injected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injected").field("description", &self.description).field("undo", &self.undo.describe()).finish()
    }
}
