//! Why an output could not be written or an input log read: [`ReportError`], whose
//! variant decides the exit code (a results file that cannot be serialised or an interval
//! log that cannot be encoded is a failed run, exit 3; a log given to read that is not
//! one is bad usage, exit 2).

use std::path::PathBuf;

use hdrhistogram::serialization::interval_log::{IntervalLogWriterError, LogIteratorError};
use hdrhistogram::serialization::{DeserializeError, V2DeflateSerializeError};

use super::results::HdrError;
use crate::Exit;

/// Why `report` could not write an output or read an interval log.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `results.json` could not be serialised.
    #[error("cannot serialise results: {0}")]
    Serialise(#[source] serde_json::Error),
    /// A request kind's interval log could not be encoded.
    #[error("interval log of `{kind}`: {source}")]
    LogWrite {
        /// The request kind.
        kind: String,
        /// What failed.
        #[source]
        source: LogWriteError,
    },
    /// A file given as an interval log is not one.
    #[error("{}: not an interval log: {:?}", .path.display(), .found)]
    NotALog {
        /// The file.
        path: PathBuf,
        /// Where parsing stopped.
        found: LogIteratorError,
    },
    /// An interval's histogram is not base64.
    #[error("{}: interval at {start_s}s: not base64: {source}", .path.display())]
    LogBase64 {
        /// The file.
        path: PathBuf,
        /// The interval's start, seconds.
        start_s: f64,
        /// What the decoder refused.
        #[source]
        source: base64::DecodeError,
    },
    /// An interval's histogram is not HdrHistogram's encoding.
    #[error("{}: interval at {start_s}s: not an HdrHistogram: {source:?}", .path.display())]
    LogHistogram {
        /// The file.
        path: PathBuf,
        /// The interval's start, seconds.
        start_s: f64,
        /// What the deserialiser refused.
        #[source]
        source: DeserializeError,
    },
}

/// What failed while encoding one interval log.
#[derive(Debug, thiserror::Error)]
pub enum LogWriteError {
    /// The log's header could not be written.
    #[error("{0}")]
    Header(#[source] std::io::Error),
    /// An interval's start or length is not a duration.
    #[error("interval at {at_s}s: {source}")]
    Time {
        /// The value, seconds.
        at_s: f64,
        /// Why it is not a duration.
        #[source]
        source: std::time::TryFromFloatSecsError,
    },
    /// An interval's histogram in the results cannot be decoded.
    #[error("interval at {start_s}s: {source}")]
    Decode {
        /// The interval's start, seconds.
        start_s: f64,
        /// Why.
        #[source]
        source: HdrError,
    },
    /// An interval could not be written.
    #[error("interval at {start_s}s: {source}")]
    Write {
        /// The interval's start, seconds.
        start_s: f64,
        /// Why.
        #[source]
        source: IntervalLogWriterError<V2DeflateSerializeError>,
    },
}

impl ReportError {
    /// The exit code: an output that cannot be written fails the run (3); a log given to
    /// read that is not one is bad usage (2).
    pub fn exit(&self) -> Exit {
        match self {
            Self::Serialise(_) | Self::LogWrite { .. } => Exit::RunFailed,
            Self::NotALog { .. } | Self::LogBase64 { .. } | Self::LogHistogram { .. } => Exit::Usage,
        }
    }
}
