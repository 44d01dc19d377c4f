//! `/metrics`: valid Prometheus text (strict reader and `promtool`), request counts against
//! the traffic the test sent, and the CPU gauge against 1-of-2 workers busy.

use super::*;

/// GETs `/metrics`, checks the content type, and parses it strictly.
pub(super) async fn scrape(client: &Client, url: &str) -> crate::prom::Exposition {
    let resp = get(client, format!("{url}/metrics")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let ctype = resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
    assert!(ctype.as_deref().is_some_and(|c| c.starts_with("text/plain")), "content type {ctype:?}");
    let text = resp.text().await.unwrap();
    crate::prom::parse(&text).unwrap_or_else(|e| panic!("/metrics is not valid Prometheus text: {e}\n{text}"))
}

/// `promtool check metrics` on the served text (skipped, with a message, without promtool).
async fn promtool_accepts(client: &Client, url: &str) {
    let text = get(client, format!("{url}/metrics")).await.text().await.unwrap();
    crate::prom::promtool_accepts(&text);
}

/// The requests the metrics test sends: method, path, route label, body.
const TRAFFIC: &[(&str, &str, &str, &str)] = &[
    ("GET", "/health", "/health", ""),
    ("GET", "/health", "/health", ""),
    ("GET", "/health", "/health", ""),
    ("GET", "/version", "/version", ""),
    ("GET", "/version", "/version", ""),
    ("GET", "/ready", "/ready", ""),
    ("POST", "/attestation", "/attestation", r#"{"nonce":"00ff"}"#),
    ("POST", "/attestation", "/attestation", r#"{"nonce":"abcdef"}"#),
    ("POST", "/attestation", "/attestation", r#"{"nonce":"zz"}"#),
    ("POST", "/check", "/check", "{}"),
    ("POST", "/prove", "/prove", "{}"),
    ("POST", "/prove", "/prove", "{}"),
    ("POST", "/prove-tx", "/prove-tx", "{}"),
    ("GET", "/pcr-values.json", "/pcr-values.json", ""),
    ("GET", "/releases/download/v6.2.0/pcr-values.json", "/releases/download/{tag}/pcr-values.json", ""),
    ("GET", "/releases/download/v1.0.0/pcr-values.json", "/releases/download/{tag}/pcr-values.json", ""),
    ("GET", "/prove", "/prove", ""),
    // Unknown paths share one label, so a scan cannot blow up the series count.
    ("GET", "/no-such-route", "unmatched", ""),
];

#[tokio::test]
async fn metrics_are_valid_prometheus_text_and_count_the_traffic_sent() {
    let (mock, client) = start(fixed_profile(Duration::from_secs(1)), 1000.0).await;
    let url = mock.url();
    // Oracle: what the client sent and the status it saw, by (route, method, status).
    let mut expected: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for (method, path, route, body) in TRAFFIC {
        let req = client.request(method.parse().unwrap(), format!("{url}{path}"));
        let resp = req.body(*body).send().await.unwrap();
        *expected.entry((route.to_string(), method.to_string(), resp.status().as_str().to_owned())).or_default() += 1;
    }
    let metrics = scrape(&client, &url).await;
    for ((route, method, status), n) in &expected {
        let labels = [("route", route.as_str()), ("method", method.as_str()), ("status", status.as_str())];
        assert_eq!(metrics.one("gameday_http_requests_total", &labels), Some(*n as f64), "{labels:?}");
        let labels = [("route", route.as_str()), ("status", status.as_str())];
        let count = metrics.sum("gameday_http_request_duration_seconds_count", &labels);
        assert_eq!(
            count,
            expected.iter().filter(|((r, _, s), _)| r == route && s == status).map(|(_, n)| *n as f64).sum::<f64>()
        );
    }
    // Nothing else was counted (the scrape itself is recorded after it answers).
    assert_eq!(metrics.sum("gameday_http_requests_total", &[]), TRAFFIC.len() as f64);
    assert_eq!(expected.get(&("/attestation".into(), "POST".into(), "400".into())), Some(&1));
    assert_eq!(expected.get(&("/prove".into(), "GET".into(), "405".into())), Some(&1));

    for (kind, n) in [("check", 1.0), ("prove", 2.0), ("prove-tx", 1.0)] {
        assert_eq!(metrics.one("midnight_proofs_total", &[("proof_type", kind), ("result", "ok")]), Some(n), "{kind}");
        assert_eq!(metrics.one("midnight_proof_duration_seconds_count", &[("proof_type", kind)]), Some(n), "{kind}");
    }
    assert_eq!(metrics.one("midnight_attestations_total", &[("result", "ok")]), Some(2.0));
    assert_eq!(metrics.one("midnight_attestations_total", &[("result", "rejected")]), Some(1.0));
    assert_eq!(metrics.one("gameday_queue_depth", &[("pool", "proof")]), Some(0.0));
    let cpu = metrics.one("gameday_cpu_utilisation_ratio", &[("pool", "proof")]).expect("CPU gauge");
    assert!((0.0..=1.0).contains(&cpu), "CPU {cpu}");
    for family in ["gameday_jobs_in_flight", "gameday_workers", "midnight_jobs_pending", "midnight_cert_expiry_seconds"]
    {
        assert_eq!(metrics.types.get(family).map(String::as_str), Some("gauge"), "{family}");
    }

    let again = scrape(&client, &url).await;
    let labels = [("route", "/metrics"), ("method", "GET"), ("status", "200")];
    assert_eq!(again.one("gameday_http_requests_total", &labels), Some(1.0));
    promtool_accepts(&client, &url).await;
}

/// Reads the proof pool's CPU gauge.
async fn cpu_gauge(client: &Client, url: &str) -> f64 {
    scrape(client, url).await.one("gameday_cpu_utilisation_ratio", &[("pool", "proof")]).expect("CPU gauge")
}

#[tokio::test]
async fn cpu_gauge_is_half_while_one_of_two_workers_is_busy() {
    // Proofs of 10 s simulated (100 ms real) one after another keep exactly one of the two
    // workers busy; the gauge averages over 40 s simulated (400 ms real).
    let profile = Profile { workers: 2, cpu_window: secs(40), ..fixed_profile(Duration::from_secs(10)) };
    let (mock, client) = start(profile, 100.0).await;
    let url = mock.url();
    assert_eq!(cpu_gauge(&client, &url).await, 0.0, "idle at start");
    let stream = {
        let (client, url) = (client.clone(), format!("{url}/prove"));
        tokio::spawn(async move {
            for _ in 0..16 {
                let resp = client.post(&url).body("{}").send().await.unwrap();
                assert_eq!(resp.status(), StatusCode::OK);
            }
        })
    };
    // Deliberate: sample after more than one averaging window has passed, while the stream
    // still runs, and 150 ms apart; the window's length is what is under test.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut readings = Vec::new();
    for _ in 0..4 {
        readings.push(cpu_gauge(&client, &url).await);
        tokio::time::sleep(Duration::from_millis(150)).await; // Deliberate: the sampling pace.
    }
    assert!(!stream.is_finished(), "the stream ended before the last reading");
    // Oracle: 1 of 2 workers busy is 0.5; the short gaps between proofs can only lower it.
    for cpu in &readings {
        assert!((0.42..=0.52).contains(cpu), "CPU {cpu} (readings {readings:?})");
    }
    stream.await.unwrap();
    // Once a full window (400 ms) has passed with no work, the gauge is back to 0.
    let (client, url) = (&client, &url);
    crate::common::poll_async(
        "the CPU gauge back to 0 a window after the work",
        Duration::from_millis(500),
        || async { (cpu_gauge(client, url).await < 0.01).then_some(()) },
    )
    .await;
}
