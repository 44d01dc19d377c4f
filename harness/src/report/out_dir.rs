//! The output directory as one unit: a run's whole set (`results.json`, reports, charts,
//! interval logs) is written into a sibling staging folder and swapped in, so a reader
//! (or a run killed half-way, SIGKILL included) never sees the new `results.json` next to
//! the previous run's `report.md`.
//!
//! - [`prepare_out_dir`] checks, before any load, that `--out` can be written, and creates
//!   nothing: a refused run (exit 2) leaves no folder behind.
//! - [`OutSet::begin`] creates `.<name>.gameday-new-<pid>-<n>` next to `--out`; the caller
//!   writes the set into [`OutSet::dir`]; [`OutSet::commit`] renames the previous `--out`
//!   away (`.<name>.gameday-old-<pid>-<n>`), renames the new set in and removes the old
//!   one. Between the two renames `--out` is briefly absent: never a mix.
//! - Staging and old folders of runs whose process is gone, and stray `.tmp*` files of
//!   interrupted atomic writes in `--out`, are removed by the next [`OutSet::begin`].
//! - [`default_dir`]: `out/<name>` when no `--out` is given, from a sanitised scenario
//!   name: `[A-Za-z0-9._-]` kept, every other run of characters one `-`, never `..`, an
//!   absolute path or an empty name, so a name never chooses a path outside `out/`.
//! - A `--out` holding files gameday does not write (`--out .`) is never moved: the new
//!   set is moved in file by file there, after the previous set's files are removed.

use std::path::{Path, PathBuf};

use crate::Error;

/// The entries gameday writes into `--out` (a name, or a prefix ending in `*`).
const OURS: [&str; 11] = [
    "results.json",
    "report.md",
    "report.html",
    "junit.xml",
    "charts",
    "hlog",
    "plan.json",
    "plan.svg",
    "calibrated-profile.toml",
    "live-week*",
    ".tmp*",
];

fn is_ours(name: &str) -> bool {
    OURS.iter().any(|o| match o.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *o,
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

/// The folder `dir` sits in (`.` for a bare name).
fn parent_of(dir: &Path) -> &Path {
    dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Checks, before any load is sent, that `dir` can be written (or created) and swapped:
/// the nearest existing folder of `dir`'s parent accepts a file. Creates nothing that
/// stays.
pub fn prepare_out_dir(dir: &Path) -> Result<(), Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Io { path: dir.to_path_buf(), source: std::io::ErrorKind::NotADirectory.into() });
    }
    let mut probe_in = parent_of(dir).to_path_buf();
    while !probe_in.exists() {
        match probe_in.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => probe_in = p.to_path_buf(),
            None => {
                probe_in = PathBuf::from(".");
                break;
            }
        }
    }
    if !probe_in.is_dir() {
        return Err(Error::Io { path: probe_in, source: std::io::ErrorKind::NotADirectory.into() });
    }
    let probe = tempfile::NamedTempFile::new_in(&probe_in).map_err(io(dir))?;
    probe.close().map_err(io(dir))?;
    if dir.is_dir() {
        let probe = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
        probe.close().map_err(io(dir))?;
    }
    Ok(())
}

/// A run's output set being written (see the module docs). Dropped without
/// [`OutSet::commit`], it removes what it staged.
#[derive(Debug)]
pub struct OutSet {
    out: PathBuf,
    staging: Option<tempfile::TempDir>,
    /// The folders `begin` created above the staging folder (removed again, if empty,
    /// when the set is dropped uncommitted), nearest first.
    created: Vec<PathBuf>,
}

impl OutSet {
    /// Removes what dead runs left next to and in `out`, then creates the staging folder.
    pub fn begin(out: &Path) -> Result<OutSet, Error> {
        let parent = parent_of(out);
        let created: Vec<PathBuf> = parent
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        sweep(out);
        let staging = tempfile::Builder::new()
            .prefix(&format!("{}{}-", staging_prefix(out, "new"), std::process::id()))
            .tempdir_in(parent)
            .map_err(io(parent))?;
        set_mode(staging.path(), 0o755).map_err(io(staging.path()))?;
        Ok(OutSet { out: out.to_path_buf(), staging: Some(staging), created })
    }

    /// Where to write the set now.
    pub fn dir(&self) -> &Path {
        self.staging.as_ref().map_or(self.out.as_path(), tempfile::TempDir::path)
    }

    /// Where the set will be.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Swaps the staged set in as `out`; returns `out`.
    pub fn commit(mut self) -> Result<PathBuf, Error> {
        self.created.clear();
        let Some(staging) = self.staging.take() else { return Ok(self.out.clone()) };
        let staged = staging.keep();
        let result = swap_in(&staged, &self.out);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staged);
        }
        result.map(|()| self.out.clone())
    }
}

