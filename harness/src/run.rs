//! `gameday run SCENARIO`, and the run pipeline every load-sending command plugs into.
//!
//! Order matters for the user: everything that can be refused is refused before any load
//! is sent (scenario, flags, loopback guard, output directory), so a bad input costs
//! nothing and leaves `--out` untouched. Flag values override the scenario's in exactly
//! one place, [`Settings::resolve`].
//!
//! [`execute_with`] is the one pipeline: start the targets, run the load with scraping
//! and probes, judge. `gate` runs it as it is; `drill` and `plan`'s live windows plug into
//! it through [`Hooks`] (before the load, on each interval, after) instead of rebuilding
//! it or building a scenario of their own. Results are written by the command.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gameday_mocks::kit::{HumanDuration, PositiveDuration};
use gameday_mocks::{MockContext, ServiceId, TimeScale};

use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::load::arrival::RateCurve;
use crate::load::{self, LateBound, LoadConfig, Mix, Pace};
use crate::observe::{self, RunData, ScrapeTarget, Scraped};
use crate::probe;
use crate::report::{self, RequestSummary, Results, RunVerdict};
use crate::rules;
use crate::scenario::{Model, Scenario};
use crate::spec::drill::ProbeSpec;
use crate::targets::{self, Resolved};
use crate::{Error, Exit};

pub mod hooks;
pub mod interrupt;

pub use hooks::{Before, Ending, Hooks, Load, Plain, Started, Urls};

/// What `gameday run` was asked to do (flags already parsed, not yet merged).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Output directory (default `out/<scenario name>`).
    pub out: Option<PathBuf>,
    /// `--target svc=URL` overrides.
    pub targets: Vec<(ServiceId, String)>,
    /// Allow non-loopback targets.
    pub allow_remote: bool,
    /// `--seed` override.
    pub seed: Option<u64>,
    /// `--time-scale` override.
    pub time_scale: Option<f64>,
    /// `--query.lookback-delta` override (simulated).
    pub lookback_delta: Option<HumanDuration>,
    /// No progress output.
    pub quiet: bool,
}

/// The merged settings of one run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The scenario (with overrides applied).
    pub scenario: Scenario,
    /// Where results go.
    pub out: PathBuf,
}

/// Why `gameday run` stopped before a verdict, besides the errors of the parts it runs.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--time-scale` is not a positive, finite factor.
    #[error("--time-scale: {0}")]
    TimeScale(gameday_mocks::kit::units::TimeScaleError),
    /// `--query.lookback-delta 0`.
    #[error("--query.lookback-delta: must be longer than zero (Prometheus's default is 5m)")]
    ZeroLookback,
    /// Ctrl-C or SIGTERM before the load started.
    #[error("{}", interrupt::partial_reason())]
    Interrupted,
    /// The mocks' runtime could not be built.
    #[error("cannot start the mocks' runtime: {0}")]
    Runtime(std::io::Error),
    /// The mocks' runtime was already shut down.
    #[error("the mocks' runtime is gone")]
    RuntimeGone,
    /// Starting the mocks panicked or was cancelled.
    #[error("starting the mocks failed: {0}")]
    MocksPanicked(tokio::task::JoinError),
}

impl RunError {
    /// The exit code: a bad flag is bad usage; the rest is a failed run.
    pub fn exit(&self) -> Exit {
        match self {
            Self::TimeScale(_) | Self::ZeroLookback => Exit::Usage,
            _ => Exit::RunFailed,
        }
    }
}

impl Settings {
    /// Merges flags over the scenario file over defaults.
    pub fn resolve(opts: &RunOptions) -> Result<Self, Error> {
        let mut scenario = crate::resolve::load(&opts.scenario)?;
        if let Some(seed) = opts.seed {
            scenario.seed = seed;
        }
        if let Some(scale) = opts.time_scale {
            scenario.time_scale = TimeScale::new(scale).map_err(RunError::TimeScale)?;
        }
        if let Some(lookback) = opts.lookback_delta {
            if lookback.get().is_zero() {
                return Err(RunError::ZeroLookback.into());
            }
            scenario.lookback_delta = Some(PositiveDuration(lookback));
        }
        let out = opts.out.clone().unwrap_or_else(|| report::out_dir::default_dir(&scenario.name, ""));
        Ok(Self { scenario, out })
    }
}

