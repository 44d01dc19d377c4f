//! The app's routes (endpoint `morphsave`, runbook port 3000).
//!
//! - `GET /api/health`: pings the database through the pool, the cache, and both RPC
//!   nodes (`eth_blockNumber`), each within `health_probe_timeout`. `healthy` (200) when
//!   all answer; `degraded` (200) when the cache or one RPC node does not; `unhealthy`
//!   (503, so the runbook's `curl -f` fails) when the database or both RPC nodes do not.
//! - `GET /api/savings/{account_id}`: cache lookup, and on a miss (or with the cache
//!   down) a database read through the pool, then a cache fill.
//! - `POST /api/deposits` `{"account_id", "amount"}`: the deposit's transaction is sent
//!   to the chain (`eth_sendRawTransaction`, with failover), recorded in a database write
//!   transaction, and the account's cache entry invalidated; 201 with the new balance.
//! - `GET /api/blockchain/status`: `eth_blockNumber` with failover; names the node used.
//! - `GET /metrics` (and `/api/metrics`): the kit's set plus [`super::metrics`]. Each
//!   scrape runs `/api/health`'s checks again ([`check_dependencies`]) for the health
//!   gauges, except that it never waits for a database connection: the database is up
//!   for a scrape when the pool has a free connection now (a scrape that waited on an
//!   exhausted pool would time out and hide the very pool gauges an alert reads). The
//!   other checks count like any health check's (a cache `PING` while the cache is down
//!   is a cache error), and take up to `health_probe_timeout` while a dependency hangs.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use rand::rngs::StdRng;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::cache::Lookup;
use super::metrics::DependencyHealth;
use super::rpc_client::{parse_block_number, RpcFailure, RpcNode, RpcReason};
use super::{metrics, Shared};
use crate::kit::errors::parse_json;
use crate::kit::metrics::{self as kit_metrics};
use crate::kit::serve::finish_router;
use crate::kit::{ApiError, Sampler};

/// Simulated time of the health check's `SELECT 1`.
const PING_TIME: Duration = Duration::from_millis(1);
/// Largest deposit accepted, in currency units.
const MAX_DEPOSIT: f64 = 1_000_000.0;

/// The app's routes with fallbacks, body limit and metrics.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    let routes = Router::new()
        .route("/api/health", get(health))
        .route("/api/savings/{account_id}", get(savings))
        .route("/api/deposits", post(deposit))
        .route("/api/blockchain/status", get(blockchain_status))
        .route("/metrics", get(metrics_text))
        .route("/api/metrics", get(metrics_text))
        .with_state(Arc::clone(&shared));
    finish_router(routes, shared.profile.max_body_bytes)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), metrics::track))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared.kit), kit_metrics::track))
}

/// Accounts `acct-0001`.. with seeded balances (in cents) up to 10 000.00.
pub(super) fn seed_accounts(n: usize, rng: &Mutex<StdRng>) -> BTreeMap<String, u64> {
    let mut rng = rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    (1..=n).map(|i| (format!("acct-{i:04}"), rng.random_range(0..=1_000_000))).collect()
}

fn pool_timeout(s: &Shared) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "db_pool_timeout",
        format!(
            "timed out fetching a new connection from the connection pool (connection limit {}, timeout {})",
            s.profile.db_pool_size, s.profile.db_pool_timeout.0
        ),
    )
    .with("pool_size", s.profile.db_pool_size)
    .retry_after(1)
}

fn rpc_unavailable(f: RpcFailure) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "rpc_unavailable", "neither the primary nor the backup RPC node answered")
        .with("errors", json!({ "primary": f.primary, "backup": f.backup }))
}

/// One query through the pool.
async fn query(s: &Shared, sampler: &Sampler) -> Result<(), ApiError> {
    let service = s.sample(sampler);
    s.db.query(service, s.real(s.profile.db_pool_timeout.get())).await.map_err(|_| pool_timeout(s))
}

fn balance(s: &Shared, account: &str) -> Option<u64> {
    s.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(account).copied()
}

fn units(cents: u64) -> f64 {
    cents as f64 / 100.0
}

