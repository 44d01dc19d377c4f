//! Where each service of a run is, and the loopback guard.
//!
//! A service is an embedded mock (started in-process with the scenario's profile) unless
//! the scenario or `--target svc=URL` gives a URL. Traffic goes to loopback only unless
//! `--allow-remote` is given: a non-loopback target is refused before anything starts.

use std::collections::BTreeMap;

use gameday_mocks::{MockContext, RunningService, ServiceId};
use reqwest::Url;
use serde::Serialize;

use crate::scenario::{Targets, TargetsSection};
use crate::Error;

/// A resolved target.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Resolved {
    /// Base URL requests go to.
    pub url: String,
    /// Whether gameday started it in-process.
    pub embedded: bool,
    /// A CA certificate (PEM) the run's clients trust for it besides the system roots:
    /// an embedded mock serving TLS with its own CA (the Grahmos edge with `tls = "on"`).
    #[serde(skip)]
    pub ca_pem: Option<String>,
}

/// `builder` trusting `pems` (CA certificates) besides the system roots.
pub fn trusting<'a>(
    builder: reqwest::ClientBuilder,
    pems: impl IntoIterator<Item = &'a str>,
) -> Result<reqwest::ClientBuilder, ClientError> {
    let certs = pems
        .into_iter()
        .map(|pem| reqwest::Certificate::from_pem(pem.as_bytes()).map_err(ClientError::Ca))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if certs.is_empty() { builder } else { builder.tls_certs_merge(certs) })
}

/// The client `builder` makes, trusting `pems` besides the system roots.
pub fn client<'a>(
    builder: reqwest::ClientBuilder,
    pems: impl IntoIterator<Item = &'a str>,
) -> Result<reqwest::Client, ClientError> {
    trusting(builder, pems)?.build().map_err(ClientError::Build)
}

/// Why an HTTP client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A CA certificate to trust is not PEM.
    #[error("a trusted CA certificate: {0}")]
    Ca(reqwest::Error),
    /// reqwest refused the client (its TLS backend, ...).
    #[error("{0}")]
    Build(reqwest::Error),
}

/// `--target` not given as `SERVICE=URL`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// No `=`.
    #[error("`{0}` is not SERVICE=URL")]
    NoEquals(String),
    /// The part before `=` names no service.
    #[error("{0}")]
    UnknownService(gameday_mocks::UnknownService),
}

/// Parses `svc=URL` as given to `--target`.
pub fn parse_override(s: &str) -> Result<(ServiceId, String), OverrideError> {
    let (svc, url) = s.split_once('=').ok_or_else(|| OverrideError::NoEquals(s.to_owned()))?;
    Ok((svc.trim().parse().map_err(OverrideError::UnknownService)?, url.trim().to_owned()))
}

/// A target URL the loopback guard refuses.
#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    /// Not a URL at all.
    #[error("target {service}: `{url}` is not a URL: {reason}")]
    NotUrl {
        /// The service it is for.
        service: ServiceId,
        /// The URL as given.
        url: String,
        /// Why it does not parse.
        reason: url::ParseError,
    },
    /// Not http or https.
    #[error("target {service}: `{url}` must be http:// or https://")]
    Scheme {
        /// The service it is for.
        service: ServiceId,
        /// The URL as given.
        url: String,
    },
    /// Not loopback and `--allow-remote` not given.
    #[error("target {service}: `{url}` is not a loopback address; gameday sends traffic only to 127.0.0.0/8, ::1 or localhost unless --allow-remote is given")]
    Remote {
        /// The service it is for.
        service: ServiceId,
        /// The URL as given.
        url: String,
    },
}

/// Why the run's targets cannot be decided (all bad usage or a bad scenario).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A URL in the scenario is refused, at its line.
    #[error("{0}")]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// A URL is refused.
    #[error("{0}")]
    Loopback(#[from] LoopbackError),
    /// A `--target` URL is refused.
    #[error("--target {service}=...: {reason}")]
    Flag {
        /// The service of the flag.
        service: ServiceId,
        /// Why its URL is refused.
        reason: LoopbackError,
    },
    /// `--target` names a service the run does not use.
    #[error("--target {service}={url}: the scenario sends no requests to {service}")]
    UnusedByLoad {
        /// The service of the flag.
        service: ServiceId,
        /// Its URL.
        url: String,
    },
    /// `--target` names a service neither the load nor a drill uses.
    #[error("--target {service}={url}: neither the load nor a drill uses {service}")]
    UnusedByDrill {
        /// The service of the flag.
        service: ServiceId,
        /// Its URL.
        url: String,
    },
}

