//! The state all nodes share (Raft, store, worker pools, samplers) and the fault API
//! drills drive: [`ScribeCluster`].
//!
//! Lock order: `raft` before `store`; neither is held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::node::{self, Command, Node};
use super::raft::{NodeId, Raft, View};
use super::store::Store;
use super::{endpoint_name, profile_error, Profile, RUNBOOK_BASE_PORT};
use crate::kit::{bind_loopback, BindError, MockContext, Sampler, ServiceTime, TimeScale, WorkerPool};
use crate::services::{Endpoint, MockError, RunningService, ServiceId};

/// The request kinds with a service time.
#[derive(Clone, Copy, Debug)]
pub(super) enum Work {
    Read,
    Write,
    Compact,
}

/// Roles an API key grants, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Access {
    Read,
    Write,
    Admin,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

struct Samplers {
    read: Sampler,
    write: Sampler,
    compact: Sampler,
}

/// What every node shares.
pub(super) struct Shared {
    pub profile: Profile,
    pub scale: TimeScale,
    raft: Mutex<Raft>,
    store: RwLock<Store>,
    pools: Mutex<BTreeMap<NodeId, Arc<WorkerPool>>>,
    keys: HashMap<String, Access>,
    samplers: Samplers,
    rng: Mutex<StdRng>,
    mean_s: f64,
}

impl Shared {
    fn new(profile: Profile, ctx: &MockContext, nodes: Vec<(NodeId, String)>) -> Result<Arc<Self>, MockError> {
        let sampler =
            |name: &str, st: &ServiceTime| st.sampler().map_err(|e| profile_error(format!("service_time.{name}: {e}")));
        let st = &profile.service_time;
        let samplers = Samplers {
            read: sampler("read", &st.read)?,
            write: sampler("write", &st.write)?,
            compact: sampler("compact", &st.compact)?,
        };
        let k = &profile.api_keys;
        let keys = k
            .read
            .iter()
            .map(|key| (key.clone(), Access::Read))
            .chain(k.write.iter().map(|key| (key.clone(), Access::Write)))
            .chain(k.admin.iter().map(|key| (key.clone(), Access::Admin)))
            .collect();
        let mut store = Store::default();
        for (key, value) in &profile.seed_data {
            store.put(key, value.as_bytes().to_vec());
        }
        let raft = Raft::bootstrap(nodes, ctx.scale.to_real(profile.election_timeout.get()));
        Ok(Arc::new(Self {
            mean_s: (st.read.mean_secs() + st.write.mean_secs()) / 2.0,
            scale: ctx.scale,
            raft: Mutex::new(raft),
            store: RwLock::new(store),
            pools: Mutex::new(BTreeMap::new()),
            keys,
            samplers,
            rng: ctx.rng("scribe"),
            profile,
        }))
    }

    /// The Raft state (poison-tolerant: a panicked holder cannot wedge the mock).
    pub fn raft(&self) -> MutexGuard<'_, Raft> {
        self.raft.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The store, for reading.
    pub fn store(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The store, for writing.
    pub fn store_mut(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Re-evaluates Raft now and returns the view from `node`.
    pub fn view(&self, node: NodeId) -> View {
        let mut raft = self.raft();
        raft.refresh(Instant::now());
        raft.view(node)
    }

    /// Keys and bytes `node` holds.
    pub fn storage(&self, node: NodeId) -> (usize, u64) {
        let store = self.store();
        (store.len(), store.bytes_on(node))
    }

    /// The role a key grants, if it is known.
    pub fn access(&self, key: &str) -> Option<Access> {
        self.keys.get(key).copied()
    }

    /// The worker pool of `node` (made on first use, e.g. for a member added at run time).
    pub fn pool(&self, node: NodeId) -> Arc<WorkerPool> {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        let pool =
            pools.entry(node).or_insert_with(|| WorkerPool::new(self.profile.pool_config(), self.scale, self.mean_s));
        Arc::clone(pool)
    }

    /// Draws a service time (simulated) for `work`.
    pub fn sample(&self, work: Work) -> Duration {
        let sampler = match work {
            Work::Read => &self.samplers.read,
            Work::Write => &self.samplers.write,
            Work::Compact => &self.samplers.compact,
        };
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        sampler.sample(&mut *rng)
    }
}

/// A fault could not be injected or rolled back.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// No node with that id has a listener.
    #[error("scribe has no node {node} (nodes: {known:?})")]
    UnknownNode {
        /// The id asked for.
        node: NodeId,
        /// The ids that exist.
        known: Vec<NodeId>,
    },
    /// A stopped node could not listen on its port again.
    #[error("scribe node {node}: {source}")]
    Bind {
        /// The node.
        node: NodeId,
        /// The bind failure, naming the address.
        #[source]
        source: BindError,
    },
    /// Nothing is stored, so there is nothing to corrupt.
    #[error("scribe node {0}: the store is empty, there is no data to corrupt")]
    NothingToCorrupt(NodeId),
    /// The node's supervisor is gone (the mock is shutting down).
    #[error("scribe node {0}: the mock is shutting down")]
    ShuttingDown(NodeId),
}

/// Which faults a node currently has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeFaults {
    /// Its listener is closed.
    pub stopped: bool,
    /// Its requests hang and its peers cannot reach it.
    pub partitioned: bool,
    /// Its stored values are garbled.
    pub corrupted: bool,
}

