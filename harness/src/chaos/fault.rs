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
//! [`FaultSpec`] is the tagged enum of all of them (`fault = "enclave-crash"`, ...) and
//! dispatches to the module.

use std::future::Future;
use std::pin::Pin;

use super::env::DrillEnv;
use super::faults;
pub use crate::spec::drill::{FaultSpec, RecoveryAction};

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

impl FaultError {
    /// A fault asked for a built-in recovery it does not have; `hint` names the ones it has.
    pub fn no_recovery(
        fault: impl Into<String>,
        target: impl Into<String>,
        action: &RecoveryAction,
        hint: &str,
    ) -> FaultError {
        FaultError::Unsupported {
            fault: fault.into(),
            target: target.into(),
            why: format!("no built-in recovery `{}` (use {hint})", action.name()),
        }
    }
}

impl FaultSpec {
    /// The fault's tag as the scenario writes it.
    pub fn name(&self) -> &'static str {
        match self {
            FaultSpec::BackhaulLoss(_) => "backhaul-loss",
            FaultSpec::CertExpiry(_) => "cert-expiry",
            FaultSpec::Command(_) => "command",
            FaultSpec::DbPoolExhaustion(_) => "db-pool-exhaustion",
            FaultSpec::EnclaveCrash(_) => "enclave-crash",
            FaultSpec::Freeze(_) => "freeze",
            FaultSpec::IndexCorruption(_) => "index-corruption",
            FaultSpec::Latency(_) => "latency",
            FaultSpec::NodeFailure(_) => "node-failure",
            FaultSpec::OverlayDown(_) => "overlay-down",
            FaultSpec::QuorumLoss(_) => "quorum-loss",
            FaultSpec::RpcFailure(_) => "rpc-failure",
        }
    }

    /// What injecting and rolling back will do (for `--dry-run`; touches nothing).
    pub fn plan(&self) -> Vec<String> {
        match self {
            FaultSpec::BackhaulLoss(s) => faults::backhaul_loss::plan(s),
            FaultSpec::CertExpiry(s) => faults::cert_expiry::plan(s),
            FaultSpec::Command(s) => faults::command::plan(s),
            FaultSpec::DbPoolExhaustion(s) => faults::db_pool_exhaustion::plan(s),
            FaultSpec::EnclaveCrash(s) => faults::enclave_crash::plan(s),
            FaultSpec::Freeze(s) => faults::freeze::plan(s),
            FaultSpec::IndexCorruption(s) => faults::index_corruption::plan(s),
            FaultSpec::Latency(s) => faults::latency::plan(s),
            FaultSpec::NodeFailure(s) => faults::node_failure::plan(s),
            FaultSpec::OverlayDown(s) => faults::overlay_down::plan(s),
            FaultSpec::QuorumLoss(s) => faults::quorum_loss::plan(s),
            FaultSpec::RpcFailure(s) => faults::rpc_failure::plan(s),
        }
    }

    /// Whether the target must run as its own process (so it can be killed or frozen).
    pub fn needs_process(&self) -> bool {
        match self {
            FaultSpec::BackhaulLoss(s) => faults::backhaul_loss::needs_process(s),
            FaultSpec::CertExpiry(s) => faults::cert_expiry::needs_process(s),
            FaultSpec::Command(s) => faults::command::needs_process(s),
            FaultSpec::DbPoolExhaustion(s) => faults::db_pool_exhaustion::needs_process(s),
            FaultSpec::EnclaveCrash(s) => faults::enclave_crash::needs_process(s),
            FaultSpec::Freeze(s) => faults::freeze::needs_process(s),
            FaultSpec::IndexCorruption(s) => faults::index_corruption::needs_process(s),
            FaultSpec::Latency(s) => faults::latency::needs_process(s),
            FaultSpec::NodeFailure(s) => faults::node_failure::needs_process(s),
            FaultSpec::OverlayDown(s) => faults::overlay_down::needs_process(s),
            FaultSpec::QuorumLoss(s) => faults::quorum_loss::needs_process(s),
            FaultSpec::RpcFailure(s) => faults::rpc_failure::needs_process(s),
        }
    }

    /// Whether the runner must put a fault proxy in front of the target (and send its load
    /// and probes through it) before the load starts.
    pub fn wants_front_proxy(&self) -> bool {
        matches!(self, FaultSpec::Latency(s) if faults::latency::wants_proxy(s))
    }

    /// The target the fault names itself, if any (else the drill's target).
    pub fn named_target(&self) -> Option<&str> {
        match self {
            FaultSpec::Latency(s) => s.target.as_deref(),
            _ => None,
        }
    }

    /// Checks that the target exists before anything is injected.
    pub async fn preflight(&self, env: &DrillEnv) -> Result<(), FaultError> {
        match self {
            FaultSpec::BackhaulLoss(s) => faults::backhaul_loss::preflight(s, env).await,
            FaultSpec::CertExpiry(s) => faults::cert_expiry::preflight(s, env).await,
            FaultSpec::Command(s) => faults::command::preflight(s, env).await,
            FaultSpec::DbPoolExhaustion(s) => faults::db_pool_exhaustion::preflight(s, env).await,
            FaultSpec::EnclaveCrash(s) => faults::enclave_crash::preflight(s, env).await,
            FaultSpec::Freeze(s) => faults::freeze::preflight(s, env).await,
            FaultSpec::IndexCorruption(s) => faults::index_corruption::preflight(s, env).await,
            FaultSpec::Latency(s) => faults::latency::preflight(s, env).await,
            FaultSpec::NodeFailure(s) => faults::node_failure::preflight(s, env).await,
            FaultSpec::OverlayDown(s) => faults::overlay_down::preflight(s, env).await,
            FaultSpec::QuorumLoss(s) => faults::quorum_loss::preflight(s, env).await,
            FaultSpec::RpcFailure(s) => faults::rpc_failure::preflight(s, env).await,
        }
    }

    /// Injects the fault and returns its undo.
    pub async fn inject(&self, env: &DrillEnv) -> Result<Injected, FaultError> {
        match self {
            FaultSpec::BackhaulLoss(s) => faults::backhaul_loss::inject(s, env).await,
            FaultSpec::CertExpiry(s) => faults::cert_expiry::inject(s, env).await,
            FaultSpec::Command(s) => faults::command::inject(s, env).await,
            FaultSpec::DbPoolExhaustion(s) => faults::db_pool_exhaustion::inject(s, env).await,
            FaultSpec::EnclaveCrash(s) => faults::enclave_crash::inject(s, env).await,
            FaultSpec::Freeze(s) => faults::freeze::inject(s, env).await,
            FaultSpec::IndexCorruption(s) => faults::index_corruption::inject(s, env).await,
            FaultSpec::Latency(s) => faults::latency::inject(s, env).await,
            FaultSpec::NodeFailure(s) => faults::node_failure::inject(s, env).await,
            FaultSpec::OverlayDown(s) => faults::overlay_down::inject(s, env).await,
            FaultSpec::QuorumLoss(s) => faults::quorum_loss::inject(s, env).await,
            FaultSpec::RpcFailure(s) => faults::rpc_failure::inject(s, env).await,
        }
    }

    /// Runs a built-in recovery action for this fault.
    pub async fn recover(&self, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
        match self {
            FaultSpec::BackhaulLoss(s) => faults::backhaul_loss::recover(s, action, env).await,
            FaultSpec::CertExpiry(s) => faults::cert_expiry::recover(s, action, env).await,
            FaultSpec::Command(s) => faults::command::recover(s, action, env).await,
            FaultSpec::DbPoolExhaustion(s) => faults::db_pool_exhaustion::recover(s, action, env).await,
            FaultSpec::EnclaveCrash(s) => faults::enclave_crash::recover(s, action, env).await,
            FaultSpec::Freeze(s) => faults::freeze::recover(s, action, env).await,
            FaultSpec::IndexCorruption(s) => faults::index_corruption::recover(s, action, env).await,
            FaultSpec::Latency(s) => faults::latency::recover(s, action, env).await,
            FaultSpec::NodeFailure(s) => faults::node_failure::recover(s, action, env).await,
            FaultSpec::OverlayDown(s) => faults::overlay_down::recover(s, action, env).await,
            FaultSpec::QuorumLoss(s) => faults::quorum_loss::recover(s, action, env).await,
            FaultSpec::RpcFailure(s) => faults::rpc_failure::recover(s, action, env).await,
        }
    }
}

impl RecoveryAction {
    /// The action's name as the scenario writes it.
    pub fn name(&self) -> &'static str {
        match self {
            RecoveryAction::Rollback => "rollback",
            RecoveryAction::Restart => "restart",
            RecoveryAction::IndexRollback => "index-rollback",
            RecoveryAction::IndexRebuild => "index-rebuild",
            RecoveryAction::RenewCertificate => "renew-certificate",
            RecoveryAction::RpcFailover => "rpc-failover",
            RecoveryAction::RestartNode => "restart-node",
            RecoveryAction::RestoreOverlay => "restore-overlay",
            RecoveryAction::ReleasePool => "release-pool",
            RecoveryAction::Command => "command",
            RecoveryAction::External => "external",
        }
    }
}
