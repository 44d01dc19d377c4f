//! The goose driver: users sending the mix, timed by us, recorded in HDR.
//!
//! goose owns the users and their HTTP clients. Two models:
//! - **open** ([`Pace::Open`]): goose starts enough users to carry the peak rate even
//!   if the target stops answering and every request takes the whole timeout (a high
//!   quantile of the Poisson in-flight count, up to `max_users`: [`super::sizing`]),
//!   each running one paced loop: take the next intended time from the
//!   shared [`Pacer`] (released at most `EARLY` before it), send at once, and record
//!   latency *from the intended time* plus how late the send was (the generator's
//!   health; a late slot that waited for a user the target held is told apart, see
//!   [`super::pacing`]). The loop ends with the schedule, so the run ends when the last
//!   scheduled request is answered;
//! - **closed** ([`Pace::Closed`]): goose's own plan (users, ramp, hold for the run
//!   time, think time); latency is measured from the send.
//!
//! gameday owns what goose does not get right for SLO work: a seeded request mix,
//! latency including the body read, errors counted by kind and kept in the latency
//! data (a timeout counts at its timeout), and per-user HDR histograms merged by one
//! collector. goose's own metrics are switched off: they would be a second, coarser
//! source of truth.

use std::sync::Arc;
use std::time::Duration;

use gameday_mocks::TimeScale;
use goose::config::GooseConfiguration;
use goose::goose::{GooseMethod, GooseRequest, GooseUser, Scenario as GooseScenario, Transaction, TransactionResult};
use goose::GooseAttack;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::arrival::{KindDraw, Process, RateCurve, Schedule};
use super::mix::{expand, Mix};
use super::pacing::{Health, Kept, LateBound, Pacer, Slot, StartBarrier, StartError, Started};
use super::progress::Progress;
use super::record::{Batch, Collector, Live, Outcome, Recording, UserRecorder};
use crate::clock::Clock;
use crate::scenario::Method;

/// How users pace their requests.
#[derive(Clone, Debug)]
pub enum Pace {
    /// Arrivals on a seeded schedule; latency from the intended send time.
    Open {
        /// The arrival rate over the run.
        curve: RateCurve,
        /// How arrivals are spaced.
        process: Process,
        /// Users (concurrent requests) to start.
        users: usize,
        /// When the generator counts as saturated.
        late: LateBound,
    },
    /// A fixed set of users in a send-wait-think loop.
    Closed {
        /// Concurrent users.
        users: usize,
        /// Time over which users start (real).
        ramp: Duration,
        /// Pause between a user's requests (real).
        think_time: Duration,
    },
}

impl Pace {
    /// Users goose starts.
    pub fn users(&self) -> usize {
        match self {
            Self::Open { users, .. } | Self::Closed { users, .. } => *users,
        }
    }
}

/// How to drive the load, in real time (the run converts from simulated time).
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Open or closed model.
    pub pace: Pace,
    /// How long the load runs after start-up (real).
    pub run_time: Duration,
    /// Client-side request timeout.
    pub request_timeout: Duration,
    /// Users keep their connections between requests (`load.keep_alive`).
    pub keep_alive: bool,
    /// Redirect hops a request follows, each only to a loopback host unless
    /// `allow_remote` (`load.follow_redirects`; see [`crate::http_guard`]).
    pub follow_redirects: u8,
    /// `--allow-remote`: a redirect may lead off loopback.
    pub allow_remote: bool,
    /// Largest response body read; a longer one is [`Outcome::BodyTooLarge`].
    pub max_response_bytes: u64,
    /// Length of a recording interval.
    pub interval: Duration,
    /// Simulated seconds per real second, applied to recorded latencies.
    pub scale: TimeScale,
    /// Seed of the users' RNGs and the arrival schedule.
    pub seed: u64,
    /// Show a progress line on the terminal.
    pub progress: bool,
    /// Where the collector also puts every interval while the load runs (drills read it).
    pub tap: Option<std::sync::Arc<dyn super::record::Sink>>,
}

/// What a load run produced.
#[derive(Debug)]
pub struct LoadRun {
    /// The merged recording.
    pub recording: Recording,
    /// Real time the load took (from the clock's start).
    pub wall: Duration,
    /// The wall-clock time of the clock's zero (simulated time 0 of every series).
    pub zero_at: std::time::SystemTime,
    /// Open model: how well the generator kept to the schedule.
    pub health: Option<Health>,
}

/// A user's session: its RNG, its recorder, its counters, the run it belongs to.
struct UserState {
    rng: StdRng,
    rec: UserRecorder,
    user: usize,
    seq: u64,
    started: Started,
    template: Arc<Template>,
}

