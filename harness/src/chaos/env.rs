//! The targets a drill can reach: embedded mocks started with their fault hooks, mock
//! processes under a supervisor, or remote URLs (staging, command faults only).
//!
//! [`DrillEnv::start`] starts every service the scenario's load or drills use:
//! - a service given a URL (scenario `url` or `--target svc=URL`) is [`Target::Remote`];
//! - a service a drill's fault must kill or freeze ([`FaultSpec::needs_process`]) runs
//!   as its own process under the supervisor ([`super::supervisor`]);
//! - every other one is an embedded mock, started with its fault hooks (Scribe's
//!   cluster, PXL's and MorphSave's controls, Grahmos's handle) on the mocks' own
//!   runtime, exactly as `gameday run` starts them.
//!
//! [`FaultSpec::needs_process`]: super::fault::FaultSpec::needs_process

use std::collections::BTreeMap;
use std::sync::Arc;

use super::fault_error::FaultError;
use super::grahmos_edge::{start_grahmos_target, GrahmosTarget};
use super::proxy::FaultProxy;
use super::supervisor::Supervisor;

use gameday_mocks::services::{midnight, morphsave, pxl, scribe, Endpoint};
use gameday_mocks::{MockContext, RunningService, ServiceId, ServiceProfile, TimeScale};

use crate::scenario::Scenario;
use crate::targets::Resolved;
use crate::Error;

/// One target a drill can aim a fault at.
#[non_exhaustive]
pub enum Target {
    /// A service reached only by URL (staging): only command faults apply.
    Remote {
        /// Its base URL.
        url: String,
    },
    /// The embedded Midnight proof server.
    Midnight {
        /// Its listeners, the main one first.
        endpoints: Vec<Endpoint>,
    },
    /// The embedded Scribe cluster and its node fault hooks.
    Scribe {
        /// One listener per node, `scribe` (node 1) first.
        endpoints: Vec<Endpoint>,
        /// Stop, start, partition and restore nodes; inspect Raft.
        cluster: scribe::ScribeCluster,
    },
    /// The embedded Grahmos edge with a fault proxy on its backhaul
    /// ([`super::grahmos_edge::start_grahmos_target`]): index, TLS, upstream.
    Grahmos(Arc<GrahmosTarget>),
    /// The embedded PXL Core and its listener switchboard.
    Pxl {
        /// Gateway, core and overlay listeners.
        endpoints: Vec<Endpoint>,
        /// Take a component's listener down and bring it back.
        control: pxl::Control,
    },
    /// The embedded MorphSave app and its fault hooks.
    Morphsave {
        /// The app listener, then the primary and backup RPC nodes.
        endpoints: Vec<Endpoint>,
        /// Database pool, cache and RPC listener hooks.
        control: morphsave::Control,
    },
    /// A mock running as its own process under a supervisor (kill, freeze, restart).
    Process(Arc<Supervisor>),
}

impl Target {
    /// The base URL of the main endpoint (what the load and probes use).
    pub fn base_url(&self) -> String {
        match self {
            Target::Remote { url } => url.trim_end_matches('/').to_owned(),
            Target::Grahmos(g) => g.api_url(),
            Target::Process(p) => p.url(),
            Target::Midnight { endpoints }
            | Target::Scribe { endpoints, .. }
            | Target::Pxl { endpoints, .. }
            | Target::Morphsave { endpoints, .. } => endpoints.first().map(Endpoint::url).unwrap_or_default(),
        }
    }

    /// The base URL of the endpoint called `name` (`scribe-2`, `grahmos-search`, `pxl-core`).
    pub fn endpoint(&self, name: &str) -> Option<String> {
        match self {
            Target::Remote { .. } => None,
            Target::Grahmos(g) => g.running().endpoints.iter().find(|e| e.name == name).map(Endpoint::url),
            Target::Process(p) => p.urls().get(name).cloned(),
            Target::Midnight { endpoints }
            | Target::Scribe { endpoints, .. }
            | Target::Pxl { endpoints, .. }
            | Target::Morphsave { endpoints, .. } => endpoints.iter().find(|e| e.name == name).map(Endpoint::url),
        }
    }

    /// A CA certificate (PEM) clients must trust for it: an embedded Grahmos serving TLS.
    pub fn ca_pem(&self) -> Option<String> {
        match self {
            Target::Grahmos(g) => g.ca_pem(),
            _ => None,
        }
    }

    /// Whether gameday started it (in-process or as a supervised process).
    pub fn is_embedded(&self) -> bool {
        !matches!(self, Target::Remote { .. })
    }
}

