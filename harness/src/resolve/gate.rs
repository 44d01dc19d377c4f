//! `[gate]` checked against the scenario's request mix.

use crate::invalid::Invalid;
use crate::spec::gate::{GateSpec, TRACKABLE};

/// Checks the `[gate]` table against the request mix (the refusal has no span: the
/// scenario parser finds the field's line).
pub fn validate(spec: &GateSpec, requests: &[&str]) -> Result<(), Invalid> {
    if spec.track.is_empty() {
        return Err(Invalid::new(None, "gate.track", "names no percentile; track at least one (e.g. \"p95\")"));
    }
    if let Some(t) = spec.track.iter().find(|t| !TRACKABLE.contains(&t.as_str())) {
        return Err(Invalid::new(None, "gate.track", format!("`{t}` is not one of {}", TRACKABLE.join(", "))));
    }
    if let Some(r) = spec.requests.iter().find(|r| !requests.contains(&r.as_str())) {
        let msg = format!("unknown request `{r}` (the load has: {})", requests.join(", "));
        return Err(Invalid::new(None, "gate.requests", msg));
    }
    if !(spec.false_alarm_rate > 0.0 && spec.false_alarm_rate < 0.5) {
        let msg = format!("must be in (0, 0.5), found {}", spec.false_alarm_rate);
        return Err(Invalid::new(None, "gate.false_alarm_rate", msg));
    }
    Ok(())
}