/// What a clone of a user's session starts from (never another user's samples).
struct Template {
    kinds: usize,
    interval: Duration,
    tx: tokio::sync::mpsc::UnboundedSender<Batch>,
    seed: u64,
}

impl Template {
    fn state(self: &Arc<Self>, user: usize, started: Started) -> UserState {
        UserState {
            rng: StdRng::seed_from_u64(self.seed ^ (user as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            rec: UserRecorder::new(self.kinds, started.clock.started(), self.interval, self.tx.clone()),
            user,
            seq: 0,
            started,
            template: Arc::clone(self),
        }
    }
}

impl Clone for UserState {
    fn clone(&self) -> Self {
        self.template.state(self.user, self.started.clone())
    }
}

/// Why the load did not run to its end (the run failed: exit 3).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The task merging the users' recordings panicked or was cancelled.
    #[error("collector failed: {0}")]
    Collector(tokio::task::JoinError),
    /// The schedule never started.
    #[error("{0}")]
    Start(StartError),
    /// The load ran past every bound it could have stopped within.
    #[error("load did not stop within {bound:?}")]
    Stuck {
        /// The bound (real time).
        bound: Duration,
    },
    /// goose refused the configuration or failed the attack.
    #[error("goose: {0}")]
    Goose(goose::GooseError),
    /// The users' HTTP client could not be made.
    #[error("load client: {0}")]
    Client(crate::targets::ClientError),
}

impl LoadError {
    /// The exit code: the run failed.
    pub fn exit(&self) -> crate::Exit {
        crate::Exit::RunFailed
    }
}

/// Runs the load and returns the merged recording. `on_start` receives the run's clock
/// when the load starts (observers put their samples on the same clock).
pub async fn run(
    mix: Arc<Mix>,
    config: &LoadConfig,
    on_start: Option<oneshot::Sender<Clock>>,
) -> Result<LoadRun, LoadError> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (live_tx, live_rx) = tokio::sync::watch::channel(Live::default());
    let stop = CancellationToken::new();
    let collector = tokio::spawn(
        Collector::new(mix.kinds.len(), rx).with_live(live_tx).with_tap(config.tap.clone()).run(stop.clone()),
    );
    let barrier = Arc::new(barrier(config, mix.slot_kinds.clone()));
    let progress = config.progress.then(|| {
        let (barrier, config) = (Arc::clone(&barrier), config.clone());
        tokio::spawn(async move {
            let started = barrier.started().await.ok()?;
            Some(Progress::start(config.run_time, started.clock, started.pacer, live_rx))
        })
    });
    if let Some(tell) = on_start {
        let barrier = Arc::clone(&barrier);
        tokio::spawn(async move {
            if let Ok(started) = barrier.started().await {
                let _ = tell.send(started.clock);
            }
        });
    }
    let template = Arc::new(Template { kinds: mix.kinds.len(), interval: config.interval, tx, seed: config.seed });
    let attack = build_attack(Arc::clone(&mix), config, template, Arc::clone(&barrier))?;
    let launch = Duration::from_millis(5) * config.pace.users() as u32;
    let bound = barrier_patience(config) + launch + give_up(config) + config.request_timeout + Duration::from_secs(30);
    let executed = tokio::time::timeout(bound, attack.execute()).await;
    // Users flushed into the channel when goose dropped them; the collector drains it.
    stop.cancel();
    let recording = collector.await.map_err(LoadError::Collector)?;
    finish_progress(progress).await;
    let started = barrier.get().unwrap_or(Err(StartError::NoUser)).map_err(LoadError::Start)?;
    let wall = started.clock.started().elapsed();
    let zero_at = started.clock.zero_wall();
    let health = health(config, &recording, &started);
    match executed {
        Err(_) => Err(LoadError::Stuck { bound }),
        Ok(Err(e)) => Err(LoadError::Goose(e)),
        Ok(Ok(_)) => Ok(LoadRun { recording, wall, zero_at, health }),
    }
}

/// The start barrier: closed runs start at once; open runs when the first users are up.
fn barrier(config: &LoadConfig, kinds: KindDraw) -> StartBarrier {
    let scale = config.scale;
    match &config.pace {
        Pace::Closed { .. } => StartBarrier::already(Started { clock: Clock::start(scale), pacer: None }),
        Pace::Open { curve, process, users, late } => {
            let (curve, process, seed, users, late_after) =
                (curve.clone(), *process, config.seed, *users, late.late_after);
            let horizon = scale.to_sim(config.run_time);
            let give_up = give_up(config);
            StartBarrier::new(
                users.min(BARRIER_USERS),
                barrier_patience(config),
                Box::new(move || {
                    let clock = Clock::start(scale);
                    let schedule = Schedule::new(curve, process, seed, horizon);
                    let pacer = Pacer::start(schedule, kinds, clock, users * 4, give_up, late_after)
                        .map_err(|e| StartError::Pacing(Arc::new(e)))?;
                    Ok(Started { clock, pacer: Some(Arc::new(pacer)) })
                }),
            )
        }
    }
}

