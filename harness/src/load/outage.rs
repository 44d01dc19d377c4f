//! Whether a target stopped answering, told from the load's recording and the
//! generator's health: an outage of the target, not a fault of the generator.
//!
//! A target *stopped answering* when its requests timed out (no answer within
//! `request_timeout`) and either
//! - none of its requests was answered at all: it accepted connections, or hung on them,
//!   and said nothing; or
//! - the generator's [`Health`] says the target held every user: past the late-send
//!   bound, slots waited for users whose requests then timed out (see [`super::pacing`]).
//!
//! The run then *fails* (exit 1) with this reason first: the timeouts are counted and
//! kept in the latency data, so the SLOs fail on their own. It is never `generator
//! saturated` and never "no request succeeded" (exit 3), which stays for a run that
//! measured nothing: every request refused, reset or answered with an error, or a
//! generator that could not keep to its own schedule.

use std::collections::BTreeMap;
use std::time::Duration;

use super::pacing::Health;
use super::record::{KindStats, Outcome};

/// The targets that stopped answering, and why the verdict says so.
#[derive(Clone, Debug, PartialEq)]
pub struct Unanswered {
    /// Per target that timed out: its name, its timeouts, its requests.
    pub targets: Vec<(String, u64, u64)>,
    /// When the target held every user: the generator's account of the late sends.
    pub held: Option<String>,
    /// The request timeout (simulated).
    pub timeout: Duration,
}

/// Judges the request kinds, each with the target it goes to, against the generator's
/// health: `Some` when a target stopped answering (the rule is in the module doc).
pub fn judge<'a>(
    kinds: impl IntoIterator<Item = (&'a str, &'a KindStats)>,
    health: Option<&Health>,
    timeout: Duration,
) -> Option<Unanswered> {
    // Per target: (answered, timed out, all).
    let mut per_target: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for (target, stats) in kinds {
        let t = per_target.entry(target).or_default();
        t.0 += stats.ok();
        t.1 += stats.count(Outcome::Timeout);
        t.2 += stats.total();
    }
    let held = health.filter(|h| h.held_by_target).map(Health::held_reason);
    let silent = |&(ok, timeouts, _): &(u64, u64, u64)| timeouts > 0 && (ok == 0 || held.is_some());
    let targets: Vec<(String, u64, u64)> = per_target
        .into_iter()
        .filter(|(_, t)| silent(t))
        .map(|(name, (_, timeouts, total))| (name.to_owned(), timeouts, total))
        .collect();
    (!targets.is_empty()).then_some(Unanswered { targets, held, timeout })
}

impl Unanswered {
    /// The verdict's reason: which target stopped answering, how many requests timed
    /// out, and (when it did) how it held the generator's users.
    pub fn reason(&self) -> String {
        let each: Vec<String> = self
            .targets
            .iter()
            .map(|(name, timeouts, total)| {
                format!(
                    "{name} timed out on {timeouts} of {total} requests (no answer within {}s)",
                    self.timeout.as_secs_f64()
                )
            })
            .collect();
        let mut r = format!("target stopped answering (an outage, not a saturated generator): {}", each.join("; "));
        if let Some(held) = &self.held {
            r.push_str("; ");
            r.push_str(held);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(ok: u64, timeouts: u64, refused: u64) -> KindStats {
        let mut s = KindStats::default();
        for _ in 0..ok {
            s.record(1_000, Outcome::Ok, None);
        }
        for _ in 0..timeouts {
            s.record(2_000_000, Outcome::Timeout, Some(&"operation timed out"));
        }
        for _ in 0..refused {
            s.record(100, Outcome::Connect, Some(&"connection refused"));
        }
        s
    }

    #[test]
    fn a_target_that_never_answers_stopped_answering_one_that_refuses_did_not() {
        let timeout = Duration::from_secs(2);
        let (silent, refused, fine) = (stats(0, 500, 0), stats(0, 0, 500), stats(400, 3, 0));
        let u = judge([("midnight", &silent), ("scribe", &fine)], None, timeout).unwrap();
        assert_eq!(u.targets, vec![("midnight".to_owned(), 500, 500)]);
        assert!(
            u.reason().contains("midnight timed out on 500 of 500 requests (no answer within 2s)"),
            "{}",
            u.reason()
        );
        // Refused connections are not an outage this rule reports (exit 3 stays), and a
        // few timeouts among answers are for the SLOs to judge.
        assert_eq!(judge([("midnight", &refused), ("scribe", &fine)], None, timeout), None);
        // Two kinds to one target add up; one answer among them means it answered.
        assert_eq!(judge([("midnight", &silent), ("midnight", &stats(1, 0, 0))], None, timeout), None);
    }
}
