//! Key/value routes (`GET`, `PUT`, `DELETE /{key}`), `GET /verify/{key}`, and the API-key
//! check every protected route shares.
//!
//! A write is committed only through the leader: the receiving node checks membership,
//! quorum, leader and the pause flag, forwards to the leader if it is a follower (one
//! `forward_latency` hop), waits for a worker on the *leader's* pool, and then checks
//! again that the same leader still leads with quorum before applying; a write caught
//! by a fault in flight fails with 503 `leader_changed` and is not applied, as an
//! uncommitted Raft entry would be lost.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::cluster::{Access, Work};
use super::node::Node;
use super::raft::{NodeId, Role, View, WriteRefusal};
use super::ReadsWithoutQuorum;
use crate::kit::errors::{parse_json, ApiError};

/// Checks the request's API key (`X-API-Key` or `Authorization: Bearer`) against `need`.
pub(super) fn authorize(node: &Node, headers: &HeaderMap, need: Access) -> Result<Access, ApiError> {
    let presented = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
            auth.strip_prefix("Bearer ")
        })
        .map(str::trim);
    let Some(key) = presented.filter(|k| !k.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "authentication required: send an API key in X-API-Key (or Authorization: Bearer)",
        )
        .with("required_role", need.as_str()));
    };
    let Some(role) = node.shared.access(key) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "the API key is not known to this cluster",
        ));
    };
    if role < need {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("insufficient permissions: this key has role `{}`, `{}` is required", role.as_str(), need.as_str()),
        )
        .with("role", role.as_str())
        .with("required_role", need.as_str()));
    }
    Ok(role)
}

/// The 503 for a write (or membership change) Raft cannot take now.
pub(super) fn refusal(e: WriteRefusal) -> ApiError {
    let unavailable = |code| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string());
    match &e {
        WriteRefusal::NotMember(node) => unavailable("not_a_member").with("node_id", *node),
        WriteRefusal::Paused => unavailable("writes_paused"),
        WriteRefusal::NoQuorum { healthy, members, needed } => unavailable("no_quorum")
            .with("healthy_nodes", *healthy)
            .with("members", *members)
            .with("quorum_size", *needed),
        WriteRefusal::NoLeader { retry_in } => {
            unavailable("no_leader").retry_after(retry_in.as_secs_f64().ceil().max(1.0) as u64)
        }
    }
}

/// The 503 a refused read gets without quorum.
fn no_quorum(view: &View) -> ApiError {
    refusal(WriteRefusal::NoQuorum { healthy: view.healthy, members: view.members, needed: view.needed })
}

fn key_from(node: &Node, path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(key) = path.map_err(|r| ApiError::bad_request("invalid_key", r.body_text()))?;
    let max = node.shared.profile.max_key_bytes;
    if key.len() > max {
        return Err(ApiError::bad_request("key_too_long", format!("keys are at most {max} bytes, got {}", key.len())));
    }
    Ok(key)
}

fn not_found(key: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "key_not_found", format!("no key `{key}`"))
        .with("key", key)
        .with("value", Value::Null)
}

/// Counts one key/value operation and its latency, and turns the result into a response.
fn finish(node: &Node, op: &str, started: Instant, result: Result<Response, ApiError>) -> Response {
    let resp = result.unwrap_or_else(IntoResponse::into_response);
    let status = resp.status();
    let outcome = match status {
        s if s.is_success() => "ok",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_server_error() => "failed",
        _ => "rejected",
    };
    node.own.ops.inc();
    node.own.requests.with_label_values(&[op, outcome]).inc();
    let sim = node.shared.scale.to_sim(started.elapsed());
    node.latency.record(sim.as_secs_f64() * 1000.0);
    resp
}

/// `GET /{key}` (read role): the node's local copy.
pub(super) async fn get_value(
    State(node): State<Arc<Node>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let result = read(&node, path, &headers).await;
    finish(&node, "get", started, result)
}

async fn read(
    node: &Node,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    authorize(node, headers, Access::Read)?;
    let key = key_from(node, path)?;
    let view = node.shared.view(node.id);
    if !view.quorum && node.shared.profile.reads_without_quorum == ReadsWithoutQuorum::Refuse {
        return Err(no_quorum(&view));
    }
    node.shared.pool(node.id).run(node.shared.sample(Work::Read)).await?;
    let value = node.shared.store().get(node.id, &key).map(<[u8]>::to_vec);
    let value = value.ok_or_else(|| not_found(&key))?;
    let stale = !view.quorum || view.role == Role::Learner;
    let wants_bytes = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/octet-stream"));
    if wants_bytes {
        let headers = [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::HeaderName::from_static("x-scribe-stale"), stale.to_string()),
        ];
        return Ok((headers, value).into_response());
    }
    let value = String::from_utf8(value).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "binary_value",
            "the value is binary; ask for it with Accept: application/octet-stream",
        )
    })?;
    let body = json!({ "key": key, "value": value, "node_id": node.id, "quorum": view.quorum, "stale": stale });
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
struct PutBody {
    value: String,
}

