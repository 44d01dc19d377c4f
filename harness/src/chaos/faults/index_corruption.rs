//! Fault `index-corruption`: the Grahmos index's serving release is broken on disk.
//!
//! - `mode = "delete"` (default): the runbook's `rm -rf /data/indexes/current/*`: every
//!   file and directory inside the release `current` points to is removed;
//! - `mode = "garble"`: every file of that release is overwritten in place with random
//!   bytes of the same length (seeded).
//!
//! Before touching anything the release is copied into a temporary directory and every
//! file's SHA-256 recorded; rollback puts the exact bytes back and checks every hash
//! (idempotent: a release already identical to the backup is left alone). Detection:
//! the canary query fails (5xx) and the search engine's `/_healthz` answers 503.
//! Recoveries, through the search engine's hooks: `index-rollback` (`current` -> the
//! previous release that loads, the runbook's `ln -sfn releases/$PREV_VER current`) and
//! `index-rebuild` (a new release from the source documents).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::{BackupProblem, FaultError};
use crate::chaos::grahmos_edge::GrahmosTarget;
use crate::chaos::lookup;
use crate::chaos::undo::{BoxFuture, Injected, Rollback};
use crate::spec::drill::RecoveryAction;

pub use crate::spec::faults::index_corruption::{Mode, Spec};

const FAULT: &str = "index-corruption";

/// What injecting and rolling back will do (for `--dry-run`; touches nothing).
pub fn dry_run_steps(spec: &Spec) -> Vec<String> {
    let target = spec.target.as_deref().unwrap_or("the Grahmos target");
    let what = match spec.mode {
        Mode::Delete => "remove every file under the release `current` points to (rm -rf current/*)",
        Mode::Garble => "overwrite every file of the release `current` points to with random bytes",
    };
    vec![
        format!("inject: copy {target}'s serving release to a temporary backup, record SHA-256 of each file"),
        format!("inject: {what}"),
        "rollback: restore the exact bytes from the backup, verify every SHA-256".to_owned(),
    ]
}

/// Whether the target must run as its own process.
pub fn needs_process(_spec: &Spec) -> bool {
    false
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FaultError + '_ {
    move |source| FaultError::Io { path: path.to_owned(), source }
}

fn release_dir(g: &GrahmosTarget, name: &str) -> Result<PathBuf, FaultError> {
    let no = |what: String| FaultError::NoTarget { target: name.to_owned(), what };
    let root = g.handle().index_dir();
    if !root.is_dir() {
        return Err(no(format!("no index directory at {}", root.display())));
    }
    let dir = g.handle().index().current_target().map_err(|e| no(e.to_string()))?;
    if !dir.is_dir() {
        return Err(no(format!("`current` points to {}, which is not a directory", dir.display())));
    }
    Ok(dir)
}

/// Checks that the index directory and its serving release exist.
pub async fn preflight(spec: &Spec, env: &DrillEnv) -> Result<(), FaultError> {
    let g = lookup::grahmos(env, spec.target.as_deref(), FAULT)?;
    let dir = release_dir(g, spec.target.as_deref().unwrap_or("grahmos"))?;
    if files(&dir)?.is_empty() {
        return Err(FaultError::NoTarget {
            target: spec.target.clone().unwrap_or_else(|| "grahmos".into()),
            what: format!("the serving release {} holds no files", dir.display()),
        });
    }
    Ok(())
}

