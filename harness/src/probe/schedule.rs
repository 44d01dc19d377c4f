//! The probe scheduler: each probe runs in its own loop on the run's clock, every
//! `every` (real) from the moment the clock starts, until `stop`.
//!
//! Bounded: one check in flight per probe (a check that overruns its interval delays the
//! next one; missed ticks are skipped, not bunched), each check bounded by its timeout,
//! at most [`MAX_CHECKS`] checks per probe. A result is recorded at the simulated time
//! its check started (as Prometheus stamps a scrape with its start): success 1 or 0, and
//! the check's duration in simulated seconds. A check that could not run at all (an
//! unknown target) or timed out records 0, and a problem line names the probe and the
//! first reason, so a probe is never silent. A check cut short by `stop` records nothing.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{ProbeError, ProbeOutcome, DURATION, SUCCESS};
use crate::clock::Clock;
use crate::observe::{Scraped, Series, Tap};

/// Most checks of one probe in one run (a day at one check per second real).
pub const MAX_CHECKS: u64 = 86_400;

/// Runs one check; the scheduler bounds it by the probe's timeout.
pub type CheckFn =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<ProbeOutcome, ProbeError>> + Send>> + Send + Sync>;

/// One probe to run.
#[derive(Clone)]
pub struct Scheduled {
    /// The series' labels (`probe`, `service`, `instance`; see [`super::labels`]).
    pub labels: BTreeMap<String, String>,
    /// How often, real time.
    pub every: Duration,
    /// The most one check may take, real time.
    pub timeout: Duration,
    /// The check.
    pub check: CheckFn,
}

impl std::fmt::Debug for Scheduled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduled").field("labels", &self.labels).field("every", &self.every).finish_non_exhaustive()
    }
}

/// What one probe's loop kept.
struct Kept {
    success: Vec<(f64, f64)>,
    duration: Vec<(f64, f64)>,
    failures: u64,
    first_error: Option<String>,
}

/// Runs every probe until `stop`, also putting each result into `tap` when given; the
/// handle yields the `probe_success` and `probe_duration_seconds` series and problems.
pub fn spawn(probes: Vec<Scheduled>, clock: Clock, stop: CancellationToken, tap: Option<Tap>) -> JoinHandle<Scraped> {
    tokio::spawn(async move {
        let loops: Vec<_> =
            probes.iter().map(|p| tokio::spawn(probe_loop(p.clone(), clock, stop.clone(), tap.clone()))).collect();
        let mut out = Scraped::default();
        for (p, handle) in probes.iter().zip(loops) {
            let name = p.labels.get("probe").cloned().unwrap_or_default();
            let kept = match handle.await {
                Ok(k) => k,
                Err(e) => {
                    out.problems.push(format!("probe `{name}`: its task ended abnormally: {e}"));
                    continue;
                }
            };
            if let Some(why) = &kept.first_error {
                out.problems.push(format!(
                    "probe `{name}`: {} of {} checks could not run or timed out; first: {why}",
                    kept.failures,
                    kept.success.len()
                ));
            }
            out.series.push(Series { name: SUCCESS.into(), labels: p.labels.clone(), samples: kept.success });
            out.series.push(Series { name: DURATION.into(), labels: p.labels.clone(), samples: kept.duration });
        }
        out
    })
}

