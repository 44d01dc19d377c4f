//! `report.md`: the verdict and its reasons first, then the tables; short enough for a CI
//! job summary (GitHub's `$GITHUB_STEP_SUMMARY`, a GitLab note).
//!
//! Every piece of text comes from a scenario someone wrote or a target that answered, so
//! all of it goes through [`cell`]: HTML is escaped (`<svg onload=...>` shows as text) and
//! Markdown punctuation is backslash-escaped (no links, images or emphasis it did not
//! ask for). Only the renderer's own structure (headings, bold labels, chart links) is markup.

use std::fmt::Write;

use super::doc::{Doc, Status, Table};
use super::results::RunVerdict;

/// Renders the document as GitHub-flavoured Markdown.
pub fn render(doc: &Doc) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", cell(&doc.title));
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
        let _ = writeln!(out, "- **{}**: {}", cell(k), cell(v));
    }
    let _ = writeln!(out, "\n</details>\n");
    if !doc.figures.is_empty() {
        let _ = writeln!(
            out,
            "Charts: {}",
            doc.figures
                .iter()
                .map(|f| format!("[{}](charts/{})", cell(&f.title), link(&f.file)))
                .collect::<Vec<_>>()
                .join(", ")
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
    let _ = writeln!(out, "## {}\n", cell(&t.title));
    let _ = writeln!(out, "| {} |", t.header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(out, "|{}|", t.header.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
    for row in &t.rows {
        let _ = writeln!(out, "| {} |", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
    }
    out.push('\n');
}

/// Text shown as text: HTML escaped, Markdown punctuation backslash-escaped (pipes
/// included, so it is safe in a table cell), line breaks folded.
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '|' | '#' | '~' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A chart file name as a relative link target: percent-encoded except `[A-Za-z0-9._-]`.
fn link(file: &str) -> String {
    file.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_markdown_in_text_stay_text() {
        let hostile = "<svg onload=alert(1)> ![x](http://evil/p.png) [link](http://e) **b** `c` | d";
        let c = cell(hostile);
        assert!(!c.contains('<') && !c.contains('>'), "{c}");
        assert!(c.contains("&lt;svg onload=alert\\(1\\)&gt;"), "{c}");
        assert!(c.contains("\\!\\[x\\]\\(http://evil/p.png\\)"), "{c}");
        assert!(c.contains("\\*\\*b\\*\\*") && c.contains("\\`c\\`") && c.contains("\\| d"), "{c}");
        assert_eq!(cell("a\nb\u{7}"), "a b");
        assert_eq!(link("p95 (ms).svg"), "p95%20%28ms%29.svg");
    }
}
