//! `gameday drill SCENARIO`: the scenario's load, with its drills injected into it.
//!
//! Order, as `gameday run`: everything that can be refused is refused before anything
//! starts (scenario, flags, the loopback guard, `--out`); `--dry-run` stops there and
//! prints the plan. Then the targets start with their fault hooks ([`DrillEnv`]), the
//! load runs (the same plan, scraping and recording as `gameday run`, plus a live
//! [`Tap`] the drills read), and each drill's timeline runs in its own task next to it.
//! The [`Guard`] lives here, outside the drill tasks: it rolls back when a drill
//! finishes, fails, panics, when the load ends, and on Ctrl-C or SIGTERM (at once, not
//! behind the load's hung requests; partial results, the drills `interrupted`, exit 3).
//! After the load, each drill's exit criteria are judged over the recorded intervals.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use gameday_mocks::{MockContext, ServiceId};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::drill::{budget_slo, Drill};
use super::env::DrillEnv;
use super::guard::Guard;
use super::record::{self, DrillRecord, DrillStatus};
use super::timeline::DrillTask;
use crate::clock::Clock;
use crate::load;
use crate::observe::{self, Tap};
use crate::report;
use crate::run::{self, MockRuntime, RunOptions, Settings};
use crate::scenario::Scenario;
use crate::targets::{check_loopback, TargetError};
use crate::{Error, Exit};

/// What `gameday drill` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct DrillOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Output directory (default `out/<scenario name>`).
    pub out: Option<PathBuf>,
    /// `--target svc=URL` overrides.
    pub targets: Vec<(ServiceId, String)>,
    /// Allow non-loopback targets.
    pub allow_remote: bool,
    /// Print the plan only; start and run nothing.
    pub dry_run: bool,
    /// `--seed` override.
    pub seed: Option<u64>,
    /// `--query.lookback-delta` override (simulated).
    pub lookback_delta: Option<gameday_mocks::kit::HumanDuration>,
    /// No progress output.
    pub quiet: bool,
    /// Test hook: the drill of this name panics right after injecting. Only in builds
    /// with the `test-hooks` feature (the integration tests'), never in a release binary.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub panic_after_inject: Option<String>,
}

/// `gameday drill`'s section of `results.json`: the drills.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct DrillSection {
    /// Whether every drill passed.
    pub drills_pass: bool,
    /// One report per drill, in scenario order.
    pub drills: Vec<DrillRecord>,
}

/// `results.json` of a drill run: the load's results (`partial` = true when interrupted)
/// plus the drills.
pub type DrillResults = report::section::Extended<DrillSection>;

impl report::section::Section for DrillSection {
    /// A table of the drills and one check per exit criterion.
    fn add_to(&self, doc: &mut report::doc::Doc) {
        use report::doc::{Check, Status, Table};
        let drills = &self.drills;
        let secs = |v: Option<f64>| v.map_or("-".into(), crate::rules::format_sim_time);
        let mut t = Table::new("Drills", &["drill", "fault", "status", "MTTD", "RTO", "budget burned", "reason"]);
        for d in drills {
            let status = serde_json::to_value(d.status).ok().and_then(|v| v.as_str().map(str::to_owned));
            t.push(vec![
                d.name.clone(),
                format!("{} on {}", d.fault, d.target),
                status.unwrap_or_default(),
                secs(d.mttd_s),
                secs(d.rto_s),
                d.budget_burned.map_or("-".into(), |b| format!("{:.2}%", b * 100.0)),
                d.reason.clone().unwrap_or_default(),
            ]);
            doc.checks.extend(d.criteria.iter().map(|c| Check {
                suite: format!("drill {}", d.name),
                name: c.name.clone(),
                status: match (c.observed, c.pass) {
                    (_, true) => Status::Pass,
                    (None, false) => Status::Error,
                    (Some(_), false) => Status::Fail,
                },
                message: format!(
                    "observed {} against a limit of {}",
                    c.observed.map_or("nothing (never happened or no data)".into(), |v| format!("{v:.4}")),
                    c.threshold
                ),
            }));
            if d.criteria.is_empty() {
                doc.checks.push(Check {
                    suite: format!("drill {}", d.name),
                    name: "ran".into(),
                    status: if d.passed() { Status::Pass } else { Status::Error },
                    message: d.reason.clone().unwrap_or_default(),
                });
            }
        }
        doc.tables.push(t);
    }

