//! Probe `canary`: the Grahmos runbook's canary query returns the canary document.
//!
//! `curl -f "https://localhost/search?q=canary+test" -H "Authorization: Bearer $JWT"`:
//! the edge API is asked with a token of the first tenant; the probe passes when the
//! answer is 200 and its hits hold the canary document (id `canary`). A 5xx, a timeout,
//! or an answer without the canary (wrong results) fails it. The detail says whether the
//! answer was marked stale (backhaul loss) and which release answered.

use gameday_mocks::kit::HumanDuration;
use gameday_mocks::services::grahmos::corpus::{Label, CANARY_ID};

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::probe::ProbeOutcome;

pub use crate::spec::probes::canary::Spec;

/// The runbook's canary query.
pub const CANARY_QUERY: &str = "canary test";

/// Runs the probe once.
pub async fn check(spec: &Spec, target: &str, env: &DrillEnv) -> Result<ProbeOutcome, FaultError> {
    let g = lookup::grahmos(env, Some(target), "canary")?;
    let timeout = spec.timeout.map_or(std::time::Duration::from_secs(5), HumanDuration::get);
    let client = g.client(timeout)?;
    let tenant = g.tenants().first().map_or("tenant-a", String::as_str);
    let token = g.token(&[tenant], Label::Public)?;
    let q = spec.query.as_deref().unwrap_or(CANARY_QUERY);
    let answer = match g.search(&client, &token, q).await {
        Ok(a) => a,
        Err(e) => {
            return Ok(ProbeOutcome {
                ok: false,
                detail: format!("canary query got no answer: {e}"),
                definitive: false,
            })
        }
    };
    if answer.status != 200 {
        let code = answer.body["error"].as_str().unwrap_or("?");
        return Ok(ProbeOutcome {
            ok: false,
            detail: format!("canary query answered {} ({code})", answer.status),
            definitive: false,
        });
    }
    let found = answer.hit_ids().iter().any(|id| id == CANARY_ID);
    let release = answer.body["release"].as_str().unwrap_or("?");
    let detail = format!(
        "canary query answered 200 from release {release}: canary document {}; upstream {}{}",
        if found { "present" } else { "MISSING" },
        answer.upstream(),
        if answer.stale() { " (marked stale)" } else { "" }
    );
    Ok(ProbeOutcome { ok: found, detail, definitive: false })
}
