//! Time series of a run on the virtual clock: client-side samples and scraped metrics.
//!
//! (Interface stub: the types rules evaluate over; the scraper lands with issue 5.)

use std::collections::{BTreeMap, BTreeSet};

use crate::load::KindStats;

/// One scraped metric with one label set, sampled over the run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Metric name as exposed (`gameday_queue_depth`).
    pub name: String,
    /// Labels, including `service` and `instance` added by the scraper.
    pub labels: BTreeMap<String, String>,
    /// `(simulated seconds since the run's start, value)`, in time order.
    pub samples: Vec<(f64, f64)>,
}

/// Everything rules can read about a run.
#[derive(Clone, Debug, Default)]
pub struct RunData {
    /// Length of one recording interval, simulated seconds.
    pub step_s: f64,
    /// Length of the run, simulated seconds.
    pub duration_s: f64,
    /// Request kind names, by index in the mix.
    pub requests: Vec<String>,
    /// Client-side stats per interval (interval `i` covers `[i*step_s, (i+1)*step_s)`).
    pub intervals: BTreeMap<u64, Vec<KindStats>>,
    /// Scraped series.
    pub series: Vec<Series>,
    /// What could not be observed (a target without `/metrics`, a metric it lacks).
    pub problems: Vec<String>,
}

/// Metric names a target exposes, with the label names seen on each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Metric name -> label names.
    pub metrics: BTreeMap<String, BTreeSet<String>>,
}
