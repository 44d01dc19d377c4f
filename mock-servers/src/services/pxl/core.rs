//! The proof core (`pxl-core`, runbook port 8080): `/healthz`, `POST /v1/prove`, `/metrics`.
//!
//! A proof request is `{"input": <any JSON>, "circuit": "<name>"?}`. The proof is the
//! hex SHA-256 of the input's JSON serialisation (compact, object keys sorted), so a
//! client can check it. Each proof takes a sampled service time plus
//! `proof_time_per_mib` per MiB of input, on one of `workers`; proofs that find every
//! worker busy wait in the queue (`proof_queue_length`), 503 `queue_full` past
//! `job_capacity`, 504 `job_timeout` past `job_timeout`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{finish, unix_ms, Component, Shared};
use crate::kit::errors::{parse_json, ApiError};
use crate::kit::{metrics, JobError, MockContext, ServiceStream};
use crate::services::ProfileError;

const MIB: f64 = 1024.0 * 1024.0;

/// The core's state: the proof pool and the service times (stream `pxl/proof`, which
/// the simulator's twin of a live window draws from too).
pub(super) struct CoreState {
    pub(super) shared: Arc<Shared>,
    service: ServiceStream,
}

impl CoreState {
    pub(super) fn new(shared: Arc<Shared>, ctx: &MockContext) -> Result<Arc<Self>, ProfileError> {
        let p = &shared.profile;
        let field = "proof_service_time";
        let sampler = p.proof_service_time.sampler().map_err(|source| ProfileError::ServiceTime { field, source })?;
        Ok(Arc::new(Self { service: ctx.stream("pxl/proof", sampler), shared }))
    }

    fn service_time(&self, input_bytes: usize) -> Duration {
        let base = self.service.draw();
        let per_mib = self.shared.profile.proof_time_per_mib.0;
        base + per_mib.mul_f64(input_bytes as f64 / MIB)
    }
}

/// The core's routes.
pub(super) fn router(state: Arc<CoreState>) -> Router {
    let shared = Arc::clone(&state.shared);
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/prove", post(prove))
        .route("/metrics", get(metrics_text))
        .with_state(state);
    finish(&shared, Component::Core, routes)
}

async fn healthz(State(c): State<Arc<CoreState>>) -> Json<Value> {
    let stats = c.shared.pool.stats();
    Json(json!({
        "status": "ok",
        "service": "pxl-core",
        "version": c.shared.profile.version,
        "proof_queue_length": stats.pending,
        "proofs_processing": stats.processing,
        "workers": stats.workers,
        "timestamp": unix_ms(),
    }))
}

#[derive(Deserialize)]
struct ProofRequest {
    input: Option<Value>,
    circuit: Option<String>,
}

async fn prove(State(c): State<Arc<CoreState>>, body: Result<Bytes, BytesRejection>) -> Result<Json<Value>, ApiError> {
    let req: ProofRequest = parse_json(&body?)?;
    let input = match req.input {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("missing_input", "body must be {\"input\": <JSON to prove>}"));
        }
        Some(v) => v,
    };
    let encoded = serde_json::to_vec(&input)
        .map_err(|e| ApiError::bad_request("invalid_input", format!("input cannot be encoded: {e}")))?;
    let started = tokio::time::Instant::now();
    let outcome = c.shared.pool.run(c.service_time(encoded.len())).await;
    let m = &c.shared.metrics;
    let report = match outcome {
        Ok(r) => r,
        Err(e) => {
            let result = if matches!(e, JobError::QueueFull { .. }) { "queue_full" } else { "timeout" };
            m.proofs.with_label_values(&[result]).inc();
            return Err(ApiError::from(e));
        }
    };
    m.proofs.with_label_values(&["ok"]).inc();
    let total = c.shared.scale.to_sim(started.elapsed());
    Ok(Json(json!({
        "proof": hex::encode(Sha256::digest(&encoded)),
        "circuit": req.circuit.unwrap_or_else(|| "default".into()),
        "input_bytes": encoded.len(),
        "queue_time_ms": report.queue_wait.as_millis() as u64,
        "proof_time_ms": total.as_millis() as u64,
    })))
}

async fn metrics_text(State(c): State<Arc<CoreState>>) -> Response {
    metrics::text_response(c.shared.render_metrics())
}
