//! The Grahmos faults and probes on real resources, called directly (not through the
//! drill runner): a real edge with the fault proxy on its backhaul, the real index
//! directory, real certificates and TLS handshakes.
//!
//! Oracles: hashes and directory listings computed here from the disk; the upstream
//! mock's own request counter; the certificate files parsed with x509-parser; the
//! `/metrics` text; `openssl s_client -verify_return_error` when openssl is installed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gameday::chaos::env::{DrillEnv, Target};
use gameday::chaos::fault::{FaultError, FaultSpec, RecoveryAction};
use gameday::chaos::faults::{cert_expiry, latency};
use gameday::chaos::grahmos_edge::{start_grahmos_target, GrahmosTarget};
use gameday::chaos::probe::ProbeSpec;
use gameday::chaos::probes::{acl, tls};
use gameday_mocks::kit::MockContext;
use gameday_mocks::services::grahmos::corpus::Label;
use gameday_mocks::services::grahmos::Profile;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::poll_async;

struct Drill {
    env: DrillEnv,
    g: Arc<GrahmosTarget>,
    ctx: MockContext,
}

impl Drop for Drill {
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
    }
}

async fn drill(overrides: Value) -> Drill {
    let profile: Profile = serde_json::from_value(overrides).unwrap();
    let ctx = MockContext::default();
    let g = Arc::new(start_grahmos_target(profile, &ctx).await.unwrap());
    let mut env = DrillEnv::default();
    env.targets.insert("grahmos".into(), Target::Grahmos(Arc::clone(&g)));
    Drill { env, g, ctx }
}

fn fault(v: Value) -> FaultSpec {
    serde_json::from_value(v).unwrap()
}

fn probe(v: Value) -> ProbeSpec {
    serde_json::from_value(v).unwrap()
}

async fn probe_ok(d: &Drill, v: Value) -> (bool, String) {
    let o = probe(v).check("grahmos", &d.env).await.unwrap();
    (o.ok, o.detail)
}

fn plain() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

async fn status(url: &str) -> u16 {
    plain().get(url).send().await.unwrap().status().as_u16()
}

// ------------------------------------------------------------------------------------
// Backhaul loss

#[tokio::test]
async fn backhaul_blackhole_serves_canary_and_stale_cache_then_catches_up() {
    let d = drill(json!({
        "cache_ttl": "300ms", "upstream_timeout": "300ms", "breaker_failures": 2, "breaker_cooldown": "200ms"
    }))
    .await;
    let up = d.g.upstream().unwrap().state().clone();
    let c = d.g.client(Duration::from_secs(10)).unwrap();
    let t = d.g.token(&["tenant-a"], Label::Restricted).unwrap();
    let first = d.g.search(&c, &t, "archive report").await.unwrap();
    assert_eq!((first.status, first.upstream(), first.stale()), (200, "fresh", false));
    assert!(d.g.backhaul().stats().bytes_downstream > 0, "the edge reaches its upstream through the proxy");

    let spec = fault(json!({"kind": "backhaul-loss", "mode": "blackhole"}));
    spec.preflight(&d.env).await.unwrap();
    let injected = spec.inject(&d.env).await.unwrap();
    let seen_by_upstream = up.requests();
    // Until the cached answer expires (300 ms) searches are cache hits; then the first
    // miss waits out the upstream timeout and serves the cached answer stale.
    let stale = poll_async("the cached answer to expire and be served stale", Duration::from_secs(5), || async {
        let t0 = Instant::now();
        let a = d.g.search(&c, &t, "archive report").await.unwrap();
        assert!(t0.elapsed() < Duration::from_secs(3), "answered within the upstream timeout, not hung");
        a.stale().then_some(a)
    })
    .await;
    assert_eq!((stale.status, stale.upstream(), stale.stale()), (200, "stale", true));
    assert_eq!(stale.hit_ids(), first.hit_ids(), "the cached upstream answer is served");
    let (ok, detail) = probe_ok(&d, json!({"kind": "canary"})).await;
    assert!(ok, "canary still answered: {detail}");
    assert_eq!(up.requests(), seen_by_upstream, "nothing reached the upstream while the link was down");

    backhaul_loss_rollback(&spec, &d, injected).await;
    // Catches up: a fresh upstream answer once the breaker lets a request through.
    let caught_up = poll_async("a fresh upstream answer after the rollback", Duration::from_secs(10), || async {
        let a = d.g.search(&c, &t, "archive report").await.unwrap();
        (a.upstream() == "fresh").then_some(a)
    })
    .await;
    assert!(!caught_up.stale());
    assert!(up.requests() > seen_by_upstream);
}

