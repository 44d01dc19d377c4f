//! A seeded mutation fuzz of the scenario parser, its validation, `run`'s preflight and
//! `rules export`, in process.
//!
//! Every shipped scenario is mutated (lines deleted, duplicated, swapped or borrowed from
//! another scenario; values replaced by hostile ones; bytes flipped; the text cut short),
//! one to three mutations at a time, from a fixed seed. Each mutant must:
//! - never panic, in parsing, validation, `rules export` or the preflight;
//! - when refused, carry a line and column (and the field, unless the TOML itself does
//!   not parse, where no field exists);
//! - when accepted, pass `run`'s preflight (the checks `run` makes before any load,
//!   `--allow-remote` given): nothing `validate` accepts is then refused by `run`.
//!
//! CI runs [`MUTANTS_PER_SCENARIO`] mutants of each scenario (over 5000 in all, a few
//! seconds). `GAMEDAY_FUZZ_MUTANTS=N cargo test --test integration -- --ignored fuzz`
//! runs N per scenario with another seed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Mutants per shipped scenario in the CI run (25 scenarios: over 5000 mutants).
const MUTANTS_PER_SCENARIO: usize = 220;

/// Values a hostile or careless author writes.
const HOSTILE: &[&str] = &[
    "0",
    "-1",
    "1e300",
    "1e-300",
    "nan",
    "inf",
    "-inf",
    "4294967295",
    "18446744073709551615",
    "9223372036854775807",
    "true",
    "[]",
    "{}",
    "\"\"",
    "\"0s\"",
    "\"-3s\"",
    "\"1e300s\"",
    "\"99999999999999999999d\"",
    "\"18446744073709551615s\"",
    "\"0.000000001ms\"",
    "\"1000000000/s\"",
    "\"1e-9/s\"",
    "\"100%\"",
    "\"200%\"",
    "\"-5%\"",
    "\"../../x\"",
    "\"/etc/passwd\"",
    "\"a\\u0000b\"",
    "\"x\\r\\nInjected: 1\"",
    "\"bad name\"",
    "\"ftp://127.0.0.1:21/\"",
    "\"http://10.0.0.1:80\"",
    "\"http://u:p@127.0.0.1:1\"",
    "\"http://\"",
    "\"<svg onload=alert(1)>\"",
    "\"p99 < 0ms\"",
    "\"p101 < 1s\"",
    "\"error_ratio < 200%\"",
    "\"rate(x[0s]) > 1\"",
    "\"absent(\"",
    "\"sum(sum(sum(up))) > 1\"",
    "\"lognormal\"",
    "\"/\"",
    "\"no-slash\"",
];

#[test]
fn fuzz_scenarios_ci() {
    let report = fuzz(MUTANTS_PER_SCENARIO, 0x5EED_2023);
    assert!(report.mutants >= 5000, "only {} mutants", report.mutants);
    report.assert_clean();
}

#[test]
#[ignore = "long: GAMEDAY_FUZZ_MUTANTS=N mutants per scenario (default 4000)"]
fn fuzz_scenarios_long() {
    let n = std::env::var("GAMEDAY_FUZZ_MUTANTS").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
    fuzz(n, 0xF022_0001).assert_clean();
}

#[derive(Default)]
struct Report {
    mutants: usize,
    accepted: usize,
    findings: Vec<String>,
}

impl Report {
    fn assert_clean(&self) {
        eprintln!("fuzz: {} mutants, {} accepted, {} findings", self.mutants, self.accepted, self.findings.len());
        let mut classes = std::collections::BTreeMap::new();
        for f in &self.findings {
            let head = f.lines().next().unwrap_or_default();
            let class: String = head.split(": ").take(3).collect::<Vec<_>>().join(": ");
            classes.entry(class).or_insert_with(|| f.clone());
        }
        let examples: Vec<String> = classes.values().take(12).map(|f| f.chars().take(1500).collect()).collect();
        assert!(
            self.findings.is_empty(),
            "{} findings in {} classes, one example each:\n{}",
            self.findings.len(),
            classes.len(),
            examples.join("\n---\n")
        );
    }
}

