//! What a plan reports: `plan.json` (one row per week with simulated and live figures
//! and how far apart they are, trigger weeks, first breaches, recommendations) and the
//! terminal table.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::capacity::growth::Growth;
use crate::rules::RuleVerdict;
use crate::scenario::Scenario;

use super::chart::{ChartWeek, PlanChart};
use crate::scenario::objective::Indicator;

use super::live::LiveWeek;
use super::model::Service;
use super::recommend::Recommendation;
use super::triggers::week_at;
use super::weeks::{Figures, SimWeek};

/// One week of the plan.
#[derive(Clone, Debug, Serialize)]
pub struct WeekRow {
    /// The simulator's figures at the scenario's size.
    pub sim: SimWeek,
    /// The live peak hour at the scenario's size, when replayed.
    pub live: Option<LiveWeek>,
    /// Live against its twin (the simulator on the same sample: see
    /// [`super::live`]), relative (p95, CPU) and absolute (queue): the model's error.
    pub difference: Option<Difference>,
    /// The twin against the week's simulated peak hours: how far this one hour is from
    /// the week's by chance.
    pub window_vs_week: Option<Difference>,
    /// The recommended size.
    pub recommended: Option<Recommendation>,
}

impl WeekRow {
    /// A row from the simulator's week.
    pub fn from_sim(sim: SimWeek) -> Self {
        Self { sim, live: None, difference: None, window_vs_week: None, recommended: None }
    }
}

/// How far one figure set is from a reference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    /// (x - reference) / reference of the p95.
    pub p95_relative: f64,
    /// (x - reference) / reference of the CPU.
    pub cpu_relative: f64,
    /// x - reference of the mean queue.
    pub queue_absolute: f64,
    /// Whether p95 and CPU are both within [`AGREEMENT`] of the reference.
    pub agrees: bool,
}

/// How close live and its twin must be to agree (relative, p95 and CPU).
pub const AGREEMENT: f64 = 0.10;

impl Difference {
    /// `x` against `reference`.
    pub fn between(reference: &Figures, x: &Figures) -> Self {
        let rel = |l: f64, s: f64| if s.abs() > 1e-12 { (l - s) / s } else { 0.0 };
        let (p95_relative, cpu_relative) = (rel(x.p95_s, reference.p95_s), rel(x.cpu, reference.cpu));
        Self {
            p95_relative,
            cpu_relative,
            queue_absolute: x.queue_mean - reference.queue_mean,
            agrees: p95_relative.abs() <= AGREEMENT && cpu_relative.abs() <= AGREEMENT,
        }
    }

    /// `+6%/-1%` (p95/CPU).
    pub fn short(&self) -> String {
        format!("{:+.0}%/{:+.0}%", self.p95_relative * 100.0, self.cpu_relative * 100.0)
    }
}

/// When a trigger first fired.
#[derive(Clone, Debug, Serialize)]
pub struct TriggerWeek {
    /// The trigger's name.
    pub name: String,
    /// Its rule.
    pub expr: String,
    /// First firing, simulated seconds since the start of week 1.
    pub first_firing_s: Option<f64>,
    /// The week that is in (1-based).
    pub week: Option<u32>,
    /// The scenario's expectation and whether it held.
    pub expectation: Option<String>,
    /// `Some(false)` when an expectation failed.
    pub pass: Option<bool>,
}

/// The first week an SLO breaks at the scenario's size.
#[derive(Clone, Debug, Serialize)]
pub struct FirstBreach {
    /// The SLO.
    pub slo: String,
    /// The first week it fails over the peak hour (none: holds throughout).
    pub week: Option<u32>,
}

/// The whole plan.
#[derive(Clone, Debug, Serialize)]
pub struct CapacityPlan {
    /// Version of this file's shape.
    pub schema_version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The service sized.
    pub service: String,
    /// Its size in the scenario (in `size_unit`).
    pub size: usize,
    /// What the size counts: `workers`, `core workers`, `search workers`, `DB
    /// connections` or `workers per node` (see [`super::model::size_unit`]).
    pub size_unit: String,
    /// All requests per unit request.
    pub requests_per_unit: f64,
    /// Peak over average of the daily wave.
    pub peak_to_average: f64,
    /// One row per week.
    pub weeks: Vec<WeekRow>,
    /// Each trigger's first firing.
    pub triggers: Vec<TriggerWeek>,
    /// Each alert's first firing.
    pub alerts: Vec<TriggerWeek>,
    /// Each SLO's first breach.
    pub first_breach: Vec<FirstBreach>,
    /// The live confirmation run at the recommended size.
    pub confirmation: Option<LiveWeek>,
    /// Whether the recommended sizes hold every week (exit 0) or not (exit 1).
    pub feasible: bool,
    /// Why not, one line per week that cannot be fixed or expectation that failed.
    pub reasons: Vec<String>,
    /// The M/M/c model fitted to the simulated weeks and what it predicts beyond them.
    pub extrapolation: Option<super::extrapolate::Extrapolation>,
    /// Why there is no extrapolation, when there is none.
    pub extrapolation_note: Option<String>,
    /// Simulator events over the horizon.
    pub sim_events: u64,
    /// Wall time of the horizon's simulation and rule evaluation, seconds.
    pub sim_wall_s: f64,
}

