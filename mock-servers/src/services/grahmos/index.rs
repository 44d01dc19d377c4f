//! The edge's on-disk search index: releases, the `current` symlink, load, swap, rollback.
//!
//! Layout (the runbook's blue/green procedure, `/data/indexes`):
//! ```text
//! <index_dir>/
//!   source/<id>.json                 the source documents (what a rebuild reads)
//!   releases/<ver>/manifest.json     {"format":1,"release":..,"documents":[{"id","path","sha256"}]}
//!   releases/<ver>/docs/<id>.json    one document per file (see `corpus::Document`)
//!   current -> releases/<ver>        the serving release (relative or absolute symlink)
//! ```
//! The serving index is an in-memory copy of the release `current` points to. Every
//! query re-reads the symlink and stats the manifest: when the target or the manifest
//! changed, the new release is loaded (every file read and its SHA-256 checked) into a
//! fresh index that then replaces the old one in one swap, so a release switch or a
//! rollback (`ln -sfn`) takes effect on the next query without restarting.
//!
//! Corruption is never papered over: a missing `current`, a deleted or unparsable
//! manifest, or a document whose bytes no longer match the manifest makes queries fail
//! (5xx) and `/_healthz` unhealthy. Hits are re-read from disk and checked before they
//! are returned, so a garbled file can never leak a document the in-memory ACL check
//! did not see. Recovery: [`IndexStore::rollback`] (previous release) or
//! [`IndexStore::rebuild_from_source`] (a new release from `source/`).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::corpus::{valid_id, Document, Label, Viewer};
use super::layout::{io_err, read_document, read_manifest, read_source, release_key, stamp, Stamp};
pub use super::layout::{
    next_release_name, point_current, unix_ms, write_release, write_source, Manifest, ManifestEntry, CURRENT, FORMAT,
    MANIFEST, RELEASES, SOURCE,
};

/// A broken index is re-examined at most this often when nothing on disk changed.
const BROKEN_RETRY: Duration = Duration::from_secs(1);

/// Why the index cannot serve.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum IndexError {
    /// `current` is missing or unreadable.
    #[error("{path}: no serving release: {reason}")]
    NoCurrent {
        /// The symlink.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// A file of the release is missing.
    #[error("{path}: missing: {reason}")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// A file of the release is not what the manifest says.
    #[error("{path}: corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No such release directory.
    #[error("no release `{0}` under releases/")]
    UnknownRelease(String),
    /// Rollback found no earlier release that loads.
    #[error("no earlier release loads (current: {0})")]
    NoPrevious(String),
    /// Writing the index failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
}

impl IndexError {
    /// The machine-readable code of the error (`index_unavailable`, `index_corrupt`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCurrent { .. } | Self::Missing { .. } => "index_unavailable",
            Self::Corrupt { .. } => "index_corrupt",
            Self::UnknownRelease(_) => "unknown_release",
            Self::NoPrevious(_) => "no_previous_release",
            Self::Io { .. } => "index_io",
        }
    }
}

/// A release's manifest.
/// A loaded release: documents and an inverted index over titles and bodies.
#[derive(Debug)]
pub struct LoadedIndex {
    release: String,
    target: PathBuf,
    docs: Vec<Document>,
    entries: Vec<ManifestEntry>,
    postings: HashMap<String, Vec<u32>>,
    manifest_stamp: Stamp,
    bytes: u64,
    loaded_unix_ms: u64,
}

impl LoadedIndex {
    /// The release's name (its directory name).
    pub fn release(&self) -> &str {
        &self.release
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether the release has no documents.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Bytes of document files.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// When this release was loaded.
    pub fn loaded_unix_ms(&self) -> u64 {
        self.loaded_unix_ms
    }
}

/// Splits text into lower-case alphanumeric terms.
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty() && t.len() <= 64)
        .map(str::to_lowercase)
        .collect()
}

