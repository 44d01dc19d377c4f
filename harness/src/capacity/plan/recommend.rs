//! The recommended size per week: the smallest pool (workers, DB connections: see
//! [`super::model::size_unit`]) with
//! which every SLO holds over the week's daily peak hours at `headroom` times the week's
//! load, and the peak-hour CPU (at 1x load) stays under `target_cpu`, found by bisection
//! over the simulator (more workers never make a FIFO pool slower). Each candidate
//! simulates its week alone, starting empty (each night drains the queue).

use serde::Serialize;

use crate::capacity::growth::Growth;
use crate::capacity::sim::{simulate, SimOptions};
use crate::scenario::Scenario;

use super::model::{arrivals, Service};
use super::weeks::Figures;
use super::{PlanError, PlanSpec};

/// What the search found for one week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// The recommended size (in the service's unit: workers, DB connections, ...), if
    /// one within the limit holds.
    pub size: Option<usize>,
    /// Figures at that size and 1x load (over the daily peak hours).
    pub at_size: Option<Figures>,
    /// Why no size holds, when none does.
    pub reason: Option<String>,
}

/// The smallest size in `[spec.min_size, spec.max_size]` that holds week `week`.
///
/// At the scenario's own size and 1x load the verdict is the horizon's (`known`), so the
/// table never recommends the size it shows failing.
pub fn recommend(
    s: &Scenario,
    svc: &Service,
    growth: &Growth,
    spec: &PlanSpec,
    known: &super::weeks::SimWeek,
) -> Result<Recommendation, PlanError> {
    let week = known.load.week;
    let holds = |size| holds(s, svc, growth, spec, known, size);
    let (lo, hi) = (spec.min_size.max(1), spec.max_size.max(spec.min_size.max(1)));
    let top = holds(hi)?;
    if let Err(why) = top {
        let reason = format!("week {week}: even {hi} {} (the scenario's max_size) do not hold: {why}", svc.unit());
        return Ok(Recommendation { size: None, at_size: None, reason: Some(reason) });
    }
    let (mut a, mut b) = (lo, hi);
    while a < b {
        let mid = a + (b - a) / 2;
        if holds(mid)?.is_ok() {
            b = mid;
        } else {
            a = mid + 1;
        }
    }
    let at_size = if a == svc.size() { known.peak.clone() } else { simulate_week(s, svc, growth, week, a, 1.0)?.0 };
    Ok(Recommendation { size: Some(a), at_size: Some(at_size), reason: None })
}

/// Why a size does not hold a week (the first reason found).
#[derive(Debug, thiserror::Error)]
enum Shortfall {
    /// An SLO fails at the headroom's load.
    #[error("SLO `{name}` ({objective}) saw {seen} at {headroom}x load")]
    Slo {
        /// The SLO's name.
        name: String,
        /// Its objective as written.
        objective: String,
        /// What it saw (`no data`, or the value to 3 decimals).
        seen: String,
        /// The load factor.
        headroom: f64,
    },
    /// The CPU at 1x load is above the target.
    #[error("CPU {:.0}% is above target_cpu {:.0}%", .cpu * 100.0, .target * 100.0)]
    Cpu {
        /// CPU as a fraction.
        cpu: f64,
        /// The target as a fraction.
        target: f64,
    },
}

/// `Ok` when `size` workers hold the week, else the first reason it does not.
fn holds(
    s: &Scenario,
    svc: &Service,
    growth: &Growth,
    spec: &PlanSpec,
    known: &super::weeks::SimWeek,
    size: usize,
) -> Result<Result<(), Shortfall>, PlanError> {
    let (fig, slos) = if size == svc.size() && spec.headroom == 1.0 {
        (known.peak.clone(), known.slos.clone())
    } else {
        simulate_week(s, svc, growth, known.load.week, size, spec.headroom)?
    };
    if let Some(bad) = slos.iter().find(|v| !v.pass) {
        let seen = bad.observed.map_or("no data".to_owned(), |v| format!("{v:.3}"));
        let (name, objective) = (bad.name.clone(), bad.objective.clone());
        return Ok(Err(Shortfall::Slo { name, objective, seen, headroom: spec.headroom }));
    }
    if let Some(target) = spec.target_cpu {
        // CPU is judged at 1x load: the busy share scales with the load.
        let busy = fig.utilisation / spec.headroom;
        let cpu = super::weeks::cpu(svc.base_cpu, busy);
        if cpu > target {
            return Ok(Err(Shortfall::Cpu { cpu, target }));
        }
    }
    Ok(Ok(()))
}

/// Week `week` alone at `size` and `factor` x load (the week starts with an empty
/// pool: the night before has drained it).
fn simulate_week(
    s: &Scenario,
    svc: &Service,
    growth: &Growth,
    week: u32,
    size: usize,
    factor: f64,
) -> Result<(Figures, Vec<super::weeks::SloWeek>), PlanError> {
    let (start, end) = growth.week_span(week);
    let windows = super::weeks::windows(growth, &[week], start);
    let options = SimOptions { seed: s.seed, interval: std::time::Duration::from_secs(60), windows };
    let model = svc.at_size(size);
    let keep = super::model::simulated_kinds(s, svc, &growth.unit, true);
    let arrivals = arrivals(s, growth, (start, end), factor, &keep)?;
    let report = simulate(&model, arrivals, &options)?;
    let w = super::weeks::sim_week(s, growth, &report, 0, week, svc.base_cpu);
    Ok((w.peak, w.slos))
}
