//! Whole drills through the real `gameday drill` binary against the embedded mocks, on a
//! short clock: the runner's wiring that only shows end to end (a front fault proxy the
//! load goes through, a TLS edge the load must trust, a supervised process restarted with
//! the wrong enclave), each judged against what the fault itself defines.

use std::path::Path;

use serde_json::Value;

use crate::common::{gameday, heavy, text, write};

/// Runs `gameday drill` on `scenario` (written to DIR/drill.toml); see [`drill_file`].
fn drill(dir: &Path, scenario: &str) -> (Option<i32>, Value, String) {
    drill_file(dir, &write(dir, "drill.toml", scenario))
}

/// Runs `gameday drill FILE --out DIR/out`, checks its reports; the exit code,
/// `results.json` and the output.
pub(crate) fn drill_file(dir: &Path, file: &Path) -> (Option<i32>, Value, String) {
    let out = dir.join("out");
    let o = gameday()
        .args(["drill", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let results: Value = std::fs::read(out.join("results.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or_else(|e| panic!("no results.json ({e}): {}", text(&o)));
    // Every report of a drill run: one JUnit case per exit criterion of each drill, and
    // the drill moments marked on the time charts.
    let r = crate::reports::check_outputs(&out, "drill");
    for d in results["drills"].as_array().unwrap() {
        let suite = format!("drill {}", d["name"].as_str().unwrap());
        let cases = r.cases.iter().filter(|c| c.0 == suite).count();
        assert_eq!(cases, d["criteria"].as_array().unwrap().len().max(1), "{suite}: {:?}", r.cases);
        if d["timeline"]["injected_at"].is_number() {
            let latency = std::fs::read_dir(out.join("charts")).unwrap().map(|e| e.unwrap().path());
            let marked = latency
                .filter(|p| p.to_string_lossy().contains("latency-"))
                .all(|p| std::fs::read_to_string(p).unwrap().contains("inject"));
            assert!(marked, "the injection is marked on the latency charts");
        }
    }
    (o.status.code(), results, text(&o))
}

/// Errors of every kind of a request kind's entry.
fn errors(k: &Value) -> u64 {
    k["errors"].as_object().map_or(0, |e| e.values().filter_map(Value::as_u64).sum())
}

fn kind<'a>(results: &'a Value, name: &str) -> &'a Value {
    results["requests"].as_array().unwrap().iter().find(|k| k["name"] == name).unwrap_or_else(|| {
        panic!("no request kind {name}: {results:#}");
    })
}

/// `latency` on the front link: the runner puts a proxy between load and target, so the
/// drill window's p95 carries the injected delay, and the rollback removes it.
#[test]
fn the_latency_drill_sends_load_and_probes_through_the_front_proxy() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let scenario = r#"
name = "latency-e2e"
time_scale = 1.0
[load]
rate = "20/s"
duration = "12s"
request_timeout = "5s"
# These tests judge the drill, not send-time precision, and share 2 cores with the suite.
late_after = "250ms"
[[load.request]]
name = "health"
target = "pxl"
path = "/v1/health"
[[slo]]
name = "errors"
objective = "error_ratio < 1%"
[[drill]]
name = "slow"
target = "pxl"
at = "3s"
steady_state = "2s"
timeout = "8s"
[drill.fault]
kind = "latency"
latency = "200ms"
[drill.detect]
probe = { kind = "http", path = "/v1/health", timeout = "150ms" }
interval = "250ms"
[drill.recover]
action = "rollback"
after = "3s"
[[drill.verify]]
kind = "http"
path = "/v1/health"
timeout = "150ms"
[drill.expect]
p95 = "1s"
"#;
    let (code, r, out) = drill(dir.path(), scenario);
    assert_eq!(code, Some(0), "{out}");
    let d = &r["drills"][0];
    assert_eq!(d["status"], "passed", "{d:#}");
    // The probe with a 150 ms timeout fails once 200 ms are added: detection is the proxy.
    assert!(d["mttd_s"].as_f64().unwrap() < 1.0, "{d:#}");
    // Over the drill window (inject -> verified) the load's p95 carries the 200 ms delay;
    // the mock alone answers /v1/health in a few milliseconds (the whole run's p50).
    let p95 = d["criteria"][0]["observed"].as_f64().unwrap();
    assert!(p95 >= 0.2, "drill-window p95 {p95}s does not carry the 200 ms toxic: {d:#}");
    let p50_ms = kind(&r, "health")["latency_ms"]["p50"].as_f64().unwrap();
    assert!(p50_ms < 200.0, "the whole run's p50 {p50_ms} ms: the toxic outlived its rollback");
    assert_eq!(d["rollbacks"][0]["ok"], true, "{d:#}");
}

/// Certificate expiry with `keep_alive = false`: every request is a fresh verifying
/// handshake, so the window between expiry and renewal shows as handshake errors in
/// the load and the edge's failed-handshake counter; the renewal ends them.
#[test]
fn an_expiring_certificate_fails_fresh_handshakes_until_renewed() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let scenario = r#"
name = "cert-e2e"
time_scale = 1.0
[targets.grahmos.profile]
anonymous_search = true
tls = "on"
upstream = false
[load]
rate = "10/s"
duration = "14s"
request_timeout = "5s"
# These tests judge the drill, not send-time precision, and share 2 cores with the suite.
late_after = "250ms"
keep_alive = false
[[load.request]]
name = "health"
target = "grahmos"
path = "/api/health"
[[slo]]
name = "API p95"
objective = "p95 < 2s"
[[alert]]
name = "TlsHandshakesFailing"
expr = "increase(grahmos_tls_handshakes_total{result=\"failed\"})[2s] > 0"
expect = "fires"
fires_within = ["4s", "10s"]
[[drill]]
name = "expiry"
target = "grahmos"
at = "3s"
steady_state = "2s"
timeout = "10s"
[drill.fault]
kind = "cert-expiry"
expires_in = "2s"
renew_lifetime = "90d"
[drill.detect]
probe = { kind = "tls", min_valid = "14d" }
interval = "250ms"
[drill.recover]
action = "renew-certificate"
after = "4s"
[[drill.verify]]
kind = "tls"
min_valid = "30d"
[drill.expect]
rto = "10s"
"#;
    let (code, r, out) = drill(dir.path(), scenario);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(r["drills"][0]["status"], "passed", "{:#}", r["drills"][0]);
    let health = kind(&r, "health");
    let (count, errors) = (health["count"].as_u64().unwrap(), errors(health));
    // Expired for about 2 s of 14 (renewal 4 s after injection, expiry 2 s after it) at
    // 10 requests/s: about 20 failed handshakes; every other request succeeds.
    assert!((5..=60).contains(&errors), "{errors} handshake errors of {count}: {out}");
    assert!(count - errors >= 80, "{count} requests, {errors} errors");
    let alert = r["alerts"].as_array().unwrap().iter().find(|a| a["name"] == "TlsHandshakesFailing").unwrap();
    assert_eq!(alert["pass"], true, "{alert:#}");
}

