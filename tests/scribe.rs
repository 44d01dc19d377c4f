//! Integration tests for the Scribe ledger mock: a real cluster on port 0, over HTTP.
//!
//! Oracles: the sockets the test itself knows (addresses), counts of what the test did
//! (keys, operations), hand-computed byte counts, RFC 9162's inclusion-proof algorithm and
//! RFC 6962's tree hash written here from the RFCs (not the mock's code), a strict
//! Prometheus text checker written from the exposition format spec, `promtool`, and the
//! runbook's own `curl` commands run by the real `curl`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use gameday_mocks::kit::{HumanDuration, MockContext, PositiveDuration};
use gameday_mocks::services::scribe::{self, Profile, ScribeCluster};
use gameday_mocks::{RunningService, ServiceProfile, TimeScale};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Simulated seconds per real second in most tests: the 5 s election timeout is 50 ms.
const SCALE: f64 = 100.0;
const ADMIN: &str = "admin-key";
const WRITE: &str = "write-key";
const READ: &str = "read-key";

struct Cluster {
    service: RunningService,
    handle: ScribeCluster,
    ctx: MockContext,
    http: Client,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Cluster {
    async fn start(profile: Profile, scale: f64) -> Cluster {
        let ctx = MockContext {
            scale: TimeScale::new(scale).unwrap(),
            ..MockContext::default()
        };
        let (service, handle) = scribe::start_cluster(profile, &ctx)
            .await
            .expect("scribe starts");
        // No pooled connections: a stopped node must be seen as a refused connect.
        let http = Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Cluster {
            service,
            handle,
            ctx,
            http,
        }
    }

    async fn default() -> Cluster {
        Cluster::start(
            Profile {
                seed_data: BTreeMap::new(),
                ..Profile::default()
            },
            SCALE,
        )
        .await
    }

    fn url(&self, node: u64, path: &str) -> String {
        format!("http://{}{path}", self.handle.addr(node).unwrap())
    }

    async fn send(
        &self,
        method: Method,
        node: u64,
        path: &str,
        key: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(node, path));
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let resp = req.send().await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, node: u64, path: &str) -> Reply {
        self.send(Method::GET, node, path, None, None).await
    }

    async fn put(&self, node: u64, key: &str, value: &str, api_key: Option<&str>) -> Reply {
        let body = json!({ "value": value }).to_string();
        self.send(Method::PUT, node, &format!("/{key}"), api_key, Some(body))
            .await
    }

    async fn post(&self, node: u64, path: &str, api_key: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, node, path, api_key, Some(body.to_string()))
            .await
    }

    async fn leader(&self, via: u64) -> (Option<u64>, u64) {
        let r = self.get(via, "/cluster/leader/info").await;
        (
            r.body["leader_id"].as_u64(),
            r.body["term"].as_u64().unwrap(),
        )
    }

    /// Polls `via` until it names a leader other than `not`; bounded by `limit`.
    async fn await_new_leader(&self, via: u64, not: u64, limit: Duration) -> (u64, u64) {
        let until = Instant::now() + limit;
        loop {
            if let (Some(l), term) = self.leader(via).await {
                if l != not {
                    return (l, term);
                }
            }
            assert!(Instant::now() < until, "no new leader within {limit:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn others(&self, node: u64) -> Vec<u64> {
        self.handle
            .node_ids()
            .into_iter()
            .filter(|n| *n != node)
            .collect()
    }
}

fn assert_json_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "body: {}", r.body);
    assert_eq!(r.body["error"], code, "body: {}", r.body);
    assert!(r.body["message"].is_string(), "body: {}", r.body);
}

