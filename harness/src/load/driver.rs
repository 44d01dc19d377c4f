//! The goose driver: closed-model users sending the mix, timed by us, recorded in HDR.
//!
//! goose owns the users (start-up ramp, run time, think time, the HTTP client); gameday
//! owns what goose does not get right for SLO work: a seeded request mix, latency
//! including the body read, errors counted by kind and kept in the latency data (a
//! timeout counts at its timeout), and per-user HDR histograms merged by one collector.
//! goose's own metrics are switched off: they would be a second, coarser source of truth.

use std::sync::Arc;
use std::time::Duration;

use gameday_mocks::TimeScale;
use goose::config::GooseConfiguration;
use goose::goose::{GooseMethod, GooseRequest, GooseUser, Scenario as GooseScenario, Transaction, TransactionResult};
use goose::GooseAttack;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::mix::{expand, Mix};
use super::record::{Batch, Collector, Outcome, Recording, UserRecorder};
use crate::clock::Clock;
use crate::scenario::Method;
use crate::Error;

/// How to drive the load, in real time (the run converts from simulated time).
#[derive(Clone, Debug)]
pub struct Plan {
    /// Concurrent users.
    pub users: usize,
    /// Time over which users start.
    pub ramp: Duration,
    /// How long the load runs after start-up.
    pub run_time: Duration,
    /// Pause between a user's requests.
    pub think_time: Duration,
    /// Client-side request timeout.
    pub request_timeout: Duration,
    /// Length of a recording interval.
    pub interval: Duration,
    /// Simulated seconds per real second, applied to recorded latencies.
    pub scale: TimeScale,
    /// Seed of the users' RNGs.
    pub seed: u64,
}

/// What a load run produced.
#[derive(Debug)]
pub struct Outcomes {
    /// The merged recording.
    pub recording: Recording,
    /// Real time the load took.
    pub wall: Duration,
}

/// A user's session: its RNG, its recorder, its counters.
struct UserState {
    rng: StdRng,
    rec: UserRecorder,
    user: usize,
    seq: u64,
    template: Arc<Template>,
}

/// What a clone of a user's session starts from (never another user's samples).
struct Template {
    kinds: usize,
    clock: Clock,
    interval: Duration,
    tx: tokio::sync::mpsc::UnboundedSender<Batch>,
    seed: u64,
}

impl Template {
    fn state(self: &Arc<Self>, user: usize) -> UserState {
        UserState {
            rng: StdRng::seed_from_u64(self.seed ^ (user as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            rec: UserRecorder::new(self.kinds, self.clock.started(), self.interval, self.tx.clone()),
            user,
            seq: 0,
            template: Arc::clone(self),
        }
    }
}

impl Clone for UserState {
    fn clone(&self) -> Self {
        self.template.state(self.user)
    }
}

/// Runs the load and returns the merged recording.
pub async fn run(mix: Arc<Mix>, plan: &Plan) -> Result<Outcomes, Error> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let collector = tokio::spawn(Collector::new(mix.kinds.len(), rx).run(stop.clone()));
    let clock = Clock::start(plan.scale);
    let template = Arc::new(Template { kinds: mix.kinds.len(), clock, interval: plan.interval, tx, seed: plan.seed });
    let attack = build_attack(Arc::clone(&mix), plan, template)?;
    let bound = plan.ramp + plan.run_time + plan.request_timeout + Duration::from_secs(30);
    let executed = tokio::time::timeout(bound, attack.execute()).await;
    let wall = clock.started().elapsed();
    // Users flushed into the channel when goose dropped them; the collector drains it.
    stop.cancel();
    let recording = collector.await.map_err(|e| Error::RunFailed(format!("collector failed: {e}")))?;
    match executed {
        Err(_) => Err(Error::RunFailed(format!("load did not stop within {bound:?}"))),
        Ok(Err(e)) => Err(Error::RunFailed(format!("goose: {e}"))),
        Ok(Ok(_)) => Ok(Outcomes { recording, wall }),
    }
}

fn build_attack(mix: Arc<Mix>, plan: &Plan, template: Arc<Template>) -> Result<GooseAttack, Error> {
    let goose_err = |e: goose::GooseError| Error::RunFailed(format!("goose: {e}"));
    let host = mix.kinds.first().map(|k| k.url.clone()).unwrap_or_default();
    let attack = GooseAttack::initialize_with_config(configuration(plan, host)).map_err(goose_err)?;
    let clock = template.clock;
    let timeout_us = sim_micros(clock.to_sim(plan.request_timeout));
    let on_start = Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let state = template.state(user.weighted_users_index);
        Box::pin(async move {
            user.set_session_data(state);
            Ok(())
        })
    }))
    .set_on_start();
    let send = Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let mix = Arc::clone(&mix);
        Box::pin(async move { send_one(user, &mix, clock, timeout_us).await })
    }))
    .set_name("mix");
    let mut scenario = GooseScenario::new("gameday").register_transaction(on_start).register_transaction(send);
    if !plan.think_time.is_zero() {
        scenario = scenario.set_wait_time(plan.think_time, plan.think_time).map_err(goose_err)?;
    }
    Ok(attack.register_scenario(scenario))
}

