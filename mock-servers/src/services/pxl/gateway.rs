//! The gateway (endpoint `pxl`): `/v1/health`, `POST /v1/proofs`, `/v1/overlays/{name}`,
//! `/metrics`.
//!
//! The gateway holds no proof logic: it admits a request (rate limit, session slot, body
//! limit), forwards it to the core over HTTP and hands back the core's status, body and
//! `Retry-After`. If the core cannot be reached the answer is 502 `core_unavailable`; if
//! it does not answer within `core_timeout`, 504 `core_timeout`.
//!
//! `/v1/health` probes the core (`/healthz`) and both overlays (`/health`) at once, each
//! within `health_probe_timeout`: `ok` when all answer, `degraded` (still 200) naming the
//! overlays that do not, `down` (503) when the core does not.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::limits::{self, RateLimiter};
use super::{finish, unix_ms, Component, Shared};
use crate::kit::listener::ListenerKey;
use crate::kit::{metrics, ApiError};

/// The gateway's state: where the others listen, the HTTP client, the rate limiter.
pub(super) struct GatewayState {
    pub(super) shared: Arc<Shared>,
    pub(super) limiter: RateLimiter,
    /// The registered API keys (`Profile::api_keys`).
    pub(super) api_keys: HashSet<String>,
    client: reqwest::Client,
    urls: [String; 4],
}

impl GatewayState {
    /// `addrs` in [`Component::ALL`] order.
    pub(super) fn new(shared: Arc<Shared>, addrs: &[SocketAddr; 4]) -> Result<Arc<Self>, reqwest::Error> {
        let client = reqwest::Client::builder().no_proxy().build()?;
        let p = &shared.profile;
        let limiter = RateLimiter::new(p.rate_limit_requests, shared.scale.to_real(p.rate_limit_window.get()));
        let urls = addrs.map(|a| format!("http://{a}"));
        let api_keys = p.api_keys.iter().cloned().collect();
        Ok(Arc::new(Self { shared, limiter, api_keys, client, urls }))
    }

    fn url(&self, c: Component, path: &str) -> String {
        format!("{}{path}", self.urls[c.index()])
    }

    fn real(&self, sim: Duration) -> Duration {
        self.shared.scale.to_real(sim)
    }
}

/// The gateway's routes: health and metrics open, the API behind the limits.
pub(super) fn router(state: Arc<GatewayState>) -> Router {
    let shared = Arc::clone(&state.shared);
    let api = Router::new()
        .route("/v1/proofs", post(proofs))
        .route("/v1/overlays/{name}", get(overlay_info))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&state), limits::admit));
    let routes = Router::new()
        .route("/v1/health", get(health))
        .route("/metrics", get(metrics_text))
        .merge(api)
        .with_state(state);
    finish(&shared, Component::Gateway, routes)
}

/// One component's probe result.
fn probe_json(up: bool, latency: Duration, error: Option<String>) -> Value {
    let mut v = json!({
        "status": if up { "ok" } else { "down" },
        "latency_ms": latency.as_secs_f64() * 1000.0,
    });
    if let (Some(e), Some(obj)) = (error, v.as_object_mut()) {
        obj.insert("error".into(), json!(e));
    }
    v
}

async fn probe(g: &GatewayState, c: Component) -> (Component, bool, Value) {
    let path = if c == Component::Core { "/healthz" } else { "/health" };
    let started = Instant::now();
    let timeout = g.real(g.shared.profile.health_probe_timeout.get());
    let sent = g.client.get(g.url(c, path)).timeout(timeout).send().await;
    let latency = g.shared.scale.to_sim(started.elapsed());
    let (up, error) = match sent {
        Ok(r) if r.status().is_success() => (true, None),
        Ok(r) => (false, Some(format!("answered {}", r.status()))),
        Err(e) => (false, Some(describe(&e))),
    };
    (c, up, probe_json(up, latency, error))
}

async fn health(State(g): State<Arc<GatewayState>>) -> Response {
    let (core, chrono, v4) =
        tokio::join!(probe(&g, Component::Core), probe(&g, Component::Chrono), probe(&g, Component::V4));
    let mut components = Map::new();
    let mut degraded = Vec::new();
    for (c, up, v) in [core.clone(), chrono, v4] {
        if !up && c != Component::Core {
            degraded.push(c.label());
        }
        components.insert(c.label().into(), v);
    }
    let (status, code) = match (core.1, degraded.is_empty()) {
        (false, _) => ("down", StatusCode::SERVICE_UNAVAILABLE),
        (true, false) => ("degraded", StatusCode::OK),
        (true, true) => ("ok", StatusCode::OK),
    };
    let body = json!({
        "status": status,
        "service": "pxl-gateway",
        "version": g.shared.profile.version,
        "components": components,
        "degraded": degraded,
        "timestamp": unix_ms(),
    });
    (code, Json(body)).into_response()
}

async fn proofs(State(g): State<Arc<GatewayState>>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = body?;
    let timeout = g.real(g.shared.profile.core_timeout.get());
    let sent = g
        .client
        .post(g.url(Component::Core, "/v1/prove"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .timeout(timeout)
        .send()
        .await;
    match sent {
        Ok(resp) => relay(resp).await,
        Err(e) if e.is_timeout() => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "core_timeout",
            format!("the proof core did not answer within {}", g.shared.profile.core_timeout.0),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "core_unavailable",
            format!("the proof core cannot be reached: {}", describe(&e)),
        )),
    }
}

/// Hands an upstream answer back: status, JSON body, `Retry-After`.
async fn relay(resp: reqwest::Response) -> Result<Response, ApiError> {
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let retry_after = resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = resp.bytes().await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            format!("reading the upstream answer: {}", describe(&e)),
        )
    })?;
    let mut out = Response::new(Body::from(bytes));
    *out.status_mut() = status;
    out.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        out.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Ok(out)
}

async fn overlay_info(State(g): State<Arc<GatewayState>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let Some(overlay) = Component::OVERLAYS.into_iter().find(|c| c.overlay_name() == Some(name.as_str())) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_overlay",
            format!("no overlay `{name}` (known: chrono, v4)"),
        ));
    };
    let timeout = g.real(g.shared.profile.health_probe_timeout.get());
    match g.client.get(g.url(overlay, "/v1/info")).timeout(timeout).send().await {
        Ok(resp) => relay(resp).await,
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overlay_unavailable",
            format!("overlay {name} cannot be reached: {}", describe(&e)),
        )
        .with("overlay", overlay.label())),
    }
}

async fn metrics_text(State(g): State<Arc<GatewayState>>) -> Response {
    metrics::text_response(g.shared.render_metrics())
}

/// A short reason for a failed upstream call: refused, timed out, or the error text.
fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "cannot connect (refused or unreachable)".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        e.to_string()
    }
}
