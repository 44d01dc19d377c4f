//! `/metrics` is valid Prometheus text with the runbook's names and counts that match the
//! traffic sent; proof latency at the runbook's nominal load is inside its SLO.

use std::sync::Arc;

use super::*;

#[tokio::test]
async fn metrics_are_valid_prometheus_text_with_the_runbook_names() {
    let m = Pxl::start(Profile::default(), 1.0).await;
    for i in 0..4 {
        assert_eq!(m.prove(format!(r#"{{"input": {i}}}"#), None).await.status(), StatusCode::OK);
    }
    assert_eq!(m.prove("{bad", None).await.status(), StatusCode::BAD_REQUEST);
    m.control.take_down(Component::V4).await.unwrap();
    assert_eq!(m.get(Component::Gateway, "/v1/health").await.status(), StatusCode::OK);

    for c in [Component::Gateway, Component::Core] {
        let resp = m.get(c, "/metrics").await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = resp.text().await.unwrap();
        prom::promtool_accepts(&text);
        let exp = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        check_counts(&exp);
    }
}

/// What the metrics test's traffic must show: 4 good proofs, 1 bad, v4 down.
fn check_counts(exp: &prom::Exposition) {
    for (name, ty) in [
        ("http_request_duration_seconds", "histogram"),
        ("http_requests_total", "counter"),
        ("proof_queue_length", "gauge"),
        ("gameday_http_requests_total", "counter"),
        ("gameday_queue_depth", "gauge"),
    ] {
        assert_eq!(exp.types.get(name).map(String::as_str), Some(ty), "{name}");
    }
    let proofs = [("component", "gateway"), ("route", "/v1/proofs"), ("status", "200")];
    assert_eq!(exp.sum("http_requests_total", &proofs), 4.0);
    assert_eq!(exp.sum("http_request_duration_seconds_count", &proofs), 4.0);
    let bad = [("component", "gateway"), ("route", "/v1/proofs"), ("status", "400")];
    assert_eq!(exp.sum("http_requests_total", &bad), 1.0);
    // The core saw the same five, relayed.
    assert_eq!(exp.sum("http_requests_total", &[("component", "core"), ("route", "/v1/prove")]), 5.0);
    // The SLO's 300 ms is a bucket edge, so histogram_quantile is exact there.
    assert!(exp.has("http_request_duration_seconds_bucket", &[("le", "0.3")]));
    assert_eq!(exp.sum("pxl_proofs_total", &[("result", "ok")]), 4.0);
    assert_eq!(exp.sum("pxl_component_up", &[("component", "overlay-v4")]), 0.0);
    assert_eq!(exp.sum("pxl_component_up", &[("component", "core")]), 1.0);
}

/// Quantile by the nearest-rank method.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test]
async fn proof_latency_at_nominal_load_is_inside_the_runbook_slo() {
    // The runbook's rate, 1000 requests a minute, at 5x: 200 proofs paced evenly over
    // 12 simulated seconds, open loop (latency from the intended send time).
    const SCALE: f64 = 5.0;
    const N: u32 = 200;
    let profile = Profile { rate_limit_requests: 100_000, ..Profile::default() };
    let m = Arc::new(Pxl::start(profile, SCALE).await);
    let interval = Duration::from_secs_f64(60.0 / 1000.0 / SCALE);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..N {
        let due = start + interval * i;
        tokio::time::sleep_until(due).await;
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            let status = m.prove(format!(r#"{{"input": {i}}}"#), None).await.status();
            (status, due.elapsed().as_secs_f64() * SCALE)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        let (status, sim_s) = t.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        latencies.push(sim_s);
    }
    latencies.sort_by(f64::total_cmp);
    let (p95, p99) = (quantile(&latencies, 0.95), quantile(&latencies, 0.99));
    assert!(p95 < 0.300, "P95 {p95:.3}s breaks the 300 ms SLO");
    assert!(p99 < 0.500, "P99 {p99:.3}s breaks the 500 ms SLO");
}