/// The runbook's security check: the enclave restarted with an unpublished image answers
/// attestation with the wrong PCRs; the drill fails at once on it (not at the dead-man
/// timeout) and the rollback restores the published enclave.
#[test]
fn a_restart_with_wrong_pcrs_fails_the_drill_at_once_and_is_rolled_back() {
    let _heavy = heavy();
    let dir = tempfile::tempdir().unwrap();
    let scenario = r#"
name = "bad-pcr-e2e"
time_scale = 1.0
[load]
rate = "5/s"
duration = "12s"
request_timeout = "5s"
# These tests judge the drill, not send-time precision, and share 2 cores with the suite.
late_after = "250ms"
[[load.request]]
name = "attestation"
target = "midnight"
method = "POST"
path = "/attestation"
body = '{"nonce":"{{nonce}}"}'
[[slo]]
name = "attestation p95"
request = "attestation"
objective = "p95 < 2s"
[[drill]]
name = "bad-pcr"
target = "midnight"
at = "3s"
steady_state = "2s"
timeout = "30s"
[drill.fault]
kind = "enclave-crash"
restart_profile = { enclave_image = "midnight/proof-server:6.2.0-unpublished" }
[drill.detect]
probe = { kind = "http", path = "/health", timeout = "1s" }
interval = "250ms"
[drill.recover]
action = "restart"
after = "500ms"
[[drill.verify]]
kind = "attestation"
[drill.expect]
rto = "20s"
"#;
    let (code, r, out) = drill(dir.path(), scenario);
    assert_eq!(code, Some(1), "{out}");
    let d = &r["drills"][0];
    assert_eq!(d["status"], "failed", "{d:#}");
    let reason = d["reason"].as_str().unwrap();
    assert!(reason.contains("verification failed") && reason.contains("PCR0 MISMATCH"), "{reason}");
    let rb = &d["rollbacks"][0];
    assert_eq!(rb["reason"], "verification failed", "{d:#}");
    assert_eq!(rb["ok"], true, "{d:#}");
    // Failed on the first answer, long before the 30 s dead-man timer.
    let after = rb["at_s"].as_f64().unwrap() - d["timeline"]["injected_at"].as_f64().unwrap();
    assert!(after < 15.0, "rolled back {after}s after injection");
    // Rolled back to the published enclave: the load's attestations after the rollback
    // succeed again, so the run has successes on both sides of the incident.
    let att = kind(&r, "attestation");
    assert!(att["ok"].as_u64().unwrap() > errors(att) + 20, "{att:#}");
}