async fn savings(State(s): State<Arc<Shared>>, Path(account): Path<String>) -> Result<Json<Value>, ApiError> {
    if balance(&s, &account).is_none() {
        // Nothing cached for an account that does not exist: the database says so.
        query(&s, &s.db_read).await?;
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "account_not_found",
            format!("no savings account `{account}`"),
        ));
    }
    let lookup = s.cache.get().await;
    if lookup != Lookup::Hit {
        query(&s, &s.db_read).await?;
        if lookup == Lookup::Miss {
            s.cache.set().await;
        }
    }
    let cents = balance(&s, &account).unwrap_or_default();
    Ok(Json(json!({
        "account_id": account,
        "balance": units(cents),
        "balance_cents": cents,
        "currency": "USDC",
        "source": if lookup == Lookup::Hit { "cache" } else { "database" },
        "cache": match lookup { Lookup::Hit => "hit", Lookup::Miss => "miss", Lookup::Down => "down" },
    })))
}

#[derive(Deserialize)]
struct DepositRequest {
    account_id: Option<Value>,
    amount: Option<Value>,
}

/// Checks a deposit request: the account exists, the amount is a positive number of at
/// most [`MAX_DEPOSIT`]; returns the account and the amount in cents.
fn check_deposit(s: &Shared, req: DepositRequest) -> Result<(String, u64), ApiError> {
    let Some(Value::String(account)) = req.account_id else {
        return Err(ApiError::bad_request("invalid_account", "account_id must be a string such as \"acct-0001\""));
    };
    let amount = req.amount.as_ref().and_then(Value::as_f64).unwrap_or(f64::NAN);
    if !(amount > 0.0 && amount <= MAX_DEPOSIT) {
        return Err(ApiError::bad_request(
            "invalid_amount",
            format!("amount must be a number greater than 0 and at most {MAX_DEPOSIT}"),
        ));
    }
    let cents = (amount * 100.0).round() as u64;
    if cents == 0 {
        return Err(ApiError::bad_request("invalid_amount", "amount rounds to 0.00"));
    }
    if balance(s, &account).is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "account_not_found",
            format!("no savings account `{account}`"),
        ));
    }
    Ok((account, cents))
}

async fn deposit(State(s): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let (account, cents) = check_deposit(&s, parse_json(&body?)?)?;
    let n = s.next_deposit.fetch_add(1, Ordering::Relaxed);
    let raw = format!("0x{}", hex::encode(format!("morphsave-deposit:{n}:{account}:{cents}")));
    let (tx_hash, node) = s.rpc.call("eth_sendRawTransaction", json!([raw])).await.map_err(rpc_unavailable)?;
    query(&s, &s.db_write).await?;
    let new_balance = {
        let mut accounts = s.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let b = accounts.entry(account.clone()).or_default();
        *b = b.saturating_add(cents);
        *b
    };
    s.cache.set().await;
    let body = json!({
        "deposit_id": format!("dep-{n:06}"),
        "account_id": account,
        "amount": units(cents),
        "balance": units(new_balance),
        "tx_hash": tx_hash,
        "rpc": node.label(),
        "status": "confirmed",
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn blockchain_status(State(s): State<Arc<Shared>>) -> Result<Json<Value>, ApiError> {
    let (v, node) = s.rpc.call("eth_blockNumber", json!([])).await.map_err(rpc_unavailable)?;
    let Some(block) = parse_block_number(&v) else {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "rpc_bad_response",
            format!("eth_blockNumber answered {v}"),
        ));
    };
    s.metrics.block_number.set(i64::try_from(block).unwrap_or(i64::MAX));
    Ok(Json(json!({
        "block_number": block,
        "block_number_hex": v,
        "chain_id": s.profile.chain_id,
        "rpc": node.label(),
        "rpc_url": s.rpc.url(node),
    })))
}

/// `(up, latency_ms, detail)` of one dependency check.
type Check = (bool, f64, Value);

async fn check_db(s: &Shared, timeout: Duration) -> Check {
    let started = Instant::now();
    let wait = timeout.min(s.real(s.profile.db_pool_timeout.get()));
    let ok = s.db.query(s.real(PING_TIME), wait).await.is_ok();
    let p = s.db.snapshot();
    let pool = json!({
        "size": p.size,
        "in_use": p.in_use,
        "idle": p.size.saturating_sub(p.in_use),
        "waiting": p.waiting,
        "usage_ratio": p.in_use as f64 / p.size.max(1) as f64,
    });
    (ok, latency_ms(s, started), pool)
}

async fn check_rpc(s: &Shared, node: RpcNode, timeout: Duration) -> Check {
    let started = Instant::now();
    let answer = s.rpc.call_one(node, "eth_blockNumber", &json!([]), timeout).await;
    let latency = latency_ms(s, started);
    let mut detail = json!({ "url": s.rpc.url(node) });
    let up = match answer.as_ref().ok().and_then(parse_block_number) {
        Some(block) => {
            detail["block_number"] = json!(block);
            true
        }
        None => {
            detail["error"] = json!(answer.err().unwrap_or(RpcReason::BadResponse).to_string());
            false
        }
    };
    (up, latency, detail)
}

fn latency_ms(s: &Shared, started: Instant) -> f64 {
    s.scale.to_sim(started.elapsed()).as_secs_f64() * 1000.0
}

fn up_down(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}

fn with_status(up: bool, latency: f64, mut detail: Value) -> Value {
    detail["status"] = json!(up_down(up));
    detail["latency_ms"] = json!(latency);
    detail
}

/// One run of the dependency checks: what `/api/health` answers from, and what each
/// `/metrics` scrape runs again for the health gauges, so the two cannot disagree.
pub(super) struct Dependencies {
    db: Check,
    cache: (bool, f64),
    primary: Check,
    backup: Check,
}

impl Dependencies {
    fn rpc_status(&self) -> &'static str {
        match (self.primary.0, self.backup.0) {
            (true, true) => "up",
            (false, false) => "down",
            _ => "degraded",
        }
    }

    /// `/api/health`'s status and HTTP code.
    fn verdict(&self) -> (&'static str, StatusCode) {
        let rpc = self.rpc_status();
        if !self.db.0 || rpc == "down" {
            ("unhealthy", StatusCode::SERVICE_UNAVAILABLE)
        } else if !self.cache.0 || rpc == "degraded" {
            ("degraded", StatusCode::OK)
        } else {
            ("healthy", StatusCode::OK)
        }
    }

    /// The verdicts as the health gauges export them.
    pub(super) fn gauges(&self) -> DependencyHealth {
        DependencyHealth {
            database: self.db.0,
            cache: self.cache.0,
            rpc_primary: self.primary.0,
            rpc_backup: self.backup.0,
            answers_200: self.verdict().1 == StatusCode::OK,
        }
    }
}