impl Drop for OutSet {
    /// Uncommitted (a run that failed to write): nothing it made stays.
    fn drop(&mut self) {
        drop(self.staging.take());
        for dir in &self.created {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn swap_in(staged: &Path, out: &Path) -> Result<(), Error> {
    let foreign = match std::fs::read_dir(out) {
        Ok(entries) => entries.filter_map(Result::ok).any(|e| !is_ours(&e.file_name().to_string_lossy())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::rename(staged, out).map_err(io(out));
        }
        Err(e) => return Err(io(out)(e)),
    };
    if foreign {
        return move_in_file_by_file(staged, out);
    }
    let old = tempfile::Builder::new()
        .prefix(&format!("{}{}-", staging_prefix(out, "old"), std::process::id()))
        .tempdir_in(parent_of(out))
        .map_err(io(out))?
        .keep();
    // `old` is a fresh empty folder: rename replaces it.
    std::fs::rename(out, &old).map_err(io(out))?;
    if let Err(e) = std::fs::rename(staged, out) {
        let _ = std::fs::rename(&old, out);
        return Err(io(out)(e));
    }
    std::fs::remove_dir_all(&old).map_err(io(&old))
}

/// `out` holds files that are not gameday's: remove the previous set, then move the new
/// one in entry by entry (no mix: the old set is gone before the new arrives).
fn move_in_file_by_file(staged: &Path, out: &Path) -> Result<(), Error> {
    for e in std::fs::read_dir(out).map_err(io(out))?.filter_map(Result::ok) {
        if is_ours(&e.file_name().to_string_lossy()) {
            let path = e.path();
            let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            removed.map_err(io(&path))?;
        }
    }
    for e in std::fs::read_dir(staged).map_err(io(staged))?.filter_map(Result::ok) {
        let to = out.join(e.file_name());
        std::fs::rename(e.path(), &to).map_err(io(&to))?;
    }
    std::fs::remove_dir_all(staged).map_err(io(staged))
}

/// `.<name>.gameday-<what>-`: the start of a staging (`new`) or old (`old`) folder's name.
fn staging_prefix(out: &Path, what: &str) -> String {
    let name = out.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    format!(".{name}.gameday-{what}-")
}

/// Removes staging and old folders next to `out` whose process is gone, and stray `.tmp*`
/// files in `out`. Best effort: what cannot be removed stays.
fn sweep(out: &Path) {
    let prefixes = [staging_prefix(out, "new"), staging_prefix(out, "old")];
    if let Ok(entries) = std::fs::read_dir(parent_of(out)) {
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = prefixes.iter().find_map(|p| name.strip_prefix(p.as_str())) else { continue };
            let pid = rest.split('-').next().and_then(|p| p.parse::<i32>().ok());
            if pid.is_some_and(|p| !pid_alive(p)) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(out) {
        for e in entries.filter_map(Result::ok) {
            let stray = e.file_name().to_string_lossy().starts_with(".tmp") && e.path().is_file();
            if stray {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Whether process `pid` exists (a process we may not signal exists too).
pub fn pid_alive(pid: i32) -> bool {
    !matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH))
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// `out/<sanitised name><suffix>` (`suffix` such as `-plan`, `-merged`, or empty).
pub fn default_dir(name: &str, suffix: &str) -> PathBuf {
    Path::new("out").join(format!("{}{suffix}", sanitise(name)))
}

/// `name` reduced to a safe single path component (see the module doc).
pub fn sanitise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches(|c| c == '.' || c == '-');
    let capped: String = trimmed.chars().take(100).collect();
    if capped.is_empty() {
        "scenario".to_owned()
    } else {
        capped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_committed_set_replaces_the_previous_one_whole() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("run");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("report.md"), "old").unwrap();
        std::fs::write(out.join("junit.xml"), "old").unwrap();
        std::fs::write(out.join(".tmpAbC12"), "stray").unwrap();
        let set = OutSet::begin(&out).unwrap();
        assert!(!out.join(".tmpAbC12").exists(), "stray temp file removed");
        std::fs::write(set.dir().join("results.json"), "new").unwrap();
        set.commit().unwrap();
        assert_eq!(names(&out), ["results.json"]);
        assert_eq!(names(root.path()), ["run"], "no staging or old folder left");
    }

    #[test]
    fn an_uncommitted_set_leaves_nothing_and_the_old_set_whole() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("run");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("report.md"), "old").unwrap();
        let set = OutSet::begin(&out).unwrap();
        std::fs::write(set.dir().join("results.json"), "new").unwrap();
        drop(set);
        assert_eq!(names(&out), ["report.md"]);
        assert_eq!(names(root.path()), ["run"]);
    }

    #[test]
    fn foreign_files_stay_and_the_old_set_goes() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("mine");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("notes.txt"), "keep").unwrap();
        std::fs::write(out.join("junit.xml"), "old").unwrap();
        let set = OutSet::begin(&out).unwrap();
        std::fs::write(set.dir().join("results.json"), "new").unwrap();
        set.commit().unwrap();
        assert_eq!(names(&out), ["notes.txt", "results.json"]);
        assert_eq!(names(root.path()), ["mine"]);
    }

    #[test]
    fn an_uncommitted_set_removes_the_folders_it_created() {
        let root = tempfile::tempdir().unwrap();
        let set = OutSet::begin(&root.path().join("a").join("b").join("run")).unwrap();
        assert!(set.dir().is_dir());
        drop(set);
        assert!(names(root.path()).is_empty());
    }

    #[test]
    fn preparing_creates_nothing() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("a").join("b");
        prepare_out_dir(&out).unwrap();
        assert!(names(root.path()).is_empty());
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn a_safe_name_is_kept() {
        assert_eq!(default_dir("smoke", ""), Path::new("out/smoke"));
        assert_eq!(default_dir("midnight-growth_2.1", "-plan"), Path::new("out/midnight-growth_2.1-plan"));
    }

    #[test]
    fn a_hostile_name_stays_one_level_under_out() {
        for name in ["../../x", "/etc", "..", ".", "a/../../b", "", "\u{0}", "x/y", "~root", "C:\\x"] {
            let dir = default_dir(name, "");
            let parts: Vec<_> = dir.components().collect();
            assert_eq!(parts.len(), 2, "{name:?} -> {}", dir.display());
            assert_eq!(parts[0].as_os_str(), "out");
            let last = parts[1].as_os_str().to_string_lossy();
            assert!(!last.starts_with('.') && !last.contains('/') && !last.is_empty(), "{name:?} -> {last}");
        }
        assert_eq!(sanitise("../../x"), "x");
        assert_eq!(sanitise("Midnight smoke, 2x"), "Midnight-smoke-2x");
    }
}
