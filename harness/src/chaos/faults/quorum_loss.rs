//! Fault `quorum-loss`: Scribe nodes stopped until no majority is left (2 of 3).
//!
//! Without quorum the remaining node refuses writes with 503 `no_quorum` (runbook 001);
//! reads are served stale or refused as the profile says. Recovery `restart-node` (or
//! `rollback`) starts the stopped nodes; quorum returns, a leader is elected and writes
//! resume. The undo restores every node the fault stopped (idempotent).

use gameday_mocks::services::scribe::{self, NodeId, ScribeCluster};

use super::node_failure::{parse_node, restart_stopped, RestoreNodes};
use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::chaos::undo::Injected;
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::quorum_loss::Spec;

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(spec: &Spec) -> Vec<String> {
    let nodes = spec.nodes.as_ref().map_or("a majority of the nodes (2 of 3), leader first".into(), |n| n.join(", "));
    vec![
        format!("stop Scribe nodes {nodes}: no quorum, writes refused (503 no_quorum)"),
        "recovery `restart-node` and rollback: start the stopped nodes again".into(),
    ]
}

/// Whether the target must run as its own process: no (the embedded cluster's hooks).
pub fn needs_process(_spec: &Spec) -> bool {
    false
}

fn pick(spec: &Spec, cluster: &ScribeCluster) -> Result<Vec<NodeId>, FaultError> {
    if let Some(names) = &spec.nodes {
        return names.iter().map(|n| parse_node(cluster, n)).collect();
    }
    let ids = cluster.node_ids();
    let majority = ids.len() / 2 + 1;
    let stop = ids.len() + 1 - majority;
    let mut order: Vec<NodeId> = cluster.leader().into_iter().collect();
    order.extend(ids.iter().copied().filter(|id| Some(*id) != cluster.leader()));
    order.truncate(stop);
    Ok(order)
}

/// Checks that the cluster and the nodes exist, and that stopping them loses the majority.
pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError> {
    let cluster = lookup::scribe(env, spec.target.as_deref())?;
    let stop = pick(spec, cluster)?;
    let total = cluster.node_ids().len();
    let mut distinct = stop.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if (total - distinct.len()) * 2 > total {
        return Err(FaultError::NotQuorumLoss { stopping: distinct.len(), total });
    }
    Ok(())
}

/// Stops the nodes and returns the undo (restore them all).
pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError> {
    let cluster = lookup::scribe(env, spec.target.as_deref())?;
    let stop = pick(spec, cluster)?;
    let undo = RestoreNodes { cluster: cluster.clone(), nodes: stop.clone() };
    for &id in &stop {
        if let Err(e) = cluster.stop_node(id).await {
            let _ = crate::chaos::undo::Rollback::rollback(&undo).await;
            return Err(e.into());
        }
    }
    let names: Vec<_> = stop.iter().map(|&id| scribe::endpoint_name(id)).collect();
    Ok(Injected {
        description: format!("stopped Scribe nodes [{}] of {}", names.join(", "), cluster.node_ids().len()),
        undo: Box::new(undo),
    })
}

/// Runs a built-in recovery action: `restart-node` or `rollback` start every stopped node.
pub async fn recover(spec: &Spec, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
    let cluster = lookup::scribe(env, spec.target.as_deref())?;
    restart_stopped(cluster, action, "quorum-loss").await
}
