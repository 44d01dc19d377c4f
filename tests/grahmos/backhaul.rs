//! The backhaul: upstream answers filtered, cached, served stale while the upstream is down.

use super::*;
use crate::common::poll_async;

#[tokio::test]
async fn upstream_answers_are_filtered_for_the_caller() {
    let edge = Edge::start(json!({}), 1.0).await;
    let (c, api) = (client(), edge.api());
    let t = token(&c, &api, &["tenant-c"], "secret").await;
    let (status, h, body) = search(&c, &api, &t, "archive").await;
    assert_eq!((status, h["x-cache"].as_str(), body["upstream"].as_str()), (StatusCode::OK, "MISS", Some("fresh")));
    let hits = body["hits"].as_array().unwrap();
    assert!(hits.iter().any(|h| h["source"] == "upstream"));
    for hit in hits {
        assert!(hit["tenants"].as_array().unwrap().iter().any(|t| t == "tenant-c" || t == "*"), "leaked {hit}");
    }
}

#[tokio::test]
async fn serves_stale_cache_while_upstream_is_down_and_fresh_after() {
    let edge = Edge::start(
        json!({"cache_ttl": "300ms", "upstream_timeout": "500ms", "breaker_failures": 2, "breaker_cooldown": "200ms"}),
        1.0,
    )
    .await;
    let (c, api) = (client(), edge.api());
    let t = token(&c, &api, &["tenant-a"], "restricted").await;
    let (_, h, first) = search(&c, &api, &t, "archive report").await;
    assert_eq!(
        (h["x-cache"].as_str(), first["upstream"].as_str(), first["stale"].as_bool()),
        ("MISS", Some("fresh"), Some(false))
    );
    let (_, h, cached) = search(&c, &api, &t, "archive report").await;
    assert_eq!((h["x-cache"].as_str(), cached["upstream"].as_str()), ("HIT", Some("cached")));

    let upstream = edge.handle.upstream().unwrap();
    upstream.stop().await;
    // Cache hits until the cached answer expires (300 ms); then served stale.
    let (status, h, stale) =
        poll_async("the cached answer to expire and be served stale", Duration::from_secs(5), || async {
            let (status, h, body) = search(&c, &api, &t, "archive report").await;
            (h["x-cache"] != "HIT").then_some((status, h, body))
        })
        .await;
    assert_eq!(status, 200);
    assert_eq!((h["x-grahmos-stale"].as_str(), h["x-cache"].as_str()), ("true", "STALE"));
    assert_eq!((stale["stale"].as_bool(), stale["upstream"].as_str()), (Some(true), Some("stale")));
    assert_eq!(hit_ids(&stale), hit_ids(&first), "the cached answer is served");
    assert!(stale["upstream_age_s"].as_f64().unwrap() >= 0.3);
    // Never cached: local hits only, still 200; the canary keeps answering.
    let (status, _, partial) = search(&c, &api, &t, "archive bulletin").await;
    assert_eq!(
        (status, partial["upstream"].as_str(), partial["partial"].as_bool()),
        (StatusCode::OK, Some("unavailable"), Some(true))
    );
    let (status, _, canary) = search(&c, &api, &t, "canary").await;
    assert_eq!((status, canary["hits"][0]["id"].as_str()), (StatusCode::OK, Some("canary")));
    let (_, v2) = get_json(&c, &format!("{api}/api/v2/status")).await;
    assert_eq!(v2["upstream"]["state"], "down");
    let m = metrics(&c, &api).await;
    assert!(m["grahmos_stale_responses_total"] >= 1.0);
    assert_eq!(m["grahmos_upstream_up"], 0.0);
    assert!(m["grahmos_upstream_errors_total"] >= 2.0);

    upstream.restart().await.unwrap();
    // Stale answers until the breaker's cooldown (200 ms) lets a request through.
    let (_, h, back) = poll_async("a fresh upstream answer after the restart", Duration::from_secs(5), || async {
        let (status, h, body) = search(&c, &api, &t, "archive report").await;
        (body["stale"] != true).then_some((status, h, body))
    })
    .await;
    assert_eq!((h["x-grahmos-stale"].as_str(), back["upstream"].as_str()), ("false", Some("fresh")));
    let (_, v2) = get_json(&c, &format!("{api}/api/v2/status")).await;
    assert_eq!(v2["upstream"]["state"], "up");
}

#[tokio::test]
async fn uses_the_configured_upstream_url() {
    // A port with nothing listening: every fetch fails, the edge still answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let edge = Edge::start(json!({"upstream_url": format!("http://{closed}")}), 1.0).await;
    assert!(edge.handle.upstream().is_none());
    assert_eq!(edge.running.endpoints.len(), 2);
    let (c, api) = (client(), edge.api());
    let t = token(&c, &api, &["tenant-a"], "public").await;
    let (status, _, body) = search(&c, &api, &t, "canary").await;
    assert_eq!((status, body["upstream"].as_str()), (StatusCode::OK, Some("unavailable")));
    let (_, v2) = get_json(&c, &format!("{api}/api/v2/status")).await;
    assert_eq!(v2["upstream"]["url"], format!("http://{closed}"));
    assert!(v2["upstream"]["last_error"].as_str().unwrap().contains(&closed.to_string()));
}
