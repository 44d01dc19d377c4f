//! Active checks a drill uses to detect a fault and to verify recovery: one module per
//! probe under [`super::probes`], all with `pub struct Spec` (with the common
//! fields `target` and `timeout`) and `pub async fn check(&Spec, target, &DrillEnv) -> Result<ProbeOutcome, FaultError>`.
//! An `Err` means the probe could not run at all (bad target); a probe that ran and saw a
//! failure is `Ok(ProbeOutcome { ok: false, .. })`. The same specs are a scenario's
//! `[[probe]]` tables; [`crate::probe`] schedules them and records them as series
//! ([`ProbeSpec::check_recorded`] for a drill's own detection and verification probes).

use super::env::DrillEnv;
use super::fault_error::FaultError;
use super::probes;
pub use crate::probe::ProbeOutcome;
pub use crate::spec::drill::ProbeSpec;

impl ProbeSpec {
    /// The probe's tag.
    pub fn name(&self) -> &'static str {
        match self {
            ProbeSpec::Acl(_) => "acl",
            ProbeSpec::Attestation(_) => "attestation",
            ProbeSpec::Canary(_) => "canary",
            ProbeSpec::Http(_) => "http",
            ProbeSpec::ScribeWrite(_) => "scribe-write",
            ProbeSpec::Tls(_) => "tls",
        }
    }

    /// The target it names, if any (default: the drill's).
    pub fn target(&self) -> Option<&str> {
        match self {
            ProbeSpec::Acl(s) => s.target.as_deref(),
            ProbeSpec::Attestation(s) => s.target.as_deref(),
            ProbeSpec::Canary(s) => s.target.as_deref(),
            ProbeSpec::Http(s) => s.target.as_deref(),
            ProbeSpec::ScribeWrite(s) => s.target.as_deref(),
            ProbeSpec::Tls(s) => s.target.as_deref(),
        }
    }

    /// How long one check may take (default 5s).
    pub fn timeout(&self) -> std::time::Duration {
        let t = match self {
            ProbeSpec::Acl(s) => s.timeout,
            ProbeSpec::Attestation(s) => s.timeout,
            ProbeSpec::Canary(s) => s.timeout,
            ProbeSpec::Http(s) => s.timeout,
            ProbeSpec::ScribeWrite(s) => s.timeout,
            ProbeSpec::Tls(s) => s.timeout,
        };
        t.map_or(std::time::Duration::from_secs(5), |d| d.0)
    }

    /// Runs the probe once against `target` (the drill's target unless the probe names one).
    pub async fn check(&self, target: &str, env: &DrillEnv) -> Result<ProbeOutcome, FaultError> {
        let target = self.target().unwrap_or(target);
        match self {
            ProbeSpec::Acl(s) => probes::acl::check(s, target, env).await,
            ProbeSpec::Attestation(s) => probes::attestation::check(s, target, env).await,
            ProbeSpec::Canary(s) => probes::canary::check(s, target, env).await,
            ProbeSpec::Http(s) => probes::http::check(s, target, env).await,
            ProbeSpec::ScribeWrite(s) => probes::scribe_write::check(s, target, env).await,
            ProbeSpec::Tls(s) => probes::tls::check(s, target, env).await,
        }
    }

    /// [`Self::check`], also recorded into `tap` as `probe_success` and
    /// `probe_duration_seconds` labelled `probe = label` at the simulated time it started
    /// (a check that could not run records 0).
    pub async fn check_recorded(
        &self,
        target: &str,
        env: &DrillEnv,
        tap: &crate::observe::Tap,
        clock: &crate::clock::Clock,
        label: &str,
    ) -> Result<ProbeOutcome, FaultError> {
        let target = self.target().unwrap_or(target);
        let url = match self {
            ProbeSpec::Http(h) => h.url.as_deref(),
            _ => None,
        };
        let service = url.is_none().then_some(target);
        let labels = crate::probe::labels(label, service, &crate::probe::instance(service, url));
        let started = tokio::time::Instant::now();
        let at_s = clock.to_sim(started.saturating_duration_since(clock.started())).as_secs_f64();
        let out = self.check(target, env).await;
        let took_s = clock.to_sim(started.elapsed()).as_secs_f64();
        crate::probe::record(tap, &labels, at_s, out.as_ref().is_ok_and(|o| o.ok), took_s);
        out
    }
}
