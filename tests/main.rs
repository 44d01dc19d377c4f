//! Integration tests: real mocks on port 0 over real HTTP, and the real `gameday` binary.
//!
//! One module per service and one for the CLI, so each can grow on its own.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod chaos_grahmos;
mod cli;
mod common;
mod drill;
mod grahmos;
mod load;
mod midnight;
mod morphsave;
mod observe;
mod plan;
mod prom;
mod pxl;
mod rules;
mod scenarios;
mod scribe;
