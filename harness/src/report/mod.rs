//! Run outputs, the same set for `run`, `gate`, `drill` and `plan`, written into `--out`:
//! - `results.json` ([`results`], versioned, schema in `reports/results.schema.json`);
//! - `report.md`, `report.html` and `junit.xml`: renderings ([`markdown`], [`html`],
//!   [`junit`]) of one [`doc::Doc`] built from the results;
//! - `charts/*.svg`: [`figures`] picks what to draw from the results, [`charts`] draws
//!   it (latency over time, the percentile distribution, throughput and errors over
//!   time);
//! - `hlog/<kind>.hlog` ([`hlog`]): HdrHistogram interval logs per request kind;
//! - the terminal table ([`table`]); [`merge`] combines shards' results (`gameday merge`).
//!
//! Files are written to a temporary file and renamed into place, so a reader never sees
//! half a file; a run's whole set is staged next to `--out` and swapped in ([`out_dir`]),
//! so a reader never sees the new results beside the previous run's reports.

pub mod chart_kit;
pub mod charts;
pub mod doc;
pub mod error;
pub mod figures;
pub mod hlog;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod out_dir;
pub mod results;
pub mod section;
pub mod table;
#[cfg(test)]
mod testing;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;

pub use error::ReportError;
pub use hlog::{read_hlog, write_hlogs};
pub use merge::{merge, merge_labelled, MergeError};
pub use out_dir::{prepare_out_dir, OutSet};
pub use results::{RequestSummary, Results, RunVerdict};

/// Writes `bytes` to `path` atomically (temp file in the same directory, then rename),
/// with credentials in URLs masked ([`crate::redact`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(&crate::redact::scrub_bytes(bytes)).map_err(io)?;
    // Reports are for people and CI artifact uploaders: world-readable like any output
    // file, not the temp file's private 0600.
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Writes `results.json` (plain [`Results`] or a command's [`section::Extended`]) into
/// `dir`; returns its path.
pub fn write_results<R: serde::Serialize>(dir: &Path, results: &R) -> Result<PathBuf, Error> {
    let path = dir.join("results.json");
    let json = serde_json::to_vec_pretty(results).map_err(ReportError::Serialise)?;
    write_atomic(&path, &json)?;
    Ok(path)
}

/// Writes `report.md`, `report.html`, `junit.xml` and `charts/*.svg` for `doc` into `dir`.
pub fn write_reports(dir: &Path, doc: &doc::Doc) -> Result<(), Error> {
    write_atomic(&dir.join("report.md"), markdown::render(doc).as_bytes())?;
    write_atomic(&dir.join("report.html"), html::render(doc).as_bytes())?;
    write_atomic(&dir.join("junit.xml"), junit::render(doc).as_bytes())?;
    if !doc.figures.is_empty() {
        let charts = dir.join("charts");
        std::fs::create_dir_all(&charts).map_err(|source| Error::Io { path: charts.clone(), source })?;
        for f in &doc.figures {
            write_atomic(&charts.join(&f.file), f.svg.as_bytes())?;
        }
    }
    Ok(())
}

/// A results document an output set is written from: a run's or a merge's [`Results`],
/// or a command's [`section::Extended`] (`gate`, `drill`, `plan`).
pub trait Outputs: serde::Serialize {
    /// The run's part: its request kinds are the interval logs.
    fn run(&self) -> &Results;
    /// The report document (`report.md`, `report.html`, `junit.xml`, `charts/`).
    fn doc(&self) -> doc::Doc;
}

impl Outputs for Results {
    fn run(&self) -> &Results {
        self
    }

    fn doc(&self) -> doc::Doc {
        let mut doc = doc::Doc::from_results(self);
        doc.figures = figures::for_results(self, &[]);
        doc
    }
}

impl<E: serde::Serialize + section::Section> Outputs for section::Extended<E> {
    fn run(&self) -> &Results {
        &self.run
    }

    fn doc(&self) -> doc::Doc {
        E::doc(self)
    }
}

/// Writes every output of a run, gate, drill, plan or merge as one set swapped in as
/// `dir` ([`OutSet`]); returns the results file's path.
pub fn write_run_outputs<R: Outputs>(dir: &Path, results: &R) -> Result<PathBuf, Error> {
    let set = OutSet::begin(dir)?;
    write_run_set(set.dir(), results)?;
    Ok(set.commit()?.join("results.json"))
}

/// Writes the outputs of `results` into `dir` in place (a set being staged):
/// `results.json`, the interval logs and the reports; returns the results file's path.
pub fn write_run_set<R: Outputs>(dir: &Path, results: &R) -> Result<PathBuf, Error> {
    let path = write_results(dir, results)?;
    write_hlogs(dir, results.run())?;
    write_reports(dir, &results.doc())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn unwritable_out_dir_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let err = prepare_out_dir(&file.join("sub")).unwrap_err();
        assert!(err.to_string().contains("a-file"), "{err}");
        assert_eq!(err.exit(), crate::Exit::RunFailed);
    }
}
