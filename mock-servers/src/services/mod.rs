//! One module per runbook service, each built from the mock kit ([`crate::kit`]) alone.
//!
//! Each service module owns:
//! - `Profile`: every knob the runbook names (workers, limits, service times), with
//!   serde defaults, so a scenario can override any of it and the capacity simulator
//!   runs the same numbers;
//! - the live state behind its routes (pools, identities, counters): one `State` for a
//!   one-listener service, a `Shared` state plus one per listener where there are several;
//! - one `router` per listener, finished by the kit (`kit::serve::finish_router`: the
//!   metrics, the 404/405/413 fallbacks, the body limit);
//! - `start(profile, ctx)`: bind its listener(s) with `kit::bind_loopback` and serve each
//!   with `kit::serve` / `kit::serve_listener` until `ctx.shutdown`. A listener a drill
//!   stops and restarts is the kit's too: a [`listener`](crate::kit::listener) switch
//!   for a polite stop (PXL, MorphSave, Grahmos's upstream) or a
//!   [`killable`](crate::kit::killable) listener for a crash (Scribe's nodes); Grahmos's
//!   TLS listener is one more `serve_listener` listener.
//!
//! Services that drills act on also offer `start_with_handle` (Grahmos) or
//! `start_cluster` (Scribe), returning the control handle with the running service, and
//! Grahmos offers `start_upstream_server` to put a fault proxy in front of its upstream.

pub mod grahmos;
pub mod midnight;
pub mod morphsave;
pub mod pxl;
pub mod scribe;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::kit::metrics::MetricsError;
use crate::kit::{BindError, MockContext};

/// The services gameday mocks, by their runbook id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceId {
    /// Midnight TEE proof server (runbook 000).
    Midnight,
    /// Hyra Scribe Ledger, 3-node Raft cluster (runbook 001).
    Scribe,
    /// Grahmos V1+V2 edge node (runbook 002).
    Grahmos,
    /// LOGOS PXL Core (runbook 003).
    Pxl,
    /// MorphSave web app (runbook 004).
    Morphsave,
}

impl ServiceId {
    /// Every service, in runbook order.
    pub const ALL: &'static [ServiceId] =
        &[ServiceId::Midnight, ServiceId::Scribe, ServiceId::Grahmos, ServiceId::Pxl, ServiceId::Morphsave];

    /// The id as written in scenarios and manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceId::Midnight => "midnight",
            ServiceId::Scribe => "scribe",
            ServiceId::Grahmos => "grahmos",
            ServiceId::Pxl => "pxl",
            ServiceId::Morphsave => "morphsave",
        }
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no service.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown service `{}` (known: {})", .0, ServiceId::known())]
pub struct UnknownService(pub String);

impl ServiceId {
    fn known() -> String {
        Self::ALL.iter().map(|id| id.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl FromStr for ServiceId {
    type Err = UnknownService;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|id| id.as_str() == s).ok_or_else(|| UnknownService(s.to_owned()))
    }
}

/// A service's profile, whichever service it is.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceProfile {
    /// Midnight's profile.
    Midnight(midnight::Profile),
    /// Scribe's profile.
    Scribe(scribe::Profile),
    /// Grahmos's profile.
    Grahmos(grahmos::Profile),
    /// PXL's profile.
    Pxl(pxl::Profile),
    /// MorphSave's profile.
    Morphsave(morphsave::Profile),
}

impl ServiceProfile {
    /// The default profile of a service.
    pub fn default_for(id: ServiceId) -> Self {
        match id {
            ServiceId::Midnight => Self::Midnight(midnight::Profile::default()),
            ServiceId::Scribe => Self::Scribe(scribe::Profile::default()),
            ServiceId::Grahmos => Self::Grahmos(grahmos::Profile::default()),
            ServiceId::Pxl => Self::Pxl(pxl::Profile::default()),
            ServiceId::Morphsave => Self::Morphsave(morphsave::Profile::default()),
        }
    }

    /// Checks the profile as its mock does when it starts (counts, ratios, each service
    /// time's distribution), without starting anything: a scenario that passes this does
    /// not fail at start-up for its profile.
    pub fn validate(&self) -> Result<(), MockError> {
        let bad = |message: String| MockError::Profile { service: self.id(), message };
        let own = match self {
            Self::Midnight(p) => p.validate(),
            Self::Scribe(p) => p.validate(),
            Self::Grahmos(p) => p.validate(),
            Self::Pxl(p) => p.validate(),
            Self::Morphsave(p) => p.validate().map(|_| ()),
        };
        own.map_err(|e| bad(e.to_string()))?;
        for (name, st) in self.service_times() {
            st.sampler().map_err(|e| bad(format!("service_time.{name}: {e}")))?;
        }
        Ok(())
    }

