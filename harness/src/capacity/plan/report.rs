//! The plan's outputs besides `plan.json` and `plan.svg`: its `results.json` (kind `plan`,
//! the plan embedded) and its report document (`report.md`, `report.html`, `junit.xml`):
//! per week the load, utilisation, percentiles, SLO verdicts, live agreement and the
//! recommended size; the triggers' first firings; one JUnit case per SLO (does it hold
//! through the horizon at the recommended size) and per trigger expectation.

use crate::report::doc::{Check, Doc, Figure, Status, Table};
use serde::Serialize;

use crate::report::results::{Machine, ReportKind, Results, RunVerdict, SCHEMA_VERSION};
use crate::report::section::{Extended, Section};
use crate::scenario::Scenario;

use super::live::LiveWeek;
use super::output::CapacityPlan;
use super::recommend::Recommendation;

/// `gameday plan`'s section of `results.json`: the plan (the same document as `plan.json`).
#[derive(Clone, Debug, Serialize)]
pub struct PlanSection {
    /// The plan.
    pub plan: CapacityPlan,
    /// `plan.svg` when it was drawn: the report's one figure (not in `results.json`).
    #[serde(skip)]
    pub chart: Option<String>,
}

/// The results file of a plan.
pub type PlanResults = Extended<PlanSection>;

impl Section for PlanSection {
    /// Per week the load, percentiles and size; the triggers; one check per SLO and
    /// trigger expectation.
    fn add_to(&self, doc: &mut Doc) {
        let p = &self.plan;
        doc.tables = vec![weeks_table(p), triggers_table(p)];
        doc.checks = slo_checks(p);
        doc.checks.extend(p.triggers.iter().chain(&p.alerts).filter_map(|t| {
            let expectation = t.expectation.as_ref()?;
            Some(Check {
                suite: "triggers".into(),
                name: format!("{}: {expectation}", t.name),
                status: if t.pass == Some(false) { Status::Fail } else { Status::Pass },
                message: t.week.map_or("never fired".into(), |w| format!("first fired in week {w}")),
            })
        }));
    }

    /// The plan's own title, tables and checks, and `plan.svg` as the one figure.
    fn doc(results: &PlanResults) -> Doc {
        let (p, mut doc) = (&results.ext.plan, Doc::from_results(&results.run));
        doc.title = format!("gameday plan `{}`: {} {} of {}", p.scenario, p.size, p.size_unit, p.service);
        results.ext.add_to(&mut doc);
        let figure = |svg| Figure { title: "Load, CPU and p95 per week".into(), file: "plan.svg".into(), svg };
        doc.figures = results.ext.chart.clone().map(figure).into_iter().collect();
        doc
    }
}

/// The plan's `results.json`: the common header, no request kinds, the plan beside it;
/// `chart` is `plan.svg` when it was drawn, for the report.
pub fn results(s: &Scenario, p: &CapacityPlan, started_at: String, chart: Option<String>) -> PlanResults {
    let run = Results {
        schema_version: SCHEMA_VERSION,
        kind: ReportKind::Plan,
        gameday_version: env!("CARGO_PKG_VERSION").to_owned(),
        scenario: s.name.clone(),
        scenario_file: s.origin.file.display().to_string(),
        seed: p.seed,
        time_scale: s.time_scale.factor(),
        started_at,
        machine: Machine::current(),
        interval_s: 0.0,
        wall_s: p.sim_wall_s,
        simulated_s: 0.0,
        targets: Default::default(),
        requests: Vec::new(),
        slos: Vec::new(),
        alerts: Vec::new(),
        triggers: Vec::new(),
        rule_step_s: 0.0,
        verdict: if p.feasible { RunVerdict::Pass } else { RunVerdict::Fail },
        reasons: p.reasons.clone(),
        partial: false,
        generator: None,
        observation_problems: Vec::new(),
    };
    Extended { run, ext: PlanSection { plan: p.clone(), chart } }
}