/// Every file under `dir`, relative, sorted.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, FaultError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let here = dir.join(&rel);
        for entry in fs::read_dir(&here).map_err(io(&here))? {
            let entry = entry.map_err(io(&here))?;
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            let child = rel.join(entry.file_name());
            if kind.is_dir() {
                stack.push(child);
            } else {
                out.push(child);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// SHA-256 (hex) of every file under `dir`, by relative path.
pub fn hashes(dir: &Path) -> Result<BTreeMap<PathBuf, String>, FaultError> {
    files(dir)?
        .into_iter()
        .map(|rel| {
            let path = dir.join(&rel);
            let bytes = fs::read(&path).map_err(io(&path))?;
            Ok((rel, hex::encode(Sha256::digest(&bytes))))
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), FaultError> {
    for rel in files(from)? {
        let dest = to.join(&rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        fs::copy(from.join(&rel), &dest).map_err(io(&dest))?;
    }
    Ok(())
}

fn empty_dir(dir: &Path) -> Result<(), FaultError> {
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let removed =
            if path.is_dir() && !path.is_symlink() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
        removed.map_err(io(&path))?;
    }
    Ok(())
}

fn garble(dir: &Path, seed: u64) -> Result<usize, FaultError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let all = files(dir)?;
    for rel in &all {
        let path = dir.join(rel);
        let len = fs::metadata(&path).map_err(io(&path))?.len().max(16);
        let mut junk = vec![0u8; usize::try_from(len).unwrap_or(4096)];
        rng.fill_bytes(&mut junk);
        fs::write(&path, &junk).map_err(io(&path))?;
    }
    Ok(all.len())
}

/// Backs the serving release up, breaks it, and returns the undo.
pub async fn inject(spec: &Spec, env: &DrillEnv) -> Result<Injected, FaultError> {
    preflight(spec, env).await?;
    let g = lookup::grahmos(env, spec.target.as_deref(), FAULT)?;
    let dir = release_dir(g, spec.target.as_deref().unwrap_or("grahmos"))?;
    let backup = tempfile::Builder::new()
        .prefix("gameday-index-backup-")
        .tempdir()
        .map_err(|e| FaultError::Backup { fault: FAULT, what: BackupProblem::Dir(e) })?;
    copy_tree(&dir, backup.path())?;
    let expected = hashes(&dir)?;
    if hashes(backup.path())? != expected {
        return Err(FaultError::Backup { fault: FAULT, what: BackupProblem::Mismatch(dir.clone()) });
    }
    let undo = RestoreIndex { dir: dir.clone(), backup: Mutex::new(Some(backup)), expected };
    let broken = match spec.mode {
        Mode::Delete => empty_dir(&dir).map(|()| format!("removed every file under {}", dir.display())),
        Mode::Garble => {
            garble(&dir, spec.seed.unwrap_or(0)).map(|n| format!("garbled {n} files under {}", dir.display()))
        }
    };
    match broken {
        Ok(description) => Ok(Injected { description, undo: Box::new(undo) }),
        Err(e) => {
            let _ = undo.restore();
            Err(e)
        }
    }
}

/// The undo: the exact bytes back from the backup, every hash verified.
pub struct RestoreIndex {
    dir: PathBuf,
    backup: Mutex<Option<tempfile::TempDir>>,
    expected: BTreeMap<PathBuf, String>,
}

impl RestoreIndex {
    fn restore(&self) -> Result<(), FaultError> {
        let guard = self.backup.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(backup) = guard.as_ref() else {
            return Err(FaultError::Backup { fault: FAULT, what: BackupProblem::Gone(self.dir.clone()) });
        };
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        if hashes(&self.dir).is_ok_and(|h| h == self.expected) {
            return Ok(());
        }
        empty_dir(&self.dir)?;
        copy_tree(backup.path(), &self.dir)?;
        let now = hashes(&self.dir)?;
        if now != self.expected {
            return Err(FaultError::Backup { fault: FAULT, what: BackupProblem::Restored(self.dir.clone()) });
        }
        Ok(())
    }
}

impl Rollback for RestoreIndex {
    fn describe(&self) -> String {
        format!("restore {} ({} files) from the backup, SHA-256 verified", self.dir.display(), self.expected.len())
    }

    fn rollback(&self) -> BoxFuture<'_, Result<(), FaultError>> {
        Box::pin(async move { self.restore() })
    }

    fn rollback_blocking(&self) -> Result<(), FaultError> {
        self.restore()
    }
}

/// Recoveries through the search engine's hooks: `index-rollback` and `index-rebuild`.
pub async fn recover(spec: &Spec, action: &RecoveryAction, env: &DrillEnv) -> Result<String, FaultError> {
    let g = lookup::grahmos(env, spec.target.as_deref(), FAULT)?;
    let hook = match action {
        RecoveryAction::IndexRollback => "rollback",
        RecoveryAction::IndexRebuild => "rebuild",
        _ => {
            return Err(FaultError::no_recovery(
                FAULT,
                spec.target.clone().unwrap_or_default(),
                action,
                "index-rollback or index-rebuild",
            ))
        }
    };
    admin_post(g, &format!("/admin/index/{hook}")).await.map(|v| {
        format!("index {hook}: current -> {} ({} documents)", v["release"].as_str().unwrap_or("?"), v["documents"])
    })
}

/// `POST` to one of the search engine's admin hooks; the JSON answer.
pub async fn admin_post(g: &Arc<GrahmosTarget>, path: &str) -> Result<serde_json::Value, FaultError> {
    admin_post_json(g, path, &serde_json::Value::Null).await
}

/// `POST` `body` (none when `Null`) to one of the search engine's admin hooks; the JSON answer.
pub async fn admin_post_json(
    g: &Arc<GrahmosTarget>,
    path: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, FaultError> {
    let url = format!("{}{path}", g.engine_url());
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(crate::http_guard::no_redirects())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|source| FaultError::Http { what: "HTTP client".into(), source })?;
    let mut req = client.post(&url);
    if !body.is_null() {
        req = req.json(body);
    }
    let resp = req.send().await.map_err(|source| FaultError::Http { what: url.clone(), source })?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        return Err(FaultError::HttpStatus { url, status, body });
    }
    Ok(body)
}
