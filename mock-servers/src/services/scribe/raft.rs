//! The simulated Raft state every node shares: membership, node health, term and leader.
//!
//! What load and drills can see of Raft, and nothing more:
//! - one leader at a time; the term goes up by one on every election;
//! - a node is *healthy* when it is a voting member and neither stopped nor partitioned;
//!   the cluster has *quorum* while more than half of the voters are healthy;
//! - when the leader stops being healthy (or quorum is lost) it steps down at once; if a
//!   quorum remains, an election completes `election_timeout` later (simulated time,
//!   scaled) and the lowest-numbered healthy voter wins;
//! - without quorum nobody can win, and, as with Raft's PreVote extension, a candidate
//!   that cannot reach a majority does not raise the term; once quorum returns, an
//!   election completes one timeout later;
//! - a writes-paused flag (`POST /admin/pause-writes`) that the whole cluster honours.
//!
//! Time is passed in (`now`), so every transition is a plain function of the calls made
//! and unit tests drive it with paused tokio time. Every mutation re-evaluates the state,
//! so an election timer starts at the moment of the fault, not when someone next looks.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// A node's id (1-based, as in the runbook's `node_id`).
pub type NodeId = u64;

/// One known node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// `host:port` the node serves clients on.
    pub address: String,
    /// Whether it is a voting member.
    pub voter: bool,
    /// Its process is stopped.
    pub stopped: bool,
    /// It is cut off from the others.
    pub partitioned: bool,
}

/// A node's Raft role, as OpenRaft names its server states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Role {
    /// Leads the cluster.
    Leader,
    /// Follows a leader.
    Follower,
    /// Has no leader (election pending, or no quorum).
    Candidate,
    /// Not a voting member (removed from the cluster).
    Learner,
    /// Stopped or partitioned.
    Down,
}

/// Why a write cannot be accepted now.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WriteRefusal {
    /// The node receiving it is not a voting member.
    #[error("node {0} is not a member of the cluster")]
    NotMember(NodeId),
    /// An operator paused writes.
    #[error("writes are paused (POST /admin/resume-writes resumes them)")]
    Paused,
    /// Fewer than a majority of voters are healthy.
    #[error("cluster has no quorum: {healthy} of {members} nodes healthy, {needed} needed")]
    NoQuorum {
        /// Healthy voters.
        healthy: usize,
        /// Voters.
        members: usize,
        /// Majority size.
        needed: usize,
    },
    /// Quorum holds but the election has not completed yet.
    #[error("no leader: an election is in progress")]
    NoLeader {
        /// Real time until the election completes.
        retry_in: Duration,
    },
}

/// Why a membership change or fault was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// No such node.
    #[error("no node {0} in the cluster")]
    UnknownNode(NodeId),
    /// Already a voting member.
    #[error("node {0} is already a member")]
    AlreadyMember(NodeId),
    /// Removing it would leave no voter.
    #[error("node {0} is the last member; a cluster needs at least one")]
    LastMember(NodeId),
}

/// A point-in-time view of the cluster from one node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct View {
    /// The node asked.
    pub node_id: NodeId,
    /// Its role.
    pub role: Role,
    /// Current term.
    pub term: u64,
    /// Current leader, if any.
    pub leader: Option<NodeId>,
    /// The leader's address.
    pub leader_address: Option<String>,
    /// Whether a majority is healthy.
    pub quorum: bool,
    /// Healthy voters.
    pub healthy: usize,
    /// Voters.
    pub members: usize,
    /// Majority size.
    pub needed: usize,
    /// Index of the last committed entry.
    pub commit_index: u64,
    /// Whether writes are paused.
    pub writes_paused: bool,
    /// Elections won since start.
    pub elections: u64,
}

