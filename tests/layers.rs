//! The harness's layers, held by a test: every `crate::` path in `harness/src` must point
//! at a module in a lower layer than the file's own (or inside its own module). No
//! exceptions list: a new module must be placed in [`LAYERS`], and an import that goes up
//! fails here with the file, line and both modules. `ARCHITECTURE.md` draws the same order.
//!
//! The crates below the harness (`gameday-mocks`, `gameday-core`, `gameday-rules`,
//! `gameday-sim`) are held by Cargo itself: none of them can name `gameday`.

use std::path::{Path, PathBuf};

/// Bottom to top. A module may use a module listed before it. An entry is a module path;
/// a file belongs to the longest entry that is a prefix of its own path, so
/// `capacity::growth` (the growth-curve engine) sits with the engines while the rest of
/// `capacity` (the `plan` command) sits with the commands.
const LAYERS: &[&str] = &[
    // Leaves: no module of the crate below them.
    "invalid",
    "clock",
    "redact",
    "http_guard",
    // The spec leaf: each engine's and command's section of the scenario file as data.
    "spec",
    // The scenario file model: the composition of the specs, parsing, in-file checks.
    "scenario",
    // Where each service is, and mock profiles as data.
    "profile",
    "targets",
    // Engines.
    "load",
    "observe",
    "probe",
    "capacity::growth",
    // The resolve step: cross-references that need an engine.
    "resolve",
    // Outputs: the results core, the report document and its renderers.
    "report",
    // Commands: `run` first (the others build on it), then each command.
    "run",
    "merge",
    "validate",
    "chaos",
    "gate",
    "capacity",
    "fleet",
    "rules_export",
    "rules_tests",
    // Flags -> options -> command -> exit code.
    "cli",
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `run/interrupt.rs` -> `run::interrupt`; `chaos/mod.rs` -> `chaos`; `lib.rs` -> ``.
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src_dir()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib" || l == "main") {
        parts.pop();
    }
    parts.join("::")
}

/// The layer index of a module path: its longest declared prefix.
fn layer_of(module: &str) -> Option<usize> {
    let matches = |entry: &str| module == entry || module.starts_with(&format!("{entry}::"));
    LAYERS.iter().enumerate().filter(|(_, e)| matches(e)).max_by_key(|(_, e)| e.len()).map(|(i, _)| i)
}

/// Every module path a line names through `crate::` (`crate::a::b`, `crate::{a, b::c}`);
/// items of the crate root (`crate::Error`) are not modules and are left out.
fn crate_paths(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            out.extend(inner.split(',').filter_map(|p| module_path(p.trim())));
        } else if let Some(p) = module_path(rest) {
            out.push(p);
        }
    }
    out
}

/// The leading lower-case path segments of `text` (`load::record::Outcome` -> `load::record`).
fn module_path(text: &str) -> Option<String> {
    let segs: Vec<&str> = text
        .split("::")
        .map(|s| s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or(""))
        .take_while(|s| s.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .collect();
    (!segs.is_empty() && segs[0] != "self").then(|| segs.join("::"))
}

#[test]
fn every_crate_import_points_down_the_declared_layers() {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    files.sort();
    let mut ups = Vec::new();
    let mut unplaced = Vec::new();
    for file in &files {
        let own = module_of(file);
        if own.is_empty() {
            continue; // lib.rs / main.rs: the crate root declares every module
        }
        let Some(own_layer) = layer_of(&own) else {
            unplaced.push(own);
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for target in crate_paths(line) {
                let Some(to) = layer_of(&target) else { continue }; // a crate-root item or a re-export
                if to > own_layer {
                    let rel = file.strip_prefix(src_dir()).unwrap().display();
                    ups.push(format!(
                        "src/{rel}:{}: {own} ({}) -> {target} ({})",
                        n + 1,
                        LAYERS[own_layer],
                        LAYERS[to]
                    ));
                }
            }
        }
    }
    assert!(unplaced.is_empty(), "modules missing from LAYERS (place each in tests/layers.rs): {unplaced:?}");
    assert!(ups.is_empty(), "imports that go up the layers:\n{}", ups.join("\n"));
    assert!(files.len() > 100, "read only {} files under {}", files.len(), src_dir().display());
}

#[test]
fn the_checker_reads_grouped_nested_and_root_imports() {
    assert_eq!(crate_paths("use crate::load::record::{KindStats, Outcome};"), ["load::record"]);
    assert_eq!(crate_paths("use crate::{scenario, targets::Resolved, Error};"), ["scenario", "targets"]);
    assert_eq!(crate_paths("let x = crate::report::write_atomic(p); // crate::cli"), ["report::write_atomic"]);
    assert!(crate_paths("use crate::{Error, Exit};").is_empty());
    assert_eq!(layer_of("capacity::growth"), LAYERS.iter().position(|l| *l == "capacity::growth"));
    assert_eq!(layer_of("capacity::plan::live"), LAYERS.iter().position(|l| *l == "capacity"));
    assert_eq!(layer_of("chaos::faults::latency"), LAYERS.iter().position(|l| *l == "chaos"));
    assert!(layer_of("nowhere").is_none());
    // What the check refuses: the file model reaching up into a command.
    assert!(layer_of("scenario::model") < layer_of("gate"));
    assert!(layer_of("load::record") < layer_of("observe::live"));
}
