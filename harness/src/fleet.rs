//! `gameday mocks`: the embedded mock fleet as its own process.
//!
//! Starts the chosen services on loopback (runbook ports or ephemeral), writes the
//! manifest `{name: url}` atomically, prints it, and serves until Ctrl-C or SIGTERM,
//! then shuts every mock down gracefully. Running one service alone (`--only midnight`)
//! gives the enclave-crash drill a real process to kill; `--profile FILE` sets that
//! service's profile and `--port NAME=PORT` pins a listener's port, so the drill's
//! supervisor restarts it on the same URLs (or with a bad profile, for the bad-PCR drill).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};

use gameday_mocks::{MockContext, PortPolicy, RunningService, ServiceId, ServiceProfile, TimeScale};
use serde_json::Value;

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
    /// The profile of one of the services (the others run their defaults).
    pub profile: Option<ServiceProfile>,
    /// Fixed ports by manifest endpoint name (`midnight` -> 41234), winning over `ports`.
    pub fixed_ports: BTreeMap<String, u16>,
}

impl FleetOptions {
    fn ids(&self) -> Vec<ServiceId> {
        if self.only.is_empty() {
            ServiceId::ALL.to_vec()
        } else {
            self.only.clone()
        }
    }

    fn profile_for(&self, id: ServiceId) -> ServiceProfile {
        match &self.profile {
            Some(p) if p.id() == id => p.clone(),
            _ => ServiceProfile::default_for(id),
        }
    }

    /// The mocks' context: clock, seed, port policy and the fixed ports mapped to the
    /// runbook ports their endpoints stand for (a name no started service has is an error).
    pub fn context(&self) -> Result<MockContext, Error> {
        let mut fixed = BTreeMap::new();
        for (name, port) in &self.fixed_ports {
            let runbook = self
                .ids()
                .into_iter()
                .find_map(|id| gameday_mocks::services::runbook_port(&self.profile_for(id), name))
                .ok_or_else(|| {
                    Error::Usage(format!("--port {name}={port}: no started service has an endpoint `{name}`"))
                })?;
            fixed.insert(runbook, *port);
        }
        Ok(MockContext {
            scale: self.time_scale,
            seed: self.seed,
            ports: self.ports,
            fixed_ports: fixed,
            ..MockContext::default()
        })
    }
}

/// A profile as JSON (the form `--profile` reads and the drill supervisor writes).
pub fn profile_to_json(profile: &ServiceProfile) -> Result<Value, Error> {
    let v = match profile {
        ServiceProfile::Midnight(p) => serde_json::to_value(p),
        ServiceProfile::Scribe(p) => serde_json::to_value(p),
        ServiceProfile::Grahmos(p) => serde_json::to_value(p),
        ServiceProfile::Pxl(p) => serde_json::to_value(p),
        ServiceProfile::Morphsave(p) => serde_json::to_value(p),
    };
    v.map_err(|e| Error::Usage(format!("{} profile: {e}", profile.id())))
}

/// `id`'s profile from JSON: its defaults with the fields `value` sets (unknown fields refused).
pub fn profile_from_json(id: ServiceId, value: Value) -> Result<ServiceProfile, String> {
    fn de<P: serde::de::DeserializeOwned>(v: Value) -> Result<P, String> {
        serde_path_to_error::deserialize(v).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }
    Ok(match id {
        ServiceId::Midnight => ServiceProfile::Midnight(de(value)?),
        ServiceId::Scribe => ServiceProfile::Scribe(de(value)?),
        ServiceId::Grahmos => ServiceProfile::Grahmos(de(value)?),
        ServiceId::Pxl => ServiceProfile::Pxl(de(value)?),
        ServiceId::Morphsave => ServiceProfile::Morphsave(de(value)?),
    })
}

/// Reads `--profile FILE` for service `id`: a JSON file (`.json`) or the TOML table a
/// scenario's `[targets.<id>.profile]` holds (any other name).
pub fn read_profile(id: ServiceId, path: &Path) -> Result<ServiceProfile, Error> {
    let usage = |e: String| Error::Usage(format!("--profile {}: {e}", path.display()));
    let text = crate::scenario::read_text(path).map_err(|e| Error::Usage(format!("--profile {e}")))?;
    let value: Result<Value, String> = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        toml::from_str::<toml::Table>(&text)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::to_value(t).map_err(|e| e.to_string()))
    };
    let profile = value.and_then(|v| profile_from_json(id, v)).map_err(|e| usage(format!("{id} profile: {e}")))?;
    profile.validate().map_err(|e| usage(e.to_string()))?;
    Ok(profile)
}

/// Starts the fleet; on any failure, stops what already started and returns the error.
pub async fn start(opts: &FleetOptions, ctx: &MockContext) -> Result<Vec<RunningService>, Error> {
    let mut running = Vec::new();
    for id in opts.ids() {
        match gameday_mocks::start(opts.profile_for(id), ctx).await {
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
    let ctx = opts.context()?;
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
