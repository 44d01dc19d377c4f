//! Self-reported health against the endpoints it claims to mirror: the gauges
//! `midnight_health_check_success` and `midnight_ready` read as `/health` and `/ready`
//! answer, with the queue idle and full; and a stopped server exports nothing (so only
//! `up` or a probe can see it die).

use super::*;

/// One scrape's health gauges: (`midnight_health_check_success`, `midnight_ready`).
async fn gauges(client: &Client, url: &str) -> (Option<f64>, Option<f64>) {
    let m = super::metrics::scrape(client, url).await;
    (m.one("midnight_health_check_success", &[]), m.one("midnight_ready", &[]))
}

/// `/health` and `/ready` as 1/0: 200 with `ok` is 1.
async fn endpoints(client: &Client, url: &str) -> (f64, f64) {
    let (hs, hb) = json_of(get(client, format!("{url}/health")).await).await;
    let (rs, _) = ready(client, url).await;
    let health = f64::from(u8::from(hs == StatusCode::OK && hb["status"] == "ok"));
    (health, f64::from(u8::from(rs == StatusCode::OK)))
}

#[tokio::test]
async fn health_gauges_agree_with_health_and_ready_idle_full_and_drained() {
    // One worker, one queue slot, 60 s proofs at scale 100 (600 ms real).
    let profile = Profile { workers: 1, job_capacity: 1, ..fixed_profile(Duration::from_secs(60)) };
    let (mock, client) = start(profile, 100.0).await;
    let url = mock.url();
    assert_eq!(endpoints(&client, &url).await, (1.0, 1.0), "idle");
    assert_eq!(gauges(&client, &url).await, (Some(1.0), Some(1.0)), "idle");

    // The fault: the queue filled (one job running, one waiting), /ready answers 503.
    let spawn_prove = |path: &str| {
        let (client, url) = (client.clone(), format!("{url}{path}"));
        tokio::spawn(async move { client.post(url).body("{}").send().await.map(|r| r.status()) })
    };
    let running = spawn_prove("/prove");
    ready_until(&client, &url, |b| b["jobsProcessing"] == 1).await;
    let queued = spawn_prove("/prove");
    ready_until(&client, &url, |b| b["jobsPending"] == 1).await;
    assert_eq!(endpoints(&client, &url).await, (1.0, 0.0), "full: /health is liveness, /ready says busy");
    assert_eq!(gauges(&client, &url).await, (Some(1.0), Some(0.0)), "full");

    for job in [running, queued] {
        assert_eq!(job.await.unwrap().unwrap(), StatusCode::OK);
    }
    assert_eq!(endpoints(&client, &url).await, (1.0, 1.0), "drained");
    assert_eq!(gauges(&client, &url).await, (Some(1.0), Some(1.0)), "drained");
}

#[tokio::test]
async fn a_stopped_server_exports_no_health_gauge_at_all() {
    let (mock, client) = start(Profile::default(), 1.0).await;
    let url = mock.url();
    assert_eq!(gauges(&client, &url).await.0, Some(1.0));
    mock.ctx.shutdown.cancel();
    // Bounded: the listener closes within 5 s of the shutdown.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let fresh = Client::builder().no_proxy().timeout(Duration::from_secs(2)).build().unwrap();
        match fresh.get(format!("{url}/metrics")).send().await {
            Err(e) => {
                assert!(e.is_connect() || e.is_request(), "scrape fails, no 0 is exported: {e}");
                break;
            }
            Ok(_) => assert!(Instant::now() < deadline, "still answering 5 s after shutdown"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
