//! One drill's timeline while the load runs: steady state, preflight, inject, detect,
//! operator reaction, recover, verify, roll back.
//!
//! It runs in its own task; its report lives behind a mutex the runner also holds, so a
//! panic or an interrupt keeps what was recorded so far. Every wait is bounded: by the
//! drill's dead-man deadline after injection, and by the runner's `stop` token (the load
//! ended, or Ctrl-C). Rolling back is the guard's job on every path; the timeline only
//! asks it to, once verified or when it gives up.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::drill::{budget_slo, Drill};
use super::env::DrillEnv;
use super::fault_error::FaultError;
use super::faults::command::run_command;
use super::guard::{Guard, Registration};
use super::probe::{ProbeOutcome, ProbeSpec};
use super::record::{bad_requests, interval_range, pick, DrillRecord, DrillStatus, Event, SteadyCheck};
use crate::clock::Clock;
use crate::observe::Tap;
use crate::rules::{slo, RuleKind};
use crate::scenario::Scenario;
use crate::spec::drill::RecoveryAction;

/// Everything a drill's task needs.
pub(crate) struct DrillTask {
    pub(crate) drill: Drill,
    pub(crate) scenario: Arc<Scenario>,
    pub(crate) env: Arc<DrillEnv>,
    pub(crate) guard: Guard,
    pub(crate) tap: Tap,
    pub(crate) clock: Clock,
    /// Recording interval, simulated seconds.
    pub(crate) step_s: f64,
    /// Request kind names, in mix order.
    pub(crate) requests: Vec<String>,
    pub(crate) report: Arc<Mutex<DrillRecord>>,
    /// Cancelled when the load ends or the run is interrupted.
    pub(crate) stop: CancellationToken,
    /// Test hook: panic right after injecting (`test-hooks` feature only).
    #[cfg(feature = "test-hooks")]
    pub(crate) panic_after_inject: bool,
}

/// Why a wait ended early.
enum Halt {
    Stopped,
}

impl DrillTask {
    fn now_s(&self) -> f64 {
        self.clock.to_sim(Instant::now().saturating_duration_since(self.clock.started())).as_secs_f64()
    }

    fn real(&self, sim: Duration) -> Duration {
        self.clock.to_real(sim)
    }

    fn report(&self) -> std::sync::MutexGuard<'_, DrillRecord> {
        self.report.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn event(&self, what: impl Into<String>) {
        let at_s = self.now_s();
        self.report().events.push(Event { at_s, what: what.into() });
    }

    fn end(&self, status: DrillStatus, reason: impl Into<String>) {
        self.report().end(status, reason);
    }

    /// Sleeps until `at` (real), unless stopped.
    async fn sleep_until(&self, at: Instant) -> Result<(), Halt> {
        tokio::select! {
            () = tokio::time::sleep_until(at) => Ok(()),
            () = self.stop.cancelled() => Err(Halt::Stopped),
        }
    }

    /// The whole timeline.
    pub(crate) async fn run(self) {
        let d = &self.drill;
        let at = self.clock.started() + self.real(d.at());
        let window_opens = at.checked_sub(self.real(d.steady_state())).unwrap_or(at);
        // A user hands in an interval when it records into the next one: give the
        // window's last interval one more interval to arrive.
        let grace = self.real(Duration::from_secs_f64(self.step_s)).max(MIN_FLUSH_GRACE);
        if self.sleep_until(window_opens).await.is_err() || self.sleep_until(at + grace).await.is_err() {
            return;
        }
        let patience = at + self.real(self.scenario.load.request_timeout.get()).max(grace);
        let mut ok = self.steady_state(false);
        while ok.is_none() {
            let last = Instant::now() + Duration::from_millis(100) >= patience;
            if self.sleep_until(Instant::now() + Duration::from_millis(100)).await.is_err() {
                return;
            }
            ok = self.steady_state(last);
        }
        if ok != Some(true) {
            return;
        }
        if let Err(e) = d.fault.preflight(&self.env).await {
            return self.end(DrillStatus::Error, format!("preflight: {e}"));
        }
        let injected = match d.fault.inject(&self.env).await {
            Ok(i) => i,
            Err(e) => return self.end(DrillStatus::Error, format!("inject: {e}")),
        };
        let description = injected.description.clone();
        let reg = self.guard.register(d.name(), injected, self.real(d.timeout.get()));
        let injected_at = self.now_s();
        self.report().timeline.injected_at = Some(injected_at);
        self.event(format!("injected: {description}"));
        #[cfg(feature = "test-hooks")]
        assert!(!self.panic_after_inject, "test hook: drill `{}` panics after injecting", d.name());
        let deadline = Instant::now() + self.real(d.timeout.get());
        tokio::select! {
            () = self.respond(&reg, injected_at, deadline) => {}
            Some(why) = self.watch_burn(injected_at) => {
                self.end(DrillStatus::Aborted, why.clone());
                self.guard.roll_back(reg.id, &format!("aborted: {why}")).await;
            }
            () = self.stop.cancelled() => {}
        }
    }