/// One probe's loop: check, record, wait for the next tick.
async fn probe_loop(p: Scheduled, clock: Clock, stop: CancellationToken, tap: Option<Tap>) -> Kept {
    let mut kept = Kept { success: Vec::new(), duration: Vec::new(), failures: 0, first_error: None };
    let mut ticker = tokio::time::interval_at(clock.started(), p.every.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    for _ in 0..MAX_CHECKS {
        tokio::select! {
            _ = ticker.tick() => {}
            () = stop.cancelled() => break,
        }
        let started = Instant::now();
        let at_s = clock.to_sim(started.saturating_duration_since(clock.started())).as_secs_f64();
        let result = tokio::select! {
            r = tokio::time::timeout(p.timeout, (p.check)()) => r,
            () = stop.cancelled() => break,
        };
        let took_s = clock.to_sim(started.elapsed()).as_secs_f64();
        let ok = match result {
            Ok(Ok(o)) => o.ok,
            Ok(Err(e)) => note(&mut kept, e.to_string()),
            Err(_) => note(&mut kept, format!("no result within its timeout ({:?} real)", p.timeout)),
        };
        if let Some(tap) = &tap {
            super::record(tap, &p.labels, at_s, ok, took_s);
        }
        kept.success.push((at_s, if ok { 1.0 } else { 0.0 }));
        kept.duration.push((at_s, took_s));
    }
    kept
}

/// Counts a check that could not run; keeps the first reason. Always `false` (failed).
fn note(kept: &mut Kept, why: String) -> bool {
    kept.failures += 1;
    kept.first_error.get_or_insert(why);
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use gameday_mocks::TimeScale;

    fn fixed(ok: Option<bool>, delay: Duration) -> CheckFn {
        Arc::new(move || {
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                match ok {
                    Some(ok) => Ok(ProbeOutcome { ok, detail: String::new(), definitive: false }),
                    None => Err(ProbeError::NoTarget { target: "moon".into(), what: "no such target".into() }),
                }
            })
        })
    }

    fn probe(name: &str, check: CheckFn, timeout: Duration) -> Scheduled {
        Scheduled { labels: super::super::labels(name, None, "x"), every: Duration::from_millis(50), timeout, check }
    }

    #[tokio::test(start_paused = true)]
    async fn checks_run_on_the_clock_and_failures_are_zeros_with_a_problem_line() {
        let clock = Clock::start(TimeScale::new(10.0).unwrap());
        let stop = CancellationToken::new();
        let tap = Tap::new();
        let probes = vec![
            probe("up", fixed(Some(true), Duration::from_millis(2)), Duration::from_secs(1)),
            probe("moon", fixed(None, Duration::ZERO), Duration::from_secs(1)),
            probe("slow", fixed(Some(true), Duration::from_secs(10)), Duration::from_millis(20)),
        ];
        let handle = spawn(probes, clock, stop.clone(), Some(tap.clone()));
        tokio::time::sleep(Duration::from_millis(175)).await;
        stop.cancel();
        let out = handle.await.unwrap();
        let up = &out.series.iter().find(|s| s.name == SUCCESS && s.labels["probe"] == "up").unwrap().samples;
        // Ticks at 0, 50, 100, 150 ms real = 0, 0.5, 1.0, 1.5 s simulated at 10x.
        let times: Vec<f64> = up.iter().map(|&(t, _)| (t * 10.0).round() / 10.0).collect();
        assert_eq!(times, [0.0, 0.5, 1.0, 1.5]);
        assert!(up.iter().all(|&(_, v)| v == 1.0));
        let d = &out.series.iter().find(|s| s.name == DURATION && s.labels["probe"] == "up").unwrap().samples;
        assert!((d[0].1 - 0.02).abs() < 1e-6, "2 ms real is 0.02 s simulated: {d:?}");
        let moon = &out.series.iter().find(|s| s.name == SUCCESS && s.labels["probe"] == "moon").unwrap().samples;
        assert!(moon.len() == 4 && moon.iter().all(|&(_, v)| v == 0.0), "{moon:?}");
        let slow = &out.series.iter().find(|s| s.name == SUCCESS && s.labels["probe"] == "slow").unwrap().samples;
        assert!(!slow.is_empty() && slow.iter().all(|&(_, v)| v == 0.0), "timeouts are failures: {slow:?}");
        assert_eq!(out.problems.len(), 2, "{:?}", out.problems);
        assert!(out.problems.iter().any(|p| p.contains("probe `moon`") && p.contains("no such target")));
        assert!(out.problems.iter().any(|p| p.contains("probe `slow`") && p.contains("timeout")));
        let live = tap.snapshot(1.0, 10.0, vec![]);
        assert_eq!(live.select(SUCCESS, &[("probe", "up")])[0].samples.len(), 4);
    }
}
