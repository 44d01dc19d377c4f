//! The index directory's on-disk format: paths, manifests, document files, release
//! names, and the writers that stage releases and swap the `current` symlink.
//!
//! Everything here is plain files a person or a drill can inspect and break: a release
//! is `releases/<ver>/manifest.json` listing every `docs/<id>.json` with its SHA-256;
//! `current` is a symlink swapped by writing a new link and renaming it over the old one
//! (what `ln -sfn` does), so a reader sees either the old or the new release.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::corpus::{valid_id, Document};
use super::index::IndexError;

/// The symlink naming the serving release.
pub const CURRENT: &str = "current";
/// The directory holding one directory per release.
pub const RELEASES: &str = "releases";
/// The directory of source documents a rebuild reads.
pub const SOURCE: &str = "source";
/// A release's manifest file.
pub const MANIFEST: &str = "manifest.json";
/// The manifest format this index reads.
pub const FORMAT: u32 = 1;

pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |e| IndexError::Io { path: path.to_owned(), reason: e.to_string() }
}

/// A release's manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: u32,
    /// The release's name (informational; the directory name is what counts).
    pub release: String,
    /// When the release was built.
    pub created_unix_ms: u64,
    /// Every document file with its SHA-256.
    pub documents: Vec<ManifestEntry>,
}

/// One document file of a release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// The document's id.
    pub id: String,
    /// Path of the file, relative to the release directory.
    pub path: String,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// The size and modification time of a manifest: when either changes, reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    len: u64,
    modified: SystemTime,
}

pub(super) fn stamp(path: &Path) -> Result<Stamp, IndexError> {
    let meta = fs::metadata(path).map_err(|e| IndexError::Missing { path: path.to_owned(), reason: e.to_string() })?;
    Ok(Stamp { len: meta.len(), modified: meta.modified().unwrap_or(UNIX_EPOCH) })
}

fn safe_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(super) fn read_manifest(dir: &Path) -> Result<(Manifest, Stamp), IndexError> {
    let path = dir.join(MANIFEST);
    let st = stamp(&path)?;
    let bytes = fs::read(&path).map_err(|e| IndexError::Missing { path: path.clone(), reason: e.to_string() })?;
    let corrupt = |reason: String| IndexError::Corrupt { path: path.clone(), reason };
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if m.format != FORMAT {
        return Err(corrupt(format!("format {} (this index reads {FORMAT})", m.format)));
    }
    Ok((m, st))
}

pub(super) fn read_document(dir: &Path, entry: &ManifestEntry) -> Result<(Document, u64), IndexError> {
    let path = dir.join(&entry.path);
    let corrupt = |reason: String| IndexError::Corrupt { path: path.clone(), reason };
    if !valid_id(&entry.id) || !safe_relative(&entry.path) {
        return Err(corrupt(format!("bad manifest entry id `{}` path `{}`", entry.id, entry.path)));
    }
    let bytes = fs::read(&path).map_err(|e| IndexError::Missing { path: path.clone(), reason: e.to_string() })?;
    let digest = sha256_hex(&bytes);
    if digest != entry.sha256 {
        return Err(corrupt(format!("sha256 {digest} does not match the manifest's {}", entry.sha256)));
    }
    let doc: Document = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if doc.id != entry.id {
        return Err(corrupt(format!("holds document `{}`, manifest says `{}`", doc.id, entry.id)));
    }
    Ok((doc, bytes.len() as u64))
}

/// Sort key of a release name: its text before the trailing number, then the number.
pub(super) fn release_key(name: &str) -> (String, u64, String) {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, num) = name.split_at(name.len() - digits);
    (stem.to_owned(), num.parse().unwrap_or(0), name.to_owned())
}

/// `v<N+1>` where N is the highest number of a `v<N>` release.
pub fn next_release_name(existing: &[String]) -> String {
    let max =
        existing.iter().filter_map(|n| n.strip_prefix('v').and_then(|d| d.parse::<u64>().ok())).max().unwrap_or(0);
    format!("v{}", max + 1)
}

/// Atomically points `<root>/current` at `releases/<release>` (symlink + rename).
pub fn point_current(root: &Path, release: &str) -> Result<(), IndexError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = root.join(format!(".current.tmp-{}-{n}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(Path::new(RELEASES).join(release), &tmp).map_err(io_err(&tmp))?;
    let link = root.join(CURRENT);
    fs::rename(&tmp, &link).map_err(io_err(&link))
}

/// Writes `docs` as release `name` (staged in a hidden directory, then renamed into
/// place so a half-written release is never visible).
pub fn write_release(root: &Path, name: &str, docs: &[Document]) -> Result<PathBuf, IndexError> {
    let releases = root.join(RELEASES);
    let staging = releases.join(format!(".staging-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(staging.join("docs")).map_err(io_err(&staging))?;
    let mut entries = Vec::with_capacity(docs.len());
    for doc in docs {
        let rel = format!("docs/{}.json", doc.id);
        let bytes = serde_json::to_vec_pretty(doc)
            .map_err(|e| IndexError::Io { path: staging.join(&rel), reason: e.to_string() })?;
        fs::write(staging.join(&rel), &bytes).map_err(io_err(&staging.join(&rel)))?;
        entries.push(ManifestEntry { id: doc.id.clone(), path: rel, sha256: sha256_hex(&bytes) });
    }
    let manifest =
        Manifest { format: FORMAT, release: name.to_owned(), created_unix_ms: unix_ms(), documents: entries };
    let path = staging.join(MANIFEST);
    let bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| IndexError::Io { path: path.clone(), reason: e.to_string() })?;
    fs::write(&path, bytes).map_err(io_err(&path))?;
    let dest = releases.join(name);
    fs::rename(&staging, &dest).map_err(io_err(&dest))?;
    Ok(dest)
}

/// Writes the source documents (`source/<id>.json`).
pub fn write_source(root: &Path, docs: &[Document]) -> Result<(), IndexError> {
    let dir = root.join(SOURCE);
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    for doc in docs {
        let path = dir.join(format!("{}.json", doc.id));
        let bytes =
            serde_json::to_vec_pretty(doc).map_err(|e| IndexError::Io { path: path.clone(), reason: e.to_string() })?;
        fs::write(&path, bytes).map_err(io_err(&path))?;
    }
    Ok(())
}

pub(super) fn read_source(dir: &Path) -> Result<Vec<Document>, IndexError> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut docs = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = fs::read(&path).map_err(io_err(&path))?;
        let doc: Document = serde_json::from_slice(&bytes)
            .map_err(|e| IndexError::Corrupt { path: path.clone(), reason: e.to_string() })?;
        if !valid_id(&doc.id) {
            return Err(IndexError::Corrupt { path, reason: format!("bad id `{}`", doc.id) });
        }
        docs.push(doc);
    }
    Ok(docs)
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
