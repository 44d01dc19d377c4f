//! Why a fault could not be checked, injected, recovered or rolled back: [`FaultError`]
//! and the finer enums it carries. The variant decides the exit code.

use std::path::PathBuf;
use std::time::Duration;

use crate::spec::drill::RecoveryAction;

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
    #[error("{} is not the gameday binary: set {env} to start mock processes", path.display())]
    NotGameday {
        /// The running program.
        path: PathBuf,
        /// The variable that names the binary instead.
        env: &'static str,
    },
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
    /// A probe's HTTP client could not be built ([`crate::http_guard::probe_client`]).
    pub fn client(source: reqwest::Error) -> Self {
        FaultError::Http { what: "cannot build an HTTP client".into(), source }
    }

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
