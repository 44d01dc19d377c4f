//! `[gate]` checked against the scenario's request mix.

use crate::spec::gate::{GateSpec, TRACKABLE};

/// Checks the `[gate]` table against the request mix: `(field, message)` on failure.
pub fn validate(spec: &GateSpec, requests: &[&str]) -> Result<(), (String, String)> {
    if spec.track.is_empty() {
        return Err(("gate.track".into(), "names no percentile; track at least one (e.g. \"p95\")".into()));
    }
    if let Some(t) = spec.track.iter().find(|t| !TRACKABLE.contains(&t.as_str())) {
        return Err(("gate.track".into(), format!("`{t}` is not one of {}", TRACKABLE.join(", "))));
    }
    if let Some(r) = spec.requests.iter().find(|r| !requests.contains(&r.as_str())) {
        return Err(("gate.requests".into(), format!("unknown request `{r}` (the load has: {})", requests.join(", "))));
    }
    if !(spec.false_alarm_rate > 0.0 && spec.false_alarm_rate < 0.5) {
        let msg = format!("must be in (0, 0.5), found {}", spec.false_alarm_rate);
        return Err(("gate.false_alarm_rate".into(), msg));
    }
    Ok(())
}
