//! Mock processes under a supervisor, for faults that kill or freeze their target
//! (`enclave-crash`, `freeze`): the target runs as `gameday mocks --only NAME` and the
//! supervisor restarts it like systemd's `Restart=`.
//!
//! STUB (the runner's seam): the process helper replaces this file with the supervisor
//! and adds `Target::Process(Arc<Supervisor>)` to [`super::env::Target`]. The drill
//! environment already calls [`start_process_target`] for every service a drill's fault
//! `needs_process()`.

use gameday_mocks::{ServiceId, ServiceProfile, TimeScale};

use super::env::Target;
use super::fault::FaultError;

/// Starts `id` with `profile` as its own supervised process and returns its target.
pub async fn start_process_target(
    id: ServiceId,
    _profile: &ServiceProfile,
    _scale: TimeScale,
    _seed: u64,
) -> Result<Target, FaultError> {
    Err(FaultError::Unsupported {
        fault: "process target".to_owned(),
        target: id.to_string(),
        why: "supervised mock processes are not built yet".to_owned(),
    })
}