    /// The profile's service-time distributions by field name (those its own `validate`
    /// does not check).
    fn service_times(&self) -> Vec<(&'static str, &crate::kit::ServiceTime)> {
        match self {
            Self::Midnight(p) => {
                let st = &p.service_time;
                vec![
                    ("check", &st.check),
                    ("prove", &st.prove),
                    ("prove_tx", &st.prove_tx),
                    ("attestation", &st.attestation),
                ]
            }
            Self::Scribe(p) => {
                let st = &p.service_time;
                vec![("read", &st.read), ("write", &st.write), ("compact", &st.compact)]
            }
            Self::Grahmos(p) => vec![("search", &p.service_time.search), ("upstream", &p.service_time.upstream)],
            Self::Pxl(_) | Self::Morphsave(_) => Vec::new(),
        }
    }

    /// Which service this profile is for.
    pub fn id(&self) -> ServiceId {
        match self {
            Self::Midnight(_) => ServiceId::Midnight,
            Self::Scribe(_) => ServiceId::Scribe,
            Self::Grahmos(_) => ServiceId::Grahmos,
            Self::Pxl(_) => ServiceId::Pxl,
            Self::Morphsave(_) => ServiceId::Morphsave,
        }
    }
}

/// Why a service's `Profile::validate` refused a profile; the message names the field.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A count that must be positive is zero.
    #[error("{field} must be at least 1")]
    Zero {
        /// The field (or fields).
        field: &'static str,
    },
    /// A number outside its closed range.
    #[error("{field} must be between {min} and {max}, got {got}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The lowest value allowed.
        min: f64,
        /// The highest value allowed.
        max: f64,
        /// The value given.
        got: f64,
    },
    /// A field that breaks a rule stated in the message.
    #[error("{field} {rule}")]
    Rule {
        /// The field.
        field: &'static str,
        /// What it must be.
        rule: &'static str,
    },
    /// A value of a field that breaks a rule stated in the message.
    #[error("{field} `{value}` {rule}")]
    Value {
        /// The field.
        field: String,
        /// The offending value.
        value: String,
        /// What is wrong with it.
        rule: &'static str,
    },
    /// Grahmos: client `index` of the issuer breaks the rule (which starts with `:` or `.field`).
    #[error("clients[{index}]{rule}")]
    Client {
        /// The client's index in `clients`.
        index: usize,
        /// What is wrong.
        rule: &'static str,
    },
    /// Grahmos: a nonce lifetime past the runbook's.
    #[error("nonce_ttl {0} is longer than the runbook's 120s")]
    NonceTtl(crate::kit::HumanDuration),
    /// Scribe: more seed keys than the store holds.
    #[error("seed_data has {keys} keys, more than max_keys ({max_keys})")]
    SeedKeys {
        /// Seed keys given.
        keys: usize,
        /// The store's limit.
        max_keys: u64,
    },
    /// A service-time distribution refused its parameters.
    #[error("{field}: {source}")]
    ServiceTime {
        /// The field.
        field: &'static str,
        /// Why.
        #[source]
        source: crate::kit::service_time::SamplerError,
    },
    /// `base_cpu` is out of range.
    #[error(transparent)]
    BaseCpu(#[from] crate::kit::pool::BaseCpuError),
}

/// Why a mock could not start.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// A listener could not be bound.
    #[error("{service}: {source}")]
    Bind {
        /// The service.
        service: ServiceId,
        /// The bind failure, naming the address.
        #[source]
        source: BindError,
    },
    /// A profile value is out of range.
    #[error("{service} profile: {message}")]
    Profile {
        /// The service.
        service: ServiceId,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The metrics registry refused a metric.
    #[error("{service}: {source}")]
    Metrics {
        /// The service.
        service: ServiceId,
        /// The registry error.
        #[source]
        source: MetricsError,
    },
    /// A certificate could not be generated.
    #[error("{service}: generating certificates: {message}")]
    Certificate {
        /// The service.
        service: ServiceId,
        /// The generator's message.
        message: String,
    },
}

/// One listening address of a running service (Scribe has one per node).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Manifest key: the service id, or `service-N` for a node of a cluster.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Endpoint {
    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A started service: its endpoints and the tasks serving them.
#[derive(Debug)]
pub struct RunningService {
    /// Which service.
    pub id: ServiceId,
    /// Its listeners, the main one first.
    pub endpoints: Vec<Endpoint>,
    /// The serving tasks; they end after `ctx.shutdown` is cancelled.
    pub tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

impl RunningService {
    /// The main endpoint's base URL.
    pub fn url(&self) -> String {
        self.endpoints.first().map(Endpoint::url).unwrap_or_default()
    }

