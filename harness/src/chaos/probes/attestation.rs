//! Probe `attestation`: the Midnight runbook's security check after a restart.
//!
//! `POST /attestation {"nonce": <fresh random hex>}` and then, as runbook 000 does:
//! - the nonce is echoed (no replayed or cached document);
//! - `pcr_measurements` equal the published `pcrs` of `GET /pcr-values.json` (PCR0..2);
//! - `debug_mode` is false;
//! - `cert_chain` (`[leaf, CA]` PEM) parses, the leaf is signed by the CA, the CA by itself,
//!   the leaf's issuer is the CA's subject, and both are within their validity now;
//! - `timestamp` (Unix ms) is fresh: at most `max_age` (default 5 min, the runbook's
//!   freshness bound) old and not ahead of now by more than 30 s.
//!
//! The detail names every failing check and, always, how long the chain has left
//! (`cert chain expires in N days`); with `min_valid` a chain expiring sooner fails too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use x509_parser::certificate::X509Certificate;

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::probe::ProbeOutcome;

pub use crate::spec::probes::attestation::Spec;

/// How far ahead of our clock an attestation timestamp may be.
const MAX_SKEW: Duration = Duration::from_secs(30);

/// Runs the probe once.
pub async fn check(spec: &Spec, target: &str, env: &DrillEnv) -> Result<ProbeOutcome, FaultError> {
    let base = lookup::base_url(env, target)?;
    let timeout = spec.timeout.map_or(Duration::from_secs(5), |d| d.0);
    let client = crate::http_guard::probe_client(timeout).map_err(FaultError::client)?;
    let nonce = hex::encode(rand::random::<[u8; 32]>());
    let doc = match fetch(&client, &format!("{base}/attestation"), Some(json!({ "nonce": nonce }))).await {
        Ok(v) => v,
        Err(e) => return Ok(fail(format!("attestation: {e}"))),
    };
    let published = match fetch(&client, &format!("{base}/pcr-values.json"), None).await {
        Ok(v) => v,
        Err(e) => return Ok(fail(format!("published PCR values: {e}"))),
    };
    Ok(judge(spec, &nonce, &doc, &published, SystemTime::now()))
}

fn fail(detail: String) -> ProbeOutcome {
    ProbeOutcome { ok: false, detail, definitive: false }
}

/// Why a document could not be fetched (the probe fails, not definitively).
#[derive(Debug, thiserror::Error)]
enum FetchError {
    /// No answer, or the body could not be read.
    #[error("{url}: {reason}")]
    Request {
        /// The URL.
        url: String,
        /// Why.
        reason: crate::http_guard::BodyError,
    },
    /// An answer other than 2xx (the first 200 characters of its body).
    #[error("{url}: status {status}: {short}")]
    Status {
        /// The URL.
        url: String,
        /// Its status.
        status: reqwest::StatusCode,
        /// The start of its body.
        short: String,
    },
    /// A body that is not JSON.
    #[error("{url}: not JSON: {reason}")]
    NotJson {
        /// The URL.
        url: String,
        /// serde's refusal.
        reason: serde_json::Error,
    },
}

async fn fetch(client: &reqwest::Client, url: &str, body: Option<Value>) -> Result<Value, FetchError> {
    let req = match body {
        Some(b) => client.post(url).json(&b),
        None => client.get(url),
    };
    let request = |reason| FetchError::Request { url: url.to_owned(), reason };
    let resp = req.send().await.map_err(|e| request(e.into()))?;
    let status = resp.status();
    let bytes = crate::http_guard::read_capped(resp, crate::http_guard::PROBE_MAX_BODY_BYTES).await.map_err(request)?;
    let text = String::from_utf8_lossy(&bytes);
    if !status.is_success() {
        let short: String = text.chars().take(200).collect();
        return Err(FetchError::Status { url: url.to_owned(), status, short });
    }
    serde_json::from_str(&text).map_err(|reason| FetchError::NotJson { url: url.to_owned(), reason })
}

/// Every check on one attestation document against the published values, at `now`.
pub fn judge(spec: &Spec, nonce: &str, doc: &Value, published: &Value, now: SystemTime) -> ProbeOutcome {
    let mut failures = Vec::new();
    if doc.get("nonce").and_then(Value::as_str) != Some(nonce) {
        failures.push(format!("nonce not echoed (sent {nonce}, got {})", doc.get("nonce").unwrap_or(&Value::Null)));
    }
    failures.extend(check_pcrs(doc.get("pcr_measurements"), published.get("pcrs")));
    match doc.get("debug_mode").and_then(Value::as_bool) {
        Some(false) => {}
        Some(true) => failures.push("debug mode ON".into()),
        None => failures.push("debug_mode missing".into()),
    }
    let now_s = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let expiry = match check_chain(doc.get("cert_chain"), now_s) {
        Ok(left_s) => {
            let days = left_s as f64 / 86_400.0;
            if let Some(min) = spec.min_valid {
                if left_s < min.0.as_secs() as i64 {
                    failures.push(format!("cert chain expires in {days:.1} days, less than {min}"));
                }
            }
            Some(format!("cert chain expires in {days:.1} days"))
        }
        Err(e) => {
            failures.push(e.to_string());
            None
        }
    };
    let max_age = spec.max_age.map_or(Duration::from_secs(300), |d| d.0);
    if let Some(e) = check_timestamp(doc.get("timestamp"), now, max_age) {
        failures.push(e);
    }
    let mut detail = if failures.is_empty() {
        "attestation verified: nonce echoed, PCRs as published, debug off, chain valid, timestamp fresh".to_owned()
    } else {
        format!("attestation FAILED: {}", failures.join("; "))
    };
    if let Some(e) = expiry {
        detail = format!("{detail} ({e})");
    }
    // The enclave answered: a mismatch is what it is, not a service still starting.
    ProbeOutcome { ok: failures.is_empty(), detail, definitive: !failures.is_empty() }
}

