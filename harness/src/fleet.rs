//! `gameday mocks`: the embedded mock fleet as its own process.
//!
//! Starts the chosen services on loopback (runbook ports or ephemeral), writes the
//! manifest `{name: url}` atomically, prints it, and serves until Ctrl-C or SIGTERM,
//! then shuts every mock down gracefully. Running one service alone (`--only midnight`)
//! gives the enclave-crash drill a real process to kill.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

use gameday_mocks::{MockContext, PortPolicy, RunningService, ServiceId, ServiceProfile, TimeScale};

use crate::report::write_atomic;
use crate::Error;

/// What `gameday mocks` was asked to start.
#[derive(Clone, Debug, Default)]
pub struct FleetOptions {
    /// Services to start; empty = all.
    pub only: Vec<ServiceId>,
    /// Ephemeral or runbook ports.
    pub ports: PortPolicy,
    /// Where to write the manifest.
    pub manifest: Option<PathBuf>,
    /// Simulated seconds per real second.
    pub time_scale: TimeScale,
    /// Seed of the mocks' random draws.
    pub seed: u64,
}

/// Starts the fleet; on any failure, stops what already started and returns the error.
pub async fn start(opts: &FleetOptions, ctx: &MockContext) -> Result<Vec<RunningService>, Error> {
    let ids: Vec<ServiceId> = if opts.only.is_empty() { ServiceId::ALL.to_vec() } else { opts.only.clone() };
    let mut running = Vec::new();
    for id in ids {
        match gameday_mocks::start(ServiceProfile::default_for(id), ctx).await {
            Ok(svc) => running.push(svc),
            Err(e) => {
                ctx.shutdown.cancel();
                for svc in running {
                    svc.join().await;
                }
                return Err(e.into());
            }
        }
    }
    Ok(running)
}

/// Runs the fleet until `shutdown` resolves; prints and writes the manifest once up.
pub async fn serve(opts: &FleetOptions, shutdown: impl Future<Output = ()>) -> Result<BTreeMap<String, String>, Error> {
    let ctx = MockContext { scale: opts.time_scale, seed: opts.seed, ports: opts.ports, ..MockContext::default() };
    let running = start(opts, &ctx).await?;
    let manifest = gameday_mocks::services::manifest(&running);
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| Error::RunFailed(e.to_string()))?;
    if let Some(path) = &opts.manifest {
        if let Err(e) = write_atomic(path, json.as_bytes()) {
            ctx.shutdown.cancel();
            return Err(e);
        }
    }
    println!("{json}");
    shutdown.await;
    ctx.shutdown.cancel();
    for svc in running {
        svc.join().await;
    }
    Ok(manifest)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
}
