//! Probe `scribe-write`: a write to the Scribe cluster's leader succeeds.
//!
//! `PUT /{key}` with `{"value": <fresh>}` and the write role's API key (`X-API-Key`, runbook
//! 001), sent to the current leader of an embedded cluster (or to the URL of a remote
//! one, whose followers forward). Passes on 2xx; otherwise the detail names the status
//! and the mock's error code (`no_quorum`, `no_leader`, ...).

use std::time::Duration;

use crate::chaos::env::{DrillEnv, Target};
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::probe::ProbeOutcome;

pub use crate::spec::probes::scribe_write::Spec;

/// Runs the probe once.
pub async fn check(spec: &Spec, target: &str, env: &DrillEnv) -> Result<ProbeOutcome, FaultError> {
    let url = match env.target(target) {
        Some(Target::Scribe { cluster: c, .. }) => match c.leader().and_then(|id| c.addr(id)) {
            Some(addr) => format!("http://{addr}"),
            None => return Ok(ProbeOutcome { ok: false, detail: "scribe write: no leader".into(), definitive: false }),
        },
        _ => lookup::base_url(env, target)?,
    };
    let timeout = spec.timeout.map_or(Duration::from_secs(5), |d| d.0);
    let client = crate::http_guard::probe_client(timeout).map_err(FaultError::client)?;
    let key = spec.key.as_deref().unwrap_or("gameday-drill-probe");
    let value = format!("probe-{}", hex::encode(rand::random::<[u8; 8]>()));
    let sent = client
        .put(format!("{url}/{key}"))
        .header("X-API-Key", spec.api_key.as_deref().unwrap_or("write-key"))
        .json(&serde_json::json!({ "value": value }))
        .send()
        .await;
    Ok(match sent {
        Ok(r) if r.status().is_success() => {
            ProbeOutcome { ok: true, detail: format!("scribe write to {url}/{key}: {}", r.status()), definitive: false }
        }
        Ok(r) => {
            let status = r.status();
            let body: serde_json::Value = crate::http_guard::read_capped(r, crate::http_guard::PROBE_MAX_BODY_BYTES)
                .await
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            let code = body.get("error").and_then(|e| e.as_str()).unwrap_or("?");
            ProbeOutcome {
                ok: false,
                detail: format!("scribe write to {url}/{key}: {status} {code}"),
                definitive: false,
            }
        }
        Err(e) => ProbeOutcome { ok: false, detail: format!("scribe write to {url}/{key}: {e}"), definitive: false },
    })
}
