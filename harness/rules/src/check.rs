//! Validation of a rule on its own: labels of client metrics, request names and units.
//! (What needs the targets' metric catalogs is checked by the harness's resolve step.)
//!
//! An unknown metric or label is an error (exit 2), never a rule that silently has no data.

use gameday_core::outcome::Outcome;

use super::expr::{Expr, Rule, Selector, Unit};

/// Labels the scraper adds to every series.
pub const SCRAPER_LABELS: &[&str] = &["service", "instance"];

/// Checks a rule's client-side metrics against the mix's request names, and its
/// threshold's unit against the expression's.
pub fn static_check(rule: &Rule, requests: &[&str]) -> Result<(), String> {
    let mut result = Ok(());
    rule.expr.walk(&mut |e| {
        if result.is_ok() {
            result = check_client(e, requests);
        }
    });
    result?;
    check_units(rule)
}

fn check_client(e: &Expr, requests: &[&str]) -> Result<(), String> {
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
                return Err(format!(
                    "`{metric}`: unknown request `{}` (the load has: {})",
                    m.value,
                    requests.join(", ")
                ));
            }
            "kind" if kinds && !Outcome::ALL.iter().any(|o| o.as_str() == m.value) => {
                let known: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
                return Err(format!("`{metric}`: unknown kind `{}` (known: {})", m.value, known.join(", ")));
            }
            "request" | "kind" if m.label == "request" || kinds => {}
            other => {
                let known = if kinds { "`request` and `kind`" } else { "`request`" };
                return Err(format!("`{metric}` has no label `{other}` (it has {known})"));
            }
        }
    }
    Ok(())
}

fn check_units(rule: &Rule) -> Result<(), String> {
    let t = &rule.threshold;
    match (rule.expr.unit(), t.unit) {
        (Some(Unit::Seconds), Unit::Ratio) => {
            Err(format!("the expression is a duration in seconds but the threshold `{}` is a percentage", t.text))
        }
        (Some(Unit::Ratio), Unit::Seconds) => {
            Err(format!("the expression is a ratio but the threshold `{}` is a duration", t.text))
        }
        (Some(Unit::Ratio), Unit::Number) if !(0.0..=1.0).contains(&t.value) => Err(format!(
            "the expression is a ratio in 0..1 but the threshold is {}; write a percentage such as `5%`",
            t.text
        )),
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

    fn check(rule: &str) -> Result<(), String> {
        static_check(&rule.parse::<Rule>().unwrap(), &["prove", "check"])
    }

    #[test]
    fn client_labels_and_units_are_checked() {
        assert!(check(r#"p95(latency{request="prove"})[5m] > 1s"#).is_ok());
        assert!(check(r#"error_ratio{kind="timeout",request!="check"}[5m] > 1%"#).is_ok());
        let e = check(r#"p95(latency{request="attest"})[5m] > 1s"#).unwrap_err();
        assert!(e.contains("unknown request `attest`") && e.contains("prove, check"), "{e}");
        let e = check(r#"rate(errors{kind="teapot"})[5m] > 1"#).unwrap_err();
        assert!(e.contains("unknown kind `teapot`") && e.contains("http_5xx"), "{e}");
        let e = check(r#"p95(latency{kind="ok"})[5m] > 1s"#).unwrap_err();
        assert!(e.contains("no label `kind`"), "{e}");
        let e = check(r#"availability{route="/x"}[5m] < 99%"#).unwrap_err();
        assert!(e.contains("no label `route`"), "{e}");
        assert!(check("p95(latency)[5m] > 5%").unwrap_err().contains("percentage"));
        assert!(check("error_ratio[5m] > 5s").unwrap_err().contains("duration"));
        assert!(check("error_ratio[5m] > 5").unwrap_err().contains("0..1"));
        // Inside a subquery too.
        assert!(check(r#"deriv(p95(latency{request="x"})[5m])[30m] > 0"#).is_err());
    }
}
