//! One iteration folder: its files' states, and assembling them into the
//! plain [`IterationData`] handed to the app.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::formats::Formats;
use super::layout::{self, FileRole};
use super::reruns::{self, RunMark, Slot};
use super::safe::{self, Refusal};
use super::tail::{Ctx, Delta, MetaFile, Problem, ReportFile};
use crate::ingest::Shape;
use crate::model::{Deployment, IterationMeta, TestCase};
use crate::sanitize;

/// Everything loopdeck knows about one iteration. Plain data: tests are
/// merged over the iteration's report files and sanitised; problems are
/// collected in `warnings`, each naming its file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IterationData {
    /// Folder name (sanitised) relative to the root; in the single layout,
    /// the root folder's own name. Unique within a store.
    pub key: String,
    /// First number in the folder name (1 when the name has none).
    pub number: u64,
    /// Folder of the iteration.
    pub path: PathBuf,
    pub meta: Option<IterationMeta>,
    pub deploy: Option<Deployment>,
    /// Tests of all report files, merged by test id (across runs: the
    /// newer run wins, see [`super::reruns`]).
    pub tests: Vec<TestCase>,
    /// Indices into `tests` (ascending) of the tests that pass only because
    /// a rerun of the failing tests says so: no full run has confirmed them.
    pub provisional: Vec<usize>,
    /// Report files, by name.
    pub files: Vec<FileStatus>,
    /// `"iter-002/junit.xml: truncated: root element not closed"`: problems
    /// that did not stop the rest from being read.
    pub warnings: Vec<String>,
    /// A streaming report has not seen its end yet.
    pub running: bool,
    /// Tests the runner announced (largest announcement of any file).
    pub expected_total: Option<usize>,
    /// Errors outside any test, from all files.
    pub run_errors: Vec<String>,
    /// `iteration.json`'s `started`, else the folder's creation time, else
    /// the oldest modification time of its files.
    pub started: Option<DateTime<Utc>>,
    /// Newest modification time of the files read.
    pub modified: Option<DateTime<Utc>>,
}

/// An iteration whose tests changed only in place or at the end, as a
/// patch on the view handed out before (see
/// [`super::Store::refresh_live`]): costs what changed, not what the
/// iteration holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IterationPatch {
    /// Everything but the tests: `tests` and `provisional` are empty
    /// here; the receiver keeps its own (and has no provisional tests).
    pub data: IterationData,
    /// Number of tests after the patch.
    pub len: usize,
    /// Tests added or changed, by index, ascending; indices at or past the
    /// old length are new tests, in order.
    pub changed: Vec<(usize, TestCase)>,
}

/// One report file of an iteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileStatus {
    /// Path relative to the iteration folder (sanitised).
    pub name: String,
    /// Detected format ("JUnit XML"), when the file was read as a report.
    pub format: Option<String>,
    /// Tests in the last good parse.
    pub tests: usize,
    /// The report says it is complete (a stream saw its end).
    pub complete: bool,
    /// Being written: empty or half-written just now; the last good parse
    /// (if any) is shown meanwhile and no warning is raised yet.
    pub pending: bool,
    /// What is wrong with the file, if anything (also when pending).
    pub error: Option<String>,
    /// Size in bytes.
    pub bytes: u64,
    /// Last modification.
    pub modified: Option<DateTime<Utc>>,
    /// Written by a rerun of the failing tests (see [`super::reruns`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rerun: bool,
}

