//! Per-file incremental state: a whole document re-parsed when it changes
//! (keeping the last good parse while the runner rewrites it), or a JSON-lines
//! report tailed from its last offset.
//!
//! "Changed" compares the file's [`Stat`]: inode, size, mtime and ctime to
//! the nanosecond. A tailed report is read from the start again when it was
//! replaced, truncated, its last bytes before our offset differ, or it was
//! rewritten in place with the same size (its mtime moved since a stat
//! taken at our offset, but it did not grow). A file that cannot be opened
//! any more (mode 000, an I/O error) keeps its last good data with a
//! problem naming why; one deleted while being read is forgotten quietly.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;

use super::formats::{Formats, LineFeed};
use super::safe::{self, Refusal, Stat};
use crate::ingest::{IngestError, Shape};
use crate::model::Report;
use crate::sanitize;

/// Bytes looked at to recognise a report's format.
const HEAD_BYTES: usize = 8 * 1024;
/// Bytes before the tail offset kept to notice a file rewritten in place
/// (truncated, then written past our old offset between two reads).
const WINDOW: usize = 64;
/// Chunk size when tailing.
const CHUNK: usize = 1024 * 1024;
/// Cap for `iteration.json` / `deploy.json`.
pub(crate) const MAX_META_BYTES: u64 = 1024 * 1024;

/// Settings and counters shared by all files of a store.
pub(crate) struct Ctx<'a> {
    pub formats: &'a dyn Formats,
    pub max_document_bytes: u64,
    pub bytes_read: &'a mut u64,
}

/// Something wrong with a file. `transient` problems (empty or half-written
/// files) are normal while a runner writes: they are shown as pending, and
/// become warnings only once the file has not changed for the settle time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub text: String,
    pub transient: bool,
}

impl Problem {
    fn lasting(text: impl Into<String>) -> Problem {
        Problem {
            text: text.into(),
            transient: false,
        }
    }
    fn transient(text: impl Into<String>) -> Problem {
        Problem {
            text: text.into(),
            transient: true,
        }
    }
}

/// A transient problem is still pending (not yet a warning) when the file
/// was modified less than `settle` ago.
pub(crate) fn is_fresh(stat: Option<&Stat>, now: SystemTime, settle: Duration) -> bool {
    stat.is_some_and(|s| s.mtime() + settle > now)
}

struct LineTail {
    reader: Box<dyn LineFeed>,
    /// Device and inode of the file being tailed: another file renamed over
    /// it starts the tail again.
    ident: (u64, u64),
    offset: u64,
    window: Vec<u8>,
}

impl LineTail {
    fn feed(&mut self, chunk: &[u8]) {
        self.reader.feed(chunk);
        self.offset += chunk.len() as u64;
        if chunk.len() >= WINDOW {
            self.window.clear();
            self.window
                .extend_from_slice(&chunk[chunk.len() - WINDOW..]);
        } else {
            self.window.extend_from_slice(chunk);
            let excess = self.window.len().saturating_sub(WINDOW);
            self.window.drain(..excess);
        }
    }
}

/// Which tests of a file changed since the store last handed out a view
/// of its iteration (see [`super::Store::refresh_live`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Delta {
    /// The report was replaced or dropped (or never handed out): the view
    /// must be rebuilt.
    #[default]
    All,
    /// Only these tests (indices into the report's tests) were added or
    /// changed; empty when nothing did.
    Tests(Vec<usize>),
}

impl Delta {
    fn add(&mut self, indices: impl IntoIterator<Item = usize>) {
        if let Delta::Tests(v) = self {
            v.extend(indices);
        }
    }
}

/// State of one report file.
#[derive(Default)]
pub(crate) struct ReportFile {
    pub stat: Option<Stat>,
    pub shape: Option<Shape>,
    /// Last good parse, already sanitised.
    pub report: Option<Report>,
    lines: Option<LineTail>,
    pub problem: Option<Problem>,
    /// What changed since the last view; a tailed report adds the tests
    /// its new lines touched, anything else replaces the whole report.
    pub delta: Delta,
    /// The file's path relative to the root (sanitised), named where a
    /// capped text says where the rest is.
    pub name: String,
    /// The last open failed: re-read on the next one that works.
    unopened: bool,
}

