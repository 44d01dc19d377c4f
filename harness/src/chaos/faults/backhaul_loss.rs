//! Fault `backhaul-loss`: the Grahmos edge's upstream link drops.
//!
//! Default backend (`backend = "proxy"`): toxics on the [`FaultProxy`] that sits between
//! the edge and its upstream (see [`crate::chaos::grahmos_edge`]):
//! - `mode = "blackhole"` (default): packets vanish, as with the runbook's
//!   `iptables -A OUTPUT -d upstream-server -j DROP`: new and open connections hang
//!   until the edge's `upstream_timeout`;
//! - `mode = "reset"`: every connection is reset (RST), new ones at once;
//! - `mode = "loss"` with `fraction` (0 < f <= 1): that share of connections, new and
//!   open, is blackholed (each one wholly: a flow whose packets are all lost);
//! - optional `latency` (+ `jitter`) on the link's answers at the same time.
//!
//! Optional backend `backend = "netns"` (root, `ip` and `tc` needed): see
//! [`super::backhaul_netns`]. Expected behaviour under either: the edge keeps answering
//! (the canary from its local index, upstream parts from its cache marked stale) and
//! catches up when the link returns. Rollback (and recovery `rollback`) removes the
//! toxics (or tears the namespace down).

use gameday_mocks::kit::HumanDuration;

use super::backhaul_netns;
use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::chaos::proxy::{FaultProxy, Per, Toxic, ToxicKind};
use crate::chaos::undo::{BoxFuture, Injected, Rollback};
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::backhaul_loss::{Backend, Mode, Spec};

const FAULT: &str = "backhaul-loss";
/// The name of the loss toxic on the backhaul proxy.
pub const LOSS_TOXIC: &str = "backhaul-loss";
/// The name of the latency toxic on the backhaul proxy.
pub const LATENCY_TOXIC: &str = "backhaul-latency";

impl Spec {
    fn check(&self) -> Result<(), FaultError> {
        let bad = |why: String| FaultError::Refused { fault: FAULT, why };
        match (self.mode, self.fraction) {
            (Mode::Loss, None) => Err(bad("mode = \"loss\" needs `fraction` (0 < f <= 1)".into())),
            (Mode::Loss, Some(f)) if !(f > 0.0 && f <= 1.0) => Err(bad(format!("fraction {f} is not in (0, 1]"))),
            (Mode::Blackhole | Mode::Reset, Some(_)) => Err(bad("`fraction` applies to mode = \"loss\" only".into())),
            _ if self.jitter.is_some() && self.latency.is_none() => Err(bad("`jitter` needs `latency`".into())),
            _ => Ok(()),
        }
    }

    /// The toxics the proxy backend installs.
    pub fn toxics(&self) -> Vec<Toxic> {
        let loss = match self.mode {
            Mode::Blackhole => Toxic::new(LOSS_TOXIC, ToxicKind::Blackhole),
            Mode::Reset => Toxic::new(LOSS_TOXIC, ToxicKind::Reset),
            Mode::Loss => Toxic::new(LOSS_TOXIC, ToxicKind::Blackhole).with_toxicity(self.fraction.unwrap_or(1.0)),
        };
        let mut out = vec![loss];
        if let Some(latency) = self.latency {
            let jitter = self.jitter.map_or(std::time::Duration::ZERO, HumanDuration::get);
            out.push(Toxic::new(LATENCY_TOXIC, ToxicKind::Latency { latency: latency.get(), jitter, per: Per::Chunk }));
        }
        out
    }
}

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(spec: &Spec) -> Vec<String> {
    let target = spec.target.as_deref().unwrap_or("the Grahmos target");
    match spec.backend {
        Backend::Proxy => {
            let mut lines: Vec<String> = spec
                .toxics()
                .iter()
                .map(|t| format!("inject: add toxic {} on {target}'s backhaul fault proxy", t.describe()))
                .collect();
            lines.push(format!(
                "rollback: remove toxics `{LOSS_TOXIC}`, `{LATENCY_TOXIC}` from {target}'s backhaul proxy"
            ));
            lines
        }
        Backend::Netns => backhaul_netns::dry_run_steps(spec, target),
    }
}

/// Whether the target must run as its own process.
pub fn needs_process(_spec: &Spec) -> bool {
    false
}

/// Checks the parameters, that the target exists, and (netns) root and the tools.
pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError> {
    spec.check()?;
    let g = lookup::grahmos(env, spec.target.as_deref(), FAULT)?;
    if g.handle().upstream().is_some() {
        let why = "the edge talks to its upstream directly, not through a proxy".into();
        return Err(FaultError::Refused { fault: FAULT, why });
    }
    match spec.backend {
        Backend::Proxy => Ok(()),
        Backend::Netns => backhaul_netns::preflight(spec),
    }
}

/// Cuts the link and returns the undo.
pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError> {
    preflight(spec, env).await?;
    let g = lookup::grahmos(env, spec.target.as_deref(), FAULT)?;
    if spec.backend == Backend::Netns {
        return backhaul_netns::inject(spec, g).await;
    }
    let proxy = std::sync::Arc::clone(g.backhaul());
    let toxics = spec.toxics();
    let description = format!(
        "backhaul {} -> {}: {}",
        proxy.addr(),
        proxy.upstream(),
        toxics.iter().map(Toxic::describe).collect::<Vec<_>>().join(", ")
    );
    for t in toxics {
        if let Err(e) = proxy.add(t) {
            remove_toxics(&proxy);
            return Err(FaultError::Toxic { fault: FAULT, source: e });
        }
    }
    Ok(Injected { description, undo: Box::new(RemoveToxics { proxy }) })
}

fn remove_toxics(proxy: &FaultProxy) {
    proxy.remove(LOSS_TOXIC);
    proxy.remove(LATENCY_TOXIC);
}

/// The undo of the proxy backend: remove the fault's toxics (idempotent).
struct RemoveToxics {
    proxy: std::sync::Arc<FaultProxy>,
}

impl Rollback for RemoveToxics {
    fn describe(&self) -> String {
        format!("remove toxics `{LOSS_TOXIC}`, `{LATENCY_TOXIC}` from the backhaul proxy {}", self.proxy.addr())
    }

    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
        Box::pin(async move { self.rollback_blocking() })
    }

    fn rollback_blocking(&self) -> Result<(), FaultError> {
        remove_toxics(&self.proxy);
        Ok(())
    }
}

/// Recovery `rollback`: restore the link (the runbook's `iptables -D ...`).
pub async fn recover(spec: &Spec, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
    let g = lookup::grahmos(env, spec.target.as_deref(), FAULT)?;
    match (action, spec.backend) {
        (RecoveryAction::Rollback, Backend::Proxy) => {
            remove_toxics(g.backhaul());
            Ok(format!("backhaul restored: toxics removed from {}", g.backhaul().addr()))
        }
        (RecoveryAction::Rollback, Backend::Netns) => backhaul_netns::restore_link(),
        _ => Err(FaultError::no_recovery(FAULT, spec.target.clone().unwrap_or_default(), action, "`rollback`")),
    }
}
