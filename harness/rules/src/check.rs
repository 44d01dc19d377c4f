//! Validation of a rule on its own: labels of client metrics, request names and units.
//! (What needs the targets' metric catalogs is checked by the harness's resolve step.)
//!
//! An unknown metric or label is an error (exit 2), never a rule that silently has no data.

use gameday_core::outcome::Outcome;

use super::expr::{Expr, Rule, Selector, Unit};

/// Labels the scraper adds to every series.
pub const SCRAPER_LABELS: &[&str] = &["service", "instance"];

/// Why a rule does not fit the mix or its own threshold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A `request` matcher names no request of the mix.
    #[error("`{metric}`: unknown request `{request}` (the load has: {})", .known.join(", "))]
    UnknownRequest {
        /// The client metric.
        metric: &'static str,
        /// The request named.
        request: String,
        /// The mix's request names.
        known: Vec<String>,
    },
    /// A `kind` matcher names no outcome.
    #[error("`{metric}`: unknown kind `{kind}` (known: {})", known_kinds())]
    UnknownKind {
        /// The client metric.
        metric: &'static str,
        /// The kind named.
        kind: String,
    },
    /// A matcher on a label the client metric does not have.
    #[error("`{metric}` has no label `{label}` (it has {})", if *.kinds { "`request` and `kind`" } else { "`request`" })]
    UnknownLabel {
        /// The client metric.
        metric: &'static str,
        /// The label matched.
        label: String,
        /// Whether the metric has a `kind` label.
        kinds: bool,
    },
    /// A duration expression against a percentage.
    #[error("the expression is a duration in seconds but the threshold `{0}` is a percentage")]
    SecondsVsPercent(String),
    /// A ratio expression against a duration.
    #[error("the expression is a ratio but the threshold `{0}` is a duration")]
    RatioVsDuration(String),
    /// A ratio expression against a plain number outside 0..1.
    #[error("the expression is a ratio in 0..1 but the threshold is {0}; write a percentage such as `5%`")]
    RatioOutOfRange(String),
}

fn known_kinds() -> String {
    Outcome::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ")
}

/// Checks a rule's client-side metrics against the mix's request names, and its
/// threshold's unit against the expression's.
pub fn static_check(rule: &Rule, requests: &[&str]) -> Result<(), CheckError> {
    let mut result = Ok(());
    rule.expr.walk(&mut |e| {
        if result.is_ok() {
            result = check_client(e, requests);
        }
    });
    result?;
    check_units(rule)
}

fn check_client(e: &Expr, requests: &[&str]) -> Result<(), CheckError> {
    let (metric, matchers, kinds) = match e {
        Expr::Latency { matchers, .. } => ("latency", matchers, false),
        Expr::Ratio { metric: super::expr::RatioMetric::Availability, matchers, .. } => {
            ("availability", matchers, false)
        }
        Expr::Ratio { matchers, .. } => ("error_ratio", matchers, true),
        Expr::Count { errors_only, matchers, .. } => (if *errors_only { "errors" } else { "requests" }, matchers, true),
        _ => return Ok(()),
    };
    for m in matchers {
        match m.label.as_str() {
            "request" if !requests.contains(&m.value.as_str()) => {
                let known = requests.iter().map(|r| (*r).to_owned()).collect();
                return Err(CheckError::UnknownRequest { metric, request: m.value.clone(), known });
            }
            "kind" if kinds && !Outcome::ALL.iter().any(|o| o.as_str() == m.value) => {
                return Err(CheckError::UnknownKind { metric, kind: m.value.clone() });
            }
            "request" | "kind" if m.label == "request" || kinds => {}
            other => return Err(CheckError::UnknownLabel { metric, label: other.to_owned(), kinds }),
        }
    }
    Ok(())
}

fn check_units(rule: &Rule) -> Result<(), CheckError> {
    let t = &rule.threshold;
    match (rule.expr.unit(), t.unit) {
        (Some(Unit::Seconds), Unit::Ratio) => Err(CheckError::SecondsVsPercent(t.text.clone())),
        (Some(Unit::Ratio), Unit::Seconds) => Err(CheckError::RatioVsDuration(t.text.clone())),
        (Some(Unit::Ratio), Unit::Number) if !(0.0..=1.0).contains(&t.value) => {
            Err(CheckError::RatioOutOfRange(t.text.clone()))
        }
        _ => Ok(()),
    }
}

/// Every scraped selector in a rule.
pub fn selectors(rule: &Rule) -> Vec<&Selector> {
    let mut out = Vec::new();
    rule.expr.walk(&mut |e| {
        if let Expr::Instant(s) | Expr::Range { sel: s, .. } | Expr::AbsentOverTime { sel: s, .. } = e {
            out.push(s);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rule: &str) -> Result<(), CheckError> {
        static_check(&rule.parse::<Rule>().unwrap(), &["prove", "check"])
    }

    /// The refusal's message.
    fn refusal(rule: &str) -> String {
        check(rule).unwrap_err().to_string()
    }

    #[test]
    fn client_labels_and_units_are_checked() {
        assert!(check(r#"p95(latency{request="prove"})[5m] > 1s"#).is_ok());
        assert!(check(r#"error_ratio{kind="timeout",request!="check"}[5m] > 1%"#).is_ok());
        let e = refusal(r#"p95(latency{request="attest"})[5m] > 1s"#);
        assert!(e.contains("unknown request `attest`") && e.contains("prove, check"), "{e}");
        let e = refusal(r#"rate(errors{kind="teapot"})[5m] > 1"#);
        assert!(e.contains("unknown kind `teapot`") && e.contains("http_5xx"), "{e}");
        let e = refusal(r#"p95(latency{kind="ok"})[5m] > 1s"#);
        assert!(e.contains("no label `kind`"), "{e}");
        let e = refusal(r#"availability{route="/x"}[5m] < 99%"#);
        assert!(e.contains("no label `route`"), "{e}");
        assert!(refusal("p95(latency)[5m] > 5%").contains("percentage"));
        assert!(refusal("error_ratio[5m] > 5s").contains("duration"));
        assert!(refusal("error_ratio[5m] > 5").contains("0..1"));
        // Inside a subquery too.
        assert!(check(r#"deriv(p95(latency{request="x"})[5m])[30m] > 0"#).is_err());
    }
}