impl View {
    /// Why this node's `/health` answers 503, or `None` when it answers 200: not a member,
    /// stopped or cut off, no quorum, or no leader (an election in progress). The one
    /// verdict both `/health` and the `scribe_node_health` gauge are computed from.
    pub fn health_problem(&self) -> Option<(&'static str, String)> {
        match self.role {
            Role::Learner => Some(("not_a_member", format!("node {} is not a member of the cluster", self.node_id))),
            Role::Down => Some(("node_down", format!("node {} is stopped or cut off from its peers", self.node_id))),
            _ if !self.quorum => Some((
                "no_quorum",
                format!("{} of {} nodes healthy, {} needed", self.healthy, self.members, self.needed),
            )),
            _ if self.leader.is_none() => Some(("no_leader", "an election is in progress".to_owned())),
            _ => None,
        }
    }
}

/// One voter as `/cluster/nodes` lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemberView {
    /// Its id.
    pub node_id: NodeId,
    /// Its client address.
    pub address: String,
    /// Whether it answers its peers.
    pub healthy: bool,
    /// `healthy` or `unreachable`, as its peers see it.
    pub status: &'static str,
    /// Its role.
    pub role: Role,
}

/// The shared Raft state.
#[derive(Clone, Debug)]
pub struct Raft {
    nodes: BTreeMap<NodeId, NodeInfo>,
    term: u64,
    leader: Option<NodeId>,
    election_due: Option<Instant>,
    election_timeout: Duration,
    commit_index: u64,
    elections: u64,
    writes_paused: bool,
}

impl Raft {
    /// A freshly bootstrapped cluster: every node a voter, the first one leader in term 1.
    /// `election_timeout` is real time (already scaled).
    pub fn bootstrap(nodes: Vec<(NodeId, String)>, election_timeout: Duration) -> Self {
        let leader = nodes.first().map(|(id, _)| *id);
        let nodes = nodes
            .into_iter()
            .map(|(id, address)| (id, NodeInfo { address, voter: true, stopped: false, partitioned: false }))
            .collect();
        Self {
            nodes,
            term: 1,
            leader,
            election_due: None,
            election_timeout,
            commit_index: 0,
            elections: 0,
            writes_paused: false,
        }
    }

    fn healthy(&self, id: NodeId) -> bool {
        self.nodes.get(&id).is_some_and(|n| n.voter && !n.stopped && !n.partitioned)
    }

    fn counts(&self) -> (usize, usize, usize) {
        let members = self.nodes.values().filter(|n| n.voter).count();
        let healthy = self.nodes.iter().filter(|(id, _)| self.healthy(**id)).count();
        (healthy, members, members / 2 + 1)
    }

    /// Whether more than half of the voters are healthy.
    pub fn has_quorum(&self) -> bool {
        let (healthy, _, needed) = self.counts();
        healthy >= needed
    }

    /// Re-evaluates leadership at `now`: step-down, election timer, election.
    pub fn refresh(&mut self, now: Instant) {
        let quorum = self.has_quorum();
        if let Some(l) = self.leader {
            if !self.healthy(l) || !quorum {
                self.leader = None;
                self.election_due = None;
            }
        }
        if self.leader.is_some() {
            return;
        }
        if !quorum {
            self.election_due = None;
            return;
        }
        match self.election_due {
            None => self.election_due = Some(now + self.election_timeout),
            Some(due) if due <= now => self.elect(),
            Some(_) => {}
        }
    }

    fn elect(&mut self) {
        let winner = self.nodes.keys().copied().find(|id| self.healthy(*id));
        if let Some(w) = winner {
            self.leader = Some(w);
            self.term += 1;
            self.elections += 1;
            self.election_due = None;
        }
    }

    fn node_mut(&mut self, id: NodeId) -> Result<&mut NodeInfo, MembershipError> {
        self.nodes.get_mut(&id).ok_or(MembershipError::UnknownNode(id))
    }

    /// Marks a node's process stopped or running.
    pub fn set_stopped(&mut self, id: NodeId, stopped: bool, now: Instant) -> Result<(), MembershipError> {
        self.node_mut(id)?.stopped = stopped;
        self.refresh(now);
        Ok(())
    }

