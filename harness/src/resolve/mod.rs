//! The resolve step: a parsed scenario made runnable, with the cross-references that need
//! an engine checked, above the engines and below the commands (ripgrep's LowArgs ->
//! HiArgs). `scenario::parse` checks what the file alone decides; [`parse`] and [`load`]
//! add:
//! - `[growth]` turned into the load's rate curve (when the load gives none) and
//!   `[plan]`'s bounds;
//! - `[gate]` against the mix's request kinds;
//! - every `[[drill]]` against the scenario's rules, probes and load;
//! - [`drill`] and [`gate`]: the `impl` of the drill model and these checks;
//! - [`metrics`]: every scraped metric a rule uses exists in some target's catalog, with
//!   the labels it matches (needs the running targets: called by `run`).

pub mod drill;
pub mod gate;
pub mod metrics;

use std::path::Path;

pub use metrics::check_metrics;

use crate::capacity::growth::Growth;
use crate::scenario::{self, model_field, Scenario, ScenarioError};
use crate::spec::plan::PlanSpec;

/// Reads, parses and resolves a scenario file: what every command runs.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = scenario::read_text(path)?;
    parse(path, &text)
}

/// Parses and resolves scenario text; `path` is used in error messages.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let mut s = scenario::parse(path, text)?;
    let refuse = |span, field: String, message| scenario::error_at(path, text, span, &field, message);
    growth_rate(&mut s).map_err(|(field, message)| refuse(None, field, message))?;
    s.load.model().map_err(|e| refuse(None, model_field(&s.load), e.to_string()))?;
    if let Some(g) = &s.gate {
        let requests: Vec<&str> = s.load.requests.iter().map(|r| r.name.get_ref().as_str()).collect();
        gate::validate(g, &requests).map_err(|e| refuse(e.span, e.field, e.message))?;
    }
    drill::validate(&s).map_err(|e| refuse(e.span, e.field, e.message))?;
    Ok(s)
}

/// Checks `[growth]` and `[plan]`; a growth scenario without its own `load.rate` or
/// `load.users` runs its growth curve (so `gameday run` replays it too).
fn growth_rate(s: &mut Scenario) -> Result<(), (String, String)> {
    check_plan(&s.plan)?;
    let Some(spec) = &s.growth else { return Ok(()) };
    let growth = Growth::new(spec, &s.load.requests).map_err(|e| (format!("growth.{}", e.field), e.message))?;
    if s.plan.live_weeks.iter().flatten().any(|&w| w == 0 || w as usize > growth.weeks.len()) {
        return Err(("plan.live_weeks".into(), format!("weeks are numbered 1..={}", growth.weeks.len())));
    }
    if s.load.rate.is_none() && s.load.users.is_none() {
        s.load.rate = Some(growth.curve().map_err(|e| ("growth".to_owned(), e.to_string()))?);
    }
    Ok(())
}

fn check_plan(p: &PlanSpec) -> Result<(), (String, String)> {
    if !(p.headroom >= 1.0 && p.headroom <= 100.0) {
        return Err(("plan.headroom".into(), format!("must be in [1, 100], found {}", p.headroom)));
    }
    if let Some(c) = p.target_cpu.filter(|c| !(*c > 0.0 && *c <= 1.0)) {
        return Err(("plan.target_cpu".into(), format!("must be in (0, 1], found {c}")));
    }
    if p.min_size == 0 || p.min_size > p.max_size {
        let msg = format!("need 1 <= min_size <= max_size, found {} and {}", p.min_size, p.max_size);
        return Err(("plan.min_size".into(), msg));
    }
    Ok(())
}