    /// The run's document, its SLOs informational, the drills' verdict and moments.
    fn doc(results: &DrillResults) -> report::doc::Doc {
        report_doc(results)
    }
}

/// What a finished (or interrupted) drill run hands back.
#[derive(Debug)]
pub struct DrillOutcome {
    /// Everything measured and decided.
    pub results: DrillResults,
    /// Where `results.json` was written.
    pub results_path: PathBuf,
    /// The exit code.
    pub exit: Exit,
}

/// What `gameday drill` did.
#[derive(Debug)]
pub enum DrillRun {
    /// `--dry-run`: the plan, as printed.
    DryRun(String),
    /// The drills ran.
    Ran(Box<DrillOutcome>),
}

/// Why `gameday drill` stopped before a verdict, besides the run's own errors.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// The scenario has no `[[drill]]`.
    #[error("{}: the scenario has no [[drill]]", scenario.display())]
    NoDrill {
        /// The scenario file.
        scenario: PathBuf,
    },
}

impl DrillError {
    /// The exit code: no drill is bad usage.
    pub fn exit(&self) -> Exit {
        match self {
            Self::NoDrill { .. } => Exit::Usage,
        }
    }
}

/// The run's options a drill shares (a drill has no `--time-scale`).
fn run_options(opts: &DrillOptions) -> RunOptions {
    RunOptions {
        scenario: opts.scenario.clone(),
        out: opts.out.clone(),
        targets: opts.targets.clone(),
        allow_remote: opts.allow_remote,
        seed: opts.seed,
        time_scale: None,
        lookback_delta: opts.lookback_delta,
        quiet: opts.quiet,
    }
}

fn settings(run_opts: &RunOptions) -> Result<Settings, Error> {
    let settings = Settings::resolve(run_opts)?;
    if settings.scenario.drills.is_empty() {
        return Err(DrillError::NoDrill { scenario: run_opts.scenario.clone() }.into());
    }
    Ok(settings)
}

/// Every service the load or a drill uses, with its URL (remote) or `None` (embedded):
/// flag > scenario > embedded, loopback-checked.
pub fn drill_urls(
    s: &Scenario,
    overrides: &[(ServiceId, String)],
    allow_remote: bool,
) -> Result<BTreeMap<ServiceId, Option<String>>, TargetError> {
    let mut ids = s.used_services();
    for d in &s.drills {
        ids.extend(d.service());
        let probes = d.detect.probe.iter().chain(&d.verify);
        ids.extend(probes.filter_map(|p| p.target()).filter_map(|t| t.parse::<ServiceId>().ok()));
    }
    ids.sort();
    ids.dedup();
    let mut out = BTreeMap::new();
    for id in ids {
        let flag = overrides.iter().rev().find(|(o, _)| *o == id).map(|(_, u)| u.clone());
        let url = flag.or_else(|| s.targets.get(id).0);
        if let Some(u) = &url {
            check_loopback(id, u, allow_remote)?;
        }
        out.insert(id, url);
    }
    if let Some((id, url)) = overrides.iter().find(|(id, _)| !out.contains_key(id)) {
        return Err(TargetError::UnusedByDrill { service: *id, url: url.clone() });
    }
    Ok(out)
}

/// The plan `--dry-run` prints: per drill, the steady-state check, each step, each
/// command and each rollback. Touches nothing.
pub fn dry_run_text(s: &Scenario, urls: &BTreeMap<ServiceId, Option<String>>) -> String {
    let mut out = format!("gameday drill `{}` (dry run: nothing is started, injected or run)", s.name);
    for (id, url) in urls {
        let how = url.as_deref().map_or("embedded mock".to_owned(), |u| format!("remote {u}"));
        out.push_str(&format!("\n  target {id}: {how}"));
    }
    out.push_str(&format!("\n  load: {} for {}", load_kind(s), s.load.duration.0));
    for d in &s.drills {
        out.push_str(&format!("\n\n{}", drill_dry_run(s, d)));
    }
    out
}

fn load_kind(s: &Scenario) -> String {
    match (&s.load.rate, s.load.users) {
        (Some(_), _) => "open model".into(),
        (None, Some(u)) => format!("closed model, {u} users"),
        (None, None) => "no model".into(),
    }
}

