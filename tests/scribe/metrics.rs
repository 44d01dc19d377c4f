//! `/metrics` and `/metrics/prometheus`: a strict checker written from the Prometheus
//! text exposition format, `promtool` when installed, and values against what the test did.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{Cluster, READ, WRITE};

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Splits `name{labels} value` checking label syntax; returns (name, labels).
fn parse_sample(line: &str) -> Result<(String, String), String> {
    let (series, value) = line.rsplit_once(' ').ok_or("no value")?;
    if value.parse::<f64>().is_err() && !["+Inf", "-Inf", "NaN"].contains(&value) {
        return Err(format!("bad value `{value}`"));
    }
    let (name, labels) = match series.split_once('{') {
        None => (series, ""),
        Some((n, rest)) => (n, rest.strip_suffix('}').ok_or("unclosed labels")?),
    };
    if !valid_name(name) {
        return Err(format!("bad metric name `{name}`"));
    }
    let mut rest = labels;
    while !rest.is_empty() {
        let (lname, after) = rest.split_once("=\"").ok_or("label without =\"")?;
        if !valid_name(lname) || lname.contains(':') {
            return Err(format!("bad label name `{lname}`"));
        }
        let mut end = None;
        let mut escaped = false;
        for (i, ch) in after.char_indices() {
            match (escaped, ch) {
                (true, '\\' | '"' | 'n') => escaped = false,
                (true, _) => return Err("bad escape".into()),
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("unterminated label value")?;
        rest = after[end + 1..].strip_prefix(',').unwrap_or(&after[end + 1..]);
    }
    Ok((name.to_owned(), labels.to_owned()))
}

/// Every line is HELP, TYPE or a sample of a declared family; no duplicate series.
fn check_exposition(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line}", n + 1);
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| at("TYPE without kind".into()))?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) || !valid_name(name) {
                return Err(at("bad TYPE".into()));
            }
            if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                return Err(at("second TYPE for a family".into()));
            }
        } else if line.starts_with("# HELP ") || line.is_empty() {
        } else if line.starts_with('#') {
            return Err(at("unknown comment".into()));
        } else {
            let (name, labels) = parse_sample(line).map_err(at)?;
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| types.get(*f).is_some_and(|k| k == "histogram")))
                .unwrap_or(&name);
            if !types.contains_key(family) {
                return Err(at("sample before its TYPE".into()));
            }
            if !seen.insert((name.clone(), labels)) {
                return Err(at("duplicate series".into()));
            }
        }
    }
    Ok(types)
}

/// The value of an unlabelled sample.
pub(super) fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_are_valid_prometheus_text_with_the_runbook_names_and_true_values() {
    let c = Cluster::default().await;
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        assert_eq!(c.put(2, k, v, Some(WRITE)).await.status, StatusCode::OK);
    }
    for _ in 0..4 {
        c.send(Method::GET, 2, "/a", Some(READ), None).await;
    }
    let term = c.get(2, "/cluster/info").await.body["current_term"].as_f64();
    for path in ["/metrics", "/metrics/prometheus"] {
        let text = c.get(2, path).await.body.as_str().unwrap().to_owned();
        let types = check_exposition(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        for name in [
            "scribe_ops_total",
            "scribe_request_latency_p99",
            "scribe_errors_total",
            "scribe_storage_keys_total",
            "scribe_raft_term",
            "scribe_node_health",
            "gameday_http_requests_total",
        ] {
            assert!(types.contains_key(name), "{path} lacks {name}");
        }
        assert_eq!(sample(&text, "scribe_ops_total"), Some(7.0), "3 puts and 4 gets on node 2");
        assert_eq!(sample(&text, "scribe_storage_keys_total"), Some(3.0));
        assert_eq!(sample(&text, "scribe_raft_term"), term);
        assert_eq!(sample(&text, "scribe_node_health"), Some(1.0));
        assert!(sample(&text, "scribe_request_latency_p99").is_some_and(|ms| ms > 0.0));
        match crate::prom::promtool_check_code(&text) {
            None => {}
            Some((Some(0), _)) => {}
            // The runbook names a gauge `scribe_storage_keys_total`; that lint is expected.
            Some((Some(3), msg)) => {
                let lints: Vec<_> = msg.lines().filter(|l| !l.trim().is_empty()).collect();
                assert!(lints.iter().all(|l| l.starts_with("scribe_storage_keys_total ")), "promtool: {msg}");
            }
            Some((code, msg)) => panic!("promtool check metrics failed ({code:?}): {msg}"),
        }
    }
    let json = c.http.get(c.url(2, "/metrics")).header("Accept", "application/json").send().await.unwrap();
    let json: Value = json.json().await.unwrap();
    assert_eq!((json["total_keys"].as_u64(), json["total_puts"].as_u64()), (Some(3), Some(3)));
}
