//! Which `/metrics` endpoints a run scrapes.
//!
//! Embedded mocks: every listener that serves its own registry. Midnight, Grahmos and
//! MorphSave serve `/metrics` on their main listener only (the Grahmos search and
//! upstream ports and MorphSave's RPC nodes have none); each Scribe node has its own
//! registry, so every node is scraped; PXL's gateway and core serve the same registry,
//! so only the gateway is scraped (scraping both would double every series), and its
//! overlays have none. `tests/observe.rs` checks this against the running mocks.
//!
//! External targets (a `url`): `[targets.<service>] metrics` (a URL or a path on the
//! target), default `<url>/metrics`; `scrape = false` skips the service. A metrics URL
//! of its own passes the same loopback guard as any target.

use std::collections::BTreeMap;

use gameday_mocks::{RunningService, ServiceId};

use super::ScrapeTarget;
use crate::scenario::TargetsSection;
use crate::targets::{check_loopback, Resolved};
use crate::Error;

/// The scrape targets of an embedded mock's listeners (see the module docs).
pub fn embedded(svc: &RunningService) -> Vec<ScrapeTarget> {
    let listeners = match svc.id {
        ServiceId::Scribe => &svc.endpoints[..],
        _ => svc.endpoints.get(..1).unwrap_or_default(),
    };
    listeners
        .iter()
        .map(|e| ScrapeTarget {
            service: svc.id,
            instance: e.name.clone(),
            url: format!("{}/metrics", e.url()),
            ca_pem: None,
        })
        .collect()
}

/// The scrape target of an external service at `base_url`, per its `[targets]` settings;
/// `None` when `scrape = false`. Refuses a non-loopback metrics URL unless `allow_remote`.
pub fn external(
    t: TargetsSection<'_>,
    id: ServiceId,
    base_url: &str,
    allow_remote: bool,
) -> Result<Option<ScrapeTarget>, Error> {
    let setting = t.targets.scrape(id);
    if !setting.enabled {
        return Ok(None);
    }
    let base = base_url.trim_end_matches('/');
    let url = match setting.metrics.as_ref().map(|m| m.get_ref().as_str()) {
        None => format!("{base}/metrics"),
        Some(path) if path.starts_with('/') => format!("{base}{path}"),
        Some(full) => full.to_owned(),
    };
    let parsed = check_loopback(id, &url, allow_remote).map_err(|e| match setting.metrics.is_some() {
        true => Error::Scenario(t.refusal(&format!("targets.{id}.metrics"), e.to_string())),
        false => e.into(),
    })?;
    let host = parsed.host_str().unwrap_or("unknown");
    let instance = match parsed.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    Ok(Some(ScrapeTarget { service: id, instance, url, ca_pem: None }))
}

/// Every scrape target of a run, from what [`crate::targets::start`] returned: the
/// embedded mocks' listeners and the external targets, minus services with
/// `scrape = false` in `[targets]`.
pub fn scrape_targets(
    t: TargetsSection<'_>,
    resolved: &BTreeMap<ServiceId, Resolved>,
    running: &[RunningService],
    allow_remote: bool,
) -> Result<Vec<ScrapeTarget>, Error> {
    let mut out = Vec::new();
    for (&id, r) in resolved {
        if r.embedded {
            if t.targets.scrape(id).enabled {
                running.iter().filter(|svc| svc.id == id).for_each(|svc| out.extend(embedded(svc)));
            }
        } else if let Some(target) = external(t, id, &r.url, allow_remote)? {
            out.push(target);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::path::Path;

    use gameday_mocks::services::Endpoint;

    use super::*;

    fn scenario(targets: &str) -> crate::scenario::Scenario {
        let text = format!(
            "name = \"t\"\n{targets}\n[load]\nusers = 1\nduration = \"1s\"\n\
             [[load.request]]\nname = \"a\"\ntarget = \"midnight\"\npath = \"/health\"\n\
             [[load.request]]\nname = \"b\"\ntarget = \"scribe\"\npath = \"/health\"\n"
        );
        crate::scenario::parse(Path::new("t.toml"), &text).unwrap()
    }

    fn running(id: ServiceId, names: &[&str]) -> RunningService {
        let endpoints = names
            .iter()
            .enumerate()
            .map(|(i, n)| Endpoint { name: (*n).into(), addr: SocketAddr::from(([127, 0, 0, 1], 7000 + i as u16)) })
            .collect();
        RunningService { id, endpoints, tasks: vec![] }
    }

    #[test]
    fn external_targets_follow_metrics_and_scrape() {
        let s = scenario("[targets.midnight]\nurl = \"http://127.0.0.1:6300\"\nmetrics = \"/prom\"");
        let t = external(s.targets_section(), ServiceId::Midnight, "http://127.0.0.1:6300/", false).unwrap().unwrap();
        assert_eq!((t.url.as_str(), t.instance.as_str()), ("http://127.0.0.1:6300/prom", "127.0.0.1:6300"));
        let t = external(s.targets_section(), ServiceId::Scribe, "http://localhost", false).unwrap().unwrap();
        assert_eq!((t.url.as_str(), t.instance.as_str()), ("http://localhost/metrics", "localhost:80"));
        let s = scenario("[targets.midnight]\nmetrics = \"http://10.1.2.3:9100/metrics\"");
        let e = external(s.targets_section(), ServiceId::Midnight, "http://127.0.0.1:6300", false).unwrap_err();
        assert!(e.to_string().contains("10.1.2.3"), "{e}");
        assert!(external(s.targets_section(), ServiceId::Midnight, "http://127.0.0.1:6300", true).is_ok());
        let s = scenario("[targets.midnight]\nscrape = false");
        assert_eq!(external(s.targets_section(), ServiceId::Midnight, "http://127.0.0.1:6300", false).unwrap(), None);
    }

    #[test]
    fn embedded_and_external_targets_together() {
        let s = scenario("");
        let resolved = BTreeMap::from([
            (ServiceId::Midnight, Resolved { url: "http://127.0.0.1:6300".into(), embedded: false, ca_pem: None }),
            (ServiceId::Scribe, Resolved { url: "http://127.0.0.1:7000".into(), embedded: true, ca_pem: None }),
        ]);
        let run = [running(ServiceId::Scribe, &["scribe", "scribe-2", "scribe-3"])];
        let t = scrape_targets(s.targets_section(), &resolved, &run, false).unwrap();
        let urls: Vec<(&str, &str)> = t.iter().map(|t| (t.instance.as_str(), t.url.as_str())).collect();
        assert_eq!(
            urls,
            [
                ("127.0.0.1:6300", "http://127.0.0.1:6300/metrics"),
                ("scribe", "http://127.0.0.1:7000/metrics"),
                ("scribe-2", "http://127.0.0.1:7001/metrics"),
                ("scribe-3", "http://127.0.0.1:7002/metrics"),
            ]
        );
        let s = scenario("[targets.scribe]\nscrape = false");
        assert_eq!(scrape_targets(s.targets_section(), &resolved, &run, false).unwrap().len(), 1);
    }
}
