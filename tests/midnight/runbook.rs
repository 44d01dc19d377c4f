//! The runbook's daily health and security checks (`ci/runbook-checks/midnight.sh`) run
//! with bash, curl, jq and openssl against the mock, passing and failing as they should.

use super::*;

/// Runs `ci/runbook-checks/midnight.sh` against `url`; `None` when a tool is missing
/// (a skip, or under CI a failure).
async fn run_runbook_checks(url: &str) -> Option<(bool, String)> {
    if !crate::common::have_tools(&["bash", "curl", "jq", "openssl"], "runbook daily checks") {
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/runbook-checks/midnight.sh");
    let run = tokio::process::Command::new("bash")
        .arg(&script)
        .env("HOST", url)
        // Loopback only: no proxy, and no cloud-provider branch.
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
        .env_remove("CLOUD_PROVIDER")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run).await.expect("script finished").unwrap();
    let text = crate::common::text(&out);
    Some((out.status.success(), text))
}

#[tokio::test]
async fn runbook_daily_health_and_security_checks_pass_against_the_mock() {
    let (mock, _client) = start(Profile::default(), 1000.0).await;
    let Some((passed, out)) = run_runbook_checks(&mock.url()).await else {
        return;
    };
    assert!(passed, "runbook checks failed:\n{out}");
    for line in [
        "✅ Server responding",
        "✅ Attestation working",
        "✅ PCR0 matches",
        "✅ Debug mode OFF",
        "=== Health Check Complete ===",
    ] {
        assert!(out.contains(line), "missing {line:?}:\n{out}");
    }
    assert!(out.contains("\"jobsPending\": 0") && out.contains("6.2.0"), "{out}");
    assert!(!out.contains('❌') && !out.contains("jq: error"), "{out}");
}

#[tokio::test]
async fn runbook_security_check_fails_on_debug_mode_and_on_a_pcr_mismatch() {
    let (mock, _client) = start(Profile { debug_mode: true, ..Profile::default() }, 1000.0).await;
    let Some((passed, out)) = run_runbook_checks(&mock.url()).await else {
        return;
    };
    assert!(!passed && out.contains("DEBUG MODE ON"), "{out}");
    let tampered = Profile { enclave_image: "midnight/proof-server:evil".into(), ..Profile::default() };
    let (mock, _client) = start(tampered, 1000.0).await;
    let Some((passed, out)) = run_runbook_checks(&mock.url()).await else {
        return;
    };
    assert!(!passed && out.contains("PCR0 MISMATCH"), "{out}");
    assert!(out.contains("✅ Attestation working"), "the health check itself still passes: {out}");
}
