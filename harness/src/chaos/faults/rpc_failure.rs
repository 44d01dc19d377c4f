//! Fault `rpc-failure`: MorphSave's primary blockchain RPC node fails.
//!
//! The primary node's listener really closes (MorphSave's listener switch): the app's
//! RPC calls to it fail (`morphsave_rpc_errors_total`, `morphsave_rpc_up{endpoint=
//! "primary"} 0`) and `/api/health` turns `degraded`. Recovery `rpc-failover` is the
//! runbook's "Switch to backup RPC": it checks the backup node answers `eth_blockNumber`
//! (the runbook's diagnosis call) and that the app's calls are now answered by the
//! backup (`/api/blockchain/status` reports `"rpc": "backup"`); the mock's client makes
//! that switch itself, as a client with a fallback URL would. Recovery `rollback` (and
//! the undo, idempotent) brings the primary back.

use std::time::Duration;

use gameday_mocks::services::morphsave::{Control, Listener};
use serde_json::{json, Value};

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::chaos::undo::{BoxFuture, Injected, Rollback};
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::rpc_failure::Spec;

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(_spec: &Spec) -> Vec<String> {
    vec![
        "close MorphSave's primary RPC node (morphsave-rpc): RPC calls to it fail".into(),
        "recovery `rpc-failover`: check the backup RPC answers and the app's calls go to it".into(),
        "recovery `rollback` and rollback: bring the primary RPC node back on its port".into(),
    ]
}

/// Whether the target must run as its own process: no (the embedded mock's hooks).
pub fn needs_process(_spec: &Spec) -> bool {
    false
}

/// Checks that MorphSave exists and both RPC nodes are up before anything is injected.
pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError> {
    let control = lookup::morphsave(env, spec.target.as_deref())?;
    for l in [Listener::RpcPrimary, Listener::RpcBackup] {
        if !control.is_up(l) {
            return Err(FaultError::AlreadyDown(l.endpoint_name().to_string()));
        }
    }
    Ok(())
}

/// Closes the primary RPC node and returns the undo (bring it back).
pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError> {
    let control = lookup::morphsave(env, spec.target.as_deref())?;
    control.take_down(Listener::RpcPrimary).await?;
    Ok(Injected {
        description: format!("MorphSave primary RPC down ({} closed)", control.addr(Listener::RpcPrimary)),
        undo: Box::new(PrimaryUp(control.clone())),
    })
}

/// Runs a built-in recovery action: `rpc-failover` or `rollback`.
pub async fn recover(spec: &Spec, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
    let control = lookup::morphsave(env, spec.target.as_deref())?;
    match action {
        RecoveryAction::RpcFailover => failover(control).await,
        RecoveryAction::Rollback => {
            PrimaryUp(control.clone()).rollback().await?;
            Ok(format!("primary RPC up again on {}", control.addr(Listener::RpcPrimary)))
        }
        other => Err(FaultError::no_recovery("rpc-failure", "morphsave", other, "`rpc-failover` or `rollback`")),
    }
}

fn http(what: String) -> impl FnOnce(reqwest::Error) -> FaultError {
    move |source| FaultError::Http { what, source }
}

async fn failover(control: &Control) -> Result<String, FaultError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .redirect(crate::http_guard::no_redirects())
        .build()
        .map_err(|source| FaultError::Http { what: "HTTP client".into(), source })?;
    let backup = format!("http://{}", control.addr(Listener::RpcBackup));
    let call = json!({"jsonrpc": "2.0", "method": "eth_blockNumber", "params": [], "id": 1});
    let answer: Value = client
        .post(&backup)
        .json(&call)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(http(format!("backup RPC {backup}")))?
        .json()
        .await
        .map_err(http(format!("backup RPC {backup}")))?;
    let block = answer.get("result").cloned().unwrap_or(Value::Null);
    if block.is_null() {
        return Err(FaultError::BadAnswer { what: format!("backup RPC {backup}"), answer });
    }
    let app = format!("http://{}/api/blockchain/status", control.addr(Listener::App));
    let status: Value = client
        .get(&app)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(http(app.clone()))?
        .json()
        .await
        .map_err(http(app.clone()))?;
    let via = status.get("rpc").and_then(Value::as_str).unwrap_or("?");
    if via != "backup" && !control.is_up(Listener::RpcPrimary) {
        return Err(FaultError::NotFailedOver(via.to_owned()));
    }
    Ok(format!("switched to the backup RPC {backup} (block {block}); the app's calls are answered by `{via}`"))
}

/// The undo: the primary RPC node up again.
pub struct PrimaryUp(pub Control);

impl Rollback for PrimaryUp {
    fn describe(&self) -> String {
        format!("bring MorphSave's primary RPC up on {}", self.0.addr(Listener::RpcPrimary))
    }

    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
        Box::pin(async move { Ok(self.0.bring_up(Listener::RpcPrimary).await?) })
    }

    fn rollback_blocking(&self) -> Result<(), FaultError> {
        let undo = PrimaryUp(self.0.clone());
        lookup::block_on_undo(async move { undo.rollback().await }, Duration::from_secs(10))
    }
}
