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

/// A DPoP-bound access token and the key it is bound to (derefs to the token).
#[derive(Clone)]
struct Tok {
    token: String,
    key: Arc<DpopKey>,
}

impl std::ops::Deref for Tok {
    type Target = str;
    fn deref(&self) -> &str {
        &self.token
    }
}

/// The issuer credential the default profile gives `tenant`; tokens for several tenants
/// come from the client `multi` (secret `multi-secret`), which tests register themselves.
fn credential(tenants: &[&str]) -> Value {
    let id = if tenants.len() == 1 { tenants[0] } else { "multi" };
    json!({"client_id": id, "client_secret": format!("{id}-secret")})
}

/// A token obtained the way a client does: nonce, DPoP proof, POST /auth/dpop with the
/// tenant's issuer credential.
async fn token(c: &Client, base: &str, tenants: &[&str], tier: &str) -> Tok {
    let key = DpopKey::generate().unwrap();
    let nonce = fresh_nonce(c, base).await;
    let proof = key.proof("POST", &format!("{base}/auth/dpop"), Some(&nonce));
    let mut body = credential(tenants);
    body["sub"] = json!("tester");
    body["tenant_ids"] = json!(tenants);
    body["tier"] = json!(tier);
    let r = c.post(format!("{base}/auth/dpop")).header("DPoP", proof).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    Tok { token: body["access_token"].as_str().unwrap().to_owned(), key: Arc::new(key) }
}

/// `Authorization: DPoP <token>` and a `DPoP` proof (fresh nonce) for `method` on `url`.
async fn dpop(
    req: reqwest::RequestBuilder,
    c: &Client,
    base: &str,
    t: &Tok,
    method: &str,
    url: &str,
) -> reqwest::RequestBuilder {
    let proof = t.key.proof(method, url, Some(&fresh_nonce(c, base).await));
    req.header("Authorization", format!("DPoP {}", t.token)).header("DPoP", proof)
}

async fn search(c: &Client, base: &str, token: &Tok, q: &str) -> (StatusCode, HashMap<String, String>, Value) {
    let mut url = reqwest::Url::parse(&format!("{base}/search")).unwrap();
    url.query_pairs_mut().append_pair("q", q).append_pair("limit", "100");
    let r = dpop(c.get(url), c, base, token, "GET", &format!("{base}/search")).await.send().await.unwrap();
    let status = r.status();
    let headers =
        r.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

/// The status and the JSON body's `error` code.
async fn status_error(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["error"].as_str().unwrap_or_default().to_owned())
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
            && n.chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
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
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| typed.get(*f).is_some_and(|t| t == "histogram"))
            .unwrap_or(name);
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

fn docs_on_disk(dir: &Path) -> Vec<Value> {
    fs::read_dir(dir.join("current/docs"))
        .unwrap()
        .map(|e| serde_json::from_slice(&fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect()
}

mod api;
mod backhaul;
mod health;
mod index;
mod tls;