fn value_from(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Vec<u8>, ApiError> {
    let body = body?;
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("application/octet-stream"));
    if raw {
        return Ok(body.to_vec());
    }
    parse_json::<PutBody>(&body).map(|b| b.value.into_bytes())
}

/// `PUT /{key}` (write role): `{"value": "..."}`, or raw bytes as `application/octet-stream`.
pub(super) async fn put_value(
    State(node): State<Arc<Node>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let result = async {
        authorize(&node, &headers, Access::Write)?;
        let key = key_from(&node, path)?;
        let value = value_from(&headers, body)?;
        let done = commit(&node, &key, Change::Put(value)).await?;
        Ok(done.response(&node, &key, "Value stored successfully"))
    }
    .await;
    finish(&node, "put", started, result)
}

/// `DELETE /{key}` (admin role: deleting from a ledger is an operator's act).
pub(super) async fn delete_value(
    State(node): State<Arc<Node>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let result = async {
        authorize(&node, &headers, Access::Admin)?;
        let key = key_from(&node, path)?;
        let done = commit(&node, &key, Change::Delete).await?;
        Ok(done.response(&node, &key, "Key deleted successfully"))
    }
    .await;
    finish(&node, "delete", started, result)
}

enum Change {
    Put(Vec<u8>),
    Delete,
}

struct Committed {
    leader: NodeId,
    term: u64,
    index: u64,
    created: bool,
}

impl Committed {
    fn response(&self, node: &Node, key: &str, message: &str) -> Response {
        Json(json!({
            "status": "ok",
            "message": message,
            "key": key,
            "node_id": node.id,
            "leader_id": self.leader,
            "forwarded": self.leader != node.id,
            "term": self.term,
            "index": self.index,
            "created": self.created,
        }))
        .into_response()
    }
}

/// Room for `key` and its existence, checked before queueing and again when applying.
fn precheck(node: &Node, key: &str, change: &Change) -> Result<(), ApiError> {
    let store = node.shared.store();
    match change {
        Change::Put(_) => {
            let max = node.shared.profile.max_keys;
            if !store.contains(key) && store.len() as u64 >= max {
                return Err(ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "storage_full",
                    format!("storage is full ({max} keys); compact or add capacity"),
                )
                .with("max_keys", max));
            }
            Ok(())
        }
        Change::Delete if !store.contains(key) => Err(not_found(key)),
        Change::Delete => Ok(()),
    }
}

async fn commit(node: &Node, key: &str, change: Change) -> Result<Committed, ApiError> {
    let shared = &node.shared;
    let leader = {
        let now = Instant::now();
        let mut raft = shared.raft();
        raft.refresh(now);
        raft.write_gate(node.id, now).map_err(refusal)?
    };
    precheck(node, key, &change)?;
    if leader != node.id {
        tokio::time::sleep(shared.scale.to_real(shared.profile.forward_latency.get())).await;
    }
    shared.pool(leader).run(shared.sample(Work::Write)).await?;
    let now = Instant::now();
    let mut raft = shared.raft();
    raft.refresh(now);
    match raft.write_gate(node.id, now) {
        Ok(l) if l == leader => {}
        Ok(_) | Err(WriteRefusal::NoLeader { .. }) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "leader_changed",
                format!("leader {leader} lost leadership while the write was in flight; it was not committed"),
            ));
        }
        Err(e) => return Err(refusal(e)),
    }
    precheck(node, key, &change)?;
    let nodes: Vec<NodeId> = raft.nodes().keys().copied().collect();
    let created = match change {
        Change::Put(value) => shared.store_mut().put(key, value),
        Change::Delete => shared.store_mut().delete(key, &nodes),
    };
    let index = raft.commit();
    Ok(Committed { leader, term: raft.term(), index, created })
}

/// `GET /verify/{key}` (open): this node's Merkle proof for `key` against the committed
/// root; 500 `merkle_mismatch` when its own copy no longer folds to that root.
pub(super) async fn verify(
    State(node): State<Arc<Node>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let key = key_from(&node, path)?;
    let input = node.shared.store().proof_input(node.id, &key);
    let proof = tokio::task::spawn_blocking(move || input.and_then(|i| i.prove()))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let count = |result: &str| node.own.verifications.with_label_values(&[result]).inc();
    let Some(proof) = proof else {
        count("not_found");
        return Err(not_found(&key).with("verified", false).with("proof", Value::Null));
    };
    let verified = proof.root_hash == proof.computed_root;
    let proof_json = serde_json::to_value(&proof).unwrap_or(Value::Null);
    if verified {
        count("ok");
        return Ok(Json(
            json!({ "key": key, "verified": true, "node_id": node.id, "proof": proof_json, "error": null }),
        ));
    }
    count("failed");
    Err(ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "merkle_mismatch",
        format!("node {}'s copy of the data does not match the committed Merkle root", node.id),
    )
    .with("key", key)
    .with("verified", false)
    .with("node_id", node.id)
    .with("proof", proof_json))
}
