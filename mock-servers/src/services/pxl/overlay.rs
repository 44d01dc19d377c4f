//! The overlays, chrono (runbook port 8081) and v4 (8082): `GET /health` and `GET /v1/info`.
//!
//! An overlay is an optional feature service behind the gateway: while one is down, the
//! gateway's answers about it fail (503 `overlay_unavailable`) and its health reads
//! degraded, but proofs still go through the core.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{finish, unix_ms, Component, Shared};

type OverlayState = (Arc<Shared>, Component);

/// One overlay's routes.
pub(super) fn router(shared: Arc<Shared>, overlay: Component) -> Router {
    let routes = Router::new()
        .route("/health", get(health))
        .route("/v1/info", get(info))
        .with_state((Arc::clone(&shared), overlay));
    finish(&shared, overlay, routes)
}

async fn health(State((s, overlay)): State<OverlayState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "service": overlay.label(),
        "version": s.profile.version,
        "timestamp": unix_ms(),
    }))
}

async fn info(State((s, overlay)): State<OverlayState>) -> Json<Value> {
    let capabilities: &[&str] = match overlay {
        Component::Chrono => &["timestamping", "proof-scheduling"],
        _ => &["proof-format-v4", "legacy-clients"],
    };
    Json(json!({
        "overlay": overlay.overlay_name(),
        "service": overlay.label(),
        "version": s.profile.version,
        "capabilities": capabilities,
        "uptime_s": s.scale.to_sim(s.started.elapsed()).as_secs(),
    }))
}