/// What a finished run hands back.
#[derive(Debug)]
pub struct RunOutcome {
    /// Everything measured and decided.
    pub results: Results,
    /// Where `results.json` was written.
    pub results_path: PathBuf,
    /// The exit code the run deserves.
    pub exit: Exit,
    /// What the rules read: the recording's intervals and the scraped series.
    pub data: RunData,
}

/// Runs a scenario end to end.
pub async fn run(opts: &RunOptions) -> Result<RunOutcome, Error> {
    let settings = Settings::resolve(opts)?;
    let Executed { results, data, .. } = execute_with(&settings, opts, Plain, interrupt::interrupted()).await?;
    let results_path = report::write_run_outputs(&settings.out, &results)?;
    let exit = exit_of(results.verdict);
    Ok(RunOutcome { results, results_path, exit, data })
}

/// Runs an already resolved scenario and judges it, writing nothing but proving `--out`
/// writable first: the caller adds what it knows (a gate's comparison) and writes.
pub async fn execute(settings: &Settings, opts: &RunOptions) -> Result<(Results, RunData), Error> {
    let Executed { results, data, .. } = execute_with(settings, opts, Plain, interrupt::interrupted()).await?;
    Ok((results, data))
}

/// What the pipeline hands back: the judged run, the command's section, what the rules
/// read, and how the load ended.
#[derive(Debug)]
pub struct Executed<S> {
    /// Everything measured and decided about the run.
    pub results: Results,
    /// The command's section ([`Hooks::finish`]).
    pub section: S,
    /// What the rules read: the recording's intervals and the scraped series.
    pub data: RunData,
    /// How the load ended.
    pub ending: Ending,
}

/// The one run pipeline, with a command's [`Hooks`]: refuses what can be refused (and
/// proves `--out` writable) before anything starts, starts the targets, runs the load with
/// scraping and probes until it ends or `interrupted` resolves, judges, and hands back
/// the results with the command's section. Writes no results: the caller does.
pub async fn execute_with<H: Hooks>(
    settings: &Settings,
    opts: &RunOptions,
    mut hooks: H,
    interrupted: impl Future<Output = ()>,
) -> Result<Executed<H::Section>, Error> {
    let s = Arc::new(settings.scenario.clone());
    let urls = hooks.preflight(&s, opts)?;
    let rules = hooks.rules(&s);
    if !rules.alerts.is_empty() || !rules.triggers.is_empty() {
        for w in check_rule_metrics(&s, &urls).await? {
            eprintln!("warning: {w}");
        }
    }
    report::prepare_out_dir(&settings.out)?;
    if interrupt::is_interrupted() {
        return Err(RunError::Interrupted.into());
    }
    let ctx = MockContext { scale: s.time_scale, seed: s.seed, ..MockContext::default() };
    let mocks = MockRuntime::new()?;
    let mut started = hooks.start(&s, urls, &ctx, &mocks, opts.allow_remote).await?;
    let join = std::mem::replace(&mut started.join, Box::pin(async {}));
    let executed = drive(&s, opts, hooks, started, interrupted).await;
    ctx.shutdown.cancel();
    let _ = mocks.run_on(join).await;
    executed
}