/// When a generator still behind its schedule gives up (real time from the start):
/// behind by more than a tenth of the run (at least 5 s), it stops and says so.
fn give_up(config: &LoadConfig) -> Duration {
    config.run_time + (config.run_time / 10).max(Duration::from_secs(5))
}

/// Users that must be up before the open-model schedule starts; goose launches the
/// rest (about one per millisecond) while the first ones already carry the load.
const BARRIER_USERS: usize = 32;

/// How long the open model waits for the first users before it starts anyway.
fn barrier_patience(config: &LoadConfig) -> Duration {
    Duration::from_secs(5) + Duration::from_millis(5) * config.pace.users().min(BARRIER_USERS) as u32
}

async fn finish_progress(progress: Option<tokio::task::JoinHandle<Option<Progress>>>) {
    let Some(task) = progress else { return };
    if task.is_finished() {
        if let Ok(Some(p)) = task.await {
            p.finish();
        }
    } else {
        task.abort();
    }
}

fn health(config: &LoadConfig, rec: &Recording, started: &Started) -> Option<Health> {
    let (Pace::Open { late, users, .. }, Some(pacer)) = (&config.pace, &started.pacer) else { return None };
    let clock = started.clock;
    let duration_sim_s = clock.to_sim(config.run_time).as_secs_f64();
    let sending_sim_s = clock.to_sim(pacer.sending_span()).as_secs_f64();
    let scheduled = if pacer.abandoned() {
        let (Pace::Open { curve, .. }, horizon) = (&config.pace, clock.to_sim(config.run_time)) else { return None };
        curve.expected_count(Duration::ZERO, horizon).round() as u64
    } else {
        pacer.issued()
    };
    let kept = Kept { scheduled, abandoned: pacer.abandoned(), held: pacer.held_count(), users: *users };
    Some(Health::judge(&rec.lag, *late, kept, duration_sim_s, sending_sim_s))
}

fn build_attack(
    mix: Arc<Mix>,
    config: &LoadConfig,
    template: Arc<Template>,
    barrier: Arc<StartBarrier>,
) -> Result<GooseAttack, LoadError> {
    let host = mix.kinds.first().map(|k| k.url.clone()).unwrap_or_default();
    // One client for every user, built once: goose's default builds one per user
    // (loading the system's root certificates each time, a few percent of a fast run's
    // CPU in `perf`, spent while the first users already carry the schedule). goose's
    // shared strategy stops that; each user then takes gameday's client (its CAs, its
    // keep-alive setting), whose connection pool they share.
    let shared = goose::client::GooseClientBuilder::new().without_cookies().timeout(config.request_timeout);
    let attack = GooseAttack::initialize_with_config(configuration(config, host))
        .and_then(|a| a.set_client_builder_without_cookies(shared))
        .map_err(LoadError::Goose)?;
    let timeout = config.request_timeout;
    let client = UserClient {
        cas: mix.trusted_cas.clone(),
        timeout,
        keep_alive: config.keep_alive,
        redirects: crate::http_guard::guarded_redirects(config.follow_redirects, config.allow_remote),
        idle_per_host: idle_connections(&config.pace),
    }
    .client()
    .map_err(LoadError::Client)?;
    let on_start = Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let (template, barrier, client) = (Arc::clone(&template), Arc::clone(&barrier), client.clone());
        Box::pin(async move {
            user.client = client;
            if let Ok(started) = barrier.arrive().await {
                user.set_session_data(template.state(user.weighted_users_index, started));
            }
            Ok(())
        })
    }))
    .set_on_start();
    let max_body = config.max_response_bytes;
    let send = Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let mix = Arc::clone(&mix);
        Box::pin(async move { send_transaction(user, &mix, Limits { timeout, max_body }).await })
    }))
    .set_name("mix");
    let mut scenario = GooseScenario::new("gameday").register_transaction(on_start).register_transaction(send);
    if let Pace::Closed { think_time, .. } = config.pace {
        if !think_time.is_zero() {
            scenario = scenario.set_wait_time(think_time, think_time).map_err(LoadError::Goose)?;
        }
    }
    Ok(attack.register_scenario(scenario))
}

