//! Health of every listener, proofs through the gateway, and the outage hooks: one overlay
//! down makes the gateway degraded (not down), the core down makes it down.

use super::*;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn every_listener_answers_its_runbook_health_path() {
    let m = Pxl::start(Profile::default(), 1.0).await;
    let names: Vec<_> = m.endpoints.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["pxl", "pxl-core", "pxl-chrono", "pxl-v4"]);

    let (status, body) = json(m.get(Component::Gateway, "/v1/health").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["degraded"], serde_json::json!([]));
    for c in ["core", "overlay-chrono", "overlay-v4"] {
        assert_eq!(body["components"][c]["status"], "ok", "{c}: {body}");
    }
    let (status, core) = json(m.get(Component::Core, "/healthz").await).await;
    assert_eq!((status, core["status"].as_str()), (StatusCode::OK, Some("ok")));
    assert_eq!(core["proof_queue_length"], 0);
    for (c, name) in [(Component::Chrono, "overlay-chrono"), (Component::V4, "overlay-v4")] {
        let (status, h) = json(m.get(c, "/health").await).await;
        assert_eq!((status, h["service"].as_str()), (StatusCode::OK, Some(name)));
        let (status, info) = json(m.get(c, "/v1/info").await).await;
        assert_eq!((status, info["service"].as_str()), (StatusCode::OK, Some(name)));
    }
    for overlay in ["chrono", "v4"] {
        let (status, info) = json(m.get(Component::Gateway, &format!("/v1/overlays/{overlay}")).await).await;
        assert_eq!((status, info["overlay"].as_str()), (StatusCode::OK, Some(overlay)));
    }
    let (status, err) = json(m.get(Component::Gateway, "/v1/overlays/v5").await).await;
    assert_eq!((status, err["error"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_overlay")));
}

#[tokio::test]
async fn a_proof_through_the_gateway_is_the_sha256_of_its_canonical_input() {
    let m = Pxl::start(Profile::default(), 1.0).await;
    // Keys out of order on purpose: the proof covers the compact JSON with sorted keys.
    let (status, body) = json(m.prove(r#"{"input": {"b": 1, "a": "x"}, "circuit": "transfer"}"#, None).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expected = hex::encode(Sha256::digest(br#"{"a":"x","b":1}"#));
    assert_eq!(body["proof"], expected);
    assert_eq!(body["circuit"], "transfer");
    assert_eq!(body["input_bytes"], 15);

    // The core answers the same thing directly (the gateway only relays).
    let direct = m.client.post(format!("{}/v1/prove", m.url(Component::Core))).body(r#"{"input":"hello"}"#);
    let (status, body) = json(direct.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["proof"], hex::encode(Sha256::digest(br#""hello""#)));

    let (status, err) = json(m.prove(r#"{"circuit": "transfer"}"#, None).await).await;
    assert_eq!((status, err["error"].as_str()), (StatusCode::BAD_REQUEST, Some("missing_input")));
}

#[tokio::test]
async fn gateway_is_degraded_with_one_overlay_down_and_healthy_after_it_returns() {
    let m = Pxl::start(Profile::default(), 1.0).await;
    m.control.take_down(Component::Chrono).await.unwrap();

    // Really down: its port refuses connections.
    let refused = m.client.get(format!("{}/health", m.url(Component::Chrono))).send().await;
    assert!(refused.is_err_and(|e| e.is_connect()));

    let (status, body) = json(m.get(Component::Gateway, "/v1/health").await).await;
    assert_eq!(status, StatusCode::OK, "degraded is not down: {body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["degraded"], serde_json::json!(["overlay-chrono"]));
    assert_eq!(body["components"]["overlay-chrono"]["status"], "down");
    assert_eq!(body["components"]["overlay-v4"]["status"], "ok");
    assert_eq!(body["components"]["core"]["status"], "ok");

    // The overlay's own feature fails, proofs do not.
    let (status, err) = json(m.get(Component::Gateway, "/v1/overlays/chrono").await).await;
    assert_eq!((status, err["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("overlay_unavailable")));
    assert_eq!(m.prove(r#"{"input": 1}"#, None).await.status(), StatusCode::OK);

    m.control.bring_up(Component::Chrono).await.unwrap();
    assert_eq!(m.control.addr(Component::Chrono).to_string(), m.endpoints[2].1.trim_start_matches("http://"));
    let (status, body) = json(m.get(Component::Gateway, "/v1/health").await).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    assert_eq!(body["degraded"], serde_json::json!([]));
    let (status, _) = json(m.get(Component::Gateway, "/v1/overlays/chrono").await).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn core_down_fails_proofs_with_502_and_health_with_503_until_it_returns() {
    let m = Pxl::start(Profile::default(), 1.0).await;
    assert_eq!(m.prove(r#"{"input": 1}"#, None).await.status(), StatusCode::OK);
    m.control.take_down(Component::Core).await.unwrap();
    assert!(!m.control.is_up(Component::Core));

    let (status, err) = json(m.prove(r#"{"input": 1}"#, None).await).await;
    assert_eq!((status, err["error"].as_str()), (StatusCode::BAD_GATEWAY, Some("core_unavailable")));
    let (status, body) = json(m.get(Component::Gateway, "/v1/health").await).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("down")));
    assert_eq!(body["components"]["core"]["status"], "down");

    m.control.bring_up(Component::Core).await.unwrap();
    assert_eq!(m.prove(r#"{"input": 1}"#, None).await.status(), StatusCode::OK);
    let (status, body) = json(m.get(Component::Gateway, "/v1/health").await).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
}

/// Bad requests: method, listener, path, body, expected status and error code.
const BAD: &[(&str, Component, &str, &str, u16, &str)] = &[
    ("POST", Component::Gateway, "/v1/proofs", "{not json", 400, "invalid_json"),
    ("POST", Component::Gateway, "/v1/proofs", "", 400, "invalid_json"),
    ("GET", Component::Gateway, "/v1/proofs", "", 405, "method_not_allowed"),
    ("DELETE", Component::Gateway, "/v1/health", "", 405, "method_not_allowed"),
    ("GET", Component::Gateway, "/v2/proofs", "", 404, "not_found"),
    ("GET", Component::Core, "/v1/prove", "", 405, "method_not_allowed"),
    ("POST", Component::Core, "/v1/prove", "[1,", 400, "invalid_json"),
    ("GET", Component::V4, "/nope", "", 404, "not_found"),
    ("POST", Component::Chrono, "/health", "", 405, "method_not_allowed"),
];

#[tokio::test]
async fn bad_requests_get_json_4xx_and_every_listener_keeps_serving() {
    let m = Pxl::start(Profile::default(), 1.0).await;
    for &(method, c, path, body, want, code) in BAD {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let req = m.client.request(method, format!("{}{path}", m.url(c))).body(body);
        let (status, v) = json(req.send().await.unwrap()).await;
        assert_eq!((status.as_u16(), v["error"].as_str()), (want, Some(code)), "{path}: {v}");
        assert!(v["message"].is_string());
    }
    let (status, body) = json(m.get(Component::Gateway, "/v1/health").await).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
}

#[tokio::test]
async fn the_fleet_dispatch_starts_pxl_with_the_gateway_as_main_endpoint() {
    use crate::common::Mock;
    use gameday_mocks::ServiceProfile;
    let mock = Mock::start(ServiceProfile::Pxl(Profile::default()), 1.0).await;
    let names: Vec<_> = mock.service.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["pxl", "pxl-core", "pxl-chrono", "pxl-v4"]);
    let resp = reqwest::Client::builder().no_proxy().build().unwrap().get(format!("{}/v1/health", mock.url()));
    let (status, body) = json(resp.send().await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
}

/// What one gateway scrape and one `/v1/health` say of `c`: (`pxl_component_up`, 1 when
/// `/v1/health` lists it `ok`).
async fn gauge_and_health(m: &Pxl, c: &str) -> (f64, f64) {
    let text = m.get(Component::Gateway, "/metrics").await.text().await.unwrap();
    let exp = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let gauge = exp.one("pxl_component_up", &[("component", c)]).unwrap_or_else(|| panic!("no gauge for {c}"));
    let (_, body) = json(m.get(Component::Gateway, "/v1/health").await).await;
    (gauge, f64::from(u8::from(body["components"][c]["status"] == "ok")))
}

#[tokio::test]
async fn component_up_agrees_with_the_gateways_health_probe_before_during_and_after_each_outage() {
    let m = Pxl::start(Profile::default(), 1.0).await;
    let all = [(Component::Core, "core"), (Component::Chrono, "overlay-chrono"), (Component::V4, "overlay-v4")];
    for (down, down_label) in all {
        for (_, label) in all {
            assert_eq!(gauge_and_health(&m, label).await, (1.0, 1.0), "before {down_label} down: {label}");
        }
        m.control.take_down(down).await.unwrap();
        for (_, label) in all {
            let want = if label == down_label { 0.0 } else { 1.0 };
            assert_eq!(gauge_and_health(&m, label).await, (want, want), "{down_label} down: {label}");
        }
        m.control.bring_up(down).await.unwrap();
    }
    for (_, label) in all {
        assert_eq!(gauge_and_health(&m, label).await, (1.0, 1.0), "all back: {label}");
    }
}