    /// Checks every SLO over the steady-state window; records and refuses if one fails.
    /// `None`: an SLO has no requests in the window yet and `last` is false (try again).
    fn steady_state(&self, last: bool) -> Option<bool> {
        let d = &self.drill;
        let (from, to) = ((d.at() - d.steady_state()).as_secs_f64(), d.at().as_secs_f64());
        if to - from <= 0.0 {
            self.report().timeline.steady_state_ok = Some(true);
            self.event("steady state: not checked (steady_state = 0)");
            return Some(true);
        }
        let lo = (from / self.step_s - 1e-9).ceil().max(0.0) as u64;
        let hi = ((to / self.step_s + 1e-9).floor() as u64).max(lo + 1);
        let stats = self.tap.stats(lo, hi, self.requests.len());
        let checks: Vec<SteadyCheck> = self
            .scenario
            .slos
            .iter()
            .map(|o| {
                let mut st = crate::load::KindStats::default();
                stats.iter().zip(pick(Some(o), &self.requests)).filter(|(_, p)| *p).for_each(|(k, _)| st.merge(k));
                let observed = slo::observe(o.objective.indicator, &st);
                let pass = observed.is_some_and(|v| o.objective.op.holds(v, o.objective.threshold));
                SteadyCheck { slo: o.name.clone(), objective: o.objective.as_written().to_owned(), observed, pass }
            })
            .collect();
        if !last && checks.iter().any(|c| c.observed.is_none()) {
            return None;
        }
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| match c.observed {
                Some(v) => format!("`{}` {} observed {v:.6}", c.slo, c.objective),
                None => format!("`{}` had no requests", c.slo),
            })
            .collect();
        let ok = failed.is_empty();
        {
            let mut r = self.report();
            r.steady_state = checks;
            r.timeline.steady_state_ok = Some(ok);
        }
        if !ok {
            let why = format!("steady state did not hold over [{from:.1}s, {to:.1}s): {}", failed.join("; "));
            self.end(DrillStatus::Refused, why);
        }
        Some(ok)
    }

    /// Detection, operator reaction, recovery, verification, rollback.
    async fn respond(&self, reg: &Registration, injected_at: f64, deadline: Instant) {
        let d = &self.drill;
        let Some(detected_at) = self.detect(injected_at, deadline).await else {
            if !self.stop.is_cancelled() {
                let why = match &d.detect.alert {
                    Some(a) => format!("runbook alert `{}` did not fire before the dead-man timeout", a.get_ref()),
                    None => "not detected before the dead-man timeout".into(),
                };
                self.end(DrillStatus::Failed, why);
                self.await_dead_man(reg).await;
            }
            return;
        };
        {
            let mut r = self.report();
            r.timeline.detected_at = Some(detected_at);
            r.mttd_s = Some(detected_at - injected_at);
        }
        let reaction = Instant::now() + self.real(d.recover.after.get());
        if self.sleep_until(reaction.min(deadline)).await.is_err() {
            return;
        }
        self.report().timeline.recovery_started_at = Some(self.now_s());
        if let Err(why) = self.recover(reg).await {
            self.end(DrillStatus::Failed, format!("recovery: {why}"));
            return self.roll_back(reg, "recovery failed").await;
        }
        match self.verify(deadline).await {
            Err(why) => {
                self.end(DrillStatus::Failed, format!("verification failed: {why}"));
                self.roll_back(reg, "verification failed").await;
            }
            Ok(Some(verified_at)) => {
                {
                    let mut r = self.report();
                    r.timeline.verified_at = Some(verified_at);
                    r.rto_s = Some(verified_at - injected_at);
                    r.status = DrillStatus::Completed;
                }
                self.roll_back(reg, "verified").await;
            }
            Ok(None) if self.stop.is_cancelled() => {}
            Ok(None) => {
                self.end(DrillStatus::Failed, "recovery not verified before the dead-man timeout");
                self.await_dead_man(reg).await;
            }
        }
    }

    async fn roll_back(&self, reg: &Registration, reason: &str) {
        self.guard.roll_back(reg.id, reason).await;
    }

    /// The deadline passed: the dead-man timer rolls back; make sure it did.
    async fn await_dead_man(&self, reg: &Registration) {
        let _ = tokio::time::timeout(Duration::from_secs(2), reg.rolled_back.cancelled()).await;
        self.roll_back(reg, super::guard::DEAD_MAN).await;
    }

    /// Polls the detection probe or rule, and the runbook alert when the drill names one,
    /// until the fault is seen: the detection time (the alert's when named, since that is
    /// what pages the operator). The probe's or rule's own time is kept as probe MTTD.
    async fn detect(&self, injected_at: f64, deadline: Instant) -> Option<f64> {
        let d = &self.drill;
        let every = self.real(d.detect.interval.get()).max(Duration::from_millis(10));
        let alert = d.detect.alert.as_ref().map(|a| a.get_ref().as_str());
        let mut probe_seen = false;
        loop {
            if !probe_seen {
                if let Some(t) = self.poll_detector(injected_at).await {
                    probe_seen = true;
                    self.report().probe_mttd_s = Some(t - injected_at);
                    if alert.is_none() {
                        return Some(t);
                    }
                }
            }
            if let Some(t) = alert.and_then(|name| self.rule_fired(name, injected_at)) {
                return Some(t);
            }
            let next = (Instant::now() + every).min(deadline);
            if Instant::now() >= deadline || self.sleep_until(next).await.is_err() {
                return None;
            }
        }
    }

    /// One poll of `[drill.detect]`'s probe or rule: when it saw the fault, if it did.
    async fn poll_detector(&self, injected_at: f64) -> Option<f64> {
        let d = &self.drill;
        match (&d.detect.probe, &d.detect.rule) {
            (Some(p), _) => match self.probe(p, "detect").await {
                Ok(o) if !o.ok => {
                    self.event(format!("detected by probe {}: {}", p.name(), o.detail));
                    Some(self.now_s())
                }
                Ok(_) => None,
                Err(e) => {
                    self.event(format!("detection probe {} could not run: {e}", p.name()));
                    None
                }
            },
            (None, Some(rule)) => self.rule_fired(rule.get_ref(), injected_at),
            (None, None) => None,
        }
    }

    /// When the named alert first fired at or after injection, or when the named SLO's
    /// objective broke over its window, on the live data.
    fn rule_fired(&self, name: &str, injected_at: f64) -> Option<f64> {
        let s = &self.scenario;
        let now = self.now_s();
        let upto = (now / self.step_s).floor() * self.step_s;
        if let Some(a) = s.alerts.iter().find(|a| a.name == name) {
            let data = self.tap.snapshot(self.step_s, upto, self.requests.clone());
            let ev = crate::rules::evaluator(s.rules(), &data);
            let v = crate::rules::verdict::judge_alert(a, RuleKind::Alert, &ev);
            let span = v.firing.iter().find(|sp| sp.overlaps(injected_at, f64::INFINITY))?;
            let at = span.start_s.max(injected_at);
            self.event(format!("detected: alert `{name}` firing since {at:.1}s ({})", v.observed_text));
            return Some(at);
        }
        let o = s.slos.iter().find(|o| o.name == name)?;
        let window = o.window.as_ref().map_or(60.0, |w| w.get_ref().get().as_secs_f64());
        let (lo, hi) = interval_range(self.step_s, (upto - window).max(0.0), upto);
        let stats = self.tap.stats(lo, hi, self.requests.len());
        let mut st = crate::load::KindStats::default();
        stats.iter().zip(pick(Some(o), &self.requests)).filter(|(_, p)| *p).for_each(|(k, _)| st.merge(k));
        let v = slo::observe(o.objective.indicator, &st)?;
        if o.objective.op.holds(v, o.objective.threshold) || upto <= injected_at {
            return None;
        }
        self.event(format!(
            "detected: SLO `{name}` {} broken over the last {window:.0}s ({v:.6})",
            o.objective.as_written()
        ));
        Some(upto.max(injected_at))
    }

    /// Runs the recovery action.
    async fn recover(&self, reg: &Registration) -> Result<(), RecoveryError> {
        let d = &self.drill;
        match d.recover.action.get_ref() {
            RecoveryAction::Rollback => {
                self.event("recovery: rolling the fault back");
                if !self.guard.roll_back(reg.id, "recovery").await {
                    return Err(RecoveryError::RollbackFailed);
                }
            }
            RecoveryAction::External => self.event("recovery: waiting for an external recovery"),
            RecoveryAction::Command => {
                let argv = d.recover.command.as_ref().map(|c| c.get_ref().clone()).unwrap_or_default();
                let out = run_command(&argv, d.recover.timeout.get()).await;
                self.event(format!("recovery command {}", out.summary()));
                let ok = out.ok();
                let summary = out.summary();
                self.report().commands.push(out);
                if !ok {
                    return Err(RecoveryError::Command(summary));
                }
            }
            action => {
                let detail = d.fault.recover(action, &self.env).await.map_err(RecoveryError::Fault)?;
                self.event(format!("recovery {}: {detail}", action.name()));
            }
        }
        Ok(())
    }

    /// Polls the verification probes until all pass: the time they did; `Ok(None)` at the
    /// deadline; `Err` on a definitive failure (see [`ProbeOutcome::definitive`]).
    async fn verify(&self, deadline: Instant) -> Result<Option<f64>, VerifyFailed> {
        let d = &self.drill;
        let every = self.real(d.detect.interval.get()).max(Duration::from_millis(10));
        let mut last = String::new();
        loop {
            let mut failing = None;
            for (i, p) in d.verify.iter().enumerate() {
                match self.probe(p, &format!("verify/{i}")).await {
                    Ok(o) if o.ok => {}
                    Ok(o) if o.definitive => {
                        let why = VerifyFailed { probe: p.name().to_owned(), detail: o.detail };
                        self.event(format!("verification failed: {why}"));
                        return Err(why);
                    }
                    Ok(o) => failing = Some(format!("{}: {}", p.name(), o.detail)),
                    Err(e) => failing = Some(format!("{}: {e}", p.name())),
                }
                if failing.is_some() {
                    break;
                }
            }
            match failing {
                None => {
                    self.event("verified: every probe passed");
                    return Ok(Some(self.now_s()));
                }
                Some(f) if f != last => {
                    self.event(format!("not verified yet: {f}"));
                    last = f;
                }
                Some(_) => {}
            }
            let next = (Instant::now() + every).min(deadline);
            if Instant::now() >= deadline || self.sleep_until(next).await.is_err() {
                return Ok(None);
            }
        }
    }

    /// Runs one of the drill's probes, recorded as `probe_success{probe="<drill>/<which>"}`.
    async fn probe(&self, p: &ProbeSpec, which: &str) -> Result<ProbeOutcome, FaultError> {
        let label = format!("{}/{which}", self.drill.name());
        p.check_recorded(self.drill.target.get_ref(), &self.env, &self.tap, &self.clock, &label).await
    }

    /// Resolves with a reason when the budget burns faster than `max_burn_rate`.
    async fn watch_burn(&self, injected_at: f64) -> Option<String> {
        let max = *self.drill.max_burn_rate.as_ref()?.get_ref();
        let o = budget_slo(&self.scenario)?;
        let allowed = crate::rules::burn::allowed_ratio(&o.objective)?;
        let every = self.real(self.drill.detect.interval.get()).max(Duration::from_millis(10));
        let picked = pick(Some(o), &self.requests);
        loop {
            tokio::time::sleep(every).await;
            let upto = (self.now_s() / self.step_s).floor() * self.step_s;
            let (lo, hi) = interval_range(self.step_s, injected_at, upto);
            if upto <= injected_at {
                continue;
            }
            let stats = self.tap.stats(lo, hi, self.requests.len());
            let mut st = crate::load::KindStats::default();
            stats.iter().zip(&picked).filter(|(_, p)| **p).for_each(|(k, _)| st.merge(k));
            if st.total() == 0 {
                continue;
            }
            let rate = bad_requests(o, &st) as f64 / st.total() as f64 / allowed;
            if rate > max {
                return Some(format!("error budget of `{}` burning at {rate:.1}x, above max_burn_rate {max}", o.name));
            }
        }
    }
}

/// At least this long (real) is given to the users to hand in the interval ending at `at`.
const MIN_FLUSH_GRACE: Duration = Duration::from_millis(250);
/// Why a drill's recovery action failed (the drill fails; the fault is rolled back).
#[derive(Debug, thiserror::Error)]
enum RecoveryError {
    /// The guard could not roll the fault back.
    #[error("the rollback failed")]
    RollbackFailed,
    /// The recovery command failed (its summary).
    #[error("command {0}")]
    Command(String),
    /// The fault's own recovery failed.
    #[error("{0}")]
    Fault(FaultError),
}

/// A verification probe that failed definitively (a security check).
#[derive(Debug, thiserror::Error)]
#[error("{probe}: {detail}")]
struct VerifyFailed {
    /// The probe's name.
    probe: String,
    /// What it saw.
    detail: String,
}
