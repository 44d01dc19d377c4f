//! Integration tests for the Grahmos edge mock: real listeners on port 0, real HTTP and
//! TLS (reqwest's rustls client), a real index directory, real certificates.
//!
//! Oracles: the documents on disk read back by the test and filtered by the access
//! rule written out again here; the certificate files parsed with x509-parser; the
//! Prometheus text format checked line by line against the exposition format.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gameday_mocks::kit::certs::{CertChain, ChainSpec};
use gameday_mocks::kit::MockContext;
use gameday_mocks::services::grahmos::auth::DpopKey;
use gameday_mocks::services::grahmos::{self, Handle, Profile};
use gameday_mocks::{RunningService, ServiceProfile, TimeScale};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::Mock;

/// A running edge with its drill handle; stopped on drop.
struct Edge {
    running: RunningService,
    handle: Handle,
    ctx: MockContext,
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
    }
}

impl Edge {
    async fn start(overrides: Value, scale: f64) -> Edge {
        let profile: Profile = serde_json::from_value(overrides).expect("profile overrides parse");
        let ctx = MockContext { scale: TimeScale::new(scale).unwrap(), ..MockContext::default() };
        let (running, handle) = grahmos::start_with_handle(profile, &ctx).await.expect("edge starts");
        Edge { running, handle, ctx }
    }

    fn url(&self, name: &str) -> String {
        let e = self.running.endpoints.iter().find(|e| e.name == name).expect("endpoint");
        format!("http://{}", e.addr)
    }

    fn api(&self) -> String {
        self.url("grahmos")
    }

    fn engine(&self) -> String {
        self.url("grahmos-search")
    }
}

fn client() -> Client {
    Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

async fn get_json(c: &Client, url: &str) -> (StatusCode, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn fresh_nonce(c: &Client, base: &str) -> String {
    let (status, body) = get_json(c, &format!("{base}/auth/dpop/nonce")).await;
    assert_eq!(status, 200);
    body["nonce"].as_str().unwrap().to_owned()
}

/// A token obtained the way a client does: nonce, DPoP proof, POST /auth/dpop.
async fn token(c: &Client, base: &str, tenants: &[&str], tier: &str) -> String {
    let key = DpopKey::generate().unwrap();
    let nonce = fresh_nonce(c, base).await;
    let proof = key.proof("POST", &format!("{base}/auth/dpop"), Some(&nonce));
    let r = c
        .post(format!("{base}/auth/dpop"))
        .header("DPoP", proof)
        .json(&json!({"sub": "tester", "tenant_ids": tenants, "tier": tier}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn search(c: &Client, base: &str, token: &str, q: &str) -> (StatusCode, HashMap<String, String>, Value) {
    let mut url = reqwest::Url::parse(&format!("{base}/search")).unwrap();
    url.query_pairs_mut().append_pair("q", q).append_pair("limit", "100");
    let r = c.get(url).bearer_auth(token).send().await.unwrap();
    let status = r.status();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

fn hit_ids(body: &Value) -> BTreeSet<String> {
    body["hits"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_owned()).collect()
}

fn b64url_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => panic!("not base64url"),
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &c in s.as_bytes() {
        acc = (acc << 6) | u32::from(val(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Checks the Prometheus text exposition format (0.0.4) line by line and returns the
/// samples as `series -> value`.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
    };
    let mut typed: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, arg) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap_or(""));
            assert!(valid_name(name), "bad metric name in {line}");
            if kind == "TYPE" {
                assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&arg), "bad type: {line}");
                assert!(typed.insert(name.to_owned(), arg.to_owned()).is_none(), "TYPE twice: {line}");
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(valid_name(name), "bad sample name: {line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "bad labels: {line}");
                for pair in labels[1..labels.len() - 1].split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label: {line}"));
                    assert!(valid_name(k) && !k.starts_with("__"), "bad label name: {line}");
                    assert!(!v.trim_end_matches('"').contains('\n'));
                }
            }
        }
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).filter(|f| typed.get(*f).is_some_and(|t| t == "histogram")).unwrap_or(name);
        assert!(typed.contains_key(family), "sample before its TYPE: {line}");
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        samples.insert(series.to_owned(), v);
    }
    samples
}

async fn metrics(c: &Client, base: &str) -> HashMap<String, f64> {
    let r = c.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    parse_prometheus(&r.text().await.unwrap())
}

