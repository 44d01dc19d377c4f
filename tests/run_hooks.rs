//! The run pipeline's hooks (`gameday::run::Hooks`), driven in-process against the
//! embedded Midnight mock over real HTTP: a command that plugs in sees the seams in the
//! documented order, its per-interval tap sees exactly the requests the results count,
//! and its load and rules replace the scenario's.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gameday::clock::Clock;
use gameday::observe::{RunData, Tap};
use gameday::report::{Results, RunVerdict};
use gameday::rules::RuleSet;
use gameday::run::{self, Before, Ending, Hooks, Load, Plain, RunOptions, Settings};
use gameday::scenario::Scenario;
use tokio::sync::watch;

use crate::common::{heavy, write};

/// 40 attestations a second for 4 s, with an SLO the mock cannot meet (p50 under 1 ms; its attestations take about 20 ms).
fn scenario(dir: &Path) -> std::path::PathBuf {
    write(
        dir,
        "hooks.toml",
        r#"
name = "hooks"
seed = 7

[load]
rate = "40/s"
duration = "4s"
request_timeout = "5s"
max_late = "20%"

[[load.request]]
name = "attestation"
target = "midnight"
method = "POST"
path = "/attestation"
body = '{"nonce":"{{nonce}}"}'

[[slo]]
name = "impossible"
request = "attestation"
objective = "p50 < 1ms"
"#,
    )
}

/// A command that records which seam it was called at, taps every interval, runs the
/// load for `run_for` instead of the scenario's 4 s, and judges no rule.
struct Recorder {
    calls: Arc<Mutex<Vec<&'static str>>>,
    tap: Tap,
    clock: Option<watch::Receiver<Option<Clock>>>,
    clock_at_before: Option<bool>,
    run_for: Duration,
}

impl Recorder {
    fn note(&self, what: &'static str) {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).push(what);
    }
}

/// What [`Recorder`] hands back as its section.
struct Seen {
    clock_at_before: Option<bool>,
    clock_after: bool,
    tapped: Vec<u64>,
    ending: Ending,
}

impl Hooks for Recorder {
    type Section = Seen;

    fn load(&self, s: &Scenario, default: Load) -> Load {
        self.note("load");
        let mut config = default.config;
        config.run_time = s.time_scale.to_real(self.run_for);
        Load { config, duration: gameday_mocks::kit::HumanDuration(self.run_for) }
    }

    fn rules<'s>(&self, s: &'s Scenario) -> RuleSet<'s> {
        RuleSet { slos: &[], ..s.rules() }
    }

    fn tap(&self) -> Option<Tap> {
        Some(self.tap.clone())
    }

    fn before(&mut self, before: Before<'_>) {
        self.note("before");
        self.clock_at_before = Some(before.clock.borrow().is_some());
        self.clock = Some(before.clock);
    }

    async fn after(&mut self, _ending: Ending) -> Vec<gameday::observe::Series> {
        self.note("after");
        Vec::new()
    }

    fn finish(self, results: &mut Results, _data: &RunData, ending: Ending) -> Seen {
        self.note("finish");
        let recording = self.tap.recording(results.requests.len());
        Seen {
            clock_at_before: self.clock_at_before,
            clock_after: self.clock.is_some_and(|c| c.borrow().is_some()),
            tapped: recording.total.iter().map(|k| k.total()).collect(),
            ending,
        }
    }
}

fn settings(file: &Path, out: &Path) -> (Settings, RunOptions) {
    let opts = RunOptions { scenario: file.into(), out: Some(out.into()), quiet: true, ..RunOptions::default() };
    (Settings::resolve(&opts).expect("the scenario resolves"), opts)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn a_command_sees_the_seams_in_order_taps_every_request_and_replaces_load_and_rules() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path());
    let rt = runtime();

    // The plain run: the scenario's own 4 s and its impossible SLO.
    let (plain, opts) = settings(&file, &dir.path().join("plain"));
    let ran = rt.block_on(run::execute_with(&plain, &opts, Plain, std::future::pending())).expect("runs");
    assert_eq!(ran.results.verdict, RunVerdict::Fail, "{:?}", ran.results.reasons);
    assert_eq!(ran.results.slos.len(), 1);
    assert!((ran.data.duration_s - 4.0).abs() < 1e-9, "{}", ran.data.duration_s);

    // The same scenario with a command plugged in.
    let calls = Arc::new(Mutex::new(Vec::new()));
    let hooks = Recorder {
        calls: Arc::clone(&calls),
        tap: Tap::new(),
        clock: None,
        clock_at_before: None,
        run_for: Duration::from_secs(2),
    };
    let (hooked, opts) = settings(&file, &dir.path().join("hooked"));
    let ran = rt.block_on(run::execute_with(&hooked, &opts, hooks, std::future::pending())).expect("runs");
    let calls = calls.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(calls, ["load", "before", "after", "finish"]);

    let seen = &ran.section;
    // `before` runs before the load's clock starts; the clock it was handed starts later.
    assert_eq!(seen.clock_at_before, Some(false));
    assert!(seen.clock_after, "the clock never reached the hook");
    // The per-interval tap saw every request the results count, kind by kind.
    let counted: Vec<u64> = ran.results.requests.iter().map(|r| r.count).collect();
    assert!(counted[0] > 40, "too few requests to mean anything: {counted:?}");
    assert_eq!(seen.tapped, counted);
    // The hook's load: 2 s of 40/s, not the scenario's 4 s; and no rule was judged.
    assert!((ran.data.duration_s - 2.0).abs() < 1e-9, "{}", ran.data.duration_s);
    assert!(ran.results.wall_s < 3.5, "the load ran {} s", ran.results.wall_s);
    assert!(ran.results.slos.is_empty(), "{:?}", ran.results.slos);
    assert_eq!(ran.results.verdict, RunVerdict::Pass, "{:?}", ran.results.reasons);
    assert!(!seen.ending.interrupted && !seen.ending.cut_short && !seen.ending.partial, "{:?}", seen.ending);
}
