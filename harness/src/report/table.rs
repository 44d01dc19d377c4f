//! The terminal SLO table: observed vs objective, pass/fail, one row per SLO.

use std::fmt::Write;

use super::results::{Results, RunVerdict};

/// Renders the requests and SLO tables and the verdict line.
pub fn render(r: &Results) -> String {
    render_with(r, "verdict")
}

/// [`render`], with the verdict line labelled `verdict_label` (a drill's load verdict is
/// informational, and says so).
pub fn render_with(r: &Results, verdict_label: &str) -> String {
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
        let (objective, observed) = match &v.window {
            Some(w) => {
                let win = crate::rules::format_window(w.window_s);
                (
                    format!("{} (and per {win})", v.objective),
                    format!("{}; worst {win}: {}", v.observed_text, w.worst_text),
                )
            }
            None => (v.objective.clone(), v.observed_text.clone()),
        };
        rows.push(row(&[&v.name, &v.request, &objective, &observed, &v.samples.to_string(), verdict]));
    }
    out.push_str(&align(&rows));
    for (title, list) in [("alerts", &r.alerts), ("scaling triggers", &r.triggers)] {
        if !list.is_empty() {
            let _ = writeln!(out, "\n{title} (simulated time)");
            out.push_str(&align(&rule_rows(list)));
        }
    }
    let verdict = match r.verdict {
        RunVerdict::Pass => "PASS",
        RunVerdict::Fail => "FAIL",
        RunVerdict::Invalid => "INVALID",
    };
    let _ = writeln!(out, "\n{verdict_label}: {verdict}");
    for reason in &r.reasons {
        let _ = writeln!(out, "  - {reason}");
    }
    out
}

fn rule_rows(list: &[crate::rules::RuleVerdict]) -> Vec<Vec<String>> {
    let mut rows = vec![row(&["rule", "expr", "worst", "first fired", "expected", "verdict"])];
    for v in list {
        let fired = v.first_firing_s.map_or_else(|| "never".into(), crate::rules::format_sim_time);
        let verdict = match v.pass {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "info",
        };
        let expected = v.expectation.as_deref().unwrap_or("-");
        rows.push(row(&[&v.name, &v.expr, &v.observed_text, &fired, expected, verdict]));
    }
    rows
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
