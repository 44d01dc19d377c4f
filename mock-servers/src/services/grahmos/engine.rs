//! The search engine's own listener (the runbook's Meilisearch on :7700) and the
//! drills' hooks.
//!
//! - `GET /_healthz` (and `/health`): every file of the serving release is re-read and
//!   checked; 200 `{"status":"available",..}` or 503 `{"status":"unhealthy","error":..}`;
//! - `GET /stats`: documents and bytes of the serving release (`indexes`, `databases`);
//! - `GET|POST /search?q=`: the anonymous view (public documents shared with every
//!   tenant, such as the canary); `?index=VER` or a body `{"index": VER}` (the runbook's
//!   `curl ... --data '{"index": "'$VER'"}'`) probes release VER before it is switched to;
//! - `GET /releases`: the releases and the one `current` names;
//! - hooks (this port is internal, loopback only): `POST /admin/index/rollback`,
//!   `/admin/index/rebuild`, `/admin/index/switch {"release"}`, `/admin/tls/reload`
//!   (re-read `server.crt`/`server.key`), `/admin/tls/renew {"lifetime":"90d"}` or
//!   `{"expired_for":"1h"}`, `/admin/keys/rotate`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::corpus::Viewer;
use super::index::{IndexError, LoadedIndex};
use super::tls::InstallError;
use super::Handle;
use crate::kit::errors::{parse_json, ApiError};
use crate::kit::serve::finish_router;
use crate::kit::HumanDuration;

/// The search engine's routes.
pub fn router(handle: Handle) -> Router {
    let max_body = handle.state.profile.max_body_bytes;
    let routes = Router::new()
        .route("/_healthz", get(healthz))
        .route("/health", get(healthz))
        .route("/stats", get(stats))
        .route("/search", get(search).post(search))
        .route("/releases", get(releases))
        .route("/admin/index/rollback", post(rollback))
        .route("/admin/index/rebuild", post(rebuild))
        .route("/admin/index/switch", post(switch))
        .route("/admin/tls/reload", post(tls_reload))
        .route("/admin/tls/renew", post(tls_renew))
        .route("/admin/keys/rotate", post(rotate_keys))
        .with_state(handle);
    finish_router(routes, max_body)
}

fn index_error(e: &IndexError) -> ApiError {
    let status = match e {
        IndexError::UnknownRelease(_) => StatusCode::NOT_FOUND,
        IndexError::NoPrevious(_) => StatusCode::CONFLICT,
        IndexError::Corrupt { .. } | IndexError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiError::new(status, e.code(), e.to_string())
}

fn summary(ix: &LoadedIndex) -> Value {
    json!({"release": ix.release(), "documents": ix.len(), "bytes": ix.bytes(), "loaded_unix_ms": ix.loaded_unix_ms()})
}

async fn healthz(AxumState(h): AxumState<Handle>) -> Response {
    match h.index().verify() {
        Ok(ix) => {
            let mut body = summary(&ix);
            body["status"] = json!("available");
            Json(body).into_response()
        }
        Err(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string())
            .with("status", "unhealthy")
            .into_response(),
    }
}

async fn stats(AxumState(h): AxumState<Handle>) -> Result<Json<Value>, ApiError> {
    let ix = h.index().current().map_err(|e| index_error(&e))?;
    Ok(Json(json!({
        "databaseSize": ix.bytes(),
        "lastUpdate": ix.loaded_unix_ms(),
        "release": ix.release(),
        "indexes": {"documents": {"numberOfDocuments": ix.len(), "isIndexing": false}},
        "databases": {ix.release(): {"numberOfDocuments": ix.len(), "sizeBytes": ix.bytes()}},
    })))
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    index: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize, Default)]
struct SearchBody {
    q: Option<String>,
    index: Option<String>,
    limit: Option<usize>,
}

async fn search(
    AxumState(h): AxumState<Handle>,
    params: Result<Query<SearchParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let body = body?;
    let b: SearchBody =
        if body.iter().all(u8::is_ascii_whitespace) { SearchBody::default() } else { parse_json(&body)? };
    let q = p.q.or(b.q).unwrap_or_default();
    if q.trim().is_empty() {
        return Err(ApiError::bad_request("missing_query", "give the query as ?q=..."));
    }
    let limit = p.limit.or(b.limit).unwrap_or(10).clamp(1, 100);
    let viewer = Viewer::anonymous();
    let found = match p.index.or(b.index) {
        Some(release) => h.index().search_release(&release, &q, &viewer, limit),
        None => h.index().search(&q, &viewer, limit),
    };
    let r = found.map_err(|e| index_error(&e))?;
    Ok(Json(json!({"query": q, "release": r.release, "hits": r.hits, "total": r.total})))
}

async fn releases(AxumState(h): AxumState<Handle>) -> Result<Json<Value>, ApiError> {
    let list = h.index().releases().map_err(|e| index_error(&e))?;
    let current = h.index().current_target().ok().and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()));
    Ok(Json(json!({"current": current, "releases": list})))
}

async fn rollback(AxumState(h): AxumState<Handle>) -> Result<Json<Value>, ApiError> {
    let ix = h.index().rollback().map_err(|e| index_error(&e))?;
    Ok(Json(summary(&ix)))
}

async fn rebuild(AxumState(h): AxumState<Handle>) -> Result<Json<Value>, ApiError> {
    let ix = h.index().rebuild_from_source().map_err(|e| index_error(&e))?;
    Ok(Json(summary(&ix)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchBody {
    release: String,
}

async fn switch(AxumState(h): AxumState<Handle>, body: Result<Bytes, BytesRejection>) -> Result<Json<Value>, ApiError> {
    let b: SwitchBody = parse_json(&body?)?;
    let ix = h.index().switch_to(&b.release).map_err(|e| index_error(&e))?;
    Ok(Json(summary(&ix)))
}

fn cert_answer(h: &Handle, result: Result<SystemTime, InstallError>) -> Result<Json<Value>, ApiError> {
    let not_after = result.map_err(|e| ApiError::bad_request("certificate", e.to_string()))?;
    let secs = not_after.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Ok(Json(
        json!({"not_after_unix_s": secs, "days_to_expiry": h.tls().days_to_expiry(), "reloads": h.tls().reloads()}),
    ))
}

async fn tls_reload(AxumState(h): AxumState<Handle>) -> Result<Json<Value>, ApiError> {
    let r = h.tls().reload_from_files();
    cert_answer(&h, r)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RenewBody {
    lifetime: Option<HumanDuration>,
    expired_for: Option<HumanDuration>,
}

async fn tls_renew(
    AxumState(h): AxumState<Handle>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body?;
    let b: RenewBody = if body.iter().all(u8::is_ascii_whitespace) { RenewBody::default() } else { parse_json(&body)? };
    let r = match (b.lifetime, b.expired_for) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("invalid_body", "give lifetime or expired_for, not both"))
        }
        (_, Some(ago)) => {
            let not_after = SystemTime::now() - ago.get();
            h.tls().renew_with(not_after - Duration::from_secs(86_400), not_after)
        }
        (Some(life), None) => h.tls().renew(life.get()),
        (None, None) => h.tls().renew(h.state.profile.cert_lifetime.get()),
    };
    cert_answer(&h, r)
}

async fn rotate_keys(AxumState(h): AxumState<Handle>) -> Result<Json<Value>, ApiError> {
    let kid = h
        .keys()
        .rotate()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "key_generation", e.to_string()))?;
    Ok(Json(json!({"kid": kid, "kids": h.keys().kids()})))
}