/// The schema version of `plan.json`.
pub const PLAN_SCHEMA_VERSION: u32 = 1;

impl CapacityPlan {
    /// Assembles the report and its verdict.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        s: &Scenario,
        svc: &Service,
        growth: &Growth,
        mut weeks: Vec<WeekRow>,
        triggers: Vec<RuleVerdict>,
        alerts: Vec<RuleVerdict>,
        confirmation: Option<LiveWeek>,
        sim_events: u64,
        sim_wall: Duration,
    ) -> Self {
        for w in &mut weeks {
            if let Some(LiveWeek { figures: Some(live), twin: Some(twin), .. }) = &w.live {
                w.difference = Some(Difference::between(twin, live));
                w.window_vs_week = Some(Difference::between(&w.sim.peak, twin));
            }
        }
        let first_breach = s
            .slos
            .iter()
            .map(|slo| FirstBreach {
                slo: slo.name.clone(),
                week: weeks
                    .iter()
                    .find(|w| w.sim.slos.iter().any(|v| v.name == slo.name && !v.pass))
                    .map(|w| w.sim.load.week),
            })
            .collect();
        let triggers: Vec<TriggerWeek> = triggers.iter().map(trigger_week).collect();
        let mut reasons: Vec<String> = weeks.iter().filter_map(|w| w.recommended.as_ref()?.reason.clone()).collect();
        reasons.extend(
            triggers
                .iter()
                .filter(|t| t.pass == Some(false))
                .map(|t| format!("trigger `{}`: expected {}", t.name, t.expectation.clone().unwrap_or_default())),
        );
        Self {
            schema_version: PLAN_SCHEMA_VERSION,
            scenario: s.name.clone(),
            seed: s.seed,
            service: svc.id.to_string(),
            size: svc.size(),
            size_unit: svc.unit().to_owned(),
            requests_per_unit: growth.requests_per_unit,
            peak_to_average: growth.peak_to_average,
            feasible: reasons.is_empty(),
            weeks,
            triggers,
            alerts: alerts.iter().map(trigger_week).collect(),
            first_breach,
            confirmation,
            reasons,
            extrapolation: None,
            extrapolation_note: None,
            sim_events,
            sim_wall_s: sim_wall.as_secs_f64(),
        }
    }
}