/// Runs every check at once, each within `health_probe_timeout`.
pub(super) async fn check_dependencies(s: &Shared) -> Dependencies {
    check_with(s, check_db(s, s.real(s.profile.health_probe_timeout.get()))).await
}

/// [`check_dependencies`] for a scrape: the database check does not wait for a connection.
async fn check_for_scrape(s: &Shared) -> Dependencies {
    let db = async {
        let p = s.db.snapshot();
        let pool = json!({ "size": p.size, "in_use": p.in_use, "waiting": p.waiting });
        (p.in_use < p.size, 0.0, pool)
    };
    check_with(s, db).await
}

async fn check_with(s: &Shared, db: impl std::future::Future<Output = Check>) -> Dependencies {
    let timeout = s.real(s.profile.health_probe_timeout.get());
    let cache = async {
        let started = Instant::now();
        let up = s.cache.ping().await;
        (up, latency_ms(s, started))
    };
    let (db, cache, primary, backup) =
        tokio::join!(db, cache, check_rpc(s, RpcNode::Primary, timeout), check_rpc(s, RpcNode::Backup, timeout),);
    Dependencies { db, cache, primary, backup }
}

async fn health(State(s): State<Arc<Shared>>) -> Response {
    let d = check_dependencies(&s).await;
    let (status, code) = d.verdict();
    let body = json!({
        "status": status,
        "version": s.profile.version,
        "uptime_s": s.scale.to_sim(s.started.elapsed()).as_secs(),
        "services": {
            "database": with_status(d.db.0, d.db.1, json!({ "pool": d.db.2 })),
            "cache": {
                "status": up_down(d.cache.0),
                "latency_ms": d.cache.1,
                "hit_ratio": s.cache.counts().hit_ratio(),
            },
            "rpc": {
                "status": d.rpc_status(),
                "active": s.rpc.active().label(),
                "primary": with_status(d.primary.0, d.primary.1, d.primary.2),
                "backup": with_status(d.backup.0, d.backup.1, d.backup.2),
            },
        },
    });
    (code, Json(body)).into_response()
}

async fn metrics_text(State(s): State<Arc<Shared>>) -> Response {
    let health = check_for_scrape(&s).await.gauges();
    s.metrics.observe_health(&health);
    s.metrics.observe(&s.db.snapshot(), &s.cache.counts());
    kit_metrics::text_response(s.kit.render())
}
