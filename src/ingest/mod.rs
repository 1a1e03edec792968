//! Report bytes -> model values. Pure functions over `&[u8]` plus small
//! incremental state for JSON-lines formats that grow while a run goes on.
//! Formats are recognised by content, never by file name.

mod go;
mod input;
mod jest;
mod junit;
mod libtest;
mod lines;
mod merge;
mod prefault;
mod pytest;
mod reportlog;
mod split;
pub mod synthetic;
mod text;

use std::io::{self, Read};

use serde_json::Value;

use crate::model::Report;

pub use lines::LineReader;
pub use merge::{merge, merge_owned};
pub use split::{EachPart, SPLIT_FROM, parse_split};

/// How much of each failure a parse keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Keep {
    /// Everything: message, traceback, captured output (the UI shows them).
    #[default]
    All,
    /// What the counts, modules and failure groups are made of: JUnit
    /// failures keep their message, and their whole traceback only where
    /// the cause of the failure is read from it
    /// ([`crate::model::cause_in_detail`]); of others its first line (so
    /// that merging reports still tells a failure with a traceback from
    /// one without); captured output is skipped unread. For `loopdeck
    /// status`, which prints no tracebacks: a 100k-test report's are
    /// megabytes.
    Summary,
}
pub use synthetic::generate_junit;
pub use text::strip_ansi;

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

/// How a file is read: a whole document re-parsed when it changes, or JSON
/// lines tailed from the last offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Document,
    Lines,
}

/// How many bytes of a file's head `sniff` wants to see.
pub const SNIFF_LEN: usize = 4096;

/// Reads a whole report file. The format is detected by content: JUnit XML,
/// Jest/Vitest JSON, pytest-json-report, or JSON lines (pytest report-log,
/// go test -json, libtest json, read through a [`LineReader`]).
pub fn parse(bytes: &[u8]) -> Result<Report, IngestError> {
    let body = skip_bom_and_space(bytes);
    if body.is_empty() {
        return Err(IngestError::Empty);
    }
    if is_utf16(bytes) {
        return Err(IngestError::Binary);
    }
    match body[0] {
        b'<' => {
            // XML cannot hold NUL; UTF-16 without a BOM shows up as NULs.
            if memchr::memchr(0, body).is_some() {
                return Err(IngestError::Binary);
            }
            std::str::from_utf8(body).map_err(|_| IngestError::Binary)?;
            junit::parse(body, body.len(), Keep::All).map_err(|f| match f {
                junit::Fail::Ingest(e) => e,
                junit::Fail::Xml(e, pos) => {
                    let tail = body.get(pos as usize..).unwrap_or_default();
                    junit::xml_error(&e, pos, memchr::memchr(b'>', tail).is_some())
                }
            })
        }
        b'{' => match json_shape(body) {
            // One bad line (even binary) is a warning, not the end of the file.
            Some(Shape::Lines) => parse_lines(bytes),
            shape => {
                if memchr::memchr(0, body).is_some() {
                    return Err(IngestError::Binary);
                }
                match parse_json_document(body) {
                    // Several JSON values of no known shape: some other log.
                    Err(IngestError::Malformed(_))
                        if shape.is_none() && first_line_is_json(body) =>
                    {
                        Err(IngestError::Unrecognized)
                    }
                    other => other,
                }
            }
        },
        _ if looks_binary(bytes) => Err(IngestError::Binary),
        _ => Err(IngestError::Unrecognized),
    }
}

/// [`parse`] for a file read as it goes: `head` is its first bytes (as given
/// to [`sniff`]), `rest` the bytes after them, `size` the whole size when
/// known. A JUnit document streams through a small buffer (checked for NUL
/// bytes and invalid UTF-8 on the way) and is never held whole; other
/// documents are read whole and given to [`parse`]. The result is the same
/// as [`parse`] of all the bytes. The outer error is a failure to read.
pub fn parse_stream(
    head: &[u8],
    rest: &mut (dyn Read + Send),
    size: usize,
) -> io::Result<Result<Report, IngestError>> {
    parse_stream_keeping(head, rest, size, Keep::All)
}

/// [`parse_stream`], keeping what `keep` says of each failure.
pub fn parse_stream_keeping(
    head: &[u8],
    rest: &mut (dyn Read + Send),
    size: usize,
    keep: Keep,
) -> io::Result<Result<Report, IngestError>> {
    let body = skip_bom_and_space(head);
    if body.is_empty() || body[0] != b'<' || is_utf16(head) {
        let mut all = Vec::with_capacity(size.max(head.len()) + 1);
        all.extend_from_slice(head);
        rest.read_to_end(&mut all)?;
        return Ok(parse(&all));
    }
    let mut source = body.chain(rest);
    std::thread::scope(|scope| {
        // Small documents are read here; big ones ahead, on a thread.
        let mut input = if size > READ_AHEAD_FROM {
            input::Checked::threaded(scope, &mut source)
        } else {
            input::Checked::inline(&mut source)
        };
        let parsed = junit::parse(&mut input, size, keep);
        if parsed.is_err() {
            // The whole file decides: binary anywhere wins over any other
            // error, and a `>` after the error position tells broken from
            // cut short.
            input.drain()?;
        }
        if input.is_binary() {
            return Ok(Err(IngestError::Binary));
        }
        match parsed {
            Ok(report) => Ok(Ok(report)),
            Err(junit::Fail::Ingest(e)) => Ok(Err(e)),
            // A read error of the file itself, not a verdict on its content.
            Err(junit::Fail::Xml(quick_xml::Error::Io(e), _)) => {
                Err(io::Error::new(e.kind(), e.to_string()))
            }
            Err(junit::Fail::Xml(e, pos)) => {
                Ok(Err(junit::xml_error(&e, pos, input.has_gt_from(pos))))
            }
        }
    })
}

