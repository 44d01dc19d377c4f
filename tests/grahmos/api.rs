//! The edge API: endpoints, DPoP nonces, access control, bad input, metrics.

use super::*;
use crate::common::Mock;

#[tokio::test]
async fn starts_through_the_fleet_dispatch_with_three_endpoints() {
    let mock = Mock::start(ServiceProfile::Grahmos(Profile::default()), 1.0).await;
    let names: Vec<_> = mock.service.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["grahmos", "grahmos-search", "grahmos-upstream"]);
    let (status, body) = get_json(&client(), &format!("{}/api/health", mock.url())).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("healthy")));
}

#[tokio::test]
async fn edge_api_endpoints_answer() {
    let edge = Edge::start(json!({}), 1.0).await;
    let (c, api) = (client(), edge.api());
    for path in ["/api/health", "/api/v1/status", "/api/v2/status"] {
        let (status, body) = get_json(&c, &format!("{api}{path}")).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (_, v1) = get_json(&c, &format!("{api}/api/v1/status")).await;
    assert_eq!(v1["search"]["release"], "v2");
    let (_, v2) = get_json(&c, &format!("{api}/api/v2/status")).await;
    assert_eq!(v2["upstream"]["state"], "up");
    assert_eq!(v2["index"]["releases"], json!(["v1", "v2"]));

    // The token's header names a key the JWKS publishes.
    let t = token(&c, &api, &["tenant-a"], "public").await;
    let header: Value = serde_json::from_slice(&b64url_decode(t.split('.').next().unwrap())).unwrap();
    let (_, jwks) = get_json(&c, &format!("{api}/.well-known/jwks.json")).await;
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&header["kid"].as_str().unwrap()), "{kids:?} vs {header}");

    // The runbook's canary query, with a token and via POST /api/search.
    let (status, h, body) = search(&c, &api, &t, "canary test").await;
    assert_eq!(status, 200);
    assert_eq!(body["hits"][0]["id"], "canary");
    assert_eq!(h["x-index-release"], "v2");
    let post = c.post(format!("{api}/api/search")).body(r#"{"q": "canary", "filter": "user_can_access"}"#);
    let r = dpop(post, &c, &api, &t, "POST", &format!("{api}/api/search")).await.send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["hits"][0]["id"], "canary");
}