/// The load and everything around it, on started targets.
async fn drive<H: Hooks>(
    s: &Arc<Scenario>,
    opts: &RunOptions,
    mut hooks: H,
    started: Started,
    interrupted: impl Future<Output = ()>,
) -> Result<Executed<H::Section>, Error> {
    let Started { resolved, scrape, probes, .. } = started;
    let tap = hooks.tap();
    let mut config = LoadConfig { allow_remote: opts.allow_remote, ..load_config(s, !opts.quiet) };
    config.tap = tap.clone().map(|t| Arc::new(t) as Arc<dyn load::record::Sink>);
    let load = hooks.load(s, hooks::scenario_load(s, config));
    let rules = hooks.rules(s);
    if !opts.quiet {
        eprintln!("{}", header(hooks.command(), hooks.name(s), s, &load, &resolved));
    }
    if let Some(w) = floor_warning(s.time_scale, rules.slos) {
        eprintln!("warning: {w}");
    }
    let mix = Arc::new(Mix::new(&s.load.requests, s.seed, &resolved)?);
    let (on_start, observer) = observe_when_started(scrape, probes, load.config.interval, tap);
    let clock_rx = forward_clock(on_start);
    let step_s = s.time_scale.to_sim(load.config.interval).as_secs_f64();
    hooks.before(Before { mix: &mix, step_s, clock: clock_rx.1.clone() });
    let running = load::run(Arc::clone(&mix), &load.config, Some(clock_rx.0));
    let (loaded, ending) = race_load(&mut hooks, s, &load, running, interrupted).await;
    let extra = hooks.after(ending).await;
    let mut scraped = observer.finish().await;
    scraped.series.extend(extra);
    let clock = *clock_rx.1.borrow();
    let mut outcome = match loaded {
        Some(out) => out?,
        None => cut_outcome(hooks.recording(mix.kinds.len()), clock),
    };
    let data = run_data(s, &load, &mix, std::mem::take(&mut outcome.recording.intervals), scraped);
    let measured = Measured { outcome, data, resolved };
    let (mut results, data) = judge(s, rules, &opts.scenario, &mix, &load.config, measured);
    results.scenario = hooks.name(s).to_owned();
    if ending.interrupted || interrupt::is_interrupted() {
        mark_interrupted(&mut results);
    }
    let section = hooks.finish(&mut results, &data, ending);
    Ok(Executed { results, section, data, ending })
}

/// Runs the load until it ends or `interrupted` resolves. On Ctrl-C the hook decides
/// whether to wait for the load to stop (its outcome is the partial result) or not
/// (`None`: the hook's recording so far is).
async fn race_load<H: Hooks>(
    hooks: &mut H,
    s: &Scenario,
    load: &Load,
    running: impl Future<Output = Result<load::LoadRun, load::LoadError>>,
    interrupted: impl Future<Output = ()>,
) -> (Option<Result<load::LoadRun, load::LoadError>>, Ending) {
    tokio::pin!(running);
    let raced = tokio::select! {
        out = &mut running => Some(out),
        () = interrupted => None,
    };
    let was_interrupted = raced.is_none() || interrupt::is_interrupted();
    let wait = !was_interrupted || hooks.interrupted().await;
    let loaded = match raced {
        Some(out) => Some(out),
        None if wait => Some(interrupt::until_done_or_interrupted(running).await),
        None => None,
    };
    let cut_short = was_interrupted
        || match &loaded {
            Some(Ok(o)) => s.time_scale.to_sim(o.wall) + Duration::from_secs(1) < hooks::span(s, load),
            _ => true,
        };
    let ending = Ending { interrupted: was_interrupted, cut_short, partial: loaded.is_none() };
    (loaded, ending)
}

/// Hands the load's clock, once it starts, to the observer and to a watch the hooks read.
fn forward_clock(on_start: oneshot::Sender<Clock>) -> (oneshot::Sender<Clock>, watch::Receiver<Option<Clock>>) {
    let (clock_tx, clock_rx) = watch::channel(None::<Clock>);
    let (load_tx, load_rx) = oneshot::channel::<Clock>();
    tokio::spawn(async move {
        if let Ok(clock) = load_rx.await {
            let _ = on_start.send(clock);
            let _ = clock_tx.send(Some(clock));
        }
    });
    (load_tx, clock_rx)
}

