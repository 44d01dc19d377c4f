//! Integration tests for the Scribe ledger mock: a real cluster on port 0, over HTTP.
//!
//! Oracles: the sockets the test itself knows (addresses), counts of what the test did
//! (keys, operations), hand-computed byte counts, RFC 9162's inclusion-proof algorithm and
//! RFC 6962's tree hash written here from the RFCs (not the mock's code), a strict
//! Prometheus text checker written from the exposition format spec, `promtool`, and the
//! runbook's own `curl` commands run by the real `curl`.

mod faults;
mod health;
mod metrics;
mod proofs;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gameday_mocks::kit::{MockContext, ServiceTime};
use gameday_mocks::services::scribe::{self, Profile, ScribeCluster};
use gameday_mocks::{RunningService, ServiceProfile, TimeScale};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

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
        let ctx = MockContext { scale: TimeScale::new(scale).unwrap(), ..MockContext::default() };
        let (service, handle) = scribe::start_cluster(profile, &ctx).await.expect("scribe starts");
        // No pooled connections: a stopped node must be seen as a refused connect.
        let http =
            Client::builder().no_proxy().pool_max_idle_per_host(0).timeout(Duration::from_secs(10)).build().unwrap();
        Cluster { service, handle, ctx, http }
    }

    async fn default() -> Cluster {
        Cluster::start(Profile { seed_data: BTreeMap::new(), ..Profile::default() }, SCALE).await
    }

    fn url(&self, node: u64, path: &str) -> String {
        format!("http://{}{path}", self.handle.addr(node).unwrap())
    }

    async fn send(&self, method: Method, node: u64, path: &str, key: Option<&str>, body: Option<String>) -> Reply {
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
        Reply { status, headers, body }
    }

    async fn get(&self, node: u64, path: &str) -> Reply {
        self.send(Method::GET, node, path, None, None).await
    }

    async fn put(&self, node: u64, key: &str, value: &str, api_key: Option<&str>) -> Reply {
        let body = json!({ "value": value }).to_string();
        self.send(Method::PUT, node, &format!("/{key}"), api_key, Some(body)).await
    }

    async fn post(&self, node: u64, path: &str, api_key: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, node, path, api_key, Some(body.to_string())).await
    }

    async fn leader(&self, via: u64) -> (Option<u64>, u64) {
        let r = self.get(via, "/cluster/leader/info").await;
        (r.body["leader_id"].as_u64(), r.body["term"].as_u64().unwrap())
    }

    /// Polls `via` until it names a leader other than `not`; bounded by `limit`.
    async fn await_new_leader(&self, via: u64, not: u64, limit: Duration) -> (u64, u64) {
        crate::common::poll_async(&format!("a leader other than node {not}, seen from node {via}"), limit, || async {
            match self.leader(via).await {
                (Some(l), term) if l != not => Some((l, term)),
                _ => None,
            }
        })
        .await
    }

    /// Polls `node`'s `/metrics` until its worker pool holds `jobs` (in service plus queued).
    async fn await_jobs(&self, node: u64, jobs: f64) {
        let what = format!("node {node}'s worker pool to hold {jobs} jobs");
        crate::common::poll_async(&what, Duration::from_secs(10), || async {
            let text = self.get(node, "/metrics").await.body;
            let text = text.as_str()?;
            let in_flight = metrics::sample(text, "gameday_jobs_in_flight{pool=\"node\"}")?;
            let queued = metrics::sample(text, "gameday_queue_depth{pool=\"node\"}")?;
            (in_flight + queued == jobs).then_some(())
        })
        .await;
    }

    fn others(&self, node: u64) -> Vec<u64> {
        self.handle.node_ids().into_iter().filter(|n| *n != node).collect()
    }
}

/// Asserts a 200 and hands back the body.
fn ok(r: Reply) -> Value {
    assert_eq!(r.status, StatusCode::OK, "body: {}", r.body);
    r.body
}

