//! The alert state machine, with Prometheus's semantics (`rules/alerting.go`).
//!
//! At each evaluation time `t`, for one series:
//! - true and inactive: the alert becomes *pending*, active since `t`;
//! - pending and `t - active_since >= for`: *firing* from `t` (with `for = 0`, at once);
//! - pending and false: back to inactive (nothing fired);
//! - firing and false: resolved at `t`, unless `keep_firing_for` is set, in which case it
//!   keeps firing while `t - first_false < keep_firing_for` (a true evaluation in
//!   between resets `first_false`);
//! - no value (no data) counts as false, as an absent series does in Prometheus.

use serde::Serialize;

/// Tolerance on `for` comparisons: times are sums of float steps.
const EPS: f64 = 1e-9;

/// A time span `[start_s, end_s)` in simulated seconds; no end = still open at the end.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Span {
    /// Start, simulated seconds since the run's start.
    pub start_s: f64,
    /// End (exclusive); `None` when it lasted to the end of the run.
    pub end_s: Option<f64>,
}

impl Span {
    /// Whether `t` falls inside.
    pub fn contains(&self, t: f64) -> bool {
        self.start_s <= t + EPS && self.end_s.is_none_or(|e| t < e - EPS)
    }

    /// Whether the span overlaps `[from, to]`.
    pub fn overlaps(&self, from: f64, to: f64) -> bool {
        self.start_s <= to + EPS && self.end_s.is_none_or(|e| e > from + EPS)
    }
}

/// `for` and `keep_firing_for`, in simulated seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Hold {
    /// Time true before firing.
    pub for_s: f64,
    /// Time a firing alert keeps firing after it turns false.
    pub keep_firing_for_s: f64,
}

/// What one series did over the run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// Pending spans (each ends when the alert fired or turned false).
    pub pending: Vec<Span>,
    /// Firing spans (each ends when the alert resolved).
    pub firing: Vec<Span>,
    /// The value at the first firing evaluation.
    pub value_at_first_firing: Option<f64>,
}

impl Timeline {
    /// Whether the alert was firing at evaluation time `t`.
    pub fn firing_at(&self, t: f64) -> bool {
        self.firing.iter().any(|s| s.contains(t))
    }

