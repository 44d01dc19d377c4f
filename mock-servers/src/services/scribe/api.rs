//! A node's router and its cluster, admin, health and metrics routes (key/value routes
//! live in [`super::kv`]).
//!
//! JSON shapes keep the real node's field names (`node_id`, `is_leader`,
//! `current_leader`, `state`, `current_term`, `last_log_index`, `last_applied`,
//! `members[].node_id/address`, `leader_id`) and add what an operator following the
//! runbook needs: which members are reachable, whether there is quorum.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::cluster::{Access, Work};
use super::kv::{self, authorize, refusal};
use super::node::{self, Guard, Node};
use super::raft::{MembershipError, NodeId, Role, WriteRefusal};
use crate::kit::errors::{parse_json, ApiError};
use crate::kit::metrics;
use crate::kit::serve::finish_router;

/// A node's routes, behind its guard and the kit's metrics and fallbacks.
pub(super) fn router(guard: Guard) -> Router {
    let node = Arc::clone(&guard.node);
    let max_body = node.shared.profile.max_body_bytes;
    let kit = Arc::clone(&node.kit);
    let routes = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_any))
        .route("/metrics/prometheus", get(metrics_text))
        .route("/cluster/info", get(cluster_info))
        .route("/cluster/nodes", get(cluster_nodes))
        .route("/cluster/leader/info", get(leader_info))
        .route("/cluster/nodes/add", post(add_node))
        .route("/cluster/nodes/remove", post(remove_node))
        .route("/admin/pause-writes", post(|s, h| set_paused(s, h, true)))
        .route("/admin/resume-writes", post(|s, h| set_paused(s, h, false)))
        .route("/admin/compact", post(compact))
        .route("/verify/{key}", get(kv::verify))
        .route("/{key}", get(kv::get_value).put(kv::put_value).delete(kv::delete_value))
        .with_state(node);
    finish_router(routes, max_body)
        .layer(middleware::from_fn_with_state(guard, node::guard))
        .layer(middleware::from_fn_with_state(kit, metrics::track))
}

/// `GET /health`: 200 while this node is a member with a leader and quorum, else 503
/// ([`super::raft::View::health_problem`], which `scribe_node_health` also reads).
async fn health(State(node): State<Arc<Node>>) -> Response {
    let v = node.shared.view(node.id);
    let body = json!({
        "service": "scribe-ledger",
        "version": node.shared.profile.version,
        "node_id": node.id,
        "role": v.role,
        "term": v.term,
        "leader_id": v.leader,
        "quorum": v.quorum,
        "healthy_nodes": v.healthy,
        "members": v.members,
    });
    let problem = v.health_problem();
    let Value::Object(mut body) = body else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match problem {
        None => {
            body.insert("status".into(), json!("ok"));
            Json(Value::Object(body)).into_response()
        }
        Some((code, message)) => {
            let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message);
            e.extra = body;
            e.with("status", "unhealthy").into_response()
        }
    }
}

/// `GET /cluster/info`: this node's Raft status.
async fn cluster_info(State(node): State<Arc<Node>>) -> Json<Value> {
    let v = node.shared.view(node.id);
    let (keys, bytes) = node.shared.storage(node.id);
    Json(json!({
        "node_id": node.id,
        "address": node.addr.to_string(),
        "is_leader": v.role == Role::Leader,
        "current_leader": v.leader,
        "leader_address": v.leader_address,
        "state": v.role,
        "current_term": v.term,
        "last_log_index": v.commit_index,
        "last_applied": v.commit_index,
        "members": v.members,
        "healthy_nodes": v.healthy,
        "quorum": v.quorum,
        "quorum_size": v.needed,
        "writes_paused": v.writes_paused,
        "elections": v.elections,
        "storage_keys": keys,
        "storage_bytes": bytes,
        "version": node.shared.profile.version,
    }))
}

/// `GET /cluster/nodes`: the voting members and whether each is reachable.
async fn cluster_nodes(State(node): State<Arc<Node>>) -> Json<Value> {
    let (v, members) = {
        let mut raft = node.shared.raft();
        raft.refresh(Instant::now());
        (raft.view(node.id), raft.members())
    };
    Json(json!({
        "members": members,
        "total_nodes": v.members,
        "healthy_nodes": v.healthy,
        "quorum": v.quorum,
        "quorum_size": v.needed,
        "leader_id": v.leader,
    }))
}

/// `GET /cluster/leader/info`: the current leader (`null` during an election).
async fn leader_info(State(node): State<Arc<Node>>) -> Json<Value> {
    let v = node.shared.view(node.id);
    Json(json!({
        "leader_id": v.leader,
        "leader_address": v.leader_address,
        "term": v.term,
        "node_id": node.id,
        "is_leader": v.role == Role::Leader,
    }))
}

#[derive(Deserialize)]
struct AddNode {
    node_id: NodeId,
    address: String,
}

