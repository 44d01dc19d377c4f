//! How one request ended ([`Outcome`]) and the latency and outcome counts of one request
//! kind ([`KindStats`]): the unit every engine records, judges and reports.
//!
//! Latencies are simulated microseconds in HDR histograms of [`SIG_FIGS`] significant
//! figures. Errors are counted by kind and kept in the latency data: a timed-out request
//! is recorded at its timeout, so failures never vanish from the percentiles.

use std::fmt;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Significant figures kept by every histogram (0.1% relative error).
pub const SIG_FIGS: u8 = 3;

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 2xx.
    Ok,
    /// A 3xx answer that was not followed (`load.follow_redirects`, the loopback guard).
    Redirect,
    /// 429 Too Many Requests.
    Status429,
    /// Another 4xx.
    Status4xx,
    /// 5xx.
    Status5xx,
    /// No answer within the request timeout.
    Timeout,
    /// The connection was refused or reset before an answer.
    Connect,
    /// The body was longer than `load.max_response_bytes`; the connection was dropped.
    BodyTooLarge,
    /// Any other client-side failure (body read, protocol).
    Other,
}

impl Outcome {
    /// How many outcomes there are (the length of per-outcome arrays).
    pub const COUNT: usize = 9;

    /// Every outcome, in index order (the order of `KindStats::outcomes`).
    pub const ALL: [Outcome; Self::COUNT] = [
        Outcome::Ok,
        Outcome::Redirect,
        Outcome::Status429,
        Outcome::Status4xx,
        Outcome::Status5xx,
        Outcome::Timeout,
        Outcome::Connect,
        Outcome::BodyTooLarge,
        Outcome::Other,
    ];

    /// Every error kind (every outcome but `ok`), in report order.
    pub const ERRORS: [Outcome; Self::COUNT - 1] = {
        let a = Self::ALL;
        [a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]]
    };

    /// The outcome of an HTTP status.
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Outcome::Ok,
            300..=399 => Outcome::Redirect,
            429 => Outcome::Status429,
            400..=499 => Outcome::Status4xx,
            _ => Outcome::Status5xx,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Redirect => "redirect",
            Outcome::Status429 => "http_429",
            Outcome::Status4xx => "http_4xx",
            Outcome::Status5xx => "http_5xx",
            Outcome::Timeout => "timeout",
            Outcome::Connect => "connect",
            Outcome::BodyTooLarge => "body_too_large",
            Outcome::Other => "other",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fresh histogram of simulated microseconds (auto-resizing, 3 significant figures).
#[allow(clippy::expect_used)]
pub fn new_histogram() -> Histogram<u64> {
    // `Histogram::new` fails only for significant figures outside 1..=5; SIG_FIGS is 3.
    let mut h = Histogram::new(SIG_FIGS).expect("SIG_FIGS is a valid precision");
    h.auto(true);
    h
}

/// Latency and outcome counts of one request kind.
#[derive(Clone, Debug)]
pub struct KindStats {
    /// Latency of every request (successes and failures), simulated microseconds.
    pub latency: Histogram<u64>,
    /// Count per [`Outcome`].
    pub outcomes: [u64; Outcome::COUNT],
    /// Latency of the failed requests per [`Outcome`] (index = outcome), allocated on an
    /// outcome's first request; the successes' latency is `latency` minus these (see
    /// [`KindStats::latency_of`]), so a success costs no second record.
    pub failed_latency: [Option<Box<Histogram<u64>>>; Outcome::COUNT],
    /// The first error message seen, for the report.
    pub first_error: Option<String>,
}

impl Default for KindStats {
    fn default() -> Self {
        Self {
            latency: new_histogram(),
            outcomes: [0; Outcome::COUNT],
            failed_latency: Default::default(),
            first_error: None,
        }
    }
}

impl KindStats {
    /// Records one request.
    pub fn record(&mut self, latency_us: u64, outcome: Outcome, error: Option<&dyn fmt::Display>) {
        let v = latency_us.max(1);
        if self.latency.record(v).is_err() {
            self.latency.saturating_record(v);
        }
        self.outcomes[outcome.index()] += 1;
        if outcome != Outcome::Ok {
            self.record_failed(v, outcome, error);
        }
    }

    #[cold]
    fn record_failed(&mut self, v: u64, outcome: Outcome, error: Option<&dyn fmt::Display>) {
        let h = self.failed_latency[outcome.index()].get_or_insert_with(|| Box::new(new_histogram()));
        if h.record(v).is_err() {
            h.saturating_record(v);
        }
        if let (None, Some(e)) = (&self.first_error, error) {
            self.first_error = Some(e.to_string());
        }
    }

    /// The latency histogram of one outcome's requests (`None` when there were none).
    pub fn latency_of(&self, o: Outcome) -> Option<Histogram<u64>> {
        if self.count(o) == 0 {
            return None;
        }
        if o != Outcome::Ok {
            return self.failed_latency[o.index()].as_deref().cloned();
        }
        let mut ok = self.latency.clone();
        for h in self.failed_latency.iter().flatten() {
            let _ = ok.subtract(h.as_ref());
        }
        Some(ok)
    }

    /// Empties the stats, keeping the histograms' memory for the next interval.
    pub fn reset(&mut self) {
        self.latency.reset();
        self.outcomes = [0; Outcome::COUNT];
        for h in self.failed_latency.iter_mut().flatten() {
            h.reset();
        }
        self.first_error = None;
    }

    /// Adds another kind's data (exact: HDR histograms merge without loss).
    pub fn merge(&mut self, other: &KindStats) {
        let _ = self.latency.add(&other.latency);
        for (a, b) in self.outcomes.iter_mut().zip(other.outcomes) {
            *a += b;
        }
        for (mine, theirs) in self.failed_latency.iter_mut().zip(&other.failed_latency) {
            if let Some(t) = theirs {
                let _ = mine.get_or_insert_with(|| Box::new(new_histogram())).add(t.as_ref());
            }
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        self.outcomes.iter().sum()
    }

    /// Successful requests.
    pub fn ok(&self) -> u64 {
        self.outcomes[Outcome::Ok.index()]
    }

    /// Failed requests.
    pub fn errors(&self) -> u64 {
        self.total() - self.ok()
    }

    /// Count of one outcome.
    pub fn count(&self, o: Outcome) -> u64 {
        self.outcomes[o.index()]
    }
}