/// State of one iteration folder inside a [`super::Store`].
pub(crate) struct IterState {
    /// Folder name under the root; empty for the single layout.
    pub name: OsString,
    pub key: String,
    pub number: u64,
    pub reports: BTreeMap<PathBuf, ReportFile>,
    pub meta: Option<MetaFile<IterationMeta>>,
    pub deploy: Option<MetaFile<Deployment>>,
    pub created: Option<SystemTime>,
    pub listing_error: Option<String>,
    /// `runs.jsonl` as last seen (`lstat`), and the test and rerun runs it
    /// records: they say which run wrote which report.
    runs_stat: Option<safe::Stat>,
    marks: Vec<RunMark>,
    /// Part of the view (always in the loop layout; in the single layout
    /// only while the root holds a file loopdeck reads).
    pub shown: bool,
    /// Not read yet: an older iteration left for later so that the newest
    /// is on screen at once (see [`super::Store::set_newest_first`]).
    pub unread: bool,
    /// The parsed reports were dropped to bound memory (an older
    /// iteration the app keeps compact); the next look that finds a change,
    /// or [`IterState::reload`], reads every report again.
    pub evicted: bool,
    /// Pending flags as of the last view returned by a refresh.
    shown_pending: Vec<bool>,
    /// A whole view of this iteration was handed out, and nothing since
    /// (a report removed, the runs changed) forces the next one to be whole.
    pub sent: bool,
    /// Tests in the last view handed out (whole or patched).
    pub sent_len: Option<usize>,
    /// Its reports were read again after an eviction: what the view held
    /// is not in the store any more (see [`IterState::build_kept`]).
    pub reloaded: bool,
}

impl IterState {
    pub fn new(name: OsString, key: String, number: u64) -> IterState {
        IterState {
            name,
            key,
            number,
            reports: BTreeMap::new(),
            meta: None,
            deploy: None,
            created: None,
            listing_error: None,
            runs_stat: None,
            marks: Vec::new(),
            shown: true,
            unread: false,
            evicted: false,
            shown_pending: Vec::new(),
            sent: false,
            sent_len: None,
            reloaded: false,
        }
    }

    /// After an evicted iteration was read again: if a report that held
    /// tests cannot be read now (being rewritten, unreadable), the receiver
    /// keeps the tests it has (the last good data) and gets only the rest
    /// (file states, warnings) as a patch with no test changes; the store
    /// no longer has that report's last good parse to merge.
    pub fn build_kept(
        &self,
        root: &Path,
        formats: &dyn Formats,
        now: SystemTime,
        settle: Duration,
    ) -> Option<IterationPatch> {
        let broken = self
            .reports
            .values()
            .any(|f| f.report.is_none() && f.problem.is_some());
        if !self.reloaded || !broken {
            return None;
        }
        Some(IterationPatch {
            data: self.build_with(root, formats, now, settle, false),
            len: self.sent_len?,
            changed: Vec::new(),
        })
    }

    /// Tests in the parsed reports when every one is a whole document (no
    /// tailed report, no rerun): such an iteration can be dropped after it
    /// is handed out and read again whole on a change.
    pub fn document_tests(&self) -> Option<usize> {
        if !self.marks.is_empty() {
            return None;
        }
        let mut n = 0;
        for f in self.reports.values() {
            if f.shape == Some(Shape::Lines) {
                return None;
            }
            n += f.report.as_ref().map_or(0, |r| r.tests.len());
        }
        Some(n)
    }

    /// The changes since the last view as a patch, when they can be one:
    /// a whole view was handed out before, no report was replaced, at most
    /// one report has tests (so the view's tests are that report's, in its
    /// order) and no rerun is recorded (nothing provisional).
    pub fn build_patch(
        &self,
        root: &Path,
        formats: &dyn Formats,
        now: SystemTime,
        settle: Duration,
    ) -> Option<IterationPatch> {
        if !self.sent || !self.marks.is_empty() {
            return None;
        }
        let mut source = None;
        for f in self.reports.values() {
            let Delta::Tests(changed) = &f.delta else {
                return None;
            };
            let tests = f.report.as_ref().map_or(&[][..], |r| &r.tests[..]);
            if !tests.is_empty() {
                if source.is_some() {
                    return None;
                }
                source = Some((tests, changed));
            }
        }
        let (tests, mut indices) = source.map_or((&[][..], Vec::new()), |(t, c)| (t, c.clone()));
        indices.sort_unstable();
        indices.dedup();
        Some(IterationPatch {
            data: self.build_with(root, formats, now, settle, false),
            len: tests.len(),
            changed: indices.into_iter().map(|i| (i, tests[i].clone())).collect(),
        })
    }

