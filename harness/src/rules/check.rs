//! Validation of rules: what can be checked from the scenario alone (labels of client
//! metrics, request names, units) and what needs the targets' metric catalogs.
//!
//! An unknown metric or label is an error (exit 2), never a rule that silently has no data.

use std::collections::BTreeMap;

use gameday_mocks::ServiceId;

use super::expr::{Expr, Matcher, Rule, Selector, Unit};
use crate::load::Outcome;
use crate::observe::Catalog;
use crate::scenario::{Scenario, ScenarioError};

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

/// Checks every scraped metric the scenario's rules use against the targets' catalogs:
/// the name must be in some target's catalog (the one a `service` matcher names, when
/// there is one) and every matched label must be one that metric has (or one the scraper
/// adds). The error names the scenario file, the rule's line and its field.
pub fn check_metrics(scenario: &Scenario, catalogs: &BTreeMap<ServiceId, Catalog>) -> Result<(), ScenarioError> {
    for (table, list) in [("alert", &scenario.alerts), ("trigger", &scenario.triggers)] {
        for (i, a) in list.iter().enumerate() {
            for sel in selectors(a.expr.get_ref()) {
                check_selector(sel, catalogs).map_err(|message| {
                    let origin = &scenario.origin;
                    ScenarioError {
                        file: origin.file.clone(),
                        position: (!origin.text.is_empty())
                            .then(|| crate::scenario::line_col(&origin.text, a.expr.span().start)),
                        field: Some(format!("{table}[{i}].expr")),
                        message,
                    }
                })?;
            }
        }
    }
    Ok(())
}

fn check_selector(sel: &Selector, catalogs: &BTreeMap<ServiceId, Catalog>) -> Result<(), String> {
    if sel.name.starts_with(crate::capacity::plan::triggers::PLAN_METRIC_PREFIX) {
        return Ok(()); // synthesised by `gameday plan`, never scraped
    }
    if crate::probe::is_probe_metric(&sel.name) {
        return Ok(()); // recorded by gameday's probes; names checked with the scenario
    }
    let service = sel.matchers.iter().find(|m| m.label == "service" && !m.negate).map(|m| m.value.as_str());
    let candidates: Vec<(&ServiceId, &Catalog)> =
        catalogs.iter().filter(|(id, _)| service.is_none_or(|s| id.to_string() == s)).collect();
    let labels: Vec<_> = candidates.iter().filter_map(|(_, c)| c.metrics.get(&sel.name)).collect();
    let alias = if sel.written == sel.name { String::new() } else { format!(" (`{}`)", sel.written) };
    if labels.is_empty() {
        let where_ = match service {
            Some(s) => format!("service `{s}`"),
            None => {
                let ids: Vec<String> = catalogs.keys().map(ToString::to_string).collect();
                format!("any target ({})", ids.join(", "))
            }
        };
        return Err(format!(
            "unknown metric `{}`{alias}: {where_} does not expose it, and it is not a client metric \
             (latency, requests, errors, error_ratio, availability)",
            sel.name
        ));
    }
    for Matcher { label, .. } in &sel.matchers {
        if !SCRAPER_LABELS.contains(&label.as_str()) && !labels.iter().any(|l| l.contains(label)) {
            let mut known: Vec<&str> = labels.iter().flat_map(|l| l.iter().map(String::as_str)).collect();
            known.extend(SCRAPER_LABELS);
            known.sort_unstable();
            known.dedup();
            return Err(format!("metric `{}`{alias} has no label `{label}` (it has: {})", sel.name, known.join(", ")));
        }
    }
    Ok(())
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

    #[test]
    fn scraped_names_and_labels_must_be_in_a_catalog() {
        let mut cat = Catalog::default();
        cat.metrics.insert("gameday_queue_depth".into(), ["pool".to_owned()].into());
        let catalogs: BTreeMap<ServiceId, Catalog> = [(ServiceId::Midnight, cat)].into();
        let sel = |r: &str| selectors(&r.parse::<Rule>().unwrap()).into_iter().cloned().collect::<Vec<_>>();
        assert!(
            check_selector(&sel(r#"max(queue_depth{pool="prove",service="midnight"})[2m] > 5"#)[0], &catalogs).is_ok()
        );
        let e = check_selector(&sel("avg(cpu)[15m] > 70%")[0], &catalogs).unwrap_err();
        assert!(e.contains("gameday_cpu_utilisation_ratio") && e.contains("(`cpu`)"), "{e}");
        let e = check_selector(&sel(r#"queue_depth{queue="x"} > 5"#)[0], &catalogs).unwrap_err();
        assert!(e.contains("no label `queue`") && e.contains("pool"), "{e}");
        let e = check_selector(&sel(r#"queue_depth{service="scribe"} > 5"#)[0], &catalogs).unwrap_err();
        assert!(e.contains("service `scribe`"), "{e}");
    }
}