impl ReportFile {
    /// Drops what was parsed, keeping the stat (see `IterState::evict`).
    pub fn evict(&mut self) {
        let (stat, name) = (self.stat, std::mem::take(&mut self.name));
        *self = ReportFile {
            stat,
            ..ReportFile::named(name)
        };
    }

    /// A file not read yet; `name` is its path relative to the root.
    pub fn named(name: String) -> ReportFile {
        ReportFile {
            name,
            ..ReportFile::default()
        }
    }

    /// Re-reads the file if it changed (or `force`). `opened` is the result of
    /// opening it safely (see [`refused`] for a failed open). Returns whether
    /// anything visible changed.
    pub fn update(
        &mut self,
        ctx: &mut Ctx<'_>,
        opened: Result<(File, Stat), Refusal>,
        force: bool,
    ) -> bool {
        let (file, stat) = match opened {
            Ok(x) => x,
            Err(refusal) => {
                // The name stays whatever `refused` resets.
                let name = std::mem::take(&mut self.name);
                let changed = refused(self, refusal);
                self.name = name;
                return changed;
            }
        };
        // After a failed open the problem must go even if nothing else changed.
        let unopened = std::mem::take(&mut self.unopened);
        let unchanged = self.stat == Some(stat) && !unopened;
        if unchanged && !force {
            return false;
        }
        let before = (self.problem.clone(), self.shape);
        let result = self.read(ctx, &file, &stat);
        self.stat = Some(stat);
        if let Err(e) = result {
            self.problem = Some(Problem::lasting(format!("read error: {e}")));
        } else if let Some(tail) = &self.lines
            && let Ok(now) = Stat::of_file(&file)
            && now.len == tail.offset
        {
            // Everything up to the end is read: this stat is what the file
            // looks like at our offset, so a later change of its mtime with
            // no growth is a rewrite in place (see `continues`).
            self.stat = Some(now);
        }
        // New bytes usually mean new tests; a re-read with identical outcome
        // after a forced read is still reported (cheap, and rare).
        !unchanged || before != (self.problem.clone(), self.shape)
    }

    fn read(&mut self, ctx: &mut Ctx<'_>, file: &File, stat: &Stat) -> std::io::Result<()> {
        if let Some(tail) = &self.lines
            && self.shape == Some(Shape::Lines)
            && Self::continues(tail, self.stat.as_ref(), file, stat)?
        {
            return self.tail(ctx, file);
        }
        // First read, or the file was replaced / truncated / rewritten.
        self.delta = Delta::All;
        if self.lines.take().is_some() {
            // A new run's report: the old run's tests are not its last good parse.
            self.report = None;
        }
        let head = safe::read_at(file, 0, HEAD_BYTES.min(stat.len as usize))?;
        *ctx.bytes_read += head.len() as u64;
        match ctx.formats.sniff(&head) {
            Some(Shape::Lines) => {
                self.shape = Some(Shape::Lines);
                let mut tail = LineTail {
                    reader: ctx.formats.line_reader(),
                    ident: (stat.dev, stat.ino),
                    offset: 0,
                    window: Vec::new(),
                };
                tail.feed(&head);
                self.lines = Some(tail);
                // A new tail starts its report afresh (it replaces whatever
                // the file held before, whole).
                self.report = None;
                self.tail(ctx, file)
            }
            Some(Shape::Document) => {
                self.shape = Some(Shape::Document);
                self.read_document(ctx, file, stat, head)
            }
            None => {
                self.shape = None;
                self.problem = Some(unrecognized(&head));
                if !self.problem.as_ref().is_some_and(|p| p.transient) {
                    self.report = None;
                }
                Ok(())
            }
        }
    }

    /// Whether a tailed file is still the same, only longer (or as long).
    /// `last` is the stat stored at the last read: when it was taken at our
    /// offset, a file that did not grow but whose mtime moved was rewritten
    /// in place (same size, other bytes).
    fn continues(
        tail: &LineTail,
        last: Option<&Stat>,
        file: &File,
        stat: &Stat,
    ) -> std::io::Result<bool> {
        if tail.ident != (stat.dev, stat.ino) || stat.len < tail.offset {
            return Ok(false);
        }
        if let Some(last) = last
            && last.len == tail.offset
            && stat.len == tail.offset
            && last.mtime_ns != stat.mtime_ns
        {
            return Ok(false);
        }
        let w = tail.window.len() as u64;
        let seen = safe::read_at(file, tail.offset - w, w as usize)?;
        Ok(seen == tail.window)
    }