fn configuration(plan: &Plan, host: String) -> GooseConfiguration {
    let mut c = GooseConfiguration::default();
    c.host = Some(host);
    c.users = Some(plan.users);
    let ramp_s = plan.ramp.as_secs_f64().max(0.001);
    c.increase_rate = Some(format!("{:.3}", plan.users as f64 / ramp_s));
    c.run_time = Some(plan.run_time.as_secs().max(1).to_string());
    c.timeout = Some(format!("{:.3}", plan.request_timeout.as_secs_f64()));
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

/// Sends one request of the mix and records it.
async fn send_one(user: &mut GooseUser, mix: &Mix, clock: Clock, timeout_us: u64) -> TransactionResult {
    let Some(state) = user.get_session_data_mut::<UserState>() else { return Ok(()) };
    let k = mix.pick(&mut state.rng);
    state.seq += 1;
    let Some(kind) = mix.kinds.get(k) else { return Ok(()) };
    let (n, seq) = (state.user, state.seq);
    let url = expand(&kind.url, &mut state.rng, n, seq);
    let body = kind.body.as_ref().map(|t| expand(t, &mut state.rng, n, seq));
    let headers: Vec<(String, String)> =
        kind.headers.iter().map(|(h, v)| (h.clone(), expand(v, &mut state.rng, n, seq))).collect();
    let method = goose_method(kind.method);
    let mut rb = user.get_request_builder(&method, &url)?;
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
    let started = Instant::now();
    let (outcome, error) = match user.request(req).await {
        Ok(r) => match r.response {
            Ok(resp) => read_answer(resp).await,
            Err(e) => classify(&e),
        },
        Err(e) => (Outcome::Other, Some(e.to_string())),
    };
    let ended = Instant::now();
    let latency_us = match outcome {
        Outcome::Timeout => timeout_us,
        _ => sim_micros(clock.to_sim(ended - started)),
    };
    if let Some(state) = user.get_session_data_mut::<UserState>() {
        let err = error.as_ref().map(|e| e as &dyn std::fmt::Display);
        state.rec.record(ended, k, latency_us, outcome, err);
    }
    Ok(())
}

/// A simulated duration in whole microseconds, the unit the histograms record.
fn sim_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Reads the whole body (latency ends at the last byte) and classifies the status.
async fn read_answer(resp: reqwest::Response) -> (Outcome, Option<String>) {
    let status = resp.status().as_u16();
    match resp.bytes().await {
        Ok(body) => {
            let outcome = Outcome::of_status(status);
            let error = (outcome != Outcome::Ok).then(|| {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                format!("HTTP {status}: {text}")
            });
            (outcome, error)
        }
        Err(e) => classify(&e),
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
