//! The scraped metrics a scenario's rules use, checked against the targets' catalogs
//! before a run.
//!
//! An unknown metric or label is an error (exit 2), never a rule that silently has no data.

use std::collections::BTreeMap;

use gameday_mocks::ServiceId;

use gameday_rules::check::{selectors, SCRAPER_LABELS};
use gameday_rules::expr::{Matcher, Selector};

use crate::observe::Catalog;
use crate::scenario::{Scenario, ScenarioError};
use crate::spec::PLAN_METRIC_PREFIX;

/// Checks every scraped metric the scenario's rules use against the targets' catalogs:
/// the name must be in some target's catalog (the one a `service` matcher names, when
/// there is one) and every matched label must be one that metric has (or one the scraper
/// adds). The error names the scenario file, the rule's line and its field.
pub fn check_metrics(scenario: &Scenario, catalogs: &BTreeMap<ServiceId, Catalog>) -> Result<(), ScenarioError> {
    for (table, list) in [("alert", &scenario.alerts), ("trigger", &scenario.triggers)] {
        for (i, a) in list.iter().enumerate() {
            for sel in selectors(a.expr.get_ref()) {
                check_selector(sel, catalogs).map_err(|e| {
                    let message = e.to_string();
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

/// Why a rule's scraped selector does not fit the targets' catalogs.
#[derive(Debug, thiserror::Error)]
enum SelectorError {
    /// No candidate catalog has the metric.
    #[error(
        "unknown metric `{name}`{alias}: {where_} does not expose it, and it is not a client metric \
         (latency, requests, errors, error_ratio, availability)"
    )]
    UnknownMetric {
        /// The metric's name.
        name: String,
        /// ` (`written`)` when written under another name, else empty.
        alias: String,
        /// Which targets were searched.
        where_: String,
    },
    /// The metric has no such label.
    #[error("metric `{name}`{alias} has no label `{label}` (it has: {})", .known.join(", "))]
    UnknownLabel {
        /// The metric's name.
        name: String,
        /// As in `UnknownMetric`.
        alias: String,
        /// The label matched.
        label: String,
        /// The labels it has.
        known: Vec<String>,
    },
}

fn check_selector(sel: &Selector, catalogs: &BTreeMap<ServiceId, Catalog>) -> Result<(), SelectorError> {
    if sel.name.starts_with(PLAN_METRIC_PREFIX) {
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
        return Err(SelectorError::UnknownMetric { name: sel.name.clone(), alias, where_ });
    }
    for Matcher { label, .. } in &sel.matchers {
        if !SCRAPER_LABELS.contains(&label.as_str()) && !labels.iter().any(|l| l.contains(label)) {
            let mut known: Vec<&str> = labels.iter().flat_map(|l| l.iter().map(String::as_str)).collect();
            known.extend(SCRAPER_LABELS);
            known.sort_unstable();
            known.dedup();
            let known = known.into_iter().map(str::to_owned).collect();
            return Err(SelectorError::UnknownLabel { name: sel.name.clone(), alias, label: label.clone(), known });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gameday_rules::Rule;

    #[test]
    fn scraped_names_and_labels_must_be_in_a_catalog() {
        let mut cat = Catalog::default();
        cat.metrics.insert("gameday_queue_depth".into(), ["pool".to_owned()].into());
        let catalogs: BTreeMap<ServiceId, Catalog> = [(ServiceId::Midnight, cat)].into();
        let sel = |r: &str| selectors(&r.parse::<Rule>().unwrap()).into_iter().cloned().collect::<Vec<_>>();
        assert!(
            check_selector(&sel(r#"max(queue_depth{pool="prove",service="midnight"})[2m] > 5"#)[0], &catalogs).is_ok()
        );
        let e = check_selector(&sel("avg(cpu)[15m] > 70%")[0], &catalogs).unwrap_err().to_string();
        assert!(e.contains("gameday_cpu_utilisation_ratio") && e.contains("(`cpu`)"), "{e}");
        let e = check_selector(&sel(r#"queue_depth{queue="x"} > 5"#)[0], &catalogs).unwrap_err().to_string();
        assert!(e.contains("no label `queue`") && e.contains("pool"), "{e}");
        let e = check_selector(&sel(r#"queue_depth{service="scribe"} > 5"#)[0], &catalogs).unwrap_err().to_string();
        assert!(e.contains("service `scribe`"), "{e}");
    }
}
