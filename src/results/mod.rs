//! The results directory: its layout, reading its files safely and
//! incrementally, and assembling iterations.
//!
//! # Layout
//!
//! The root given to loopdeck is read in one of two ways:
//!
//! * **Loop** — the root has at least one *numbered subfolder*: a real
//!   directory (not a symlink, not hidden) whose name contains a number, such
//!   as `iter-001`, `2`, `run-3` or `2026-11-24_run3`. Each numbered subfolder
//!   is one iteration. Iterations are ordered by the numbers in their names
//!   compared as numbers (`iter-2` before `iter-10`; all digit groups in turn,
//!   so date-like names sort by date), then by name. The iteration number
//!   shown is the first number in the name. Files directly in the root and
//!   subfolders without a number are not read.
//! * **Single** — the root has no numbered subfolder: the root itself is one
//!   iteration (`loopdeck watch some/junit/dir`). While it holds no file
//!   loopdeck reads, there are no iterations at all.
//!
//! Inside an iteration folder loopdeck reads its files and the files of its
//! direct subfolders (shards: `iter-001/shard-1/junit.xml`):
//!
//! * `iteration.json` and `deploy.json` (top level only): what the loop says
//!   about the iteration and its deployment;
//! * report files: names ending in `.xml`, `.json`, `.jsonl` or `.ndjson`,
//!   recognised by content (JUnit XML, pytest report-log, go test -json, …);
//!   several report files of one iteration are merged by test id; reports
//!   of a rerun of the failing tests (told apart with `runs.jsonl`) override
//!   the full run's, and the passes they bring are provisional (`reruns`);
//! * `runs.jsonl`, loopdeck's record of its runs: only to tell which run
//!   wrote which report;
//! * nothing else: logs (`test.log`), hidden
//!   files (`.x.tmp` of atomic writes) and editor backups (`x~`) are ignored.
//!
//! # Safety
//!
//! Files are opened only if they are regular files inside the root, reached
//! without passing a symlink (a symlink whose target is a regular file inside
//! the root is followed; anything else is refused with a warning). FIFOs,
//! sockets and devices are never opened for reading. Whole-document reports
//! over [`DEFAULT_MAX_DOCUMENT_BYTES`] are not read (a warning names them);
//! JSON-lines reports have no cap because only new bytes are read.
//!
//! # Being written
//!
//! Runners truncate a report, then write it. An empty or half-written file
//! modified less than the settle time ago ([`DEFAULT_SETTLE`]) is *pending*:
//! its last good parse is kept and no warning is raised. If it stays broken
//! past the settle time, a warning names it and the reason;
//! [`Store::recheck_in`] says when to refresh to notice that.

pub mod counts;
mod formats;
mod iteration;
mod layout;
mod one;
mod reruns;
mod safe;
mod tail;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

pub use formats::{Formats, Ingest, LineFeed};
pub use iteration::{FileStatus, IterationData, IterationPatch};
pub use layout::{Layout, REPORT_EXTENSIONS, digit_runs, iteration_number};

use iteration::IterState;
use tail::Ctx;

/// From this many tests, the newest iteration's parsed reports are not
/// kept once handed out when they are whole documents (see
/// `Store::evict_older`): a 2.6M-test report is held once, not twice.
pub const LARGE_ITERATION: usize = 100_000;

/// Whole-document reports larger than this are not read.
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 512 * 1024 * 1024;
/// How long an empty or half-written file is considered "being written".
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(5);

/// Whether iteration `i` of `n` is dropped once handed out: any but the
/// newest, and the newest when it is only whole documents of `limit` tests
/// or more.
fn dropped_after(it: &IterState, i: usize, n: usize, limit: usize) -> bool {
    i + 1 < n || it.document_tests().is_some_and(|t| t >= limit)
}

/// What a [`Store::refresh`] found. Apply `removed` before `updated` (a key
/// can be in both when the layout changed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changes {
    pub layout: Layout,
    /// Iterations whose data changed (or appeared), in iteration order.
    pub updated: Vec<IterationData>,
    /// Iterations whose tests changed only in place or at the end, as
    /// patches on the view handed out before ([`Store::refresh_live`]
    /// only; apply after `updated`).
    pub patched: Vec<IterationPatch>,
    /// Keys of iterations that no longer exist.
    pub removed: Vec<String>,
    /// The root itself cannot be read (deleted, permissions); all its
    /// iterations are then in `removed`.
    pub root_error: Option<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.updated.is_empty()
            && self.patched.is_empty()
            && self.removed.is_empty()
            && self.root_error.is_none()
    }
}

