//! `junit.xml`: one test case per SLO, alert or trigger expectation, gate comparison and
//! drill criterion, grouped in suites, so CI systems list them natively.
//!
//! The format is the de-facto JUnit XML read by Jenkins, GitLab and GitHub test
//! reporters: `<testsuites>` of `<testsuite>` of `<testcase>` with `<failure>`, `<error>`
//! or `<skipped>`.

use std::fmt::Write;

use super::doc::{Check, Doc, Status};

/// Renders the document's checks as JUnit XML.
pub fn render(doc: &Doc) -> String {
    let mut suites: Vec<(&str, Vec<&Check>)> = Vec::new();
    for c in &doc.checks {
        match suites.iter_mut().find(|(s, _)| *s == c.suite) {
            Some((_, list)) => list.push(c),
            None => suites.push((&c.suite, vec![c])),
        }
    }
    let count = |list: &[&Check], st: Status| list.iter().filter(|c| c.status == st).count();
    let all: Vec<&Check> = doc.checks.iter().collect();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        esc(&doc.title),
        all.len(),
        count(&all, Status::Fail),
        count(&all, Status::Error),
        count(&all, Status::Skipped)
    );
    for (suite, list) in &suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            esc(suite),
            list.len(),
            count(list, Status::Fail),
            count(list, Status::Error),
            count(list, Status::Skipped)
        );
        for c in list {
            case(&mut out, suite, c);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn case(out: &mut String, suite: &str, c: &Check) {
    let _ = write!(out, "    <testcase classname=\"gameday.{}\" name=\"{}\"", esc(suite), esc(&c.name));
    let (tag, kind) = match c.status {
        Status::Pass => {
            let _ = writeln!(out, ">\n      <system-out>{}</system-out>\n    </testcase>", esc(&c.message));
            return;
        }
        Status::Fail => ("failure", "CheckFailed"),
        Status::Error => ("error", "NoVerdict"),
        Status::Skipped => ("skipped", ""),
    };
    let _ = writeln!(out, ">");
    if kind.is_empty() {
        let _ = writeln!(out, "      <{tag} message=\"{}\"/>", esc(&c.message));
    } else {
        let _ = writeln!(out, "      <{tag} message=\"{m}\" type=\"{kind}\">{m}</{tag}>", m = esc(&c.message));
    }
    out.push_str("    </testcase>\n");
}

/// XML-escapes text for an attribute or element; drops characters XML 1.0 forbids.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            c if (c as u32) < 0x20 && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}
