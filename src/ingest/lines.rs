//! JSON-lines reports read incrementally: pytest `--report-log`,
//! `go test -json`, libtest `--format json`. The format is decided by the
//! first line that parses; a line that does not parse (or is of another
//! format) is a warning for that line, and reading goes on.

use std::collections::HashMap;

use serde_json::Value;

use super::go::GoState;
use super::libtest::LibtestState;
use super::merge::combine_phases;
use super::reportlog::ReportLogState;
use crate::model::{Report, TestCase};

/// A line longer than this is dropped with a warning (a runaway writer must
/// not make loopdeck hold gigabytes waiting for a newline).
const MAX_LINE: usize = 64 << 20;
/// At most this many per-line warnings are kept; the rest are counted.
const MAX_WARNINGS: usize = 100;

/// Tests in first-seen order; the same id seen again is combined in place
/// (pytest's setup/call/teardown reports of one test).
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub tests: Vec<TestCase>,
    index: HashMap<String, usize>,
    /// Indices of tests added or changed since [`Sink::take_changed`]
    /// (unsorted, may repeat): what a live view must update.
    changed: Vec<usize>,
}

impl Sink {
    pub fn upsert(&mut self, test: TestCase) {
        let i = match self.index.get(&test.id) {
            Some(&i) => {
                combine_phases(&mut self.tests[i], test);
                i
            }
            None => {
                self.index.insert(test.id.clone(), self.tests.len());
                self.tests.push(test);
                self.tests.len() - 1
            }
        };
        // Phases of one test arrive together: skip the obvious repeat.
        if self.changed.last() != Some(&i) {
            self.changed.push(i);
        }
    }

    /// Indices changed since the last call, ascending, each once.
    fn take_changed(&mut self) -> Vec<usize> {
        let mut out = std::mem::take(&mut self.changed);
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[derive(Debug)]
enum Format {
    ReportLog(ReportLogState),
    Go(GoState),
    Libtest(LibtestState),
}

impl Format {
    fn detect(v: &Value) -> Option<Format> {
        let o = v.as_object()?;
        if o.contains_key("$report_type") || o.contains_key("pytest_version") {
            Some(Format::ReportLog(ReportLogState::default()))
        } else if o.contains_key("Action") {
            Some(Format::Go(GoState::default()))
        } else if o
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| matches!(t, "suite" | "test" | "bench"))
            && o.contains_key("event")
        {
            Some(Format::Libtest(LibtestState::default()))
        } else {
            None
        }
    }

    fn accepts(&self, v: &Value) -> bool {
        matches!(
            (self, Format::detect(v)),
            (Format::ReportLog(_), Some(Format::ReportLog(_)))
                | (Format::Go(_), Some(Format::Go(_)))
                | (Format::Libtest(_), Some(Format::Libtest(_)))
        )
    }

    fn name(&self) -> &'static str {
        match self {
            Format::ReportLog(_) => "pytest report-log",
            Format::Go(_) => "go test -json",
            Format::Libtest(_) => "libtest json",
        }
    }
}

/// Incremental reader for JSON-lines reports (pytest --report-log,
/// go test -json, libtest json). Feed it appended bytes; only complete lines
/// are consumed, a half-written last line waits for its newline.
#[derive(Debug, Default)]
pub struct LineReader {
    partial: Vec<u8>,
    skipping_long_line: bool,
    line_no: usize,
    format: Option<Format>,
    sink: Sink,
    warnings: Vec<String>,
    warnings_dropped: usize,
    /// Bytes fed so far.
    fed: u64,
}