#[tokio::test]
async fn search_engine_port_answers_the_runbook_probes() {
    let edge = Edge::start(json!({}), 1.0).await;
    let (c, engine) = (client(), edge.engine());
    let (status, hz) = get_json(&c, &format!("{engine}/_healthz")).await;
    assert_eq!((status, hz["status"].as_str()), (StatusCode::OK, Some("available")));
    let (status, stats) = get_json(&c, &format!("{engine}/stats")).await;
    let on_disk = fs::read_dir(edge.handle.index_dir().join("current/docs")).unwrap().count();
    assert_eq!(
        (status, stats["indexes"]["documents"]["numberOfDocuments"].as_u64()),
        (StatusCode::OK, Some(on_disk as u64))
    );
    assert_eq!(stats["databases"]["v2"]["numberOfDocuments"].as_u64(), Some(on_disk as u64));
    let (status, anon) = get_json(&c, &format!("{engine}/search?q=canary")).await;
    assert_eq!((status, anon["hits"][0]["id"].as_str()), (StatusCode::OK, Some("canary")));
    let r = c.post(format!("{engine}/search?q=canary")).body(r#"{"index": "v1"}"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["release"], "v1");
    let (_, rel) = get_json(&c, &format!("{engine}/releases")).await;
    assert_eq!(rel["current"], "v2");

    // The upstream mock answers on its own port.
    let (status, _) = get_json(&c, &format!("{}/health", edge.url("grahmos-upstream"))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn dpop_nonce_is_single_use_and_required() {
    let edge = Edge::start(json!({}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let (status, n) = get_json(&c, &format!("{api}/auth/dpop/nonce")).await;
    assert_eq!(status, 200);
    assert!(n["expires"].as_u64().unwrap() <= 120);
    let nonce = n["nonce"].as_str().unwrap();
    let key = DpopKey::generate().unwrap();
    let url = format!("{api}/auth/dpop");
    let claims = json!({"client_id": "tenant-a", "client_secret": "tenant-a-secret", "sub": "alice", "tenant_ids": ["tenant-a"], "tier": "restricted"});
    let issue = |proof: String| c.post(&url).header("DPoP", proof).json(&claims).send();

    let first = issue(key.proof("POST", &url, Some(nonce))).await.unwrap();
    assert_eq!(first.status(), 200);
    let issued: Value = first.json().await.unwrap();
    assert_eq!(issued["token_type"], "DPoP");
    assert_eq!(issued["access_token"].as_str().unwrap().split('.').count(), 3);

    // The same nonce again, in a new proof: 401 nonce_expired, with a fresh nonce offered.
    let again = issue(key.proof("POST", &url, Some(nonce))).await.unwrap();
    assert_eq!(again.status(), 401);
    let offered = again.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_ne!(offered, nonce);
    assert_eq!(again.json::<Value>().await.unwrap()["error"], "nonce_expired");
    // No nonce at all, no proof at all, a nonce never issued.
    let r = issue(key.proof("POST", &url, None)).await.unwrap();
    assert_eq!(status_error(r).await, (401, "nonce_required".to_owned()));
    let r = c.post(&url).json(&claims).send().await.unwrap();
    assert_eq!(status_error(r).await, (401, "invalid_dpop_proof".to_owned()));
    let r = issue(key.proof("POST", &url, Some("abc123"))).await.unwrap();
    assert_eq!(status_error(r).await, (401, "nonce_expired".to_owned()));
    // The offered nonce works once.
    assert_eq!(issue(key.proof("POST", &url, Some(&offered))).await.unwrap().status(), 200);
}

#[tokio::test]
async fn dpop_probe_checks_the_token_binding() {
    let edge = Edge::start(json!({}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let key = DpopKey::generate().unwrap();
    let url = format!("{api}/auth/dpop");
    let claims = json!({"client_id": "tenant-a", "client_secret": "tenant-a-secret", "sub": "alice", "tenant_ids": ["tenant-a"], "tier": "restricted"});
    let nonce = fresh_nonce(&c, &api).await;
    let r = c.post(&url).header("DPoP", key.proof("POST", &url, Some(&nonce))).json(&claims).send().await.unwrap();
    let tok = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    // The runbook's probe: Authorization: DPoP $TOKEN + DPoP: $PROOF on GET /auth/dpop.
    let probe = |k: &DpopKey, n: String| {
        c.get(&url).header("Authorization", format!("DPoP {tok}")).header("DPoP", k.proof("GET", &url, Some(&n))).send()
    };
    let r = probe(&key, fresh_nonce(&c, &api).await).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["tenant_ids"], json!(["tenant-a"]));
    let thief = DpopKey::generate().unwrap();
    let r = probe(&thief, fresh_nonce(&c, &api).await).await.unwrap();
    assert_eq!(status_error(r).await, (401, "dpop_key_mismatch".to_owned()));
}

#[tokio::test]
async fn dpop_nonce_expires_after_its_scaled_lifetime() {
    // 120 s simulated at time scale 200 = 0.6 s real.
    let edge = Edge::start(json!({"nonce_ttl": "120s"}), 200.0).await;
    let (c, api) = (client(), edge.api());
    let key = DpopKey::generate().unwrap();
    let url = format!("{api}/auth/dpop");
    let claims = json!({"client_id": "tenant-b", "client_secret": "tenant-b-secret", "sub": "bob", "tenant_ids": ["tenant-b"], "tier": "public"});
    let stale = fresh_nonce(&c, &api).await;
    let fresh = fresh_nonce(&c, &api).await;
    let r = c.post(&url).header("DPoP", key.proof("POST", &url, Some(&fresh))).json(&claims).send().await.unwrap();
    assert_eq!(r.status(), 200, "a nonce used within its lifetime works");
    // Deliberate: the nonce's lifetime elapsing is what is under test (polling with the stale
    // nonce would use it up before it expires).
    tokio::time::sleep(Duration::from_millis(900)).await;
    let r = c.post(&url).header("DPoP", key.proof("POST", &url, Some(&stale))).json(&claims).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "nonce_expired");
}

/// The access rule, written out again from the runbook's description.
fn may_see(doc: &Value, tenants: &[&str], tier: &str) -> bool {
    let rank = |l: &str| ["public", "restricted", "secret"].iter().position(|x| *x == l).unwrap();
    let level = doc["labels"].as_array().unwrap().iter().map(|l| rank(l.as_str().unwrap())).max().unwrap_or(2);
    let shared = doc["tenants"].as_array().unwrap().iter().any(|t| t == "*" || tenants.contains(&t.as_str().unwrap()));
    level <= rank(tier) && shared
}

fn matches_word(doc: &Value, word: &str) -> bool {
    let text = format!("{} {}", doc["title"].as_str().unwrap(), doc["content"].as_str().unwrap()).to_lowercase();
    text.split(|c: char| !c.is_alphanumeric()).any(|w| w == word)
}

#[tokio::test]
async fn acl_filtering_matches_the_rule_and_never_crosses_tenants() {
    let multi =
        json!({"id": "multi", "secret": "multi-secret", "tenant_ids": ["tenant-a", "tenant-c"], "max_tier": "secret"});
    let clients: Vec<Value> = ["tenant-a", "tenant-b", "tenant-c"]
        .iter()
        .map(|t| json!({"id": t, "secret": format!("{t}-secret"), "tenant_ids": [t], "max_tier": "secret"}))
        .chain([multi])
        .collect();
    let edge = Edge::start(json!({"upstream": false, "docs_per_tenant": 12, "clients": clients}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let docs = docs_on_disk(edge.handle.index_dir());
    for (tenants, tier) in [
        (&["tenant-a"][..], "public"),
        (&["tenant-a"], "secret"),
        (&["tenant-b"], "restricted"),
        (&["tenant-a", "tenant-c"], "restricted"),
    ] {
        let t = token(&c, &api, tenants, tier).await;
        let (status, _, body) = search(&c, &api, &t, "report").await;
        assert_eq!(status, 200);
        let expected: BTreeSet<String> = docs
            .iter()
            .filter(|d| matches_word(d, "report") && may_see(d, tenants, tier))
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(hit_ids(&body), expected, "{tenants:?} {tier}");
        let hidden = docs.iter().filter(|d| matches_word(d, "report") && !may_see(d, tenants, tier)).count();
        assert_eq!(body["hidden_by_acl"].as_u64(), Some(hidden as u64));
    }
    // tenant-a, fully cleared, searching for tenant-b's documents by name: none of them.
    let t = token(&c, &api, &["tenant-a"], "secret").await;
    let (status, _, body) = search(&c, &api, &t, "tenant-b").await;
    assert_eq!(status, 200);
    assert!(docs.iter().filter(|d| matches_word(d, "b") && d["tenants"] == json!(["tenant-b"])).count() > 5);
    for hit in body["hits"].as_array().unwrap() {
        let tenants = hit["tenants"].as_array().unwrap();
        assert!(tenants.iter().any(|t| t == "tenant-a" || t == "*"), "leaked {hit}");
    }
    // No token, a forged token: 401, nothing returned.
    let r = c.get(format!("{api}/search?q=report")).send().await.unwrap();
    assert_eq!(status_error(r).await, (401, "missing_token".to_owned()));
    let forged = Tok { token: format!("{}.{}", t.rsplit_once('.').unwrap().0, "AAAA"), key: Arc::clone(&t.key) };
    let (status, _, body) = search(&c, &api, &forged, "report").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
}

#[tokio::test]
async fn bad_requests_get_json_4xx_and_the_mock_keeps_serving() {
    let edge = Edge::start(json!({"upstream": false}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let t = token(&c, &api, &["tenant-a"], "public").await;
    let big = "x".repeat(70 * 1024);
    let (post, get) = (format!("{api}/api/search"), format!("{api}/search"));
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (dpop(c.post(&post).body("{not json"), &c, &api, &t, "POST", &post).await, 400, "invalid_json"),
        (c.post(&post).body(big.clone()), 413, "payload_too_large"),
        (dpop(c.post(&post).body("{}"), &c, &api, &t, "POST", &post).await, 400, "missing_query"),
        (c.get(format!("{api}/api/search")), 405, "method_not_allowed"),
        (c.delete(format!("{api}/search")), 405, "method_not_allowed"),
        (c.get(format!("{api}/nope")), 404, "not_found"),
        (c.get(format!("{api}/search?q=canary&limit=abc")), 400, "invalid_query"),
        (dpop(c.get(format!("{get}?q=canary&limit=0")), &c, &api, &t, "GET", &get).await, 400, "invalid_limit"),
        (dpop(c.get(format!("{get}?q=")), &c, &api, &t, "GET", &get).await, 400, "missing_query"),
        (c.get(format!("{api}/search?q=canary")).header("Authorization", "Basic abc"), 401, "missing_token"),
        (c.get(format!("{api}/search?q=canary")).bearer_auth("a.b.c"), 401, "invalid_token"),
        (c.post(format!("{api}/auth/dpop")).body("[1,2"), 400, "invalid_json"),
        (
            c.post(format!("{api}/auth/dpop")).body(r#"{"sub":"x","tenant_ids":["*"],"tier":"public"}"#),
            401,
            "invalid_client",
        ),
        (
            c.post(format!("{api}/auth/dpop"))
                .body(r#"{"client_id":"tenant-a","client_secret":"tenant-a-secret","sub":"","tier":"public"}"#),
            400,
            "invalid_claims",
        ),
        (
            c.post(format!("{api}/auth/dpop")).body(r#"{"sub":"x","tenant_ids":["a"],"tier":"god"}"#),
            400,
            "invalid_json",
        ),
        (c.post(format!("{api}/auth/dpop")).header("DPoP", "garbage"), 400, "invalid_json"),
        (
            c.get(format!("{api}/auth/dpop"))
                .header("Authorization", format!("DPoP {}", t.token))
                .header("DPoP", "x.y.z"),
            401,
            "invalid_dpop_proof",
        ),
        (
            c.post(format!("{}/admin/index/switch", edge.engine())).body(r#"{"release":"../etc"}"#),
            404,
            "unknown_release",
        ),
        (c.post(format!("{}/admin/tls/renew", edge.engine())).body(r#"{"lifetime":"-5d"}"#), 400, "invalid_json"),
    ];
    for (req, status, code) in cases {
        let r = req.send().await.unwrap();
        let got = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!((got, body["error"].as_str()), (status, Some(code)), "{body}");
        let (health, _) = get_json(&c, &format!("{api}/api/health")).await;
        assert_eq!(health, 200);
    }
}

#[tokio::test]
async fn metrics_are_valid_prometheus_text_with_the_grahmos_series() {
    let edge = Edge::start(json!({}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let t = token(&c, &api, &["tenant-a"], "public").await;
    search(&c, &api, &t, "canary").await;
    search(&c, &api, &t, "canary").await;
    let m = metrics(&c, &api).await;
    assert_eq!(m["grahmos_search_requests_total{result=\"ok\"}"], 2.0);
    assert_eq!(m["grahmos_cache_requests_total{result=\"miss\"}"], 1.0);
    assert_eq!(m["grahmos_cache_requests_total{result=\"hit\"}"], 1.0);
    assert_eq!(m["grahmos_index_release_info{release=\"v2\"}"], 1.0);
    assert_eq!(m["grahmos_index_healthy"], 1.0);
    assert_eq!(m["grahmos_upstream_up"], 1.0);
    // One for the token, one per search's proof.
    assert_eq!(m["grahmos_dpop_nonces_issued_total"], 3.0);
    assert!(m["grahmos_cert_expiry_days"] > 89.0);
    assert_eq!(m["grahmos_search_duration_seconds_count"], 2.0);
    assert!(m.keys().any(|k| k.starts_with("gameday_http_requests_total{")));
    let search_200 = "route=\"/search\",status=\"200\"";
    assert_eq!(m[&format!("grahmos_requests_total{{method=\"GET\",{search_200}}}")], 2.0);
    assert_eq!(m[&format!("http_request_duration_seconds_count{{{search_200}}}")], 2.0);
    assert!(m.contains_key("gameday_queue_depth{pool=\"search\"}"));
}

/// Issue 23 item 5: `/search` took a DPoP-bound token as a plain Bearer, no proof, no
/// nonce. Runbook 002: requests without a valid nonce are 401; a DPoP-bound token is
/// good only with a proof of its key (RFC 9449), and a nonce problem offers a new nonce.
#[tokio::test]
async fn a_dpop_bound_token_without_its_proof_and_nonce_is_401() {
    let edge = Edge::start(json!({"upstream": false}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let t = token(&c, &api, &["tenant-a"], "secret").await;
    let get = format!("{api}/search");
    let search_url = format!("{get}?q=canary");

    // Plain Bearer, on both search routes: 401 invalid_token, WWW-Authenticate names DPoP.
    let r = c.get(&search_url).bearer_auth(&*t).send().await.unwrap();
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("DPoP error=\"invalid_token\""), "{challenge}");
    assert_eq!(status_error(r).await, (401, "invalid_token".to_owned()));
    let r = c.post(format!("{api}/api/search")).bearer_auth(&*t).body(r#"{"q":"canary"}"#).send().await.unwrap();
    assert_eq!(status_error(r).await, (401, "invalid_token".to_owned()));

    // DPoP scheme: no proof; a proof without a nonce (401 with a DPoP-Nonce offered).
    let scheme = format!("DPoP {}", t.token);
    let r = c.get(&search_url).header("Authorization", &scheme).send().await.unwrap();
    assert_eq!(status_error(r).await, (401, "invalid_dpop_proof".to_owned()));
    let r = c.get(&search_url).header("Authorization", &scheme).header("DPoP", t.key.proof("GET", &get, None));
    let r = r.send().await.unwrap();
    let offered = r.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_eq!(status_error(r).await, (401, "nonce_required".to_owned()));
    // The offered nonce works once; used again it is nonce_expired.
    let with =
        |n: &str| c.get(&search_url).header("Authorization", &scheme).header("DPoP", t.key.proof("GET", &get, Some(n)));
    assert_eq!(with(&offered).send().await.unwrap().status(), 200);
    let r = with(&offered).send().await.unwrap();
    assert!(r.headers().contains_key("dpop-nonce"));
    assert_eq!(status_error(r).await, (401, "nonce_expired".to_owned()));
    // A proof for another route, or by another key (a stolen token): 401.
    let n = fresh_nonce(&c, &api).await;
    let r = c
        .get(&search_url)
        .header("Authorization", &scheme)
        .header("DPoP", t.key.proof("GET", &format!("{api}/auth/dpop"), Some(&n)));
    assert_eq!(status_error(r.send().await.unwrap()).await, (401, "invalid_dpop_proof".to_owned()));
    let thief = DpopKey::generate().unwrap();
    let n = fresh_nonce(&c, &api).await;
    let r = c.get(&search_url).header("Authorization", &scheme).header("DPoP", thief.proof("GET", &get, Some(&n)));
    assert_eq!(status_error(r.send().await.unwrap()).await, (401, "dpop_key_mismatch".to_owned()));
    // An unbound token (the drills' in-process one) is a Bearer token, not a DPoP one.
    let unbound = edge.handle.issue_token("drill", &["tenant-a"], grahmos::corpus::Label::Public).unwrap();
    assert_eq!(c.get(&search_url).bearer_auth(&unbound).send().await.unwrap().status(), 200);
    let r = c.get(&search_url).header("Authorization", format!("DPoP {unbound}")).send().await.unwrap();
    assert_eq!(status_error(r).await, (401, "invalid_token".to_owned()));
}

/// Issue 23 item 5: `POST /auth/dpop` minted a token for any tenant and tier the caller
/// named, with no credential. Now it takes an issuer client's credential and mints only
/// for that client's tenants, up to its tier.
#[tokio::test]
async fn minting_for_another_tenant_without_its_credential_is_refused() {
    let clients = json!([
        {"id": "tenant-a", "secret": "a-7c1e", "tenant_ids": ["tenant-a"], "max_tier": "restricted"},
        {"id": "tenant-b", "secret": "b-92fd", "tenant_ids": ["tenant-b"], "max_tier": "secret"},
    ]);
    let edge = Edge::start(json!({"upstream": false, "clients": clients}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let url = format!("{api}/auth/dpop");
    let key = DpopKey::generate().unwrap();
    let mint = |body: Value| {
        let (c, api, url, key) = (&c, &api, &url, &key);
        async move {
            let proof = key.proof("POST", url, Some(&fresh_nonce(c, api).await));
            let r = c.post(url).header("DPoP", proof).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body["error"].as_str().unwrap_or_default().to_owned(), body)
        }
    };
    let a = |extra: Value| {
        let mut b = json!({"client_id": "tenant-a", "client_secret": "a-7c1e"});
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };
    // No credential, a wrong secret, tenant-b's id with tenant-a's secret: 401.
    let (s, e, _) = mint(json!({"sub": "x", "tenant_ids": ["tenant-b"], "tier": "public"})).await;
    assert_eq!((s, e.as_str()), (401, "invalid_client"));
    let (s, e, _) = mint(json!({"client_id": "tenant-a", "client_secret": "guess", "tenant_ids": ["tenant-a"]})).await;
    assert_eq!((s, e.as_str()), (401, "invalid_client"));
    let (s, e, _) = mint(json!({"client_id": "tenant-b", "client_secret": "a-7c1e", "tenant_ids": ["tenant-b"]})).await;
    assert_eq!((s, e.as_str()), (401, "invalid_client"));
    // tenant-a's credential for tenant-b, for both, or above its tier: 403.
    let (s, e, _) = mint(a(json!({"tenant_ids": ["tenant-b"], "tier": "public"}))).await;
    assert_eq!((s, e.as_str()), (403, "tenant_not_allowed"));
    let (s, e, _) = mint(a(json!({"tenant_ids": ["tenant-a", "tenant-b"], "tier": "public"}))).await;
    assert_eq!((s, e.as_str()), (403, "tenant_not_allowed"));
    let (s, e, _) = mint(a(json!({"tenant_ids": ["tenant-a"], "tier": "secret"}))).await;
    assert_eq!((s, e.as_str()), (403, "tier_not_allowed"));
    // Its own tenant: 200; claims default to the client's tenants and highest tier.
    let (s, _, body) = mint(a(json!({}))).await;
    assert_eq!((s, body["tenant_ids"].clone(), body["tier"].as_str()), (200, json!(["tenant-a"]), Some("restricted")));
    let m = metrics(&c, &api).await;
    assert_eq!(m["grahmos_auth_requests_total{endpoint=\"dpop\",result=\"tenant_not_allowed\"}"], 2.0);
}