fn drill_dry_run(s: &Scenario, d: &Drill) -> String {
    let at = d.at.get_ref();
    let mut p = format!("drill `{}`: fault {} on {}", d.name(), d.fault.name(), d.target.get_ref());
    let slos: Vec<String> = s.slos.iter().map(|o| format!("`{}` {}", o.name, o.objective.as_written())).collect();
    let ss = gameday_mocks::kit::HumanDuration(d.steady_state());
    p.push_str(&format!("\n  1. steady state: over the {ss} before {at}, every SLO holds: {}", list(&slos)));
    p.push_str("\n  2. preflight: check the fault's target exists");
    p.push_str(&format!("\n  3. at {at}: inject"));
    for line in d.fault.dry_run_steps() {
        p.push_str(&format!("\n       {line}"));
    }
    let detect = match (&d.detect.rule, &d.detect.probe) {
        (Some(r), _) => format!("rule `{}`", r.get_ref()),
        (None, Some(pr)) => format!("probe {}", pr.name()),
        _ => "nothing".into(),
    };
    p.push_str(&format!("\n  4. detect: poll {detect} every {}", d.detect.interval.0));
    p.push_str(&format!("\n       {}", runbook_alert_dry_run(s, d)));
    let action = d.recover.action.get_ref();
    let how = match &d.recover.command {
        Some(c) => format!("run `{}` (killed after {})", c.get_ref().join(" "), d.recover.timeout.0),
        None => action.name().to_owned(),
    };
    p.push_str(&format!("\n  5. {} after detection: recover: {how}", d.recover.after));
    let probes: Vec<&str> = d.verify.iter().map(|v| v.name()).collect();
    p.push_str(&format!("\n  6. verify: poll until every probe passes: {}", list(&probes)));
    p.push_str("\n  7. roll back (always: also on failure, abort, panic, Ctrl-C)");
    p.push_str(&format!("\n  dead-man: rolled back {} after injection whatever happens", d.timeout.0));
    if let (Some(rate), Some(o)) = (&d.max_burn_rate, budget_slo(s)) {
        p.push_str(&format!("\n  abort: when `{}`'s error budget burns faster than {}x", o.name, rate.get_ref()));
    }
    p
}

/// The plan's line on the runbook alert: which pages (and recovery waits for it), or the finding.
fn runbook_alert_dry_run(s: &Scenario, d: &Drill) -> String {
    match (&d.detect.alert, &d.detect.no_alert) {
        (Some(a), _) => {
            let rule = s.alerts.iter().find(|x| x.name == *a.get_ref());
            let (expr, hold) = rule.map_or_else(Default::default, |r| {
                (r.expr.get_ref().as_written().to_owned(), gameday_mocks::kit::HumanDuration(r.r#for.get()))
            });
            format!("runbook alert `{}` (`{expr}`, for {hold}) pages: recovery waits for it", a.get_ref())
        }
        (None, Some(why)) => format!("runbook alert: none can detect this (finding: {})", why.get_ref()),
        (None, None) => "runbook alert: none named (finding: nobody would be paged)".into(),
    }
}

fn list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
    }
}

/// Runs `gameday drill`; `interrupted` resolves on Ctrl-C (roll back, partial results).
/// The run's own pipeline ([`run::execute_with`]) with the drills plugged in ([`DrillHooks`]).
pub async fn drill(opts: &DrillOptions, interrupted: impl Future<Output = ()>) -> Result<DrillRun, Error> {
    let run_opts = run_options(opts);
    let settings = settings(&run_opts)?;
    if opts.dry_run {
        let urls = drill_urls(&settings.scenario, &opts.targets, opts.allow_remote)?;
        return Ok(DrillRun::DryRun(dry_run_text(&settings.scenario, &urls)));
    }
    let hooks = DrillHooks::new(opts);
    let ran = run::execute_with(&settings, &run_opts, hooks, interrupted).await?;
    let invalid = ran.results.verdict == report::RunVerdict::Invalid;
    let exit = exit_of(&ran.section.drills, ran.ending.partial || invalid);
    let results = DrillResults { run: ran.results, ext: ran.section };
    let results_path = report::write_run_outputs(&settings.out, &results)?;
    Ok(DrillRun::Ran(Box::new(DrillOutcome { results, results_path, exit })))
}

/// The drills, plugged into the run's pipeline: the targets start with their fault hooks,
/// each drill waits in its own task for the load's clock, Ctrl-C rolls back at once, the
/// load's end rolls back what is left, and the drills' reports are the run's section.
struct DrillHooks<'o> {
    /// Read only by the `test-hooks` build (`panic_after_inject`).
    #[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
    opts: &'o DrillOptions,
    /// The scenario and targets, once started.
    started: Option<(Arc<Scenario>, Arc<DrillEnv>)>,
    guard: Guard,
    tap: Tap,
    stop: CancellationToken,
    reports: Vec<Arc<Mutex<DrillRecord>>>,
    watchers: Vec<tokio::task::JoinHandle<()>>,
}