/// Loads and checks every file of the release in `dir` into a fresh in-memory index.
pub fn load_release(dir: &Path) -> Result<LoadedIndex, IndexError> {
    let (manifest, manifest_stamp) = read_manifest(dir)?;
    let mut docs = Vec::with_capacity(manifest.documents.len());
    let mut postings: HashMap<String, Vec<u32>> = HashMap::new();
    let mut bytes = 0;
    for (i, entry) in manifest.documents.iter().enumerate() {
        let (doc, len) = read_document(dir, entry)?;
        bytes += len;
        let mut doc_terms = terms(&doc.title);
        doc_terms.extend(terms(&doc.content));
        doc_terms.sort();
        doc_terms.dedup();
        for t in doc_terms {
            postings.entry(t).or_default().push(u32::try_from(i).unwrap_or(u32::MAX));
        }
        docs.push(doc);
    }
    let release = dir.file_name().map_or_else(|| manifest.release.clone(), |n| n.to_string_lossy().into_owned());
    Ok(LoadedIndex {
        release,
        target: dir.to_owned(),
        docs,
        entries: manifest.documents,
        postings,
        manifest_stamp,
        bytes,
        loaded_unix_ms: unix_ms(),
    })
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Document id.
    pub id: String,
    /// Title.
    pub title: String,
    /// The start of the body.
    pub snippet: String,
    /// Access labels.
    pub labels: Vec<Label>,
    /// Tenants.
    pub tenants: Vec<String>,
    /// Number of query terms the document matched.
    pub score: u32,
    /// `edge` (local index) or `upstream` (fetched over the backhaul).
    pub source: String,
}

impl Hit {
    /// A hit for `doc` with `score`, from `source`.
    pub fn new(doc: &Document, score: u32, source: &str) -> Self {
        Self {
            id: doc.id.clone(),
            title: doc.title.clone(),
            snippet: doc.content.chars().take(160).collect(),
            labels: doc.labels.clone(),
            tenants: doc.tenants.clone(),
            score,
            source: source.to_owned(),
        }
    }
}

/// Ranks documents of `docs` for `query`: score = distinct query terms matched, then id.
/// Returns the visible matches (at most `limit`), how many were visible and how many the
/// access rule hid.
pub fn rank<'a>(
    docs: impl Fn(u32) -> Option<&'a Document>,
    postings: impl Fn(&str) -> Option<&'a [u32]>,
    query: &str,
    viewer: &Viewer,
    limit: usize,
) -> (Vec<(u32, &'a Document)>, usize, usize) {
    let mut q = terms(query);
    q.sort();
    q.dedup();
    q.truncate(16);
    let mut scores: HashMap<u32, u32> = HashMap::new();
    for t in &q {
        for &i in postings(t).unwrap_or(&[]) {
            *scores.entry(i).or_default() += 1;
        }
    }
    let mut visible = Vec::new();
    let mut hidden = 0;
    for (i, score) in scores {
        match docs(i) {
            Some(d) if viewer.may_see(d) => visible.push((score, d)),
            _ => hidden += 1,
        }
    }
    visible.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    let total = visible.len();
    visible.truncate(limit);
    (visible, total, hidden)
}

/// What a query found in the local index.
#[derive(Clone, Debug)]
pub struct LocalResult {
    /// The release that answered.
    pub release: String,
    /// The hits, best first.
    pub hits: Vec<Hit>,
    /// Visible matches before the limit.
    pub total: usize,
    /// Matches the access rule hid.
    pub hidden_by_acl: usize,
}

enum Snapshot {
    Ready(Arc<LoadedIndex>),
    Broken { target: Option<PathBuf>, stamp: Option<Stamp>, error: IndexError, since: Instant },
}

/// The index directory and the serving in-memory index.
pub struct IndexStore {
    root: PathBuf,
    state: RwLock<Arc<Snapshot>>,
    reload_lock: Mutex<()>,
    last_good: Mutex<Option<String>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

impl std::fmt::Debug for IndexStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexStore").field("root", &self.root).finish_non_exhaustive()
    }
}

