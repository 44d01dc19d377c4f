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

pub use crate::profile::{parse_profile, profile_from_json, profile_to_json, ProfileError};
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
    pub fn context(&self) -> Result<MockContext, FleetError> {
        let mut fixed = BTreeMap::new();
        for (name, port) in &self.fixed_ports {
            let runbook = self
                .ids()
                .into_iter()
                .find_map(|id| gameday_mocks::services::runbook_port(&self.profile_for(id), name))
                .ok_or_else(|| FleetError::UnknownPort { name: name.clone(), port: *port })?;
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

/// Why the fleet cannot start as asked (bad usage: exit 2), or cannot say where it is (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// `--port NAME=PORT` names an endpoint no started service has.
    #[error("--port {name}={port}: no started service has an endpoint `{name}`")]
    UnknownPort {
        /// The endpoint's name.
        name: String,
        /// The port asked for.
        port: u16,
    },
    /// `--profile FILE` cannot be read.
    #[error("--profile {0}")]
    ProfileUnread(crate::scenario::ScenarioError),
    /// `--profile FILE` is not a profile of its service.
    #[error("--profile {}: {reason}", path.display())]
    Profile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: ProfileError,
    },
    /// The manifest cannot be written as JSON.
    #[error("{0}")]
    Manifest(serde_json::Error),
}

impl FleetError {
    /// The exit code: a refused flag or profile is bad usage; no manifest a failed run.
    pub fn exit(&self) -> crate::Exit {
        match self {
            Self::Manifest(_) => crate::Exit::RunFailed,
            _ => crate::Exit::Usage,
        }
    }
}

/// Reads `--profile FILE` for service `id`: a JSON file (`.json`) or the TOML table a
/// scenario's `[targets.<id>.profile]` holds (any other name).
pub fn read_profile(id: ServiceId, path: &Path) -> Result<ServiceProfile, FleetError> {
    let text = crate::scenario::read_text(path).map_err(FleetError::ProfileUnread)?;
    let profile =
        parse_profile(id, path, &text).map_err(|reason| FleetError::Profile { path: path.to_path_buf(), reason })?;
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
    let json = serde_json::to_string_pretty(&manifest).map_err(FleetError::Manifest)?;
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
