//! Time series of a run on the virtual clock: client-side samples and scraped metrics.
//!
//! - [`text`]: a parser of the Prometheus text exposition format (classic 0.0.4);
//! - [`scrape`]: the scraper task, GETting each target's `/metrics` at an interval and
//!   keeping gauges and counters as [`Series`] on the run's simulated clock;
//! - [`targets`]: which endpoints are scraped (every embedded mock listener that serves
//!   its own `/metrics`; an external target's `metrics` URL, unless `scrape = false`);
//! - [`live`]: the run's data while it runs (drills read it);
//! - [`catalog`]: the metric and label names a service exposes, so a rule on an unknown
//!   metric or label is refused before a run.
//!
//! [`RunData`] is everything rules read about a finished run. A metric that could not be
//! observed is a line in [`RunData::problems`], never a series of zeros.
//!
//! Missing data follows Prometheus: every scrape adds `up` (1 or 0) and
//! `scrape_duration_seconds` for its target, and a series that a scrape did not return
//! (the scrape failed, or the target stopped exposing it) gets a staleness marker
//! ([`STALE_NAN`]) at that scrape's time. An instant lookup never looks past a marker,
//! and range functions skip markers.

pub mod catalog;
pub mod endpoints;
pub mod live;
pub mod scrape;
pub mod text;

pub use catalog::{discover, discover_with, Catalog};
pub use endpoints::scrape_targets;
pub use live::Tap;
pub use scrape::{spawn, spawn_tapped, ScrapeHealth, ScrapeTarget, Scraped, Want};

pub use gameday_core::series::{is_stale, RunData, Series, SCRAPE_SERIES, STALE_NAN};
