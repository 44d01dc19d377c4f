//! The seam between the drill runner and the faults: the behaviour of [`FaultSpec`].
//!
//! The data lives in the spec leaf: `crate::spec::faults::<fault>::Spec` (serde,
//! `deny_unknown_fields`: the fault's parameters as the scenario gives them) and the
//! tagged enum [`FaultSpec`] (`fault = "enclave-crash"`, ...), in `crate::spec::drill`.
//! Every fault module under [`super::faults`] has the same shape (toxiproxy's: the data
//! plus one behaviour), re-exporting its `Spec` and adding:
//! - `pub fn dry_run_steps(spec: &Spec) -> Vec<String>`: what it will do and how it is
//!   undone, for `--dry-run` (touches nothing);
//! - `pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError>`: the
//!   target exists (process, index directory, certificate, ...) before anything is
//!   injected;
//! - `pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError>`:
//!   does it, and returns the undo ([`Rollback`]).
//!
//! This file dispatches [`FaultSpec`] to the module, and holds the undo trait and
//! [`FaultError`], whose variant decides the exit code.

use super::env::DrillEnv;
pub use super::fault_error::*;
use super::faults;
pub use super::undo::{BoxFuture, Injected, Rollback};
pub use crate::spec::drill::{FaultSpec, RecoveryAction};

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
    pub fn dry_run_steps(&self) -> Vec<String> {
        match self {
            FaultSpec::BackhaulLoss(s) => faults::backhaul_loss::dry_run_steps(s),
            FaultSpec::CertExpiry(s) => faults::cert_expiry::dry_run_steps(s),
            FaultSpec::Command(s) => faults::command::dry_run_steps(s),
            FaultSpec::DbPoolExhaustion(s) => faults::db_pool_exhaustion::dry_run_steps(s),
            FaultSpec::EnclaveCrash(s) => faults::enclave_crash::dry_run_steps(s),
            FaultSpec::Freeze(s) => faults::freeze::dry_run_steps(s),
            FaultSpec::IndexCorruption(s) => faults::index_corruption::dry_run_steps(s),
            FaultSpec::Latency(s) => faults::latency::dry_run_steps(s),
            FaultSpec::NodeFailure(s) => faults::node_failure::dry_run_steps(s),
            FaultSpec::OverlayDown(s) => faults::overlay_down::dry_run_steps(s),
            FaultSpec::QuorumLoss(s) => faults::quorum_loss::dry_run_steps(s),
            FaultSpec::RpcFailure(s) => faults::rpc_failure::dry_run_steps(s),
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
