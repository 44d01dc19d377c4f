//! Probes as series: active checks run on the run's clock and recorded the way
//! blackbox_exporter exposes them, `probe_success{probe,service,instance}` (1 or 0) and
//! `probe_duration_seconds{...}` (simulated seconds), next to the scraped series.
//!
//! - [`http`]: the HTTP probe (status, body substring, JSON field), which needs nothing
//!   but a URL, so `gameday run` and `gameday gate` can run it;
//! - [`schedule`]: the scheduler: one loop per probe, one check in flight at a time, each
//!   bounded by its timeout, every result recorded at the simulated time it started.
//!
//! The kinds that need a drill's target hooks (attestation, TLS, canary, ACL,
//! scribe-write) keep their checks in `chaos::probes`; the drill hands the scheduler a
//! [`CheckFn`] that calls them, so every kind is scheduled and recorded the same way.
//! A check that could not run at all (unknown target) records 0 and a problem line.

pub mod http;
pub mod schedule;

use std::collections::BTreeMap;

use gameday_mocks::TimeScale;

use serde::{Deserialize, Serialize};

pub use schedule::{spawn, CheckFn, Scheduled};

use crate::observe::Tap;
use crate::scenario::probe::ProbeDecl;
pub use crate::spec::probes::{is_probe_metric, DURATION, SUCCESS};
use crate::targets::Resolved;

/// What one probe saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeOutcome {
    /// Whether the check passed.
    pub ok: bool,
    /// One line: what was checked and what was seen.
    pub detail: String,
    /// A failure that waiting cannot fix: the service answered and failed a security
    /// check (attestation with the wrong PCRs or debug on). Verification stops and the
    /// drill fails at once, as the runbook's security check would.
    pub definitive: bool,
}

/// Why a probe could not run at all (a probe that ran and saw a failure is an
/// `Ok(ProbeOutcome { ok: false, .. })`).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The probe names a target this run does not have.
    #[error("probe target `{target}`: {what}")]
    NoTarget {
        /// The target's name in the scenario.
        target: String,
        /// What is missing.
        what: String,
    },
    /// The probe's HTTP client could not be built.
    #[error("cannot build an HTTP client: {0}")]
    Client(crate::targets::ClientError),
    /// A check supplied by a command (a drill's probe kinds) could not run; its own
    /// error, whose type this engine does not know.
    #[error("{0}")]
    Check(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The environment an HTTP probe needs: each target's base URL and the CA certificate
/// (PEM) to trust for it. `gameday run` builds it from its resolved targets, a drill
/// from its `DrillEnv` (through its fault proxies).
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    urls: BTreeMap<String, (String, Option<String>)>,
}

impl Endpoints {
    /// Adds (or replaces) target `name` at `url`, trusting `ca_pem` for it.
    pub fn insert(&mut self, name: &str, url: &str, ca_pem: Option<String>) {
        self.urls.insert(name.to_owned(), (url.trim_end_matches('/').to_owned(), ca_pem));
    }

    /// Target `name`'s base URL, without a trailing `/`.
    pub fn base_url(&self, name: &str) -> Option<&str> {
        self.urls.get(name).map(|(u, _)| u.as_str())
    }

    /// Every CA certificate to trust.
    pub fn ca_pems(&self) -> impl Iterator<Item = &str> {
        self.urls.values().filter_map(|(_, ca)| ca.as_deref())
    }
}

impl From<&BTreeMap<gameday_mocks::ServiceId, Resolved>> for Endpoints {
    fn from(resolved: &BTreeMap<gameday_mocks::ServiceId, Resolved>) -> Self {
        let mut e = Endpoints::default();
        for (id, r) in resolved {
            e.insert(id.as_str(), &r.url, r.ca_pem.clone());
        }
        e
    }
}

/// The labels of a probe's series: `probe`, `service` (when it probes a target) and
/// `instance` (the target's name, or the URL's `host:port`).
pub fn labels(probe: &str, service: Option<&str>, instance: &str) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([("probe".to_owned(), probe.to_owned()), ("instance".to_owned(), instance.to_owned())]);
    if let Some(s) = service {
        l.insert("service".to_owned(), s.to_owned());
    }
    l
}

/// The `instance` label of a probe of `target` or of an absolute `url`.
pub fn instance(target: Option<&str>, url: Option<&str>) -> String {
    if let Some(t) = target {
        return t.to_owned();
    }
    let parsed = url.and_then(|u| url::Url::parse(u).ok());
    match parsed.as_ref().and_then(|u| Some((u.host_str()?.to_owned(), u.port_or_known_default()?))) {
        Some((host, port)) => format!("{host}:{port}"),
        None => url.unwrap_or_default().to_owned(),
    }
}

/// A scenario probe on the scheduler, checked by `check`: every `p.interval()` simulated
/// (real at `scale`), bounded by the probe's timeout.
pub fn scheduled(p: &ProbeDecl, scale: TimeScale, check: CheckFn) -> Scheduled {
    let url = p.url.as_ref().map(|u| u.get_ref().as_str());
    Scheduled {
        labels: labels(p.name(), p.target(), &instance(p.target(), url)),
        every: scale.to_real(p.interval()),
        timeout: p.spec().timeout(),
        check,
    }
}

/// Records one check into `tap`: success (1 or 0) and duration at `at_s` (simulated).
pub fn record(tap: &Tap, labels: &BTreeMap<String, String>, at_s: f64, ok: bool, duration_s: f64) {
    tap.push_sample(SUCCESS, labels, at_s, if ok { 1.0 } else { 0.0 });
    tap.push_sample(DURATION, labels, at_s, duration_s);
}

/// Whether `url` is an http(s) URL on a loopback host (127.0.0.0/8, ::1, `localhost`).
pub fn is_loopback_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| crate::http_guard::is_loopback(&u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_instances_name_the_target_or_the_url() {
        let l = labels("health", Some("midnight"), &instance(Some("midnight"), None));
        assert_eq!(l.get("instance").map(String::as_str), Some("midnight"));
        assert_eq!(l.get("service").map(String::as_str), Some("midnight"));
        assert_eq!(instance(None, Some("http://127.0.0.1:6300/health")), "127.0.0.1:6300");
        assert!(!labels("x", None, "h:1").contains_key("service"));
        assert!(is_loopback_url("http://localhost:1/"));
        assert!(!is_loopback_url("http://10.0.0.1/") && !is_loopback_url("ftp://127.0.0.1/"));
    }
}
