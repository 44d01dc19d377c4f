//! Integration tests for the Midnight proof-server mock (runbook 000): the real mock on an
//! ephemeral loopback port, real HTTP, real certificates, and the runbook's own daily
//! checks run with bash, curl, jq and openssl.
//!
//! Oracles are independent of the mock's code: PCRs are SHA-384 computed here, the
//! certificate chain is verified by x509-parser (and `openssl verify` when present),
//! `/metrics` is read by a strict parser written from the text-format spec (and
//! `promtool check metrics` when present), and counts are the requests the test sent.

mod attestation;
mod health;
mod metrics;
mod queue;
mod runbook;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gameday_mocks::kit::{HumanDuration, PositiveDuration, ServiceTime};
use gameday_mocks::services::midnight::{Profile, ServiceTimes};
use gameday_mocks::ServiceProfile;
use reqwest::{header, Client, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384};

use crate::common::Mock;

/// A positive simulated duration of `secs` seconds.
fn secs(secs: u64) -> PositiveDuration {
    PositiveDuration(HumanDuration(Duration::from_secs(secs)))
}

/// Every proof kind takes exactly `service` (simulated); attestation 1 ms.
fn fixed_times(service: Duration) -> ServiceTimes {
    ServiceTimes {
        check: ServiceTime::fixed(service),
        prove: ServiceTime::fixed(service),
        prove_tx: ServiceTime::fixed(service),
        attestation: ServiceTime::fixed(Duration::from_millis(1)),
    }
}

/// A profile whose proofs take exactly `service` (simulated).
fn fixed_profile(service: Duration) -> Profile {
    Profile { service_time: fixed_times(service), ..Profile::default() }
}

async fn start(profile: Profile, scale: f64) -> (Mock, Client) {
    let mock = Mock::start(ServiceProfile::Midnight(profile), scale).await;
    let client = Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().unwrap();
    (mock, client)
}

async fn get(client: &Client, url: String) -> Response {
    client.get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

async fn post(client: &Client, url: String, body: impl Into<reqwest::Body>) -> Response {
    client.post(&url).body(body).send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// The status and JSON body of a response.
async fn json_of(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text:?}"));
    (status, body)
}

/// Checks `body` is the kit's error shape with `code`.
fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"], code, "error body {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "error body has no message: {body}");
}

/// PCR `i` of `image`, computed here: hex SHA-384 of `{image}|pcr{i}`.
fn expected_pcr(image: &str, i: usize) -> String {
    hex::encode(Sha384::digest(format!("{image}|pcr{i}").as_bytes()))
}

fn random_nonce() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn unix_ms_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn attest(client: &Client, url: &str, nonce: &str) -> Value {
    let (status, body) =
        json_of(post(client, format!("{url}/attestation"), json!({ "nonce": nonce }).to_string()).await).await;
    assert_eq!(status, StatusCode::OK, "attestation: {body}");
    body
}

async fn ready(client: &Client, url: &str) -> (StatusCode, Value) {
    json_of(get(client, format!("{url}/ready")).await).await
}

/// Polls `/ready` (every 2 ms, at most 3 s) until `pred` holds; returns that answer.
async fn ready_until(client: &Client, url: &str, pred: impl Fn(&Value) -> bool) -> (StatusCode, Value) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (status, body) = ready(client, url).await;
        if pred(&body) {
            return (status, body);
        }
        assert!(Instant::now() < deadline, "/ready never reached the expected state; last {body}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn health_version_and_ready_answer_as_the_runbook_reads_them() {
    let (mock, client) = start(Profile::default(), 1.0).await;
    let url = mock.url();
    let (status, health) = json_of(get(&client, format!("{url}/health")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    let version = get(&client, format!("{url}/version")).await;
    assert_eq!(version.status(), StatusCode::OK);
    // The runbook's incident command fetches the v6.2.0 release's PCR values.
    assert_eq!(version.text().await.unwrap().trim(), "6.2.0");
    // The runbook's defaults: `--job-capacity 0` (unlimited), `--num-workers 8`.
    let (status, body) = ready(&client, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["jobsProcessing"].as_u64(), body["jobsPending"].as_u64()), (Some(0), Some(0)));
    assert_eq!((body["jobCapacity"].as_u64(), body["numWorkers"].as_u64()), (Some(0), Some(8)));

    let profile = Profile { workers: 3, job_capacity: 5, ..Profile::default() };
    let (mock, client) = start(profile, 1.0).await;
    let (_, body) = ready(&client, &mock.url()).await;
    assert_eq!((body["jobCapacity"].as_u64(), body["numWorkers"].as_u64()), (Some(5), Some(3)));
}

#[tokio::test]
async fn proof_endpoints_answer_with_their_kind_and_a_digest_of_the_body() {
    let (mock, client) = start(fixed_profile(Duration::from_secs(1)), 1000.0).await;
    let url = mock.url();
    for kind in ["check", "prove", "prove-tx"] {
        let payload = format!("{{\"circuit\":\"{kind}\",\"witness\":\"{}\"}}", random_nonce());
        let (status, body) = json_of(post(&client, format!("{url}/{kind}"), payload.clone()).await).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {body}");
        assert_eq!(body["proof_type"], kind);
        assert_eq!(body["proof"], hex::encode(Sha256::digest(payload.as_bytes())));
        // The worker was busy for the whole simulated second.
        let duration_ms = body["proof_duration_ms"].as_u64().unwrap();
        assert!((1000..30_000).contains(&duration_ms), "{kind}: proof_duration_ms {duration_ms}");
    }
}

#[tokio::test]
async fn unknown_route_wrong_method_and_oversized_body_get_json_errors() {
    let (mock, client) = start(Profile { max_body_bytes: 1024, ..fixed_profile(Duration::from_secs(1)) }, 1000.0).await;
    let url = mock.url();
    let (status, body) = json_of(get(&client, format!("{url}/no-such-route")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    let (status, body) = json_of(get(&client, format!("{url}/prove")).await).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&body, "method_not_allowed");
    let (status, body) = json_of(post(&client, format!("{url}/health"), "").await).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&body, "method_not_allowed");
    for path in ["/prove", "/check", "/prove-tx", "/attestation"] {
        let (status, body) = json_of(post(&client, format!("{url}{path}"), vec![b'a'; 4096]).await).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {body}");
        assert_error(&body, "payload_too_large");
    }
    // Exactly the limit is accepted.
    let (status, body) = json_of(post(&client, format!("{url}/prove"), vec![b'a'; 1024]).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let nonce = random_nonce();
    assert_eq!(attest(&client, &url, &nonce).await["nonce"], nonce.as_str());
}