async fn backhaul_loss_rollback(spec: &FaultSpec, d: &Drill, injected: gameday::chaos::fault::Injected) {
    assert!(!spec.recover(&RecoveryAction::Rollback, &d.env).await.unwrap().is_empty());
    injected.undo.rollback().await.unwrap();
    injected.undo.rollback().await.unwrap(); // idempotent
    assert!(d.g.backhaul().toxics().is_empty(), "no toxic left on the backhaul");
}

#[tokio::test]
async fn backhaul_reset_and_loss_degrade_without_failing() {
    let d = drill(json!({"cache_ttl": "200ms", "upstream_timeout": "300ms"})).await;
    let c = d.g.client(Duration::from_secs(10)).unwrap();
    let t = d.g.token(&["tenant-b"], Label::Public).unwrap();
    for spec in [
        json!({"kind": "backhaul-loss", "mode": "reset"}),
        json!({"kind": "backhaul-loss", "mode": "loss", "fraction": 1.0, "latency": "50ms"}),
    ] {
        let spec = fault(spec);
        let injected = spec.inject(&d.env).await.unwrap();
        for q in ["canary", "incident"] {
            let a = d.g.search(&c, &t, q).await.unwrap();
            assert_eq!(a.status, 200, "{}", a.body);
            assert!(matches!(a.upstream(), "stale" | "unavailable" | "cached"), "{}", a.body);
        }
        injected.undo.rollback().await.unwrap();
        assert!(d.g.backhaul().toxics().is_empty());
    }
    // Bad parameters are refused before anything is injected.
    let bad = fault(json!({"kind": "backhaul-loss", "mode": "loss"}));
    assert!(bad.preflight(&d.env).await.is_err());
    assert!(d.g.backhaul().toxics().is_empty());
}

#[tokio::test]
async fn backhaul_netns_backend_is_refused_or_real() {
    let d = drill(json!({})).await;
    let spec = fault(json!({"kind": "backhaul-loss", "backend": "netns"}));
    match spec.preflight(&d.env).await {
        Err(e) => {
            println!("netns backend not exercised: {e}");
            assert!(matches!(e, FaultError::Netns(_)));
        }
        Ok(()) => netns_round_trip(&d, &spec).await,
    }
}

async fn netns_round_trip(d: &Drill, spec: &FaultSpec) {
    let c = d.g.client(Duration::from_secs(10)).unwrap();
    let t = d.g.token(&["tenant-a"], Label::Public).unwrap();
    let injected = spec.inject(&d.env).await.unwrap();
    let a = d.g.search(&c, &t, "canary").await.unwrap();
    assert_eq!(a.status, 200);
    injected.undo.rollback().await.unwrap();
    injected.undo.rollback().await.unwrap();
}

