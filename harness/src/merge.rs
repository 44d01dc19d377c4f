//! `gameday merge FILE... [--out DIR]`: several runs' `results.json` as one run.
//!
//! Each file is read, checked to be a results file of this schema version, and the set is
//! merged exactly ([`crate::report::merge_labelled`]: histograms, counts and series), then
//! judged and written as `gameday run` writes its own (default `out/<scenario>-merged`).

use std::path::{Path, PathBuf};

use crate::report::{self, results::SCHEMA_VERSION, Results};
use crate::{Error, Exit};

/// Why `gameday merge` refused its inputs (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum MergeCmdError {
    /// Fewer than two files.
    #[error("merge needs at least 2 results files, got {0}")]
    TooFewFiles(usize),
    /// A file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not JSON.
    #[error("{}: not JSON: {source}", path.display())]
    NotJson {
        /// The file.
        path: PathBuf,
        /// serde's refusal.
        source: serde_json::Error,
    },
    /// A file is of another schema (`None`: the field is missing).
    #[error("{}: schema_version is {}: this gameday merges results files of schema {}", path.display(), found.map_or_else(|| "missing".to_owned(), |v| v.to_string()), SCHEMA_VERSION)]
    Schema {
        /// The file.
        path: PathBuf,
        /// Its `schema_version`.
        found: Option<u64>,
    },
    /// A file is JSON but not a results file.
    #[error("{}: not a results file: {}: {}", path.display(), source.path(), source.inner())]
    NotResults {
        /// The file.
        path: PathBuf,
        /// Where and why serde refused it.
        source: serde_path_to_error::Error<serde_json::Error>,
    },
    /// The results cannot be merged.
    #[error("{0}")]
    Merge(report::MergeError),
}

impl MergeCmdError {
    /// The exit code: every refusal is bad usage.
    pub fn exit(&self) -> Exit {
        Exit::Usage
    }
}

/// What `gameday merge` wrote.
#[derive(Debug)]
pub struct Merged {
    /// The merged, judged results.
    pub results: Results,
    /// Where `results.json` was written.
    pub results_path: PathBuf,
    /// The output directory.
    pub out: PathBuf,
}

/// Reads, checks, merges and writes `files` under `out` (default `out/<scenario>-merged`).
pub fn merge(files: &[PathBuf], out: Option<&Path>) -> Result<Merged, Error> {
    if files.len() < 2 {
        return Err(MergeCmdError::TooFewFiles(files.len()).into());
    }
    let inputs = files.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>()?;
    let labels: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let results = report::merge_labelled(&inputs, &labels).map_err(MergeCmdError::Merge)?;
    let out = out.map_or_else(|| report::out_dir::default_dir(&results.scenario, "-merged"), Path::to_path_buf);
    let results_path = report::write_run_outputs(&out, &results)?;
    Ok(Merged { results, results_path, out })
}

/// One results file, checked for its schema version before it is read as results.
fn read(path: &Path) -> Result<Results, MergeCmdError> {
    let bytes = std::fs::read(path).map_err(|source| MergeCmdError::Read { path: path.to_owned(), source })?;
    let version = serde_json::from_slice::<serde_json::Value>(&bytes)
        .map_err(|source| MergeCmdError::NotJson { path: path.to_owned(), source })?
        .get("schema_version")
        .and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(SCHEMA_VERSION)) {
        return Err(MergeCmdError::Schema { path: path.to_owned(), found: version });
    }
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|source| MergeCmdError::NotResults { path: path.to_owned(), source })
}