impl<'o> DrillHooks<'o> {
    fn new(opts: &'o DrillOptions) -> Self {
        Self {
            opts,
            started: None,
            guard: Guard::new(),
            tap: Tap::new(),
            stop: CancellationToken::new(),
            reports: Vec::new(),
            watchers: Vec::new(),
        }
    }
}

impl run::Hooks for DrillHooks<'_> {
    type Section = DrillSection;

    fn preflight(&self, s: &Scenario, opts: &RunOptions) -> Result<run::Urls, Error> {
        let urls = drill_urls(s, &opts.targets, opts.allow_remote)?;
        // What SIGKILLed drills left: their supervised processes' and edges' folders (even
        // if this drill is refused later, at `--out`).
        for prefix in [super::supervisor::PROC_DIR_PREFIX, super::grahmos_edge::EDGE_DIR_PREFIX] {
            super::cleanup::sweep(&std::env::temp_dir(), prefix);
        }
        Ok(urls)
    }

    fn command(&self) -> &'static str {
        "drill"
    }

    async fn start(
        &mut self,
        s: &Arc<Scenario>,
        urls: run::Urls,
        ctx: &MockContext,
        mocks: &MockRuntime,
        allow_remote: bool,
    ) -> Result<run::Started, Error> {
        let env = {
            let (s2, ctx2) = (Arc::clone(s), ctx.clone());
            Arc::new(mocks.run_on(async move { DrillEnv::start(&s2, urls, &ctx2).await }).await??)
        };
        let resolved = env.resolved();
        let scrape = scrape_targets(s, &env, &resolved, allow_remote)?;
        let probes = probe_schedule(s, &env);
        self.started = Some((Arc::clone(s), Arc::clone(&env)));
        let join: run::hooks::Join = Box::pin(async move {
            // Every other holder (drill tasks, probes) is gone by now.
            if let Ok(mut env) = Arc::try_unwrap(env) {
                env.join().await;
            }
        });
        Ok(run::Started { resolved, scrape, probes, join })
    }

    fn tap(&self) -> Option<Tap> {
        Some(self.tap.clone())
    }

    fn before(&mut self, before: run::Before<'_>) {
        if let Some((s, env)) = self.started.clone() {
            spawn_drills(self, &s, &env, before);
        }
    }

    async fn interrupted(&mut self) -> bool {
        // At once, whatever the load is doing: its requests may hang on a frozen target
        // until their timeout, the faults must not.
        self.guard.roll_back_all("interrupted").await;
        false
    }

    fn recording(&self, kinds: usize) -> load::Recording {
        self.tap.recording(kinds)
    }

    async fn after(&mut self, ending: run::Ending) -> Vec<observe::Series> {
        self.stop.cancel();
        // goose stops its attack on Ctrl-C too: a load that ended early was interrupted.
        let reason = if ending.cut_short { "interrupted" } else { "end of run" };
        for w in std::mem::take(&mut self.watchers) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), w).await;
        }
        self.guard.roll_back_all(reason).await;
        drill_probe_series(&self.tap)
    }

    fn finish(self, results: &mut report::Results, data: &observe::RunData, ending: run::Ending) -> DrillSection {
        let cut = ending.partial || ending.cut_short;
        let drills = match &self.started {
            Some((s, _)) => finish_reports(s, &self, data, cut),
            None => Vec::new(),
        };
        results.partial |= cut;
        results.kind = report::results::ReportKind::Drill;
        DrillSection { drills_pass: drills.iter().all(DrillRecord::passed), drills }
    }
}

/// The scenario's `[[probe]]`s, every kind checked against the drill's targets.
fn probe_schedule(s: &Scenario, env: &Arc<DrillEnv>) -> Vec<crate::probe::Scheduled> {
    s.probes
        .iter()
        .map(|p| {
            let (spec, target, env) = (Arc::new(p.spec()), p.target().unwrap_or_default().to_owned(), Arc::clone(env));
            let check: crate::probe::CheckFn = Arc::new(move || {
                let (spec, target, env) = (Arc::clone(&spec), target.clone(), Arc::clone(&env));
                Box::pin(async move {
                    spec.check(&target, &env).await.map_err(|e| crate::probe::ProbeError::Check(Box::new(e)))
                })
            });
            crate::probe::scheduled(p, s.time_scale, check)
        })
        .collect()
}

