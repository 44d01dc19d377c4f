//! Prometheus text rendering of a mock's metrics: what one scrape of `/metrics` costs
//! the mock. The Midnight mock's state is populated first by real requests through its
//! router (every route, good and bad, so the request counters and latency histograms
//! hold the label sets a run produces), then:
//!
//! - `metrics/kit_render`: `KitMetrics::render` of a kit populated the same way through
//!   twelve routes with the `track` middleware (the kit's own metrics only);
//! - `metrics/midnight_scrape`: `GET /metrics` through Midnight's router (pool snapshot,
//!   own gauges, render, response), no socket.
//!
//! Throughput is in bytes of rendered text. Target: far below a scrape interval (a
//! scrape every 1 s real time must not load the mock): under 1 ms per render (reported).

#![allow(missing_docs)] // the group macros generate undocumented public functions

use std::hint::black_box;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::routing::get;
use axum::{middleware, Router};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gameday_mocks::kit::metrics::{self, KitMetrics};
use gameday_mocks::kit::{MockContext, TimeScale};
use gameday_mocks::services::midnight::{self, Profile, State};
use tower::ServiceExt;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("tokio: {e}"))
}

async fn send(router: &Router, method: Method, path: &str, body: &str) -> (StatusCode, usize) {
    let req = Request::builder().method(method).uri(path).body(Body::from(body.to_owned()));
    let req = req.unwrap_or_else(|e| panic!("{e}"));
    let resp = router.clone().oneshot(req).await.unwrap_or_else(|e| match e {});
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.map_or(0, |b| b.len());
    (status, bytes)
}

/// A kit with requests recorded on twelve routes, three statuses each.
async fn populated_kit() -> Arc<KitMetrics> {
    let kit = KitMetrics::new(TimeScale::REAL_TIME).unwrap_or_else(|e| panic!("{e}"));
    let mut router = Router::new();
    let routes: Vec<String> = (0..12).map(|i| format!("/r{i}/{{code}}")).collect();
    for r in &routes {
        router = router.route(
            r,
            get(|axum::extract::Path(code): axum::extract::Path<u16>| async move {
                StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
            }),
        );
    }
    let router = router.layer(middleware::from_fn_with_state(Arc::clone(&kit), metrics::track));
    for i in 0..12 {
        for code in [200, 404, 503] {
            for _ in 0..10 {
                send(&router, Method::GET, &format!("/r{i}/{code}"), "").await;
            }
        }
    }
    kit
}

/// Midnight's router after a few requests on every route.
async fn populated_midnight() -> Router {
    let state = State::new(Profile::default(), &MockContext::default()).unwrap_or_else(|e| panic!("{e}"));
    let router = midnight::router(state);
    let calls = [
        (Method::GET, "/health", ""),
        (Method::GET, "/version", ""),
        (Method::GET, "/ready", ""),
        (Method::GET, "/pcr-values.json", ""),
        (Method::GET, "/releases/download/v6.2.0/pcr-values.json", ""),
        (Method::POST, "/attestation", "not json"),
        (Method::POST, "/attestation", r#"{"nonce":"00112233445566778899aabbccddeeff"}"#),
        (Method::GET, "/nowhere", ""),
        (Method::DELETE, "/health", ""),
        (Method::GET, "/metrics", ""),
    ];
    for (method, path, body) in calls {
        for _ in 0..5 {
            send(&router, method.clone(), path, body).await;
        }
    }
    router
}

fn render(c: &mut Criterion) {
    let rt = runtime();
    let kit = rt.block_on(populated_kit());
    let bytes = kit.render().map_or(0, |s| s.len());
    let mut g = c.benchmark_group("metrics");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("kit_render", |b| b.iter(|| black_box(kit.render()).map(|s| s.len())));
    g.finish();

    let router = rt.block_on(populated_midnight());
    let (status, bytes) = rt.block_on(send(&router, Method::GET, "/metrics", ""));
    assert_eq!(status, StatusCode::OK, "midnight /metrics");
    let mut g = c.benchmark_group("metrics");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("midnight_scrape", |b| {
        b.iter(|| rt.block_on(send(black_box(&router), Method::GET, "/metrics", "")))
    });
    g.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