    fn tail(&mut self, ctx: &mut Ctx<'_>, file: &File) -> std::io::Result<()> {
        let tail = self.lines.as_mut().expect("tail state");
        let mut fed_any = false;
        loop {
            let chunk = safe::read_at(file, tail.offset, CHUNK)?;
            if chunk.is_empty() {
                break;
            }
            *ctx.bytes_read += chunk.len() as u64;
            tail.feed(&chunk);
            fed_any = true;
            if chunk.len() < CHUNK {
                break;
            }
        }
        if fed_any || self.report.is_none() {
            match tail.reader.delta() {
                // Only the tests the new lines touched are copied and
                // cleaned: an append costs what it adds, not what the
                // report holds.
                Some((head, changed)) if self.report.is_some() => {
                    let report = self.report.as_mut().expect("checked");
                    let (indices, mut tests): (Vec<usize>, Vec<_>) = changed.into_iter().unzip();
                    clean_tests(&mut tests, &self.name);
                    for (i, t) in indices.iter().zip(tests) {
                        match report.tests.get_mut(*i) {
                            Some(slot) => *slot = t,
                            None => report.tests.push(t),
                        }
                    }
                    let tests = std::mem::take(&mut report.tests);
                    *report = clean_rest(head);
                    report.tests = tests;
                    self.delta.add(indices);
                }
                Some((mut head, changed)) => {
                    head.tests = changed.into_iter().map(|(_, t)| t).collect();
                    self.report = Some(clean(head, &self.name));
                    self.delta = Delta::All;
                }
                None => {
                    self.report = Some(clean(tail.reader.report(), &self.name));
                    self.delta = Delta::All;
                }
            }
        }
        self.problem = None;
        Ok(())
    }

    fn read_document(
        &mut self,
        ctx: &mut Ctx<'_>,
        file: &File,
        stat: &Stat,
        head: Vec<u8>,
    ) -> std::io::Result<()> {
        let cap = ctx.max_document_bytes;
        if stat.len > cap {
            self.report = None;
            self.problem = Some(too_large(stat.len, cap));
            return Ok(());
        }
        // Each half's tests are cleaned on the thread that parsed them.
        if let Some((report, read)) =
            ctx.formats
                .parse_split(file, &head, stat.len, cap, &|tests| {
                    clean_tests(tests, &self.name)
                })
        {
            *ctx.bytes_read += read.saturating_sub(head.len() as u64);
            self.report = Some(clean_rest(report));
            self.problem = None;
            return Ok(());
        }
        // The file streams through the parser (never held whole); its
        // size may grow while it is read: at most `cap + 1` bytes are read.
        let mut f = file;
        io::Seek::seek(&mut f, io::SeekFrom::Start(head.len() as u64))?;
        let mut rest = Counted {
            inner: f.take((cap + 1).saturating_sub(head.len() as u64)),
            n: 0,
        };
        let parsed = ctx
            .formats
            .parse_stream(&head, &mut rest, stat.len as usize)?;
        *ctx.bytes_read += rest.n;
        let total = head.len() as u64 + rest.n;
        if total > cap {
            self.report = None;
            self.problem = Some(too_large(total, cap));
            return Ok(());
        }
        match parsed {
            Ok(report) => {
                self.report = Some(clean(report, &self.name));
                self.problem = None;
            }
            Err(e @ (IngestError::Empty | IngestError::Truncated(_))) => {
                self.problem = Some(Problem::transient(e.to_string()));
            }
            Err(e) => self.problem = Some(Problem::lasting(e.to_string())),
        }
        Ok(())
    }