/// The outcome of a load that was not awaited: its recording so far, timed by its clock.
fn cut_outcome(recording: load::Recording, clock: Option<Clock>) -> load::LoadRun {
    let wall = clock.map_or_else(Default::default, |c| c.started().elapsed());
    let zero_at = clock.map_or_else(std::time::SystemTime::now, |c| c.zero_wall());
    load::LoadRun { recording, wall, zero_at, health: None }
}

/// Starts `targets` (embedded mocks or URLs; the scenario's own, or a command's with a
/// profile changed), what the observer scrapes on them and the scenario's probes:
/// [`Hooks::start`]'s default.
pub(crate) async fn start_targets(
    s: &Scenario,
    targets: &crate::scenario::Targets,
    urls: Urls,
    ctx: &MockContext,
    mocks: &MockRuntime,
    allow_remote: bool,
) -> Result<Started, Error> {
    let (resolved, running) = mocks.start(targets, urls, ctx).await?;
    let scrape = observe::scrape_targets(s.targets_section(), &resolved, &running, allow_remote)?;
    let probes = probe_schedule(s, &resolved, allow_remote)?;
    let join: hooks::Join = Box::pin(async move {
        for svc in running {
            svc.join().await;
        }
    });
    Ok(Started { resolved, scrape, probes, join })
}

/// An interrupted run (Ctrl-C, SIGTERM) is partial and cannot be trusted, however much of
/// it ran (exit 3).
pub(crate) fn mark_interrupted(results: &mut Results) {
    results.partial = true;
    results.verdict = RunVerdict::Invalid;
    if !results.reasons.first().is_some_and(|r| r.starts_with("run interrupted")) {
        results.reasons.insert(0, interrupt::partial_reason());
    }
}

/// Everything `run` refuses before it starts a mock or sends a request, checked without
/// starting anything (so `validate` refuses exactly what `run` would): the targets'
/// loopback guard, the request mix against the targets, the scrape targets and (for a
/// scenario without drills, which runs under `run`) the probes. Returns every used
/// service's URL (`None`: embedded mock).
pub fn preflight(
    s: &Scenario,
    overrides: &[(ServiceId, String)],
    allow_remote: bool,
) -> Result<std::collections::BTreeMap<ServiceId, Option<String>>, Error> {
    let urls = targets::resolve_urls(s.targets_section(), &s.used_services(), overrides, allow_remote)?;
    let stand_in = |url: &Option<String>| Resolved {
        url: url.clone().unwrap_or_else(|| "http://127.0.0.1:9".to_owned()),
        embedded: url.is_none(),
        ca_pem: None,
    };
    let resolved = urls.iter().map(|(&id, url)| (id, stand_in(url))).collect();
    Mix::new(&s.load.requests, s.seed, &resolved)?;
    observe::scrape_targets(s.targets_section(), &resolved, &[], allow_remote)?;
    if s.drills.is_empty() {
        probe_schedule(s, &resolved, allow_remote)?;
    }
    Ok(urls)
}

/// The exit code a run verdict deserves.
pub fn exit_of(verdict: RunVerdict) -> Exit {
    match verdict {
        RunVerdict::Pass => Exit::Pass,
        RunVerdict::Fail => Exit::Failed,
        RunVerdict::Invalid => Exit::RunFailed,
    }
}

/// What the rules read: the recording's intervals and the scraped series, one clock.
fn run_data(s: &Scenario, load: &Load, mix: &Mix, intervals: load::Intervals, scraped: Scraped) -> RunData {
    RunData::new(
        s.time_scale.to_sim(load.config.interval).as_secs_f64(),
        hooks::span(s, load).as_secs_f64(),
        mix.kinds.iter().map(|k| k.name.clone()).collect(),
        intervals,
        scraped.series,
        scraped.problems,
    )
}

