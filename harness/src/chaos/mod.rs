//! Chaos drills: real faults injected under load, detection and recovery measured, and
//! every fault always rolled back.
//!
//! A drill is data (`[[drill]]` in a scenario, see [`drill`]): a target, a fault, when to
//! inject it, how detection is observed (a rule or a probe), the recovery action, the
//! verification and the exit criteria. The [`runner`] checks steady state, injects,
//! watches for detection, recovers, verifies, and rolls back through the [`guard`] on
//! every path (success, failure, dead-man timeout, panic, Ctrl-C).
//!
//! - [`fault`]: the seam between the runner and the faults: [`fault::FaultSpec`] (one
//!   variant per fault, one file each under [`faults`]), [`fault::Rollback`];
//! - [`env`]: the targets a drill can reach (embedded mocks with their fault hooks, a
//!   supervised mock process, or a remote URL in staging);
//! - [`probe`]: active checks (HTTP, the runbook's canary query, attestation, TLS);
//! - [`faults`] / [`probes`]: one module per fault / probe, all of the same shape;
//! - [`proxy`]: the in-process TCP fault proxy (blackhole, reset, latency, bandwidth, drop);
//! - [`supervisor`]: one mock as its own child process (kill, freeze, restart on the same ports),
//!   forked by the process-long [`spawner`] thread so it dies with gameday and no sooner;
//! - [`targets`]: finding the handle (process, cluster, controls) a fault needs;
//! - [`grahmos_edge`]: the Grahmos edge started with the fault proxy on its backhaul;
//! - [`cleanup`]: the targets' temporary folders, removed at exit and after a killed run.

pub mod cleanup;
pub use crate::resolve::drill;
pub mod env;
pub mod fault;
pub mod fault_error;
pub mod faults;
pub mod grahmos_edge;
pub mod guard;
pub mod lookup;
pub mod probe;
pub mod probes;
pub mod proxy;
pub mod record;
pub mod runner;
pub mod spawner;
pub mod supervisor;
mod timeline;
pub mod undo;