    /// Whether the view shows this file as being written.
    pub fn pending(&self, now: SystemTime, settle: Duration) -> bool {
        self.problem.as_ref().is_some_and(|p| p.transient)
            && is_fresh(self.stat.as_ref(), now, settle)
    }
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// A file's state as far as a failed open is concerned.
trait Opened: Default {
    fn has_data(&self) -> bool;
    fn problem(&mut self) -> &mut Option<Problem>;
    fn unopened(&mut self) -> &mut bool;
}

impl Opened for ReportFile {
    fn has_data(&self) -> bool {
        self.report.is_some()
    }
    fn problem(&mut self) -> &mut Option<Problem> {
        &mut self.problem
    }
    fn unopened(&mut self) -> &mut bool {
        &mut self.unopened
    }
}

impl<T> Opened for MetaFile<T> {
    fn has_data(&self) -> bool {
        self.value.is_some()
    }
    fn problem(&mut self) -> &mut Option<Problem> {
        &mut self.problem
    }
    fn unopened(&mut self) -> &mut bool {
        &mut self.unopened
    }
}

/// The rule for a file that cannot be opened, for both kinds of file: one
/// that could be read before and now fails to open (its mode changed, an
/// I/O error) keeps its data, with a problem saying why it may be stale,
/// and is read again on the next open that works; one that vanished
/// meanwhile is forgotten quietly (the next listing will not name it); one
/// that is something else now (a FIFO, a symlink out) is dropped with a
/// problem. Returns whether anything visible changed.
fn refused<F: Opened>(file: &mut F, refusal: Refusal) -> bool {
    let had = file.has_data();
    let problem = match refusal {
        Refusal::Gone => None,
        Refusal::Io(e) if had => {
            let now = Some(Problem::lasting(format!(
                "cannot open: {e}; showing what it held when last read"
            )));
            let changed = *file.problem() != now;
            *file.problem() = now;
            *file.unopened() = true;
            return changed;
        }
        other => Some(Problem::lasting(other.to_string())),
    };
    let changed = *file.problem() != problem || had;
    *file = F::default();
    *file.problem() = problem;
    changed
}

fn too_large(len: u64, cap: u64) -> Problem {
    const MB: u64 = 1024 * 1024;
    Problem::lasting(format!(
        "{} MB, over the {} MB limit for whole-document reports; not read",
        len.div_ceil(MB),
        cap / MB
    ))
}

/// A file whose head no format recognises: empty (being written), binary,
/// or some other text.
fn unrecognized(head: &[u8]) -> Problem {
    if head.is_empty() {
        return Problem::transient(IngestError::Empty.to_string());
    }
    if looks_binary(head) {
        return Problem::lasting(IngestError::Binary.to_string());
    }
    Problem::transient(IngestError::Unrecognized.to_string())
}

/// NUL bytes or invalid UTF-8 (a character cut at the end of the head is fine).
pub(crate) fn looks_binary(head: &[u8]) -> bool {
    if memchr::memchr(0, head).is_some() {
        return true;
    }
    match std::str::from_utf8(head) {
        Ok(_) => false,
        Err(e) => e.error_len().is_some(),
    }
}

/// Sanitises everything of a report that will reach the screen, in place:
/// strings that are already clean (nearly all) are kept, not copied. Big
/// reports are cleaned in two halves on two threads.
pub(crate) fn clean(mut report: Report, name: &str) -> Report {
    const SPLIT_FROM: usize = 20_000;
    let tests = &mut report.tests[..];
    if tests.len() >= SPLIT_FROM {
        let (a, b) = tests.split_at_mut(tests.len() / 2);
        // Taken by the thread; here, if no thread can be started.
        let second = std::sync::Mutex::new(Some(b));
        let take = || second.lock().ok().and_then(|mut b| b.take());
        std::thread::scope(|s| {
            let _ = std::thread::Builder::new()
                .spawn_scoped(s, || take().map(|b| clean_tests(b, name)));
            clean_tests(a, name);
        });
        if let Some(b) = take() {
            clean_tests(b, name);
        }
    } else {
        clean_tests(tests, name);
    }
    clean_rest(report)
}

/// [`clean`] of a report whose tests are clean already.
fn clean_rest(mut report: Report) -> Report {
    for e in &mut report.run_errors {
        clean_text(e);
    }
    for w in &mut report.warnings {
        clean_line(w);
    }
    report
}

/// `name`: the report file, named where a capped text says where the rest is.
fn clean_tests(tests: &mut [crate::model::TestCase], name: &str) {
    // Tests of one module share its string: clean it once per run of tests.
    let mut last: Option<(Arc<str>, Arc<str>)> = None;
    for t in tests {
        clean_line(&mut t.id);
        match &last {
            Some((raw, clean)) if Arc::ptr_eq(raw, &t.module) => {
                // Most modules are clean: no need to swap the string for
                // itself (two atomic operations per test).
                if !Arc::ptr_eq(raw, clean) {
                    t.module = clean.clone();
                }
            }
            _ => {
                let raw = t.module.clone();
                match sanitize::line_cow(&raw) {
                    Cow::Borrowed(b) if b.len() == raw.len() => {}
                    c => t.module = Arc::from(c.as_ref()),
                }
                last = Some((raw, t.module.clone()));
            }
        }
        if let Some(f) = t.failure.as_deref_mut() {
            clean_line(&mut f.message);
            if let Some(k) = &mut f.kind {
                clean_line(k);
            }
            for text in [&mut f.detail, &mut f.stdout, &mut f.stderr] {
                cap_text(text, name);
                clean_text(text);
            }
        }
    }
}

/// A traceback or captured output longer than this many lines keeps its
/// first and last [`KEEP_LINES`] lines (the start says what was run, the
/// end how it failed), with a line saying how many are left out and where
/// they are: memory stays bounded by what a person can read, and the
/// detail view answers keys at once whatever a test printed.
pub const MAX_TEXT_LINES: usize = 2 * KEEP_LINES;
/// Lines kept at each end of a capped text.
pub const KEEP_LINES: usize = 1_000;
/// The same for bytes (a few enormous lines): at most this many at each
/// end, cut at a line or character boundary.
pub const KEEP_BYTES: usize = 128 * 1024;

/// Caps `s` as [`MAX_TEXT_LINES`] says, in place.
pub(crate) fn cap_text(s: &mut String, name: &str) {
    let lines = || memchr::memchr_iter(b'\n', s.as_bytes()).count();
    if s.len() <= 2 * KEEP_BYTES && (s.len() <= MAX_TEXT_LINES || lines() <= MAX_TEXT_LINES) {
        return;
    }
    let bytes = s.as_bytes();
    // The end of the first KEEP_LINES lines, at most KEEP_BYTES in.
    let head_end = memchr::memchr_iter(b'\n', bytes)
        .nth(KEEP_LINES - 1)
        .map_or(bytes.len(), |i| i + 1)
        .min(KEEP_BYTES);
    let head_end = floor_char(s, head_end);
    // The start of the last KEEP_LINES lines, at most KEEP_BYTES back.
    let tail_start = memchr::memrchr_iter(b'\n', bytes)
        .nth(KEEP_LINES)
        .map_or(0, |i| i + 1)
        .max(bytes.len().saturating_sub(KEEP_BYTES))
        .max(head_end);
    let tail_start = ceil_char(s, tail_start);
    let left_out = &s[head_end..tail_start];
    if left_out.is_empty() {
        return;
    }
    let lines = memchr::memchr_iter(b'\n', left_out.as_bytes()).count();
    let what = if lines > 0 {
        format!("{lines} more lines")
    } else {
        format!("{} more bytes", left_out.len())
    };
    let mut out = String::with_capacity(head_end + (s.len() - tail_start) + 80);
    out.push_str(&s[..head_end]);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("… {what} not kept; all of it is in {name}\n"));
    out.push_str(&s[tail_start..]);
    *s = out;
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// `*s = sanitize::line(s)` without a copy when `s` is clean.
fn clean_line(s: &mut String) {
    // A clean line is borrowed as a prefix (trailing newlines trimmed).
    let owned = match sanitize::line_cow(s) {
        Cow::Borrowed(b) => Err(b.len()),
        Cow::Owned(o) => Ok(o),
    };
    match owned {
        Ok(o) => *s = o,
        Err(len) => s.truncate(len),
    }
}

/// `*s = sanitize::text(s)` without a copy when `s` is clean.
fn clean_text(s: &mut String) {
    if let Cow::Owned(o) = sanitize::text_cow(s) {
        *s = o;
    }
}

/// State of `iteration.json` or `deploy.json`.
pub(crate) struct MetaFile<T> {
    pub stat: Option<Stat>,
    pub value: Option<T>,
    pub problem: Option<Problem>,
    /// The last open failed: re-read on the next one that works.
    unopened: bool,
}

impl<T> Default for MetaFile<T> {
    fn default() -> Self {
        MetaFile {
            stat: None,
            value: None,
            problem: None,
            unopened: false,
        }
    }
}

impl<T: DeserializeOwned + PartialEq> MetaFile<T> {
    pub fn update(
        &mut self,
        bytes_read: &mut u64,
        opened: Result<(File, Stat), Refusal>,
        force: bool,
    ) -> bool {
        let (file, stat) = match opened {
            Ok(x) => x,
            Err(refusal) => return refused(self, refusal),
        };
        let unopened = std::mem::take(&mut self.unopened);
        if self.stat == Some(stat) && !unopened && !force {
            return false;
        }
        self.stat = Some(stat);
        if stat.len > MAX_META_BYTES {
            self.value = None;
            self.problem = Some(Problem::lasting(format!(
                "larger than {} KB; not read",
                MAX_META_BYTES / 1024
            )));
            return true;
        }
        let mut data = Vec::with_capacity(stat.len as usize + 1);
        match safe::read_rest(&file, 0, MAX_META_BYTES + 1, &mut data) {
            Ok(n) => *bytes_read += n,
            Err(e) => {
                self.problem = Some(Problem::lasting(format!("read error: {e}")));
                return true;
            }
        }
        if data.iter().all(u8::is_ascii_whitespace) {
            self.problem = Some(Problem::transient(IngestError::Empty.to_string()));
            return true;
        }
        match serde_json::from_slice::<T>(&data) {
            Ok(v) => {
                self.value = Some(v);
                self.problem = None;
            }
            Err(e) if e.is_eof() => {
                self.problem = Some(Problem::transient(format!("truncated JSON: {e}")));
            }
            Err(e) => self.problem = Some(Problem::lasting(format!("invalid JSON: {e}"))),
        }
        true
    }