/// The one HTTP client every user shares: its timeout, trusted CAs, keep-alive and
/// redirect policy.
struct UserClient {
    /// CA certificates trusted besides the system roots.
    cas: Vec<String>,
    timeout: Duration,
    keep_alive: bool,
    redirects: reqwest::redirect::Policy,
    /// Most idle connections kept per host (see [`idle_connections`]).
    idle_per_host: usize,
}

/// How long an idle connection is kept: past a latency spike, the extra connections it
/// opened are closed within this, so memory returns to the steady state's.
const POOL_IDLE: Duration = Duration::from_secs(5);

impl UserClient {
    fn client(self) -> Result<reqwest::Client, crate::targets::ClientError> {
        let idle = if self.keep_alive { self.idle_per_host } else { 0 };
        // With keep-alive off no idle connection is kept, so every request opens (and
        // verifies) a new one.
        let builder = reqwest::Client::builder()
            .user_agent(concat!("gameday/", env!("CARGO_PKG_VERSION")))
            .timeout(self.timeout)
            .redirect(self.redirects)
            .pool_max_idle_per_host(idle)
            .pool_idle_timeout(POOL_IDLE);
        crate::targets::client(builder, self.cas.iter().map(String::as_str))
    }
}

/// Idle connections kept per host: one per user (each user has at most one request in
/// flight), at most 256; a spike that opens more closes the rest as they fall idle.
fn idle_connections(pace: &Pace) -> usize {
    pace.users().clamp(1, 256)
}

/// What bounds one request: its timeout and the largest body read.
#[derive(Clone, Copy, Debug)]
struct Limits {
    timeout: Duration,
    max_body: u64,
}

/// The one transaction: the paced loop (open model) or one request (closed).
async fn send_transaction(user: &mut GooseUser, mix: &Mix, limits: Limits) -> TransactionResult {
    let Some(started) = user.get_session_data::<UserState>().map(|s| s.started.clone()) else { return Ok(()) };
    match started.pacer {
        Some(pacer) => paced_loop(user, mix, &pacer, started.clock, limits.max_body).await,
        None => send_and_record(user, mix, started.clock, limits).await,
    }
}

fn configuration(config: &LoadConfig, host: String) -> GooseConfiguration {
    let mut c = GooseConfiguration::default();
    c.host = Some(host);
    c.users = Some(config.pace.users());
    match config.pace {
        Pace::Open { .. } => {
            // As fast as goose launches users; every user runs one paced loop that ends
            // with the schedule, and the barrier starts the clock once the first are up.
            c.increase_rate = Some("1000000".into());
            c.iterations = Some(1);
        }
        Pace::Closed { users, ramp, .. } => {
            let ramp_s = ramp.as_secs_f64().max(0.001);
            c.increase_rate = Some(format!("{:.3}", users as f64 / ramp_s));
            c.run_time = Some(config.run_time.as_secs().max(1).to_string());
        }
    }
    c.timeout = Some(format!("{:.3}", config.request_timeout.as_secs_f64()));
    c.no_metrics = true;
    c.no_print_metrics = true;
    c.no_error_summary = true;
    c.no_telnet = true;
    c.no_websocket = true;
    c.quiet = 1;
    c
}

fn goose_method(m: Method) -> GooseMethod {
    match m {
        Method::Get => GooseMethod::Get,
        Method::Post => GooseMethod::Post,
        Method::Put => GooseMethod::Put,
        Method::Delete => GooseMethod::Delete,
    }
}

/// Closed model: sends one request of the mix and records its latency from the send.
async fn send_and_record(user: &mut GooseUser, mix: &Mix, clock: Clock, limits: Limits) -> TransactionResult {
    let timeout_us = sim_micros(clock.to_sim(limits.timeout));
    let started = Instant::now();
    let Some(sent) = send_one(user, mix, None, limits.max_body).await else { return Ok(()) };
    let latency_us = match sent.outcome {
        Outcome::Timeout => timeout_us,
        _ => sim_micros(clock.to_sim(sent.ended - started)),
    };
    if let Some(state) = user.get_session_data_mut::<UserState>() {
        let err = sent.error.as_ref().map(|e| e as &dyn std::fmt::Display);
        state.rec.record(sent.ended, sent.kind, latency_us, sent.outcome, err);
    }
    Ok(())
}