/// The drills' own probe results (`probe="<drill>/detect"`, `"<drill>/verify/<i>"`),
/// which their timelines recorded into the tap.
fn drill_probe_series(tap: &Tap) -> Vec<observe::Series> {
    let drill_probe = |s: &observe::Series| s.labels.get("probe").is_some_and(|p| p.contains('/'));
    tap.scraped().series.into_iter().filter(|s| crate::probe::is_probe_metric(&s.name) && drill_probe(s)).collect()
}

fn scrape_targets(
    s: &Scenario,
    env: &DrillEnv,
    resolved: &BTreeMap<ServiceId, crate::targets::Resolved>,
    allow_remote: bool,
) -> Result<Vec<observe::ScrapeTarget>, Error> {
    let mut out = observe::scrape_targets(s.targets_section(), resolved, env.services(), allow_remote)?;
    // An embedded mock serving TLS is scraped over HTTPS at its base URL, trusting its CA.
    for t in &mut out {
        if let Some(r) = resolved.get(&t.service).filter(|r| r.ca_pem.is_some() && t.instance == t.service.as_str()) {
            t.url = format!("{}/metrics", r.url);
            t.ca_pem.clone_from(&r.ca_pem);
        }
    }
    // A target gameday started but not in-process (a supervised process) is scraped at its URL.
    for (id, r) in resolved {
        let in_process = env.services().iter().any(|svc| svc.id == *id);
        if r.embedded && !in_process {
            out.extend(observe::endpoints::external(s.targets_section(), *id, &r.url, allow_remote)?);
        }
    }
    Ok(out)
}

fn spawn_drills(live: &mut DrillHooks<'_>, s: &Arc<Scenario>, env: &Arc<DrillEnv>, before: run::Before<'_>) {
    let run::Before { mix, step_s, clock: clock_rx } = before;
    for d in &s.drills {
        let report = Arc::new(Mutex::new(DrillRecord::new(d)));
        live.reports.push(Arc::clone(&report));
        let (mut clock_rx, guard, stop) = (clock_rx.clone(), live.guard.clone(), live.stop.clone());
        let mut task = DrillTask {
            drill: d.clone(),
            scenario: Arc::clone(s),
            env: Arc::clone(env),
            guard: guard.clone(),
            tap: live.tap.clone(),
            clock: Clock::start(s.time_scale),
            step_s,
            requests: mix.kinds.iter().map(|k| k.name.clone()).collect(),
            report: Arc::clone(&report),
            stop: stop.clone(),
            #[cfg(feature = "test-hooks")]
            panic_after_inject: live.opts.panic_after_inject.as_deref() == Some(d.name()),
        };
        let name = d.name().to_owned();
        let watcher = async move {
            let clock = tokio::select! {
                c = clock_rx.wait_for(Option::is_some) => c.ok().and_then(|c| *c),
                () = stop.cancelled() => None,
            };
            let Some(clock) = clock else { return };
            guard.set_clock(clock);
            task.clock = clock;
            // The drill runs in its own task; the guard outlives it and rolls back on a panic.
            if let Err(e) = tokio::spawn(task.run()).await {
                let why = if e.is_panic() { "the drill's task panicked" } else { "the drill's task was cancelled" };
                guard.roll_back_drill(&name, if e.is_panic() { "panic" } else { "cancelled" }).await;
                report.lock().unwrap_or_else(PoisonError::into_inner).end(DrillStatus::Error, why);
            }
        };
        live.watchers.push(tokio::spawn(watcher));
    }
}

