//! Report bytes -> model values. Pure functions over `&[u8]` plus small
//! incremental state for JSON-lines formats that grow while a run goes on.
//! Formats are recognised by content, never by file name.

use crate::model::Report;

/// Why a file could not be read as a report. Shown to the user with the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestError {
    /// Zero bytes: the normal state of a report a runner has just truncated.
    Empty,
    /// A document that stops before its end (XML root not closed, JSON cut off):
    /// usually a file being written; re-read when it changes.
    Truncated(String),
    /// NUL bytes or invalid UTF-8 where text was expected.
    Binary,
    /// Syntactically broken, with a location and reason.
    Malformed(String),
    /// Not a test report loopdeck knows (not an error for unrelated files).
    Unrecognized,
}

impl std::fmt::Display for IngestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngestError::Empty => write!(f, "empty file"),
            IngestError::Truncated(why) => write!(f, "truncated: {why}"),
            IngestError::Binary => write!(f, "binary data, not a text report"),
            IngestError::Malformed(why) => write!(f, "malformed: {why}"),
            IngestError::Unrecognized => write!(f, "not a test report format loopdeck knows"),
        }
    }
}

impl std::error::Error for IngestError {}

/// Reads a whole report file.
pub fn parse(_bytes: &[u8]) -> Result<Report, IngestError> {
    todo!("ingest")
}

/// How a file is read: a whole document re-parsed when it changes, or JSON
/// lines tailed from the last offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Document,
    Lines,
}

/// Looks at the first bytes of a file and says how to read it, or `None` when
/// it is no report loopdeck knows (or too little has been written to tell).
pub fn sniff(_head: &[u8]) -> Option<Shape> {
    todo!("ingest")
}

/// Incremental reader for JSON-lines reports (pytest --report-log,
/// go test -json, libtest json). Feed it appended bytes; only complete lines
/// are consumed, a half-written last line waits for its newline.
#[derive(Debug, Default)]
pub struct LineReader {}

impl LineReader {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn feed(&mut self, _chunk: &[u8]) {
        todo!("ingest")
    }
    /// Everything read so far (tests finished, run errors, line warnings).
    pub fn report(&self) -> Report {
        todo!("ingest")
    }
}

/// Merges the reports of one iteration: the same test id seen in several files
/// (a JUnit file and a report-log of the same run) counts once; disjoint
/// shards add up. Output order: by first appearance.
pub fn merge(_reports: &[&Report]) -> Vec<crate::model::TestCase> {
    todo!("ingest")
}