impl NodeFaults {
    /// Whether the node has no fault.
    pub fn is_clear(self) -> bool {
        self == Self::default()
    }
}

struct NodeHandle {
    node: Arc<Node>,
    commands: mpsc::Sender<Command>,
}

/// The running cluster, for drills: inspect Raft and inject or roll back node faults.
///
/// Cloning is cheap; every clone drives the same cluster. Each fault is idempotent and
/// is undone by its counterpart or by [`restore_node`](Self::restore_node) /
/// [`restore_all`](Self::restore_all), which a drill's rollback guard calls.
#[derive(Clone)]
pub struct ScribeCluster {
    shared: Arc<Shared>,
    nodes: Arc<BTreeMap<NodeId, NodeHandle>>,
}

impl std::fmt::Debug for ScribeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScribeCluster").field("nodes", &self.nodes.keys().collect::<Vec<_>>()).finish()
    }
}

impl ScribeCluster {
    fn handle(&self, id: NodeId) -> Result<&NodeHandle, FaultError> {
        self.nodes.get(&id).ok_or_else(|| FaultError::UnknownNode { node: id, known: self.node_ids() })
    }

    /// Ids of the nodes with a listener, ascending.
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// Where node `id` listens.
    pub fn addr(&self, id: NodeId) -> Option<SocketAddr> {
        self.nodes.get(&id).map(|h| h.node.addr)
    }

    /// The cluster as node `id` sees it now.
    pub fn view(&self, id: NodeId) -> View {
        self.shared.view(id)
    }

