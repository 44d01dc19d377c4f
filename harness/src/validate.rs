//! `gameday validate SCENARIO`: everything `gameday run` would refuse, refused without
//! starting anything or sending a request.
//!
//! The scenario is parsed and resolved, the targets' loopback guard, request mix, scrape
//! targets and probes are checked ([`crate::run::preflight`]), and the metrics the rules
//! name are looked up on the targets that can be reached (a target that cannot be listed
//! is a warning, not a refusal).

use std::path::Path;

use crate::scenario::Scenario;
use crate::{run, Error};

/// What a valid scenario holds, and what could not be checked.
#[derive(Debug)]
pub struct Validated {
    /// The resolved scenario.
    pub scenario: Scenario,
    /// What could not be checked (unreachable targets' metrics).
    pub warnings: Vec<String>,
}

impl Validated {
    /// The one line `gameday validate` prints for a valid scenario.
    pub fn summary(&self, path: &Path) -> String {
        let s = &self.scenario;
        format!(
            "{}: ok: scenario `{}`, {} request kinds, {} SLOs, {} alerts, {} triggers, {} drills",
            path.display(),
            s.name,
            s.load.requests.len(),
            s.slos.len(),
            s.alerts.len(),
            s.triggers.len(),
            s.drills.len()
        )
    }
}

/// Validates the scenario at `path` (its own URLs: no `--target` here).
pub async fn validate(path: &Path, allow_remote: bool) -> Result<Validated, Error> {
    let scenario = crate::resolve::load(path)?;
    let urls = run::preflight(&scenario, &[], allow_remote)?
        .into_iter()
        .map(|(id, u)| (id, u.map(|u| u.trim_end_matches('/').to_owned())))
        .collect();
    let warnings = run::check_rule_metrics(&scenario, &urls).await?;
    Ok(Validated { scenario, warnings })
}
