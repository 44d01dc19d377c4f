//! Fault `latency`: latency (and jitter) added by a [`FaultProxy`] in front of a target.
//!
//! Two links:
//! - `link = "front"` (default), any target: the proxy sits between the load and the
//!   target. The drill runner wires it before the load starts: when
//!   [`wants_proxy`] is true it calls `FaultProxy::start` with the target's main
//!   address, sends that target's load (and probes) to the proxy's address instead, and
//!   stores the proxy in `DrillEnv::proxies` under the target's name. Until the fault
//!   is injected the proxy forwards cleanly.
//! - `link = "upstream"`, a Grahmos target: the edge's backhaul proxy (the link
//!   between edge and upstream), no wiring needed.
//!
//! The toxic (`latency`, `jitter`, `per` chunk or connection, `stream` upstream /
//! downstream / both, `toxicity`) is added on inject and removed by rollback (and by
//! recovery `rollback`).

use std::sync::Arc;

use gameday_mocks::kit::HumanDuration;

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::chaos::proxy::{FaultProxy, Per, Stream, Toxic, ToxicKind};
use crate::chaos::undo::{BoxFuture, Injected, Rollback};
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::latency::{Link, PerSpec, Spec, StreamSpec};

const FAULT: &str = "latency";
/// The name of the toxic this fault installs.
pub const TOXIC: &str = "latency-fault";

impl Spec {
    /// The toxic it installs.
    pub fn toxic(&self) -> Toxic {
        let per = match self.per {
            PerSpec::Chunk => Per::Chunk,
            PerSpec::Connection => Per::Connection,
        };
        let stream = match self.stream {
            StreamSpec::Upstream => Stream::Upstream,
            StreamSpec::Downstream => Stream::Downstream,
            StreamSpec::Both => Stream::Both,
        };
        let jitter = self.jitter.map_or(std::time::Duration::ZERO, HumanDuration::get);
        Toxic::new(TOXIC, ToxicKind::Latency { latency: self.latency.get(), jitter, per })
            .on(stream)
            .with_toxicity(self.toxicity.unwrap_or(1.0))
    }
}

/// Whether the runner must put a front proxy in front of the target (and send the load
/// through it) before the load starts.
pub fn wants_proxy(spec: &Spec) -> bool {
    spec.link == Link::Front
}

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(spec: &Spec) -> Vec<String> {
    let target = spec.target.as_deref().unwrap_or("the target");
    let link = match spec.link {
        Link::Front => format!("the fault proxy in front of {target} (the load goes through it)"),
        Link::Upstream => format!("{target}'s backhaul proxy (edge -> upstream)"),
    };
    vec![
        format!("inject: add toxic {} on {link}", spec.toxic().describe()),
        format!("rollback: remove toxic `{TOXIC}` from {link}"),
    ]
}

/// Whether the target must run as its own process.
pub fn needs_process(_spec: &Spec) -> bool {
    false
}

fn the_proxy(spec: &Spec, env: &DrillEnv) -> Result<Arc<FaultProxy>, FaultError> {
    if spec.link == Link::Upstream {
        return Ok(Arc::clone(lookup::grahmos(env, spec.target.as_deref(), FAULT)?.backhaul()));
    }
    let missing = |name: &str| FaultError::NoTarget {
        target: name.to_owned(),
        what: "no fault proxy in front of it: the runner starts one when latency::wants_proxy(spec)".to_owned(),
    };
    match &spec.target {
        Some(name) => env.proxy(name).cloned().ok_or_else(|| missing(name)),
        None => {
            let mut all = env.proxies.values();
            match (all.next(), all.next()) {
                (Some(p), None) => Ok(Arc::clone(p)),
                (None, _) => Err(missing("(any)")),
                (Some(_), Some(_)) => {
                    Err(FaultError::Refused { fault: FAULT, why: "several proxied targets: name one".into() })
                }
            }
        }
    }
}

/// Checks the parameters and that the proxy exists.
pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError> {
    if spec.toxicity.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
        return Err(FaultError::Refused { fault: FAULT, why: "toxicity must be within 0..=1".into() });
    }
    the_proxy(spec, env).map(|_| ())
}

/// Adds the latency toxic and returns the undo.
pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError> {
    preflight(spec, env).await?;
    let proxy = the_proxy(spec, env)?;
    let toxic = spec.toxic();
    let description = format!("{} on proxy {} -> {}", toxic.describe(), proxy.addr(), proxy.upstream());
    proxy.add(toxic).map_err(|source| FaultError::Toxic { fault: FAULT, source })?;
    Ok(Injected { description, undo: Box::new(RemoveLatency { proxy }) })
}

struct RemoveLatency {
    proxy: Arc<FaultProxy>,
}

impl Rollback for RemoveLatency {
    fn describe(&self) -> String {
        format!("remove toxic `{TOXIC}` from proxy {}", self.proxy.addr())
    }

    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
        Box::pin(async move { self.rollback_blocking() })
    }

    fn rollback_blocking(&self) -> Result<(), FaultError> {
        self.proxy.remove(TOXIC);
        Ok(())
    }
}

/// Recovery `rollback`: remove the toxic.
pub async fn recover(spec: &Spec, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
    if *action != RecoveryAction::Rollback {
        return Err(FaultError::no_recovery(FAULT, spec.target.clone().unwrap_or_default(), action, "rollback"));
    }
    let proxy = the_proxy(spec, env)?;
    proxy.remove(TOXIC);
    Ok(format!("latency removed from proxy {}", proxy.addr()))
}
