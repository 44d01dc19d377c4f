//! Finding the handle a fault or probe needs in a [`DrillEnv`]: the target the spec names,
//! or else the only target of the right kind; a clear [`FaultError`] otherwise.

use std::sync::Arc;

use gameday_mocks::services::{morphsave, pxl, scribe};

use super::env::{DrillEnv, Target};
use super::fault_error::{FaultError, RollbackError};
use super::grahmos_edge::GrahmosTarget;
use super::supervisor::Supervisor;

/// The target called `name`, or the only one `pick` accepts when `name` is `None`.
fn find<'a, T: ?Sized>(
    env: &'a DrillEnv,
    name: Option<&str>,
    kind: &str,
    pick: impl Fn(&'a Target) -> Option<&'a T>,
) -> Result<&'a T, FaultError> {
    if let Some(name) = name {
        let target = env
            .target(name)
            .ok_or_else(|| FaultError::NoTarget { target: name.to_owned(), what: "no such target".into() })?;
        return pick(target)
            .ok_or_else(|| FaultError::NoTarget { target: name.to_owned(), what: format!("not {kind}") });
    }
    let mut all = env.targets.iter().filter_map(|(n, t)| pick(t).map(|h| (n, h)));
    match (all.next(), all.next()) {
        (Some((_, h)), None) => Ok(h),
        (None, _) => Err(FaultError::NoTarget { target: kind.to_owned(), what: format!("the drill has no {kind}") }),
        (Some((a, _)), Some((b, _))) => Err(FaultError::NoTarget {
            target: kind.to_owned(),
            what: format!("several targets are {kind} (`{a}`, `{b}`, ...): name one with `target`"),
        }),
    }
}

/// A supervised mock process.
pub fn process<'a>(env: &'a DrillEnv, name: Option<&str>) -> Result<&'a Arc<Supervisor>, FaultError> {
    find(env, name, "a supervised process", |t| match t {
        Target::Process(s) => Some(s),
        _ => None,
    })
}

/// An embedded Scribe cluster.
pub fn scribe<'a>(env: &'a DrillEnv, name: Option<&str>) -> Result<&'a scribe::ScribeCluster, FaultError> {
    find(env, name, "a Scribe cluster", |t| match t {
        Target::Scribe { cluster, .. } => Some(cluster),
        _ => None,
    })
}

/// An embedded PXL mock's controls.
pub fn pxl<'a>(env: &'a DrillEnv, name: Option<&str>) -> Result<&'a pxl::Control, FaultError> {
    find(env, name, "an embedded PXL", |t| match t {
        Target::Pxl { control, .. } => Some(control),
        _ => None,
    })
}

/// An embedded MorphSave mock's controls.
pub fn morphsave<'a>(env: &'a DrillEnv, name: Option<&str>) -> Result<&'a morphsave::Control, FaultError> {
    find(env, name, "an embedded MorphSave", |t| match t {
        Target::Morphsave { control, .. } => Some(control),
        _ => None,
    })
}

/// The base URL of target `name` (a remote URL, a supervised process's main URL, the
/// Scribe leader's, PXL's gateway, MorphSave's app, the Grahmos edge API).
pub fn base_url(env: &DrillEnv, name: &str) -> Result<String, FaultError> {
    let target = env
        .target(name)
        .ok_or_else(|| FaultError::NoTarget { target: name.to_owned(), what: "no such target".into() })?;
    match target {
        Target::Scribe { cluster, .. } => cluster
            .leader()
            .or_else(|| cluster.node_ids().first().copied())
            .and_then(|id| cluster.addr(id))
            .map(|a| format!("http://{a}"))
            .ok_or_else(|| FaultError::NoTarget { target: name.to_owned(), what: "no Scribe node".into() }),
        _ => env
            .base_url(name)
            .ok_or_else(|| FaultError::NoTarget { target: name.to_owned(), what: "no base URL".into() }),
    }
}

/// Runs an async undo to completion from synchronous code (a guard's `Drop`, where no
/// runtime can be awaited on): on a helper thread with its own small runtime, bounded by
/// `timeout`. The embedded mocks' listeners are driven by their own tasks (commands over
/// channels), so the undo takes effect wherever it is awaited from.
pub fn block_on_undo<F>(undo: F, timeout: std::time::Duration) -> Result<(), FaultError>
where
    F: std::future::Future<Output = Result<(), FaultError>> + Send + 'static,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(RollbackError::Runtime)?;
        rt.block_on(async move {
            tokio::time::timeout(timeout, undo).await.unwrap_or_else(|_| Err(RollbackError::Timeout(timeout).into()))
        })
    })
    .join()
    .map_err(|_| RollbackError::Panicked)?
}

/// The Grahmos target a fault or probe aims at: `name`, or the only Grahmos target.
pub fn grahmos<'a>(env: &'a DrillEnv, name: Option<&str>, what: &str) -> Result<&'a Arc<GrahmosTarget>, FaultError> {
    let no = |target: &str, why: &str| FaultError::NoTarget { target: target.to_owned(), what: why.to_owned() };
    if let Some(name) = name {
        return match env.target(name) {
            Some(Target::Grahmos(g)) => Ok(g),
            Some(_) => Err(FaultError::Unsupported {
                fault: what.to_owned(),
                target: name.to_owned(),
                why: "it is not an embedded Grahmos edge".to_owned(),
            }),
            None => Err(no(name, "no such target in this drill")),
        };
    }
    let mut all = env.targets.values().filter_map(|t| match t {
        Target::Grahmos(g) => Some(g),
        _ => None,
    });
    match (all.next(), all.next()) {
        (Some(g), None) => Ok(g),
        (None, _) => Err(no("grahmos", &format!("`{what}` needs an embedded Grahmos edge and the drill has none"))),
        (Some(_), Some(_)) => Err(no("grahmos", &format!("several Grahmos targets: name one in `{what}`"))),
    }
}
