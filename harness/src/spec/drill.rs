//! `[[drill]]`: a chaos drill as the scenario writes it (plain data): when and what to
//! inject ([`FaultSpec`], one variant per fault, parameters in [`super::faults`]), how
//! detection is observed ([`Detect`], probes in [`super::probes`]), the recovery step and
//! the exit criteria. The engine is `chaos`.

use std::time::Duration;

use gameday_mocks::kit::{HumanDuration, PositiveDuration};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::spec::units::Ratio;
use crate::spec::{faults, probes};

/// One `[[drill]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Drill {
    /// Unique name, used in reports.
    pub name: Spanned<String>,
    /// The service the fault is aimed at (`midnight`, `scribe`, `grahmos`, `pxl`, `morphsave`).
    pub target: Spanned<String>,
    /// When to inject, simulated time since the load started.
    pub at: Spanned<HumanDuration>,
    /// The window before `at` over which every `[[slo]]` must hold, else the drill is
    /// refused (default: all of the time before `at`; `"0s"` skips the check).
    #[serde(default)]
    pub steady_state: Option<Spanned<HumanDuration>>,
    /// Dead-man timer: the fault is rolled back this long after injection whatever happens.
    pub timeout: PositiveDuration,
    /// Abort (and roll back) when the error budget burns faster than this.
    #[serde(default)]
    pub max_burn_rate: Option<Spanned<f64>>,
    /// The fault (`kind = "..."` and its own fields).
    pub fault: FaultSpec,
    /// How detection is observed.
    pub detect: Detect,
    /// The recovery step.
    pub recover: Recover,
    /// Probes that must all pass for recovery to count as verified (polled).
    #[serde(default)]
    pub verify: Vec<ProbeSpec>,
    /// Exit criteria, one verdict each.
    #[serde(default)]
    pub expect: DrillExpect,
}

/// `[drill.detect]`: a rule (an `[[alert]]` or `[[slo]]` name) or a probe, and the
/// runbook alert that should page for the incident.
///
/// With `alert`, the operator is paged by that alert: recovery starts `recover.after`
/// its first firing, the drill's MTTD is the alert's, and the drill fails when it does
/// not fire before the dead-man timeout (or within `expect.mttd`). The probe or rule is
/// still polled and reported as the probe-based MTTD next to it. With `no_alert`, the
/// drill says why no runbook alert can detect the incident: a finding about the
/// runbook, printed with the verdict.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Detect {
    /// The runbook's `[[alert]]` that should page for this incident (with its `for`).
    #[serde(default)]
    pub alert: Option<Spanned<String>>,
    /// Why no runbook alert can detect this incident (a finding about the runbook).
    #[serde(default)]
    pub no_alert: Option<Spanned<String>>,
    /// The `[[alert]]` (first firing) or `[[slo]]` (objective broken over its `window`,
    /// default 1 minute) whose state means detection.
    #[serde(default)]
    pub rule: Option<Spanned<String>>,
    /// A probe whose first failure means detection.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
    /// How often the rule or probe is polled (simulated; default 1s).
    #[serde(default = "one_second")]
    pub interval: PositiveDuration,
}

/// `[drill.recover]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Recover {
    /// What recovers the service.
    pub action: Spanned<RecoveryAction>,
    /// Operator reaction time: recovery starts this long after detection (simulated).
    #[serde(default)]
    pub after: HumanDuration,
    /// `action = "command"`: the program and its arguments (no shell).
    #[serde(default)]
    pub command: Option<Spanned<Vec<String>>>,
    /// `action = "command"`: killed after this long (real time; default 1m).
    #[serde(default = "one_minute")]
    pub timeout: PositiveDuration,
}