fn trigger_week(v: &RuleVerdict) -> TriggerWeek {
    TriggerWeek {
        name: v.name.clone(),
        expr: v.expr.clone(),
        first_firing_s: v.first_firing_s,
        week: v.first_firing_s.map(week_at),
        expectation: v.expectation.clone(),
        pass: v.pass,
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn secs(x: f64) -> String {
    if x >= 1.0 {
        format!("{x:.1}s")
    } else {
        format!("{:.0}ms", x * 1000.0)
    }
}

/// The terminal table: one line per week, then triggers, breaches and the verdict.
pub fn render(p: &CapacityPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plan `{}`: {} at {} {} (seed {})", p.scenario, p.service, p.size, p.size_unit, p.seed);
    out.push_str(
        "week   volume/d   peak/s    cpu  cpuPk      p50      p95      p99   queue    err      SLOs   live p95/cpu     vs twin  recommended\n",
    );
    for w in &p.weeks {
        let s = &w.sim;
        let failing: Vec<&str> = s.slos.iter().filter(|v| !v.pass).map(|v| v.name.as_str()).collect();
        let slos = if failing.is_empty() { "ok".to_owned() } else { format!("FAIL {}", failing.len()) };
        let live = match &w.live {
            Some(LiveWeek { figures: Some(f), .. }) => format!("{}/{}", secs(f.p95_s), pct(f.cpu)),
            Some(_) => "not measured".to_owned(),
            None => "-".to_owned(),
        };
        let vs_twin = w.difference.as_ref().map_or("-".to_owned(), Difference::short);
        let rec = match &w.recommended {
            Some(Recommendation { size: Some(n), at_size: Some(f), .. }) => {
                format!("{n} {} (cpu {}, p95 {})", p.size_unit, pct(f.cpu), secs(f.p95_s))
            }
            Some(Recommendation { reason: Some(r), .. }) => format!("none: {r}"),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "{:>4} {:>10.0} {:>8.2} {:>6} {:>6} {:>8} {:>8} {:>8} {:>7.1} {:>6} {:>9} {:>14} {:>11}  {}",
            s.load.week,
            s.load.volume_per_day,
            s.load.peak_rate_per_s,
            pct(s.week.cpu),
            pct(s.peak.cpu),
            secs(s.peak.p50_s),
            secs(s.peak.p95_s),
            secs(s.peak.p99_s),
            s.peak.queue_mean,
            format!("{:.2}%", s.peak.error_ratio * 100.0),
            slos,
            live,
            vs_twin,
            rec
        );
        if let (Some(d), Some(luck)) = (&w.difference, &w.window_vs_week) {
            let _ = writeln!(
                out,
                "       week {}: live vs its twin (the simulator on the same sample) p95/CPU {}{}; the twin's hour vs the week's peak hours {} (chance)",
                s.load.week,
                d.short(),
                if d.agrees { "" } else { " (NOT within 10%)" },
                luck.short()
            );
        }
        for v in s.slos.iter().filter(|v| !v.pass) {
            let seen = v.observed.map_or("no data".into(), |x| format!("{x:.3}"));
            let _ = writeln!(out, "       week {}: SLO `{}` ({}) saw {seen}", s.load.week, v.name, v.objective);
        }
    }
    for t in &p.triggers {
        let when = t.week.map_or("never fires".to_owned(), |w| {
            format!("first fires in week {w} ({})", crate::rules::format_sim_time(t.first_firing_s.unwrap_or(0.0)))
        });
        let check = match t.pass {
            Some(true) => "  [as expected]",
            Some(false) => "  [NOT as expected]",
            None => "",
        };
        let _ = writeln!(out, "trigger {}: {when}{check}", t.name);
    }
    for b in &p.first_breach {
        let when = b.week.map_or("holds every week".to_owned(), |w| format!("first breached in week {w}"));
        let _ = writeln!(out, "SLO {}: {when}", b.slo);
    }
    match (&p.extrapolation, &p.extrapolation_note) {
        (Some(x), _) => out.push_str(&super::extrapolate::render(x)),
        (None, Some(why)) => {
            let _ = writeln!(out, "extrapolation: none ({why})");
        }
        (None, None) => {}
    }
    if let Some(c) = &p.confirmation {
        let got = match &c.figures {
            Some(f) => format!("p95 {}, cpu {}, errors {:.2}%", secs(f.p95_s), pct(f.cpu), f.error_ratio * 100.0),
            None => format!("not measured: {}", c.not_measured.clone().unwrap_or_default()),
        };
        let _ = writeln!(out, "confirmed live: week {} at {} {}: {got}", c.week, c.size, p.size_unit);
    }
    let verdict = if p.feasible {
        "PASS: the recommended sizes hold every SLO through the horizon".to_owned()
    } else {
        format!("FAIL: {}", p.reasons.join("; "))
    };
    let _ = writeln!(out, "{verdict}");
    out
}

/// The plan's chart (`plan.svg`): per week the peak load, CPU and p95 at the scenario's
/// size (simulated, and live where measured), the recommended size's CPU and p95, the
/// CPU triggers' and alerts' thresholds, and the headline p95 SLO.
pub fn chart(s: &Scenario, report: &CapacityPlan) -> PlanChart {
    let weeks = report.weeks.iter().map(chart_week).collect();
    let cpu_thresholds = s
        .triggers
        .iter()
        .chain(&s.alerts)
        .filter(|r| r.expr.get_ref().as_written().contains("cpu"))
        .map(|r| (r.name.clone(), r.expr.get_ref().threshold.value))
        .collect();
    let unit = s.growth.as_ref().map(|g| g.unit.clone()).unwrap_or_default();
    let headline =
        |slo: &crate::scenario::Slo| slo.request.as_ref().is_none_or(|r| unit.is_empty() || unit.contains(r.get_ref()));
    let slo_p95_s = s
        .slos
        .iter()
        .find(|slo| matches!(slo.objective.indicator, Indicator::Percentile(p) if p == 95.0) && headline(slo))
        .map(|slo| slo.objective.threshold);
    PlanChart { title: format!("{}: {} per week", report.scenario, report.service), weeks, cpu_thresholds, slo_p95_s }
}

fn chart_week(r: &WeekRow) -> ChartWeek {
    let at_size = r.recommended.as_ref().and_then(|rec| rec.at_size.as_ref());
    ChartWeek {
        week: r.sim.load.week,
        peak_rate_per_s: r.sim.load.peak_rate_per_s,
        cpu: r.sim.peak.cpu,
        p95_s_sim: r.sim.peak.p95_s,
        p95_s_live: r.live.as_ref().and_then(|l| l.figures.as_ref()).map(|f| f.p95_s),
        recommended_cpu: at_size.map(|f| f.cpu),
        recommended_p95_s: at_size.map(|f| f.p95_s),
    }
}
