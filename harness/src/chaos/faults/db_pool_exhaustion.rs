//! Fault `db-pool-exhaustion`: MorphSave's PostgreSQL pool held until exhausted.
//!
//! The fault takes the pool's connections and keeps them (MorphSave's
//! `hold_db_connections`, waiting for busy ones to come back): the app's queries queue
//! for a connection and time out as the mock models (`db_pool_timeout`), like a leak or
//! a stuck transaction. Recovery `release-pool` (or `rollback`) gives them all back, as
//! the runbook's "restart the app / kill idle connections" does. The undo releases them
//! (idempotent, and synchronous: no runtime needed).

use std::time::Duration;

use gameday_mocks::services::morphsave::Control;

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::chaos::undo::{BoxFuture, Injected, Rollback};
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::db_pool_exhaustion::Spec;

/// How long taking the connections may wait for busy ones.
const HOLD_WITHIN: Duration = Duration::from_secs(10);

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(spec: &Spec) -> Vec<String> {
    let n = spec.connections.map_or("every".into(), |n| n.to_string());
    vec![
        format!("hold {n} MorphSave database connection(s): queries wait for the pool and time out"),
        "recovery `release-pool` and rollback: release the held connections".into(),
    ]
}

/// Whether the target must run as its own process: no (the embedded mock's hooks).
pub fn needs_process(_spec: &Spec) -> bool {
    false
}

/// Checks that MorphSave exists and the pool has the connections asked for.
pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError> {
    let control = lookup::morphsave(env, spec.target.as_deref())?;
    let size = control.db_pool().size;
    match spec.connections {
        Some(0) => Err(FaultError::NoConnections),
        Some(n) if n > size => Err(FaultError::PoolTooSmall { connections: n, size }),
        _ => Ok(()),
    }
}

/// Holds the connections (up to 10 s to collect busy ones) and returns the undo.
pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError> {
    let control = lookup::morphsave(env, spec.target.as_deref())?;
    let size = control.db_pool().size;
    let want = spec.connections.unwrap_or(size).min(size);
    let undo = Box::new(Release(control.clone()));
    // On timeout the connections taken so far stay held: the undo gives them back.
    let held = match tokio::time::timeout(HOLD_WITHIN, control.hold_db_connections(want)).await {
        Ok(n) => n,
        Err(_) => {
            let _ = undo.rollback_blocking();
            return Err(FaultError::NotHeld { want, within: HOLD_WITHIN });
        }
    };
    Ok(Injected { description: format!("holding {held} of {size} MorphSave DB connections"), undo })
}

/// Runs a built-in recovery action: `release-pool` or `rollback`.
pub async fn recover(spec: &Spec, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
    let control = lookup::morphsave(env, spec.target.as_deref())?;
    match action {
        RecoveryAction::ReleasePool | RecoveryAction::Rollback => {
            let n = control.release_db_connections();
            Ok(format!("released {n} MorphSave DB connection(s)"))
        }
        other => Err(FaultError::no_recovery("db-pool-exhaustion", "morphsave", other, "`release-pool` or `rollback`")),
    }
}

/// The undo: every held connection released.
pub struct Release(pub Control);

impl Rollback for Release {
    fn describe(&self) -> String {
        "release MorphSave's held DB connections".into()
    }

    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
        Box::pin(async move { self.rollback_blocking() })
    }

    fn rollback_blocking(&self) -> Result<(), FaultError> {
        self.0.release_db_connections();
        Ok(())
    }
}