/// The results directory as last read, with per-file incremental state.
pub struct Store {
    /// Canonical root.
    root: PathBuf,
    /// The root as given (watch events may use this spelling).
    given_root: PathBuf,
    formats: Arc<dyn Formats>,
    layout: Layout,
    iters: Vec<IterState>,
    root_error: Option<String>,
    max_document_bytes: u64,
    settle: Duration,
    bytes_read: u64,
    /// Iterations found by a listing are left unread, but the newest: see
    /// [`Store::set_newest_first`].
    newest_first: bool,
    /// A listing reads nothing, not even the newest ([`Store::list`]).
    list_only: bool,
    /// See [`LARGE_ITERATION`].
    large_iteration: usize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.root)
            .field("layout", &self.layout)
            .field("iterations", &self.iters.len())
            .field("bytes_read", &self.bytes_read)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a results directory with the real report parsers. Reads nothing
    /// yet: call [`Store::refresh`]`(None)`. Fails if `root` is not a
    /// readable directory.
    pub fn open(root: &Path) -> io::Result<Store> {
        Store::open_with(root, Arc::new(Ingest::default()))
    }

    /// Like [`Store::open`], with other report parsers (tests).
    pub fn open_with(root: &Path, formats: Arc<dyn Formats>) -> io::Result<Store> {
        let canonical = std::fs::canonicalize(root)?;
        if !std::fs::metadata(&canonical)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        std::fs::read_dir(&canonical)?;
        Ok(Store {
            root: canonical,
            given_root: root.to_path_buf(),
            formats,
            layout: Layout::Single,
            iters: Vec::new(),
            root_error: None,
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            settle: DEFAULT_SETTLE,
            bytes_read: 0,
            newest_first: false,
            list_only: false,
            large_iteration: LARGE_ITERATION,
        })
    }

    /// Reads a results directory once (for `loopdeck status`).
    pub fn read_all(root: &Path) -> io::Result<(Layout, Vec<IterationData>)> {
        let mut store = Store::open(root)?;
        store.scan(None);
        if let Some(e) = &store.root_error {
            return Err(io::Error::other(e.clone()));
        }
        Ok((store.layout, store.iterations()))
    }

    /// Sets the size limit for whole-document reports.
    pub fn set_max_document_bytes(&mut self, bytes: u64) {
        self.max_document_bytes = bytes;
    }

    /// A long history opens at once: from now on, iterations that a
    /// listing finds are not read (nor handed out) except the newest, and
    /// [`Store::read_older`] reads the rest, newest first, a few at a time.
    /// An unread iteration the watcher names is read then.
    pub fn set_newest_first(&mut self, on: bool) {
        self.newest_first = on;
    }

    /// Reads an iteration again whole (by key), e.g. one the UI kept
    /// compact and now shows: its reports were dropped after it was handed
    /// out (see [`Store::set_newest_first`]).
    pub fn load(&mut self, key: &str) -> Changes {
        let Some(i) = self.position(key) else {
            return self.unchanged();
        };
        let name = self.iters[i].name.clone();
        self.read_now(|it| it.name == name, 1)
    }

    /// Nothing changed (the root's state as last seen).
    pub fn unchanged(&self) -> Changes {
        Changes {
            layout: self.layout,
            updated: Vec::new(),
            patched: Vec::new(),
            removed: Vec::new(),
            root_error: self.root_error.clone(),
        }
    }

    /// With [`Store::set_newest_first`], only the newest iteration keeps
    /// its parsed reports once handed out; the app keeps the others
    /// compact and asks with [`Store::load`] for the one it shows.
    /// The newest iteration is dropped too when it is only whole documents
    /// of more than [`LARGE_ITERATION`] tests: it is read again whole on a
    /// change anyway, and the app holds the one copy a person looks at.
    fn evict_older(&mut self) {
        let Some(limit) = self.dropping() else {
            return;
        };
        let n = self.iters.len();
        for (i, it) in self.iters.iter_mut().enumerate() {
            if !it.evicted && !it.unread && it.sent && dropped_after(it, i, n, limit) {
                it.evict();
            }
        }
    }

    /// Whether iterations are dropped once handed out, and from how many
    /// tests the newest is too.
    fn dropping(&self) -> Option<usize> {
        self.newest_first.then_some(self.large_iteration)
    }

    /// Lists the iterations without reading any (`loopdeck status` reads
    /// only the one it prints): their keys (as [`IterationData::key`]) and
    /// numbers, in order; or why the root cannot be read.
    pub fn list(&mut self) -> Result<Vec<(String, u64)>, String> {
        let was = self.newest_first;
        self.newest_first = true;
        self.list_only = true;
        self.scan(None);
        self.newest_first = was;
        self.list_only = false;
        if let Some(e) = &self.root_error {
            return Err(e.clone());
        }
        Ok(self
            .iters
            .iter()
            .filter(|it| it.shown)
            .map(|it| (crate::sanitize::line(&it.key), it.number))
            .collect())
    }

    /// Reads the iteration `key` names and hands it out, moving its tests
    /// out of the store (one-shot, like [`Store::refresh_once`]).
    pub fn take(mut self, key: &str) -> Option<IterationData> {
        let i = self.position(key)?;
        let now = SystemTime::now();
        let mut ctx = Ctx {
            formats: &*self.formats,
            max_document_bytes: self.max_document_bytes,
            bytes_read: &mut self.bytes_read,
        };
        let (root, settle) = (&self.root, self.settle);
        let it = &mut self.iters[i];
        it.unread = false;
        it.refresh(root, &mut ctx, &HashSet::new(), now, settle);
        Some(it.build_owned(root, ctx.formats, now, settle))
    }

    /// How many tests the iteration `key` has, reading it if `cached` does
    /// not know its files as they are now (and remembering the answer
    /// there); its parsed reports are dropped again.
    pub fn test_count(&mut self, key: &str, cached: &mut counts::Counts) -> Option<usize> {
        let i = self.position(key)?;
        let ids = self.iters[i].file_ids(&self.root);
        if let Some(n) = ids.as_ref().and_then(|ids| cached.get(key, ids)) {
            return Some(n);
        }
        let name = self.iters[i].name.clone();
        let n = self
            .read_now(|it| it.name == name, 1)
            .updated
            .first()?
            .tests
            .len();
        self.iters[i].evict();
        if let Some(ids) = ids {
            cached.put(key, ids, n);
        }
        Some(n)
    }

    /// Index of the iteration whose key (as handed out: sanitised) is `key`.
    fn position(&self, key: &str) -> Option<usize> {
        // Keys are nearly always clean: compare as they are first.
        self.iters.iter().position(|it| it.key == key).or_else(|| {
            self.iters
                .iter()
                .position(|it| crate::sanitize::line(&it.key) == key)
        })
    }

    /// Sets [`LARGE_ITERATION`] (tests use small numbers).
    pub fn set_large_iteration(&mut self, tests: usize) {
        self.large_iteration = tests;
    }

    /// Iterations not read yet (see [`Store::set_newest_first`]).
    pub fn unread(&self) -> usize {
        self.iters.iter().filter(|it| it.unread).count()
    }

    /// Reads up to `n` unread iterations, newest first, and hands them out
    /// whole (as [`Store::refresh_live`] would).
    pub fn read_older(&mut self, n: usize) -> Changes {
        self.read_now(|it| it.unread, n)
    }

    /// Reads up to `limit` iterations that `which` picks, newest first,
    /// whole, and hands them out.
    fn read_now(&mut self, which: impl Fn(&IterState) -> bool, limit: usize) -> Changes {
        let now = SystemTime::now();
        let mut ctx = Ctx {
            formats: &*self.formats,
            max_document_bytes: self.max_document_bytes,
            bytes_read: &mut self.bytes_read,
        };
        let (root, settle) = (&self.root, self.settle);
        let (n, drop) = (
            self.iters.len(),
            self.newest_first.then_some(self.large_iteration),
        );
        let mut updated = Vec::new();
        for (i, it) in self
            .iters
            .iter_mut()
            .enumerate()
            .rev()
            .filter(|(_, it)| which(it))
            .take(limit)
        {
            it.unread = false;
            it.reload();
            it.refresh(root, &mut ctx, &HashSet::new(), now, settle);
            it.mark_shown(now, settle);
            let drop_after = drop.is_some_and(|limit| dropped_after(it, i, n, limit));
            updated.push(it.hand_out(root, ctx.formats, now, settle, drop_after));
        }
        updated.reverse();
        self.evict_older();
        Changes {
            updated,
            ..self.unchanged()
        }
    }

    /// Sets how long an empty or half-written file counts as being written.
    pub fn set_settle(&mut self, settle: Duration) {
        self.settle = settle;
    }

    /// The canonical root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Bytes of file content read so far (reports, `iteration.json`,
    /// `deploy.json`); the 64-byte check that a tailed file was not rewritten
    /// is not counted.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// All iterations as currently known, in order.
    pub fn iterations(&self) -> Vec<IterationData> {
        let now = SystemTime::now();
        let (root, formats, settle) = (&self.root, &*self.formats, self.settle);
        self.iters
            .iter()
            .filter(|it| it.shown)
            .map(|it| it.build(root, formats, now, settle))
            .collect()
    }

    /// When a pending (being written) file will turn into a warning if it
    /// does not change: refresh (with `Some(&[])`) after this long.
    pub fn recheck_in(&self) -> Option<Duration> {
        let now = SystemTime::now();
        self.iters
            .iter()
            .filter_map(|it| it.settle_deadline(self.settle))
            .min()
            .map(|t| t.duration_since(now).unwrap_or(Duration::ZERO))
    }

    /// Reads what changed. `None`: rescan everything (at start, or when the
    /// watcher lost events). `Some(paths)`: the paths a watcher reported;
    /// only the iterations they fall in are looked at (their folders are
    /// re-listed and files re-read when their size, inode or mtime changed,
    /// or when named in `paths`). Iterations with pending files are always
    /// re-checked, so `Some(&[])` just re-checks those.
    pub fn refresh(&mut self, changed: Option<&[PathBuf]>) -> Changes {
        self.refresh_with(changed, false)
    }

    /// [`Store::refresh`] for a live view that keeps what it was handed:
    /// an iteration whose tests only changed in place or grew at the end
    /// (a streaming report being written) comes as an [`IterationPatch`]
    /// in `patched`, which costs what changed, not what the iteration
    /// holds. The receiver must have applied every earlier result.
    pub fn refresh_live(&mut self, changed: Option<&[PathBuf]>) -> Changes {
        self.refresh_with(changed, true)
    }

    fn refresh_with(&mut self, changed: Option<&[PathBuf]>, patches: bool) -> Changes {
        let (dirty, removed) = self.scan(changed);
        let now = SystemTime::now();
        let (root, formats, settle) = (&self.root, &*self.formats, self.settle);
        let mut updated = Vec::new();
        let mut patched = Vec::new();
        let (n, drop) = (self.iters.len(), self.dropping());
        // (An evicted iteration is never dirty: a change re-reads it whole.)
        for (i, it) in self.iters.iter_mut().enumerate() {
            if !dirty.contains(&it.name) {
                continue;
            }
            debug_assert!(!it.evicted, "a dropped iteration handed out");
            it.mark_shown(now, settle);
            let patch = if patches {
                it.build_kept(root, formats, now, settle)
                    .or_else(|| it.build_patch(root, formats, now, settle))
            } else {
                None
            };
            match patch {
                Some(p) => {
                    it.handed_out(p.len);
                    patched.push(p);
                }
                // Dropped right after (see `evict_older`): moved, not
                // copied, so a huge report is never held twice.
                None => {
                    let drop_after = drop.is_some_and(|limit| dropped_after(it, i, n, limit));
                    updated.push(it.hand_out(root, formats, now, settle, drop_after));
                }
            }
        }
        self.evict_older();
        Changes {
            layout: self.layout,
            updated,
            patched,
            removed,
            root_error: self.root_error.clone(),
        }
    }

    /// [`Store::refresh`]`(None)` for a one-shot read (`loopdeck status`):
    /// the parsed reports are moved into the returned iterations instead of
    /// being copied, so the store is used up.
    pub fn refresh_once(mut self) -> Changes {
        let (dirty, removed) = self.scan(None);
        let now = SystemTime::now();
        let (root, formats, settle) = (&self.root, &*self.formats, self.settle);
        let updated = self
            .iters
            .iter_mut()
            .filter(|it| dirty.contains(&it.name))
            .map(|it| it.build_owned(root, formats, now, settle))
            .collect();
        Changes {
            layout: self.layout,
            updated,
            patched: Vec::new(),
            removed,
            root_error: self.root_error.clone(),
        }
    }

    /// Path relative to the root, if inside it.
    fn relative<'p>(&self, path: &'p Path) -> Option<&'p Path> {
        path.strip_prefix(&self.root)
            .or_else(|_| path.strip_prefix(&self.given_root))
            .ok()
    }

    /// Updates the state; returns the names of iterations that changed and
    /// the keys of those removed.
    fn scan(&mut self, changed: Option<&[PathBuf]>) -> (HashSet<OsString>, Vec<String>) {
        let mut relist = changed.is_none();
        // Iteration folder name -> paths inside it named by the watcher.
        let mut touched: HashMap<OsString, HashSet<PathBuf>> = HashMap::new();
        for path in changed.unwrap_or(&[]) {
            let Some(rel) = self.relative(path) else {
                relist = true;
                continue;
            };
            let comps: Vec<_> = rel
                .components()
                .filter(|c| !matches!(c, Component::CurDir))
                .collect();
            if comps.len() <= 1 {
                relist = true;
            }
            match self.layout {
                Layout::Loop => {
                    if let Some(Component::Normal(first)) = comps.first() {
                        if !self.iters.iter().any(|it| it.name == *first) {
                            relist = true;
                        }
                        let inside: PathBuf = comps[1..].iter().collect();
                        touched
                            .entry(first.to_os_string())
                            .or_default()
                            .insert(inside);
                    }
                }
                Layout::Single => {
                    let inside: PathBuf = comps.iter().collect();
                    touched.entry(OsString::new()).or_default().insert(inside);
                }
            }
        }

        let mut removed = Vec::new();
        let mut dirty: HashSet<OsString> = HashSet::new();
        if relist {
            match layout::list_root(&self.root) {
                Ok(listing) => {
                    self.root_error = None;
                    let wanted: Vec<(OsString, String, u64)> = match listing.layout {
                        Layout::Loop => listing
                            .iterations
                            .into_iter()
                            .map(|d| (d.name, d.key, d.number))
                            .collect(),
                        Layout::Single => {
                            let name = self
                                .root
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_else(|| "/".to_string());
                            let number = iteration_number(&name).unwrap_or(1);
                            vec![(OsString::new(), name, number)]
                        }
                    };
                    if listing.layout != self.layout {
                        removed.extend(self.iters.drain(..).filter(|it| it.shown).map(|it| it.key));
                        self.layout = listing.layout;
                    }
                    let mut old: HashMap<OsString, IterState> = self
                        .iters
                        .drain(..)
                        .map(|it| (it.name.clone(), it))
                        .collect();
                    let defer = self.newest_first && listing.layout == Layout::Loop;
                    for (name, key, number) in wanted {
                        let it = old.remove(&name).unwrap_or_else(|| {
                            dirty.insert(name.clone());
                            let mut it = IterState::new(name.clone(), key, number);
                            it.shown = listing.layout == Layout::Loop;
                            it.unread = defer;
                            it
                        });
                        // A dropped iteration is handed out again only if
                        // its files changed (its refresh says so).
                        if changed.is_none() && !it.evicted {
                            dirty.insert(name);
                        }
                        self.iters.push(it);
                    }
                    removed.extend(old.into_values().filter(|it| it.shown).map(|it| it.key));
                    // The newest is always read.
                    if let Some(it) = self.iters.last_mut().filter(|_| !self.list_only) {
                        it.unread = false;
                    }
                }
                Err(e) => {
                    let msg = format!("cannot read {}: {e}", self.root.display());
                    self.root_error = Some(crate::sanitize::line(&msg));
                    removed.extend(self.iters.drain(..).filter(|it| it.shown).map(|it| it.key));
                    return (HashSet::new(), removed);
                }
            }
        }

        let now = SystemTime::now();
        let mut ctx = Ctx {
            formats: &*self.formats,
            max_document_bytes: self.max_document_bytes,
            bytes_read: &mut self.bytes_read,
        };
        let no_paths = HashSet::new();
        let settle = self.settle;
        for it in &mut self.iters {
            let forced = touched.get(&it.name);
            if it.unread {
                if forced.is_none() {
                    dirty.remove(&it.name);
                    continue;
                }
                // The watcher names it: read it now.
                it.unread = false;
                dirty.insert(it.name.clone());
            }
            let look = changed.is_none()
                || dirty.contains(&it.name)
                || forced.is_some()
                || it.has_transient();
            if !look {
                continue;
            }
            let forced = forced.unwrap_or(&no_paths);
            if it.refresh(&self.root, &mut ctx, forced, now, settle) {
                dirty.insert(it.name.clone());
            }
        }

        // The single layout shows no iteration while the root holds nothing.
        if self.layout == Layout::Single
            && let Some(it) = self.iters.first_mut()
        {
            let visible = !it.is_empty();
            if it.shown && !visible {
                removed.push(it.key.clone());
            }
            if !visible {
                dirty.remove(&it.name);
                it.sent = false;
            }
            it.shown = visible;
        }
        (dirty, removed)
    }
}
