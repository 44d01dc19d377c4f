//! The seam between the drill runner and the faults.
//!
//! Every fault module under [`super::faults`] has the same shape (toxiproxy's: a small
//! data struct plus one behaviour):
//! - `pub struct Spec` (serde, `deny_unknown_fields`): the fault's parameters as the
//!   scenario gives them;
//! - `pub fn plan(spec: &Spec) -> Vec<String>`: what it will do and how it is undone, for
//!   `--dry-run` (touches nothing);
//! - `pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError>`: the
//!   target exists (process, index directory, certificate, ...) before anything is
//!   injected;
//! - `pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError>`:
//!   does it, and returns the undo.
//!
//! (`DrillEnv` is [`super::env::DrillEnv`].) [`FaultSpec`] is the tagged enum of all of them (`fault = "enclave-crash"`, ...) and
//! dispatches to the module (`FaultSpec` is added by the runner's owner; each fault owner adds its variant).

use std::future::Future;
use std::pin::Pin;


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
        f.debug_struct("Injected")
            .field("description", &self.description)
            .field("undo", &self.undo.describe())
            .finish()
    }
}

/// Why a fault could not be checked, injected or rolled back.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The fault is aimed at something that does not exist.
    #[error("fault target `{target}`: {what}")]
    NoTarget {
        /// The target's name in the scenario.
        target: String,
        /// What is missing (`no such process`, `no index directory at ...`).
        what: String,
    },
    /// The fault does not apply to this kind of target.
    #[error("fault `{fault}` cannot be aimed at target `{target}` ({why})")]
    Unsupported {
        /// The fault's tag.
        fault: String,
        /// The target's name.
        target: String,
        /// Why.
        why: String,
    },
    /// A file or directory operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Anything else, with its explanation.
    #[error("{0}")]
    Failed(String),
}
