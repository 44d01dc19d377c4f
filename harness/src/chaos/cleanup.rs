//! Temporary folders a drill's targets need (a supervised process's manifest and profile,
//! the Grahmos edge's index and certificates), removed on every way out we can run code
//! on, and after the ways we cannot.
//!
//! Each folder is named `<prefix><pid>-<random>` in the temporary directory and removed
//! when its [`tempfile::TempDir`] is dropped and, since a target may still be shared when
//! the process ends, again by [`remove_at_exit`] (the CLI calls it last). A gameday that
//! was SIGKILLed runs neither: the next [`temp_dir`] of the same prefix removes the
//! folders whose process is gone.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::report::out_dir::pid_alive;

fn registered() -> &'static Mutex<Vec<PathBuf>> {
    static PATHS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    &PATHS
}

/// Creates `<tmp>/<prefix><pid>-<random>/` (after removing those of dead processes) and
/// registers it for [`remove_at_exit`].
pub fn temp_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    sweep(&std::env::temp_dir(), prefix);
    let dir = tempfile::Builder::new().prefix(&format!("{prefix}{}-", std::process::id())).tempdir()?;
    registered().lock().unwrap_or_else(PoisonError::into_inner).push(dir.path().to_path_buf());
    Ok(dir)
}

/// Removes every folder [`temp_dir`] made that is still there.
pub fn remove_at_exit() {
    let paths = std::mem::take(&mut *registered().lock().unwrap_or_else(PoisonError::into_inner));
    for p in paths {
        let _ = std::fs::remove_dir_all(p);
    }
}

/// Removes `<dir>/<prefix><pid>-*` whose process `pid` is gone. Best effort.
pub fn sweep(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(prefix) else { continue };
        let Some((pid, _)) = rest.split_once('-') else { continue };
        let Ok(pid) = pid.parse::<i32>() else { continue };
        if pid > 0 && !pid_alive(pid) && e.path().is_dir() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_dead_processes_go_and_the_living_stay() {
        let root = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let mine = root.path().join(format!("gameday-proc-{}-abc", std::process::id()));
        let gone = root.path().join(format!("gameday-proc-{dead}-abc"));
        let other = root.path().join("gameday-proc-xyz");
        for d in [&mine, &gone, &other] {
            std::fs::create_dir(d).unwrap();
        }
        sweep(root.path(), "gameday-proc-");
        assert!(mine.exists() && other.exists());
        assert!(!gone.exists());
    }
}