    pub fn pending(&self, now: SystemTime, settle: Duration) -> bool {
        self.problem.as_ref().is_some_and(|p| p.transient)
            && is_fresh(self.stat.as_ref(), now, settle)
    }
}

#[cfg(test)]
mod cap_tests {
    use super::*;

    fn numbered(n: usize) -> String {
        (0..n).map(|i| format!("line {i}\n")).collect()
    }

    #[test]
    fn readable_texts_are_kept_whole() {
        for n in [0, 1, 50, MAX_TEXT_LINES] {
            let mut s = numbered(n);
            let before = s.clone();
            cap_text(&mut s, "iter-001/junit.xml");
            assert_eq!(s, before, "{n} lines");
        }
    }

    #[test]
    fn long_output_keeps_both_ends_and_says_where_the_rest_is() {
        let mut s = numbered(10_000);
        cap_text(&mut s, "iter-001/junit.xml");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 2 * KEEP_LINES + 1);
        assert_eq!(lines[0], "line 0");
        assert_eq!(lines[KEEP_LINES - 1], format!("line {}", KEEP_LINES - 1));
        assert_eq!(
            lines[KEEP_LINES],
            "… 8000 more lines not kept; all of it is in iter-001/junit.xml"
        );
        assert_eq!(lines[KEEP_LINES + 1], "line 9000");
        assert_eq!(*lines.last().unwrap(), "line 9999");
    }

    #[test]
    fn one_enormous_line_is_cut_by_bytes_at_character_boundaries() {
        // Three-byte characters, so a byte cut would split one.
        let mut s = "€".repeat(1_000_000);
        cap_text(&mut s, "r.xml");
        assert!(s.len() <= 2 * KEEP_BYTES + 100, "{}", s.len());
        assert!(s.starts_with('€') && s.ends_with('€'));
        let marker = s.lines().nth(1).unwrap();
        assert!(
            marker.starts_with("… ")
                && marker.ends_with("more bytes not kept; all of it is in r.xml")
        );
    }
}
