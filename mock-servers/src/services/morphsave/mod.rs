//! MorphSave: app with database pool, cache and blockchain RPC (runbook 004).
//!
//! Placeholder until issue 4 builds this mock; it has the shape every service module
//! has (`Profile`, `start`), so the fleet, the scenario format and the CLI know it.

use serde::{Deserialize, Serialize};

use super::{MockError, RunningService, ServiceId};
use crate::kit::MockContext;

/// The service's knobs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {}

/// Starts the service.
pub async fn start(_profile: Profile, _ctx: &MockContext) -> Result<RunningService, MockError> {
    Err(MockError::Profile { service: ServiceId::Morphsave, message: "this mock is not built yet".into() })
}
