//! Run outputs: `results.json` (versioned, written atomically), the terminal table and the
//! plan's SVG chart ([`plan_chart`]).
//!
//! Files are written to a temporary file in the output directory and renamed into place,
//! so a reader never sees half a file and a crash never leaves one.

pub mod plan_chart;
pub mod results;
pub mod table;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;

pub use results::{RequestSummary, Results, RunVerdict};

/// Creates `dir` if needed and proves it is writable, before any load is sent.
pub fn prepare_out_dir(dir: &Path) -> Result<(), Error> {
    let io = |source| Error::Io { path: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    let probe = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    probe.close().map_err(io)
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Writes `results.json` into `dir`; returns its path.
pub fn write_results(dir: &Path, results: &Results) -> Result<PathBuf, Error> {
    let path = dir.join("results.json");
    let json =
        serde_json::to_vec_pretty(results).map_err(|e| Error::RunFailed(format!("cannot serialise results: {e}")))?;
    write_atomic(&path, &json)?;
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
