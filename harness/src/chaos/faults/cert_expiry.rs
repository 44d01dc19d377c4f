//! Fault `cert-expiry`: the Grahmos edge's TLS certificate really expires during the drill.
//!
//! Inject: the served `server.crt`/`server.key` are backed up, then a certificate from
//! the edge's own CA whose `notAfter` is `expires_in` from now (default 10 s; `0s` =
//! already expired) is written to `cert_dir` and hot-reloaded (the mock's renew hook).
//! Meanwhile `grahmos_cert_expiry_days` drops below the runbook's alert thresholds
//! ([`WARNING_DAYS`], [`CRITICAL_DAYS`]); once `notAfter` passes, verifying clients'
//! handshakes fail and the edge counts them (`grahmos_tls_handshakes_total{result="failed"}`).
//!
//! Recovery `renew-certificate`: `POST /admin/tls/renew {"lifetime": ...}` on the search
//! engine's hook port: a renewed certificate is written and served from the next
//! handshake on, on the same listener (no restart, open connections kept).
//!
//! Rollback never leaves an expired (or nearly expired) certificate installed: when the
//! fault's certificate is still served, or the served one is valid for less than a day,
//! it re-installs the backed-up certificate if that one is still valid for a day, else
//! renews for `renew_lifetime`; a certificate renewed since (the recovery) is kept.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gameday_mocks::kit::{HumanDuration, PositiveDuration};
use gameday_mocks::services::grahmos::tls::{not_after_of, TlsMode};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::index_corruption::admin_post_json;
use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::grahmos_edge::GrahmosTarget;
use crate::chaos::lookup;
use crate::chaos::undo::{BoxFuture, Injected, Rollback};
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::cert_expiry::Spec;

const FAULT: &str = "cert-expiry";
/// The runbook's warning threshold: days to expiry below this fire a warning.
pub const WARNING_DAYS: f64 = 30.0;
/// The runbook's critical threshold: days to expiry below this fire a critical alert.
pub const CRITICAL_DAYS: f64 = 14.0;
/// A certificate valid for less than this is not left installed by rollback.
pub const MIN_LEFT_VALID: Duration = Duration::from_secs(86_400);

/// The certificate alerts (`warning`, `critical`) that fire at `days` to expiry.
pub fn alerts_firing(days: f64) -> Vec<&'static str> {
    let mut out = Vec::new();
    if days < WARNING_DAYS {
        out.push("warning");
    }
    if days < CRITICAL_DAYS {
        out.push("critical");
    }
    out
}

impl Default for Spec {
    fn default() -> Self {
        Self { target: None, expires_in: crate::spec::faults::cert_expiry::default_expires_in(), renew_lifetime: None }
    }
}

impl Spec {
    fn renew_lifetime(&self) -> Duration {
        self.renew_lifetime.map_or(Duration::from_secs(90 * 86_400), PositiveDuration::get)
    }
}

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(spec: &Spec) -> Vec<String> {
    let target = spec.target.as_deref().unwrap_or("the Grahmos target");
    vec![
        format!("inject: back up {target}'s cert_dir/server.crt and server.key"),
        format!(
            "inject: install (write + hot-reload) a certificate from the edge CA whose notAfter is {} from now",
            spec.expires_in
        ),
        format!(
            "rollback: unless renewed since, re-install the backup if valid for a day (else renew for {})",
            HumanDuration(spec.renew_lifetime())
        ),
    ]
}

/// Whether the target must run as its own process.
pub fn needs_process(_spec: &Spec) -> bool {
    false
}

fn cert_files(g: &GrahmosTarget) -> (PathBuf, PathBuf) {
    let dir = g.handle().cert_dir();
    (dir.join("server.crt"), dir.join("server.key"))
}

/// Checks that the edge speaks TLS and its certificate files exist.
pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError> {
    let g = lookup::grahmos(env, spec.target.as_deref(), FAULT)?;
    let name = spec.target.clone().unwrap_or_else(|| "grahmos".into());
    if g.tls_mode() == TlsMode::Off {
        return Err(FaultError::NoTarget {
            target: name,
            what: "no certificate: the edge listener is plain HTTP (set the profile's tls = \"on\" or \"mtls\")".into(),
        });
    }
    let (crt, key) = cert_files(g);
    for f in [&crt, &key] {
        if !f.is_file() {
            return Err(FaultError::NoTarget {
                target: name.clone(),
                what: format!("no certificate file {}", f.display()),
            });
        }
    }
    Ok(())
}

