//! TLS and mutual TLS on the edge listener: served certificate, hot reload, client certificates.

use super::*;

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
    let expired_at = edge
        .handle
        .tls()
        .renew_with(SystemTime::now() - Duration::from_secs(2 * 86_400), SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    assert!(tls_client(&ca, None).get(format!("{https}/api/health")).send().await.is_err());
    let on_file = not_after_of_pem(&fs::read(certs.join("server.crt")).unwrap());
    assert_eq!(on_file, expired_at.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64);

    // Renew through the hook: new handshakes see the new dates.
    let r = client()
        .post(format!("{}/admin/tls/renew", edge.engine()))
        .body(r#"{"lifetime": "10d"}"#)
        .send()
        .await
        .unwrap();
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
    // It is bound to the certificate (cnf x5t#S256): without it on the connection, 401.
    let r = anonymous.get(format!("{https}/search?q=canary")).bearer_auth(tok).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_token");
}

#[tokio::test]
async fn mtls_refuses_a_certificate_from_another_ca() {
    let edge = Edge::start(json!({"tls": "mtls"}), 1.0).await;
    let https = edge.api().replace("http://", "https://").replace("127.0.0.1", "localhost");
    let ca = fs::read(edge.handle.cert_dir().join("ca.crt")).unwrap();
    // A certificate from another CA is refused during the handshake.
    let foreign = CertChain::generate(&ChainSpec {
        ca_name: "Other CA",
        leaf_name: "intruder",
        sans: vec![],
        lifetime: Duration::from_secs(86_400),
    })
    .unwrap();
    let id = reqwest::Identity::from_pem(format!("{}{}", foreign.leaf_pem, foreign.leaf_key_pem).as_bytes()).unwrap();
    assert!(tls_client(&ca, Some(id)).get(format!("{https}/auth/mtls")).send().await.is_err());
}