    /// The current leader, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.shared.view(0).leader
    }

    /// The current term.
    pub fn term(&self) -> u64 {
        self.shared.view(0).term
    }

    /// The faults node `id` has now.
    pub fn faults(&self, id: NodeId) -> Result<NodeFaults, FaultError> {
        self.handle(id)?;
        let raft = self.shared.raft();
        let info = raft.nodes().get(&id);
        Ok(NodeFaults {
            stopped: info.is_some_and(|n| n.stopped),
            partitioned: info.is_some_and(|n| n.partitioned),
            corrupted: self.shared.store().is_corrupted(id),
        })
    }

    fn set_raft<F: FnOnce(&mut Raft, Instant)>(&self, f: F) {
        f(&mut self.shared.raft(), Instant::now());
    }

    /// Kills node `id`: its peers lose it at once, its listener closes and its open
    /// connections drop. Returns when the port is free.
    pub async fn stop_node(&self, id: NodeId) -> Result<(), FaultError> {
        let h = self.handle(id)?;
        self.set_raft(|r, now| {
            let _ = r.set_stopped(id, true, now);
        });
        let (tx, rx) = oneshot::channel();
        h.commands.send(Command::Stop(tx)).await.map_err(|_| FaultError::ShuttingDown(id))?;
        rx.await.map_err(|_| FaultError::ShuttingDown(id))
    }

    /// Starts a stopped node again on the same address; it rejoins as a follower.
    pub async fn start_node(&self, id: NodeId) -> Result<(), FaultError> {
        let h = self.handle(id)?;
        let (tx, rx) = oneshot::channel();
        h.commands.send(Command::Start(tx)).await.map_err(|_| FaultError::ShuttingDown(id))?;
        let bound = rx.await.map_err(|_| FaultError::ShuttingDown(id))?;
        bound.map_err(|source| FaultError::Bind { node: id, source })?;
        self.set_raft(|r, now| {
            let _ = r.set_stopped(id, false, now);
        });
        Ok(())
    }

    /// Cuts node `id` off: its peers lose it and requests to it hang until healed.
    pub fn partition_node(&self, id: NodeId) -> Result<(), FaultError> {
        let h = self.handle(id)?;
        self.set_raft(|r, now| {
            let _ = r.set_partitioned(id, true, now);
        });
        h.node.partitioned.send_replace(true);
        Ok(())
    }

    /// Heals a partition; held requests then proceed.
    pub fn heal_node(&self, id: NodeId) -> Result<(), FaultError> {
        let h = self.handle(id)?;
        self.set_raft(|r, now| {
            let _ = r.set_partitioned(id, false, now);
        });
        h.node.partitioned.send_replace(false);
        Ok(())
    }

    /// Garbles every value node `id` stores; returns how many keys. Its reads return the
    /// garbled bytes and its `/verify` proofs stop matching the committed root.
    pub fn corrupt_node(&self, id: NodeId) -> Result<usize, FaultError> {
        self.handle(id)?;
        let mut store = self.shared.store_mut();
        if store.is_empty() {
            return Err(FaultError::NothingToCorrupt(id));
        }
        Ok(store.corrupt(id))
    }

    /// Re-syncs node `id` from the cluster; returns how many keys were repaired.
    pub fn repair_node(&self, id: NodeId) -> Result<usize, FaultError> {
        self.handle(id)?;
        Ok(self.shared.store_mut().repair(id))
    }

    /// Undoes every fault of node `id`: heals, restarts, repairs.
    pub async fn restore_node(&self, id: NodeId) -> Result<(), FaultError> {
        self.heal_node(id)?;
        self.repair_node(id)?;
        if self.faults(id)?.stopped {
            self.start_node(id).await?;
        }
        Ok(())
    }

    /// Undoes every fault on every node; tries them all and reports the first failure.
    pub async fn restore_all(&self) -> Result<(), FaultError> {
        let mut first = None;
        for id in self.node_ids() {
            if let Err(e) = self.restore_node(id).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Binds every node's listener: node `i` on `RUNBOOK_BASE_PORT + i` with runbook ports.
async fn bind_nodes(nodes: usize, ctx: &MockContext) -> Result<Vec<(NodeId, TcpListener, SocketAddr)>, MockError> {
    let bind_error = |source| MockError::Bind { service: ServiceId::Scribe, source };
    let mut bound = Vec::new();
    for id in 1..=nodes as NodeId {
        let port = ctx.port(RUNBOOK_BASE_PORT + u16::try_from(id).unwrap_or(0));
        let listener = bind_loopback(ctx.host, port).await.map_err(bind_error)?;
        let addr = listener
            .local_addr()
            .map_err(|source| bind_error(BindError { addr: SocketAddr::new(ctx.host, port), source }))?;
        bound.push((id, listener, addr));
    }
    Ok(bound)
}

/// Starts the cluster and returns, besides the running service, the handle drills use.
/// Every listener is bound before any node serves, so a busy port fails the whole start.
pub async fn start_cluster(profile: Profile, ctx: &MockContext) -> Result<(RunningService, ScribeCluster), MockError> {
    profile.validate().map_err(|e| profile_error(e.to_string()))?;
    let bound = bind_nodes(profile.nodes, ctx).await?;
    let members = bound.iter().map(|(id, _, addr)| (*id, addr.to_string())).collect();
    let shared = Shared::new(profile, ctx, members)?;
    let (mut endpoints, mut tasks, mut handles) = (Vec::new(), Vec::new(), BTreeMap::new());
    for (id, listener, addr) in bound {
        let node = Node::new(id, addr, Arc::clone(&shared), ctx.scale)
            .map_err(|source| MockError::Metrics { service: ServiceId::Scribe, source })?;
        let (commands, rx) = mpsc::channel(4);
        tasks.push(tokio::spawn(node::supervise(Arc::clone(&node), listener, rx, ctx.shutdown.clone())));
        endpoints.push(Endpoint { name: endpoint_name(id), addr });
        handles.insert(id, NodeHandle { node, commands });
    }
    let cluster = ScribeCluster { shared, nodes: Arc::new(handles) };
    Ok((RunningService { id: ServiceId::Scribe, endpoints, tasks }, cluster))
}