#[tokio::test]
async fn latency_on_the_backhaul_delays_upstream_answers() {
    let d = drill(json!({"cache_ttl": "1ms", "upstream_timeout": "5s"})).await;
    let c = d.g.client(Duration::from_secs(10)).unwrap();
    let t = d.g.token(&["tenant-c"], Label::Public).unwrap();
    let spec = fault(json!({"kind": "latency", "link": "upstream", "latency": "400ms"}));
    let FaultSpec::Latency(s) = &spec else { unreachable!() };
    assert!(!latency::wants_proxy(s));
    let injected = spec.inject(&d.env).await.unwrap();
    let t0 = Instant::now();
    let a = d.g.search(&c, &t, "archive").await.unwrap();
    assert_eq!((a.status, a.upstream()), (200, "fresh"));
    assert!(t0.elapsed() >= Duration::from_millis(400), "{:?}", t0.elapsed());
    injected.undo.rollback().await.unwrap();
    assert!(d.g.backhaul().toxics().is_empty());
    // The front link needs the runner's proxy: refused with a clear error without it.
    let front = fault(json!({"kind": "latency", "latency": "100ms"}));
    assert!(matches!(front.preflight(&d.env).await, Err(FaultError::NoTarget { .. })));
}

// ------------------------------------------------------------------------------------
// Index corruption

fn tree_hashes(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let digest = hex::encode(Sha256::digest(fs::read(&p).unwrap()));
                out.insert(p.strip_prefix(dir).unwrap().to_owned(), digest);
            }
        }
    }
    out
}

fn serving_dir(g: &GrahmosTarget) -> PathBuf {
    let root = g.handle().index_dir();
    root.join(fs::read_link(root.join("current")).unwrap())
}

async fn assert_broken_but_never_leaking(d: &Drill) {
    assert_eq!(status(&format!("{}/_healthz", d.g.engine_url())).await, 503);
    let (ok, detail) = probe_ok(d, json!({"kind": "canary"})).await;
    assert!(!ok, "canary must fail: {detail}");
    let queries: Vec<String> = acl::DEFAULT_QUERIES.iter().map(|q| (*q).to_owned()).collect();
    let scan = acl::scan(&d.g, &queries, Duration::from_secs(5)).await.unwrap();
    assert!(scan.leaks.is_empty(), "{:?}", scan.leaks);
    assert!(!scan.errors.is_empty() && !scan.ok(), "queries fail during the incident");
    for e in &scan.errors {
        assert!(e.contains("HTTP 500") || e.contains("HTTP 503"), "errors, never partial answers: {e}");
    }
}

async fn assert_serving(d: &Drill) {
    let (ok, detail) = probe_ok(d, json!({"kind": "canary"})).await;
    assert!(ok, "{detail}");
    let (ok, detail) = probe_ok(d, json!({"kind": "acl"})).await;
    assert!(ok, "{detail}");
    assert_eq!(status(&format!("{}/_healthz", d.g.engine_url())).await, 200);
}

#[tokio::test]
async fn index_delete_detected_then_index_rollback_and_exact_restore() {
    let d = drill(json!({"upstream": false})).await;
    assert_serving(&d).await;
    let dir = serving_dir(&d.g);
    let before = tree_hashes(&dir);
    assert!(before.len() > 10);
    let spec = fault(json!({"kind": "index-corruption", "mode": "delete"}));
    spec.preflight(&d.env).await.unwrap();
    let injected = spec.inject(&d.env).await.unwrap();
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "current/* really gone");
    assert_broken_but_never_leaking(&d).await;

    let said = spec.recover(&RecoveryAction::IndexRollback, &d.env).await.unwrap();
    assert!(said.contains("v1"), "{said}");
    assert_serving(&d).await;
    assert!(spec.recover(&RecoveryAction::RenewCertificate, &d.env).await.is_err());

    injected.undo.rollback().await.unwrap();
    assert_eq!(tree_hashes(&dir), before, "identical bytes restored");
    injected.undo.rollback_blocking().unwrap();
    assert_eq!(tree_hashes(&dir), before);
}

