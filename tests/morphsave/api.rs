//! The app's endpoints and the RPC nodes' JSON-RPC, including bad input.

use super::*;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn health_reports_database_cache_and_both_rpc_nodes() {
    let m = Morph::start(Profile::default()).await;
    assert_eq!(m.endpoints, ["morphsave", "morphsave-rpc", "morphsave-rpc-backup"]);
    let (status, h) = json(m.get("/api/health").await).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!(h["status"], "healthy");
    let s = &h["services"];
    assert_eq!(s["database"]["status"], "up");
    assert_eq!(s["database"]["pool"]["size"], 20);
    assert_eq!(s["cache"]["status"], "up");
    assert_eq!(s["rpc"]["status"], "up");
    assert_eq!(s["rpc"]["active"], "primary");
    for node in ["primary", "backup"] {
        assert_eq!(s["rpc"][node]["status"], "up");
        assert!(s["rpc"][node]["block_number"].as_u64().unwrap() >= GENESIS);
    }
}

#[tokio::test]
async fn rpc_nodes_answer_the_runbooks_curl_and_the_apps_methods() {
    let m = Morph::start(Profile::default()).await;
    for node in [Listener::RpcPrimary, Listener::RpcBackup] {
        let (status, v) = m.rpc(node, r#"{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":1}"#).await;
        assert_eq!((status, v["id"].as_u64()), (StatusCode::OK, Some(1)));
        assert!(hex_u64(&v["result"]) >= GENESIS);
    }
    let p = Listener::RpcPrimary;
    // 2810 = 0xafa (Morph Holesky).
    let (_, v) = m.rpc(p, r#"{"jsonrpc":"2.0","method":"eth_chainId","params":[],"id":"a"}"#).await;
    assert_eq!((v["id"].as_str(), v["result"].as_str()), (Some("a"), Some("0xafa")));
    let (_, v) = m.rpc(p, r#"{"jsonrpc":"2.0","method":"eth_sendRawTransaction","params":["0x1234"],"id":2}"#).await;
    assert_eq!(v["result"], format!("0x{}", hex::encode(Sha256::digest([0x12, 0x34]))));
    let (status, v) = m
        .rpc(p, r#"[{"jsonrpc":"2.0","method":"net_version","id":1},{"jsonrpc":"2.0","method":"eth_nope","id":2}]"#)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v[0]["result"], "2810");
    assert_eq!(v[1]["error"]["code"], -32601);
}

#[tokio::test]
async fn rpc_nodes_answer_bad_json_rpc_with_the_specs_error_codes() {
    let m = Morph::start(Profile::default()).await;
    let p = Listener::RpcPrimary;
    let (status, v) = m.rpc(p, r#"{"jsonrpc":"2.0","method":"eth_nope","id":3}"#).await;
    assert_eq!((status, v["error"]["code"].as_i64()), (StatusCode::OK, Some(-32601)), "unknown method: in-band");
    let (status, v) = m.rpc(p, r#"{"jsonrpc":"2.0","method":"#).await;
    assert_eq!((status, v["error"]["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(-32700)));
    let (status, v) = m.rpc(p, r#"{"jsonrpc":"1.0","method":"eth_blockNumber","id":4}"#).await;
    assert_eq!((status, v["error"]["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(-32600)));
    let (status, v) = m.rpc(p, r#""eth_blockNumber""#).await;
    assert_eq!((status, v["error"]["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(-32600)));
    let (status, v) = json(m.client.get(m.url(p)).send().await.unwrap()).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
    let (status, v) = json(m.client.get(format!("{}/x", m.url(p))).send().await.unwrap()).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

#[tokio::test]
async fn a_deposit_adds_to_the_balance_a_read_returns() {
    let m = Morph::start(Profile::default()).await;
    let (status, before) = json(m.get("/api/savings/acct-0007").await).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    let cents = before["balance_cents"].as_u64().unwrap();

    let (status, d) = json(m.deposit(json!({"account_id": "acct-0007", "amount": 12.34})).await).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    assert_eq!(d["status"], "confirmed");
    assert_eq!(d["rpc"], "primary");
    let tx = d["tx_hash"].as_str().unwrap();
    assert!(tx.len() == 66 && tx.starts_with("0x") && hex::decode(&tx[2..]).is_ok(), "{tx}");

    let (status, after) = json(m.get("/api/savings/acct-0007").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after["balance_cents"].as_u64(), Some(cents + 1234));
    assert_eq!(d["balance"].as_f64(), Some((cents + 1234) as f64 / 100.0));

    let (status, v) = json(m.get("/api/blockchain/status").await).await;
    assert_eq!((status, v["rpc"].as_str()), (StatusCode::OK, Some("primary")));
    assert!(v["block_number"].as_u64().unwrap() >= GENESIS);
    assert_eq!(hex_u64(&v["block_number_hex"]), v["block_number"].as_u64().unwrap());
}

#[tokio::test]
async fn bad_deposits_and_unknown_accounts_get_json_4xx() {
    let m = Morph::start(Profile::default()).await;
    let (status, v) = json(m.get("/api/savings/acct-9999").await).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("account_not_found")));
    for (body, want) in [
        (json!({"account_id": "acct-0001", "amount": -5}), "invalid_amount"),
        (json!({"account_id": "acct-0001", "amount": 0}), "invalid_amount"),
        (json!({"account_id": "acct-0001", "amount": 0.001}), "invalid_amount"),
        (json!({"account_id": "acct-0001", "amount": "ten"}), "invalid_amount"),
        (json!({"account_id": "acct-0001"}), "invalid_amount"),
        (json!({"amount": 5}), "invalid_account"),
        (json!({"account_id": 7, "amount": 5}), "invalid_account"),
    ] {
        let (status, v) = json(m.deposit(body.clone()).await).await;
        assert_eq!((status, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some(want)), "{body}");
    }
    let (status, v) = json(m.deposit(json!({"account_id": "acct-9999", "amount": 5})).await).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("account_not_found")));
}

#[tokio::test]
async fn bad_http_requests_get_json_4xx_and_the_app_keeps_serving() {
    let m = Morph::start(Profile::default()).await;
    let app = m.url(Listener::App);
    let cases = [
        (m.client.post(format!("{app}/api/deposits")).body("{oops"), StatusCode::BAD_REQUEST, "invalid_json"),
        (m.client.get(format!("{app}/api/deposits")), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (m.client.put(format!("{app}/api/health")), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (m.client.get(format!("{app}/api/withdrawals")), StatusCode::NOT_FOUND, "not_found"),
        (
            m.client.post(format!("{app}/api/deposits")).body(vec![b' '; 1024 * 1024 + 1]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            m.client.post(m.url(Listener::RpcPrimary)).body(vec![b' '; 1024 * 1024 + 1]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (req, want_status, want_code) in cases {
        let (status, v) = json(req.send().await.unwrap()).await;
        assert_eq!((status, v["error"].as_str()), (want_status, Some(want_code)), "{v}");
    }
    let (status, h) = json(m.get("/api/health").await).await;
    assert_eq!((status, h["status"].as_str()), (StatusCode::OK, Some("healthy")));
}

#[tokio::test]
async fn metrics_are_valid_prometheus_text_and_count_what_was_sent() {
    let m = Morph::start(Profile { cache_hit_ratio: 0.0, ..Profile::default() }).await;
    for i in 1..=3 {
        assert_eq!(m.get(&format!("/api/savings/acct-000{i}")).await.status(), StatusCode::OK);
    }
    assert_eq!(m.deposit(json!({"account_id": "acct-0001", "amount": 1})).await.status(), StatusCode::CREATED);
    assert_eq!(m.get("/api/blockchain/status").await.status(), StatusCode::OK);

    let text = m.get("/metrics").await.text().await.unwrap();
    prom::promtool_accepts(&text);
    let exp = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let reads = [("route", "/api/savings/{account_id}"), ("status", "200")];
    assert_eq!(exp.sum("http_requests_total", &reads), 3.0);
    assert_eq!(exp.sum("http_request_duration_seconds_count", &reads), 3.0);
    assert!(exp.has("http_request_duration_seconds_bucket", &[("le", "0.2")]));
    assert_eq!(exp.sum("morphsave_db_pool_size", &[]), 20.0);
    assert_eq!(exp.sum("morphsave_db_pool_connections_in_use", &[]), 0.0);
    // Hit ratio 0: three reads, three misses.
    assert_eq!(exp.sum("morphsave_cache_misses_total", &[]), 3.0);
    assert_eq!(exp.sum("morphsave_cache_hit_ratio", &[]), 0.0);
    // One deposit (sendRawTransaction) and one status (blockNumber), both to the primary.
    assert_eq!(exp.sum("morphsave_rpc_requests_total", &[("endpoint", "primary"), ("result", "ok")]), 2.0);
    assert_eq!(exp.sum("morphsave_rpc_errors_total", &[]), 0.0);
    assert!(exp.sum("morphsave_block_number", &[]) >= GENESIS as f64);
    assert_eq!(exp.types.get("gameday_http_requests_total").map(String::as_str), Some("counter"));
    let api = m.get("/api/metrics").await;
    assert_eq!(api.status(), StatusCode::OK);
    assert!(prom::parse(&api.text().await.unwrap()).is_ok());
}

#[tokio::test]
async fn the_fleet_dispatch_starts_morphsave_with_the_app_as_main_endpoint() {
    use crate::common::Mock;
    use gameday_mocks::ServiceProfile;
    let mock = Mock::start(ServiceProfile::Morphsave(Profile::default()), 1.0).await;
    let names: Vec<_> = mock.service.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["morphsave", "morphsave-rpc", "morphsave-rpc-backup"]);
    let resp = reqwest::Client::builder().no_proxy().build().unwrap().get(format!("{}/api/health", mock.url()));
    let (status, body) = json(resp.send().await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("healthy")));
}