    /// Drops the parsed reports (keeping each file's stat, so an
    /// unchanged folder stays unread): see [`IterState::evicted`].
    pub fn evict(&mut self) {
        for f in self.reports.values_mut() {
            f.evict();
        }
        self.evicted = true;
        self.sent = false;
    }

    /// Makes the next refresh read every report of an evicted iteration.
    pub fn reload(&mut self) {
        if self.evicted {
            for f in self.reports.values_mut() {
                f.stat = None;
            }
            self.evicted = false;
        }
    }

    /// Whether a file of an evicted iteration changed, appeared or went
    /// (by `lstat`; a change is confirmed when the files are read).
    fn changed_since_evicted(&self, root: &Path) -> bool {
        let Some(ids) = self.file_ids(root) else {
            return true;
        };
        ids.len() != self.reports.len()
            || ids.iter().any(|(rel, stat)| {
                stat.is_none() || self.reports.get(rel).is_none_or(|f| f.stat != *stat)
            })
    }

    /// The report files of the folder as they are now (path inside the
    /// folder, and `lstat` — or `stat` through a symlink), from a listing:
    /// what identifies the iteration's content without reading it.
    pub fn file_ids(&self, root: &Path) -> Option<Vec<(PathBuf, Option<safe::Stat>)>> {
        let dir = self.dir(root);
        let listing = layout::list_iteration(&dir).ok()?;
        if !listing.unreadable.is_empty() {
            return None;
        }
        let ids = listing
            .entries
            .into_iter()
            .filter(|e| e.role == FileRole::Report)
            .map(|e| {
                let path = dir.join(&e.rel);
                let meta = if e.symlink {
                    std::fs::metadata(path)
                } else {
                    std::fs::symlink_metadata(path)
                };
                (e.rel, meta.ok().map(|m| safe::Stat::of(&m)))
            })
            .collect();
        Some(ids)
    }

    /// Builds the whole view and records that it was handed out.
    /// `drop_after`: the store will not keep this iteration's parse (see
    /// `Store::evict_older`), so the tests are moved out, not copied, and
    /// the iteration is evicted.
    pub fn hand_out(
        &mut self,
        root: &Path,
        formats: &dyn Formats,
        now: SystemTime,
        settle: Duration,
        drop_after: bool,
    ) -> IterationData {
        let data = if drop_after {
            self.build_owned(root, formats, now, settle)
        } else {
            self.build(root, formats, now, settle)
        };
        self.handed_out(data.tests.len());
        if drop_after {
            self.evict();
        }
        data
    }

    /// A view of `len` tests (whole or patched) was handed out.
    pub fn handed_out(&mut self, len: usize) {
        self.sent_len = Some(len);
        self.sent = true;
        self.reloaded = false;
        self.clear_deltas();
    }

    /// The view handed out is up to date: forget what changed.
    fn clear_deltas(&mut self) {
        for f in self.reports.values_mut() {
            f.delta = Delta::Tests(Vec::new());
        }
    }

    /// Whether the folder holds anything loopdeck reads.
    pub fn is_empty(&self) -> bool {
        self.reports.is_empty() && self.meta.is_none() && self.deploy.is_none()
    }

    /// Has a problem that may still turn from pending into a warning.
    pub fn has_transient(&self) -> bool {
        let t = |p: &Option<Problem>| p.as_ref().is_some_and(|p| p.transient);
        self.reports.values().any(|f| t(&f.problem))
            || self.meta.as_ref().is_some_and(|m| t(&m.problem))
            || self.deploy.as_ref().is_some_and(|m| t(&m.problem))
    }

    /// Earliest time at which a pending file turns into a warning.
    pub fn settle_deadline(&self, settle: Duration) -> Option<SystemTime> {
        let mut out: Option<SystemTime> = None;
        let mut consider = |p: &Option<Problem>, stat: &Option<safe::Stat>| {
            if p.as_ref().is_some_and(|p| p.transient)
                && let Some(s) = stat
            {
                let t = s.mtime() + settle;
                out = Some(out.map_or(t, |o| o.min(t)));
            }
        };
        for f in self.reports.values() {
            consider(&f.problem, &f.stat);
        }
        if let Some(m) = &self.meta {
            consider(&m.problem, &m.stat);
        }
        if let Some(m) = &self.deploy {
            consider(&m.problem, &m.stat);
        }
        out
    }