/// Final reports: rollbacks, budget and criteria over the finished run.
fn finish_reports(s: &Scenario, live: &DrillHooks<'_>, data: &observe::RunData, partial: bool) -> Vec<DrillRecord> {
    s.drills
        .iter()
        .zip(&live.reports)
        .map(|(d, r)| {
            let mut r = r.lock().unwrap_or_else(PoisonError::into_inner).clone();
            r.rollbacks = live.guard.records_of(d.name());
            r.timeline.rolled_back_at = r.rollbacks.iter().filter_map(|x| x.at_s).reduce(f64::min);
            if let (Some(o), Some((from, to))) = (budget_slo(s), record::window(&r, data.duration_s)) {
                r.budget = record::budget(o, data, from, to);
                r.budget_burned = r.budget.as_ref().map(|b| b.budget_burned);
            }
            r.runbook_alert = record::runbook_alert(d, s, &r, data);
            if r.timeline.injected_at.is_some() || r.status == DrillStatus::Completed {
                r.criteria = record::criteria(d, &r, data);
            }
            match r.status {
                _ if partial && !matches!(r.status, DrillStatus::Refused | DrillStatus::Error) => {
                    r.status = DrillStatus::Interrupted;
                    r.reason = Some("interrupted: the load ended early (Ctrl-C)".into());
                }
                DrillStatus::Completed if r.criteria.iter().all(|c| c.pass) => r.status = DrillStatus::Passed,
                DrillStatus::Completed => {
                    let failed: Vec<&str> = r.criteria.iter().filter(|c| !c.pass).map(|c| c.name.as_str()).collect();
                    r.end(DrillStatus::Failed, format!("criteria failed: {}", failed.join(", ")));
                }
                DrillStatus::Pending => r.end(DrillStatus::Failed, "the load ended before the drill finished"),
                _ => {}
            }
            r
        })
        .collect()
}

/// 0: every drill passed; 1: a criterion failed, steady state refused, aborted;
/// 3: interrupted, the load's run cannot be trusted, or a drill could not run.
fn exit_of(drills: &[DrillRecord], untrusted: bool) -> Exit {
    if untrusted || drills.iter().any(|d| d.status == DrillStatus::Error) {
        Exit::RunFailed
    } else if drills.iter().all(DrillRecord::passed) {
        Exit::Pass
    } else {
        Exit::Failed
    }
}

/// The report document of a drill run (the drills decide the verdict; the whole run's
/// SLOs, incident included, are informational).
pub fn report_doc(results: &DrillResults) -> report::doc::Doc {
    use report::doc::{Doc, Status};
    let mut doc = Doc::from_results(&results.run);
    for c in doc.checks.iter_mut().filter(|c| c.suite == "slo" && c.status != Status::Pass) {
        c.status = Status::Skipped;
        c.message = format!("informational in a drill (the whole run includes the incident): {}", c.message);
    }
    report::section::Section::add_to(&results.ext, &mut doc);
    let failed: Vec<String> = results
        .ext
        .drills
        .iter()
        .filter(|d| !d.passed())
        .map(|d| format!("drill {}: {}", d.name, d.reason.as_deref().unwrap_or("did not pass")))
        .collect();
    let invalid = results.run.verdict == report::RunVerdict::Invalid
        || results.ext.drills.iter().any(|d| d.status == DrillStatus::Error);
    doc.verdict = match (invalid, failed.is_empty()) {
        (true, _) => report::RunVerdict::Invalid,
        (false, true) => report::RunVerdict::Pass,
        (false, false) => report::RunVerdict::Fail,
    };
    let informational = results.run.reasons.iter().map(|r| format!("(load, informational) {r}"));
    doc.reasons = failed.into_iter().chain(informational).collect();
    doc.figures = report::figures::for_results(&results.run, &drill_marks(&results.ext.drills));
    doc
}

/// Each drill's moments, for the time charts.
fn drill_marks(drills: &[DrillRecord]) -> Vec<report::figures::Mark> {
    let mut marks = Vec::new();
    for d in drills {
        let t = &d.timeline;
        for (at, what) in [
            (t.injected_at, "inject"),
            (t.detected_at, "detected"),
            (t.recovery_started_at, "recover"),
            (t.verified_at, "verified"),
        ] {
            if let Some(at) = at {
                marks.push((at, if drills.len() > 1 { format!("{} {what}", d.name) } else { what.to_owned() }));
            }
        }
    }
    marks
}

/// How a drill's terminal table labels the load's verdict: the whole run's SLOs include
/// the incident on purpose, so they are informational; the drills' own criteria decide.
pub const LOAD_VERDICT_LABEL: &str =
    "load verdict over the whole run, incident included (informational; the drills decide)";

/// The terminal summary of a drill run.
pub fn render(results: &DrillResults) -> String {
    let mut out: Vec<String> = results.ext.drills.iter().map(record::render).collect();
    if results.run.partial {
        out.push("results are PARTIAL (the run was interrupted)".into());
    }
    let passed = results.ext.drills.iter().filter(|d| d.passed()).count();
    out.push(format!("drills: {passed} of {} passed", results.ext.drills.len()));
    out.join("\n")
}
