//! The shipped scenarios run and pass against the embedded mocks.
//!
//! Each smoke scenario runs through the real `gameday` binary (about 16 real seconds
//! each). The runs hold a lock so they do not overlap: on a small shared machine four
//! concurrent load runs would compete for the CPU and inflate every latency, and a smoke
//! test should fail because of the service, not because of its neighbours.

use std::path::PathBuf;

use crate::common::{run as gameday, text};

fn scenarios_dir() -> PathBuf {
    crate::common::repo_file("scenarios")
}

/// Runs `scenarios/<file>`, asserts exit 0, verdict `pass`, and traffic on every request kind.
fn runs_and_passes(file: &str) {
    let scenario = scenarios_dir().join(file);
    assert!(scenario.is_file(), "{} is missing", scenario.display());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = {
        let _turn = crate::common::heavy();
        gameday(&["run", scenario.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"])
    };
    assert_eq!(o.status.code(), Some(0), "{file}: {}", text(&o));
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["verdict"], "pass", "{file}: {:#}\n{:#}", results["reasons"], results["slos"]);
    let requests = results["requests"].as_array().unwrap();
    assert!(!requests.is_empty(), "{file}: no request kinds in results");
    for r in requests {
        let count = r["count"].as_u64().unwrap();
        assert!(count > 0, "{file}: request kind `{}` was never sent", r["name"]);
    }
}

#[test]
fn scribe_smoke_passes() {
    runs_and_passes("scribe-smoke.toml");
}

#[test]
fn grahmos_smoke_passes() {
    runs_and_passes("grahmos-smoke.toml");
}

#[test]
fn pxl_smoke_passes() {
    runs_and_passes("pxl-smoke.toml");
}

#[test]
fn morphsave_smoke_passes() {
    runs_and_passes("morphsave-smoke.toml");
}

#[test]
fn validate_accepts_every_shipped_scenario() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios in {}", scenarios_dir().display());
    for f in &files {
        let o = gameday(&["validate", f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", f.display(), text(&o));
    }
}
