//! The runbook's incidents through the fault hooks: RPC failure with failover to the
//! backup, database pool exhaustion, Redis down.

use std::sync::Arc;

use super::*;
use tokio::time::Instant;

#[tokio::test]
async fn the_app_fails_over_to_the_backup_rpc_when_the_primary_is_down() {
    let profile = Profile { rpc_failover_cooldown: millis(1000), ..Profile::default() };
    let m = Morph::start(profile).await;
    m.control.take_down(Listener::RpcPrimary).await.unwrap();
    let refused = m.client.post(m.url(Listener::RpcPrimary)).body("{}").send().await;
    assert!(refused.is_err_and(|e| e.is_connect()), "the primary really refuses connections");

    let (status, v) = json(m.get("/api/blockchain/status").await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["rpc"], "backup");
    assert!(v["block_number"].as_u64().unwrap() >= GENESIS);
    let (status, d) = json(m.deposit(json!({"account_id": "acct-0002", "amount": 3})).await).await;
    assert_eq!((status, d["rpc"].as_str()), (StatusCode::CREATED, Some("backup")));

    let (status, h) = json(m.get("/api/health").await).await;
    assert_eq!((status, h["status"].as_str()), (StatusCode::OK, Some("degraded")));
    let rpc = &h["services"]["rpc"];
    assert_eq!((rpc["status"].as_str(), rpc["active"].as_str()), (Some("degraded"), Some("backup")));
    assert_eq!(rpc["primary"]["status"], "down");
    assert_eq!(rpc["backup"]["status"], "up");

    // By hand: the first call found the primary refusing and failed over; the second went
    // to the backup first (within the cooldown). So one primary error, one failover.
    let exp = m.metrics().await;
    assert_eq!(exp.sum("morphsave_rpc_errors_total", &[("endpoint", "primary"), ("reason", "connect")]), 1.0);
    assert_eq!(exp.sum("morphsave_rpc_failovers_total", &[]), 1.0);
    assert_eq!(exp.sum("morphsave_rpc_up", &[("endpoint", "primary")]), 0.0);
}

#[tokio::test]
async fn the_app_goes_back_to_the_primary_rpc_after_the_failover_cooldown() {
    let profile = Profile { rpc_failover_cooldown: millis(1000), ..Profile::default() };
    let m = Morph::start(profile).await;
    m.control.take_down(Listener::RpcPrimary).await.unwrap();
    let (_, v) = json(m.get("/api/blockchain/status").await).await;
    assert_eq!(v["rpc"], "backup");
    m.control.bring_up(Listener::RpcPrimary).await.unwrap();
    let (_, h) = json(m.get("/api/health").await).await;
    assert_eq!(h["services"]["rpc"]["primary"]["status"], "up", "health probes both nodes");
    assert_eq!(h["services"]["rpc"]["active"], "backup", "still within the cooldown");
    // Deliberate: the cooldown elapsing is what is under test; a poll would accept a switch
    // back before the cooldown ended.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, v) = json(m.get("/api/blockchain/status").await).await;
    assert_eq!(v["rpc"], "primary", "after the cooldown the primary is tried first again");
    let (_, h) = json(m.get("/api/health").await).await;
    assert_eq!(h["status"], "healthy");
}

#[tokio::test]
async fn with_both_rpc_nodes_down_chain_calls_fail_with_502_and_health_is_unhealthy() {
    let m = Morph::start(Profile::default()).await;
    m.control.take_down(Listener::RpcPrimary).await.unwrap();
    m.control.take_down(Listener::RpcBackup).await.unwrap();
    let (status, v) = json(m.get("/api/blockchain/status").await).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::BAD_GATEWAY, Some("rpc_unavailable")));
    assert_eq!(v["errors"], json!({"primary": "connect", "backup": "connect"}));
    let (status, h) = json(m.get("/api/health").await).await;
    assert_eq!((status, h["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unhealthy")));
    assert_eq!(h["services"]["rpc"]["status"], "down");
    // Reads do not need the chain.
    assert_eq!(m.get("/api/savings/acct-0001").await.status(), StatusCode::OK);

    m.control.bring_up(Listener::RpcBackup).await.unwrap();
    let (status, v) = json(m.get("/api/blockchain/status").await).await;
    assert_eq!((status, v["rpc"].as_str()), (StatusCode::OK, Some("backup")));
}