impl TargetError {
    /// The exit code: every target error is bad usage or a bad scenario.
    pub fn exit(&self) -> crate::Exit {
        crate::Exit::Usage
    }
}

/// Refuses a URL whose host is not loopback, unless `allow_remote`.
pub fn check_loopback(service: ServiceId, url: &str, allow_remote: bool) -> Result<Url, LoopbackError> {
    let parsed = Url::parse(url).map_err(|reason| LoopbackError::NotUrl { service, url: url.into(), reason })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(LoopbackError::Scheme { service, url: url.into() });
    }
    if !crate::http_guard::is_loopback(&parsed) && !allow_remote {
        return Err(LoopbackError::Remote { service, url: url.into() });
    }
    Ok(parsed)
}

/// Decides the URL of every service in `used` (flag > `[targets]` > embedded) and checks
/// loopback. Returns the remote/explicit targets; services missing from the map are
/// embedded.
pub fn resolve_urls(
    t: TargetsSection<'_>,
    used: &[ServiceId],
    overrides: &[(ServiceId, String)],
    allow_remote: bool,
) -> Result<BTreeMap<ServiceId, Option<String>>, TargetError> {
    let mut out = BTreeMap::new();
    for &id in used {
        let flag = overrides.iter().rev().find(|(o, _)| *o == id).map(|(_, u)| u.clone());
        let from_file = flag.is_none();
        let url = flag.or_else(|| t.targets.get(id).0);
        if let Some(u) = &url {
            check_loopback(id, u, allow_remote).map_err(|e| match from_file {
                true => TargetError::Scenario(t.refusal(&format!("targets.{id}.url"), e.to_string())),
                false => TargetError::Flag { service: id, reason: e },
            })?;
        }
        out.insert(id, url);
    }
    for (id, url) in overrides {
        if !out.contains_key(id) {
            return Err(TargetError::UnusedByLoad { service: *id, url: url.clone() });
        }
    }
    Ok(out)
}

/// Starts the embedded mocks for services without a URL, with their `[targets]`
/// profiles; returns every target.
pub async fn start(
    targets_table: &Targets,
    urls: BTreeMap<ServiceId, Option<String>>,
    ctx: &MockContext,
) -> Result<(BTreeMap<ServiceId, Resolved>, Vec<RunningService>), Error> {
    let mut targets = BTreeMap::new();
    let mut running = Vec::new();
    for (id, url) in urls {
        let resolved = match url {
            Some(url) => Resolved { url: url.trim_end_matches('/').to_owned(), embedded: false, ca_pem: None },
            None => {
                let svc = gameday_mocks::start(targets_table.get(id).1, ctx).await?;
                let r = Resolved { url: svc.url(), embedded: true, ca_pem: None };
                running.push(svc);
                r
            }
        };
        targets.insert(id, resolved);
    }
    Ok((targets, running))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_guard() {
        let m = ServiceId::Midnight;
        assert!(check_loopback(m, "http://127.0.0.1:6300", false).is_ok());
        assert!(check_loopback(m, "http://127.9.9.9:1", false).is_ok());
        assert!(check_loopback(m, "http://[::1]:6300", false).is_ok());
        assert!(check_loopback(m, "http://localhost:6300", false).is_ok());
        let e = check_loopback(m, "http://10.0.0.5:6300", false).unwrap_err();
        assert!(e.to_string().contains("--allow-remote"), "{e}");
        assert!(check_loopback(m, "http://proof.example.com", false).is_err());
        assert!(check_loopback(m, "http://10.0.0.5:6300", true).is_ok());
        assert!(check_loopback(m, "ftp://127.0.0.1", false).is_err());
        assert!(check_loopback(m, "not a url", false).is_err());
    }

    #[test]
    fn parses_target_overrides() {
        assert_eq!(
            parse_override("midnight=http://127.0.0.1:1"),
            Ok((ServiceId::Midnight, "http://127.0.0.1:1".into()))
        );
        assert!(parse_override("moon=http://x").is_err());
        assert!(parse_override("midnight").is_err());
    }
}