fn weeks_table(p: &CapacityPlan) -> Table {
    let header = [
        "week",
        "volume/day",
        "peak/s",
        "CPU at peak",
        "p50",
        "p95",
        "p99",
        "queue",
        "SLOs",
        "live p95 / CPU",
        "live vs twin",
        "recommended",
    ];
    let mut t = Table {
        title: "Weeks (simulated at the scenario's size, peak hour)".into(),
        header: header.map(String::from).to_vec(),
        rows: Vec::new(),
    };
    let secs = |v: f64| format!("{:.2} s", v);
    for w in &p.weeks {
        let s = &w.sim;
        let failing: Vec<&str> = s.slos.iter().filter(|v| !v.pass).map(|v| v.name.as_str()).collect();
        let live = match &w.live {
            Some(LiveWeek { figures: Some(f), .. }) => format!("{} / {:.0}%", secs(f.p95_s), f.cpu * 100.0),
            Some(l) => format!("not measured: {}", l.not_measured.as_deref().unwrap_or("?")),
            None => "-".into(),
        };
        let vs_twin = w
            .difference
            .as_ref()
            .map_or("-".into(), |d| format!("{}{}", d.short(), if d.agrees { "" } else { " (over 10%)" }));
        let rec = match &w.recommended {
            Some(Recommendation { size: Some(n), at_size: Some(f), .. }) => {
                format!("{n} {} (CPU {:.0}%, p95 {})", p.size_unit, f.cpu * 100.0, secs(f.p95_s))
            }
            Some(Recommendation { reason: Some(r), .. }) => format!("none: {r}"),
            _ => "-".into(),
        };
        t.rows.push(vec![
            s.load.week.to_string(),
            format!("{:.0}", s.load.volume_per_day),
            format!("{:.2}", s.load.peak_rate_per_s),
            format!("{:.0}%", s.peak.cpu * 100.0),
            secs(s.peak.p50_s),
            secs(s.peak.p95_s),
            secs(s.peak.p99_s),
            format!("{:.1}", s.peak.queue_mean),
            if failing.is_empty() { "PASS".into() } else { format!("FAIL: {}", failing.join(", ")) },
            live,
            vs_twin,
            rec,
        ]);
    }
    t
}

fn triggers_table(p: &CapacityPlan) -> Table {
    let mut t = Table {
        title: "Triggers, alerts and SLO breaches".into(),
        header: ["rule", "first fires / breaks", "expectation", "verdict"].map(String::from).to_vec(),
        rows: Vec::new(),
    };
    for tr in p.triggers.iter().chain(&p.alerts) {
        t.rows.push(vec![
            tr.name.clone(),
            tr.week.map_or("never".into(), |w| format!("week {w}")),
            tr.expectation.clone().unwrap_or_else(|| "informational".into()),
            crate::report::doc::verdict_word(tr.pass).into(),
        ]);
    }
    for b in &p.first_breach {
        t.rows.push(vec![
            format!("SLO {}", b.slo),
            b.week.map_or("holds throughout".into(), |w| format!("week {w} (at the scenario's size)")),
            "-".into(),
            "-".into(),
        ]);
    }
    t
}

/// One case per SLO: it holds in every week at that week's recommended size.
fn slo_checks(p: &CapacityPlan) -> Vec<Check> {
    let names: Vec<&str> =
        p.weeks.first().map(|w| w.sim.slos.iter().map(|v| v.name.as_str()).collect()).unwrap_or_default();
    names
        .into_iter()
        .map(|name| {
            let unfixable: Vec<String> = p
                .weeks
                .iter()
                .filter(|w| w.recommended.as_ref().is_some_and(|r| r.size.is_none()))
                .filter(|w| w.sim.slos.iter().any(|v| v.name == name && !v.pass))
                .map(|w| w.sim.load.week.to_string())
                .collect();
            Check {
                suite: "plan".into(),
                name: format!("{name} holds every week at the recommended size"),
                status: if unfixable.is_empty() { Status::Pass } else { Status::Fail },
                message: if unfixable.is_empty() {
                    "holds with the recommended sizes".into()
                } else {
                    format!("no size within the scenario's limits fixes week(s) {}", unfixable.join(", "))
                },
            }
        })
        .collect()
}