    /// The folder itself.
    pub fn dir(&self, root: &Path) -> PathBuf {
        if self.name.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&self.name)
        }
    }

    /// Path of the folder relative to the root.
    pub fn rel_dir(&self) -> &Path {
        Path::new(&self.name)
    }

    /// Re-lists the folder and re-reads files whose size, inode or mtime
    /// changed, plus those named in `forced` (relative to the folder).
    /// Returns whether anything visible changed.
    pub fn refresh(
        &mut self,
        root: &Path,
        ctx: &mut Ctx<'_>,
        forced: &HashSet<PathBuf>,
        now: SystemTime,
        settle: Duration,
    ) -> bool {
        let dir = self.dir(root);
        let mut changed = false;
        if self.evicted {
            if forced.is_empty() && !self.changed_since_evicted(root) {
                return false;
            }
            // Something changed: read it all again (the view is whole).
            self.reload();
            self.reloaded = true;
            changed = true;
        }
        // `unlisted`: folders (relative) that exist but cannot be listed;
        // the reports in them stay as last read.
        let (entries, unlisted) = match layout::list_iteration(&dir) {
            Ok(listing) => {
                let msg = listing.problem();
                changed |= self.listing_error != msg;
                self.listing_error = msg;
                (listing.entries, listing.unreadable)
            }
            Err(e) => {
                let msg = Some(format!("cannot list folder: {e}"));
                changed |= self.listing_error != msg;
                self.listing_error = msg;
                let gone = e.kind() == std::io::ErrorKind::NotFound;
                (Vec::new(), if gone { vec![] } else { vec![PathBuf::new()] })
            }
        };
        if self.created.is_none() {
            self.created = std::fs::metadata(&dir).and_then(|m| m.created()).ok();
        }
        let mut seen_reports = HashSet::new();
        let mut seen_meta = false;
        let mut seen_deploy = false;
        for entry in entries {
            let top_level = entry.rel.components().count() == 1;
            let rel_root = self.rel_dir().join(&entry.rel);
            let force = forced.contains(&entry.rel);
            let opened = || open_entry(root, &rel_root, &entry);
            match entry.role {
                FileRole::Meta if top_level => {
                    seen_meta = true;
                    let m = self.meta.get_or_insert_with(|| {
                        changed = true;
                        MetaFile::default()
                    });
                    changed |= m.update(ctx.bytes_read, opened(), force);
                }
                FileRole::Deploy if top_level => {
                    seen_deploy = true;
                    let m = self.deploy.get_or_insert_with(|| {
                        changed = true;
                        MetaFile::default()
                    });
                    changed |= m.update(ctx.bytes_read, opened(), force);
                }
                FileRole::Report => {
                    let f = self.reports.entry(entry.rel.clone()).or_insert_with(|| {
                        changed = true;
                        ReportFile::named(sanitize::line(&rel_root.to_string_lossy()))
                    });
                    changed |= f.update(ctx, opened(), force);
                    seen_reports.insert(entry.rel);
                }
                _ => {}
            }
        }
        let before = self.reports.len();
        self.reports.retain(|rel, _| {
            seen_reports.contains(rel) || unlisted.iter().any(|d| rel.starts_with(d))
        });
        if before != self.reports.len() {
            changed = true;
            self.sent = false;
        }
        if self.refresh_runs(root) {
            self.sent = false;
            changed |= !self.reports.is_empty();
        }
        if !seen_meta && self.meta.take().is_some() {
            changed = true;
        }
        if !seen_deploy && self.deploy.take().is_some() {
            changed = true;
        }
        // A pending file whose settle time passed becomes a warning.
        changed |= self.shown_pending != self.pending_set(now, settle);
        changed
    }

    /// Re-reads `runs.jsonl` if it changed. A missing, unreadable or
    /// broken one just means no reruns are known. Returns whether the runs
    /// that attribute reports changed.
    fn refresh_runs(&mut self, root: &Path) -> bool {
        let rel = self.rel_dir().join("runs.jsonl");
        // Only a regular file: `open_inside` below refuses anything else too.
        let stat = std::fs::symlink_metadata(root.join(&rel))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| safe::Stat::of(&m));
        if stat == self.runs_stat {
            return false;
        }
        self.runs_stat = stat;
        let marks = match stat {
            Some(_) => safe::open_inside(root, &rel)
                .map(|(file, _)| reruns::read_marks(file))
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let changed = marks != self.marks;
        self.marks = marks;
        changed
    }

    /// Which run wrote a report file, from its modification time.
    fn slot(&self, f: &ReportFile) -> Slot {
        let mtime = f.stat.map_or(SystemTime::UNIX_EPOCH, |s| s.mtime());
        reruns::slot(mtime, &self.marks)
    }

    /// Which files are pending now: reports in name order, then
    /// `iteration.json`, then `deploy.json`.
    fn pending_set(&self, now: SystemTime, settle: Duration) -> Vec<bool> {
        let mut out: Vec<bool> = self
            .reports
            .values()
            .map(|f| f.pending(now, settle))
            .collect();
        out.push(self.meta.as_ref().is_some_and(|m| m.pending(now, settle)));
        out.push(self.deploy.as_ref().is_some_and(|m| m.pending(now, settle)));
        out
    }

    /// Remembers what the view returned by the last refresh showed as pending.
    pub fn mark_shown(&mut self, now: SystemTime, settle: Duration) {
        self.shown_pending = self.pending_set(now, settle);
    }

    /// Assembles the plain view of this iteration.
    pub fn build(
        &self,
        root: &Path,
        formats: &dyn Formats,
        now: SystemTime,
        settle: Duration,
    ) -> IterationData {
        self.build_with(root, formats, now, settle, true)
    }

    /// [`IterState::build`] that moves the parsed reports into the view
    /// instead of copying them: the state keeps no last good parse, so it
    /// is for a one-shot read only.
    pub fn build_owned(
        &mut self,
        root: &Path,
        formats: &dyn Formats,
        now: SystemTime,
        settle: Duration,
    ) -> IterationData {
        let mut data = self.build_with(root, formats, now, settle, false);
        let slots: Vec<Slot> = self.reports.values().map(|f| self.slot(f)).collect();
        let reports: Vec<_> = self
            .reports
            .values_mut()
            .zip(slots)
            .filter_map(|(f, slot)| Some((slot, f.report.take()?)))
            .collect();
        if !reports.is_empty() {
            let merged = reruns::merge_by_run(reports, |run| formats.merge_owned(run));
            data.tests = merged.tests;
            data.provisional = merged.provisional;
        }
        data
    }

    /// `merge`: whether to merge the reports' tests into the view.
    fn build_with(
        &self,
        root: &Path,
        formats: &dyn Formats,
        now: SystemTime,
        settle: Duration,
        merge: bool,
    ) -> IterationData {
        let prefix =
            |rel: &Path| -> String { sanitize::line(&self.rel_dir().join(rel).to_string_lossy()) };
        let mut warnings = Vec::new();
        if let Some(e) = &self.listing_error {
            warnings.push(format!("{}: {e}", sanitize::line(&self.key)));
        }
        let mut files = Vec::new();
        let mut run_errors = Vec::new();
        let mut expected_total: Option<usize> = None;
        let mut running = false;
        let mut mtimes = Vec::new();
        let mut reports = Vec::new();
        for (rel, f) in &self.reports {
            let pending = f.pending(now, settle);
            let name = prefix(rel);
            if let Some(p) = &f.problem
                && !pending
            {
                warnings.push(format!("{name}: {}", sanitize::line(&p.text)));
            }
            if let Some(s) = &f.stat {
                mtimes.push(s.mtime());
            }
            let slot = self.slot(f);
            let report = f.report.as_ref();
            if let Some(r) = report {
                warnings.extend(r.warnings.iter().map(|w| format!("{name}: {w}")));
                run_errors.extend(r.run_errors.iter().cloned());
                if let Some(n) = r.expected_total {
                    expected_total = Some(expected_total.map_or(n, |e| e.max(n)));
                }
                running |= f.shape == Some(Shape::Lines) && !r.complete;
                reports.push((slot, r));
            }
            files.push(FileStatus {
                name: sanitize::line(&rel.to_string_lossy()),
                format: report.map(|r| r.format.to_string()),
                tests: report.map_or(0, |r| r.tests.len()),
                complete: report.is_some_and(|r| r.complete),
                pending,
                error: f.problem.as_ref().map(|p| sanitize::line(&p.text)),
                bytes: f.stat.map_or(0, |s| s.len),
                modified: f.stat.map(|s| DateTime::<Utc>::from(s.mtime())),
                rerun: slot.is_rerun(),
            });
        }
        let merged = match reports.len() {
            0 => reruns::Combined::default(),
            _ if !merge => reruns::Combined::default(),
            _ => reruns::merge_by_run(reports, |run| formats.merge(&run)),
        };
        let mut meta_warning = |name: &str, problem: &Option<Problem>, pending: bool| {
            if let Some(p) = problem
                && !pending
            {
                warnings.push(format!(
                    "{}: {}",
                    prefix(Path::new(name)),
                    sanitize::line(&p.text)
                ));
            }
        };
        let meta = self.meta.as_ref().map(|m| {
            meta_warning("iteration.json", &m.problem, m.pending(now, settle));
            if let Some(s) = &m.stat {
                mtimes.push(s.mtime());
            }
            m.value.clone()
        });
        let deploy = self.deploy.as_ref().map(|m| {
            meta_warning("deploy.json", &m.problem, m.pending(now, settle));
            if let Some(s) = &m.stat {
                mtimes.push(s.mtime());
            }
            m.value.clone()
        });
        let meta = meta.flatten().map(clean_meta);
        let deploy = deploy.flatten().map(clean_deploy);
        let started = meta
            .as_ref()
            .and_then(|m| m.started.as_deref())
            .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
            .map(|d| d.with_timezone(&Utc))
            .or_else(|| self.created.map(DateTime::<Utc>::from))
            .or_else(|| mtimes.iter().min().copied().map(DateTime::<Utc>::from));
        IterationData {
            key: sanitize::line(&self.key),
            number: self.number,
            path: self.dir(root),
            meta,
            deploy,
            tests: merged.tests,
            provisional: merged.provisional,
            files,
            warnings,
            running,
            expected_total,
            run_errors,
            started,
            modified: mtimes.iter().max().copied().map(DateTime::<Utc>::from),
        }
    }
}

