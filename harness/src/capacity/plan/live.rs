//! Live replay: one week's peak hour of the growth curve against the embedded mock,
//! time-compressed with the scenario's `time_scale`, measured like any `gameday run`.
//!
//! The window is the peak hour preceded by a warm-up (`[plan] warmup`, default 15m) on
//! the same daily wave, so the pool meets the peak as warm as in the simulation; only
//! the hour itself is measured. Spikes are not replayed live (the simulator has them).
//! A window the generator cannot drive is reported as not measured, never as a result.
//!
//! # The twin
//! One peak hour holds few slow requests (about 60 Midnight proofs in week 1), so its
//! p95 is a noisy sample: another hour of the same week differs by more than 10% by
//! chance alone. Comparing the live hour with the simulated week would mix that chance
//! with model error. So each measured window gets a *twin*: the simulator run on exactly
//! the sample the live window sent (common random numbers). The same schedule (curve,
//! process and seed), the same request kind per arrival ([`KindDraw`], as the pacer
//! draws them) and, for mocks whose kinds draw service times from streams of their own
//! (Midnight's `midnight/<kind>`, PXL's `pxl/proof`), the same service time per request.
//! Live minus twin is then what the model leaves out (HTTP, scheduling, the meter), and
//! twin minus the week's peak hours is the hour's luck. Grahmos, MorphSave and Scribe
//! draw from a stream shared with other work, so their twins agree in distribution only.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use gameday_mocks::kit::HumanDuration;
use gameday_mocks::TimeScale;

use crate::capacity::growth::Growth;
use crate::capacity::sim::{simulate, SimOptions};
use crate::capacity::tally::Window;
use crate::load::arrival::{kinds_seed, Diurnal, DiurnalMean, KindDraw, Rate, RateCurve, Schedule, DAY};
use crate::observe::RunData;
use crate::report::RunVerdict;
use crate::rules::RuleSet;
use crate::run::{self, RunOptions, Settings};
use crate::scenario::Scenario;

use super::model::Service;
use super::weeks::Figures;
use super::{PlanError, PlanSpec};

/// One live window's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveWeek {
    /// The week (1-based).
    pub week: u32,
    /// Workers the mock ran with.
    pub size: usize,
    /// Figures over the peak hour, when the window was measured.
    pub figures: Option<Figures>,
    /// The simulator on the same sample (see the module docs), when measured.
    pub twin: Option<Figures>,
    /// Why it was not measured (generator saturated, run failed), when it was not.
    pub not_measured: Option<String>,
    /// Where the window's `results.json` is.
    pub results_dir: String,
}

/// Real latency below which loopback and scheduling overhead (about 0.1 to 1 ms on a busy
/// 2-core machine) is no longer small against what the live window measures.
pub const LOOPBACK_FLOOR: Duration = Duration::from_millis(5);

/// A warning when `time_scale` compresses a typical request (the simulated peak hour's
/// p50, `p50_s` simulated seconds) to near the loopback floor in real time.
pub fn floor_warning(p50_s: f64, time_scale: TimeScale) -> Option<String> {
    let real_s = p50_s / time_scale.factor();
    (real_s.is_finite() && real_s > 0.0 && real_s < LOOPBACK_FLOOR.as_secs_f64()).then(|| {
        format!(
            "time_scale {} compresses the p50 of {:.1} ms to {:.2} ms real, near the loopback floor ({} ms): \
             the live window's latency will carry the harness's own overhead; lower `plan.live_time_scale`",
            time_scale.factor(),
            p50_s * 1000.0,
            real_s * 1000.0,
            LOOPBACK_FLOOR.as_millis()
        )
    })
}

