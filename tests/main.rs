//! Integration tests: real mocks on port 0 over real HTTP, and the real `gameday` binary.
//!
//! One module per service and one for the CLI, so each can grow on its own.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod chaos_grahmos;
mod chaos_procs;
mod cli;
mod common;
mod drill;
mod drill_e2e;
mod fuzz;
mod grahmos;
mod hostile;
mod hostile_scenarios;
mod layers;
mod load;
mod merge;
mod midnight;
mod missing_data;
mod mock_conns;
mod morphsave;
mod observe;
mod plan;
mod probes;
mod prom;
mod prometheus_e2e;
mod pxl;
mod reports;
mod rules;
mod scenarios;
mod scribe;
mod signals;
