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

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

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
    /// A fault's parameters or its target's state refuse it before anything is injected.
    #[error("{fault}: {why}")]
    Refused {
        /// The fault's tag.
        fault: &'static str,
        /// What is refused.
        why: String,
    },
    /// A switched listener (an RPC node, the overlay) is already down at preflight.
    #[error("{0} is already down")]
    AlreadyDown(String),
    /// `db-pool-exhaustion` asked for no connections.
    #[error("connections must be at least 1")]
    NoConnections,
    /// `db-pool-exhaustion` asked for more connections than the pool has.
    #[error("connections = {connections}, but the pool has {size}")]
    PoolTooSmall {
        /// Connections asked for.
        connections: usize,
        /// The pool's size.
        size: usize,
    },
    /// The connections could not be taken in time.
    #[error("could not take {want} connections within {within:?}")]
    NotHeld {
        /// Connections asked for.
        want: usize,
        /// The bound.
        within: Duration,
    },
    /// `quorum-loss` would leave a majority up.
    #[error("stopping {stopping} of {total} nodes leaves a majority: that is not quorum loss")]
    NotQuorumLoss {
        /// Nodes to stop.
        stopping: usize,
        /// Nodes in the cluster.
        total: usize,
    },
    /// The `netns` backend of `backhaul-loss` cannot run here, or at all yet.
    #[error("backhaul-loss: backend = \"netns\" {0}")]
    Netns(NetnsRefusal),
    /// A `command` fault's argv is empty.
    #[error("fault `command`: `{0}` is empty")]
    EmptyCommand(&'static str),
    /// The inject command failed (its rollback command was run at once).
    #[error("inject command failed: {ran}; rollback command run: {undo}")]
    InjectCommand {
        /// The inject command's summary (status, output tail).
        ran: String,
        /// The rollback command's summary.
        undo: String,
    },
    /// The rollback command failed.
    #[error("rollback command failed: {0}")]
    RollbackCommand(String),
    /// The fault proxy refused a toxic.
    #[error("{fault}: {source}")]
    Toxic {
        /// The fault's tag.
        fault: &'static str,
        /// Why.
        #[source]
        source: super::proxy::ProxyError,
    },
    /// A mock's listener could not be switched down or up.
    #[error("{0}")]
    Switch(#[from] gameday_mocks::kit::listener::SwitchError),
    /// A Scribe node could not be stopped, started or restored.
    #[error("{0}")]
    Node(#[from] gameday_mocks::services::scribe::FaultError),
    /// Grahmos's certificate could not be installed.
    #[error("{fault}: {what}: {source}")]
    Certificate {
        /// The fault's tag.
        fault: &'static str,
        /// Which certificate (`installing the short-lived certificate`, ...).
        what: &'static str,
        /// Why.
        #[source]
        source: gameday_mocks::services::grahmos::tls::InstallError,
    },
    /// The index backup could not be made or used.
    #[error("{fault}: {what}")]
    Backup {
        /// The fault's tag.
        fault: &'static str,
        /// What went wrong.
        what: BackupProblem,
    },
    /// An HTTP request (or building its client) failed.
    #[error("{what}: {source}")]
    Http {
        /// The request (`HTTP client`, a URL, `backup RPC <url>`).
        what: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// An HTTP request got an error status.
    #[error("{url}: HTTP {status}: {body}")]
    HttpStatus {
        /// The URL.
        url: String,
        /// The status.
        status: reqwest::StatusCode,
        /// The answer's JSON body.
        body: serde_json::Value,
    },
    /// An answer without what it must hold.
    #[error("{what} answered {answer}")]
    BadAnswer {
        /// Who answered.
        what: String,
        /// The answer.
        answer: serde_json::Value,
    },
    /// After an RPC failover the app still does not use the backup.
    #[error("the app's RPC calls are answered by `{0}`, not the backup")]
    NotFailedOver(String),
    /// A probe of the engine could not run.
    #[error("{0}")]
    Probe(#[source] crate::probe::ProbeError),
    /// Grahmos's drill target could not be set up or used.
    #[error("grahmos target: {what}: {source}")]
    Grahmos {
        /// The step (`upstream`, `fault proxy`, `token`, ...).
        what: &'static str,
        /// Why.
        #[source]
        source: GrahmosSetupError,
    },
    /// A process operation the OS refused (a signal, `PR_SET_PDEATHSIG`).
    #[error("{what}: {source}")]
    Os {
        /// The operation.
        what: String,
        /// The OS error.
        #[source]
        source: nix::errno::Errno,
    },
    /// A supervised process's life went wrong.
    #[error("{0}")]
    Process(#[from] ProcessError),
    /// A supervised process failed to start: its service, why, and its stderr's last line.
    #[error("{service} process: {source}{}", if .tail.is_empty() { String::new() } else { format!(" {}", .tail) })]
    Child {
        /// The service.
        service: gameday_mocks::ServiceId,
        /// Why.
        #[source]
        source: Box<FaultError>,
        /// The last line of its stderr (trimmed; empty when none).
        tail: String,
    },
    /// A profile could not be turned into JSON for a child.
    #[error("{0}")]
    Profile(#[source] crate::profile::ProfileError),
    /// `restart_profile` is not a usable override.
    #[error("restart_profile: {0}")]
    RestartProfile(#[source] crate::profile::ProfileError),
    /// `restart_profile` is not JSON-representable.
    #[error("restart_profile: {0}")]
    RestartProfileJson(#[source] serde_json::Error),
    /// A rollback could not run to its end off the runtime.
    #[error("{0}")]
    Rollback(#[from] RollbackError),
}

/// Why the `netns` backend of `backhaul-loss` refuses.
#[derive(Debug, thiserror::Error)]
pub enum NetnsRefusal {
    /// Not root.
    #[error("needs root")]
    NotRoot,
    /// A tool is missing.
    #[error("needs `{0}` on PATH")]
    Missing(&'static str),
    /// The backend is not built.
    #[error("is not built yet; use backend = \"proxy\"")]
    NotBuilt,
}

/// What is wrong with `index-corruption`'s backup.
#[derive(Debug, thiserror::Error)]
pub enum BackupProblem {
    /// The backup directory could not be made.
    #[error("backup directory: {0}")]
    Dir(#[source] std::io::Error),
    /// The backup's hashes differ from the index's.
    #[error("the backup of {} does not match it", .0.display())]
    Mismatch(PathBuf),
    /// The backup is gone.
    #[error("the backup of {} is gone", .0.display())]
    Gone(PathBuf),
    /// The restored index's hashes differ from the original's.
    #[error("{} restored but its hashes differ", .0.display())]
    Restored(PathBuf),
}

/// Why Grahmos's drill target could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum GrahmosSetupError {
    /// A mock could not start.
    #[error("{0}")]
    Mock(#[from] gameday_mocks::MockError),
    /// A socket could not be opened.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// `upstream_url` is not a URL.
    #[error("`{url}`: {source}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: url::ParseError,
    },
    /// `upstream_url`'s host does not resolve.
    #[error("`{url}`: {source}")]
    Resolve {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `upstream_url` is not on loopback.
    #[error("`{0}` is not a loopback address")]
    NotLoopback(String),
    /// A token could not be signed.
    #[error("{0}")]
    Sign(#[from] gameday_mocks::services::grahmos::auth::SignError),
    /// The HTTP client (or its CA certificate) could not be built.
    #[error("{0}")]
    Http(#[from] reqwest::Error),
}

/// Why a supervised mock process did not start, stop or answer as it must.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The running program cannot be found.
    #[error("cannot find the running program: {0}")]
    CurrentExe(#[source] std::io::Error),
    /// The running program is not gameday and `GAMEDAY_BIN` is not set.
    #[error("{} is not the gameday binary: set {} to start mock processes", .0.display(), super::supervisor::BIN_ENV)]
    NotGameday(PathBuf),
    /// The child's parent died before the child could tie itself to it.
    #[error("the parent process {parent} is gone (parent now {now})")]
    ParentGone {
        /// The parent it was started by.
        parent: u32,
        /// Its parent now.
        now: nix::unistd::Pid,
    },
    /// A restart with another service's profile.
    #[error("cannot restart {service} with a {profile} profile")]
    WrongProfile {
        /// The supervised service.
        service: gameday_mocks::ServiceId,
        /// The profile's service.
        profile: gameday_mocks::ServiceId,
    },
    /// Every restart attempt failed without an error to show.
    #[error("restart failed")]
    RestartFailed,
    /// The child was not reaped in time.
    #[error("pid {pid:?} did not exit within {within:?}")]
    NotExited {
        /// Its pid.
        pid: Option<nix::unistd::Pid>,
        /// The bound.
        within: Duration,
    },
    /// The child did not stop after SIGSTOP.
    #[error("pid {0} did not stop after SIGSTOP")]
    NotStopped(nix::unistd::Pid),
    /// The child exited before writing its manifest.
    #[error("exited before writing its manifest")]
    ExitedBeforeManifest,
    /// No manifest in time.
    #[error("no manifest within {0:?}")]
    NoManifest(Duration),
    /// The child exited before its health check answered.
    #[error("exited before {health} answered ({last})")]
    ExitedBeforeHealthy {
        /// The health URL.
        health: String,
        /// The last answer or error.
        last: String,
    },
    /// The health check did not answer 200 in time.
    #[error("{health} not healthy within {within:?} ({last})")]
    Unhealthy {
        /// The health URL.
        health: String,
        /// The bound.
        within: Duration,
        /// The last answer or error.
        last: String,
    },
}

/// Why a rollback run off the runtime did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    /// Its runtime could not be built.
    #[error("rollback runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// It did not finish in time.
    #[error("rollback did not finish within {0:?}")]
    Timeout(Duration),
    /// Its thread panicked.
    #[error("rollback thread panicked")]
    Panicked,
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
