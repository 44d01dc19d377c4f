//! JSON error responses shared by every mock.
//!
//! Every 4xx/5xx a mock sends has a JSON body `{"error": CODE, "message": TEXT}` plus
//! whatever fields the case needs, so load scripts and drills can tell failures apart
//! by code rather than by parsing prose. The fallbacks turn unknown routes, wrong
//! methods and oversized bodies into the same shape.

use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::pool::JobError;

/// An error answer: a status, a machine-readable code, a message and optional extras.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code, e.g. `queue_full`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Extra JSON fields merged into the body.
    pub extra: Map<String, Value>,
    /// Seconds for a `Retry-After` header, if any.
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// An error with no extra fields.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), extra: Map::new(), retry_after_s: None }
    }

    /// 400 with the given code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Adds a field to the body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// Sets `Retry-After` (seconds).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_s = Some(secs);
        self.with("retry_after_s", secs)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.extra;
        body.insert("error".into(), json!(self.code));
        body.insert("message".into(), json!(self.message));
        let mut resp = (self.status, Json(Value::Object(body))).into_response();
        if let Some(secs) = self.retry_after_s {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::QueueFull { capacity, retry_after_s } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "queue_full", e.to_string())
                    .with("job_capacity", capacity)
                    .retry_after(retry_after_s)
            }
            JobError::Timeout { timeout } => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "job_timeout", e.to_string())
                .with("job_timeout_s", timeout.0.as_secs_f64()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "payload_too_large" } else { "bad_body" };
        ApiError::new(status, code, r.body_text())
    }
}

/// Parses a JSON body regardless of `Content-Type` (the runbooks' `curl -d` sends
/// `application/x-www-form-urlencoded`), answering 400 `invalid_json` on bad input.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("invalid_json", format!("request body is not valid JSON for this endpoint: {e}"))
    })
}

/// Fallback for unknown routes: 404 naming the path.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no route for {method} {}", uri.path()))
}

/// Fallback for a known route with the wrong method: 405.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
