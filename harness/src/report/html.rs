//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no network):
//! the verdict banner, the reasons, the checks, the tables and the charts.

use std::fmt::Write;

use super::doc::{Check, Doc, Status, Table};
use super::junit::esc;
use super::results::RunVerdict;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;color:#1b1f24;padding:0 1rem}\
h1{font-size:1.5rem;margin-bottom:.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}\
.verdict{font-size:1.4rem;font-weight:700;padding:.8rem 1rem;border-radius:6px;margin:1rem 0}\
.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}.invalid{background:#fff8c5;color:#7d4e00}\
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}\
th{background:#f6f8fa}td.PASS{color:#116329;font-weight:600}td.FAIL{color:#a40e26;font-weight:600}\
figure{margin:1.5rem 0}figure svg{max-width:100%;height:auto;border:1px solid #d0d7de}figcaption{font-weight:600;margin-bottom:.3rem}\
ul.reasons li{margin:.2rem 0}.checks .Fail,.checks .Error{color:#a40e26}.checks .Pass{color:#116329}.checks .Skipped{color:#57606a}";

/// Renders the document as one HTML page.
pub fn render(doc: &Doc) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&doc.title)
    );
    let _ = writeln!(out, "<h1>{}</h1>", esc(&doc.title));
    let (class, word) = match doc.verdict {
        RunVerdict::Pass => ("pass", "PASS"),
        RunVerdict::Fail => ("fail", "FAIL"),
        RunVerdict::Invalid => ("invalid", "INVALID: the run cannot be trusted"),
    };
    let partial = if doc.partial { " (partial: the run was interrupted)" } else { "" };
    let _ = writeln!(out, "<div class=\"verdict {class}\" id=\"verdict\">{word}{partial}</div>");
    if !doc.reasons.is_empty() {
        let _ = writeln!(out, "<ul class=\"reasons\">");
        for r in &doc.reasons {
            let _ = writeln!(out, "<li>{}</li>", esc(r));
        }
        let _ = writeln!(out, "</ul>");
    }
    checks(&mut out, &doc.checks);
    for t in &doc.tables {
        table(&mut out, t);
    }
    for f in &doc.figures {
        let _ =
            writeln!(out, "<figure>\n<figcaption>{}</figcaption>\n{}\n</figure>", esc(&f.title), inline_svg(&f.svg));
    }
    let facts = Table {
        title: "Run facts".into(),
        header: vec!["fact".into(), "value".into()],
        rows: doc.facts.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect(),
    };
    table(&mut out, &facts);
    out.push_str("</body>\n</html>\n");
    out
}

fn checks(out: &mut String, list: &[Check]) {
    let failed = list.iter().filter(|c| matches!(c.status, Status::Fail | Status::Error)).count();
    let passed = list.iter().filter(|c| c.status == Status::Pass).count();
    let _ = writeln!(out, "<p>{passed} of {} checks passed, {failed} failed.</p>", list.len());
    let _ = writeln!(out, "<ul class=\"checks\">");
    for c in list.iter().filter(|c| c.status != Status::Pass) {
        let _ = writeln!(
            out,
            "<li class=\"{:?}\"><b>{:?}</b> {}: {}: {}</li>",
            c.status,
            c.status,
            esc(&c.suite),
            esc(&c.name),
            esc(&c.message)
        );
    }
    let _ = writeln!(out, "</ul>");
}

fn table(out: &mut String, t: &Table) {
    if t.rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2>{}</h2>\n<table>\n<tr>", esc(&t.title));
    for h in &t.header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    let _ = writeln!(out, "</tr>");
    for row in &t.rows {
        out.push_str("<tr>");
        for c in row {
            let class = if c == "PASS" || c == "FAIL" { format!(" class=\"{c}\"") } else { String::new() };
            let _ = write!(out, "<td{class}>{}</td>", esc(c));
        }
        out.push_str("</tr>\n");
    }
    let _ = writeln!(out, "</table>");
}

/// An SVG document as an inline element: any XML declaration dropped.
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => "",
    }
}