    /// Cuts a node off from the others, or heals it.
    pub fn set_partitioned(&mut self, id: NodeId, partitioned: bool, now: Instant) -> Result<(), MembershipError> {
        self.node_mut(id)?.partitioned = partitioned;
        self.refresh(now);
        Ok(())
    }

    /// Adds a voter (a known non-voter rejoins at its own address). Returns its address.
    pub fn add_voter(&mut self, id: NodeId, address: &str, now: Instant) -> Result<String, MembershipError> {
        let node = self.nodes.entry(id).or_insert_with(|| NodeInfo {
            address: address.to_owned(),
            voter: false,
            stopped: false,
            partitioned: false,
        });
        if node.voter {
            return Err(MembershipError::AlreadyMember(id));
        }
        node.voter = true;
        let address = node.address.clone();
        self.commit_index += 1;
        self.refresh(now);
        Ok(address)
    }

    /// Removes a voter; a removed leader steps down and the rest elect a new one.
    pub fn remove_voter(&mut self, id: NodeId, now: Instant) -> Result<(), MembershipError> {
        let voters = self.nodes.values().filter(|n| n.voter).count();
        let node = self.nodes.get_mut(&id).filter(|n| n.voter).ok_or(MembershipError::UnknownNode(id))?;
        if voters <= 1 {
            return Err(MembershipError::LastMember(id));
        }
        node.voter = false;
        self.commit_index += 1;
        self.refresh(now);
        Ok(())
    }

    /// Whether a write arriving at `node` can go to a leader now; the leader if so.
    /// Checked in order: membership, quorum, leader, paused.
    pub fn write_gate(&self, node: NodeId, now: Instant) -> Result<NodeId, WriteRefusal> {
        if !self.nodes.get(&node).is_some_and(|n| n.voter) {
            return Err(WriteRefusal::NotMember(node));
        }
        let (healthy, members, needed) = self.counts();
        if healthy < needed {
            return Err(WriteRefusal::NoQuorum { healthy, members, needed });
        }
        let leader = self.leader.ok_or_else(|| WriteRefusal::NoLeader {
            retry_in: self.election_due.map_or(self.election_timeout, |due| due.saturating_duration_since(now)),
        })?;
        if self.writes_paused {
            return Err(WriteRefusal::Paused);
        }
        Ok(leader)
    }

    /// Records one committed entry; returns its index.
    pub fn commit(&mut self) -> u64 {
        self.commit_index += 1;
        self.commit_index
    }

    /// Pauses or resumes writes cluster-wide.
    pub fn set_writes_paused(&mut self, paused: bool) {
        self.writes_paused = paused;
    }

    /// The current leader.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Every known node (voters and removed ones), by id.
    pub fn nodes(&self) -> &BTreeMap<NodeId, NodeInfo> {
        &self.nodes
    }

