//! The app's blockchain client: JSON-RPC over HTTP to the primary node, failing over to the
//! backup URL (the runbook's "Switch to backup RPC", done by the app itself).
//!
//! A call goes to the primary unless the primary failed within the last
//! `rpc_failover_cooldown`, in which case the backup is tried first. Any failure (cannot
//! connect, no answer within `rpc_timeout`, a non-2xx status, a JSON-RPC error, an answer
//! that is not JSON-RPC) counts in `morphsave_rpc_errors_total{endpoint,reason}` and
//! moves on to the other node; a call the backup answers after the primary failed counts
//! in `morphsave_rpc_failovers_total`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec};
use serde_json::{json, Value};
use tokio::time::Instant;

/// One of the two RPC nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RpcNode {
    /// `MORPH_RPC_URL`.
    Primary,
    /// The backup RPC URL.
    Backup,
}

impl RpcNode {
    /// `primary` / `backup`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Backup => "backup",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Primary => 0,
            Self::Backup => 1,
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Primary => Self::Backup,
            Self::Backup => Self::Primary,
        }
    }
}

/// Why one call to one node failed: the `reason` label of `morphsave_rpc_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RpcReason {
    /// No answer in time.
    #[error("timeout")]
    Timeout,
    /// The connection was refused.
    #[error("connect")]
    Connect,
    /// Any other transport failure.
    #[error("transport")]
    Transport,
    /// An HTTP status other than 2xx.
    #[error("http_{0}")]
    Http(u16),
    /// A JSON-RPC `error` answer.
    #[error("rpc_error")]
    RpcError,
    /// An answer that is not JSON-RPC.
    #[error("bad_response")]
    BadResponse,
}

/// Both nodes failed a call; the reason for each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcFailure {
    /// Why the primary failed.
    pub primary: String,
    /// Why the backup failed.
    pub backup: String,
}

/// The client's metric handles.
#[derive(Clone)]
pub struct RpcMetrics {
    /// `morphsave_rpc_requests_total{endpoint,result}`.
    pub requests: IntCounterVec,
    /// `morphsave_rpc_errors_total{endpoint,reason}`.
    pub errors: IntCounterVec,
    /// `morphsave_rpc_failovers_total`.
    pub failovers: IntCounter,
}

/// The failover client.
pub struct RpcClient {
    http: reqwest::Client,
    urls: [String; 2],
    timeout: Duration,
    cooldown: Duration,
    primary_failed_at: Mutex<Option<Instant>>,
    next_id: AtomicU64,
    metrics: RpcMetrics,
}

impl RpcClient {
    /// A client for `urls` (primary, backup); `timeout` and `cooldown` are real time.
    pub fn new(urls: [String; 2], timeout: Duration, cooldown: Duration, metrics: RpcMetrics) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder().no_proxy().build()?;
        Ok(Self {
            http,
            urls,
            timeout,
            cooldown,
            primary_failed_at: Mutex::new(None),
            next_id: AtomicU64::new(1),
            metrics,
        })
    }

    /// The node's URL.
    pub fn url(&self, node: RpcNode) -> &str {
        &self.urls[node.index()]
    }

    /// The node calls go to first right now.
    pub fn active(&self) -> RpcNode {
        let failed_at = *self.primary_failed_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match failed_at {
            Some(t) if t.elapsed() < self.cooldown => RpcNode::Backup,
            _ => RpcNode::Primary,
        }
    }

    /// Calls `method`, failing over to the other node; the result and who answered.
    pub async fn call(&self, method: &str, params: Value) -> Result<(Value, RpcNode), RpcFailure> {
        let first = self.active();
        let mut reasons = [String::new(), String::new()];
        for node in [first, first.other()] {
            match self.call_one(node, method, &params, self.timeout).await {
                Ok(v) => {
                    self.record(node, Ok(()));
                    if node == RpcNode::Primary {
                        *self.lock_failed() = None;
                    } else if !reasons[RpcNode::Primary.index()].is_empty() {
                        self.metrics.failovers.inc();
                    }
                    return Ok((v, node));
                }
                Err(reason) => {
                    let reason = reason.to_string();
                    self.record(node, Err(&reason));
                    if node == RpcNode::Primary {
                        *self.lock_failed() = Some(Instant::now());
                    }
                    reasons[node.index()] = reason;
                }
            }
        }
        let [primary, backup] = reasons;
        Err(RpcFailure { primary, backup })
    }

    /// One call to one node, no failover, no error accounting (health probes use it).
    pub async fn call_one(
        &self,
        node: RpcNode,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<Value, RpcReason> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": id });
        let sent = self.http.post(self.url(node)).json(&body).timeout(timeout).send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Err(RpcReason::Timeout),
            Err(e) if e.is_connect() => return Err(RpcReason::Connect),
            Err(_) => return Err(RpcReason::Transport),
        };
        if !resp.status().is_success() {
            return Err(RpcReason::Http(resp.status().as_u16()));
        }
        let answer: Value = match resp.json().await {
            Ok(v) => v,
            Err(e) if e.is_timeout() => return Err(RpcReason::Timeout),
            Err(_) => return Err(RpcReason::BadResponse),
        };
        if answer.get("error").is_some() {
            return Err(RpcReason::RpcError);
        }
        answer.get("result").cloned().ok_or(RpcReason::BadResponse)
    }

    fn record(&self, node: RpcNode, outcome: Result<(), &str>) {
        let m = &self.metrics;
        match outcome {
            Ok(()) => {
                m.requests.with_label_values(&[node.label(), "ok"]).inc();
            }
            Err(reason) => {
                m.requests.with_label_values(&[node.label(), "error"]).inc();
                m.errors.with_label_values(&[node.label(), reason]).inc();
            }
        }
    }

    fn lock_failed(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.primary_failed_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Parses an `eth_blockNumber` answer (`"0x4c4b40"`).
pub fn parse_block_number(v: &Value) -> Option<u64> {
    let s = v.as_str()?;
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}
