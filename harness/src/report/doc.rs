//! The report document: what `report.md`, `report.html` and `junit.xml` show, built once
//! from a results file (plus a drill run's drills or a plan's weeks) and rendered by
//! [`super::markdown`], [`super::html`] and [`super::junit`].
//!
//! A verdict and its reasons come first; then facts, tables, checks (one per SLO, alert or
//! trigger expectation, gate comparison and drill criterion: the JUnit test cases) and
//! figures (SVG).

use super::results::{Results, RunVerdict};
use crate::rules::RuleVerdict;

/// A table: title, header and rows of text cells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Heading above the table.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows, as many cells as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with its title and column headers.
    pub fn new(title: &str, header: &[&str]) -> Self {
        Self { title: title.to_owned(), header: header.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    /// Appends a row of cells.
    pub fn push(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It held.
    Pass,
    /// It failed (an assertion).
    Fail,
    /// It could not be decided (no data, the run was invalid).
    Error,
    /// Informational, or not run.
    Skipped,
}

/// One check: a JUnit test case.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The group (`slo`, `alerts`, `triggers`, `gate`, `drill <name>`, `plan`).
    pub suite: String,
    /// The case's name.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// One line: observed vs expected, or why it failed.
    pub message: String,
}

/// An SVG figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Caption.
    pub title: String,
    /// File name under `charts/`.
    pub file: String,
    /// The SVG document.
    pub svg: String,
}

/// Everything a report shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    /// `gameday run: smoke`.
    pub title: String,
    /// The overall verdict.
    pub verdict: RunVerdict,
    /// Whether the data is partial (interrupted).
    pub partial: bool,
    /// One line per failure, in order of importance.
    pub reasons: Vec<String>,
    /// Label/value pairs: scenario, seed, machine, ...
    pub facts: Vec<(String, String)>,
    /// The tables.
    pub tables: Vec<Table>,
    /// The checks (JUnit test cases).
    pub checks: Vec<Check>,
    /// The figures.
    pub figures: Vec<Figure>,
}

impl Doc {
    /// The document of a results file's common part; a command adds its own section
    /// ([`super::section::Section`]).
    pub fn from_results(r: &Results) -> Self {
        let kind = serde_json::to_value(r.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let mut doc = Self {
            title: format!("gameday {kind}: {}", r.scenario),
            verdict: r.verdict,
            partial: r.partial,
            reasons: r.reasons.clone(),
            facts: facts(r),
            tables: vec![requests_table(r), slo_table(r)],
            checks: Vec::new(),
            figures: Vec::new(),
        };
        doc.checks.push(validity_check(r));
        doc.checks.extend(r.slos.iter().map(|v| Check {
            suite: "slo".into(),
            name: format!("{} ({})", v.name, v.objective),
            status: if v.observed.is_none() {
                Status::Error
            } else if v.pass {
                Status::Pass
            } else {
                Status::Fail
            },
            message: format!("observed {} over {} requests; objective {}", v.observed_text, v.samples, v.objective),
        }));
        for (suite, rules) in [("alerts", &r.alerts), ("triggers", &r.triggers)] {
            if !rules.is_empty() {
                doc.tables.push(rules_table(suite, rules));
            }
            doc.checks.extend(rules.iter().filter_map(|v| rule_check(suite, v)));
        }
        doc
    }
}

/// `PASS`, `FAIL` or `-` (undecided).
pub fn verdict_word(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None => "-",
    }
}

fn facts(r: &Results) -> Vec<(String, String)> {
    let m = &r.machine;
    let mut f = vec![
        ("scenario".into(), format!("{} ({})", r.scenario, r.scenario_file)),
        ("seed".into(), r.seed.to_string()),
        ("time scale".into(), format!("{}x", r.time_scale)),
        ("started".into(), r.started_at.clone()),
        ("duration".into(), format!("{:.1} s real, {:.1} s simulated", r.wall_s, r.simulated_s)),
        (
            "machine".into(),
            format!(
                "{} {} {}, {} CPUs, load {}",
                m.hostname.as_deref().unwrap_or("?"),
                m.os,
                m.arch,
                m.cpus,
                m.load_avg_1m.map_or("?".into(), |l| format!("{l:.2}"))
            ),
        ),
        ("gameday".into(), r.gameday_version.clone()),
    ];
    if let Some(h) = &r.generator {
        let state = match (h.saturated, h.held_by_target) {
            (true, _) => "SATURATED",
            (false, true) => "held up by the target (every user waiting on a request that timed out)",
            (false, false) => "kept to the schedule",
        };
        f.push((
            "generator".into(),
            format!(
                "{state}: {} of {} scheduled sent, {:.2}% late, send lag p99 {:.2} ms",
                h.sent,
                h.scheduled,
                h.late_ratio * 100.0,
                h.lag_p99_ms
            ),
        ));
    }
    f
}

fn requests_table(r: &Results) -> Table {
    let mut t =
        Table::new("Requests (latency in simulated time)", &["request", "count", "errors", "p50", "p95", "p99", "max"]);
    for q in &r.requests {
        let get = |k: &str| q.latency_ms.get(k).map_or("-".into(), |v| format!("{v:.1} ms"));
        let errors = if q.errors.is_empty() {
            "0".to_owned()
        } else {
            q.errors.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
        };
        t.push(vec![q.name.clone(), q.count.to_string(), errors, get("p50"), get("p95"), get("p99"), get("max")]);
    }
    t
}

fn slo_table(r: &Results) -> Table {
    let mut t = Table::new("SLOs", &["SLO", "request", "objective", "observed", "samples", "verdict"]);
    for v in &r.slos {
        let observed = match &v.window {
            Some(w) => {
                format!("{}; worst {}: {}", v.observed_text, crate::rules::format_window(w.window_s), w.worst_text)
            }
            None => v.observed_text.clone(),
        };
        t.push(vec![
            v.name.clone(),
            v.request.clone(),
            v.objective.clone(),
            observed,
            v.samples.to_string(),
            verdict_word(Some(v.pass)).into(),
        ]);
    }
    t
}

fn rules_table(suite: &str, rules: &[RuleVerdict]) -> Table {
    let title = if suite == "alerts" { "Alerts" } else { "Scaling triggers" };
    let mut t = Table::new(title, &["rule", "expression", "observed", "first firing", "expectation", "verdict"]);
    for v in rules {
        t.push(vec![
            v.name.clone(),
            v.expr.clone(),
            v.observed_text.clone(),
            v.first_firing_s.map_or("never".into(), crate::rules::format_sim_time),
            v.expectation.clone().unwrap_or_else(|| "informational".into()),
            verdict_word(v.pass).into(),
        ]);
    }
    t
}

fn rule_check(suite: &str, v: &RuleVerdict) -> Option<Check> {
    let expectation = v.expectation.as_ref()?;
    let fired = v
        .first_firing_s
        .map_or("never fired".into(), |t| format!("first fired at {}", crate::rules::format_sim_time(t)));
    Some(Check {
        suite: suite.into(),
        name: format!("{}: {expectation}", v.name),
        status: if v.pass == Some(true) { Status::Pass } else { Status::Fail },
        message: v.reason.clone().unwrap_or_else(|| format!("{fired}; worst value {}", v.observed_text)),
    })
}

fn validity_check(r: &Results) -> Check {
    let invalid = r.verdict == RunVerdict::Invalid;
    Check {
        suite: "run".into(),
        name: "the run is valid (generator kept up, requests succeeded, not interrupted)".into(),
        status: if invalid { Status::Error } else { Status::Pass },
        message: if invalid { r.reasons.first().cloned().unwrap_or_default() } else { "valid".into() },
    }
}