/// Checks that every scraped metric and label the alerts and triggers name exists on
/// the targets (exit 2 otherwise, naming the rule's line). Returns warnings for
/// targets whose metrics could not be listed.
pub async fn check_rule_metrics(
    s: &Scenario,
    urls: &std::collections::BTreeMap<ServiceId, Option<String>>,
) -> Result<Vec<String>, Error> {
    if s.alerts.is_empty() && s.triggers.is_empty() {
        return Ok(Vec::new());
    }
    let (catalogs, unchecked) = observe::catalog::for_scenario(&s.targets, &s.load.requests, s.seed, urls).await?;
    if !unchecked.is_empty() {
        let list = unchecked.join(", ");
        return Ok(vec![format!("the metrics rules name could not be checked on: {list}")]);
    }
    crate::resolve::check_metrics(s, &catalogs)?;
    Ok(Vec::new())
}

/// The embedded mocks' own runtime, on their own threads: their request handling never
/// sits in the generator's task queues (a mock is another machine; the OS, not tokio's
/// cooperative scheduling, shares the CPU between them).
pub struct MockRuntime {
    rt: Option<tokio::runtime::Runtime>,
}

impl MockRuntime {
    /// A runtime of two worker threads for the mocks.
    pub(crate) fn new() -> Result<Self, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("gameday-mock")
            .enable_all()
            .build()
            .map_err(RunError::Runtime)?;
        Ok(Self { rt: Some(rt) })
    }

    /// Runs `fut` on this runtime (so every task it spawns lives there) and waits for it.
    pub async fn run_on<F>(&self, fut: F) -> Result<F::Output, Error>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let Some(rt) = &self.rt else { return Err(RunError::RuntimeGone.into()) };
        rt.spawn(fut).await.map_err(|e| RunError::MocksPanicked(e).into())
    }

    /// Starts the scenario's targets with every mock task on this runtime.
    async fn start(
        &self,
        targets: &crate::scenario::Targets,
        urls: std::collections::BTreeMap<ServiceId, Option<String>>,
        ctx: &MockContext,
    ) -> Result<(std::collections::BTreeMap<ServiceId, Resolved>, Vec<gameday_mocks::RunningService>), Error> {
        let (table, ctx) = (targets.clone(), ctx.clone());
        self.run_on(async move { targets::start(&table, urls, &ctx).await }).await?
    }
}

