//! Fault `node-failure`: a Scribe node (the leader by default) stopped.
//!
//! The node's listener really closes and its peers lose it (the cluster's `stop_node`);
//! with the leader gone the others elect a new one after `election_timeout` and writes
//! resume there. Recovery `restart-node` (or `rollback`) starts the node again on the
//! same port; it rejoins as a follower. The undo restores the node (idempotent).

use std::time::Duration;

use gameday_mocks::services::scribe::{self, NodeId, ScribeCluster};

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::chaos::undo::{BoxFuture, Injected, Rollback};
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::node_failure::Spec;

/// How long a blocking rollback may take to restart nodes.
const BLOCKING_UNDO: Duration = Duration::from_secs(10);

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(spec: &Spec) -> Vec<String> {
    let node = spec.node.as_deref().unwrap_or("the current leader");
    vec![
        format!("stop Scribe node {node} (listener closed, peers lose it; a new leader is elected)"),
        format!("recovery `restart-node` and rollback: start {node} again on its port"),
    ]
}

/// Whether the target must run as its own process: no (the embedded cluster's hooks).
pub fn needs_process(_spec: &Spec) -> bool {
    false
}

/// `scribe` / `scribe-N` / `N` as a node id of `cluster`.
pub fn parse_node(cluster: &ScribeCluster, name: &str) -> Result<NodeId, FaultError> {
    let id = cluster.node_ids().into_iter().find(|&id| scribe::endpoint_name(id) == name || id.to_string() == name);
    id.ok_or_else(|| FaultError::NoTarget {
        target: "scribe".into(),
        what: format!(
            "no node `{name}` (nodes: {})",
            cluster.node_ids().into_iter().map(scribe::endpoint_name).collect::<Vec<_>>().join(", ")
        ),
    })
}

fn pick(spec: &Spec, cluster: &ScribeCluster) -> Result<NodeId, FaultError> {
    match &spec.node {
        Some(name) if name == "follower" => {
            let leader = cluster.leader();
            cluster.node_ids().into_iter().find(|id| Some(*id) != leader).ok_or_else(|| FaultError::NoTarget {
                target: "scribe".into(),
                what: "the cluster has no follower to stop".into(),
            })
        }
        Some(name) => parse_node(cluster, name),
        None => cluster.leader().ok_or_else(|| FaultError::NoTarget {
            target: "scribe".into(),
            what: "the cluster has no leader to stop".into(),
        }),
    }
}

/// Checks that the cluster and the node exist before anything is injected.
pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError> {
    let cluster = lookup::scribe(env, spec.target.as_deref())?;
    pick(spec, cluster).map(|_| ())
}

/// Stops the node and returns the undo (restore it).
pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError> {
    let cluster = lookup::scribe(env, spec.target.as_deref())?;
    let id = pick(spec, cluster)?;
    let was_leader = cluster.leader() == Some(id);
    cluster.stop_node(id).await?;
    let role = if was_leader { " (the leader)" } else { "" };
    Ok(Injected {
        description: format!("stopped Scribe node {}{role}", scribe::endpoint_name(id)),
        undo: Box::new(RestoreNodes { cluster: cluster.clone(), nodes: vec![id] }),
    })
}

/// Runs a built-in recovery action: `restart-node` or `rollback` start every stopped node.
pub async fn recover(spec: &Spec, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
    let cluster = lookup::scribe(env, spec.target.as_deref())?;
    restart_stopped(cluster, action, "node-failure").await
}

/// `restart-node` / `rollback`: starts every stopped node of `cluster`.
pub async fn restart_stopped(
    cluster: &ScribeCluster,
    action: &RecoveryAction,
    fault: &str,
) -> Result<String, FaultError> {
    match action {
        RecoveryAction::RestartNode | RecoveryAction::Rollback => {
            let mut started = Vec::new();
            for id in cluster.node_ids() {
                if cluster.faults(id).is_ok_and(|f| f.stopped) {
                    cluster.start_node(id).await?;
                    started.push(scribe::endpoint_name(id));
                }
            }
            Ok(format!("started Scribe node(s) [{}]", started.join(", ")))
        }
        other => Err(FaultError::no_recovery(fault, "scribe", other, "`restart-node` or `rollback`")),
    }
}

/// The undo: every fault of these nodes undone (the cluster's `restore_node`).
pub struct RestoreNodes {
    /// The cluster.
    pub cluster: ScribeCluster,
    /// The nodes the fault stopped.
    pub nodes: Vec<NodeId>,
}

impl Rollback for RestoreNodes {
    fn describe(&self) -> String {
        let names: Vec<_> = self.nodes.iter().map(|&id| scribe::endpoint_name(id)).collect();
        format!("restore Scribe node(s) [{}]", names.join(", "))
    }

    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
        Box::pin(async move {
            for &id in &self.nodes {
                self.cluster.restore_node(id).await?;
            }
            Ok(())
        })
    }

    fn rollback_blocking(&self) -> Result<(), FaultError> {
        let undo = RestoreNodes { cluster: self.cluster.clone(), nodes: self.nodes.clone() };
        lookup::block_on_undo(async move { undo.rollback().await }, BLOCKING_UNDO)
    }
}
