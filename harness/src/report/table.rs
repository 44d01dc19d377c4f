//! The terminal SLO table: observed vs objective, pass/fail, one row per SLO.

use std::fmt::Write;

use super::results::{Results, RunVerdict};

/// Renders the requests and SLO tables and the verdict line.
pub fn render(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nrequests (latency in simulated time)");
    let mut rows = vec![row(&["request", "count", "errors", "p50", "p95", "p99", "max"])];
    for q in &r.requests {
        let get = |k: &str| q.latency_ms.get(k).map_or("-".into(), |v| format!("{v:.1}ms"));
        let errors = q.count - q.ok;
        rows.push(row(&[
            &q.name,
            &q.count.to_string(),
            &errors.to_string(),
            &get("p50"),
            &get("p95"),
            &get("p99"),
            &get("max"),
        ]));
    }
    out.push_str(&align(&rows));
    let _ = writeln!(out, "\nSLOs");
    let mut rows = vec![row(&["slo", "request", "objective", "observed", "samples", "verdict"])];
    for v in &r.slos {
        let verdict = if v.pass { "PASS" } else { "FAIL" };
        rows.push(row(&[&v.name, &v.request, &v.objective, &v.observed_text, &v.samples.to_string(), verdict]));
    }
    out.push_str(&align(&rows));
    let verdict = match r.verdict {
        RunVerdict::Pass => "PASS",
        RunVerdict::Fail => "FAIL",
        RunVerdict::Invalid => "INVALID",
    };
    let _ = writeln!(out, "\nverdict: {verdict}");
    for reason in &r.reasons {
        let _ = writeln!(out, "  - {reason}");
    }
    out
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn align(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        let _ = writeln!(out, "  {}", line.join("  ").trim_end());
    }
    out
}
