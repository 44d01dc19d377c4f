//! Self-reported health against `/api/health`: after every fault the runbook names (RPC
//! primary down, both RPC nodes down, pool exhausted, cache down) and after each undo,
//! one scrape's `morphsave_db_up`, `morphsave_cache_up`, `morphsave_rpc_up{endpoint}` and
//! `morphsave_health_check_success` read as `/api/health` answers. No traffic runs, so the
//! gauges cannot come from some earlier request's outcome.

use super::*;

/// (database, cache, rpc primary, rpc backup, answers 200), each 1 or 0.
type Verdicts = [f64; 5];

async fn from_metrics(m: &Morph) -> Verdicts {
    let e = m.metrics().await;
    let one = |name: &str, labels: &[(&str, &str)]| e.one(name, labels).unwrap_or_else(|| panic!("no {name}"));
    [
        one("morphsave_db_up", &[]),
        one("morphsave_cache_up", &[]),
        one("morphsave_rpc_up", &[("endpoint", "primary")]),
        one("morphsave_rpc_up", &[("endpoint", "backup")]),
        one("morphsave_health_check_success", &[]),
    ]
}

async fn from_health(m: &Morph) -> Verdicts {
    let (status, h) = json(m.get("/api/health").await).await;
    let up = |v: &Value| f64::from(u8::from(v["status"] == "up"));
    let s = &h["services"];
    [
        up(&s["database"]),
        up(&s["cache"]),
        up(&s["rpc"]["primary"]),
        up(&s["rpc"]["backup"]),
        f64::from(u8::from(status == StatusCode::OK)),
    ]
}

/// Asserts the scrape and `/api/health` agree, and both equal `want`.
async fn assert_agree(m: &Morph, want: Verdicts, when: &str) {
    let (gauges, health) = (from_metrics(m).await, from_health(m).await);
    assert_eq!(gauges, health, "{when}: gauges vs /api/health");
    assert_eq!(gauges, want, "{when}");
}

#[tokio::test]
async fn health_gauges_agree_with_api_health_through_each_dependency_fault() {
    let profile = Profile {
        db_pool_size: 3,
        db_pool_timeout: millis(300),
        health_probe_timeout: millis(300),
        ..Profile::default()
    };
    let m = Morph::start(profile).await;
    assert_agree(&m, [1.0; 5], "all up").await;

    m.control.take_down(Listener::RpcPrimary).await.unwrap();
    assert_agree(&m, [1.0, 1.0, 0.0, 1.0, 1.0], "rpc primary down (degraded)").await;
    m.control.take_down(Listener::RpcBackup).await.unwrap();
    assert_agree(&m, [1.0, 1.0, 0.0, 0.0, 0.0], "both rpc nodes down (unhealthy)").await;
    m.control.bring_up(Listener::RpcPrimary).await.unwrap();
    m.control.bring_up(Listener::RpcBackup).await.unwrap();
    assert_agree(&m, [1.0; 5], "rpc back").await;

    assert_eq!(m.control.hold_db_connections(3).await, 3);
    assert_agree(&m, [0.0, 1.0, 1.0, 1.0, 0.0], "pool exhausted (unhealthy)").await;
    assert_eq!(m.control.release_db_connections(), 3);
    assert_agree(&m, [1.0; 5], "pool released").await;

    m.control.set_cache_up(false);
    assert_agree(&m, [1.0, 0.0, 1.0, 1.0, 1.0], "cache down (degraded)").await;
    m.control.set_cache_up(true);
    assert_agree(&m, [1.0; 5], "cache back").await;
}