#[tokio::test]
async fn three_nodes_answer_the_status_endpoints_with_one_leader() {
    let c = Cluster::default().await;
    let names: Vec<_> = c
        .service
        .endpoints
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["scribe", "scribe-2", "scribe-3"]);
    let addrs: BTreeSet<String> = c
        .service
        .endpoints
        .iter()
        .map(|e| e.addr.to_string())
        .collect();
    let mut leaders = BTreeSet::new();
    let mut is_leader = Vec::new();
    for (i, e) in c.service.endpoints.iter().enumerate() {
        let id = i as u64 + 1;
        assert_eq!(Some(e.addr), c.handle.addr(id));
        let h = c.get(id, "/health").await;
        assert_eq!(
            (
                h.status,
                h.body["status"].as_str(),
                h.body["node_id"].as_u64()
            ),
            (StatusCode::OK, Some("ok"), Some(id))
        );
        let info = c.get(id, "/cluster/info").await.body;
        for field in [
            "is_leader",
            "current_leader",
            "state",
            "current_term",
            "last_log_index",
            "last_applied",
        ] {
            assert!(
                info.get(field).is_some(),
                "/cluster/info lacks {field}: {info}"
            );
        }
        assert_eq!(info["node_id"], id);
        leaders.insert((
            info["current_leader"].as_u64(),
            info["current_term"].as_u64(),
        ));
        if info["is_leader"] == true {
            is_leader.push(id);
            assert_eq!(info["state"], "Leader");
        }
        let nodes = c.get(id, "/cluster/nodes").await.body;
        let listed: BTreeSet<String> = nodes["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["address"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(listed, addrs, "members are the listeners the test sees");
        assert_eq!(nodes["healthy_nodes"], 3);
        let leader = c.get(id, "/cluster/leader/info").await.body;
        assert_eq!(leader["leader_id"], info["current_leader"]);
    }
    assert_eq!(
        leaders.len(),
        1,
        "every node agrees on leader and term: {leaders:?}"
    );
    assert_eq!(is_leader.len(), 1);
    assert_eq!(
        leaders.first().and_then(|(l, _)| *l),
        is_leader.first().copied()
    );
}

