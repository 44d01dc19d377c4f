//! The run report's figures, picked from a results file: per request kind, latency
//! percentiles over time with its SLO lines and drill markers; the HDR percentile
//! distribution of every kind; throughput and errors over time (drawn by [`super::charts`]).
//!
//! A figure that cannot be drawn (no intervals, a kind without requests) is left out
//! with a warning: the results file is the record, the figures are views of it.

use super::charts::{self, Marker, Series, Threshold};
use super::doc::Figure;
use super::results::{decode_hdr, RequestSummary, Results};
use crate::rules::Verdict;

/// A moment to mark on the time charts: simulated seconds and a label.
pub type Mark = (f64, String);

/// Most latency-over-time charts per report (one per request kind).
const MAX_LATENCY_CHARTS: usize = 6;

/// The figures of a run (drill moments as `marks`).
pub fn for_results(r: &Results, marks: &[Mark]) -> Vec<Figure> {
    let markers: Vec<Marker> = marks.iter().map(|(at_s, label)| Marker { at_s: *at_s, label: label.clone() }).collect();
    let mut out = Vec::new();
    let mut keep = |title: String, file: String, svg: Result<String, charts::ChartError>| match svg {
        Ok(svg) => out.push(Figure { title, file, svg }),
        Err(e) => eprintln!("warning: chart {file} not drawn: {e}"),
    };
    for q in latency_kinds(r) {
        let title = format!("{}: latency percentiles over time", q.name);
        let svg =
            charts::latency_over_time(&title, &percentile_series(q), &slo_lines(&r.slos, Some(&q.name)), &markers);
        keep(title, format!("latency-{}.svg", file_safe(&q.name)), svg);
    }
    let hists: Vec<(String, hdrhistogram::Histogram<u64>)> = r
        .requests
        .iter()
        .filter(|q| q.count > 0)
        .filter_map(|q| decode_hdr(&q.hdr).ok().map(|h| (q.name.clone(), h)))
        .collect();
    if !hists.is_empty() {
        let kinds: Vec<(String, &hdrhistogram::Histogram<u64>)> = hists.iter().map(|(n, h)| (n.clone(), h)).collect();
        let title = "Latency by percentile (whole run)".to_owned();
        let svg = charts::percentile_distribution(&title, &kinds, &slo_lines(&r.slos, None));
        keep(title, "percentiles.svg".into(), svg);
    }
    if r.requests.iter().any(|q| !q.intervals.is_empty()) {
        let title = "Throughput and errors over time".to_owned();
        let (ok, errors) = rate_series(r);
        keep(title.clone(), "throughput.svg".into(), charts::throughput_and_errors(&title, &ok, &errors, &markers));
    }
    out
}

/// The kinds that get a latency-over-time chart: those an SLO names (all when one covers
/// every kind), with intervals, at most [`MAX_LATENCY_CHARTS`].
fn latency_kinds(r: &Results) -> Vec<&RequestSummary> {
    let all = r.slos.is_empty() || r.slos.iter().any(|v| v.request == "*");
    r.requests
        .iter()
        .filter(|q| !q.intervals.is_empty())
        .filter(|q| all || r.slos.iter().any(|v| v.request == q.name))
        .take(MAX_LATENCY_CHARTS)
        .collect()
}

fn percentile_series(q: &RequestSummary) -> Vec<Series> {
    ["p50", "p95", "p99"]
        .iter()
        .map(|p| Series {
            label: (*p).to_owned(),
            points: q
                .intervals
                .iter()
                .filter_map(|i| i.latency_ms.get(*p).map(|v| (i.start_s + i.length_s / 2.0, *v)))
                .collect(),
        })
        .collect()
}

/// The latency SLOs covering `kind` (all latency SLOs when `None`), in milliseconds.
fn slo_lines(slos: &[Verdict], kind: Option<&str>) -> Vec<Threshold> {
    slos.iter()
        .filter(|v| matches!(v.indicator.as_str(), "mean" | "max") || v.indicator.starts_with('p'))
        .filter(|v| kind.is_none_or(|k| v.request == k || v.request == "*"))
        .filter(|v| v.threshold.is_finite())
        .map(|v| Threshold { label: format!("SLO {}: {}", v.name, v.objective), value: v.threshold * 1e3 })
        .collect()
}

/// Requests/s and errors/s per kind per interval.
fn rate_series(r: &Results) -> (Vec<Series>, Vec<Series>) {
    let per_s = |n: u64, len: f64| if len > 0.0 { n as f64 / len } else { 0.0 };
    let with_intervals = r.requests.iter().filter(|q| !q.intervals.is_empty());
    let ok = with_intervals
        .clone()
        .map(|q| Series {
            label: q.name.clone(),
            points: q.intervals.iter().map(|i| (i.start_s + i.length_s / 2.0, per_s(i.count, i.length_s))).collect(),
        })
        .collect();
    let errors = with_intervals
        .map(|q| Series {
            label: q.name.clone(),
            points: q
                .intervals
                .iter()
                .map(|i| (i.start_s + i.length_s / 2.0, per_s(i.count - i.ok.min(i.count), i.length_s)))
                .collect(),
        })
        .collect();
    (ok, errors)
}

fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}