/// Replays week `week`'s peak hour at `size` workers; results under `out`.
/// The run's own pipeline ([`run::execute_with`]) on the user's scenario, with the window
/// plugged in ([`WindowHooks`]): its load, the mock at `size`, no rules.
#[allow(clippy::too_many_arguments)] // the plan's context (s, svc, growth, spec) plus the window
pub async fn replay(
    s: &Scenario,
    svc: &Service,
    growth: &Growth,
    spec: &PlanSpec,
    week: u32,
    size: usize,
    (write_to, out): (&Path, &Path),
    quiet: bool,
) -> Result<LiveWeek, PlanError> {
    let window = window_load(growth, spec, week)?;
    let name = format!("live-week{week}-size{size}");
    let mut scaled = s.clone();
    // As `--time-scale` would: the live windows' own compression.
    scaled.time_scale = spec.live_time_scale.unwrap_or(s.time_scale);
    let settings = Settings { scenario: scaled, out: write_to.join(&name) };
    let opts = RunOptions { scenario: s.origin.file.clone(), quiet, ..RunOptions::default() };
    let results_dir = out.join(&name).display().to_string();
    let hooks =
        WindowHooks { window: &window, service: svc.id, size, name: format!("{}-week{week}-size{size}", s.name) };
    let ran = match run::execute_with(&settings, &opts, hooks, run::interrupt::interrupted()).await {
        Ok(r) => r,
        Err(e) if e.exit() == crate::Exit::Usage => return Err(PlanError::LiveWindow(Box::new(e))),
        Err(e) => return Ok(LiveWeek::not_measured(week, size, e.to_string(), results_dir)),
    };
    if let Err(e) = crate::report::write_run_outputs(&settings.out, &ran.results) {
        return Ok(LiveWeek::not_measured(week, size, e.to_string(), results_dir));
    }
    if ran.results.verdict == RunVerdict::Invalid {
        let why = ran.results.reasons.first().cloned().unwrap_or_else(|| "invalid run".into());
        return Ok(LiveWeek::not_measured(week, size, why, results_dir));
    }
    let figures = measured(s, growth, &ran.data, spec.warmup.0, svc.base_cpu);
    let twin = twin(&settings.scenario, &window, svc, growth, spec.warmup.0, size)?;
    Ok(LiveWeek { week, size, figures: Some(figures), twin: Some(twin), not_measured: None, results_dir })
}

impl LiveWeek {
    fn not_measured(week: u32, size: usize, why: String, results_dir: String) -> Self {
        Self { week, size, figures: None, twin: None, not_measured: Some(why), results_dir }
    }
}

/// The load of one live window: the peak hour's wave after a warm-up.
#[derive(Clone, Debug)]
pub struct LiveWindow {
    /// The week's daily wave, peaking half an hour after the warm-up.
    pub curve: RateCurve,
    /// Warm-up plus the measured hour, simulated.
    pub duration: Duration,
}

/// A live window, plugged into the run's pipeline: its own load, the sized service's mock
/// at `size`, no rules (the plan judges the window itself), results under its own name.
struct WindowHooks<'w> {
    window: &'w LiveWindow,
    service: gameday_mocks::ServiceId,
    size: usize,
    name: String,
}

impl run::Hooks for WindowHooks<'_> {
    type Section = ();

    fn start(
        &mut self,
        s: &std::sync::Arc<Scenario>,
        urls: run::Urls,
        ctx: &gameday_mocks::MockContext,
        mocks: &run::MockRuntime,
        allow_remote: bool,
    ) -> impl std::future::Future<Output = Result<run::Started, crate::Error>> {
        let mut sized = s.targets.clone();
        super::model::set_size(&mut sized, self.service, self.size);
        async move { run::start_targets(s, &sized, urls, ctx, mocks, allow_remote).await }
    }

    fn load(&self, s: &Scenario, default: run::Load) -> run::Load {
        let mut config = default.config;
        config.pace = run::open_pace(s, self.window.curve.clone());
        config.run_time = s.time_scale.to_real(self.window.duration);
        run::Load { config, duration: HumanDuration(self.window.duration) }
    }

    fn rules<'s>(&self, s: &'s Scenario) -> RuleSet<'s> {
        RuleSet { slos: &[], alerts: &[], triggers: &[], ..s.rules() }
    }

    fn name<'s>(&'s self, _s: &'s Scenario) -> &'s str {
        &self.name
    }

    fn finish(self, _results: &mut crate::report::Results, _data: &RunData, _ending: run::Ending) {}
}