#[tokio::test]
async fn starts_through_the_fleet_dispatch_with_three_endpoints() {
    let mock = Mock::start(ServiceProfile::Grahmos(Profile::default()), 1.0).await;
    let names: Vec<_> = mock.service.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["grahmos", "grahmos-search", "grahmos-upstream"]);
    let (status, body) = get_json(&client(), &format!("{}/api/health", mock.url())).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("healthy")));
}

#[tokio::test]
async fn every_endpoint_answers() {
    let edge = Edge::start(json!({}), 1.0).await;
    let (c, api, engine) = (client(), edge.api(), edge.engine());
    for path in ["/api/health", "/api/v1/status", "/api/v2/status"] {
        let (status, body) = get_json(&c, &format!("{api}{path}")).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (_, v1) = get_json(&c, &format!("{api}/api/v1/status")).await;
    assert_eq!(v1["search"]["release"], "v2");
    let (_, v2) = get_json(&c, &format!("{api}/api/v2/status")).await;
    assert_eq!(v2["upstream"]["state"], "up");
    assert_eq!(v2["index"]["releases"], json!(["v1", "v2"]));

    // The token's header names a key the JWKS publishes.
    let t = token(&c, &api, &["tenant-a"], "public").await;
    let header: Value = serde_json::from_slice(&b64url_decode(t.split('.').next().unwrap())).unwrap();
    let (_, jwks) = get_json(&c, &format!("{api}/.well-known/jwks.json")).await;
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&header["kid"].as_str().unwrap()), "{kids:?} vs {header}");

    // The runbook's canary query, with a token and via POST /api/search.
    let (status, h, body) = search(&c, &api, &t, "canary test").await;
    assert_eq!(status, 200);
    assert_eq!(body["hits"][0]["id"], "canary");
    assert_eq!(h["x-index-release"], "v2");
    let r = c.post(format!("{api}/api/search")).bearer_auth(&t).body(r#"{"q": "canary", "filter": "user_can_access"}"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["hits"][0]["id"], "canary");

    // The search engine's port: health, stats, anonymous canary, a staged release probe.
    let (status, hz) = get_json(&c, &format!("{engine}/_healthz")).await;
    assert_eq!((status, hz["status"].as_str()), (StatusCode::OK, Some("available")));
    let (status, stats) = get_json(&c, &format!("{engine}/stats")).await;
    let on_disk = fs::read_dir(edge.handle.index_dir().join("current/docs")).unwrap().count();
    assert_eq!((status, stats["indexes"]["documents"]["numberOfDocuments"].as_u64()), (StatusCode::OK, Some(on_disk as u64)));
    assert_eq!(stats["databases"]["v2"]["numberOfDocuments"].as_u64(), Some(on_disk as u64));
    let (status, anon) = get_json(&c, &format!("{engine}/search?q=canary")).await;
    assert_eq!((status, anon["hits"][0]["id"].as_str()), (StatusCode::OK, Some("canary")));
    let r = c.post(format!("{engine}/search?q=canary")).body(r#"{"index": "v1"}"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["release"], "v1");
    let (_, rel) = get_json(&c, &format!("{engine}/releases")).await;
    assert_eq!(rel["current"], "v2");

    // The upstream mock answers on its own port.
    let (status, _) = get_json(&c, &format!("{}/health", edge.url("grahmos-upstream"))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn dpop_nonce_is_single_use_and_required() {
    let edge = Edge::start(json!({}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let (status, n) = get_json(&c, &format!("{api}/auth/dpop/nonce")).await;
    assert_eq!(status, 200);
    assert!(n["expires"].as_u64().unwrap() <= 120);
    let nonce = n["nonce"].as_str().unwrap();
    let key = DpopKey::generate().unwrap();
    let url = format!("{api}/auth/dpop");
    let claims = json!({"sub": "alice", "tenant_ids": ["tenant-a"], "tier": "restricted"});
    let issue = |proof: String| c.post(&url).header("DPoP", proof).json(&claims).send();

    let first = issue(key.proof("POST", &url, Some(nonce))).await.unwrap();
    assert_eq!(first.status(), 200);
    let tok = first.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();

    // The same nonce again, in a new proof: 401 nonce_expired, with a fresh nonce offered.
    let again = issue(key.proof("POST", &url, Some(nonce))).await.unwrap();
    assert_eq!(again.status(), 401);
    let offered = again.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_ne!(offered, nonce);
    assert_eq!(again.json::<Value>().await.unwrap()["error"], "nonce_expired");
    // No nonce at all, no proof at all, a nonce never issued.
    let r = issue(key.proof("POST", &url, None)).await.unwrap();
    assert_eq!((r.status(), r.json::<Value>().await.unwrap()["error"].clone()), (StatusCode::UNAUTHORIZED, json!("nonce_required")));
    let r = c.post(&url).json(&claims).send().await.unwrap();
    assert_eq!((r.status(), r.json::<Value>().await.unwrap()["error"].clone()), (StatusCode::UNAUTHORIZED, json!("invalid_dpop_proof")));
    let r = issue(key.proof("POST", &url, Some("abc123"))).await.unwrap();
    assert_eq!((r.status(), r.json::<Value>().await.unwrap()["error"].clone()), (StatusCode::UNAUTHORIZED, json!("nonce_expired")));
    // The offered nonce works once.
    assert_eq!(issue(key.proof("POST", &url, Some(&offered))).await.unwrap().status(), 200);

    // The runbook's probe: Authorization: DPoP $TOKEN + DPoP: $PROOF on GET /auth/dpop.
    let probe = |k: &DpopKey, n: String| c.get(&url).header("Authorization", format!("DPoP {tok}")).header("DPoP", k.proof("GET", &url, Some(&n))).send();
    let r = probe(&key, fresh_nonce(&c, &api).await).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["tenant_ids"], json!(["tenant-a"]));
    let thief = DpopKey::generate().unwrap();
    let r = probe(&thief, fresh_nonce(&c, &api).await).await.unwrap();
    assert_eq!((r.status(), r.json::<Value>().await.unwrap()["error"].clone()), (StatusCode::UNAUTHORIZED, json!("dpop_key_mismatch")));
}

#[tokio::test]
async fn dpop_nonce_expires_after_its_scaled_lifetime() {
    // 120 s simulated at time scale 200 = 0.6 s real.
    let edge = Edge::start(json!({"nonce_ttl": "120s"}), 200.0).await;
    let (c, api) = (client(), edge.api());
    let key = DpopKey::generate().unwrap();
    let url = format!("{api}/auth/dpop");
    let claims = json!({"sub": "bob", "tenant_ids": ["tenant-b"], "tier": "public"});
    let stale = fresh_nonce(&c, &api).await;
    let fresh = fresh_nonce(&c, &api).await;
    let r = c.post(&url).header("DPoP", key.proof("POST", &url, Some(&fresh))).json(&claims).send().await.unwrap();
    assert_eq!(r.status(), 200, "a nonce used within its lifetime works");
    tokio::time::sleep(Duration::from_millis(900)).await;
    let r = c.post(&url).header("DPoP", key.proof("POST", &url, Some(&stale))).json(&claims).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "nonce_expired");
}

/// The access rule, written out again from the runbook's description.
fn may_see(doc: &Value, tenants: &[&str], tier: &str) -> bool {
    let rank = |l: &str| ["public", "restricted", "secret"].iter().position(|x| *x == l).unwrap();
    let level = doc["labels"].as_array().unwrap().iter().map(|l| rank(l.as_str().unwrap())).max().unwrap_or(2);
    let shared = doc["tenants"].as_array().unwrap().iter().any(|t| t == "*" || tenants.contains(&t.as_str().unwrap()));
    level <= rank(tier) && shared
}

fn matches_word(doc: &Value, word: &str) -> bool {
    let text = format!("{} {}", doc["title"].as_str().unwrap(), doc["content"].as_str().unwrap()).to_lowercase();
    text.split(|c: char| !c.is_alphanumeric()).any(|w| w == word)
}

fn docs_on_disk(dir: &Path) -> Vec<Value> {
    fs::read_dir(dir.join("current/docs")).unwrap().map(|e| serde_json::from_slice(&fs::read(e.unwrap().path()).unwrap()).unwrap()).collect()
}

#[tokio::test]
async fn acl_filtering_matches_the_rule_and_never_crosses_tenants() {
    let edge = Edge::start(json!({"upstream": false, "docs_per_tenant": 12}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let docs = docs_on_disk(edge.handle.index_dir());
    for (tenants, tier) in [(&["tenant-a"][..], "public"), (&["tenant-a"], "secret"), (&["tenant-b"], "restricted"), (&["tenant-a", "tenant-c"], "restricted")] {
        let t = token(&c, &api, tenants, tier).await;
        let (status, _, body) = search(&c, &api, &t, "report").await;
        assert_eq!(status, 200);
        let expected: BTreeSet<String> = docs
            .iter()
            .filter(|d| matches_word(d, "report") && may_see(d, tenants, tier))
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(hit_ids(&body), expected, "{tenants:?} {tier}");
        let hidden = docs.iter().filter(|d| matches_word(d, "report") && !may_see(d, tenants, tier)).count();
        assert_eq!(body["hidden_by_acl"].as_u64(), Some(hidden as u64));
    }
    // tenant-a, fully cleared, searching for tenant-b's documents by name: none of them.
    let t = token(&c, &api, &["tenant-a"], "secret").await;
    let (status, _, body) = search(&c, &api, &t, "tenant-b").await;
    assert_eq!(status, 200);
    assert!(docs.iter().filter(|d| matches_word(d, "b") && d["tenants"] == json!(["tenant-b"])).count() > 5);
    for hit in body["hits"].as_array().unwrap() {
        let tenants = hit["tenants"].as_array().unwrap();
        assert!(tenants.iter().any(|t| t == "tenant-a" || t == "*"), "leaked {hit}");
    }
    // No token, a forged token: 401, nothing returned.
    let r = c.get(format!("{api}/search?q=report")).send().await.unwrap();
    assert_eq!((r.status(), r.json::<Value>().await.unwrap()["error"].clone()), (StatusCode::UNAUTHORIZED, json!("missing_token")));
    let forged = format!("{}.{}", t.rsplit_once('.').unwrap().0, "AAAA");
    let (status, _, body) = search(&c, &api, &forged, "report").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
}

#[tokio::test]
async fn upstream_answers_are_filtered_for_the_caller() {
    let edge = Edge::start(json!({}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let t = token(&c, &api, &["tenant-c"], "secret").await;
    let (status, h, body) = search(&c, &api, &t, "archive").await;
    assert_eq!((status, h["x-cache"].as_str(), body["upstream"].as_str()), (StatusCode::OK, "MISS", Some("fresh")));
    let hits = body["hits"].as_array().unwrap();
    assert!(hits.iter().any(|h| h["source"] == "upstream"));
    for hit in hits {
        assert!(hit["tenants"].as_array().unwrap().iter().any(|t| t == "tenant-c" || t == "*"), "leaked {hit}");
    }
}

fn write_release(index_dir: &Path, name: &str, docs: &[Value]) {
    let dir = index_dir.join("releases").join(name);
    fs::create_dir_all(dir.join("docs")).unwrap();
    let mut entries = Vec::new();
    for d in docs {
        let id = d["id"].as_str().unwrap();
        let bytes = serde_json::to_vec(d).unwrap();
        fs::write(dir.join(format!("docs/{id}.json")), &bytes).unwrap();
        entries.push(json!({"id": id, "path": format!("docs/{id}.json"), "sha256": hex::encode(Sha256::digest(&bytes))}));
    }
    let manifest = json!({"format": 1, "release": name, "created_unix_ms": 0, "documents": entries});
    fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

/// `ln -sfn releases/NAME current`, atomically (symlink then rename).
fn ln_sfn(index_dir: &Path, name: &str) {
    let tmp = index_dir.join("current.test-tmp");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(index_dir.join("releases").join(name), &tmp).unwrap();
    fs::rename(&tmp, index_dir.join("current")).unwrap();
}

/// Canary queries in a loop until `stop`: (answered, failed).
fn canary_load(c: Client, api: String, token: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(u64, u64)> {
    tokio::spawn(async move {
        let (ok, failed) = (AtomicU64::new(0), AtomicU64::new(0));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        for _ in 0..5000 {
            if stop.load(Ordering::Relaxed) || tokio::time::Instant::now() > deadline {
                break;
            }
            let (status, _, body) = search(&c, &api, &token, "canary").await;
            let counter = if status == 200 && body["hits"][0]["id"] == "canary" { &ok } else { &failed };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        (ok.into_inner(), failed.into_inner())
    })
}

#[tokio::test]
async fn release_switch_and_rollback_while_serving() {
    let edge = Edge::start(json!({"upstream": false}), 1.0).await;
    let (c, api, dir) = (client(), edge.api(), edge.handle.index_dir().to_owned());
    let t = token(&c, &api, &["tenant-a"], "public").await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = canary_load(c.clone(), api.clone(), t.clone(), Arc::clone(&stop));

    // Stage v3 = v2 + one document, by hand, then swap the symlink (the runbook's steps).
    let mut docs = docs_on_disk(&dir);
    docs.push(json!({"id": "zebra-0001", "title": "Zebra crossing", "content": "zebracrossing only in v3", "labels": ["public"], "tenants": ["*"]}));
    write_release(&dir, "v3", &docs);
    let (status, _, body) = search(&c, &api, &t, "zebracrossing").await;
    assert_eq!((status, body["total"].as_u64()), (StatusCode::OK, Some(0)), "not served before the swap");
    ln_sfn(&dir, "v3");
    let (_, h, body) = search(&c, &api, &t, "zebracrossing").await;
    assert_eq!((h["x-index-release"].as_str(), hit_ids(&body)), ("v3", BTreeSet::from(["zebra-0001".to_owned()])));

    // Roll back by hand, then forward again and back through the engine's hook.
    ln_sfn(&dir, "v2");
    let (_, h, body) = search(&c, &api, &t, "zebracrossing").await;
    assert_eq!((h["x-index-release"].as_str(), body["total"].as_u64()), ("v2", Some(0)));
    ln_sfn(&dir, "v3");
    let r = c.post(format!("{}/admin/index/rollback", edge.engine())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(fs::read_link(dir.join("current")).unwrap(), Path::new("releases/v2"));
    let (_, h, _) = search(&c, &api, &t, "canary").await;
    assert_eq!(h["x-index-release"], "v2");

    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = load.await.unwrap();
    assert!(ok > 0);
    assert_eq!(failed, 0, "no query failed during the swaps");
}

#[tokio::test]
async fn corrupt_index_fails_closed_then_recovers_by_rollback_and_rebuild() {
    let edge = Edge::start(json!({"upstream": false}), 1.0).await;
    let (c, api, engine, dir) = (client(), edge.api(), edge.engine(), edge.handle.index_dir().to_owned());
    let t = token(&c, &api, &["tenant-a"], "secret").await;

    // rm -rf /data/indexes/current/*
    for e in fs::read_dir(dir.join("current")).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { fs::remove_dir_all(p).unwrap() } else { fs::remove_file(p).unwrap() }
    }
    for q in ["canary", "report", "tenant-b"] {
        let (status, _, body) = search(&c, &api, &t, q).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("index_unavailable")));
        assert!(body.get("hits").is_none());
    }
    let (status, hz) = get_json(&c, &format!("{engine}/_healthz")).await;
    assert_eq!((status, hz["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unhealthy")));
    let (status, _) = get_json(&c, &format!("{api}/api/health")).await;
    assert_eq!(status, 503);

    // Recovery 1: roll back to v1.
    assert_eq!(edge.handle.index().rollback().unwrap().release(), "v1");
    let (status, _) = get_json(&c, &format!("{engine}/_healthz")).await;
    assert_eq!(status, 200);
    let (status, _, body) = search(&c, &api, &t, "canary").await;
    assert_eq!((status, body["hits"][0]["id"].as_str()), (StatusCode::OK, Some("canary")));

    // Garble a file of v1: the query hitting it fails with 500, health says so.
    fs::write(dir.join("releases/v1/docs/canary.json"), b"\x00garbled{{").unwrap();
    let (status, _, body) = search(&c, &api, &t, "canary").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("index_corrupt")));
    let (status, _) = get_json(&c, &format!("{engine}/_healthz")).await;
    assert_eq!(status, 503);

    // Recovery 2: rebuild from the source documents into a new release.
    let r = c.post(format!("{engine}/admin/index/rebuild")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["release"], "v3");
    let (status, _) = get_json(&c, &format!("{engine}/_healthz")).await;
    assert_eq!(status, 200);
    let (status, _, body) = search(&c, &api, &t, "tenant-b").await;
    assert_eq!(status, 200);
    assert!(body["hits"].as_array().unwrap().iter().all(|h| h["tenants"].as_array().unwrap().iter().any(|x| x == "tenant-a" || x == "*")));
}

#[tokio::test]
async fn serves_stale_cache_while_upstream_is_down_and_fresh_after() {
    let edge = Edge::start(
        json!({"cache_ttl": "300ms", "upstream_timeout": "500ms", "breaker_failures": 2, "breaker_cooldown": "200ms"}),
        1.0,
    )
    .await;
    let (c, api) = (client(), edge.api());
    let t = token(&c, &api, &["tenant-a"], "restricted").await;
    let (_, h, first) = search(&c, &api, &t, "archive report").await;
    assert_eq!((h["x-cache"].as_str(), first["upstream"].as_str(), first["stale"].as_bool()), ("MISS", Some("fresh"), Some(false)));
    let (_, h, cached) = search(&c, &api, &t, "archive report").await;
    assert_eq!((h["x-cache"].as_str(), cached["upstream"].as_str()), ("HIT", Some("cached")));

    let upstream = edge.handle.upstream().unwrap();
    upstream.stop().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, h, stale) = search(&c, &api, &t, "archive report").await;
    assert_eq!(status, 200);
    assert_eq!((h["x-grahmos-stale"].as_str(), h["x-cache"].as_str()), ("true", "STALE"));
    assert_eq!((stale["stale"].as_bool(), stale["upstream"].as_str()), (Some(true), Some("stale")));
    assert_eq!(hit_ids(&stale), hit_ids(&first), "the cached answer is served");
    assert!(stale["upstream_age_s"].as_f64().unwrap() >= 0.3);
    // Never cached: local hits only, still 200; the canary keeps answering.
    let (status, _, partial) = search(&c, &api, &t, "archive bulletin").await;
    assert_eq!((status, partial["upstream"].as_str(), partial["partial"].as_bool()), (StatusCode::OK, Some("unavailable"), Some(true)));
    let (status, _, canary) = search(&c, &api, &t, "canary").await;
    assert_eq!((status, canary["hits"][0]["id"].as_str()), (StatusCode::OK, Some("canary")));
    let (_, v2) = get_json(&c, &format!("{api}/api/v2/status")).await;
    assert_eq!(v2["upstream"]["state"], "down");
    let m = metrics(&c, &api).await;
    assert!(m["grahmos_stale_responses_total"] >= 1.0);
    assert_eq!(m["grahmos_upstream_up"], 0.0);
    assert!(m["grahmos_upstream_errors_total"] >= 2.0);

    upstream.restart().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, h, back) = search(&c, &api, &t, "archive report").await;
    assert_eq!((h["x-grahmos-stale"].as_str(), back["upstream"].as_str()), ("false", Some("fresh")));
    let (_, v2) = get_json(&c, &format!("{api}/api/v2/status")).await;
    assert_eq!(v2["upstream"]["state"], "up");
}

#[tokio::test]
async fn uses_the_configured_upstream_url() {
    // A port with nothing listening: every fetch fails, the edge still answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let edge = Edge::start(json!({"upstream_url": format!("http://{closed}")}), 1.0).await;
    assert!(edge.handle.upstream().is_none());
    assert_eq!(edge.running.endpoints.len(), 2);
    let (c, api) = (client(), edge.api());
    let t = token(&c, &api, &["tenant-a"], "public").await;
    let (status, _, body) = search(&c, &api, &t, "canary").await;
    assert_eq!((status, body["upstream"].as_str()), (StatusCode::OK, Some("unavailable")));
    let (_, v2) = get_json(&c, &format!("{api}/api/v2/status")).await;
    assert_eq!(v2["upstream"]["url"], format!("http://{closed}"));
    assert!(v2["upstream"]["last_error"].as_str().unwrap().contains(&closed.to_string()));
}

fn not_after_of_pem(pem: &[u8]) -> i64 {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem).unwrap();
    p.parse_x509().unwrap().validity().not_after.timestamp()
}

fn served_not_after(resp: &reqwest::Response) -> i64 {
    let info = resp.extensions().get::<reqwest::tls::TlsInfo>().expect("tls info");
    let der = info.peer_certificate().expect("peer certificate");
    x509_parser::parse_x509_certificate(der).unwrap().1.validity().not_after.timestamp()
}

fn tls_client(ca: &[u8], identity: Option<reqwest::Identity>) -> Client {
    let mut b = Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .tls_info(true)
        .tls_certs_only([reqwest::Certificate::from_pem(ca).unwrap()]);
    if let Some(id) = identity {
        b = b.identity(id);
    }
    b.build().unwrap()
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn tls_serves_the_certificate_and_hot_reloads_it() {
    let edge = Edge::start(json!({"tls": "on", "cert_lifetime": "30d"}), 1.0).await;
    let https = edge.api().replace("http://", "https://").replace("127.0.0.1", "localhost");
    let certs = edge.handle.cert_dir().to_owned();
    let ca = fs::read(certs.join("ca.crt")).unwrap();
    let c = tls_client(&ca, None);
    let r = c.get(format!("{https}/api/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let on_file = not_after_of_pem(&fs::read(certs.join("server.crt")).unwrap());
    assert_eq!(served_not_after(&r), on_file);
    assert!((on_file - unix_now() - 30 * 86_400).abs() < 120);
    let m = metrics(&c, &https).await;
    assert!((m["grahmos_cert_expiry_days"] - (on_file - unix_now()) as f64 / 86_400.0).abs() < 0.01);
    assert_eq!(m["grahmos_cert_not_after_timestamp_seconds"], on_file as f64);
    // Plain HTTP to the TLS listener gets no answer.
    assert!(client().get(format!("{}/api/health", edge.api())).send().await.map_or(true, |r| !r.status().is_success()));

    // Expire it: verifying clients' handshakes fail, the listener stays up.
    let expired_at = edge.handle.tls().renew_with(SystemTime::now() - Duration::from_secs(2 * 86_400), SystemTime::now() - Duration::from_secs(3600)).unwrap();
    assert!(tls_client(&ca, None).get(format!("{https}/api/health")).send().await.is_err());
    let on_file = not_after_of_pem(&fs::read(certs.join("server.crt")).unwrap());
    assert_eq!(on_file, expired_at.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64);

    // Renew through the hook: new handshakes see the new dates.
    let r = client().post(format!("{}/admin/tls/renew", edge.engine())).body(r#"{"lifetime": "10d"}"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let fresh = tls_client(&ca, None);
    let r = fresh.get(format!("{https}/api/health")).send().await.unwrap();
    let on_file = not_after_of_pem(&fs::read(certs.join("server.crt")).unwrap());
    assert_eq!(served_not_after(&r), on_file);
    assert!((on_file - unix_now() - 10 * 86_400).abs() < 120);
    let m = metrics(&fresh, &https).await;
    assert!(m["grahmos_tls_handshakes_total{result=\"failed\"}"] >= 1.0);
    assert_eq!(m["grahmos_cert_reloads_total"], 2.0);
}

#[tokio::test]
async fn mtls_refuses_clients_without_a_valid_certificate() {
    let edge = Edge::start(json!({"tls": "mtls"}), 1.0).await;
    let https = edge.api().replace("http://", "https://").replace("127.0.0.1", "localhost");
    let certs = edge.handle.cert_dir().to_owned();
    let ca = fs::read(certs.join("ca.crt")).unwrap();

    let anonymous = tls_client(&ca, None);
    assert_eq!(anonymous.get(format!("{https}/api/health")).send().await.unwrap().status(), 200);
    let r = anonymous.get(format!("{https}/auth/mtls")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "client_certificate_required");

    // curl --cert client.crt --key client.key --cacert ca.crt https://localhost/auth/mtls
    let mut pem = fs::read(certs.join("client.crt")).unwrap();
    pem.extend(fs::read(certs.join("client.key")).unwrap());
    let probe = tls_client(&ca, Some(reqwest::Identity::from_pem(&pem).unwrap()));
    let r = probe.get(format!("{https}/auth/mtls")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let (_, cert) = x509_parser::pem::parse_x509_pem(&fs::read(certs.join("client.crt")).unwrap()).unwrap();
    let cn = cert.parse_x509().unwrap().subject().iter_common_name().next().unwrap().as_str().unwrap().to_owned();
    assert_eq!((body["subject"].as_str(), body["tenant_ids"].clone()), (Some(cn.as_str()), json!(["tenant-a"])));
    // The token it returns works for search.
    let tok = body["access_token"].as_str().unwrap();
    let r = probe.get(format!("{https}/search?q=canary")).bearer_auth(tok).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // A certificate from another CA is refused during the handshake.
    let foreign = CertChain::generate(&ChainSpec { ca_name: "Other CA", leaf_name: "intruder", sans: vec![], lifetime: Duration::from_secs(86_400) }).unwrap();
    let id = reqwest::Identity::from_pem(format!("{}{}", foreign.leaf_pem, foreign.leaf_key_pem).as_bytes()).unwrap();
    assert!(tls_client(&ca, Some(id)).get(format!("{https}/auth/mtls")).send().await.is_err());
}

#[tokio::test]
async fn bad_requests_get_json_4xx_and_the_mock_keeps_serving() {
    let edge = Edge::start(json!({"upstream": false}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let t = token(&c, &api, &["tenant-a"], "public").await;
    let big = "x".repeat(70 * 1024);
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (c.post(format!("{api}/api/search")).bearer_auth(&t).body("{not json"), 400, "invalid_json"),
        (c.post(format!("{api}/api/search")).bearer_auth(&t).body(big.clone()), 413, "payload_too_large"),
        (c.post(format!("{api}/api/search")).bearer_auth(&t).body("{}"), 400, "missing_query"),
        (c.get(format!("{api}/api/search")), 405, "method_not_allowed"),
        (c.delete(format!("{api}/search")), 405, "method_not_allowed"),
        (c.get(format!("{api}/nope")), 404, "not_found"),
        (c.get(format!("{api}/search?q=canary&limit=abc")).bearer_auth(&t), 400, "invalid_query"),
        (c.get(format!("{api}/search?q=canary&limit=0")).bearer_auth(&t), 400, "invalid_limit"),
        (c.get(format!("{api}/search?q=")).bearer_auth(&t), 400, "missing_query"),
        (c.get(format!("{api}/search?q=canary")).header("Authorization", "Basic abc"), 401, "missing_token"),
        (c.get(format!("{api}/search?q=canary")).bearer_auth("a.b.c"), 401, "invalid_token"),
        (c.post(format!("{api}/auth/dpop")).body("[1,2"), 400, "invalid_json"),
        (c.post(format!("{api}/auth/dpop")).body(r#"{"sub":"x","tenant_ids":["*"],"tier":"public"}"#), 400, "invalid_claims"),
        (c.post(format!("{api}/auth/dpop")).body(r#"{"sub":"x","tenant_ids":["a"],"tier":"god"}"#), 400, "invalid_json"),
        (c.post(format!("{api}/auth/dpop")).header("DPoP", "garbage"), 400, "invalid_json"),
        (c.get(format!("{api}/auth/dpop")).header("Authorization", format!("DPoP {t}")).header("DPoP", "x.y.z"), 401, "invalid_dpop_proof"),
        (c.post(format!("{}/admin/index/switch", edge.engine())).body(r#"{"release":"../etc"}"#), 404, "unknown_release"),
        (c.post(format!("{}/admin/tls/renew", edge.engine())).body(r#"{"lifetime":"-5d"}"#), 400, "invalid_json"),
    ];
    for (req, status, code) in cases {
        let r = req.send().await.unwrap();
        let got = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!((got, body["error"].as_str()), (status, Some(code)), "{body}");
        let (health, _) = get_json(&c, &format!("{api}/api/health")).await;
        assert_eq!(health, 200);
    }
}

#[tokio::test]
async fn metrics_are_valid_prometheus_text_with_the_grahmos_series() {
    let edge = Edge::start(json!({}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let t = token(&c, &api, &["tenant-a"], "public").await;
    search(&c, &api, &t, "canary").await;
    search(&c, &api, &t, "canary").await;
    let m = metrics(&c, &api).await;
    assert_eq!(m["grahmos_search_requests_total{result=\"ok\"}"], 2.0);
    assert_eq!(m["grahmos_cache_requests_total{result=\"miss\"}"], 1.0);
    assert_eq!(m["grahmos_cache_requests_total{result=\"hit\"}"], 1.0);
    assert_eq!(m["grahmos_index_release_info{release=\"v2\"}"], 1.0);
    assert_eq!(m["grahmos_index_healthy"], 1.0);
    assert_eq!(m["grahmos_upstream_up"], 1.0);
    assert_eq!(m["grahmos_dpop_nonces_issued_total"], 1.0);
    assert!(m["grahmos_cert_expiry_days"] > 89.0);
    assert_eq!(m["grahmos_search_duration_seconds_count"], 2.0);
    assert!(m.keys().any(|k| k.starts_with("gameday_http_requests_total{")));
    assert!(m.contains_key("gameday_queue_depth{pool=\"search\"}"));
}