/// All targets of one drill run, by the name the scenario uses (`midnight`, `grahmos`, ...).
#[derive(Default)]
pub struct DrillEnv {
    /// Targets by name.
    pub targets: BTreeMap<String, Target>,
    /// The run's time scale (faults and probes convert simulated durations with it).
    pub scale: TimeScale,
    /// The run's seed.
    pub seed: u64,
    /// The embedded services (their serving tasks), for scraping and shutdown.
    services: Vec<RunningService>,
    /// Fault proxies the runner put in front of targets (by target name) for the
    /// `latency` fault: the load is sent through them (see
    /// [`super::faults::latency::wants_proxy`]).
    pub proxies: BTreeMap<String, Arc<FaultProxy>>,
}

impl DrillEnv {
    /// The target called `name`.
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.get(name)
    }

    /// The Grahmos target called `name`.
    pub fn grahmos(&self, name: &str) -> Option<&Arc<GrahmosTarget>> {
        match self.targets.get(name) {
            Some(Target::Grahmos(g)) => Some(g),
            _ => None,
        }
    }

    /// The supervised process behind target `name`, if it runs as one.
    pub fn process(&self, name: &str) -> Option<&Arc<Supervisor>> {
        match self.targets.get(name) {
            Some(Target::Process(s)) => Some(s),
            _ => None,
        }
    }

    /// The base URL the load and probes use for target `name`: through the fault proxy in
    /// front of it, if the runner started one.
    pub fn base_url(&self, name: &str) -> Option<String> {
        let target = self.targets.get(name)?;
        let direct = target.base_url();
        let Some(proxy) = self.proxies.get(name) else { return Some(direct) };
        let mut url = url::Url::parse(&direct).ok()?;
        // Same scheme and host name (a TLS certificate names it), the proxy's port.
        url.set_port(Some(proxy.addr().port())).ok()?;
        Some(url.as_str().trim_end_matches('/').to_owned())
    }

    /// The fault proxy in front of target `name`, if the runner started one.
    pub fn proxy(&self, name: &str) -> Option<&Arc<FaultProxy>> {
        self.proxies.get(name)
    }

    /// The embedded services started in-process.
    pub fn services(&self) -> &[RunningService] {
        &self.services
    }

    /// Every target as the load sees it.
    pub fn resolved(&self) -> BTreeMap<ServiceId, Resolved> {
        self.targets
            .iter()
            .filter_map(|(name, t)| {
                let id = name.parse::<ServiceId>().ok()?;
                let url = self.base_url(name)?;
                Some((id, Resolved { url, embedded: t.is_embedded(), ca_pem: t.ca_pem() }))
            })
            .collect()
    }

    /// Every target's base URL (through its fault proxy, if any) and CA, for probes.
    pub fn endpoints(&self) -> crate::probe::Endpoints {
        (&self.resolved()).into()
    }

    /// Starts every target: `urls` maps each service the scenario uses to its URL (remote)
    /// or `None` (started here). Call it on the mocks' runtime: the serving tasks are
    /// spawned on the current one.
    pub async fn start(
        s: &Scenario,
        urls: BTreeMap<ServiceId, Option<String>>,
        ctx: &MockContext,
    ) -> Result<DrillEnv, Error> {
        let mut env = DrillEnv { scale: ctx.scale, seed: ctx.seed, ..DrillEnv::default() };
        for (id, url) in urls {
            let target = match url {
                Some(url) => Target::Remote { url: url.trim_end_matches('/').to_owned() },
                None if needs_process(s, id) => {
                    // The supervised-process hook: faults that kill or freeze a target
                    // (`needs_process`) get it as its own process (`Target::Process`).
                    let sup = super::supervisor::start_process_target(s.targets.get(id).1, ctx.seed, ctx.scale)
                        .await
                        .map_err(|reason| EnvError::Process { service: id, reason })?;
                    Target::Process(sup)
                }
                None => {
                    let (service, target) = start_embedded(s.targets.get(id).1, ctx).await?;
                    env.services.push(service);
                    target
                }
            };
            env.targets.insert(id.as_str().to_owned(), target);
        }
        env.start_front_proxies(s, ctx).await?;
        Ok(env)
    }
}

impl DrillEnv {
    /// Starts a clean-forwarding fault proxy in front of every target a drill's fault
    /// wants one for (`latency` on the front link); it stops with `ctx.shutdown`.
    async fn start_front_proxies(&mut self, s: &Scenario, ctx: &MockContext) -> Result<(), Error> {
        for d in s.drills.iter().filter(|d| d.fault.wants_front_proxy()) {
            let name = d.fault.named_target().unwrap_or(d.target.get_ref()).to_owned();
            if self.proxies.contains_key(&name) {
                continue;
            }
            let drill = d.name().to_owned();
            let Some(addr) = self.main_addr(&name) else {
                return Err(EnvError::NoProxyTarget { drill, target: name }.into());
            };
            let proxy = match super::proxy::FaultProxy::start(addr, ctx.shutdown.clone()).await.map(Arc::new) {
                Ok(p) => p,
                Err(reason) => return Err(EnvError::Proxy { drill, target: name, reason }.into()),
            };
            self.proxies.insert(name, proxy);
        }
        Ok(())
    }