/// Installs the short-lived certificate and returns the undo.
pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError> {
    preflight(spec, env).await?;
    let g = lookup::grahmos(env, spec.target.as_deref(), FAULT)?;
    let (crt, key) = cert_files(g);
    let read = |p: &PathBuf| std::fs::read_to_string(p).map_err(|source| FaultError::Io { path: p.clone(), source });
    let backup = (read(&crt)?, read(&key)?);
    let now = SystemTime::now();
    let not_after = now + spec.expires_in.get();
    let served =
        g.handle().tls().renew_with(now.min(not_after) - Duration::from_secs(86_400), not_after).map_err(|source| {
            FaultError::Certificate { fault: FAULT, what: "installing the short-lived certificate", source }
        })?;
    let undo = RestoreCert { target: Arc::clone(g), backup, installed: served, renew_lifetime: spec.renew_lifetime() };
    Ok(Injected {
        description: format!(
            "installed a certificate expiring {} (in {}) on {}",
            humantime::format_rfc3339_seconds(served),
            spec.expires_in,
            g.api_addr()
        ),
        undo: Box::new(undo),
    })
}

/// The undo: never leave a certificate valid for less than a day installed.
pub struct RestoreCert {
    target: Arc<GrahmosTarget>,
    backup: (String, String),
    installed: SystemTime,
    renew_lifetime: Duration,
}

fn pem_not_after(pem: &str) -> Option<SystemTime> {
    let der = CertificateDer::pem_slice_iter(pem.as_bytes()).next()?.ok()?;
    not_after_of(&der).ok()
}

impl RestoreCert {
    fn restore(&self) -> Result<(), FaultError> {
        let tls = self.target.handle().tls();
        let floor = SystemTime::now() + MIN_LEFT_VALID;
        let served = tls.not_after();
        if served != self.installed && served > floor {
            return Ok(()); // renewed since (recovery): a valid certificate is served
        }
        let backup_ok = pem_not_after(&self.backup.0).is_some_and(|t| t > floor);
        let result = if backup_ok {
            let (crt, key) = cert_files(&self.target);
            std::fs::write(&crt, &self.backup.0).map_err(|source| FaultError::Io { path: crt.clone(), source })?;
            std::fs::write(&key, &self.backup.1).map_err(|source| FaultError::Io { path: key.clone(), source })?;
            tls.reload_from_files()
        } else {
            tls.renew(self.renew_lifetime)
        };
        result.map(|_| ()).map_err(|source| FaultError::Certificate {
            fault: FAULT,
            what: "re-installing a valid certificate",
            source,
        })
    }
}

impl Rollback for RestoreCert {
    fn describe(&self) -> String {
        format!(
            "re-install a valid certificate on {} (the backup, or renewed) unless renewed since",
            self.target.api_addr()
        )
    }

    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
        Box::pin(async move { self.restore() })
    }

    fn rollback_blocking(&self) -> Result<(), FaultError> {
        self.restore()
    }
}

/// Recovery `renew-certificate`: the renew hook, hot-reloaded on the same listener.
pub async fn recover(spec: &Spec, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
    let g = lookup::grahmos(env, spec.target.as_deref(), FAULT)?;
    if *action != RecoveryAction::RenewCertificate {
        return Err(FaultError::no_recovery(
            FAULT,
            spec.target.clone().unwrap_or_default(),
            action,
            "renew-certificate",
        ));
    }
    let lifetime = HumanDuration(spec.renew_lifetime()).to_string();
    let v = admin_post_json(g, "/admin/tls/renew", &serde_json::json!({ "lifetime": lifetime })).await?;
    Ok(format!(
        "certificate renewed for {lifetime} and hot-reloaded on {}: notAfter unix {} ({} reloads)",
        g.api_addr(),
        v["not_after_unix_s"],
        v["reloads"]
    ))
}
