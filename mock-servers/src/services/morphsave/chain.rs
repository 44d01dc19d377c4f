//! The Morph L2 JSON-RPC nodes: a primary (`morphsave-rpc`) and a backup
//! (`morphsave-rpc-backup`), each its own listener, both following one simulated chain.
//!
//! `POST /` takes a JSON-RPC 2.0 request or batch, as the runbook's
//! `curl -X POST --data '{"jsonrpc":"2.0","method":"eth_blockNumber",...}' $MORPH_RPC_URL`
//! sends. Methods: `eth_blockNumber` (the chain's head: `genesis_block` plus one block
//! per `block_time` of simulated time since start, as hex), `eth_chainId`, `net_version`,
//! `eth_sendRawTransaction` (answers the transaction hash). As geth does, an unknown
//! method is an in-band error (-32601, HTTP 200); a body that is not JSON (-32700) or not
//! a request (-32600) is answered with HTTP 400. Each call takes `rpc_time`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use prometheus::IntCounterVec;
use rand::rngs::StdRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::kit::{ApiError, Sampler, TimeScale};

/// The simulated chain both nodes serve.
#[derive(Debug)]
pub struct Chain {
    /// Block number at start.
    pub genesis_block: u64,
    /// Simulated time per block.
    pub block_time: Duration,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The run's time scale.
    pub scale: TimeScale,
    started: Instant,
}

impl Chain {
    /// A chain whose head is `genesis_block` now.
    pub fn new(genesis_block: u64, block_time: Duration, chain_id: u64, scale: TimeScale) -> Self {
        Self { genesis_block, block_time, chain_id, scale, started: Instant::now() }
    }

    /// The head block now.
    pub fn block_number(&self) -> u64 {
        let sim = self.scale.to_sim(self.started.elapsed());
        let blocks = sim.as_nanos() / self.block_time.as_nanos().max(1);
        self.genesis_block.saturating_add(u64::try_from(blocks).unwrap_or(u64::MAX))
    }
}

/// One node's state.
pub struct Node {
    /// `primary` or `backup` (metric label).
    pub name: &'static str,
    /// The chain it follows.
    pub chain: Arc<Chain>,
    /// Per-call service time.
    pub time: Sampler,
    /// Draws for the service time.
    pub rng: Mutex<StdRng>,
    /// `morphsave_rpc_node_requests_total{node,method}`.
    pub served: IntCounterVec,
}

/// The node's routes (`POST /`).
pub fn router(node: Arc<Node>) -> Router {
    Router::new().route("/", post(handle)).with_state(node)
}

fn rpc_error(id: &Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

async fn handle(State(node): State<Arc<Node>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(rpc_error(&Value::Null, -32700, "Parse error"))).into_response();
    };
    let t = {
        let mut rng = node.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        node.time.sample(&mut *rng)
    };
    tokio::time::sleep(node.chain.scale.to_real(t)).await;
    match request {
        Value::Array(calls) if !calls.is_empty() => {
            Json(Value::Array(calls.iter().map(|c| answer(&node, c)).collect())).into_response()
        }
        Value::Object(_) => {
            let out = answer(&node, &request);
            let bad = out["error"]["code"] == json!(-32600);
            let status = if bad { StatusCode::BAD_REQUEST } else { StatusCode::OK };
            (status, Json(out)).into_response()
        }
        _ => (StatusCode::BAD_REQUEST, Json(rpc_error(&Value::Null, -32600, "Invalid Request"))).into_response(),
    }
}

/// Answers one call object.
fn answer(node: &Node, call: &Value) -> Value {
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    let (Some("2.0"), Some(method)) = (call["jsonrpc"].as_str(), call["method"].as_str()) else {
        return rpc_error(&id, -32600, "Invalid Request: need \"jsonrpc\": \"2.0\" and a \"method\"");
    };
    let result = match method {
        "eth_blockNumber" => Ok(json!(format!("{:#x}", node.chain.block_number()))),
        "eth_chainId" => Ok(json!(format!("{:#x}", node.chain.chain_id))),
        "net_version" => Ok(json!(node.chain.chain_id.to_string())),
        "eth_sendRawTransaction" => send_raw(&call["params"]),
        _ => Err((-32601, format!("the method {method} does not exist/is not available"))),
    };
    let label = if result.as_ref().is_err_and(|(code, _)| *code == -32601) { "unknown" } else { method };
    node.served.with_label_values(&[node.name, label]).inc();
    match result {
        Ok(v) => json!({ "jsonrpc": "2.0", "id": id, "result": v }),
        Err((code, message)) => rpc_error(&id, code, &message),
    }
}

fn send_raw(params: &Value) -> Result<Value, (i64, String)> {
    let raw = params.get(0).and_then(Value::as_str).unwrap_or_default();
    let hex_part = raw.strip_prefix("0x").unwrap_or(raw);
    match hex::decode(hex_part) {
        Ok(bytes) if !bytes.is_empty() => Ok(json!(format!("0x{}", hex::encode(Sha256::digest(&bytes))))),
        _ => Err((-32602, "invalid argument 0: expected a 0x-prefixed hex transaction".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_head_advances_one_block_per_block_time_of_simulated_time() {
        let scale = TimeScale::new(10.0).unwrap_or_default();
        let chain = Chain::new(1000, Duration::from_secs(2), 2810, scale);
        assert_eq!(chain.block_number(), 1000);
        // 1 real second at 10x is 10 simulated seconds: 5 blocks of 2 s.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(chain.block_number(), 1005);
    }
}
