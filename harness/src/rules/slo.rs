//! SLO evaluation over the merged HDR recording.

use serde::Serialize;

use crate::load::{KindStats, Mix, Recording};
use crate::scenario::{Indicator, Slo};

/// The verdict of one SLO.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The SLO's name.
    pub name: String,
    /// The request kind it covers (`*` = all).
    pub request: String,
    /// The objective as written.
    pub objective: String,
    /// The observed value (seconds or ratio); `None` when there was no data.
    pub observed: Option<f64>,
    /// The observed value formatted like the objective.
    pub observed_text: String,
    /// Requests the value is over.
    pub samples: u64,
    /// Whether the objective held.
    pub pass: bool,
}

/// The observed value of an indicator over some requests, or `None` without data.
pub fn observe(indicator: Indicator, stats: &KindStats) -> Option<f64> {
    let total = stats.total();
    if total == 0 {
        return None;
    }
    let us = |v: u64| v as f64 / 1e6;
    Some(match indicator {
        Indicator::Percentile(p) => us(stats.latency.value_at_quantile(p / 100.0)),
        Indicator::Mean => stats.latency.mean() / 1e6,
        Indicator::Max => us(stats.latency.max()),
        Indicator::ErrorRatio => stats.errors() as f64 / total as f64,
        Indicator::Availability => stats.ok() as f64 / total as f64,
    })
}

/// Evaluates every SLO against the recording.
pub fn evaluate(slos: &[Slo], mix: &Mix, rec: &Recording) -> Vec<Verdict> {
    slos.iter()
        .map(|slo| {
            let request = slo.request.as_ref().map(|r| r.get_ref().clone());
            let pick = request.as_deref().and_then(|r| mix.index_of(r));
            let stats = rec.merged(pick);
            let observed = observe(slo.objective.indicator, &stats);
            let pass = observed.is_some_and(|v| slo.objective.op.holds(v, slo.objective.threshold));
            Verdict {
                name: slo.name.clone(),
                request: request.unwrap_or_else(|| "*".into()),
                objective: slo.objective.as_written().to_owned(),
                observed_text: observed.map_or_else(|| "no data".into(), |v| slo.objective.format_value(v)),
                observed,
                samples: stats.total(),
                pass,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Outcome;

    #[test]
    fn indicators_match_hand_computed_values() {
        // 990 requests at 10 ms and 10 timeouts recorded at 2 s: p99 is 10 ms (the 990th
        // value), p99.5 is 2 s, the error ratio is 10/1000, availability 99%.
        let mut s = KindStats::default();
        for _ in 0..990 {
            s.record(10_000, Outcome::Ok, None);
        }
        for _ in 0..10 {
            s.record(2_000_000, Outcome::Timeout, None);
        }
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() <= b * 0.001 + 1e-9);
        assert!(near(observe(Indicator::Percentile(99.0), &s), 0.010));
        assert!(near(observe(Indicator::Percentile(99.5), &s), 2.0));
        assert!(near(observe(Indicator::ErrorRatio, &s), 0.01));
        assert!(near(observe(Indicator::Availability, &s), 0.99));
        assert!(near(observe(Indicator::Mean, &s), 0.0299));
        assert_eq!(observe(Indicator::Max, &KindStats::default()), None);
    }
}