#[derive(Deserialize)]
struct RemoveNode {
    node_id: NodeId,
}

fn membership_error(e: MembershipError) -> ApiError {
    let (status, code) = match e {
        MembershipError::UnknownNode(_) => (StatusCode::NOT_FOUND, "unknown_node"),
        MembershipError::AlreadyMember(_) => (StatusCode::CONFLICT, "already_member"),
        MembershipError::LastMember(_) => (StatusCode::CONFLICT, "last_member"),
    };
    ApiError::new(status, code, e.to_string())
}

/// Applies a membership change through Raft: it needs a leader and quorum, like a write
/// (but not un-paused writes: pausing is for client data).
fn change_membership<T>(
    node: &Node,
    change: impl FnOnce(&mut super::raft::Raft, Instant) -> Result<T, MembershipError>,
) -> Result<(T, Value), ApiError> {
    let now = Instant::now();
    let mut raft = node.shared.raft();
    raft.refresh(now);
    match raft.write_gate(node.id, now) {
        Ok(_) | Err(WriteRefusal::Paused) => {}
        Err(e) => return Err(refusal(e)),
    }
    let out = change(&mut raft, now).map_err(membership_error)?;
    let members = serde_json::to_value(raft.members()).unwrap_or(Value::Null);
    Ok((out, members))
}

/// `POST /cluster/nodes/add {"node_id", "address"}` (admin).
async fn add_node(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&node, &headers, Access::Admin)?;
    let req: AddNode = parse_json(&body?)?;
    if req.node_id == 0 || req.address.trim().is_empty() {
        return Err(ApiError::bad_request("invalid_node", "node_id must be at least 1 and address must not be empty"));
    }
    let (address, members) = change_membership(&node, |r, now| r.add_voter(req.node_id, req.address.trim(), now))?;
    Ok(Json(json!({
        "status": "ok",
        "message": format!("node {} added to the cluster", req.node_id),
        "node_id": req.node_id,
        "address": address,
        "members": members,
    })))
}

/// `POST /cluster/nodes/remove {"node_id"}` (admin).
async fn remove_node(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&node, &headers, Access::Admin)?;
    let req: RemoveNode = parse_json(&body?)?;
    let ((), members) = change_membership(&node, |r, now| r.remove_voter(req.node_id, now))?;
    Ok(Json(json!({
        "status": "ok",
        "message": format!("node {} removed from the cluster", req.node_id),
        "node_id": req.node_id,
        "members": members,
    })))
}

/// `POST /admin/pause-writes` and `/admin/resume-writes` (admin): cluster-wide.
async fn set_paused(State(node): State<Arc<Node>>, headers: HeaderMap, paused: bool) -> Result<Json<Value>, ApiError> {
    authorize(&node, &headers, Access::Admin)?;
    node.shared.raft().set_writes_paused(paused);
    let message = if paused { "writes paused" } else { "writes resumed" };
    Ok(Json(json!({ "status": "ok", "message": message, "writes_paused": paused, "node_id": node.id })))
}

/// `POST /admin/compact` (admin): compacts this node's storage on its worker pool.
async fn compact(State(node): State<Arc<Node>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&node, &headers, Access::Admin)?;
    let report = node.shared.pool(node.id).run(node.shared.sample(Work::Compact)).await?;
    let reclaimed = node.shared.store_mut().compact(node.id);
    let (keys, bytes) = node.shared.storage(node.id);
    Ok(Json(json!({
        "status": "ok",
        "node_id": node.id,
        "keys": keys,
        "storage_bytes": bytes,
        "reclaimed_bytes": reclaimed,
        "duration_ms": (report.queue_wait + report.service).as_millis() as u64,
    })))
}

/// `GET /metrics/prometheus`: Prometheus text.
async fn metrics_text(State(node): State<Arc<Node>>) -> Response {
    metrics::text_response(node.render_metrics())
}

/// `GET /metrics`: Prometheus text, or the real node's JSON summary to
/// `Accept: application/json`.
async fn metrics_any(State(node): State<Arc<Node>>, headers: HeaderMap) -> Response {
    let json_wanted =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    if !json_wanted {
        return metrics::text_response(node.render_metrics());
    }
    let v = node.shared.view(node.id);
    let (keys, bytes) = node.shared.storage(node.id);
    let ops = |op: &str| -> u64 {
        ["ok", "not_found", "rejected", "failed"]
            .iter()
            .map(|r| node.own.requests.with_label_values(&[op, r]).get())
            .sum()
    };
    Json(json!({
        "total_keys": keys,
        "is_empty": keys == 0,
        "storage_bytes": bytes,
        "total_gets": ops("get"),
        "total_puts": ops("put"),
        "total_deletes": ops("delete"),
        "state": v.role,
        "current_term": v.term,
        "current_leader": v.leader,
        "last_log_index": v.commit_index,
        "last_applied": v.commit_index,
    }))
    .into_response()
}