fn fuzz(per_scenario: usize, seed: u64) -> Report {
    let files = shipped_scenarios();
    assert!(files.len() >= 20, "found only {} shipped scenarios", files.len());
    let texts: Vec<(PathBuf, String)> =
        files.iter().map(|f| (f.clone(), std::fs::read_to_string(f).unwrap())).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut report = Report::default();
    for (file, text) in &texts {
        for _ in 0..per_scenario {
            let mut mutant = text.clone();
            for _ in 0..rng.random_range(1..=3) {
                mutant = mutate(&mutant, &texts, &mut rng);
            }
            report.mutants += 1;
            if let Some(finding) = check(file, &mutant, &mut report.accepted) {
                report.findings.push(format!("{}: {finding}\n{mutant}", file.display()));
            }
        }
    }
    report
}

/// One mutant through the parser, and when accepted through export and the preflight.
fn check(file: &Path, text: &str, accepted: &mut usize) -> Option<String> {
    let parsed = match catch_unwind(AssertUnwindSafe(|| gameday::resolve::parse(file, text))) {
        Err(_) => return Some("parse panicked".into()),
        Ok(p) => p,
    };
    let s = match parsed {
        Err(e) => return refusal_problem(text, &e),
        Ok(s) => s,
    };
    *accepted += 1;
    if catch_unwind(AssertUnwindSafe(|| gameday::rules_export::export(&s))).is_err() {
        return Some("rules export panicked".into());
    }
    match catch_unwind(AssertUnwindSafe(|| gameday::run::preflight(&s, &[], true))) {
        Err(_) => Some("run's preflight panicked".into()),
        Ok(Err(e)) => Some(format!("parse accepted what run refuses before load: {e}")),
        Ok(Ok(_)) => None,
    }
}

/// A refusal must name a position, and a field unless the TOML is not TOML at all.
fn refusal_problem(text: &str, e: &gameday::scenario::ScenarioError) -> Option<String> {
    if e.position.is_none() {
        return Some(format!("refusal without a line: {e}"));
    }
    let is_toml = text.parse::<toml::Table>().is_ok();
    if is_toml && e.field.is_none() {
        return Some(format!("refusal without a field: {e}"));
    }
    if e.to_string().contains("$__") {
        return Some(format!("refusal leaks serde internals: {e}"));
    }
    None
}

fn mutate(text: &str, corpus: &[(PathBuf, String)], rng: &mut StdRng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        return text.to_owned();
    }
    let i = rng.random_range(0..lines.len());
    match rng.random_range(0..8) {
        0 => {
            lines.remove(i);
        }
        1 => lines.insert(i, lines[i].clone()),
        2 => {
            let j = rng.random_range(0..lines.len());
            lines.swap(i, j);
        }
        3 => {
            let (_, other) = &corpus[rng.random_range(0..corpus.len())];
            let borrowed: Vec<&str> = other.lines().collect();
            lines.insert(i, borrowed[rng.random_range(0..borrowed.len())].to_owned());
        }
        4 | 5 => replace_value(&mut lines, rng),
        6 => return flip_char(text, rng),
        _ => return cut(text, rng),
    }
    lines.join("\n")
}

/// A `key = value` line gets a hostile value (or, if the chosen line has none, the next one that does).
fn replace_value(lines: &mut [String], rng: &mut StdRng) {
    let start = rng.random_range(0..lines.len());
    let n = lines.len();
    for k in 0..n {
        let line = &lines[(start + k) % n];
        if let Some((key, _)) = line.split_once(" = ") {
            let value = HOSTILE[rng.random_range(0..HOSTILE.len())];
            lines[(start + k) % n] = format!("{key} = {value}");
            return;
        }
    }
}

fn flip_char(text: &str, rng: &mut StdRng) -> String {
    const CHARS: &[char] = &['"', '[', ']', '=', '\n', '\0', '{', '}', '.', '9', '-', ' ', '\'', '#', 'é'];
    let mut chars: Vec<char> = text.chars().collect();
    if !chars.is_empty() {
        let i = rng.random_range(0..chars.len());
        chars[i] = CHARS[rng.random_range(0..CHARS.len())];
    }
    chars.into_iter().collect()
}

fn cut(text: &str, rng: &mut StdRng) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = rng.random_range(0..=chars.len());
    chars[..at].iter().collect()
}

fn shipped_scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