/// Open model: one user's loop over the shared schedule until it ends (or Ctrl-C).
async fn paced_loop(user: &mut GooseUser, mix: &Mix, pacer: &Pacer, clock: Clock, max_body: u64) -> TransactionResult {
    // When this user's previous request gave up at its timeout (the target held it).
    let mut timed_out_at: Option<Instant> = None;
    while let Some(Slot { at: intended, kind }) = pacer.next().await {
        if goose::is_killswitch_triggered() {
            break;
        }
        // Slots come up to `EARLY` before their time and go out at once (see `EARLY`).
        let now = Instant::now();
        pacer.sent(now);
        let lag = now.saturating_duration_since(intended);
        if timed_out_at.is_some_and(|t| intended < t) {
            // Due while this user still waited on the target: see `pacing`'s module doc.
            pacer.held(lag);
        }
        let Some(sent) = send_one(user, mix, Some(kind), max_body).await else { break };
        timed_out_at = (sent.outcome == Outcome::Timeout).then_some(sent.ended);
        // Latency from the intended send time: a stalled server's backlog counts (from
        // the actual send when that was earlier).
        let latency_us = sim_micros(clock.to_sim(sent.ended - intended.min(now)));
        if let Some(state) = user.get_session_data_mut::<UserState>() {
            let err = sent.error.as_ref().map(|e| e as &dyn std::fmt::Display);
            state.rec.record_lag(lag);
            state.rec.record(sent.ended, sent.kind, latency_us, sent.outcome, err);
        }
    }
    Ok(())
}

/// One answered (or failed) request.
struct Sent {
    kind: usize,
    outcome: Outcome,
    error: Option<String>,
    ended: Instant,
}

/// Sends `kind` (open model: the slot's) or a kind the user picks from the mix (closed
/// model), with its templates expanded, and reads the answer (at most `max_body` bytes).
async fn send_one(user: &mut GooseUser, mix: &Mix, kind: Option<usize>, max_body: u64) -> Option<Sent> {
    let state = user.get_session_data_mut::<UserState>()?;
    let k = kind.unwrap_or_else(|| mix.pick(&mut state.rng));
    state.seq += 1;
    let kind = mix.kinds.get(k)?;
    let (n, seq) = (state.user, state.seq);
    let url = expand(&kind.url, &mut state.rng, n, seq);
    let body = kind.body.as_ref().map(|t| expand(t, &mut state.rng, n, seq));
    let headers: Vec<(String, String)> =
        kind.headers.iter().map(|(h, v)| (h.clone(), expand(v, &mut state.rng, n, seq))).collect();
    let method = goose_method(kind.method);
    let (outcome, error) = match user.get_request_builder(&method, &url) {
        Ok(mut rb) => {
            if let Some(b) = body {
                rb = rb.body(b);
            }
            for (h, v) in headers {
                rb = rb.header(h, v);
            }
            let req = GooseRequest::builder()
                .method(method)
                .path(url.as_str())
                .name(kind.name.as_str())
                .set_request_builder(rb)
                .build();
            match user.request(req).await {
                Ok(r) => match r.response {
                    Ok(resp) => read_answer(resp, max_body).await,
                    Err(e) => classify(&e),
                },
                Err(e) => (Outcome::Other, Some(e.to_string())),
            }
        }
        Err(e) => (Outcome::Other, Some(e.to_string())),
    };
    Some(Sent { kind: k, outcome, error, ended: Instant::now() })
}

/// A simulated duration in whole microseconds, the unit the histograms record.
fn sim_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Reads the body as a stream (latency ends at the last byte) and classifies the status;
/// past `max_body` bytes it stops reading and drops the connection ([`Outcome::BodyTooLarge`],
/// its latency up to that point). A 3xx here is one the redirect policy did not follow.
async fn read_answer(resp: reqwest::Response, max_body: u64) -> (Outcome, Option<String>) {
    let status = resp.status().as_u16();
    let location =
        resp.headers().get(reqwest::header::LOCATION).map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
    match crate::http_guard::read_capped(resp, max_body).await {
        Ok(body) => {
            let outcome = Outcome::of_status(status);
            let error = (outcome != Outcome::Ok).then(|| match (outcome, location) {
                (Outcome::Redirect, Some(to)) => {
                    format!("HTTP {status} to {to}: not followed (load.follow_redirects, loopback guard)")
                }
                _ => {
                    let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                    format!("HTTP {status}: {text}")
                }
            });
            (outcome, error)
        }
        Err(e @ crate::http_guard::BodyError::TooLarge { .. }) => {
            (Outcome::BodyTooLarge, Some(format!("HTTP {status}: {e}")))
        }
        Err(crate::http_guard::BodyError::Read(e)) => classify(&e),
    }
}

fn classify(e: &reqwest::Error) -> (Outcome, Option<String>) {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    let outcome = if e.is_timeout() {
        Outcome::Timeout
    } else if e.is_connect() {
        Outcome::Connect
    } else {
        Outcome::Other
    };
    (outcome, Some(msg))
}
