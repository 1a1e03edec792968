//! The seam between the results layer and the report parsers.
//!
//! [`Store::open`](super::Store::open) uses [`Ingest`], i.e. [`crate::ingest`].
//! Anything else implementing [`Formats`] can be plugged in with
//! [`Store::open_with`](super::Store::open_with): tests of the directory,
//! tailing and safety logic use a tiny fake format so they do not depend on
//! the real parsers.

use std::fs::File;
use std::io::{self, Read};

use crate::ingest::{self, IngestError, Keep, Shape};
use crate::model::{Report, TestCase};

/// Incremental reader for a JSON-lines report: see [`ingest::LineReader`].
pub trait LineFeed: Send {
    /// Appended bytes; only complete lines are consumed.
    fn feed(&mut self, chunk: &[u8]);
    /// Everything read so far.
    fn report(&self) -> Report;
    /// What changed since the last call (or since it was made): the report
    /// without its tests, and the tests added or changed, by index
    /// (ascending; indices past the last call's end are new tests, in
    /// order). `None`: this feed cannot tell; use [`LineFeed::report`].
    fn delta(&mut self) -> Option<(Report, Vec<(usize, TestCase)>)> {
        None
    }
}

/// Report parsing as the store needs it: see the functions of [`crate::ingest`].
pub trait Formats: Send + Sync {
    fn sniff(&self, head: &[u8]) -> Option<Shape>;
    fn parse(&self, bytes: &[u8]) -> Result<Report, IngestError>;
    fn line_reader(&self) -> Box<dyn LineFeed>;
    fn merge(&self, reports: &[&Report]) -> Vec<TestCase>;

    /// A whole document read as it goes: `head` (its first bytes), then
    /// `rest`; `size` is the file's size. The outer error is a read error.
    /// By default the bytes are collected and given to [`Formats::parse`].
    fn parse_stream(
        &self,
        head: &[u8],
        rest: &mut (dyn Read + Send),
        size: usize,
    ) -> io::Result<Result<Report, IngestError>> {
        let mut all = Vec::with_capacity(size.max(head.len()) + 1);
        all.extend_from_slice(head);
        rest.read_to_end(&mut all)?;
        Ok(self.parse(&all))
    }

    /// A big document parsed in parts on several threads: the report and
    /// the bytes read, or `None` to read it with [`Formats::parse_stream`].
    /// `each` is applied to the tests of each part, on its thread.
    fn parse_split(
        &self,
        _file: &File,
        _head: &[u8],
        _len: u64,
        _cap: u64,
        _each: &ingest::EachPart<'_>,
    ) -> Option<(Report, u64)> {
        None
    }

    /// [`Formats::merge`] of reports the caller no longer needs.
    fn merge_owned(&self, reports: Vec<Report>) -> Vec<TestCase> {
        self.merge(&reports.iter().collect::<Vec<_>>())
    }
}

impl LineFeed for ingest::LineReader {
    fn feed(&mut self, chunk: &[u8]) {
        ingest::LineReader::feed(self, chunk)
    }
    fn report(&self) -> Report {
        ingest::LineReader::report(self)
    }
    fn delta(&mut self) -> Option<(Report, Vec<(usize, TestCase)>)> {
        Some(ingest::LineReader::delta(self))
    }
}

/// The real parsers of [`crate::ingest`], keeping `keep` of each failure
/// (documents read whole keep everything).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ingest {
    pub keep: Keep,
}

impl Formats for Ingest {
    fn sniff(&self, head: &[u8]) -> Option<Shape> {
        ingest::sniff(head)
    }
    fn parse(&self, bytes: &[u8]) -> Result<Report, IngestError> {
        ingest::parse(bytes)
    }
    fn line_reader(&self) -> Box<dyn LineFeed> {
        Box::new(ingest::LineReader::new())
    }
    fn merge(&self, reports: &[&Report]) -> Vec<TestCase> {
        ingest::merge(reports)
    }
    fn parse_stream(
        &self,
        head: &[u8],
        rest: &mut (dyn Read + Send),
        size: usize,
    ) -> io::Result<Result<Report, IngestError>> {
        ingest::parse_stream_keeping(head, rest, size, self.keep)
    }
    fn merge_owned(&self, reports: Vec<Report>) -> Vec<TestCase> {
        ingest::merge_owned(reports)
    }
    fn parse_split(
        &self,
        file: &File,
        head: &[u8],
        len: u64,
        cap: u64,
        each: &ingest::EachPart<'_>,
    ) -> Option<(Report, u64)> {
        ingest::parse_split(file, head, len, cap, self.keep, each)
    }
}
