//! Integration tests, one binary (`cargo test -p gameday --test integration`): real mocks
//! on port 0 over real HTTP, the real `gameday` binary, real processes, files,
//! certificates and, where a user would have one, real servers (promtool, Prometheus).
//!
//! One module per service (`midnight`, `scribe`, `grahmos`, `pxl`, `morphsave`, with
//! their folders), per engine (`load`, `observe`, `probes`, `rules`, `prom`,
//! `missing_data`), per command (`cli`, `drill`, `drill_e2e`, `chaos_*`, `plan`, `merge`,
//! `reports`, `scenarios`, `signals`), hostile inputs (`hostile*`, `fuzz`), and the layer
//! check (`layers`). `common` holds the shared helpers: the one `skip` (skips locally,
//! fails under `CI=true`), polling, the promtool runner and the heavy-test turn.

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
mod run_hooks;
mod scenarios;
mod scribe;
mod signals;
