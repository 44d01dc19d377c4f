//! The seams where a command plugs into `gameday run`'s pipeline instead of rebuilding it.
//!
//! [`super::execute_with`] is the one pipeline: refuse what can be refused, start the
//! targets, run the load with scraping and probes, judge, and hand back the results with
//! the command's own section. A command changes it only through [`Hooks`]:
//!
//! | when | hook | `run`, `gate` | `drill` | `plan` (a live window) |
//! |---|---|---|---|---|
//! | before anything starts | [`Hooks::preflight`] | the run's checks | drill targets too | the run's |
//! | targets | [`Hooks::start`] | mocks or URLs | with fault hooks | the mock at a size |
//! | the load | [`Hooks::load`] | the scenario's | the scenario's | the week's wave |
//! | the rules | [`Hooks::rules`] | the scenario's | the scenario's | none |
//! | before the load | [`Hooks::before`] | - | drills wait for the clock | - |
//! | each interval | [`Hooks::tap`] | - | the drills' live tap | - |
//! | on Ctrl-C | [`Hooks::interrupted`] | wait for the load | roll back at once | wait |
//! | after the load | [`Hooks::after`] | - | rollback, drill probes | - |
//! | the run's name | [`Hooks::name`] | the scenario's | the scenario's | the window's |
//! | after judging | [`Hooks::finish`] | no section | the drills' reports | - |
//!
//! Every hook has the plain run's behaviour as its default, so [`Plain`] is empty.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use gameday_mocks::kit::HumanDuration;
use gameday_mocks::{MockContext, ServiceId};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::load::{LoadConfig, Mix, Recording};
use crate::observe::{self, RunData, ScrapeTarget, Series};
use crate::probe;
use crate::report::Results;
use crate::rules::RuleSet;
use crate::scenario::Scenario;
use crate::targets::Resolved;
use crate::Error;

use super::{MockRuntime, RunOptions};

/// Every service a run uses, with its URL (remote) or `None` (embedded mock).
pub type Urls = BTreeMap<ServiceId, Option<String>>;

/// A future the pipeline runs on the mocks' runtime once the run is over.
pub type Join = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The targets a run started, as the pipeline needs them.
pub struct Started {
    /// Where each service is.
    pub resolved: BTreeMap<ServiceId, Resolved>,
    /// What the observer scrapes.
    pub scrape: Vec<ScrapeTarget>,
    /// The scenario's `[[probe]]`s against these targets.
    pub probes: Vec<probe::Scheduled>,
    /// Stops and joins what was started (after the run's shutdown signal).
    pub join: Join,
}

/// The load a run sends: its configuration in real time and its length, simulated.
#[derive(Clone, Debug)]
pub struct Load {
    /// The load's configuration (real time).
    pub config: LoadConfig,
    /// How long the load runs after its ramp, simulated (the scenario's `load.duration`).
    pub duration: HumanDuration,
}

/// What a hook sees just before the load starts.
pub struct Before<'a> {
    /// The request mix.
    pub mix: &'a Arc<Mix>,
    /// Length of a recording interval, simulated seconds.
    pub step_s: f64,
    /// The load's clock, once it starts (`None` until then).
    pub clock: watch::Receiver<Option<Clock>>,
}

/// How the load ended, for the hooks that run after it.
#[derive(Clone, Copy, Debug)]
pub struct Ending {
    /// Ctrl-C or SIGTERM.
    pub interrupted: bool,
    /// Interrupted, or the load ended before its length.
    pub cut_short: bool,
    /// The load's own outcome was not awaited (a hook handed back the recording).
    pub partial: bool,
}

/// How a command plugs into the run pipeline. Every method defaults to `gameday run`'s
/// own behaviour.
pub trait Hooks {
    /// The command's section of `results.json` (`()` for none).
    type Section;

    /// Everything refused before anything starts; returns every used service's URL.
    fn preflight(&self, s: &Scenario, opts: &RunOptions) -> Result<Urls, Error> {
        super::preflight(s, &opts.targets, opts.allow_remote)
    }

    /// Starts the targets on the mocks' runtime.
    fn start(
        &mut self,
        s: &Arc<Scenario>,
        urls: Urls,
        ctx: &MockContext,
        mocks: &MockRuntime,
        allow_remote: bool,
    ) -> impl Future<Output = Result<Started, Error>> {
        super::start_targets(s, &s.targets, urls, ctx, mocks, allow_remote)
    }

    /// The command's name in the header line (`gameday run ...`).
    fn command(&self) -> &'static str {
        "run"
    }

    /// What the header line and `results.json` call the run; default the scenario's name.
    fn name<'s>(&'s self, s: &'s Scenario) -> &'s str {
        &s.name
    }

    /// The load to send; `default` is the scenario's.
    fn load(&self, _s: &Scenario, default: Load) -> Load {
        default
    }

    /// The rules the run is judged by.
    fn rules<'s>(&self, s: &'s Scenario) -> RuleSet<'s> {
        s.rules()
    }

    /// What receives every interval of the load and every scrape as they happen.
    fn tap(&self) -> Option<observe::Tap> {
        None
    }

    /// Just before the load starts.
    fn before(&mut self, _before: Before<'_>) {}

    /// On Ctrl-C or SIGTERM (also when the load saw it first and stopped). Returns whether
    /// to keep waiting for the load to stop (its outcome is the partial result); if not,
    /// the partial result is [`Hooks::recording`].
    fn interrupted(&mut self) -> impl Future<Output = bool> {
        async { true }
    }

    /// The load's recording so far, when [`Hooks::interrupted`] did not wait for it.
    fn recording(&self, _kinds: usize) -> Recording {
        Recording::default()
    }

    /// After the load, before the scraper stops; returns series to add to the scraped ones.
    fn after(&mut self, _ending: Ending) -> impl Future<Output = Vec<Series>> {
        async { Vec::new() }
    }

    /// After judging: the command's section, and any change to the run's results.
    fn finish(self, results: &mut Results, data: &RunData, ending: Ending) -> Self::Section;
}

/// `gameday run` (and `gate`'s run): every default, no section.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

impl Hooks for Plain {
    type Section = ();

    fn finish(self, _results: &mut Results, _data: &RunData, _ending: Ending) {}
}

/// A load's length after its ramp, simulated, as a [`Load`] for the scenario's own load.
pub(crate) fn scenario_load(s: &Scenario, config: LoadConfig) -> Load {
    Load { config, duration: s.load.duration.0 }
}

/// How long a load runs, simulated (a closed model's ramp included).
pub(crate) fn span(s: &Scenario, load: &Load) -> Duration {
    match load.config.pace {
        crate::load::Pace::Closed { .. } => s.load.ramp.get() + load.duration.get(),
        crate::load::Pace::Open { .. } => load.duration.get(),
    }
}