#[tokio::test]
async fn api_keys_gate_reads_writes_deletes_and_admin_routes() {
    let c = Cluster::default().await;
    assert_json_error(
        &c.put(1, "k1", "v1", None).await,
        StatusCode::UNAUTHORIZED,
        "missing_api_key",
    );
    assert_json_error(
        &c.put(1, "k1", "v1", Some("nope")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    );
    assert_json_error(
        &c.put(1, "k1", "v1", Some(READ)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        c.put(1, "k1", "v1", Some(WRITE)).await.status,
        StatusCode::OK
    );

    assert_json_error(
        &c.send(Method::GET, 1, "/k1", None, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_api_key",
    );
    let read = c.send(Method::GET, 2, "/k1", Some(READ), None).await;
    assert_eq!(
        (read.status, read.body["value"].as_str()),
        (StatusCode::OK, Some("v1"))
    );
    let bearer = c
        .http
        .get(c.url(3, "/k1"))
        .bearer_auth(READ)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);

    assert_json_error(
        &c.send(Method::DELETE, 1, "/k1", Some(WRITE), None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        c.send(Method::DELETE, 1, "/k1", Some(ADMIN), None)
            .await
            .status,
        StatusCode::OK
    );
    let gone = c.send(Method::GET, 1, "/k1", Some(READ), None).await;
    assert_json_error(&gone, StatusCode::NOT_FOUND, "key_not_found");
    assert_eq!(gone.body["value"], Value::Null);

    let admin_routes = [
        (
            "/cluster/nodes/add",
            json!({"node_id": 9, "address": "10.0.0.9:8009"}),
        ),
        ("/cluster/nodes/remove", json!({"node_id": 3})),
        ("/admin/pause-writes", json!({})),
        ("/admin/resume-writes", json!({})),
        ("/admin/compact", json!({})),
    ];
    for (path, body) in admin_routes {
        assert_json_error(
            &c.post(1, path, None, body.clone()).await,
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
        );
        assert_json_error(
            &c.post(1, path, Some(WRITE), body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
}

#[tokio::test]
async fn a_follower_forwards_writes_to_the_leader_and_every_node_reads_them() {
    let c = Cluster::default().await;
    let (leader, _) = c.leader(1).await;
    let leader = leader.unwrap();
    let follower = c.others(leader)[0];
    let w = c
        .put(follower, "user:alice", "Alice Smith", Some(WRITE))
        .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.body);
    assert_eq!(
        (w.body["forwarded"].as_bool(), w.body["leader_id"].as_u64()),
        (Some(true), Some(leader))
    );
    for node in c.handle.node_ids() {
        let r = c
            .send(Method::GET, node, "/user:alice", Some(READ), None)
            .await;
        assert_eq!(r.body["value"], "Alice Smith");
    }
    // Raw bytes in and out, as the real node's octet-stream mode.
    let blob = vec![0u8, 159, 146, 150, 255];
    let put = c
        .http
        .put(c.url(2, "/blob"))
        .header("X-API-Key", WRITE)
        .header("Content-Type", "application/octet-stream")
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let got = c
        .http
        .get(c.url(3, "/blob"))
        .header("X-API-Key", READ)
        .header("Accept", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap().to_vec(), blob);
    let as_json = c.send(Method::GET, 3, "/blob", Some(READ), None).await;
    assert_json_error(&as_json, StatusCode::NOT_ACCEPTABLE, "binary_value");
}

#[tokio::test]
async fn pause_resume_compact_and_membership_changes_work_with_the_admin_key() {
    let c = Cluster::default().await;
    assert_eq!(
        c.post(2, "/admin/pause-writes", Some(ADMIN), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    assert_json_error(
        &c.put(3, "k", "v", Some(WRITE)).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "writes_paused",
    );
    assert_eq!(
        c.post(1, "/admin/resume-writes", Some(ADMIN), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        c.put(3, "gone-soon", "12345", Some(WRITE)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        c.send(Method::DELETE, 3, "/gone-soon", Some(ADMIN), None)
            .await
            .status,
        StatusCode::OK
    );
    let compacted = c.post(2, "/admin/compact", Some(ADMIN), json!({})).await;
    assert_eq!(compacted.status, StatusCode::OK, "{}", compacted.body);
    // Hand count: the tombstone of "gone-soon" (9 bytes) + "12345" (5 bytes).
    assert_eq!(compacted.body["reclaimed_bytes"], 14);
    assert_eq!(
        c.post(2, "/admin/compact", Some(ADMIN), json!({}))
            .await
            .body["reclaimed_bytes"],
        0
    );

    let add = json!({"node_id": 4, "address": "10.0.1.13:8004"});
    assert_eq!(
        c.post(1, "/cluster/nodes/add", Some(ADMIN), add.clone())
            .await
            .status,
        StatusCode::OK
    );
    let nodes = c.get(2, "/cluster/nodes").await.body;
    assert_eq!(
        (
            nodes["members"].as_array().map(Vec::len),
            nodes["quorum_size"].as_u64()
        ),
        (Some(4), Some(3))
    );
    assert_json_error(
        &c.post(1, "/cluster/nodes/add", Some(ADMIN), add).await,
        StatusCode::CONFLICT,
        "already_member",
    );
    let remove = json!({"node_id": 4});
    assert_eq!(
        c.post(3, "/cluster/nodes/remove", Some(ADMIN), remove.clone())
            .await
            .status,
        StatusCode::OK
    );
    assert_json_error(
        &c.post(3, "/cluster/nodes/remove", Some(ADMIN), remove)
            .await,
        StatusCode::NOT_FOUND,
        "unknown_node",
    );
    assert_eq!(
        c.get(1, "/cluster/nodes").await.body["members"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let zero = c
        .post(
            1,
            "/cluster/nodes/add",
            Some(ADMIN),
            json!({"node_id": 0, "address": "x:1"}),
        )
        .await;
    assert_json_error(&zero, StatusCode::BAD_REQUEST, "invalid_node");
}

#[tokio::test]
async fn stopping_the_leader_elects_a_new_leader_in_a_higher_term_after_the_timeout() {
    // 30 s simulated at scale 100: the election completes 300 ms (real) after the stop.
    let profile = Profile {
        election_timeout: PositiveDuration(HumanDuration(Duration::from_secs(30))),
        seed_data: BTreeMap::new(),
        ..Profile::default()
    };
    let c = Cluster::start(profile, SCALE).await;
    let (old, term) = c.leader(1).await;
    let old = old.unwrap();
    let witness = c.others(old)[0];
    let stopped_at = Instant::now();
    c.handle.stop_node(old).await.unwrap();
    let refused = c.http.get(c.url(old, "/health")).send().await.unwrap_err();
    assert!(
        refused.is_connect(),
        "a stopped node refuses connections: {refused}"
    );
    let during = c.put(witness, "k", "v", Some(WRITE)).await;
    assert_json_error(&during, StatusCode::SERVICE_UNAVAILABLE, "no_leader");
    assert!(during.headers.contains_key("retry-after"));

    let (new, new_term) = c
        .await_new_leader(witness, old, Duration::from_secs(5))
        .await;
    assert!(
        stopped_at.elapsed() >= Duration::from_millis(300),
        "elected before the election timeout"
    );
    assert!(new_term > term, "term {new_term} after {term}");
    assert_ne!(new, old);
    let w = c.put(witness, "after", "election", Some(WRITE)).await;
    assert_eq!(
        (w.status, w.body["leader_id"].as_u64()),
        (StatusCode::OK, Some(new))
    );
    let info = c.get(new, "/cluster/info").await.body;
    assert_eq!(
        (info["is_leader"].as_bool(), info["current_term"].as_u64()),
        (Some(true), Some(new_term))
    );

    c.handle.start_node(old).await.unwrap();
    let back = c.get(old, "/health").await;
    assert_eq!(
        back.status,
        StatusCode::OK,
        "restarted on the same port: {}",
        back.body
    );
    let info = c.get(old, "/cluster/info").await.body;
    assert_eq!(
        (info["state"].as_str(), info["current_leader"].as_u64()),
        (Some("Follower"), Some(new))
    );
}

#[tokio::test]
async fn a_write_in_flight_when_its_leader_is_killed_is_dropped_and_not_committed() {
    // Writes take 200 s simulated = 2 s real at scale 100; the leader dies 200 ms in.
    let profile = Profile {
        service_time: scribe::ServiceTimes {
            write: gameday_mocks::kit::ServiceTime::fixed(Duration::from_secs(200)),
            ..scribe::ServiceTimes::default()
        },
        job_timeout: PositiveDuration(HumanDuration(Duration::from_secs(3600))),
        ..Profile::default()
    };
    let c = std::sync::Arc::new(Cluster::start(profile, SCALE).await);
    let leader = c.leader(1).await.0.unwrap();
    let c2 = std::sync::Arc::clone(&c);
    let started = Instant::now();
    let in_flight = tokio::spawn(async move {
        let body = json!({"value": "lost"}).to_string();
        c2.http
            .put(c2.url(leader, "/doomed"))
            .header("X-API-Key", WRITE)
            .body(body)
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.handle.stop_node(leader).await.unwrap();
    let outcome = in_flight.await.unwrap();
    assert!(
        outcome.is_err(),
        "the client sees the connection drop, not an answer: {outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "dropped at once, not after the 2 s write"
    );
    let witness = c.others(leader)[0];
    c.await_new_leader(witness, leader, Duration::from_secs(5))
        .await;
    let r = c
        .send(Method::GET, witness, "/doomed", Some(READ), None)
        .await;
    assert_json_error(&r, StatusCode::NOT_FOUND, "key_not_found");
}

#[tokio::test]
async fn writes_fail_without_quorum_and_are_accepted_again_after_recovery() {
    let c = Cluster::default().await;
    assert_eq!(
        c.put(1, "before", "quorum loss", Some(WRITE)).await.status,
        StatusCode::OK
    );
    let (leader, term) = c.leader(1).await;
    let leader = leader.unwrap();
    let survivor = c.others(leader)[0];
    let down = [leader, c.others(leader)[1]];
    for n in down {
        c.handle.stop_node(n).await.unwrap();
    }
    let w = c.put(survivor, "during", "quorum loss", Some(WRITE)).await;
    assert_json_error(&w, StatusCode::SERVICE_UNAVAILABLE, "no_quorum");
    assert_eq!(
        (
            w.body["healthy_nodes"].as_u64(),
            w.body["quorum_size"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let r = c
        .send(Method::GET, survivor, "/before", Some(READ), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (r.body["quorum"].as_bool(), r.body["stale"].as_bool()),
        (Some(false), Some(true))
    );
    assert_json_error(
        &c.get(survivor, "/health").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "no_quorum",
    );
    assert_eq!(
        c.get(survivor, "/cluster/nodes").await.body["healthy_nodes"],
        1
    );
    let metrics = c.get(survivor, "/metrics").await.body;
    assert_eq!(
        sample(metrics.as_str().unwrap(), "scribe_node_health"),
        Some(0.0)
    );

    c.handle.start_node(down[1]).await.unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let w = c.put(survivor, "after", "recovery", Some(WRITE)).await;
        if w.status == StatusCode::OK {
            assert!(w.body["term"].as_u64().unwrap() > term);
            break;
        }
        assert!(
            Instant::now() < until,
            "writes not accepted after recovery: {}",
            w.body
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(c.get(survivor, "/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn linearizable_profile_refuses_reads_without_quorum() {
    let profile = Profile {
        reads_without_quorum: scribe::ReadsWithoutQuorum::Refuse,
        ..Profile::default()
    };
    let c = Cluster::start(profile, SCALE).await;
    c.handle.stop_node(2).await.unwrap();
    c.handle.stop_node(3).await.unwrap();
    let r = c.send(Method::GET, 1, "/key", Some(READ), None).await;
    assert_json_error(&r, StatusCode::SERVICE_UNAVAILABLE, "no_quorum");
}

#[tokio::test]
async fn a_partitioned_node_hangs_until_healed_and_loses_leadership() {
    let c = Cluster::default().await;
    let (leader, term) = c.leader(1).await;
    let leader = leader.unwrap();
    c.handle.partition_node(leader).unwrap();
    let hung = c
        .http
        .get(c.url(leader, "/health"))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(hung.is_timeout(), "a partitioned node hangs: {hung}");
    let witness = c.others(leader)[0];
    let (new, new_term) = c
        .await_new_leader(witness, leader, Duration::from_secs(5))
        .await;
    assert!(new_term > term && new != leader);
    c.handle.heal_node(leader).unwrap();
    let back = c.get(leader, "/cluster/info").await.body;
    assert_eq!(back["current_leader"].as_u64(), Some(new));
    assert!(c.handle.faults(leader).unwrap().is_clear());
}

#[tokio::test]
async fn shutdown_ends_every_node_even_with_a_request_held_by_a_partition() {
    let mut c = Cluster::default().await;
    c.handle.partition_node(2).unwrap();
    c.handle.stop_node(3).await.unwrap();
    // A client that keeps waiting keeps the connection (and the held request) open.
    let held = tokio::spawn(c.http.get(c.url(2, "/health")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !held.is_finished(),
        "the partitioned node holds the request"
    );
    let tasks = std::mem::take(&mut c.service.tasks);
    assert_eq!(tasks.len(), 3, "one serving task per node");
    c.ctx.shutdown.cancel();
    for t in tasks {
        let ended = tokio::time::timeout(Duration::from_secs(3), t).await;
        assert!(
            matches!(ended, Ok(Ok(Ok(())))),
            "a node did not shut down: {ended:?}"
        );
    }
    let answer = held.await.unwrap().unwrap();
    assert_eq!(
        answer.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the held request is released at shutdown"
    );
}

// --- Merkle proofs: an independent verifier written from RFC 6962 / RFC 9162. ---

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The documented leaf: SHA-256(0x00 || u32_be(len key) || key || value).
fn leaf(key: &str, value: &[u8]) -> [u8; 32] {
    sha(&[
        &[0],
        &(key.len() as u32).to_be_bytes(),
        key.as_bytes(),
        value,
    ])
}

/// RFC 6962 2.1 Merkle Tree Hash over leaf hashes.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha(&[]),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            sha(&[&[1], &mth(&leaves[..k]), &mth(&leaves[k..])])
        }
    }
}

/// RFC 9162 2.1.3.2: verifying an inclusion proof.
fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    path: &[[u8; 32]],
    root: [u8; 32],
) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s, mut r) = (index, size - 1, leaf);
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = sha(&[&[1], p, &r]);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = sha(&[&[1], &r, p]);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == root
}

fn hex32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

/// Checks `/verify` output the way a client would: is the served leaf the pair it
/// expects, and does the path fold it to the committed root?
fn client_check(body: &Value, key: &str, value: &str) -> (bool, bool) {
    let p = &body["proof"];
    let served_leaf = hex32(&p["leaf_hash"]);
    let path: Vec<[u8; 32]> = p["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(hex32)
        .collect();
    let root = hex32(&p["root_hash"]);
    let folds = verify_inclusion(
        p["leaf_index"].as_u64().unwrap(),
        p["tree_size"].as_u64().unwrap(),
        served_leaf,
        &path,
        root,
    );
    (served_leaf == leaf(key, value.as_bytes()), folds)
}

#[tokio::test]
async fn merkle_proofs_verify_independently_and_fail_on_a_corrupted_node() {
    let c = Cluster::default().await;
    let data: BTreeMap<&str, &str> = [
        ("user:alice", "Alice"),
        ("user:bob", "Bob"),
        ("a", "1"),
        ("zeta", "last"),
        ("m", ""),
    ]
    .into();
    for (k, v) in &data {
        assert_eq!(c.put(1, k, v, Some(WRITE)).await.status, StatusCode::OK);
    }
    let expected_root = hex::encode(mth(&data
        .iter()
        .map(|(k, v)| leaf(k, v.as_bytes()))
        .collect::<Vec<_>>()));
    for node in c.handle.node_ids() {
        for (k, v) in &data {
            let r = c.get(node, &format!("/verify/{k}")).await;
            assert_eq!(
                (r.status, r.body["verified"].as_bool()),
                (StatusCode::OK, Some(true)),
                "{}",
                r.body
            );
            assert_eq!(
                r.body["proof"]["root_hash"],
                expected_root.as_str(),
                "root over the test's own data"
            );
            assert_eq!(
                client_check(&r.body, k, v),
                (true, true),
                "node {node} key {k}"
            );
        }
    }
    assert_json_error(
        &c.get(1, "/verify/missing").await,
        StatusCode::NOT_FOUND,
        "key_not_found",
    );

    assert_eq!(c.handle.corrupt_node(2).unwrap(), data.len());
    let bad = c.get(2, "/verify/user:bob").await;
    assert_json_error(&bad, StatusCode::INTERNAL_SERVER_ERROR, "merkle_mismatch");
    assert_eq!(bad.body["verified"], false);
    assert_eq!(
        client_check(&bad.body, "user:bob", "Bob"),
        (false, false),
        "the client's own check fails too"
    );
    let good = c.get(1, "/verify/user:bob").await;
    assert_eq!(client_check(&good.body, "user:bob", "Bob"), (true, true));

    c.handle.restore_node(2).await.unwrap();
    let repaired = c.get(2, "/verify/user:bob").await;
    assert_eq!(repaired.status, StatusCode::OK);
    assert_eq!(
        client_check(&repaired.body, "user:bob", "Bob"),
        (true, true)
    );
}

// --- Prometheus text: a strict checker written from the exposition format. ---

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Splits `name{labels} value` checking label syntax; returns (name, labels).
fn parse_sample(line: &str) -> Result<(String, String), String> {
    let (series, value) = line.rsplit_once(' ').ok_or("no value")?;
    if value.parse::<f64>().is_err() && !["+Inf", "-Inf", "NaN"].contains(&value) {
        return Err(format!("bad value `{value}`"));
    }
    let (name, labels) = match series.split_once('{') {
        None => (series, ""),
        Some((n, rest)) => (n, rest.strip_suffix('}').ok_or("unclosed labels")?),
    };
    if !valid_name(name) {
        return Err(format!("bad metric name `{name}`"));
    }
    let mut rest = labels;
    while !rest.is_empty() {
        let (lname, after) = rest.split_once("=\"").ok_or("label without =\"")?;
        if !valid_name(lname) || lname.contains(':') {
            return Err(format!("bad label name `{lname}`"));
        }
        let mut end = None;
        let mut escaped = false;
        for (i, ch) in after.char_indices() {
            match (escaped, ch) {
                (true, '\\' | '"' | 'n') => escaped = false,
                (true, _) => return Err("bad escape".into()),
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("unterminated label value")?;
        rest = after[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&after[end + 1..]);
    }
    Ok((name.to_owned(), labels.to_owned()))
}

/// Every line is HELP, TYPE or a sample of a declared family; no duplicate series.
fn check_exposition(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line}", n + 1);
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without kind".into()))?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind)
                || !valid_name(name)
            {
                return Err(at("bad TYPE".into()));
            }
            if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                return Err(at("second TYPE for a family".into()));
            }
        } else if line.starts_with("# HELP ") || line.is_empty() {
        } else if line.starts_with('#') {
            return Err(at("unknown comment".into()));
        } else {
            let (name, labels) = parse_sample(line).map_err(at)?;
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))
                })
                .unwrap_or(&name);
            if !types.contains_key(family) {
                return Err(at("sample before its TYPE".into()));
            }
            if !seen.insert((name.clone(), labels)) {
                return Err(at("duplicate series".into()));
            }
        }
    }
    Ok(types)
}

/// The value of an unlabelled sample.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

fn promtool(text: &str) -> Option<(i32, String)> {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let msg =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.code().unwrap_or(-1), msg))
}

#[tokio::test]
async fn metrics_are_valid_prometheus_text_with_the_runbook_names_and_true_values() {
    let c = Cluster::default().await;
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        assert_eq!(c.put(2, k, v, Some(WRITE)).await.status, StatusCode::OK);
    }
    for _ in 0..4 {
        c.send(Method::GET, 2, "/a", Some(READ), None).await;
    }
    let term = c.get(2, "/cluster/info").await.body["current_term"].as_f64();
    for path in ["/metrics", "/metrics/prometheus"] {
        let text = c.get(2, path).await.body.as_str().unwrap().to_owned();
        let types = check_exposition(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        for name in [
            "scribe_ops_total",
            "scribe_request_latency_p99",
            "scribe_errors_total",
            "scribe_storage_keys_total",
            "scribe_raft_term",
            "scribe_node_health",
            "gameday_http_requests_total",
        ] {
            assert!(types.contains_key(name), "{path} lacks {name}");
        }
        assert_eq!(
            sample(&text, "scribe_ops_total"),
            Some(7.0),
            "3 puts and 4 gets on node 2"
        );
        assert_eq!(sample(&text, "scribe_storage_keys_total"), Some(3.0));
        assert_eq!(sample(&text, "scribe_raft_term"), term);
        assert_eq!(sample(&text, "scribe_node_health"), Some(1.0));
        assert!(sample(&text, "scribe_request_latency_p99").is_some_and(|ms| ms > 0.0));
        match promtool(&text) {
            None => eprintln!("promtool not installed; skipping its check"),
            Some((0, _)) => {}
            // The runbook names a gauge `scribe_storage_keys_total`; that lint is expected.
            Some((3, msg)) => {
                let lints: Vec<_> = msg.lines().filter(|l| !l.trim().is_empty()).collect();
                assert!(
                    lints
                        .iter()
                        .all(|l| l.starts_with("scribe_storage_keys_total ")),
                    "promtool: {msg}"
                );
            }
            Some((code, msg)) => panic!("promtool check metrics failed ({code}): {msg}"),
        }
    }
    let json = c
        .http
        .get(c.url(2, "/metrics"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let json: Value = json.json().await.unwrap();
    assert_eq!(
        (json["total_keys"].as_u64(), json["total_puts"].as_u64()),
        (Some(3), Some(3))
    );
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_the_node_keeps_serving() {
    let profile = Profile {
        max_body_bytes: 1024,
        max_key_bytes: 16,
        ..Profile::default()
    };
    let c = Cluster::start(profile, SCALE).await;
    let cases: Vec<(Reply, StatusCode, &str)> = vec![
        (
            c.send(Method::PUT, 1, "/k", Some(WRITE), Some("{not json".into()))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            c.send(
                Method::PUT,
                1,
                "/k",
                Some(WRITE),
                Some("{\"value\": 5}".into()),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            c.send(Method::PUT, 1, "/k", Some(WRITE), Some("x".repeat(2048)))
                .await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            c.send(
                Method::PUT,
                1,
                &format!("/{}", "k".repeat(17)),
                Some(WRITE),
                Some("{}".into()),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "key_too_long",
        ),
        (
            c.send(Method::POST, 1, "/health", None, None).await,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            c.send(Method::PUT, 1, "/cluster/info", None, None).await,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            c.send(Method::GET, 1, "/cluster/nodes/add", None, None)
                .await,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            c.send(Method::GET, 1, "/no/such/route", None, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            c.post(
                1,
                "/cluster/nodes/add",
                Some(ADMIN),
                json!({"node_id": "four"}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            c.send(
                Method::POST,
                1,
                "/cluster/nodes/remove",
                Some(ADMIN),
                Some("[".into()),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ];
    for (reply, status, code) in &cases {
        assert_json_error(reply, *status, code);
    }
    assert_eq!(c.get(1, "/health").await.status, StatusCode::OK);
    assert_eq!(
        c.put(1, "k", "fine", Some(WRITE)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn storage_capacity_refuses_new_keys_but_not_overwrites() {
    let profile = Profile {
        max_keys: 2,
        seed_data: BTreeMap::new(),
        ..Profile::default()
    };
    let c = Cluster::start(profile, SCALE).await;
    assert_eq!(c.put(1, "a", "1", Some(WRITE)).await.status, StatusCode::OK);
    assert_eq!(c.put(2, "b", "2", Some(WRITE)).await.status, StatusCode::OK);
    assert_json_error(
        &c.put(3, "c", "3", Some(WRITE)).await,
        StatusCode::INSUFFICIENT_STORAGE,
        "storage_full",
    );
    assert_eq!(
        c.put(1, "a", "again", Some(WRITE)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_leaders_worker_pool_queues_writes_and_refuses_past_its_queue() {
    // Real time (scale 1): one worker, two queue slots, 400 ms per write.
    let profile = Profile {
        workers: 1,
        job_capacity: 2,
        service_time: scribe::ServiceTimes {
            write: gameday_mocks::kit::ServiceTime::fixed(Duration::from_millis(400)),
            ..scribe::ServiceTimes::default()
        },
        ..Profile::default()
    };
    let c = std::sync::Arc::new(Cluster::start(profile, 1.0).await);
    let leader = c.leader(1).await.0.unwrap();
    let follower = c.others(leader)[0];
    let started = Instant::now();
    let mut running = Vec::new();
    for (i, node) in [leader, follower, leader].into_iter().enumerate() {
        let c = std::sync::Arc::clone(&c);
        running.push(tokio::spawn(async move {
            c.put(node, &format!("q{i}"), "v", Some(WRITE)).await.status
        }));
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    // One write in service and two queued on the leader: a fourth (via a follower) is refused.
    let refused = c.put(follower, "q3", "v", Some(WRITE)).await;
    assert_json_error(&refused, StatusCode::SERVICE_UNAVAILABLE, "queue_full");
    assert!(refused.headers.contains_key("retry-after"));
    for r in running {
        assert_eq!(r.await.unwrap(), StatusCode::OK);
    }
    // M/D/1 with the queue full: the third write ends after three service times.
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_runbooks_curl_commands_work_against_the_cluster() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("curl not installed; skipping the runbook command check");
        return;
    }
    // Started the way `gameday mocks` starts it: through the generic service dispatch.
    let mock = crate::common::Mock::start(ServiceProfile::Scribe(Profile::default()), SCALE).await;
    let host = mock.url().trim_start_matches("http://").to_owned();
    let sh = |script: String| {
        tokio::task::spawn_blocking(move || {
            Command::new("sh").args(["-c", &script]).output().unwrap()
        })
    };
    // The runbook's commands with `localhost:8001` / `leader:8001` / `node1:8001` replaced.
    let commands = [
        "curl -sf http://HOST/health",
        "curl -sf http://HOST/cluster/info",
        "curl -sf http://HOST/cluster/nodes",
        "curl -sf http://HOST/cluster/leader/info",
        "curl -sf -X POST http://HOST/cluster/nodes/add -H 'Content-Type: application/json' -H 'X-API-Key: admin-key' -d '{\n    \"node_id\": 4,\n    \"address\": \"10.0.1.13:8004\"\n  }'",
        "curl -sf -X POST http://HOST/cluster/nodes/remove -H 'Content-Type: application/json' -H 'X-API-Key: admin-key' -d '{\"node_id\": 4}'",
        "curl -sf -X POST http://HOST/admin/pause-writes -H 'X-API-Key: admin-key'",
        "curl -sf -X POST http://HOST/admin/resume-writes -H 'X-API-Key: admin-key'",
        "curl -sf -X POST http://HOST/admin/compact -H 'X-API-Key: admin-key'",
        "curl -sf http://HOST/verify/key",
        "curl -s http://HOST/metrics | grep storage",
        "curl -sf http://HOST/metrics/prometheus | grep latency",
    ];
    for cmd in commands {
        let out = sh(cmd.replace("HOST", &host)).await.unwrap();
        assert!(
            out.status.success(),
            "`{cmd}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let has_jq = Command::new("jq").arg("--version").output().is_ok();
    if has_jq {
        for (path, filter) in [
            ("/cluster/leader/info", ".leader_id"),
            ("/cluster/info", ".current_term"),
            ("/health", ".status"),
        ] {
            let out = sh(format!("curl -s http://{host}{path} | jq -e {filter}"))
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{path} | jq {filter}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}