fn assert_json_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "body: {}", r.body);
    assert_eq!(r.body["error"], code, "body: {}", r.body);
    assert!(r.body["message"].is_string(), "body: {}", r.body);
}

/// One node's status endpoints; returns (its leader, its term, whether it leads).
async fn check_status(c: &Cluster, id: u64, addrs: &BTreeSet<String>) -> (Option<u64>, Option<u64>, bool) {
    let h = ok(c.get(id, "/health").await);
    assert_eq!((h["status"].as_str(), h["node_id"].as_u64()), (Some("ok"), Some(id)));
    let info = ok(c.get(id, "/cluster/info").await);
    let fields = ["is_leader", "current_leader", "state", "current_term", "last_log_index", "last_applied"];
    for field in fields {
        assert!(info.get(field).is_some(), "/cluster/info lacks {field}: {info}");
    }
    assert_eq!(info["node_id"], id);
    let leads = info["is_leader"] == true;
    assert_eq!(leads, info["state"] == "Leader");
    let nodes = ok(c.get(id, "/cluster/nodes").await);
    let members = nodes["members"].as_array().unwrap().iter();
    let listed: BTreeSet<String> = members.map(|m| m["address"].as_str().unwrap().to_owned()).collect();
    assert_eq!(&listed, addrs, "members are the listeners the test sees");
    assert_eq!(nodes["healthy_nodes"], 3);
    let leader = ok(c.get(id, "/cluster/leader/info").await);
    assert_eq!(leader["leader_id"], info["current_leader"]);
    (info["current_leader"].as_u64(), info["current_term"].as_u64(), leads)
}

#[tokio::test]
async fn three_nodes_answer_the_status_endpoints_with_one_leader() {
    let c = Cluster::default().await;
    let endpoints = &c.service.endpoints;
    let names: Vec<_> = endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["scribe", "scribe-2", "scribe-3"]);
    let addrs: BTreeSet<String> = endpoints.iter().map(|e| e.addr.to_string()).collect();
    let mut views = BTreeSet::new();
    let mut leaders = Vec::new();
    for (i, e) in endpoints.iter().enumerate() {
        let id = i as u64 + 1;
        assert_eq!(Some(e.addr), c.handle.addr(id));
        let (leader, term, leads) = check_status(&c, id, &addrs).await;
        views.insert((leader, term));
        if leads {
            leaders.push(id);
        }
    }
    assert_eq!(views.len(), 1, "every node agrees on leader and term: {views:?}");
    assert_eq!(leaders.len(), 1);
    assert_eq!(views.first().and_then(|(l, _)| *l), leaders.first().copied());
}

#[tokio::test]
async fn api_keys_gate_key_value_operations_by_role() {
    let c = Cluster::default().await;
    let put = |key| c.put(1, "k1", "v1", key);
    assert_json_error(&put(None).await, StatusCode::UNAUTHORIZED, "missing_api_key");
    assert_json_error(&put(Some("nope")).await, StatusCode::UNAUTHORIZED, "invalid_api_key");
    assert_json_error(&put(Some(READ)).await, StatusCode::FORBIDDEN, "forbidden");
    ok(put(Some(WRITE)).await);

    let get = |node, key| c.send(Method::GET, node, "/k1", key, None);
    assert_json_error(&get(1, None).await, StatusCode::UNAUTHORIZED, "missing_api_key");
    assert_eq!(ok(get(2, Some(READ)).await)["value"], "v1");
    let bearer = c.http.get(c.url(3, "/k1")).bearer_auth(READ).send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);

    let delete = |key| c.send(Method::DELETE, 1, "/k1", key, None);
    assert_json_error(&delete(Some(WRITE)).await, StatusCode::FORBIDDEN, "forbidden");
    ok(delete(Some(ADMIN)).await);
    let gone = get(1, Some(READ)).await;
    assert_json_error(&gone, StatusCode::NOT_FOUND, "key_not_found");
    assert_eq!(gone.body["value"], Value::Null);
}