/// The simulator on the sample live window `w` sent (see the module docs): its schedule,
/// its kinds, the mocks' service-time streams, at `size`; figures over the measured hour.
/// `s` is the scenario as the window ran it (its time scale).
pub fn twin(
    s: &Scenario,
    w: &LiveWindow,
    svc: &Service,
    growth: &Growth,
    warmup: Duration,
    size: usize,
) -> Result<Figures, PlanError> {
    let weights: Vec<u32> = s.load.requests.iter().map(|r| r.weight.get()).collect();
    let kinds = KindDraw::new(&weights, kinds_seed(s.seed)).map_err(PlanError::Kinds)?;
    // Every kind, free ones too (an hour of them is cheap), so the counts compare.
    let arrivals = kinds.tag(Schedule::new(w.curve.clone(), s.load.arrivals, s.seed, w.duration));
    let hour = Window { start: warmup, end: warmup + Duration::from_secs(3600) };
    let options = SimOptions { seed: s.seed, interval: Duration::from_secs(60), windows: vec![hour] };
    let report = simulate(&svc.at_size(size), arrivals, &options)?;
    let kinds = super::weeks::headline_kinds(s, &growth.unit);
    let tally = &report.windows[0].tally;
    Ok(super::weeks::figures(&report, &[(tally, hour)], &kinds, svc.base_cpu))
}

/// Week `week`'s live window: the peak hour's wave after the warm-up.
fn window_load(growth: &Growth, spec: &PlanSpec, week: u32) -> Result<LiveWindow, PlanError> {
    let w = &growth.weeks[week as usize - 1];
    let mean = Rate::per_second_checked(w.mean_rate_per_s).map_err(PlanError::GrowthRate)?;
    let peak_at = spec.warmup.0 + Duration::from_secs(1800);
    let wave = Diurnal::new(DiurnalMean::Constant(mean), growth.peak_to_average, peak_at, DAY)?;
    Ok(LiveWindow { curve: RateCurve::Diurnal(wave), duration: peak_at + Duration::from_secs(1800) })
}

/// Figures over the measured hour `[warmup, warmup + 1h)` of a live window.
fn measured(s: &Scenario, growth: &Growth, data: &RunData, warmup: Duration, base_cpu: f64) -> Figures {
    let (a, b) = (warmup.as_secs_f64(), warmup.as_secs_f64() + 3600.0);
    let kinds = super::weeks::headline_kinds(s, &growth.unit);
    let mut head = crate::load::record::KindStats::default();
    let mut all = crate::load::record::KindStats::default();
    for (i, stats) in data.intervals.iter() {
        let t = i as f64 * data.step_s;
        if t < a || t >= b {
            continue;
        }
        for (k, st) in stats.iter().enumerate() {
            all.merge(st);
            if kinds.contains(&k) {
                head.merge(st);
            }
        }
    }
    let q = |p: f64| head.latency.value_at_quantile(p) as f64 / 1e6;
    let avg = |name: &str| {
        let v: Vec<f64> =
            data.series.iter().filter(|x| x.name == name).flat_map(|x| x.window(a, b).iter().map(|p| p.1)).collect();
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let max = |name: &str| {
        data.series
            .iter()
            .filter(|x| x.name == name)
            .flat_map(|x| x.window(a, b).iter().map(|p| p.1))
            .fold(0.0, f64::max)
    };
    let cpu = avg("gameday_cpu_utilisation_ratio");
    Figures {
        cpu,
        utilisation: if base_cpu < 1.0 { ((cpu - base_cpu) / (1.0 - base_cpu)).max(0.0) } else { 0.0 },
        p50_s: q(0.5),
        p95_s: q(0.95),
        p99_s: q(0.99),
        queue_mean: avg("gameday_queue_depth"),
        queue_max: max("gameday_queue_depth") as u64,
        error_ratio: if all.total() == 0 { 0.0 } else { all.errors() as f64 / all.total() as f64 },
        requests: all.total(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_only_when_the_compressed_p50_is_under_the_floor() {
        let scale = |x: f64| TimeScale::new(x).unwrap();
        // Midnight's proofs (p50 about 9 s) at 100x: 90 ms real, far above 5 ms.
        assert_eq!(floor_warning(9.0, scale(100.0)), None);
        // A 20 ms search at 10x is 2 ms real: under the floor.
        let w = floor_warning(0.020, scale(10.0)).unwrap();
        assert!(w.contains("2.00 ms real") && w.contains("plan.live_time_scale"), "{w}");
        // No requests (NaN) or nothing measured: no warning.
        assert_eq!(floor_warning(f64::NAN, scale(10.0)), None);
    }
}
