//! Probe parameters, one file per probe kind, as `[drill.detect] probe`, `[[drill.verify]]`
//! and `[[probe]]` write them (plain data; the engines are `chaos::probes` and `probe`),
//! and the names of the series probes record.

pub mod acl;
pub mod attestation;
pub mod canary;
pub mod http;
pub mod scribe_write;
pub mod tls;

/// The success series' name (1 passed, 0 failed or could not run).
pub const SUCCESS: &str = "probe_success";

/// The duration series' name (simulated seconds the check took).
pub const DURATION: &str = "probe_duration_seconds";

/// Whether `name` is one of the probe series' names.
pub fn is_probe_metric(name: &str) -> bool {
    name == SUCCESS || name == DURATION
}
