//! Self-reported health against `/health`: on every serving node, `scribe_node_health`
//! is 1 exactly when `/health` answers 200, and `scribe_cluster_healthy_nodes` equals
//! `/health`'s `healthy_nodes` and the number of listeners the test can reach, before and
//! after a follower stops, during the election after the leader stops, and after both
//! restart. A stopped node exports nothing (its listener refuses connections).

use std::time::{Duration, Instant};

use gameday_mocks::kit::{HumanDuration, PositiveDuration};
use gameday_mocks::services::scribe::Profile;
use reqwest::StatusCode;

use super::metrics::sample;
use super::{Cluster, SCALE};

/// What node `id` says of itself: (`/health` is 200, its `healthy_nodes`,
/// `scribe_node_health`, `scribe_cluster_healthy_nodes`).
async fn health_and_gauges(c: &Cluster, id: u64) -> (bool, u64, f64, f64) {
    let h = c.get(id, "/health").await;
    let text = c.get(id, "/metrics/prometheus").await.body;
    let text = text.as_str().unwrap_or_else(|| panic!("node {id}: /metrics/prometheus is not text"));
    let node_health = sample(text, "scribe_node_health").expect("scribe_node_health");
    let healthy_nodes = sample(text, "scribe_cluster_healthy_nodes").expect("scribe_cluster_healthy_nodes");
    (h.status == StatusCode::OK, h.body["healthy_nodes"].as_u64().unwrap(), node_health, healthy_nodes)
}

/// Nodes whose `/health` accepts a connection: the oracle for "really serving".
async fn reachable(c: &Cluster) -> Vec<u64> {
    let mut up = Vec::new();
    for id in c.handle.node_ids() {
        let sent = c.http.get(c.url(id, "/health")).timeout(Duration::from_secs(2)).send().await;
        match sent {
            Ok(_) => up.push(id),
            Err(e) => assert!(e.is_connect(), "node {id}: a stopped node refuses, it does not hang: {e}"),
        }
    }
    up
}

/// Asserts every reachable node's gauges agree with its `/health` and with `reachable`;
/// returns whether each reachable node's `/health` answered 200.
async fn assert_agree(c: &Cluster, when: &str) -> Vec<bool> {
    let serving = reachable(c).await;
    let mut oks = Vec::new();
    for &id in &serving {
        let (ok, body_nodes, node_health, gauge_nodes) = health_and_gauges(c, id).await;
        assert_eq!(node_health, f64::from(u8::from(ok)), "{when}: node {id} scribe_node_health vs /health");
        assert_eq!(gauge_nodes, body_nodes as f64, "{when}: node {id} healthy_nodes gauge vs /health");
        assert_eq!(body_nodes, serving.len() as u64, "{when}: node {id} healthy_nodes vs reachable {serving:?}");
        oks.push(ok);
    }
    oks
}

#[tokio::test]
async fn node_health_and_healthy_nodes_agree_with_health_through_stops_and_an_election() {
    // Election after 500 s simulated = 5 s real at scale 100: time to look during it.
    let timeout = PositiveDuration(HumanDuration(Duration::from_secs(500)));
    let profile = Profile { election_timeout: timeout, ..Profile::default() };
    let c = Cluster::start(profile, SCALE).await;
    assert_eq!(assert_agree(&c, "all up").await, [true, true, true]);
    let leader = c.leader(1).await.0.unwrap();
    let follower = c.others(leader)[0];

    c.handle.stop_node(follower).await.unwrap();
    assert_eq!(assert_agree(&c, "follower stopped").await, [true, true], "quorum and leader remain");

    c.handle.start_node(follower).await.unwrap();
    let started = Instant::now();
    c.handle.stop_node(leader).await.unwrap();
    let during = assert_agree(&c, "leader stopped, election pending").await;
    assert!(started.elapsed() < Duration::from_secs(5), "looked after the election: rerun on a quieter machine");
    assert_eq!(during, [false, false], "no leader: /health 503 and scribe_node_health 0");
    let witness = c.others(leader)[0];
    c.await_new_leader(witness, leader, Duration::from_secs(15)).await;
    assert_eq!(assert_agree(&c, "new leader elected").await, [true, true]);

    c.handle.start_node(leader).await.unwrap();
    assert_eq!(assert_agree(&c, "all back").await, [true, true, true]);
}