#[tokio::test]
async fn index_garble_under_load_then_rebuild_and_exact_restore() {
    let d = drill(json!({"upstream": false})).await;
    let dir = serving_dir(&d.g);
    let before = tree_hashes(&dir);
    let sizes: Vec<u64> = before.keys().map(|p| fs::metadata(dir.join(p)).unwrap().len()).collect();
    // Load: every tenant searching in a loop while the files are garbled.
    let stop = Arc::new(AtomicBool::new(false));
    // Searches answered, and of them not 200: what the test waits on instead of sleeping.
    let (answered, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (g, stop) = (Arc::clone(&d.g), Arc::clone(&stop));
        let (answered, failed) = (Arc::clone(&answered), Arc::clone(&failed));
        tokio::spawn(async move {
            let c = g.client(Duration::from_secs(5)).unwrap();
            let mut seen = Vec::new();
            for i in 0..2_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let tenant = g.tenants()[i % g.tenants().len()].clone();
                let t = g.token(&[&tenant], Label::Secret).unwrap();
                let a = g.search(&c, &t, "report canary").await.unwrap();
                for h in a.hits() {
                    let ts = h["tenants"].as_array().unwrap();
                    assert!(ts.iter().any(|x| x == "*" || *x == tenant.as_str()), "leak under load: {h}");
                }
                seen.push(a.status);
                failed.fetch_add(usize::from(a.status != 200), Ordering::Relaxed);
                answered.fetch_add(1, Ordering::Relaxed);
            }
            seen
        })
    };
    let within = Duration::from_secs(10);
    poll_async("the load's first answer", within, || async { (answered.load(Ordering::Relaxed) > 0).then_some(()) })
        .await;
    let spec = fault(json!({"kind": "index-corruption", "mode": "garble", "seed": 7}));
    let injected = spec.inject(&d.env).await.unwrap();
    let after = tree_hashes(&dir);
    assert_eq!(after.len(), before.len());
    for (p, h) in &after {
        assert_ne!(&before[p], h, "{} not garbled", p.display());
    }
    let sizes_after: Vec<u64> = after.keys().map(|p| fs::metadata(dir.join(p)).unwrap().len()).collect();
    assert_eq!(sizes_after, sizes.iter().map(|s| (*s).max(16)).collect::<Vec<_>>(), "same lengths, other bytes");
    poll_async("the load to see the garbled index", within, || async {
        (failed.load(Ordering::Relaxed) > 0).then_some(())
    })
    .await;
    assert_broken_but_never_leaking(&d).await;

    let said = spec.recover(&RecoveryAction::IndexRebuild, &d.env).await.unwrap();
    assert!(said.contains("v3"), "{said}");
    assert_serving(&d).await;
    stop.store(true, Ordering::Relaxed);
    let statuses = load.await.unwrap();
    assert!(statuses.iter().all(|s| [200, 500, 503].contains(s)), "{statuses:?}");
    assert!(statuses.iter().any(|s| *s != 200), "the load saw the incident");

    injected.undo.rollback().await.unwrap();
    assert_eq!(tree_hashes(&dir), before, "identical bytes restored");
}

#[tokio::test]
async fn index_fault_without_index_is_refused_before_injection() {
    let d = drill(json!({"upstream": false})).await;
    fs::remove_file(d.g.handle().index_dir().join("current")).unwrap();
    let spec = fault(json!({"kind": "index-corruption"}));
    assert!(matches!(spec.inject(&d.env).await, Err(FaultError::NoTarget { .. })));
    let empty = DrillEnv::default();
    assert!(matches!(spec.preflight(&empty).await, Err(FaultError::NoTarget { .. })));
}

// ------------------------------------------------------------------------------------
// Certificate expiry

fn file_not_after(path: &Path) -> i64 {
    let pem = fs::read(path).unwrap();
    let (_, p) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    p.parse_x509().unwrap().validity().not_after.timestamp()
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn scrape(g: &GrahmosTarget) -> BTreeMap<String, f64> {
    // /metrics is on the TLS listener; the scrape does not verify (the cert may be expired).
    let c = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .tls_danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let text = c.get(format!("https://{}/metrics", g.api_addr())).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(k, v)| Some((k.to_owned(), v.parse().ok()?))))
        .collect()
}