#[tokio::test]
async fn admin_routes_need_the_admin_key() {
    let c = Cluster::default().await;
    let admin_routes = [
        ("/cluster/nodes/add", json!({"node_id": 9, "address": "10.0.0.9:8009"})),
        ("/cluster/nodes/remove", json!({"node_id": 3})),
        ("/admin/pause-writes", json!({})),
        ("/admin/resume-writes", json!({})),
        ("/admin/compact", json!({})),
    ];
    for (path, body) in admin_routes {
        let anonymous = c.post(1, path, None, body.clone()).await;
        assert_json_error(&anonymous, StatusCode::UNAUTHORIZED, "missing_api_key");
        let writer = c.post(1, path, Some(WRITE), body.clone()).await;
        assert_json_error(&writer, StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(c.get(1, "/cluster/nodes").await.body["members"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn a_follower_forwards_writes_to_the_leader_and_every_node_reads_them() {
    let c = Cluster::default().await;
    let leader = c.leader(1).await.0.unwrap();
    let follower = c.others(leader)[0];
    let w = ok(c.put(follower, "user:alice", "Alice Smith", Some(WRITE)).await);
    assert_eq!((w["forwarded"].as_bool(), w["leader_id"].as_u64()), (Some(true), Some(leader)));
    for node in c.handle.node_ids() {
        let r = c.send(Method::GET, node, "/user:alice", Some(READ), None).await;
        assert_eq!(r.body["value"], "Alice Smith");
    }
    // Raw bytes in and out, as the real node's octet-stream mode.
    let blob = vec![0u8, 159, 146, 150, 255];
    let octets = "application/octet-stream";
    let put = c.http.put(c.url(2, "/blob")).header("X-API-Key", WRITE).header("Content-Type", octets);
    assert_eq!(put.body(blob.clone()).send().await.unwrap().status(), StatusCode::OK);
    let get = c.http.get(c.url(3, "/blob")).header("X-API-Key", READ).header("Accept", octets);
    assert_eq!(get.send().await.unwrap().bytes().await.unwrap().to_vec(), blob);
    let as_json = c.send(Method::GET, 3, "/blob", Some(READ), None).await;
    assert_json_error(&as_json, StatusCode::NOT_ACCEPTABLE, "binary_value");
}

#[tokio::test]
async fn pause_resume_and_compact_work_with_the_admin_key() {
    let c = Cluster::default().await;
    ok(c.post(2, "/admin/pause-writes", Some(ADMIN), json!({})).await);
    let paused = c.put(3, "k", "v", Some(WRITE)).await;
    assert_json_error(&paused, StatusCode::SERVICE_UNAVAILABLE, "writes_paused");
    ok(c.post(1, "/admin/resume-writes", Some(ADMIN), json!({})).await);
    ok(c.put(3, "gone-soon", "12345", Some(WRITE)).await);
    ok(c.send(Method::DELETE, 3, "/gone-soon", Some(ADMIN), None).await);
    let compacted = ok(c.post(2, "/admin/compact", Some(ADMIN), json!({})).await);
    // Hand count: the tombstone of "gone-soon" (9 bytes) + "12345" (5 bytes).
    assert_eq!(compacted["reclaimed_bytes"], 14);
    let again = ok(c.post(2, "/admin/compact", Some(ADMIN), json!({})).await);
    assert_eq!(again["reclaimed_bytes"], 0);
    // Compaction is per node: node 3 still holds its tombstone.
    assert_eq!(ok(c.post(3, "/admin/compact", Some(ADMIN), json!({})).await)["reclaimed_bytes"], 14);
}

#[tokio::test]
async fn membership_changes_move_the_quorum_size() {
    let c = Cluster::default().await;
    let add = json!({"node_id": 4, "address": "10.0.1.13:8004"});
    ok(c.post(1, "/cluster/nodes/add", Some(ADMIN), add.clone()).await);
    let nodes = ok(c.get(2, "/cluster/nodes").await);
    let counts = (nodes["members"].as_array().map(Vec::len), nodes["quorum_size"].as_u64());
    assert_eq!(counts, (Some(4), Some(3)), "a majority of 4 is 3");
    let again = c.post(1, "/cluster/nodes/add", Some(ADMIN), add).await;
    assert_json_error(&again, StatusCode::CONFLICT, "already_member");
    let remove = json!({"node_id": 4});
    ok(c.post(3, "/cluster/nodes/remove", Some(ADMIN), remove.clone()).await);
    let unknown = c.post(3, "/cluster/nodes/remove", Some(ADMIN), remove).await;
    assert_json_error(&unknown, StatusCode::NOT_FOUND, "unknown_node");
    let nodes = ok(c.get(1, "/cluster/nodes").await);
    assert_eq!((nodes["members"].as_array().map(Vec::len), nodes["quorum_size"].as_u64()), (Some(3), Some(2)));
    let zero = c.post(1, "/cluster/nodes/add", Some(ADMIN), json!({"node_id": 0, "address": "x:1"})).await;
    assert_json_error(&zero, StatusCode::BAD_REQUEST, "invalid_node");
}

/// One malformed request: (method, path, API key, body, status, error code).
type BadRequest = (&'static str, &'static str, Option<&'static str>, Option<&'static str>, u16, &'static str);

/// Malformed input, one request each.
#[rustfmt::skip]
const BAD_REQUESTS: &[BadRequest] = &[
    ("PUT", "/k", Some(WRITE), Some("{not json"), 400, "invalid_json"),
    ("PUT", "/k", Some(WRITE), Some("{\"value\": 5}"), 400, "invalid_json"),
    ("PUT", "/kkkkkkkkkkkkkkkkk", Some(WRITE), Some("{}"), 400, "key_too_long"),
    ("POST", "/health", None, None, 405, "method_not_allowed"),
    ("PUT", "/cluster/info", None, None, 405, "method_not_allowed"),
    ("GET", "/cluster/nodes/add", None, None, 405, "method_not_allowed"),
    ("GET", "/no/such/route", None, None, 404, "not_found"),
    ("POST", "/cluster/nodes/add", Some(ADMIN), Some("{\"node_id\": \"four\"}"), 400, "invalid_json"),
    ("POST", "/cluster/nodes/remove", Some(ADMIN), Some("["), 400, "invalid_json"),
];

#[tokio::test]
async fn bad_requests_get_json_errors_and_the_node_keeps_serving() {
    let profile = Profile { max_body_bytes: 1024, max_key_bytes: 16, ..Profile::default() };
    let c = Cluster::start(profile, SCALE).await;
    for (method, path, key, body, status, code) in BAD_REQUESTS {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let reply = c.send(method, 1, path, *key, body.map(str::to_owned)).await;
        assert_json_error(&reply, StatusCode::from_u16(*status).unwrap(), code);
        assert_eq!(c.get(1, "/health").await.status, StatusCode::OK, "still serving after {path}");
    }
    let too_big = c.send(Method::PUT, 1, "/k", Some(WRITE), Some("x".repeat(2048))).await;
    assert_json_error(&too_big, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    ok(c.put(1, "k", "fine", Some(WRITE)).await);
}

#[tokio::test]
async fn storage_capacity_refuses_new_keys_but_not_overwrites() {
    let profile = Profile { max_keys: 2, seed_data: BTreeMap::new(), ..Profile::default() };
    let c = Cluster::start(profile, SCALE).await;
    ok(c.put(1, "a", "1", Some(WRITE)).await);
    ok(c.put(2, "b", "2", Some(WRITE)).await);
    assert_json_error(&c.put(3, "c", "3", Some(WRITE)).await, StatusCode::INSUFFICIENT_STORAGE, "storage_full");
    ok(c.put(1, "a", "again", Some(WRITE)).await);
}

#[tokio::test]
async fn the_leaders_worker_pool_queues_writes_and_refuses_past_its_queue() {
    // Real time (scale 1): one worker, two queue slots, 500 ms per write.
    let service_time = scribe::ServiceTimes {
        write: ServiceTime::fixed(Duration::from_millis(500)),
        ..scribe::ServiceTimes::default()
    };
    let profile = Profile { workers: 1, job_capacity: 2, service_time, ..Profile::default() };
    let c = Arc::new(Cluster::start(profile, 1.0).await);
    let leader = c.leader(1).await.0.unwrap();
    let follower = c.others(leader)[0];
    let started = Instant::now();
    let mut running = Vec::new();
    for (i, node) in [leader, follower, leader].into_iter().enumerate() {
        let writer = Arc::clone(&c);
        running.push(tokio::spawn(async move { writer.put(node, &format!("q{i}"), "v", Some(WRITE)).await.status }));
        // In order: each write is on the leader before the next is sent.
        c.await_jobs(leader, (i + 1) as f64).await;
    }
    // One write in service and two queued on the leader: a fourth (via a follower) is refused.
    let refused = c.put(follower, "q3", "v", Some(WRITE)).await;
    assert_json_error(&refused, StatusCode::SERVICE_UNAVAILABLE, "queue_full");
    assert!(refused.headers.contains_key("retry-after"));
    for r in running {
        assert_eq!(r.await.unwrap(), StatusCode::OK);
    }
    // FIFO behind one worker: the third write ends after three service times.
    assert!(started.elapsed() >= Duration::from_millis(1500), "took {:?}", started.elapsed());
}

/// The runbook's commands, with `localhost:8001` / `leader:8001` / `node1:8001` as HOST.
const RUNBOOK_COMMANDS: &[&str] = &[
    "curl -sf http://HOST/health",
    "curl -sf http://HOST/cluster/info",
    "curl -sf http://HOST/cluster/nodes",
    "curl -sf http://HOST/cluster/leader/info",
    "curl -sf -X POST http://HOST/cluster/nodes/add -H 'Content-Type: application/json' \
     -H 'X-API-Key: admin-key' -d '{\n    \"node_id\": 4,\n    \"address\": \"10.0.1.13:8004\"\n  }'",
    "curl -sf -X POST http://HOST/cluster/nodes/remove -H 'Content-Type: application/json' \
     -H 'X-API-Key: admin-key' -d '{\"node_id\": 4}'",
    "curl -sf -X POST http://HOST/admin/pause-writes -H 'X-API-Key: admin-key'",
    "curl -sf -X POST http://HOST/admin/resume-writes -H 'X-API-Key: admin-key'",
    "curl -sf -X POST http://HOST/admin/compact -H 'X-API-Key: admin-key'",
    "curl -sf http://HOST/verify/key",
    "curl -s http://HOST/metrics | grep storage",
    "curl -sf http://HOST/metrics/prometheus | grep latency",
    "curl -s http://HOST/cluster/leader/info | jq -e .leader_id",
    "curl -s http://HOST/cluster/info | jq -e .current_term",
];

#[tokio::test]
async fn the_runbooks_curl_commands_work_against_the_cluster() {
    if !crate::common::have_tools(&["curl", "jq", "sh"], "the runbook's curl commands") {
        return;
    }
    // Started the way `gameday mocks` starts it: through the generic service dispatch.
    let mock = crate::common::Mock::start(ServiceProfile::Scribe(Profile::default()), SCALE).await;
    let host = mock.url().trim_start_matches("http://").to_owned();
    for cmd in RUNBOOK_COMMANDS {
        let script = cmd.replace("HOST", &host);
        let run = tokio::task::spawn_blocking(move || Command::new("sh").args(["-c", &script]).output());
        let out = run.await.unwrap().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "`{cmd}` failed: {stderr}");
    }
}
