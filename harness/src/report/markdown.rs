//! `report.md`: the verdict and its reasons first, then the tables; short enough for a CI
//! job summary (GitHub's `$GITHUB_STEP_SUMMARY`, a GitLab note).

use std::fmt::Write;

use super::doc::{Doc, Status, Table};
use super::results::RunVerdict;

/// Renders the document as GitHub-flavoured Markdown.
pub fn render(doc: &Doc) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", doc.title);
    let _ = writeln!(
        out,
        "**{}**{}\n",
        verdict_line(doc.verdict),
        if doc.partial { " (partial: the run was interrupted)" } else { "" }
    );
    for r in &doc.reasons {
        let _ = writeln!(out, "- {}", cell(r));
    }
    if !doc.reasons.is_empty() {
        out.push('\n');
    }
    let failed: Vec<_> = doc.checks.iter().filter(|c| matches!(c.status, Status::Fail | Status::Error)).collect();
    let passed = doc.checks.iter().filter(|c| c.status == Status::Pass).count();
    let _ = writeln!(out, "{passed} of {} checks passed, {} failed.\n", doc.checks.len(), failed.len());
    for t in &doc.tables {
        table(&mut out, t);
    }
    let _ = writeln!(out, "<details><summary>Run facts</summary>\n");
    for (k, v) in &doc.facts {
        let _ = writeln!(out, "- **{k}**: {}", cell(v));
    }
    let _ = writeln!(out, "\n</details>\n");
    if !doc.figures.is_empty() {
        let _ = writeln!(
            out,
            "Charts: {}",
            doc.figures.iter().map(|f| format!("[{}](charts/{})", f.title, f.file)).collect::<Vec<_>>().join(", ")
        );
    }
    out
}

/// `PASS`, `FAIL` or `INVALID` with a mark a reader sees at a glance.
pub fn verdict_line(v: RunVerdict) -> &'static str {
    match v {
        RunVerdict::Pass => "PASS ✅",
        RunVerdict::Fail => "FAIL ❌",
        RunVerdict::Invalid => "INVALID ⚠️ (the run cannot be trusted)",
    }
}

fn table(out: &mut String, t: &Table) {
    if t.rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "## {}\n", t.title);
    let _ = writeln!(out, "| {} |", t.header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(out, "|{}|", t.header.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
    for row in &t.rows {
        let _ = writeln!(out, "| {} |", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
    }
    out.push('\n');
}

/// A table cell: pipes escaped, newlines folded.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