    /// When it first fired.
    pub fn first_firing_s(&self) -> Option<f64> {
        self.firing.first().map(|s| s.start_s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Inactive,
    Pending { since: f64 },
    Firing { since: f64, false_since: Option<f64> },
}

/// Runs the state machine over one series' values at `times`; `breach` says whether a
/// value makes the rule true.
pub fn run(times: &[f64], values: &[Option<f64>], breach: impl Fn(f64) -> bool, hold: Hold) -> Timeline {
    let mut tl = Timeline::default();
    let mut state = State::Inactive;
    for (&t, v) in times.iter().zip(values) {
        let truth = v.is_some_and(&breach);
        state = match (state, truth) {
            (State::Inactive, false) => State::Inactive,
            (State::Inactive, true) => State::Pending { since: t },
            (State::Pending { since }, false) => {
                tl.pending.push(Span { start_s: since, end_s: Some(t) });
                State::Inactive
            }
            (s @ State::Pending { .. }, true) => s,
            (State::Firing { since, .. }, true) => State::Firing { since, false_since: None },
            (State::Firing { since, false_since }, false) => {
                let first_false = false_since.unwrap_or(t);
                if hold.keep_firing_for_s > 0.0 && t - first_false < hold.keep_firing_for_s - EPS {
                    State::Firing { since, false_since: Some(first_false) }
                } else {
                    tl.firing.push(Span { start_s: since, end_s: Some(t) });
                    State::Inactive
                }
            }
        };
        if let State::Pending { since } = state {
            if t - since >= hold.for_s - EPS {
                if since < t {
                    tl.pending.push(Span { start_s: since, end_s: Some(t) });
                }
                if tl.firing.is_empty() {
                    tl.value_at_first_firing = *v;
                }
                state = State::Firing { since: t, false_since: None };
            }
        }
    }
    match state {
        State::Inactive => {}
        State::Pending { since } => tl.pending.push(Span { start_s: since, end_s: None }),
        State::Firing { since, .. } => tl.firing.push(Span { start_s: since, end_s: None }),
    }
    tl
}

/// Merges spans from several series into one sorted, non-overlapping list.
pub fn union(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let mut out: Vec<Span> = Vec::new();
    for s in spans {
        match out.last_mut() {
            Some(last) if last.end_s.is_none_or(|e| s.start_s <= e + EPS) => {
                last.end_s = match (last.end_s, s.end_s) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            _ => out.push(s),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64 * 60.0).collect()
    }

    fn vals(v: &[f64]) -> Vec<Option<f64>> {
        v.iter().map(|x| Some(*x)).collect()
    }

    fn sp(a: f64, b: Option<f64>) -> Span {
        Span { start_s: a, end_s: b }
    }

    #[test]
    fn for_pending_then_firing_then_resolved() {
        // One-minute steps; true at minutes 2..=6; `for` 3m: pending at 2, firing at 5
        // (5 - 2 >= 3), resolved at the first false evaluation, minute 7.
        let v = vals(&[0., 0., 9., 9., 9., 9., 9., 0., 0.]);
        let tl = run(&times(9), &v, |x| x > 5.0, Hold { for_s: 180.0, keep_firing_for_s: 0.0 });
        assert_eq!(tl.pending, vec![sp(120.0, Some(300.0))]);
        assert_eq!(tl.firing, vec![sp(300.0, Some(420.0))]);
        assert_eq!(tl.value_at_first_firing, Some(9.0));
    }

    #[test]
    fn a_gap_resets_pending() {
        // True 2 minutes, false once, true 2 minutes: with `for` 2m it never fires.
        let v = vals(&[9., 9., 0., 9., 9., 0.]);
        let tl = run(&times(6), &v, |x| x > 5.0, Hold { for_s: 120.0, keep_firing_for_s: 0.0 });
        assert!(tl.firing.is_empty());
        assert_eq!(tl.pending, vec![sp(0.0, Some(120.0)), sp(180.0, Some(300.0))]);
        // Missing data counts as false.
        let v = vec![Some(9.), Some(9.), None, Some(9.)];
        let tl = run(&times(4), &v, |x| x > 5.0, Hold { for_s: 120.0, keep_firing_for_s: 0.0 });
        assert!(tl.firing.is_empty());
    }

    #[test]
    fn keep_firing_for_holds_then_resolves() {
        // Fires at once (for 0) at minute 1; false from minute 3; keep 2m: still firing
        // at 3 and 4 (0 and 1 minute after the first false), resolved at 5.
        let v = vals(&[0., 9., 9., 0., 0., 0., 0.]);
        let tl = run(&times(7), &v, |x| x > 5.0, Hold { for_s: 0.0, keep_firing_for_s: 120.0 });
        assert_eq!(tl.firing, vec![sp(60.0, Some(300.0))]);
        assert!(tl.pending.is_empty());
        // A true evaluation during the keep period resets it.
        let v = vals(&[9., 0., 9., 0., 0., 0.]);
        let tl = run(&times(6), &v, |x| x > 5.0, Hold { for_s: 0.0, keep_firing_for_s: 120.0 });
        assert_eq!(tl.firing, vec![sp(0.0, Some(300.0))]);
        assert!(tl.firing_at(240.0) && !tl.firing_at(300.0));
    }

    #[test]
    fn still_firing_at_the_end_has_no_end() {
        let tl = run(&times(3), &vals(&[9., 9., 9.]), |x| x > 5.0, Hold::default());
        assert_eq!(tl.firing, vec![sp(0.0, None)]);
        assert_eq!(tl.first_firing_s(), Some(0.0));
    }

    #[test]
    fn union_merges_overlaps() {
        let u = union(vec![sp(5.0, Some(9.0)), sp(0.0, Some(6.0)), sp(20.0, None), sp(25.0, Some(30.0))]);
        assert_eq!(u, vec![sp(0.0, Some(9.0)), sp(20.0, None)]);
    }
}