/// `[drill.expect]`: the exit criteria.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DrillExpect {
    /// Detection within this long of injection (simulated).
    #[serde(default)]
    pub mttd: Option<HumanDuration>,
    /// Verification passed within this long of injection (simulated).
    #[serde(default)]
    pub rto: Option<HumanDuration>,
    /// p95 latency of the load between injection and verification, at most.
    #[serde(default)]
    pub p95: Option<HumanDuration>,
    /// 5xx responses / requests between injection and verification, at most.
    #[serde(default)]
    pub max_5xx_ratio: Option<Ratio>,
    /// Requests lost (connection errors and timeouts) between injection and verification, at most.
    #[serde(default)]
    pub max_lost: Option<u64>,
}

pub(crate) fn one_second() -> PositiveDuration {
    PositiveDuration(HumanDuration(Duration::from_secs(1)))
}

pub(crate) fn one_minute() -> PositiveDuration {
    PositiveDuration(HumanDuration(Duration::from_secs(60)))
}

/// Every fault a drill can inject (`[drill.fault] kind = "..."`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FaultSpec {
    /// The Grahmos edge's upstream link drops (fault proxy or netns backend).
    BackhaulLoss(faults::backhaul_loss::Spec),
    /// A real TLS certificate's notAfter passes during the drill.
    CertExpiry(faults::cert_expiry::Spec),
    /// Staging: inject and roll back with commands the scenario names.
    Command(faults::command::Spec),
    /// MorphSave's database pool held until exhausted.
    DbPoolExhaustion(faults::db_pool_exhaustion::Spec),
    /// The Midnight proof server process killed with SIGKILL.
    EnclaveCrash(faults::enclave_crash::Spec),
    /// A target process frozen with SIGSTOP (SIGCONT to undo).
    Freeze(faults::freeze::Spec),
    /// The Grahmos index's `current/*` deleted or garbled on disk.
    IndexCorruption(faults::index_corruption::Spec),
    /// Latency (and jitter) added by a fault proxy in front of a target.
    Latency(faults::latency::Spec),
    /// A Scribe node (the leader by default) stopped.
    NodeFailure(faults::node_failure::Spec),
    /// A PXL overlay taken down (the gateway degrades).
    OverlayDown(faults::overlay_down::Spec),
    /// Two of Scribe's three nodes stopped: writes refused.
    QuorumLoss(faults::quorum_loss::Spec),
    /// MorphSave's primary blockchain RPC fails.
    RpcFailure(faults::rpc_failure::Spec),
}

/// A drill's recovery step (`[drill.recover] action = "..."`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecoveryAction {
    /// Undo the fault (restore the link, SIGCONT, restart what was stopped).
    Rollback,
    /// Restart the killed process (a supervisor's `Restart=`).
    Restart,
    /// Point the index's `current` back at the previous release.
    IndexRollback,
    /// Rebuild the index from the source documents.
    IndexRebuild,
    /// Install a renewed certificate and hot-reload it without dropping the listener.
    RenewCertificate,
    /// Switch to the backup RPC endpoint.
    RpcFailover,
    /// Start the stopped node(s) again.
    RestartNode,
    /// Bring the overlay back.
    RestoreOverlay,
    /// Release the held database connections.
    ReleasePool,
    /// Run the scenario's `command` (staging).
    Command,
    /// Wait for someone else's recovery (staging): only verify.
    External,
}

/// Every probe (`kind = "..."`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProbeSpec {
    /// A Grahmos tenant's query never returns another tenant's documents.
    Acl(probes::acl::Spec),
    /// Midnight attestation re-verified: fresh nonce echoed, PCRs as published, debug off, chain valid, timestamp fresh.
    Attestation(probes::attestation::Spec),
    /// The Grahmos runbook's canary query returns the canary document.
    Canary(probes::canary::Spec),
    /// An HTTP request gets the expected status (and body).
    Http(probes::http::Spec),
    /// A write to the Scribe cluster's leader succeeds.
    ScribeWrite(probes::scribe_write::Spec),
    /// A TLS handshake against the target succeeds and the served certificate is valid long enough.
    Tls(probes::tls::Spec),
}