/// Documents larger than this are read ahead on a second thread.
const READ_AHEAD_FROM: usize = 1024 * 1024;

fn first_line_is_json(body: &[u8]) -> bool {
    let end = memchr::memchr(b'\n', body).unwrap_or(body.len());
    serde_json::from_slice::<Value>(&body[..end]).is_ok()
}

fn is_utf16(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF])
}

fn parse_lines(bytes: &[u8]) -> Result<Report, IngestError> {
    let mut reader = LineReader::new();
    reader.feed(bytes);
    reader.finish();
    if reader.is_unrecognized() {
        return Err(IngestError::Unrecognized);
    }
    Ok(reader.into_report())
}

fn parse_json_document(body: &[u8]) -> Result<Report, IngestError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() {
            IngestError::Truncated(format!("JSON ends early ({e})"))
        } else if e.is_data() || e.is_syntax() {
            IngestError::Malformed(e.to_string())
        } else {
            IngestError::Binary
        }
    })?;
    if doc.get("testResults").is_some_and(Value::is_array) {
        Ok(jest::parse(&doc))
    } else if doc.get("tests").is_some_and(Value::is_array)
        && (doc.get("collectors").is_some() || doc.get("summary").is_some())
    {
        Ok(reportlog::json_report(&doc))
    } else {
        Err(IngestError::Unrecognized)
    }
}

/// Looks at the first bytes of a file and says how to read it, or `None` when
/// it is no report loopdeck knows (or too little has been written to tell).
pub fn sniff(head: &[u8]) -> Option<Shape> {
    let body = skip_bom_and_space(head);
    if body.is_empty() || is_utf16(head) {
        return None;
    }
    match body[0] {
        b'<' if memchr::memchr(0, body).is_none() => xml_is_junit(body).then_some(Shape::Document),
        b'{' => json_shape(body),
        _ => None,
    }
}

fn skip_bom_and_space(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

/// NUL bytes in the head, or a UTF-16/UTF-32 byte-order mark: not text we read.
fn looks_binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(8192)];
    is_utf16(head)
        || memchr::memchr(0, head).is_some()
        || std::str::from_utf8(head).is_err_and(|e| e.error_len().is_some())
}

/// The root element (after the declaration, comments and doctype) is
/// `<testsuites` or `<testsuite`.
fn xml_is_junit(body: &[u8]) -> bool {
    let mut rest = body;
    loop {
        let start = rest
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        rest = &rest[start..];
        if rest.starts_with(b"<?") || rest.starts_with(b"<!") {
            let close: &[u8] = if rest.starts_with(b"<!--") {
                b"-->"
            } else {
                b">"
            };
            match memchr::memmem::find(rest, close) {
                Some(i) => rest = &rest[i + close.len()..],
                None => return false,
            }
        } else {
            return rest.starts_with(b"<testsuites") || rest.starts_with(b"<testsuite");
        }
    }
}

/// Which JSON report a text starting with `{` is: decided by its first key,
/// or by the keys of its first line when that line is complete.
fn json_shape(body: &[u8]) -> Option<Shape> {
    let line_end = memchr::memchr(b'\n', body);
    if let Some(end) = line_end
        && let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(&body[..end])
    {
        return shape_of_keys(o.keys().map(String::as_str));
    }
    let key = first_key(body)?;
    shape_of_keys(std::iter::once(key))
}

fn shape_of_keys<'k>(keys: impl Iterator<Item = &'k str>) -> Option<Shape> {
    let mut shape = None;
    for k in keys {
        match k {
            "$report_type" | "pytest_version" | "Action" | "ImportPath" | "Time" | "type"
            | "event" => shape = Some(Shape::Lines),
            "testResults"
            | "numTotalTests"
            | "numFailedTestSuites"
            | "numTotalTestSuites"
            | "numFailedTests"
            | "created"
            | "collectors"
            | "tests"
            | "summary" => {
                return Some(Shape::Document);
            }
            _ => {}
        }
    }
    shape
}

/// The first object key of a JSON text (no escapes needed for the keys we know).
fn first_key(body: &[u8]) -> Option<&str> {
    let rest = skip_bom_and_space(body.strip_prefix(b"{")?);
    let rest = rest.strip_prefix(b"\"")?;
    let end = memchr::memchr(b'"', rest)?;
    std::str::from_utf8(&rest[..end]).ok()
}