    /// Waits for every serving task to finish (after shutdown).
    pub async fn join(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// A started service together with the handle drills use to inject its faults.
#[derive(Debug)]
pub struct Launched<C> {
    /// The endpoints and serving tasks.
    pub service: RunningService,
    /// The fault hooks.
    pub control: C,
}

/// Starts one service with its profile.
pub async fn start(profile: ServiceProfile, ctx: &MockContext) -> Result<RunningService, MockError> {
    match profile {
        ServiceProfile::Midnight(p) => midnight::start(p, ctx).await,
        ServiceProfile::Scribe(p) => scribe::start(p, ctx).await,
        ServiceProfile::Grahmos(p) => grahmos::start(p, ctx).await,
        ServiceProfile::Pxl(p) => pxl::start(p, ctx).await,
        ServiceProfile::Morphsave(p) => morphsave::start(p, ctx).await,
    }
}

/// The runbook port of the listener whose manifest name is `endpoint` (`midnight` -> 6300,
/// `scribe-2` -> 8002, `pxl-core` -> 8080), for a service started with `profile` (PXL's
/// gateway port is a profile knob). `None` for a name the service does not have. With
/// [`MockContext::fixed_ports`] this lets a restarted process bind the same ports.
pub fn runbook_port(profile: &ServiceProfile, endpoint: &str) -> Option<u16> {
    match profile {
        ServiceProfile::Midnight(_) => (endpoint == "midnight").then_some(midnight::RUNBOOK_PORT),
        ServiceProfile::Scribe(p) => {
            let id: usize = if endpoint == "scribe" { 1 } else { endpoint.strip_prefix("scribe-")?.parse().ok()? };
            if id == 0 || id > p.nodes || scribe::endpoint_name(id as _) != endpoint {
                return None;
            }
            scribe::RUNBOOK_BASE_PORT.checked_add(u16::try_from(id).ok()?)
        }
        ServiceProfile::Grahmos(_) => match endpoint {
            "grahmos" => Some(grahmos::API_PORT),
            "grahmos-search" => Some(grahmos::SEARCH_PORT),
            "grahmos-upstream" => Some(grahmos::UPSTREAM_PORT),
            _ => None,
        },
        ServiceProfile::Pxl(p) => match endpoint {
            "pxl" => Some(p.gateway_runbook_port),
            "pxl-core" => Some(pxl::CORE_RUNBOOK_PORT),
            "pxl-chrono" => Some(pxl::CHRONO_RUNBOOK_PORT),
            "pxl-v4" => Some(pxl::V4_RUNBOOK_PORT),
            _ => None,
        },
        ServiceProfile::Morphsave(_) => match endpoint {
            "morphsave" => Some(morphsave::APP_PORT),
            "morphsave-rpc" => Some(morphsave::RPC_PORT),
            "morphsave-rpc-backup" => Some(morphsave::RPC_BACKUP_PORT),
            _ => None,
        },
    }
}

/// The manifest `gameday mocks` writes: endpoint name -> base URL.
pub fn manifest(services: &[RunningService]) -> BTreeMap<String, String> {
    services.iter().flat_map(|s| s.endpoints.iter().map(|e| (e.name.clone(), e.url()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbook_ports_by_endpoint_name_match_the_runbooks() {
        // Runbook 000: 6300; 001: nodes on 8001-8003 (node 1 is `scribe`); 003: gateway 80,
        // core 8080, overlays 8081/8082; 004 app 3000 (RPC ports are the mock's own choice).
        let all = |id| ServiceProfile::default_for(id);
        let cases = [
            (ServiceId::Midnight, "midnight", Some(6300)),
            (ServiceId::Scribe, "scribe", Some(8001)),
            (ServiceId::Scribe, "scribe-3", Some(8003)),
            (ServiceId::Scribe, "scribe-4", None),
            (ServiceId::Scribe, "scribe-1", None),
            (ServiceId::Pxl, "pxl", Some(80)),
            (ServiceId::Pxl, "pxl-chrono", Some(8081)),
            (ServiceId::Morphsave, "morphsave", Some(3000)),
            (ServiceId::Grahmos, "grahmos-search", Some(7700)),
            (ServiceId::Midnight, "pxl", None),
        ];
        for (id, name, want) in cases {
            assert_eq!(runbook_port(&all(id), name), want, "{id} {name}");
        }
    }

    #[test]
    fn a_fixed_port_wins_over_the_port_policy() {
        let ctx = MockContext {
            ports: crate::kit::PortPolicy::Runbook,
            fixed_ports: BTreeMap::from([(6300, 41_000)]),
            ..MockContext::default()
        };
        assert_eq!(ctx.port(6300), 41_000);
        assert_eq!(ctx.port(8001), 8001);
    }
}