    /// Voting member ids.
    pub fn voter_ids(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|(_, n)| n.voter).map(|(id, _)| *id).collect()
    }

    /// A node's role.
    pub fn role(&self, id: NodeId) -> Role {
        match self.nodes.get(&id) {
            None => Role::Learner,
            Some(n) if n.stopped || n.partitioned => Role::Down,
            Some(n) if !n.voter => Role::Learner,
            Some(_) if self.leader == Some(id) => Role::Leader,
            Some(_) if self.leader.is_some() => Role::Follower,
            Some(_) => Role::Candidate,
        }
    }

    /// The cluster as `node` sees it.
    pub fn view(&self, node: NodeId) -> View {
        let (healthy, members, needed) = self.counts();
        View {
            node_id: node,
            role: self.role(node),
            term: self.term,
            leader: self.leader,
            leader_address: self.leader.and_then(|l| self.nodes.get(&l)).map(|n| n.address.clone()),
            quorum: healthy >= needed,
            healthy,
            members,
            needed,
            commit_index: self.commit_index,
            writes_paused: self.writes_paused,
            elections: self.elections,
        }
    }

    /// The voters as `/cluster/nodes` lists them.
    pub fn members(&self) -> Vec<MemberView> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.voter)
            .map(|(id, n)| {
                let healthy = self.healthy(*id);
                MemberView {
                    node_id: *id,
                    address: n.address.clone(),
                    healthy,
                    status: if healthy { "healthy" } else { "unreachable" },
                    role: self.role(*id),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    fn three() -> Raft {
        Raft::bootstrap((1..=3).map(|i| (i, format!("127.0.0.1:800{i}"))).collect(), TIMEOUT)
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_the_leader_elects_another_one_timeout_later_in_the_next_term() {
        let mut r = three();
        assert_eq!((r.leader(), r.term()), (Some(1), 1));
        r.set_stopped(1, true, Instant::now()).ok();
        assert_eq!(r.leader(), None);
        assert!(
            matches!(r.write_gate(2, Instant::now()), Err(WriteRefusal::NoLeader { retry_in }) if retry_in == TIMEOUT)
        );
        tokio::time::advance(TIMEOUT - Duration::from_millis(1)).await;
        r.refresh(Instant::now());
        assert_eq!(r.leader(), None, "no election before the timeout");
        tokio::time::advance(Duration::from_millis(1)).await;
        r.refresh(Instant::now());
        assert_eq!((r.leader(), r.term()), (Some(2), 2));
        assert_eq!(r.write_gate(3, Instant::now()), Ok(2));
        r.set_stopped(1, false, Instant::now()).ok();
        assert_eq!((r.role(1), r.leader()), (Role::Follower, Some(2)), "a returning node does not take over");
    }

    #[tokio::test(start_paused = true)]
    async fn two_of_three_down_refuses_writes_without_raising_the_term_until_one_returns() {
        let mut r = three();
        r.set_stopped(2, true, Instant::now()).ok();
        r.set_partitioned(3, true, Instant::now()).ok();
        let refusal = WriteRefusal::NoQuorum { healthy: 1, members: 3, needed: 2 };
        assert_eq!(r.write_gate(1, Instant::now()), Err(refusal));
        assert_eq!(r.role(1), Role::Candidate);
        tokio::time::advance(TIMEOUT * 10).await;
        r.refresh(Instant::now());
        assert_eq!((r.leader(), r.term()), (None, 1));
        r.set_partitioned(3, false, Instant::now()).ok();
        tokio::time::advance(TIMEOUT).await;
        r.refresh(Instant::now());
        assert_eq!((r.leader(), r.term()), (Some(1), 2));
    }

    #[tokio::test(start_paused = true)]
    async fn membership_changes_move_the_majority() {
        let mut r = three();
        let now = Instant::now();
        assert_eq!(r.add_voter(4, "10.0.1.13:8004", now), Ok("10.0.1.13:8004".into()));
        assert_eq!(r.add_voter(4, "x", now), Err(MembershipError::AlreadyMember(4)));
        assert_eq!(r.view(1).needed, 3);
        r.set_stopped(2, true, now).ok();
        r.set_stopped(3, true, now).ok();
        assert!(!r.has_quorum(), "2 of 4 is not a majority");
        r.remove_voter(4, now).ok();
        assert_eq!(r.remove_voter(4, now), Err(MembershipError::UnknownNode(4)));
        r.remove_voter(2, now).ok();
        r.remove_voter(3, now).ok();
        assert_eq!(r.remove_voter(1, now), Err(MembershipError::LastMember(1)));
        assert!(r.has_quorum());
    }

    #[tokio::test(start_paused = true)]
    async fn removing_the_leader_triggers_an_election_among_the_rest() {
        let mut r = three();
        r.remove_voter(1, Instant::now()).ok();
        assert_eq!(r.role(1), Role::Learner);
        tokio::time::advance(TIMEOUT).await;
        r.refresh(Instant::now());
        assert_eq!((r.leader(), r.term()), (Some(2), 2));
        assert_eq!(r.write_gate(1, Instant::now()), Err(WriteRefusal::NotMember(1)));
    }
}
