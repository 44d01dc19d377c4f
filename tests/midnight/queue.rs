//! The worker pool as clients see it: time scale, a full queue (503 + `Retry-After`, and
//! `/ready`), admission under a burst, and the job timeout (504).

use super::*;

#[tokio::test]
async fn time_scale_divides_the_service_time() {
    // 2 s simulated at 100 simulated seconds per real second is 20 ms of real time.
    let (mock, client) = start(fixed_profile(Duration::from_secs(2)), 100.0).await;
    let started = Instant::now();
    let (status, body) = json_of(post(&client, format!("{}/prove", mock.url()), "{}").await).await;
    let real = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(real >= Duration::from_millis(20) && real < Duration::from_millis(500), "real {real:?}");
    // Reported in simulated time: real time times 100.
    let sim_ms = body["proof_duration_ms"].as_u64().unwrap();
    assert!((2000..50_000).contains(&sim_ms), "proof_duration_ms {sim_ms}");
}

/// Checks a 503 `queue_full` answer: `Retry-After` whole seconds >= 1, matching the body.
async fn assert_queue_full(resp: Response) {
    let retry_after = resp.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "queue_full");
    let secs: u64 = retry_after.expect("Retry-After header").parse().expect("Retry-After in whole seconds");
    assert!(secs >= 1);
    assert_eq!(body["retry_after_s"].as_u64(), Some(secs));
}

/// One worker and one queue slot; proofs take 600 ms of real time.
fn one_worker_one_slot() -> Profile {
    Profile { workers: 1, job_capacity: 1, ..fixed_profile(Duration::from_secs(60)) }
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_and_ready_reports_it() {
    let (mock, client) = start(one_worker_one_slot(), 100.0).await;
    let url = mock.url();
    let spawn_prove = |path: &str| {
        let (client, url) = (client.clone(), format!("{url}{path}"));
        tokio::spawn(async move { json_of(client.post(url).body("{}").send().await.unwrap()).await })
    };
    let running = spawn_prove("/prove");
    let (status, body) = ready_until(&client, &url, |b| b["jobsProcessing"] == 1).await;
    assert_eq!((status, body["jobsPending"].as_u64()), (StatusCode::OK, Some(0)), "{body}");
    let queued = spawn_prove("/prove-tx");
    let (status, body) = ready_until(&client, &url, |b| b["jobsPending"] == 1).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "/ready while the queue is full: {body}");
    assert_eq!(body["jobsProcessing"], 1);

    let refused: Vec<_> = ["/check", "/prove", "/prove-tx"]
        .into_iter()
        .map(|p| {
            let (client, url) = (client.clone(), format!("{url}{p}"));
            tokio::spawn(async move { client.post(url).body("{}").send().await.unwrap() })
        })
        .collect();
    for r in refused {
        assert_queue_full(r.await.unwrap()).await;
    }
    let (s1, b1) = running.await.unwrap();
    let (s2, b2) = queued.await.unwrap();
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{b1} {b2}");
    // The queued job waited for most of the running one (60 s simulated).
    assert!(b2["queue_time_ms"].as_u64().unwrap() >= 30_000, "{b2}");
    let (status, body) = ready(&client, &url).await;
    assert_eq!(
        (status, body["jobsPending"].as_u64(), body["jobsProcessing"].as_u64()),
        (StatusCode::OK, Some(0), Some(0))
    );
    // The three refusals, counted by the pool, per proof kind and per route.
    let metrics = super::metrics::scrape(&client, &url).await;
    let refused = [("reason", "queue_full")];
    assert_eq!(metrics.one("gameday_jobs_rejected_total", &refused), Some(3.0));
    for kind in ["check", "prove", "prove-tx"] {
        let labels = [("proof_type", kind), ("result", "queue_full")];
        assert_eq!(metrics.one("midnight_proofs_total", &labels), Some(1.0), "{kind}");
        let route = format!("/{kind}");
        let labels = [("route", route.as_str()), ("status", "503")];
        assert_eq!(metrics.sum("gameday_http_requests_total", &labels), 1.0, "{kind}");
    }
}

/// Fires 6 proofs at once at an idle mock with 1 worker and 1 queue slot.
async fn burst_on_one_worker_one_slot() {
    // Oracle: 1 runs, 1 waits, 4 are refused, whatever order the requests arrive in.
    let (mock, client) = start(one_worker_one_slot(), 100.0).await;
    let url = mock.url();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(6));
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (client, url, barrier) = (client.clone(), format!("{url}/prove"), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                client.post(url).body("{}").send().await.unwrap()
            })
        })
        .collect();
    let mut statuses = BTreeMap::new();
    for t in tasks {
        let resp = t.await.unwrap();
        let status = resp.status();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_queue_full(resp).await;
        }
        *statuses.entry(status.as_u16()).or_insert(0) += 1;
    }
    assert_eq!(statuses, BTreeMap::from([(200, 2), (503, 4)]));
}

/// Regression: a proof that found the worker free used to hold the queue slot until its
/// task first ran, so on one thread a burst got 1 success and 5 refusals.
#[tokio::test]
async fn a_burst_admits_exactly_workers_plus_capacity() {
    burst_on_one_worker_one_slot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_admits_exactly_workers_plus_capacity_on_several_threads() {
    burst_on_one_worker_one_slot().await;
}

#[tokio::test]
async fn a_job_longer_than_job_timeout_fails_with_504_and_frees_its_worker() {
    // prove takes 60 s, check 1 s, the timeout is 5 s (simulated); at scale 100 the timeout
    // is 50 ms real and the full prove would be 600 ms.
    let service_time =
        ServiceTimes { check: ServiceTime::fixed(Duration::from_secs(1)), ..fixed_times(Duration::from_secs(60)) };
    let profile = Profile { workers: 1, job_timeout: secs(5), service_time, ..Profile::default() };
    let (mock, client) = start(profile, 100.0).await;
    let url = mock.url();
    let started = Instant::now();
    let (status, body) = json_of(post(&client, format!("{url}/prove"), "{}").await).await;
    let real = started.elapsed();
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_error(&body, "job_timeout");
    assert!(real >= Duration::from_millis(50) && real < Duration::from_millis(550), "answered after {real:?}");

    let (_, body) = ready(&client, &url).await;
    assert_eq!((body["jobsProcessing"].as_u64(), body["jobsPending"].as_u64()), (Some(0), Some(0)), "{body}");
    let (status, body) = json_of(post(&client, format!("{url}/check"), "{}").await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Had the timed-out job kept the worker, this one would wait ~55 s simulated.
    assert!(body["queue_time_ms"].as_u64().unwrap() < 5_000, "{body}");
    let metrics = super::metrics::scrape(&client, &url).await;
    assert_eq!(metrics.one("midnight_proofs_total", &[("proof_type", "prove"), ("result", "timeout")]), Some(1.0));
    assert_eq!(metrics.one("gameday_jobs_rejected_total", &[("reason", "timeout")]), Some(1.0));
}