#[tokio::test]
async fn pool_exhaustion_fails_the_requests_that_wait_past_the_pool_timeout() {
    // Pool of 2, reads of 400 ms, pool timeout 600 ms, every read a cache miss; 6 reads
    // at once. By hand: reads 1-2 get a connection at once, 3-4 when those finish at
    // 400 ms (< 600 ms), 5-6 could get one only at 800 ms (> 600 ms): 4 succeed, 2 fail.
    let profile = Profile {
        db_pool_size: 2,
        db_read_time: fixed(400),
        db_pool_timeout: millis(600),
        cache_hit_ratio: 0.0,
        cache_time: fixed(1),
        ..Profile::default()
    };
    let m = Arc::new(Morph::start(profile).await);
    let tasks: Vec<_> = (1..=6)
        .map(|i| {
            let m = Arc::clone(&m);
            tokio::spawn(async move { json(m.get(&format!("/api/savings/acct-000{i}")).await).await })
        })
        .collect();
    let mut ok = 0;
    let mut timeouts = 0;
    for t in tasks {
        match t.await.unwrap() {
            (StatusCode::OK, _) => ok += 1,
            (StatusCode::SERVICE_UNAVAILABLE, v) if v["error"] == "db_pool_timeout" => timeouts += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, timeouts), (4, 2));
    let exp = m.metrics().await;
    assert_eq!(exp.sum("morphsave_db_pool_timeouts_total", &[]), 2.0);
    assert_eq!(exp.sum("http_requests_total", &[("status", "503")]), 2.0);
}

#[tokio::test]
async fn held_connections_exhaust_the_pool_until_released() {
    let profile = Profile {
        db_pool_size: 3,
        db_pool_timeout: millis(300),
        health_probe_timeout: millis(300),
        cache_hit_ratio: 0.0,
        ..Profile::default()
    };
    let m = Morph::start(profile).await;
    assert_eq!(m.control.hold_db_connections(3).await, 3);
    let (status, v) = json(m.get("/api/savings/acct-0001").await).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("db_pool_timeout")));
    let (status, h) = json(m.get("/api/health").await).await;
    assert_eq!((status, h["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unhealthy")));
    assert_eq!(h["services"]["database"]["status"], "down");
    assert_eq!(h["services"]["database"]["pool"]["in_use"], 3);
    let exp = m.metrics().await;
    assert_eq!(exp.sum("morphsave_db_pool_usage_ratio", &[]), 1.0);

    assert_eq!(m.control.release_db_connections(), 3);
    assert_eq!(m.get("/api/savings/acct-0001").await.status(), StatusCode::OK);
    let (status, h) = json(m.get("/api/health").await).await;
    assert_eq!((status, h["status"].as_str()), (StatusCode::OK, Some("healthy")));
}

async fn timed_read(m: &Morph) -> (Duration, Value) {
    let started = Instant::now();
    let (status, v) = json(m.get("/api/savings/acct-0003").await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    (started.elapsed(), v)
}

#[tokio::test]
async fn reads_slow_down_while_the_cache_is_down() {
    // Every lookup hits while the cache is up (2 ms). Down, a read pays the 50 ms penalty
    // and a 100 ms database read: at least 150 ms by hand.
    let profile = Profile {
        cache_hit_ratio: 1.0,
        cache_time: fixed(2),
        cache_down_penalty: HumanDuration(Duration::from_millis(50)),
        db_read_time: fixed(100),
        ..Profile::default()
    };
    let m = Morph::start(profile).await;
    for _ in 0..5 {
        let (took, v) = timed_read(&m).await;
        assert_eq!(v["source"], "cache");
        assert!(took < Duration::from_millis(50), "a cache hit took {took:?}");
    }
    m.control.set_cache_up(false);
    for _ in 0..5 {
        let (took, v) = timed_read(&m).await;
        assert_eq!((v["source"].as_str(), v["cache"].as_str()), (Some("database"), Some("down")));
        assert!(took >= Duration::from_millis(150), "a read with the cache down took {took:?}");
    }
    let (status, h) = json(m.get("/api/health").await).await;
    assert_eq!((status, h["status"].as_str()), (StatusCode::OK, Some("degraded")));
    assert_eq!(h["services"]["cache"]["status"], "down");
    let exp = m.metrics().await;
    assert_eq!(exp.sum("morphsave_cache_hits_total", &[]), 5.0);
    assert_eq!(exp.sum("morphsave_cache_misses_total", &[]), 5.0);
    // Five reads, the health check's PING and the scrape's own run of that check found it down.
    assert_eq!(exp.sum("morphsave_cache_errors_total", &[]), 7.0);
    assert_eq!(exp.sum("morphsave_cache_hit_ratio", &[]), 0.5);
    assert_eq!(exp.sum("morphsave_cache_up", &[]), 0.0);

    m.control.set_cache_up(true);
    let (_, v) = timed_read(&m).await;
    assert_eq!(v["source"], "cache");
    let (_, h) = json(m.get("/api/health").await).await;
    assert_eq!(h["status"], "healthy");
}