impl Drop for MockRuntime {
    fn drop(&mut self) {
        // Dropping a runtime inside another one must not block.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The scraper of a run: started with the load's clock, stopped after the load.
pub(crate) struct Observer {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Option<Scraped>>,
}

impl Observer {
    /// Stops scraping and hands back what was kept.
    pub(crate) async fn finish(self) -> Scraped {
        self.stop.cancel();
        self.task.await.ok().flatten().unwrap_or_default()
    }
}

/// Scrapes `targets` every `interval` (real) and runs `probes` from the moment the load's
/// clock starts, also into `tap` when given.
pub(crate) fn observe_when_started(
    targets: Vec<ScrapeTarget>,
    probes: Vec<probe::Scheduled>,
    interval: Duration,
    tap: Option<observe::Tap>,
) -> (oneshot::Sender<Clock>, Observer) {
    let (tx, rx) = oneshot::channel::<Clock>();
    let stop = CancellationToken::new();
    let inner = stop.clone();
    let task = tokio::spawn(async move {
        let clock = tokio::select! {
            c = rx => c.ok()?,
            () = inner.cancelled() => return None,
        };
        let probed = probe::spawn(probes, clock, inner.clone(), tap.clone());
        let abnormal = |what: &str, e: tokio::task::JoinError| Scraped {
            problems: vec![format!("{what}: the task ended abnormally: {e}")],
            ..Scraped::default()
        };
        let scraped = observe::spawn_tapped(targets, None, interval, clock, inner, tap).await;
        let mut scraped = scraped.unwrap_or_else(|e| abnormal("metrics", e));
        let probed = probed.await.unwrap_or_else(|e| abnormal("probes", e));
        scraped.series.extend(probed.series);
        scraped.problems.extend(probed.problems);
        Some(scraped)
    });
    (tx, Observer { stop, task })
}

/// The scenario's `[[probe]]`s for `gameday run` and `gate`: HTTP probes against the
/// resolved targets. Other kinds need a drill's target hooks and are refused (exit 2); a
/// probe `url` off loopback needs `--allow-remote`.
pub(crate) fn probe_schedule(
    s: &Scenario,
    resolved: &std::collections::BTreeMap<ServiceId, Resolved>,
    allow_remote: bool,
) -> Result<Vec<probe::Scheduled>, Error> {
    let endpoints = Arc::new(probe::Endpoints::from(resolved));
    let mut out = Vec::with_capacity(s.probes.len());
    for (i, p) in s.probes.iter().enumerate() {
        let ProbeSpec::Http(spec) = p.spec() else {
            let msg = format!(
                "probe `{}`: kind `{}` needs a drill's target hooks; it runs under `gameday drill` only",
                p.name(),
                p.kind()
            );
            return Err(Error::Scenario(s.refusal(&format!("probe[{i}].kind"), msg)));
        };
        if let Some(url) = spec.url.as_deref().filter(|u| !allow_remote && !probe::is_loopback_url(u)) {
            let msg = format!(
                "probe `{}`: `{url}` is not a loopback address; gameday sends traffic only to 127.0.0.0/8, ::1 or localhost unless --allow-remote is given",
                p.name()
            );
            return Err(Error::Scenario(s.refusal(&format!("probe[{i}].url"), msg)));
        }
        let (spec, target, env) = (Arc::new(spec), p.target().unwrap_or_default().to_owned(), Arc::clone(&endpoints));
        let check: probe::CheckFn = Arc::new(move || {
            let (spec, target, env) = (Arc::clone(&spec), target.clone(), Arc::clone(&env));
            Box::pin(async move { probe::http::check(&spec, &target, &env).await })
        });
        out.push(probe::scheduled(p, s.time_scale, check));
    }
    Ok(out)
}

/// The load's configuration in real time.
pub(crate) fn load_config(s: &Scenario, progress: bool) -> LoadConfig {
    let scale = s.time_scale;
    let real_interval = scale.to_real(Duration::from_secs(1)).max(Duration::from_millis(100));
    let l = &s.load;
    let pace = match l.model() {
        Ok(Model::Open(curve)) => open_pace(s, curve.clone()),
        // `validate` refused a load that is neither; closed with `max_users` is its fallback.
        Ok(Model::Closed(_)) | Err(_) => Pace::Closed {
            users: l.users.unwrap_or(l.max_users).get() as usize,
            ramp: scale.to_real(l.ramp.get()),
            think_time: scale.to_real(l.think_time.get()),
        },
    };
    LoadConfig {
        pace,
        run_time: scale.to_real(l.duration.get()),
        request_timeout: scale.to_real(l.request_timeout.get()),
        keep_alive: l.keep_alive,
        follow_redirects: l.follow_redirects.0,
        allow_remote: false,
        max_response_bytes: l.max_response_bytes.0,
        interval: real_interval,
        scale,
        seed: s.seed,
        progress,
        tap: None,
    }
}

/// The open model's pace at the scenario's arrival process, lateness bound and users for
/// `curve` (the scenario's, or a command's own, such as a plan's weekly wave).
pub fn open_pace(s: &Scenario, curve: RateCurve) -> Pace {
    let l = &s.load;
    Pace::Open {
        process: l.arrivals,
        users: open_users(curve.peak_per_second(), l.request_timeout.get(), l.max_users.get()),
        late: LateBound {
            late_after: l.late_after.map_or(DEFAULT_LATE_AFTER, |d| s.time_scale.to_real(d.get())),
            max_late_ratio: l.max_late.0,
        },
        curve,
    }
}

/// A send more than this late (real time) is late, unless the scenario says otherwise.
pub const DEFAULT_LATE_AFTER: Duration = Duration::from_millis(10);

/// Users for the open model: enough concurrent requests to carry the peak rate even if
/// every request took the whole timeout, at the 99.99th percentile of the Poisson
/// in-flight count, capped at `max_users` ([`load::sizing`]).
pub fn open_users(peak_per_s: f64, request_timeout: Duration, max_users: u32) -> usize {
    load::sizing::open_users(peak_per_s, request_timeout, max_users)
}

/// Real-time resolution below which scaled latencies are not trustworthy: tokio's timer
/// granularity (1 ms) dominates loopback overhead (~0.1 ms).
pub const REAL_FLOOR: Duration = Duration::from_millis(1);

/// A warning when the time scale pushes a latency objective near the real-time floor:
/// the floor, in simulated time, must stay under a tenth of the tightest threshold.
pub fn floor_warning(scale: TimeScale, slos: &[rules::Slo]) -> Option<String> {
    let floor_sim = scale.to_sim(REAL_FLOOR).as_secs_f64();
    let tightest = slos
        .iter()
        .filter(|o| o.objective.indicator.is_latency())
        .map(|o| o.objective.threshold)
        .fold(f64::INFINITY, f64::min);
    (tightest.is_finite() && floor_sim * 10.0 > tightest).then(|| {
        format!(
            "time scale {}x puts the 1 ms real-time floor at {:.0} ms simulated, more than a tenth of the tightest latency objective ({:.0} ms): latencies near it are not trustworthy; lower time_scale",
            scale.factor(),
            floor_sim * 1e3,
            tightest * 1e3
        )
    })
}

/// The line printed before the load starts: the command (`run`, `drill`), seed, time scale,
/// load model and length, and where each target is.
pub(crate) fn header(
    command: &str,
    name: &str,
    s: &Scenario,
    load: &Load,
    targets: &std::collections::BTreeMap<ServiceId, Resolved>,
) -> String {
    let config = &load.config;
    let model = match &config.pace {
        Pace::Open { users, curve, process, .. } => {
            format!(
                "open model, {process:?} arrivals peaking at {:.3} req/s, up to {users} users",
                curve.peak_per_second()
            )
        }
        pace => format!("closed model, {} users", pace.users()),
    };
    let mut h = format!(
        "gameday {command} `{name}`: seed {}, time scale {}x, {model} for {} simulated ({:.1}s real)",
        s.seed,
        s.time_scale.factor(),
        load.duration,
        config.run_time.as_secs_f64(),
    );
    for (id, t) in targets {
        let kind = if t.embedded { "embedded mock" } else { "external" };
        h.push_str(&format!("\n  {id}: {} ({kind})", crate::redact::scrub(&t.url)));
    }
    h
}

/// What a run measured, ready to be judged.
struct Measured {
    /// The load's outcome (its recording's intervals moved into `data`).
    outcome: load::LoadRun,
    /// What the rules read.
    data: RunData,
    /// Where each service was.
    resolved: std::collections::BTreeMap<ServiceId, Resolved>,
}

/// Judges a measured run: rules, validity, the results document.
/// Hands the run's data back with the results (a plan reads its live windows from it).
fn judge(
    s: &Scenario,
    rules: rules::RuleSet<'_>,
    scenario_file: &Path,
    mix: &Mix,
    config: &LoadConfig,
    m: Measured,
) -> (Results, RunData) {
    let Measured { outcome, data: owned, resolved } = m;
    let started_at = rfc3339(outcome.zero_at);
    let data = &owned;
    let rec = &outcome.recording;
    let rules = rules::judge(rules, data);
    let expected = match config.pace {
        Pace::Closed { ramp, .. } => ramp + config.run_time,
        Pace::Open { .. } => config.run_time,
    };
    let partial = outcome.wall + Duration::from_secs(1) < expected;
    let mut reasons: Vec<String> = rules.failures();
    let verdict = verdict(s, &outcome, expected, &mut reasons);
    let results = Results {
        schema_version: report::results::SCHEMA_VERSION,
        kind: report::results::ReportKind::Run,
        gameday_version: env!("CARGO_PKG_VERSION").to_owned(),
        scenario: s.name.clone(),
        scenario_file: scenario_file.display().to_string(),
        seed: s.seed,
        time_scale: s.time_scale.factor(),
        started_at,
        machine: report::results::Machine::current(),
        interval_s: data.step_s,
        wall_s: outcome.wall.as_secs_f64(),
        simulated_s: s.time_scale.to_sim(outcome.wall).as_secs_f64(),
        targets: resolved.into_iter().map(|(id, r)| (id.to_string(), r)).collect(),
        requests: mix
            .kinds
            .iter()
            .zip(&rec.total)
            .enumerate()
            .map(|(i, (k, st))| RequestSummary::new(&k.name, st, interval_summaries(data, i)))
            .collect(),
        slos: rules.slos,
        alerts: rules.alerts,
        triggers: rules.triggers,
        rule_step_s: rules.step_s,
        verdict,
        reasons,
        partial,
        generator: outcome.health,
        observation_problems: data.problems.clone(),
    };
    (results, owned)
}

/// The run's verdict, its first reason put first: nothing succeeded, the generator fell
/// behind, the load ended early (invalid, exit 3); a target stopped answering or a rule
/// failed (fail, exit 1); else pass.
fn verdict(s: &Scenario, outcome: &load::LoadRun, expected: Duration, reasons: &mut Vec<String>) -> RunVerdict {
    let rec = &outcome.recording;
    let all = rec.merged(None);
    let saturated = outcome.health.as_ref().filter(|h| h.saturated);
    // A target that stopped answering fails the run (exit 1); it is not a run that
    // measured nothing, nor a saturated generator (exit 3).
    let targets = s.load.requests.iter().map(|r| r.target.as_str()).zip(&rec.total);
    let unanswered = load::outage::judge(targets, outcome.health.as_ref(), s.load.request_timeout.get());
    let (first, verdict) = if all.ok() == 0 && unanswered.is_none() {
        let first = all.first_error.clone().unwrap_or_else(|| "no request was sent".into());
        (Some(format!("no request succeeded ({} sent); first error: {first}", all.total())), RunVerdict::Invalid)
    } else if let Some(h) = saturated {
        (Some(format!("invalid: {}", h.reason())), RunVerdict::Invalid)
    } else if outcome.wall + Duration::from_secs(1) < expected {
        let (ran_s, of_s) = (outcome.wall.as_secs_f64(), expected.as_secs_f64());
        (Some(format!("run interrupted after {ran_s:.1}s of {of_s:.1}s; results are partial")), RunVerdict::Invalid)
    } else if let Some(u) = &unanswered {
        (Some(u.reason()), RunVerdict::Fail)
    } else if reasons.is_empty() {
        (None, RunVerdict::Pass)
    } else {
        (None, RunVerdict::Fail)
    };
    if let Some(first) = first {
        reasons.insert(0, first);
    }
    verdict
}

/// Request kind `kind`'s per-interval summaries, in time order (intervals without one of
/// its requests left out).
fn interval_summaries(data: &RunData, kind: usize) -> Vec<report::results::IntervalSummary> {
    data.intervals
        .iter()
        .filter_map(|(i, kinds)| kinds.into_iter().nth(kind).filter(|k| k.total() > 0).map(|k| (i, k)))
        .map(|(i, k)| report::results::IntervalSummary::new(i as f64 * data.step_s, data.step_s, &k))
        .collect()
}

/// Now, as RFC 3339.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(std::time::SystemTime::now())
}

/// A wall-clock time as RFC 3339, UTC, with its fraction of a second.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
