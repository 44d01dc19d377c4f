//! The resolve step: cross-references of a parsed scenario that need more than the file,
//! checked above the engines and below the commands (ripgrep's LowArgs -> HiArgs).
//!
//! - [`metrics`]: every scraped metric a rule uses exists in some target's catalog, with
//!   the labels it matches.

pub mod metrics;

pub use metrics::check_metrics;
