//! `/attestation` and the published PCR values: nonce echo, PCRs against SHA-384 computed
//! here, debug mode, a tampered image, the certificate chain, and bad bodies.

use super::*;

#[tokio::test]
async fn attestation_echoes_the_nonce_and_reports_the_published_pcrs() {
    let profile = Profile::default();
    let image = profile.enclave_image.clone();
    let (mock, client) = start(profile, 1000.0).await;
    let url = mock.url();
    let nonce = random_nonce();
    let body = attest(&client, &url, &nonce).await;
    assert_eq!(body["nonce"], nonce.as_str());
    assert_eq!(body["debug_mode"], false);
    assert_eq!(body["tee_provider"], "aws-nitro");
    let age_ms = unix_ms_now() - body["timestamp"].as_i64().unwrap();
    assert!((-1000..5000).contains(&age_ms), "timestamp {age_ms} ms old");

    let (status, published) = json_of(get(&client, format!("{url}/pcr-values.json")).await).await;
    assert_eq!(status, StatusCode::OK);
    let (status, release) =
        json_of(get(&client, format!("{url}/releases/download/v6.2.0/pcr-values.json")).await).await;
    assert_eq!(status, StatusCode::OK);
    for i in 0..3 {
        let key = i.to_string();
        let expected = expected_pcr(&image, i);
        assert_eq!(expected.len(), 96, "SHA-384 is 48 bytes");
        assert_eq!(body["pcr_measurements"][&key], expected.as_str(), "PCR{i}");
        assert_eq!(published["pcrs"][&key], expected.as_str(), "published PCR{i}");
        assert_eq!(release["pcrs"][&key], expected.as_str(), "release PCR{i}");
    }
    let (status, err) = json_of(get(&client, format!("{url}/releases/download/v6.1.0/pcr-values.json")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(err["error"].is_string(), "{err}");

    // A second attestation echoes its own nonce.
    let other = random_nonce();
    assert_eq!(attest(&client, &url, &other).await["nonce"], other.as_str());
}

#[tokio::test]
async fn debug_mode_is_reported_when_configured() {
    let (mock, client) = start(Profile { debug_mode: true, ..Profile::default() }, 1000.0).await;
    assert_eq!(attest(&client, &mock.url(), &random_nonce()).await["debug_mode"], true);
}

#[tokio::test]
async fn a_different_enclave_image_does_not_match_the_published_pcrs() {
    let profile = Profile { enclave_image: "midnight/proof-server:6.2.0-tampered".into(), ..Profile::default() };
    let (running, published_image) = (profile.enclave_image.clone(), profile.published_image.clone());
    let (mock, client) = start(profile, 1000.0).await;
    let url = mock.url();
    let body = attest(&client, &url, &random_nonce()).await;
    let (_, published) = json_of(get(&client, format!("{url}/pcr-values.json")).await).await;
    for i in 0..3 {
        let key = i.to_string();
        assert_eq!(body["pcr_measurements"][&key], expected_pcr(&running, i).as_str());
        assert_eq!(published["pcrs"][&key], expected_pcr(&published_image, i).as_str());
        assert_ne!(body["pcr_measurements"][&key], published["pcrs"][&key], "PCR{i} should not match");
    }
}

/// Parses a PEM certificate (x509-parser owns the DER, so return the PEM wrapper).
fn pem_of(text: &str) -> x509_parser::pem::Pem {
    let (rest, pem) = x509_parser::pem::parse_x509_pem(text.as_bytes()).unwrap();
    assert!(rest.iter().all(u8::is_ascii_whitespace), "one certificate per PEM");
    assert_eq!(pem.label, "CERTIFICATE");
    pem
}

#[tokio::test]
async fn attestation_cert_chain_is_a_real_ca_signed_leaf_with_the_configured_lifetime() {
    let lifetime = Duration::from_secs(30 * 86_400);
    let profile = Profile { cert_lifetime: PositiveDuration(HumanDuration(lifetime)), ..Profile::default() };
    let started_s = unix_ms_now() / 1000;
    let (mock, client) = start(profile, 1000.0).await;
    let body = attest(&client, &mock.url(), &random_nonce()).await;
    let chain: Vec<&str> = body["cert_chain"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(chain.len(), 2, "leaf and CA");
    let (leaf_pem, ca_pem) = (pem_of(chain[0]), pem_of(chain[1]));
    let leaf = leaf_pem.parse_x509().unwrap();
    let ca = ca_pem.parse_x509().unwrap();
    assert!(ca.is_ca(), "second certificate is a CA");
    assert!(!leaf.is_ca(), "first certificate is the leaf");
    assert_eq!(leaf.issuer().as_raw(), ca.subject().as_raw());
    leaf.verify_signature(Some(ca.public_key())).expect("leaf signed by the CA");
    ca.verify_signature(None).expect("CA self-signed");
    assert!(leaf.validity().is_valid() && ca.validity().is_valid());
    let not_after = leaf.validity().not_after.timestamp();
    let expected = started_s + lifetime.as_secs() as i64;
    assert!((not_after - expected).abs() < 120, "notAfter {not_after}, expected about {expected}");
    openssl_verifies(chain[1], chain[0]);
}

/// `openssl verify -CAfile ca leaf` as a second, independent verifier (without openssl a
/// skip, or under CI a failure).
fn openssl_verifies(ca_pem: &str, leaf_pem: &str) {
    if !crate::common::have_tools(&["openssl"], "openssl verify") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, leaf) = (dir.path().join("ca.pem"), dir.path().join("leaf.pem"));
    std::fs::write(&ca, ca_pem).unwrap();
    std::fs::write(&leaf, leaf_pem).unwrap();
    let out = std::process::Command::new("openssl").arg("verify").arg("-CAfile").arg(&ca).arg(&leaf).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "openssl verify: {stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.trim_end().ends_with(": OK"), "openssl verify: {stdout}");
}

#[tokio::test]
async fn bad_attestation_bodies_get_400_json_and_the_mock_keeps_serving() {
    let (mock, client) = start(Profile::default(), 1000.0).await;
    let url = mock.url();
    let cases: &[(&str, &[&str])] = &[
        (r#"{}"#, &["missing_nonce"]),
        (r#"{"nonce":null}"#, &["missing_nonce"]),
        (r#"{"nonce":"test"}"#, &["invalid_nonce"]),
        (r#"{"nonce":"zz"}"#, &["invalid_nonce"]),
        (r#"{"nonce":"abc"}"#, &["invalid_nonce"]),
        (r#"{"nonce":""}"#, &["invalid_nonce"]),
        (r#"{"nonce":42}"#, &["invalid_nonce"]),
        (r#"{"nonce":["ab"]}"#, &["invalid_nonce"]),
        (r#"{"nonce":"ab""#, &["invalid_json"]),
        ("nonce=ab", &["invalid_json"]),
        ("", &["invalid_json"]),
    ];
    for (body, codes) in cases {
        let (status, err) = json_of(post(&client, format!("{url}/attestation"), *body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?} -> {err}");
        assert!(codes.contains(&err["error"].as_str().unwrap_or_default()), "{body:?} -> {err}");
        assert!(err["message"].is_string(), "{body:?} -> {err}");
    }
    assert_eq!(get(&client, format!("{url}/health")).await.status(), StatusCode::OK);
    let nonce = random_nonce();
    assert_eq!(attest(&client, &url, &nonce).await["nonce"], nonce.as_str());
}

#[tokio::test]
async fn runbook_curl_d_form_content_type_is_read_as_json() {
    // `curl -d '{"nonce":"..."}'` sends application/x-www-form-urlencoded.
    let (mock, client) = start(Profile::default(), 1000.0).await;
    let nonce = random_nonce();
    let resp = client
        .post(format!("{}/attestation", mock.url()))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("{{\"nonce\":\"{nonce}\"}}"))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["nonce"], nonce.as_str());
}