/// A summary of the index for status pages and metrics.
#[derive(Clone, Debug, Serialize)]
pub struct IndexHealth {
    /// Whether queries can be answered.
    pub healthy: bool,
    /// The serving release (or the one `current` names, when broken).
    pub release: Option<String>,
    /// Documents in the serving release.
    pub documents: usize,
    /// Bytes of document files.
    pub bytes: u64,
    /// Why the index cannot serve.
    pub error: Option<String>,
    /// The error's code.
    pub error_code: Option<&'static str>,
}

impl IndexStore {
    /// An index rooted at `root` (which must already hold `current`, see [`super::seed`]).
    pub fn open(root: PathBuf) -> Self {
        let error = IndexError::NoCurrent { path: root.join(CURRENT), reason: "not loaded yet".into() };
        Self {
            root,
            state: RwLock::new(Arc::new(Snapshot::Broken {
                target: None,
                stamp: None,
                error,
                since: Instant::now() - BROKEN_RETRY,
            })),
            reload_lock: Mutex::new(()),
            last_good: Mutex::new(None),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
        }
    }

    /// The index directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// (successful, failed) loads so far.
    pub fn reloads(&self) -> (u64, u64) {
        (self.reloads_ok.load(Ordering::Relaxed), self.reloads_failed.load(Ordering::Relaxed))
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        match self.state.read() {
            Ok(s) => Arc::clone(&s),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    fn install(&self, snap: Snapshot) {
        if let Snapshot::Ready(ix) = &snap {
            *lock(&self.last_good) = Some(ix.release.clone());
        }
        let snap = Arc::new(snap);
        match self.state.write() {
            Ok(mut s) => *s = snap,
            Err(p) => *p.into_inner() = snap,
        }
    }

    /// The directory `current` points to.
    pub fn current_target(&self) -> Result<PathBuf, IndexError> {
        let link = self.root.join(CURRENT);
        let target = fs::read_link(&link).map_err(|e| IndexError::NoCurrent { path: link, reason: e.to_string() })?;
        Ok(if target.is_absolute() { target } else { self.root.join(target) })
    }

    /// The serving index, reloaded first if `current` or its manifest changed.
    pub fn current(&self) -> Result<Arc<LoadedIndex>, IndexError> {
        let target = match self.current_target() {
            Ok(t) => t,
            Err(e) => return Err(self.broken(None, None, e)),
        };
        let st = match stamp(&target.join(MANIFEST)) {
            Ok(s) => s,
            Err(e) => return Err(self.broken(Some(target), None, e)),
        };
        if let Some(answer) = self.cached(&target, st) {
            return answer;
        }
        let _guard = lock(&self.reload_lock);
        if let Some(answer) = self.cached(&target, st) {
            return answer;
        }
        match load_release(&target) {
            Ok(ix) => {
                self.reloads_ok.fetch_add(1, Ordering::Relaxed);
                let ix = Arc::new(ix);
                self.install(Snapshot::Ready(Arc::clone(&ix)));
                Ok(ix)
            }
            Err(e) => {
                self.reloads_failed.fetch_add(1, Ordering::Relaxed);
                Err(self.broken(Some(target), Some(st), e))
            }
        }
    }

    fn cached(&self, target: &Path, st: Stamp) -> Option<Result<Arc<LoadedIndex>, IndexError>> {
        match &*self.snapshot() {
            Snapshot::Ready(ix) if ix.target == target && ix.manifest_stamp == st => Some(Ok(Arc::clone(ix))),
            Snapshot::Broken { target: Some(t), stamp: Some(s), error, since }
                if t == target && *s == st && since.elapsed() < BROKEN_RETRY =>
            {
                Some(Err(error.clone()))
            }
            _ => None,
        }
    }

    fn broken(&self, target: Option<PathBuf>, stamp: Option<Stamp>, error: IndexError) -> IndexError {
        self.install(Snapshot::Broken { target, stamp, error: error.clone(), since: Instant::now() });
        error
    }

    /// Searches the serving release for `viewer`; each returned document is re-read and
    /// checked against the manifest first, so a corrupt file fails the query.
    pub fn search(&self, query: &str, viewer: &Viewer, limit: usize) -> Result<LocalResult, IndexError> {
        let ix = self.current()?;
        let (found, total, hidden) =
            rank(|i| ix.docs.get(i as usize), |t| ix.postings.get(t).map(Vec::as_slice), query, viewer, limit);
        let mut hits = Vec::with_capacity(found.len());
        for (score, doc) in found {
            self.check_on_disk(&ix, &doc.id)?;
            hits.push(Hit::new(doc, score, "edge"));
        }
        Ok(LocalResult { release: ix.release.clone(), hits, total, hidden_by_acl: hidden })
    }

    fn check_on_disk(&self, ix: &Arc<LoadedIndex>, id: &str) -> Result<(), IndexError> {
        let Some(entry) = ix.entries.iter().find(|e| e.id == id) else {
            return Ok(());
        };
        read_document(&ix.target, entry)
            .map(|_| ())
            .map_err(|e| self.broken(Some(ix.target.clone()), Some(ix.manifest_stamp), e))
    }

    /// Searches release `release` (loaded and checked afresh, whether serving or not):
    /// the runbook's probe of a staged release before the swap.
    pub fn search_release(
        &self,
        release: &str,
        query: &str,
        viewer: &Viewer,
        limit: usize,
    ) -> Result<LocalResult, IndexError> {
        let dir = self.root.join(RELEASES).join(release);
        if !valid_id(release) || !dir.is_dir() {
            return Err(IndexError::UnknownRelease(release.to_owned()));
        }
        let ix = load_release(&dir)?;
        let (found, total, hidden) =
            rank(|i| ix.docs.get(i as usize), |t| ix.postings.get(t).map(Vec::as_slice), query, viewer, limit);
        let hits = found.into_iter().map(|(score, d)| Hit::new(d, score, "edge")).collect();
        Ok(LocalResult { release: ix.release.clone(), hits, total, hidden_by_acl: hidden })
    }

    /// Full check: the serving release is re-read from disk and every file verified.
    pub fn verify(&self) -> Result<Arc<LoadedIndex>, IndexError> {
        let ix = self.current()?;
        for entry in &ix.entries {
            read_document(&ix.target, entry)
                .map_err(|e| self.broken(Some(ix.target.clone()), Some(ix.manifest_stamp), e))?;
        }
        Ok(ix)
    }

    /// The summary after the full check `/_healthz` makes ([`Self::verify`]: every file of
    /// the serving release re-read): what the `grahmos_index_*` series report, so they
    /// read as `/_healthz` answers. A failed check is installed as the index's state, so
    /// `/api/health` and searches see it too.
    pub fn checked_health(&self) -> IndexHealth {
        let _ = self.verify();
        self.health()
    }

    /// A summary without touching every file (status pages).
    pub fn health(&self) -> IndexHealth {
        let (ready, err) = match self.current() {
            Ok(ix) => (Some(ix), None),
            Err(e) => (None, Some(e)),
        };
        let release = ready.as_ref().map(|ix| ix.release.clone()).or_else(|| {
            self.current_target().ok().and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
        });
        IndexHealth {
            healthy: ready.is_some(),
            release,
            documents: ready.as_ref().map_or(0, |ix| ix.len()),
            bytes: ready.as_ref().map_or(0, |ix| ix.bytes),
            error_code: err.as_ref().map(IndexError::code),
            error: err.map(|e| e.to_string()),
        }
    }

    /// Release names under `releases/`, oldest first (`v2` before `v10`).
    pub fn releases(&self) -> Result<Vec<String>, IndexError> {
        let dir = self.root.join(RELEASES);
        let mut names: Vec<String> = fs::read_dir(&dir)
            .map_err(io_err(&dir))?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort_by_key(|n| release_key(n));
        Ok(names)
    }

    /// Loads `release` fully, then points `current` at it (atomic rename) and swaps it in.
    pub fn switch_to(&self, release: &str) -> Result<Arc<LoadedIndex>, IndexError> {
        if !valid_id(release) {
            return Err(IndexError::UnknownRelease(release.to_owned()));
        }
        let dir = self.root.join(RELEASES).join(release);
        if !dir.is_dir() {
            return Err(IndexError::UnknownRelease(release.to_owned()));
        }
        let _guard = lock(&self.reload_lock);
        let ix = Arc::new(load_release(&dir)?);
        point_current(&self.root, release)?;
        self.reloads_ok.fetch_add(1, Ordering::Relaxed);
        self.install(Snapshot::Ready(Arc::clone(&ix)));
        Ok(ix)
    }

    /// Points `current` at the newest release older than the current one that loads
    /// cleanly (the runbook's `ln -sfn releases/$PREV_VER current`).
    pub fn rollback(&self) -> Result<Arc<LoadedIndex>, IndexError> {
        let cur = self
            .current_target()
            .ok()
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
            .or_else(|| lock(&self.last_good).clone())
            .unwrap_or_default();
        let releases = self.releases()?;
        let older = releases.iter().rev().filter(|r| release_key(r) < release_key(&cur));
        for r in older {
            if let Ok(ix) = self.switch_to(r) {
                return Ok(ix);
            }
        }
        Err(IndexError::NoPrevious(cur))
    }

    /// Builds a new release from `source/` and switches to it.
    pub fn rebuild_from_source(&self) -> Result<Arc<LoadedIndex>, IndexError> {
        let docs = read_source(&self.root.join(SOURCE))?;
        let name = next_release_name(&self.releases()?);
        write_release(&self.root, &name, &docs)?;
        self.switch_to(&name)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::grahmos::corpus;

    fn store_with(releases: &[(&str, Vec<Document>)], current: &str) -> (tempfile::TempDir, IndexStore) {
        let dir = tempfile::tempdir().unwrap();
        for (name, docs) in releases {
            write_release(dir.path(), name, docs).unwrap();
        }
        point_current(dir.path(), current).unwrap();
        let store = IndexStore::open(dir.path().to_owned());
        (dir, store)
    }

    fn doc(id: &str, text: &str) -> Document {
        Document {
            id: id.into(),
            title: text.into(),
            content: text.into(),
            labels: vec![Label::Public],
            tenants: vec!["*".into()],
        }
    }

    #[test]
    fn release_names_sort_numerically() {
        let mut v = vec!["v10".to_owned(), "v9".into(), "v1".into()];
        v.sort_by_key(|n| release_key(n));
        assert_eq!(v, ["v1", "v9", "v10"]);
        assert_eq!(next_release_name(&v), "v11");
    }

    #[test]
    fn switch_rollback_and_corruption() {
        let v1 = vec![corpus::canary(), doc("alpha", "alpha words")];
        let v2 = vec![corpus::canary(), doc("beta", "beta words")];
        let (dir, store) = store_with(&[("v1", v1), ("v2", v2)], "v2");
        let anon = Viewer::anonymous();
        assert_eq!(store.search("beta", &anon, 10).unwrap().hits.len(), 1);
        assert_eq!(store.rollback().unwrap().release(), "v1");
        assert_eq!(store.search("beta", &anon, 10).unwrap().hits.len(), 0);
        store.switch_to("v2").unwrap();
        // Garble one document of v2: a query hitting it fails, others keep working until
        // the full check marks the release broken.
        fs::write(dir.path().join("releases/v2/docs/beta.json"), b"{garbage").unwrap();
        assert_eq!(store.search("beta", &anon, 10).unwrap_err().code(), "index_corrupt");
        assert!(store.verify().is_err());
        // Delete current/*: every query fails.
        fs::remove_dir_all(dir.path().join("releases/v2/docs")).unwrap();
        fs::remove_file(dir.path().join("releases/v2/manifest.json")).unwrap();
        assert_eq!(store.search("canary", &anon, 10).unwrap_err().code(), "index_unavailable");
        assert_eq!(store.rollback().unwrap().release(), "v1");
        assert_eq!(store.search("canary", &anon, 10).unwrap().hits[0].id, "canary");
    }
}
