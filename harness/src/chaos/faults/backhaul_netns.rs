//! The `netns` backend of [`super::backhaul_loss`]: `tc netem` on a veth pair in a
//! network namespace the run creates (root, `ip` and `tc` needed).
//!
//! NOT BUILT YET: preflight checks the prerequisites and refuses with a clear error, so
//! a scenario asking for it fails before anything is touched. The intended design: a
//! namespace `gdbh-<pid>-<n>` with a veth pair (10.231.n.1 host side, 10.231.n.2 inside),
//! a forwarder listening inside it (socket bound from a thread that `setns`'d into it),
//! the backhaul proxy re-pointed at it, `tc qdisc add dev <veth> root netem loss 100%`
//! applied inside the namespace, and `ip netns del` on rollback.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::chaos::fault_error::{FaultError, NetnsRefusal};
use crate::chaos::grahmos_edge::GrahmosTarget;
use crate::chaos::undo::Injected;

use crate::spec::faults::backhaul_loss::Spec;

const NOT_BUILT: &str = "backhaul-loss: backend = \"netns\" is not built yet; use backend = \"proxy\"";

/// What the netns backend would do.
pub fn dry_run_steps(_spec: &Spec, target: &str) -> Vec<String> {
    vec![format!("backhaul-loss (netns) on {target}: refused at preflight ({NOT_BUILT})")]
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| Path::new(&dir).join(tool).is_file()))
}

/// Checks root, `ip` and `tc`, then refuses (not built yet).
pub fn preflight(_spec: &Spec) -> Result<(), FaultError> {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        return Err(FaultError::Netns(NetnsRefusal::NotRoot));
    }
    if let Some(missing) = ["ip", "tc"].into_iter().find(|t| !on_path(t)) {
        return Err(FaultError::Netns(NetnsRefusal::Missing(missing)));
    }
    Err(FaultError::Netns(NetnsRefusal::NotBuilt))
}

/// Injects through the namespace (refused: see the module docs).
pub async fn inject(spec: &Spec, _g: &GrahmosTarget) -> Result<Injected, FaultError> {
    preflight(spec)?;
    Err(FaultError::Netns(NetnsRefusal::NotBuilt))
}

/// Recovery `rollback` for the netns backend (nothing can have been injected).
pub fn restore_link() -> Result<String, FaultError> {
    Err(FaultError::Netns(NetnsRefusal::NotBuilt))
}