impl LineReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the complete lines in `chunk` (after what an earlier call left
    /// unfinished); keeps the unterminated rest for the next call.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.fed += chunk.len() as u64;
        let mut rest = chunk;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let (line, tail) = (&rest[..nl], &rest[nl + 1..]);
            if self.skipping_long_line {
                self.skipping_long_line = false;
                self.line_no += 1;
                self.partial.clear();
            } else if self.partial.is_empty() {
                self.line(line);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line(&whole);
                whole.clear();
                self.partial = whole; // keep the allocation
            }
            rest = tail;
        }
        if self.skipping_long_line {
            return;
        }
        if self.partial.len() + rest.len() > MAX_LINE {
            self.skipping_long_line = true;
            self.partial = Vec::new();
            self.warn(format!(
                "line {}: longer than {} MB, skipped",
                self.line_no + 1,
                MAX_LINE >> 20
            ));
        } else {
            self.partial.extend_from_slice(rest);
        }
    }

    /// Ends a whole-file read: an unterminated last line is read too when it
    /// is a complete JSON value (a finished file without a final newline);
    /// a cut-off line stays unread.
    pub fn finish(&mut self) {
        if self.partial.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        if serde_json::from_slice::<Value>(&self.partial).is_ok() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
    }

    /// Bytes of the input consumed as complete lines (the rest is a partial
    /// line held until its newline arrives).
    pub fn consumed(&self) -> u64 {
        self.fed - self.partial.len() as u64
    }

    /// True when nothing at all has been recognised yet.
    pub fn is_unrecognized(&self) -> bool {
        self.format.is_none()
    }

    fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else {
            self.warnings_dropped += 1;
        }
    }

    fn line(&mut self, line: &[u8]) {
        self.line_no += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let value: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                let what = if std::str::from_utf8(line).is_err() || line.contains(&0) {
                    "binary data".to_string()
                } else {
                    format!("not JSON ({e})")
                };
                self.warn(format!("line {}: {what}", self.line_no));
                return;
            }
        };
        if self.format.is_none() {
            self.format = Format::detect(&value);
        }
        match &mut self.format {
            Some(f) if f.accepts(&value) => match f {
                Format::ReportLog(s) => s.event(&value, &mut self.sink),
                Format::Go(s) => s.event(&value, &mut self.sink),
                Format::Libtest(s) => s.event(&value, &mut self.sink),
            },
            _ => {
                let n = self.line_no;
                self.warn(format!("line {n}: JSON of no known test-event shape"));
            }
        }
    }

    /// Everything read so far (tests finished, run errors, line warnings).
    pub fn report(&self) -> Report {
        let mut r = self.head();
        r.tests = self.sink.tests.clone();
        r
    }

    /// What changed since the last call: the report without its tests, and
    /// the tests added or changed (ascending indices; new tests come last,
    /// in order). Costs what changed, not what the report holds.
    pub fn delta(&mut self) -> (Report, Vec<(usize, TestCase)>) {
        let changed = self.sink.take_changed();
        let tests = changed
            .into_iter()
            .map(|i| (i, self.sink.tests[i].clone()))
            .collect();
        (self.head(), tests)
    }

    /// [`report`](Self::report) without the tests.
    fn head(&self) -> Report {
        let mut warnings = self.warnings.clone();
        if self.warnings_dropped > 0 {
            warnings.push(format!("... and {} more bad lines", self.warnings_dropped));
        }
        let (format, complete, expected_total) = match &self.format {
            Some(f @ Format::ReportLog(s)) => (f.name(), s.finished, None),
            Some(f @ Format::Go(s)) => (f.name(), s.is_complete(), None),
            Some(f @ Format::Libtest(s)) => (f.name(), s.is_complete(), s.expected_total),
            None => ("JSON lines", false, None),
        };
        Report {
            format,
            tests: Vec::new(),
            run_errors: Vec::new(),
            complete,
            expected_total,
            warnings,
        }
    }

    /// Like [`report`](Self::report) but gives the tests away (whole-file parse).
    pub(crate) fn into_report(mut self) -> Report {
        let tests = std::mem::take(&mut self.sink.tests);
        let mut r = self.head();
        r.tests = tests;
        r
    }
}