    /// The socket address behind target `name`'s base URL (`localhost` is 127.0.0.1).
    fn main_addr(&self, name: &str) -> Option<std::net::SocketAddr> {
        let url = url::Url::parse(&self.targets.get(name)?.base_url()).ok()?;
        let ip = match url.host()? {
            url::Host::Domain("localhost") => std::net::IpAddr::from([127, 0, 0, 1]),
            url::Host::Ipv4(ip) => ip.into(),
            url::Host::Ipv6(ip) => ip.into(),
            url::Host::Domain(_) => return None,
        };
        Some(std::net::SocketAddr::new(ip, url.port_or_known_default()?))
    }
}

/// Why a drill's targets could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// A drill puts a fault proxy in front of a target that is neither embedded nor loopback.
    #[error("drill `{drill}`: no embedded or loopback target `{target}` to put a fault proxy in front of")]
    NoProxyTarget {
        /// The drill's name.
        drill: String,
        /// The target's name.
        target: String,
    },
    /// The fault proxy could not listen.
    #[error("drill `{drill}`: fault proxy in front of {target}: {reason}")]
    Proxy {
        /// The drill's name.
        drill: String,
        /// The target's name.
        target: String,
        /// The OS error.
        reason: std::io::Error,
    },
    /// A target a fault kills or freezes could not be started as its own process.
    #[error("{service}: cannot start it as a process: {reason}")]
    Process {
        /// The service.
        service: ServiceId,
        /// Why.
        reason: FaultError,
    },
    /// The Grahmos target could not be started.
    #[error("grahmos: {0}")]
    Grahmos(FaultError),
}

impl EnvError {
    /// The exit code: a target no proxy can stand in front of is bad usage; the rest
    /// failed to start.
    pub fn exit(&self) -> crate::Exit {
        match self {
            Self::NoProxyTarget { .. } => crate::Exit::Usage,
            _ => crate::Exit::RunFailed,
        }
    }
}

/// Whether a drill of `s` aims a fault that needs its own process at `id`.
pub fn needs_process(s: &Scenario, id: ServiceId) -> bool {
    s.drills.iter().any(|d| d.service() == Some(id) && d.fault.needs_process())
}

/// Starts one embedded mock with its fault hooks.
async fn start_embedded(profile: ServiceProfile, ctx: &MockContext) -> Result<(RunningService, Target), Error> {
    Ok(match profile {
        ServiceProfile::Midnight(p) => {
            let svc = midnight::start(p, ctx).await?;
            let endpoints = svc.endpoints.clone();
            (svc, Target::Midnight { endpoints })
        }
        ServiceProfile::Scribe(p) => {
            let (svc, cluster) = scribe::start_cluster(p, ctx).await?;
            let endpoints = svc.endpoints.clone();
            (svc, Target::Scribe { endpoints, cluster })
        }
        ServiceProfile::Grahmos(p) => {
            let g = start_grahmos_target(p, ctx).await.map_err(EnvError::Grahmos)?;
            // The target owns the serving tasks; the list gets its endpoints for scraping.
            let svc =
                RunningService { id: ServiceId::Grahmos, endpoints: g.running().endpoints.clone(), tasks: Vec::new() };
            (svc, Target::Grahmos(Arc::new(g)))
        }
        ServiceProfile::Pxl(p) => {
            let l = pxl::launch(p, ctx).await?;
            let endpoints = l.service.endpoints.clone();
            (l.service, Target::Pxl { endpoints, control: l.control })
        }
        ServiceProfile::Morphsave(p) => {
            let l = morphsave::launch(p, ctx).await?;
            let endpoints = l.service.endpoints.clone();
            (l.service, Target::Morphsave { endpoints, control: l.control })
        }
    })
}

impl DrillEnv {
    /// Waits for the embedded services' serving tasks (after `ctx.shutdown`).
    pub async fn join(&mut self) {
        for svc in std::mem::take(&mut self.services) {
            svc.join().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_targets_have_a_base_url_and_no_endpoints() {
        let t = Target::Remote { url: "http://127.0.0.1:9/".into() };
        assert_eq!(t.base_url(), "http://127.0.0.1:9");
        assert_eq!(t.endpoint("pxl-core"), None);
        assert!(!t.is_embedded());
    }
}