fn clean_opt(s: &mut Option<String>, multiline: bool) {
    if let Some(v) = s {
        *v = if multiline {
            sanitize::text(v)
        } else {
            sanitize::line(v)
        };
    }
}

fn clean_meta(mut m: IterationMeta) -> IterationMeta {
    clean_opt(&mut m.issue, false);
    clean_opt(&mut m.root_cause, true);
    clean_opt(&mut m.fix, true);
    clean_opt(&mut m.notes, true);
    clean_opt(&mut m.started, false);
    clean_opt(&mut m.finished, false);
    m
}

fn clean_deploy(mut d: Deployment) -> Deployment {
    clean_opt(&mut d.service, false);
    clean_opt(&mut d.revision, false);
    clean_opt(&mut d.started, false);
    clean_opt(&mut d.finished, false);
    clean_opt(&mut d.message, true);
    d
}

/// Opens an entry of an iteration folder safely. Symlinks are followed only
/// when they resolve to a regular file inside the root; FIFOs, sockets and
/// devices are refused without being opened.
fn open_entry(
    root: &Path,
    rel_root: &Path,
    entry: &layout::Entry,
) -> Result<(std::fs::File, safe::Stat), Refusal> {
    if let Some(kind) = entry.special {
        return Err(Refusal::NotRegular(kind));
    }
    if entry.symlink {
        let target = std::fs::canonicalize(root.join(rel_root)).map_err(|_| Refusal::Outside)?;
        let inside = target.strip_prefix(root).map_err(|_| Refusal::Outside)?;
        return safe::open_inside(root, inside);
    }
    safe::open_inside(root, rel_root)
}