/// `openssl s_client -verify_return_error` as an independent oracle (`None` without
/// openssl or timeout: a skip, or under CI a failure).
/// Run off the runtime's thread: the edge serves the handshake on this same runtime.
async fn openssl_verifies(g: &GrahmosTarget) -> Option<(bool, String)> {
    if !crate::common::have_tools(&["openssl", "timeout"], "openssl s_client as the second TLS oracle") {
        return None;
    }
    let ca = g.handle().cert_dir().join("ca.crt");
    let addr = g.api_addr().to_string();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("timeout")
            .args(["10", "openssl", "s_client", "-connect", &addr])
            .args(["-servername", "localhost", "-verify_return_error", "-CAfile"])
            .arg(&ca)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = crate::common::text(&out);
        (out.status.success() && text.contains("Verify return code: 0 (ok)"), text)
    })
    .await
    .map(Some)
    .unwrap()
}

async fn http_on(stream: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                return head.lines().next().unwrap().to_owned();
            }
        }
    }
}

async fn keep_alive_connection(g: &GrahmosTarget) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    let ca = g.handle().tls().pki().ca_pem();
    let (_, p) = x509_parser::pem::parse_x509_pem(ca.as_bytes()).unwrap();
    roots.add(rustls::pki_types::CertificateDer::from(p.contents)).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(g.api_addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn cert_expiry_alerts_then_handshakes_fail_then_renew_hot_reloads() {
    let d = drill(json!({"tls": "on", "upstream": false})).await;
    let crt = d.g.handle().cert_dir().join("server.crt");
    let ca = d.g.handle().tls().pki().ca_pem();
    let (ok, detail) = probe_ok(&d, json!({"kind": "tls", "min_valid": "60d"})).await;
    assert!(ok, "{detail}");
    let m = scrape(&d.g).await;
    assert!(cert_expiry::alerts_firing(m["grahmos_cert_expiry_days"]).is_empty());

    // 20 days left: the warning fires, not the critical alert.
    let warn = fault(json!({"kind": "cert-expiry", "expires_in": "20d"}));
    let w = warn.inject(&d.env).await.unwrap();
    let m = scrape(&d.g).await;
    let on_file = file_not_after(&crt);
    assert!((m["grahmos_cert_expiry_days"] - (on_file - unix(SystemTime::now())) as f64 / 86_400.0).abs() < 0.01);
    assert_eq!(cert_expiry::alerts_firing(m["grahmos_cert_expiry_days"]), ["warning"]);
    w.undo.rollback().await.unwrap();
    assert!(file_not_after(&crt) - unix(SystemTime::now()) > 80 * 86_400, "rollback re-installed the original");

    // 4 seconds left: both alerts; still valid for now.
    let mut conn = keep_alive_connection(&d.g).await;
    assert_eq!(http_on(&mut conn).await, "HTTP/1.1 200 OK");
    let spec = fault(json!({"kind": "cert-expiry", "expires_in": "4s"}));
    let injected = spec.inject(&d.env).await.unwrap();
    let not_after = file_not_after(&crt);
    assert_eq!(cert_expiry::alerts_firing(scrape(&d.g).await["grahmos_cert_expiry_days"]), ["warning", "critical"]);
    let failed_before = scrape(&d.g).await["grahmos_tls_handshakes_total{result=\"failed\"}"];
    // Deliberate: the certificate expiring on the wall clock is what is under test.
    while unix(SystemTime::now()) <= not_after + 1 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let e = tls::handshake(d.g.api_addr(), &ca, "localhost", Duration::from_secs(5)).await.unwrap_err();
    assert!(e.to_string().to_lowercase().contains("expired"), "{e}");
    let (ok, detail) = probe_ok(&d, json!({"kind": "tls"})).await;
    assert!(!ok, "{detail}");
    if let Some((verified, text)) = openssl_verifies(&d.g).await {
        assert!(!verified, "openssl accepted an expired certificate: {text}");
        assert!(text.contains("certificate has expired"), "{text}");
    }
    let failed_after = scrape(&d.g).await["grahmos_tls_handshakes_total{result=\"failed\"}"];
    assert!(failed_after >= failed_before + 2.0, "{failed_before} -> {failed_after}");

    // Renew: same port, the open keep-alive connection still answers, new dates served.
    let port = d.g.api_addr().port();
    let said = spec.recover(&RecoveryAction::RenewCertificate, &d.env).await.unwrap();
    assert!(said.contains("hot-reloaded"), "{said}");
    assert_eq!(d.g.api_addr().port(), port);
    assert_eq!(http_on(&mut conn).await, "HTTP/1.1 200 OK");
    let served = tls::handshake(d.g.api_addr(), &ca, "localhost", Duration::from_secs(5)).await.unwrap();
    assert_eq!(unix(served.not_after), file_not_after(&crt));
    assert!(served.days_to_expiry > 89.0);
    if let Some((verified, text)) = openssl_verifies(&d.g).await {
        assert!(verified, "{text}");
    }
    injected.undo.rollback().await.unwrap();
    assert_eq!(unix(d.g.handle().tls().not_after()), unix(served.not_after), "the renewed one is kept");
}

#[tokio::test]
async fn cert_expiry_rollback_without_recovery_reinstalls_a_valid_certificate() {
    let d = drill(json!({"tls": "mtls", "upstream": false})).await;
    let crt = d.g.handle().cert_dir().join("server.crt");
    let original = file_not_after(&crt);
    let spec = fault(json!({"kind": "cert-expiry", "expires_in": "0s"}));
    let injected = spec.inject(&d.env).await.unwrap();
    assert!(file_not_after(&crt) <= unix(SystemTime::now()));
    let (ok, _) = probe_ok(&d, json!({"kind": "tls"})).await;
    assert!(!ok);
    injected.undo.rollback_blocking().unwrap();
    injected.undo.rollback().await.unwrap();
    assert_eq!(file_not_after(&crt), original);
    let (ok, detail) = probe_ok(&d, json!({"kind": "tls", "min_valid": "30d"})).await;
    assert!(ok, "{detail}");
    // Plain HTTP edge: no certificate to expire, refused before injection.
    let plain = drill(json!({"upstream": false})).await;
    assert!(matches!(spec.preflight(&plain.env).await, Err(FaultError::NoTarget { .. })));
}

// ------------------------------------------------------------------------------------
// Drill scenarios

#[test]
fn drill_scenarios_name_faults_and_probes_that_parse() {
    let files = [
        "grahmos-backhaul-loss.toml",
        "grahmos-index-corruption.toml",
        "grahmos-index-garble-rebuild.toml",
        "grahmos-cert-expiry.toml",
        "latency-injection.toml",
    ];
    for f in files {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/drills").join(f);
        let doc: toml::Value = toml::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let drills = doc["drill"].as_array().unwrap();
        assert!(!drills.is_empty(), "{f}");
        for d in drills {
            let fault: FaultSpec = d["fault"].clone().try_into().unwrap_or_else(|e| panic!("{f}: fault: {e}"));
            assert!(!fault.dry_run_steps().is_empty());
            // `http` probes are the runner's (parsed by its branch); the Grahmos ones are checked here.
            for v in d["verify"].as_array().unwrap().iter().filter(|v| v["kind"].as_str() != Some("http")) {
                let _: ProbeSpec = v.clone().try_into().unwrap_or_else(|e| panic!("{f}: verify: {e}"));
            }
            if let Some(p) = d["detect"].get("probe") {
                let _: ProbeSpec = p.clone().try_into().unwrap_or_else(|e| panic!("{f}: detect: {e}"));
            }
            let action: RecoveryAction = d["recover"]["action"].clone().try_into().unwrap();
            assert!(!action.name().is_empty());
        }
    }
}