fn check_pcrs(got: Option<&Value>, want: Option<&Value>) -> Vec<String> {
    let (Some(Value::Object(got)), Some(Value::Object(want))) = (got, want) else {
        return vec!["pcr_measurements or the published pcrs missing".into()];
    };
    if want.is_empty() {
        return vec!["the published pcrs are empty".into()];
    }
    let mut out = Vec::new();
    for (k, w) in want {
        match got.get(k) {
            Some(g) if g == w => {}
            Some(_) => out.push(format!("PCR{k} MISMATCH")),
            None => out.push(format!("PCR{k} missing")),
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        out.push(format!("PCR{k} not published"));
    }
    out
}

/// What is wrong with a document's `cert_chain` (`which` is `leaf` or `CA`).
#[derive(Debug, thiserror::Error)]
enum ChainError {
    /// No `cert_chain`.
    #[error("cert_chain missing")]
    Missing,
    /// Not two PEM strings.
    #[error("cert_chain has {0} PEM strings, expected 2 (leaf, CA)")]
    Count(usize),
    /// A certificate that is not PEM.
    #[error("cert chain: {which} is not PEM: {reason}")]
    NotPem {
        /// `leaf` or `CA`.
        which: &'static str,
        /// The PEM parser's refusal.
        reason: x509_parser::nom::Err<x509_parser::error::PEMError>,
    },
    /// A certificate that is not X.509.
    #[error("cert chain: {which} does not parse: {reason}")]
    NoParse {
        /// `leaf` or `CA`.
        which: &'static str,
        /// The X.509 parser's refusal.
        reason: x509_parser::nom::Err<x509_parser::error::X509Error>,
    },
    /// The leaf names another issuer than the CA.
    #[error("cert chain: leaf issuer `{issuer}` is not the CA `{ca}`")]
    Issuer {
        /// The leaf's issuer.
        issuer: String,
        /// The CA's subject.
        ca: String,
    },
    /// The leaf's signature does not verify with the CA's key.
    #[error("cert chain: leaf signature does not verify with the CA key: {0}")]
    LeafSignature(x509_parser::error::X509Error),
    /// The CA's signature does not verify with its own key.
    #[error("cert chain: CA is not self-signed: {0}")]
    NotSelfSigned(x509_parser::error::X509Error),
    /// A certificate before its notBefore.
    #[error("cert chain: {which} not valid yet (notBefore {at})")]
    NotYet {
        /// `leaf` or `CA`.
        which: &'static str,
        /// Its notBefore.
        at: String,
    },
    /// A certificate after its notAfter.
    #[error("cert chain: {which} EXPIRED (notAfter {at})")]
    Expired {
        /// `leaf` or `CA`.
        which: &'static str,
        /// Its notAfter.
        at: String,
    },
}

/// Checks `[leaf, CA]`; returns the seconds until the first of them expires.
fn check_chain(chain: Option<&Value>, now_s: i64) -> Result<i64, ChainError> {
    let pems: Vec<&str> = match chain.and_then(Value::as_array) {
        Some(a) => a.iter().filter_map(Value::as_str).collect(),
        None => return Err(ChainError::Missing),
    };
    let [leaf_pem, ca_pem] = pems[..] else {
        return Err(ChainError::Count(pems.len()));
    };
    let pem = |which, text: &str| {
        x509_parser::pem::parse_x509_pem(text.as_bytes())
            .map(|(_, der)| der)
            .map_err(|reason| ChainError::NotPem { which, reason })
    };
    let (leaf_der, ca_der) = (pem("leaf", leaf_pem)?, pem("CA", ca_pem)?);
    let leaf = leaf_der.parse_x509().map_err(|reason| ChainError::NoParse { which: "leaf", reason })?;
    let ca = ca_der.parse_x509().map_err(|reason| ChainError::NoParse { which: "CA", reason })?;
    verify_pair(&leaf, &ca)?;
    let mut left = i64::MAX;
    for (which, cert) in [("leaf", &leaf), ("CA", &ca)] {
        let v = cert.validity();
        let (from, to) = (v.not_before.timestamp(), v.not_after.timestamp());
        if now_s < from {
            return Err(ChainError::NotYet { which, at: v.not_before.to_string() });
        }
        if now_s > to {
            return Err(ChainError::Expired { which, at: v.not_after.to_string() });
        }
        left = left.min(to - now_s);
    }
    Ok(left)
}

fn verify_pair(leaf: &X509Certificate<'_>, ca: &X509Certificate<'_>) -> Result<(), ChainError> {
    if leaf.issuer() != ca.subject() {
        return Err(ChainError::Issuer { issuer: leaf.issuer().to_string(), ca: ca.subject().to_string() });
    }
    leaf.verify_signature(Some(ca.public_key())).map_err(ChainError::LeafSignature)?;
    ca.verify_signature(None).map_err(ChainError::NotSelfSigned)
}

fn check_timestamp(ts: Option<&Value>, now: SystemTime, max_age: Duration) -> Option<String> {
    let Some(ms) = ts.and_then(Value::as_u64) else {
        return Some("timestamp missing".into());
    };
    let at = UNIX_EPOCH + Duration::from_millis(ms);
    match now.duration_since(at) {
        Ok(age) if age > max_age => Some(format!("timestamp stale ({:.0} s old, max {max_age:?})", age.as_secs_f64())),
        Ok(_) => None,
        Err(ahead) if ahead.duration() > MAX_SKEW => {
            Some(format!("timestamp {:.0} s in the future", ahead.duration().as_secs_f64()))
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gameday_mocks::kit::certs::{CertChain, ChainSpec};

    fn chain(lifetime: Duration) -> Value {
        let c = CertChain::generate(&ChainSpec {
            ca_name: "Test CA",
            leaf_name: "leaf",
            sans: vec!["localhost".into()],
            lifetime,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        json!([c.leaf_pem, c.ca_pem])
    }

    fn doc(now: SystemTime, pcrs: Value, chain: Value) -> Value {
        let ms = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        json!({"nonce": "ab", "pcr_measurements": pcrs, "debug_mode": false, "cert_chain": chain, "timestamp": ms})
    }

    #[test]
    fn a_good_document_passes_and_each_bad_field_is_named() {
        let now = SystemTime::now();
        let pcrs = json!({"0": "aa", "1": "bb", "2": "cc"});
        let published = json!({"pcrs": pcrs});
        let good = doc(now, pcrs.clone(), chain(Duration::from_secs(30 * 86_400)));
        let out = judge(&Spec::default(), "ab", &good, &published, now);
        assert!(out.ok, "{}", out.detail);
        // The chain's 30-day lifetime (generated above), seen from now.
        assert!(
            out.detail.contains("expires in 30.0 days") || out.detail.contains("expires in 29.9 days"),
            "{}",
            out.detail
        );

        let mut bad = good.clone();
        bad["nonce"] = json!("cd");
        bad["debug_mode"] = json!(true);
        bad["pcr_measurements"]["1"] = json!("evil");
        let out = judge(&Spec::default(), "ab", &bad, &published, now);
        assert!(!out.ok);
        for want in ["nonce not echoed", "debug mode ON", "PCR1 MISMATCH"] {
            assert!(out.detail.contains(want), "{want} not in {}", out.detail);
        }
        assert!(!out.detail.contains("PCR0"), "{}", out.detail);

        let later = now + Duration::from_secs(600);
        let out = judge(&Spec::default(), "ab", &good, &published, later);
        assert!(!out.ok && out.detail.contains("timestamp stale"), "{}", out.detail);
    }

    #[test]
    fn an_expired_or_short_lived_or_foreign_chain_fails() {
        let now = SystemTime::now();
        let pcrs = json!({"0": "aa"});
        let published = json!({"pcrs": pcrs});
        let good = doc(now, pcrs.clone(), chain(Duration::from_secs(10 * 86_400)));
        // 11 days on, the 10-day leaf has expired.
        let mut at_11d = good.clone();
        let later = now + Duration::from_secs(11 * 86_400);
        at_11d["timestamp"] = json!(later.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64));
        let out = judge(&Spec::default(), "ab", &at_11d, &published, later);
        assert!(!out.ok && out.detail.contains("EXPIRED"), "{}", out.detail);

        let spec = Spec {
            min_valid: Some(gameday_mocks::kit::HumanDuration(Duration::from_secs(14 * 86_400))),
            ..Spec::default()
        };
        let out = judge(&spec, "ab", &good, &published, now);
        assert!(!out.ok && out.detail.contains("less than"), "{}", out.detail);

        // A leaf from one chain with the CA of another: the signature does not verify.
        let other = chain(Duration::from_secs(86_400));
        let mut mixed = good.clone();
        mixed["cert_chain"][1] = other[1].clone();
        let out = judge(&Spec::default(), "ab", &mixed, &published, now);
        assert!(!out.ok && out.detail.contains("cert chain"), "{}", out.detail);
    }
}
