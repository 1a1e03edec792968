//! JUnit XML in the dialects real runners write (pytest xunit1/xunit2,
//! jest-junit, Vitest, mocha-junit-reporter, cargo-nextest, gotestsum, Maven
//! Surefire, and anything close to them).
//!
//! One pass over the borrowed input with quick-xml's slice reader; no
//! recursion (nesting is a counter and a heap stack of suites), no copy of a
//! passing test's captured output (its `<system-out>` is skipped by span and
//! decoded only if the test turns out to fail).
//!
//! ids and modules per dialect (see the fixtures README):
//! - pytest: `classname="tests.test_x.Class" name="t[p]"` ->
//!   `tests/test_x.py::Class::t[p]`, module `tests/test_x.py`
//! - jest-junit: `name` is describe blocks and title joined by spaces; the
//!   ` › ` boundaries are rebuilt from the shared word prefixes of the tests
//!   of one file (see [`jest_ids`]); module = `file` attribute or suite name
//! - Vitest: `classname > name` (classname is the file), module = file
//! - mocha: `name` (full title), module = the top suite
//! - nextest: `classname name` (binary id + test path), module = binary id
//! - gotestsum: `<last package component> name`, module = import path
//! - Surefire and other: `classname.name`, module = classname

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;

use quick_xml::Reader;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;
// Space as quick-xml has it (not form feed), and a tag's name up to it.
use quick_xml::utils::{is_whitespace, name_len};

use super::text::{decode_entity, first_line, message_line, pytest_unmangle, strip_ansi};
use super::{IngestError, Keep, go, pytest};
use crate::model::{Failure, Outcome, Report, TestCase};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Unknown,
    Pytest,
    Jest,
    Vitest,
    Mocha,
    Nextest,
    Go,
    Generic,
}

struct Suite {
    name: String,
    file: Option<String>,
    tests_attr: Option<usize>,
    dialect: Dialect,
    /// Index in `tests` of this suite's first test case.
    first_case: usize,
    /// jest-junit: cases with no child element and time 0 (todo candidates).
    bare: Vec<usize>,
    /// Offset just after its start tag: names the suite when a document is
    /// parsed in two halves (see [`super::split`]).
    tag_end: u64,
}

/// The test case whose element is open. One per parser, reused: its
/// buffers keep their capacity from one case to the next.
struct Case {
    classname: String,
    name: String,
    file: String,
    has_file: bool,
    time: Option<f64>,
    outcome: Outcome,
    failure: Option<Box<Failure>>,
    /// Text of `<system-out>` / `<system-err>` (UTF-8 bytes in reused
    /// buffers): made a string only if the test turns out to fail.
    stdout: Option<Vec<u8>>,
    stderr: Option<Vec<u8>>,
    /// Text of the first `<failure>` / `<error>` (same kind of buffer):
    /// the message may come from it, and the detail is made of it.
    body: Option<Vec<u8>>,
    has_children: bool,
}

impl Default for Case {
    fn default() -> Case {
        Case {
            classname: String::new(),
            name: String::new(),
            file: String::new(),
            has_file: false,
            time: None,
            outcome: Outcome::Passed,
            failure: None,
            stdout: None,
            stderr: None,
            body: None,
            has_children: false,
        }
    }
}

impl Case {
    fn file(&self) -> Option<&str> {
        self.has_file.then_some(self.file.as_str())
    }
}

struct Parser {
    tests: Vec<TestCase>,
    suites: Vec<Suite>,
    root_dialect: Dialect,
    root_tests: Option<usize>,
    root_errors: Option<usize>,
    /// Size of the document in bytes (bounds what a declared count reserves).
    size_hint: usize,
    /// See [`walk`].
    prefault: f64,
    keep: Keep,
    /// The last few classnames and their pytest module and id prefix (the
    /// tests of a file alternate between its classes and its functions).
    classes: Vec<ClassEntry>,
    /// Next entry of `classes` to replace.
    class_next: usize,
    /// The module of the last test: the tests of one module share it.
    last_module: Option<Arc<str>>,
    /// Scratch for [`pytest::split_classname_into`].
    scratch: String,
    mocha_top: Vec<String>,
    warnings: Vec<String>,
    case: Case,
    /// Spare buffers for captured output (kept between cases).
    spare: Vec<Vec<u8>>,
    /// Dialect of the first outermost suite that closed (checks the second
    /// half of a split document against the first).
    outer_dialect: Option<Dialect>,
}

/// Test records reserved from a declared count are made resident at once
/// from this many on (see [`super::prefault`]).
const PREFAULT_FROM: usize = 10_000;

/// How many classnames [`Parser::classes`] remembers.
const CLASS_CACHE: usize = 4;

struct ClassEntry {
    classname: String,
    prefix: String,
    module: Arc<str>,
}

/// Why [`parse`] stopped. XML errors carry the position; the caller, who
/// knows the rest of the input, tells a document cut short from a broken
/// one with [`xml_error`].
pub(crate) enum Fail {
    Ingest(IngestError),
    Xml(XmlError, u64),
}

impl From<IngestError> for Fail {
    fn from(e: IngestError) -> Fail {
        Fail::Ingest(e)
    }
}

/// Reads a JUnit document from a buffered byte stream. `size_hint` is the
/// document's size in bytes, when known (it bounds how much a declared test
/// count may reserve). The caller checks the bytes are text (no NUL, valid
/// UTF-8): see [`super::parse`] and [`super::parse_stream`].
pub(crate) fn parse<R: BufRead>(input: R, size_hint: usize, keep: Keep) -> Result<Report, Fail> {
    let walk = walk(input, size_hint, 1.0, keep)?;
    walk.check_closed()?;
    Ok(walk.p.finish())
}

/// A document read to its end, with what is still open there: a whole
/// document has nothing open; the first half of a split one has its root
/// and the suite it was cut in.
pub(crate) struct Walk {
    p: Parser,
    depth: usize,
    seen_root: bool,
    in_case: bool,
}

impl Walk {
    /// The tests read so far.
    pub(crate) fn tests_mut(&mut self) -> &mut [TestCase] {
        &mut self.p.tests
    }

    fn check_closed(&self) -> Result<(), Fail> {
        if !self.seen_root {
            return Err(IngestError::Truncated("no root element yet".into()).into());
        }
        if self.depth != 0 {
            return Err(IngestError::Truncated(format!(
                "document ends with {} element(s) still open",
                self.depth
            ))
            .into());
        }
        Ok(())
    }
}

/// The dialect a runner names in the root's `name` attribute.
fn root_dialect(name: &str) -> Option<Dialect> {
    Some(match name {
        "pytest tests" => Dialect::Pytest,
        "jest tests" => Dialect::Jest,
        "vitest tests" => Dialect::Vitest,
        "Mocha Tests" => Dialect::Mocha,
        _ => return None,
    })
}

/// Whether the root start tag names a dialect that needs whole suites at
/// once (see [`join_halves`]): such a document is not worth splitting.
pub(crate) fn needs_one_pass(root: &BytesStart<'_>) -> bool {
    attrs(root).any(|a| {
        a.key == b"name"
            && matches!(
                root_dialect(&attr_text(a.value)),
                Some(Dialect::Jest | Dialect::Mocha)
            )
    })
}

/// Joins the halves of a document cut just before a `<testcase>` start
/// tag, as [`super::split`] reads them: `first` is the document up to the
/// cut; `second` is the open start tags at the cut (root, suite) followed by
/// the rest of the document. `open` is how many elements `first` must have
/// open at its end, `suite_end` where the suite it was cut in must have
/// started (the offset just after its start tag, counted in `first`).
///
/// `None` when the halves do not fit together exactly as one pass over the
/// whole document would have read them (the cut was inside a comment, the
/// suite guessed wrong, a dialect that needs the whole suite at once):
/// the caller then reads the document in one pass.
pub(crate) fn join_halves(
    first: Walk,
    second: Walk,
    open: usize,
    suite_end: u64,
) -> Option<Report> {
    second.check_closed().ok()?;
    if !first.seen_root || first.in_case || first.depth != open {
        return None;
    }
    let [suite] = &first.p.suites[..] else {
        return None;
    };
    // Jest rebuilds ids and todos from all the tests of a suite; mocha
    // derives modules from the suites seen before: both need one pass.
    if suite.tag_end != suite_end
        || matches!(suite.dialect, Dialect::Jest | Dialect::Mocha)
        || second.p.outer_dialect != Some(suite.dialect)
    {
        return None;
    }
    let mut p = first.p;
    let mut rest = second.p.tests.into_iter();
    // A test cut between its call and teardown <testcase>s counts once.
    let in_suite = p.suites[0].first_case < p.tests.len();
    if in_suite
        && let Some(prev) = p.tests.last_mut()
        && rest.as_slice().first().is_some_and(|t| t.id == prev.id)
        && let Some(next) = rest.next()
    {
        super::merge::combine_phases(prev, next);
    }
    p.tests.extend(rest);
    p.warnings.extend(second.p.warnings);
    p.close_suite();
    Some(p.finish())
}

/// Reads events to the end of `input` (an ill-formed document is an
/// error; one that ends with elements open is not, yet).
/// `prefault`: the share (0 to 1) of the test records reserved from a
/// declared count to make resident at once: all of them for a whole
/// document or the first half of a split one (the second half's records
/// are moved into it), the second half's share of the bytes for that half.
pub(crate) fn walk<R: BufRead>(
    input: R,
    size_hint: usize,
    prefault: f64,
    keep: Keep,
) -> Result<Walk, Fail> {
    let mut reader = Reader::from_reader(input);
    {
        let cfg = reader.config_mut();
        cfg.trim_text(false);
        cfg.check_end_names = true;
        cfg.expand_empty_elements = false;
        cfg.allow_dangling_amp = true;
    }
    let mut p = Parser {
        tests: Vec::new(),
        suites: Vec::new(),
        root_dialect: Dialect::Unknown,
        root_tests: None,
        root_errors: None,
        size_hint,
        prefault,
        keep,
        classes: Vec::new(),
        class_next: 0,
        last_module: None,
        scratch: String::new(),
        mocha_top: Vec::new(),
        warnings: Vec::new(),
        case: Case::default(),
        spare: Vec::new(),
        outer_dialect: None,
    };
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut in_case = false;
    let mut buf = Vec::with_capacity(4096);
    let mut aux = Vec::with_capacity(4096);

    // quick-xml is between markup (it looks for text next): see `whole_case`.
    let mut between = false;
    loop {
        if between && seen_root && !in_case && fast_path() && whole_case(&mut reader, &mut p) {
            continue;
        }
        buf.clear();
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => return Err(Fail::Xml(e, reader.error_position())),
        };
        between = matches!(event, Event::Start(_) | Event::Empty(_) | Event::End(_));
        match event {
            Event::Start(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                if !seen_root {
                    seen_root = true;
                    if name != b"testsuites" && name != b"testsuite" {
                        return Err(IngestError::Unrecognized.into());
                    }
                }
                if in_case {
                    // Inside <testcase>: every child is read to its end here.
                    p.case.has_children = true;
                    let content = Content::Reader(&mut reader, &mut aux);
                    p.case_child(e.name().as_ref(), &mut attrs(&e), content)?;
                    continue;
                }
                match name {
                    b"testsuites" => {
                        depth += 1;
                        p.root_attrs(&e, reader.buffer_position());
                    }
                    b"testsuite" => {
                        depth += 1;
                        p.open_suite(&e, reader.buffer_position());
                    }
                    b"testcase" => {
                        depth += 1;
                        p.open_case(attrs(&e));
                        in_case = true;
                    }
                    b"properties" => depth += 1,
                    b"property" => {
                        depth += 1;
                        p.property(&e);
                    }
                    _ => {
                        // Suite-level output, unknown elements, arbitrarily
                        // deep nesting: skipped without recursion.
                        skip(&mut reader, e.name(), &mut aux)?;
                    }
                }
            }
            Event::Empty(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                if !seen_root {
                    seen_root = true;
                    if name != b"testsuites" && name != b"testsuite" {
                        return Err(IngestError::Unrecognized.into());
                    }
                    p.root_attrs(&e, reader.buffer_position());
                    continue;
                }
                if in_case {
                    p.case.has_children = true;
                    p.case_child::<R>(e.name().as_ref(), &mut attrs(&e), Content::Empty)?;
                    continue;
                }
                match name {
                    b"testcase" => {
                        p.open_case(attrs(&e));
                        p.close_case();
                    }
                    b"property" => p.property(&e),
                    _ => {}
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                match e.local_name().as_ref() {
                    b"testcase" if in_case => {
                        in_case = false;
                        p.close_case();
                    }
                    b"testsuite" => p.close_suite(),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(Walk {
        p,
        depth,
        seen_root,
        in_case,
    })
}

/// Reads a whole `<testcase>` element (most tests of a big report) if it
/// is next in the input and simple, straight from the reader's buffer:
/// what [`walk`] does with its events, without quick-xml finding the end of
/// each tag, copying it and making an event of it. Simple: self-closing, or
/// children that are empty or hold text only (no markup, CDATA, comments),
/// with space between them, and the end tag, all in the buffer. quick-xml
/// must be between markup (after a start, empty or end tag): bytes taken
/// through its `stream()` are then simply passed over. Returns false,
/// taking nothing, for anything else (text first, another element, a case
/// cut at the end of the buffer): the event path reads it, opening the
/// case anew (nothing of this attempt is kept before the case closes).
fn whole_case<R: BufRead>(reader: &mut Reader<R>, p: &mut Parser) -> bool {
    const CLOSE: &[u8] = b"</testcase>";
    let mut stream = reader.stream();
    let Ok(buf) = stream.fill_buf() else {
        // The event path meets the error again and reports it.
        return false;
    };
    // Space before the case: a text event the walk would ignore.
    let mut at = buf.iter().take_while(|&&b| is_whitespace(b)).count();
    let Some(case) = tag(&buf[at..]).filter(|t| t.name == b"testcase") else {
        return false;
    };
    // The tag was cut at its first `>`: right if all of it reads as
    // attributes (a `>` inside a quoted value leaves that value open).
    if !p.open_case(AttrScan::new(case.attributes)).read_all() {
        return false;
    }
    at += case.len;
    if !case.empty {
        loop {
            // Space between children: text events the walk ignores in a case.
            while buf.get(at).is_some_and(|&b| is_whitespace(b)) {
                at += 1;
            }
            if buf[at..].starts_with(CLOSE) {
                at += CLOSE.len();
                break;
            }
            let Some(child) = simple_child(&buf[at..]) else {
                return false;
            };
            p.case.has_children = true;
            let mut attributes = AttrScan::new(child.tag.attributes);
            let content = match child.text {
                Some(text) => Content::<R>::Text(text),
                None => Content::Empty,
            };
            // As for the case's tag; the handler reads as many attributes
            // as it needs, the rest are read after it.
            if p.case_child(child.tag.name, &mut attributes, content)
                .is_err()
                || !attributes.read_all()
            {
                return false;
            }
            at += child.len;
        }
    }
    p.close_case();
    stream.consume(at);
    true
}

/// The first line of a failure body as written (escapes still in), if the
/// body is not blank: what is kept of a body whose message is elsewhere.
/// A body of nothing but escaped or non-ASCII space counts as not blank here
/// (a full read would find it blank): no runner writes one.
fn first_raw_line(raw: &[u8]) -> Option<&[u8]> {
    let start = raw.iter().position(|&b| b != b'\n' && b != b'\r')?;
    let body = &raw[start..];
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(&body[..memchr::memchr(b'\n', body).unwrap_or(body.len())])
}

#[cfg(test)]
thread_local! {
    /// Tests turn [`whole_case`] off to compare with the events alone.
    static EVENTS_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn fast_path() -> bool {
    #[cfg(test)]
    if EVENTS_ONLY.get() {
        return false;
    }
    true
}

/// A start tag (or empty-element tag) at the start of a buffer, split as
/// quick-xml splits it: a `/` before the `>` makes the element empty, and
/// the name runs to the first space. The tag is cut at its first `>`: the
/// caller checks that all of it reads as attributes (quick-xml ends a tag at
/// the first `>` outside quotes). A `<` followed by `/`, `!` or `?` (end
/// tags, comments, CDATA, processing instructions) is not taken.
struct Tag<'a> {
    name: &'a [u8],
    /// The rest of the tag: attributes and space.
    attributes: &'a [u8],
    empty: bool,
    /// Its length, `<` to `>`.
    len: usize,
}

fn tag(s: &[u8]) -> Option<Tag<'_>> {
    let after = s.strip_prefix(b"<")?;
    if after
        .first()
        .is_none_or(|b| matches!(b, b'/' | b'!' | b'?'))
    {
        return None;
    }
    let end = find_byte(b'>', after)?;
    let content = &after[..end];
    let (content, empty) = match content.strip_suffix(b"/") {
        Some(c) => (c, true),
        None => (content, false),
    };
    let (name, attributes) = content.split_at(name_len(content));
    (!name.is_empty()).then_some(Tag {
        name,
        attributes,
        empty,
        len: end + 2,
    })
}

/// A child of a test case read from the buffer by [`whole_case`].
struct SimpleChild<'a> {
    tag: Tag<'a>,
    /// Its text, escapes still in; `None` for an empty element.
    text: Option<&'a [u8]>,
    /// Its length in the buffer, start tag to end tag.
    len: usize,
}

/// `<name ...>text</name>` or `<name .../>` at the start of `s`, where the
/// text holds no markup.
fn simple_child(s: &[u8]) -> Option<SimpleChild<'_>> {
    let tag = tag(s)?;
    let open = tag.len;
    if tag.empty {
        return Some(SimpleChild {
            tag,
            text: None,
            len: open,
        });
    }
    let text_len = find_byte(b'<', &s[open..])?;
    let close = &s[open + text_len..];
    let closed = close
        .strip_prefix(b"</")
        .and_then(|c| c.strip_prefix(tag.name))
        .is_some_and(|c| c.first() == Some(&b'>'));
    let len = open + text_len + 2 + tag.name.len() + 1;
    closed.then(|| SimpleChild {
        tag,
        text: Some(&s[open..open + text_len]),
        len,
    })
}

/// What follows the start tag of a child element being read.
enum Content<'r, 't, R> {
    /// Nothing: an empty element.
    Empty,
    /// The reader, just after the start tag: the element is read to its end.
    Reader(&'r mut Reader<R>, &'r mut Vec<u8>),
    /// All of the element's content: text without markup, escapes still in.
    Text(&'t [u8]),
}

impl<R: BufRead> Content<'_, '_, R> {
    /// Reads the content of the element `end` to its end, appending its
    /// text to `out` (or passing over it): see [`read_text`].
    fn text(self, end: &[u8], out: Option<&mut Vec<u8>>) -> Result<(), Fail> {
        match (self, out) {
            (Content::Reader(reader, aux), out) => read_text(reader, QName(end), aux, out),
            (Content::Text(raw), Some(out)) => {
                if memchr::memchr(b'&', raw).is_some() {
                    out.extend_from_slice(attr_text(raw).as_bytes());
                } else {
                    out.extend_from_slice(raw);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Passes over the content of the element `end`, keeping nothing.
    fn skip(self, end: &[u8]) -> Result<(), Fail> {
        match self {
            Content::Reader(reader, aux) => skip(reader, QName(end), aux),
            _ => Ok(()),
        }
    }
}

/// Skips to the end of the element `end` just opened (nested elements of
/// the same name included), keeping nothing: [`read_text`] without output,
/// which passes over plain text in one go (quick-xml's `read_to_end`
/// makes an event of every entity reference on the way).
fn skip<R: BufRead>(reader: &mut Reader<R>, end: QName<'_>, aux: &mut Vec<u8>) -> Result<(), Fail> {
    read_text(reader, end, aux, None)
}

/// Reads the content of the element `end` just opened, up to its end tag,
/// appending its text to `out` (`None`: passes over it): text
/// unescaped (only the predefined entities and character references),
/// CDATA sections verbatim, comments, processing instructions and nested
/// tags dropped (the text inside nested elements is kept).
fn read_text<R: BufRead>(
    reader: &mut Reader<R>,
    end: QName<'_>,
    aux: &mut Vec<u8>,
    mut out: Option<&mut Vec<u8>>,
) -> Result<(), Fail> {
    // Fast path for the common content, plain text up to the end tag: it
    // is read raw up to the first `<` and unescaped in one go, instead of
    // as an event per entity reference (a traceback has hundreds of
    // `&quot;`). The stream keeps the reader's position right; the `<` and
    // all that follows (the end tag, CDATA, nested elements) go through
    // the events below.
    aux.clear();
    {
        let mut stream = reader.stream();
        loop {
            let buf = match stream.fill_buf() {
                Ok(b) => b,
                Err(e) => {
                    let pos = stream.offset();
                    return Err(Fail::Xml(XmlError::Io(Arc::new(e)), pos));
                }
            };
            if buf.is_empty() {
                break;
            }
            let (n, found) = match memchr::memchr(b'<', buf) {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            if out.is_some() {
                aux.extend_from_slice(&buf[..n]);
            }
            stream.consume(n);
            if found {
                break;
            }
        }
    }
    if let Some(out) = out.as_deref_mut() {
        if memchr::memchr(b'&', aux).is_some() {
            out.extend_from_slice(attr_text(aux).as_bytes());
        } else {
            out.extend_from_slice(aux);
        }
    }
    let mut depth = 0usize;
    loop {
        aux.clear();
        let event = match reader.read_event_into(aux) {
            Ok(e) => e,
            Err(e) => return Err(Fail::Xml(e, reader.error_position())),
        };
        match event {
            Event::Start(e) if e.name() == end => depth += 1,
            Event::End(e) if e.name() == end => {
                if depth == 0 {
                    return Ok(());
                }
                depth -= 1;
            }
            Event::Text(t) => {
                let Some(out) = out.as_deref_mut() else {
                    continue;
                };
                let raw: &[u8] = &t;
                if memchr::memchr(b'&', raw).is_some() {
                    // A lone `&` (allowed dangling): kept literally.
                    out.extend_from_slice(attr_text(raw).as_bytes());
                } else {
                    out.extend_from_slice(raw);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(out) = out.as_deref_mut() {
                    push_reference(&r, out);
                }
            }
            Event::CData(c) => {
                if let Some(out) = out.as_deref_mut() {
                    out.extend_from_slice(&c);
                }
            }
            Event::Eof => {
                let name = String::from_utf8_lossy(end.as_ref()).into_owned();
                let e = XmlError::IllFormed(IllFormedError::MissingEndTag(name));
                return Err(Fail::Xml(e, reader.buffer_position()));
            }
            _ => {}
        }
    }
}

/// `&name;`: the character it stands for, or the reference kept literally
/// (unknown entities stay inert text).
fn push_reference(name: &[u8], out: &mut Vec<u8>) {
    let mut text = [0u8; 16];
    if name.len() + 2 <= text.len() {
        text[0] = b'&';
        text[1..=name.len()].copy_from_slice(name);
        text[name.len() + 1] = b';';
        if let Ok(s) = std::str::from_utf8(&text[..name.len() + 2])
            && let Some((c, used)) = decode_entity(s)
            && used == s.len()
        {
            let mut utf8 = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            return;
        }
    }
    out.push(b'&');
    out.extend_from_slice(name);
    out.push(b';');
}

/// Text read by [`read_text`] as a string.
fn text_of(bytes: &[u8]) -> Cow<'_, str> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// An XML error at byte `pos` as the user sees it. `more_markup`: a `>`
/// follows at or after `pos` in the input. An error in the last, unfinished
/// piece of markup (no `>` after it) is a file still being written.
pub(crate) fn xml_error(e: &XmlError, pos: u64, more_markup: bool) -> IngestError {
    if !more_markup {
        return IngestError::Truncated(format!("{e} at byte {pos}"));
    }
    match e {
        XmlError::Syntax(
            SyntaxError::UnclosedTag
            | SyntaxError::UnclosedCData
            | SyntaxError::UnclosedComment
            | SyntaxError::UnclosedDoctype
            | SyntaxError::UnclosedPIOrXmlDecl,
        )
        | XmlError::IllFormed(IllFormedError::MissingEndTag(_)) => {
            IngestError::Truncated(format!("{e} at byte {pos}"))
        }
        _ => IngestError::Malformed(format!("{e} at byte {pos}")),
    }
}

/// The attributes of a start tag as `(key, raw value)` pairs borrowed from
/// the tag. A small scanner instead of quick-xml's attribute iterator: no
/// duplicate check (quadratic on absurd attribute counts), no allocation;
/// it stops at the first malformed attribute.
fn attrs<'a>(e: &'a BytesStart<'_>) -> AttrScan<'a> {
    let name_len = e.name().as_ref().len();
    let tag: &[u8] = e;
    AttrScan::new(tag.get(name_len..).unwrap_or_default())
}

struct AttrScan<'a> {
    rest: &'a [u8],
    /// A key read so far held a quote: quick-xml, which finds the end of a
    /// tag by its quotes, may then end the tag elsewhere (see `whole_case`).
    quote_in_key: bool,
}

impl<'a> AttrScan<'a> {
    fn new(rest: &'a [u8]) -> AttrScan<'a> {
        AttrScan {
            rest,
            quote_in_key: false,
        }
    }

    /// Everything was read as attributes, the way quick-xml splits a tag
    /// into quoted values: only space is left, and no key held a quote.
    fn read_all(mut self) -> bool {
        self.by_ref().for_each(drop);
        !self.quote_in_key && self.rest.iter().all(|&b| is_whitespace(b))
    }
}

struct Attr<'a> {
    key: &'a [u8],
    value: &'a [u8],
}

impl<'a> Iterator for AttrScan<'a> {
    type Item = Attr<'a>;
    fn next(&mut self) -> Option<Attr<'a>> {
        let r = self.rest;
        // Keys and the space around them are a few bytes: plain loops
        // beat a search call there. Values can be long (messages): memchr.
        let mut i = 0;
        while i < r.len() && r[i].is_ascii_whitespace() {
            i += 1;
        }
        // Where the local name starts: after the key's last `:` (keys with
        // a namespace prefix, `xsi:foo`, are matched by local name).
        let mut start = i;
        while i < r.len() && r[i] != b'=' {
            match r[i] {
                b':' => start = i + 1,
                b'"' | b'\'' => self.quote_in_key = true,
                _ => {}
            }
            i += 1;
        }
        if i == r.len() {
            return None;
        }
        let key = r[start..i].trim_ascii_end();
        i += 1;
        while i < r.len() && r[i].is_ascii_whitespace() {
            i += 1;
        }
        let after = i;
        let quote = *r.get(after)?;
        if quote != b'"' && quote != b'\'' {
            // Left unread (not taken as the end): see `whole_case`.
            self.rest = &r[after..];
            return None;
        }
        let close = after + 1 + find_byte(quote, &r[after + 1..])?;
        self.rest = &r[close + 1..];
        Some(Attr {
            key,
            value: &r[after + 1..close],
        })
    }
}

/// `memchr` for short haystacks (attribute values, tags): the SSE2 search
/// inlined, without the call through the runtime-selected AVX2 routine,
/// whose set-up costs more than the search on a few dozen bytes.
#[inline]
fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(one) = memchr::arch::x86_64::sse2::memchr::One::new(needle) {
        return one.find(hay);
    }
    memchr::memchr(needle, hay)
}

/// Attribute value as text: borrowed from the tag when it has no escapes.
fn attr_text(value: &[u8]) -> Cow<'_, str> {
    if let Some(plain) = plain_ascii(value) {
        return Cow::Borrowed(plain);
    }
    match simdutf8::basic::from_utf8(value) {
        Ok(s) => super::text::unescape(s),
        Err(_) => Cow::Owned(String::from_utf8_lossy(value).into_owned()),
    }
}

/// `bytes` as text if it is ASCII without `&` (most attribute values:
/// names, classnames, times): one pass that the compiler vectorises, instead
/// of a UTF-8 check and a search for escapes, each a call with its own setup.
fn plain_ascii(bytes: &[u8]) -> Option<&str> {
    // No early exit: a branch per byte would stop the vectorising.
    let (high, amp) = bytes.iter().fold((0u8, false), |(high, amp), &b| {
        (high | b, amp | (b == b'&'))
    });
    if high >= 0x80 || amp {
        return None;
    }
    // SAFETY: every byte is below 0x80: ASCII, which is valid UTF-8.
    Some(unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// The shared module string for `name`: the last test's when equal (the
/// tests of one module come together), else a new one remembered in `last`.
fn intern(last: &mut Option<Arc<str>>, name: &str) -> Arc<str> {
    match last {
        Some(m) if **m == *name => m.clone(),
        _ => {
            let m: Arc<str> = Arc::from(name);
            *last = Some(m.clone());
            m
        }
    }
}

/// Sets `out` to the attribute value's text, reusing its allocation.
fn set_attr(out: &mut String, value: &[u8]) {
    out.clear();
    out.push_str(&attr_text(value));
}

fn parse_time(s: &str) -> Option<f64> {
    if let Some(t) = parse_time_fast(s.as_bytes()) {
        return Some(t);
    }
    // Some Surefire locales write `1,234.5`.
    let t: f64 = match s.parse() {
        Ok(t) => t,
        Err(_) => s.replace(',', "").parse().ok()?,
    };
    (t.is_finite() && t >= 0.0).then_some(t)
}

/// `digits[.digits]` with at most 15 digits: the integer and the power of
/// ten are exact in an f64, so one division is correctly rounded, the same
/// value as `str::parse` gives (Clinger's fast path).
fn parse_time_fast(s: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut m: u64 = 0;
    let mut digits = 0;
    let mut frac = None;
    for (i, &c) in s.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                m = m * 10 + u64::from(c - b'0');
                digits += 1;
            }
            b'.' if frac.is_none() && i > 0 && i + 1 < s.len() => frac = Some(s.len() - i - 1),
            _ => return None,
        }
    }
    if digits > 15 {
        return None;
    }
    Some(m as f64 / POW10[frac.unwrap_or(0)])
}

fn parse_count(s: &str) -> Option<usize> {
    s.trim().parse().ok()
}

impl Parser {
    fn root_attrs(&mut self, e: &BytesStart<'_>, tag_end: u64) {
        for a in attrs(e) {
            match a.key {
                b"name" => {
                    if let Some(d) = root_dialect(&attr_text(a.value)) {
                        self.root_dialect = d;
                    }
                }
                b"uuid" => self.root_dialect = Dialect::Nextest,
                b"tests" => self.root_tests = parse_count(&attr_text(a.value)),
                b"errors" => self.root_errors = parse_count(&attr_text(a.value)),
                _ => {}
            }
        }
        self.reserve_hint(self.root_tests);
        // A lone <testsuite> root is its own suite.
        if self.suites.is_empty() && e.local_name().as_ref() == b"testsuite" {
            self.open_suite(e, tag_end);
        }
    }

    fn reserve_hint(&mut self, n: Option<usize>) {
        if let Some(n) = n
            && self.tests.capacity() == 0
        {
            // Never trust a count more than the bytes can hold.
            self.tests.reserve(n.min(self.size_hint / 32 + 16));
            if self.prefault > 0.0 && self.tests.capacity() >= PREFAULT_FROM {
                super::prefault::prefault(self.tests.spare_capacity_mut(), self.prefault);
            }
        }
    }

    fn open_suite(&mut self, e: &BytesStart<'_>, tag_end: u64) {
        let mut suite = Suite {
            name: String::new(),
            file: None,
            tests_attr: None,
            dialect: self.suites.last().map_or(self.root_dialect, |s| s.dialect),
            first_case: self.tests.len(),
            bare: Vec::new(),
            tag_end,
        };
        for a in attrs(e) {
            match a.key {
                b"name" => suite.name = attr_text(a.value).into_owned(),
                b"file" => suite.file = Some(attr_text(a.value).into_owned()),
                b"tests" => suite.tests_attr = parse_count(&attr_text(a.value)),
                _ => {}
            }
        }
        if suite.dialect == Dialect::Unknown {
            suite.dialect = match suite.name.as_str() {
                "pytest" => Dialect::Pytest,
                "Root Suite" => Dialect::Mocha,
                _ => Dialect::Unknown,
            };
        }
        if self.root_tests.is_none() {
            self.reserve_hint(suite.tests_attr);
        }
        self.suites.push(suite);
    }

    fn property(&mut self, e: &BytesStart<'_>) {
        let go_version = attrs(e).any(|a| a.key == b"name" && a.value == b"go.version");
        if go_version && let Some(s) = self.suites.last_mut() {
            s.dialect = Dialect::Go;
        }
    }

    /// Starts a test case from the attributes of its start tag; returns
    /// what the attribute scan left unread (nothing but space if it read
    /// them all).
    fn open_case<'a>(&mut self, mut attributes: AttrScan<'a>) -> AttrScan<'a> {
        let c = &mut self.case;
        c.classname.clear();
        c.name.clear();
        c.file.clear();
        c.has_file = false;
        c.time = None;
        c.outcome = Outcome::Passed;
        c.failure = None;
        c.has_children = false;
        if let Some(b) = c.stdout.take() {
            self.spare.push(b);
        }
        if let Some(b) = c.stderr.take() {
            self.spare.push(b);
        }
        if let Some(b) = c.body.take() {
            self.spare.push(b);
        }
        for a in attributes.by_ref() {
            match a.key {
                b"classname" => set_attr(&mut c.classname, a.value),
                b"name" => set_attr(&mut c.name, a.value),
                b"file" => {
                    set_attr(&mut c.file, a.value);
                    c.has_file = true;
                }
                b"time" => {
                    c.time = parse_time_fast(a.value)
                        .or_else(|| std::str::from_utf8(a.value).ok().and_then(parse_time));
                }
                _ => {}
            }
        }
        attributes
    }

    /// A child element of <testcase>, named `name`, with the attributes
    /// `attributes` (read as far as needed) and `content`.
    fn case_child<R: BufRead>(
        &mut self,
        name: &[u8],
        attributes: &mut AttrScan<'_>,
        content: Content<'_, '_, R>,
    ) -> Result<(), Fail> {
        let c = &mut self.case;
        match QName(name).local_name().as_ref() {
            tag @ (b"failure" | b"error") => {
                let outcome = if tag == b"failure" {
                    Outcome::Failed
                } else {
                    Outcome::Errored
                };
                if c.failure.is_some() {
                    // A second failure block (pytest: call failed, teardown
                    // errored) keeps the first one's details.
                    c.outcome = c.outcome.min(outcome);
                    return content.skip(name);
                }
                let mut message = Cow::Borrowed("");
                let mut kind = None;
                for a in attributes.by_ref() {
                    match a.key {
                        b"message" => message = attr_text(a.value),
                        b"type" => {
                            let t = attr_text(a.value);
                            if !t.is_empty() {
                                kind = Some(t.into_owned());
                            }
                        }
                        _ => {}
                    }
                }
                let needed = self.keep == Keep::All || self.message_needs_body(&message);
                let c = &mut self.case;
                let mut text = self.spare.pop().unwrap_or_default();
                text.clear();
                match content {
                    Content::Empty => {}
                    // The message is the attribute's: of the body only its
                    // first line is needed (see `close_case`).
                    Content::Text(raw) if !needed => {
                        if let Some(line) = first_raw_line(raw) {
                            text.extend_from_slice(attr_text(line).as_bytes());
                        }
                    }
                    content => content.text(name, Some(&mut text))?,
                }
                c.body = Some(text);
                c.outcome = outcome;
                // The detail is made of the body when the test closes.
                c.failure = Some(Box::new(Failure {
                    message: message.into_owned(),
                    kind,
                    detail: String::new(),
                    stdout: String::new(),
                    stderr: String::new(),
                }));
            }
            b"skipped" => {
                if c.failure.is_none() {
                    c.outcome = Outcome::Skipped;
                }
                content.skip(name)?;
            }
            b"system-out" | b"system-err" if self.keep == Keep::Summary => {
                content.skip(name)?;
            }
            tag @ (b"system-out" | b"system-err") => {
                let mut raw = self.spare.pop().unwrap_or_default();
                raw.clear();
                content.text(name, Some(&mut raw))?;
                let slot = if tag == b"system-out" {
                    &mut c.stdout
                } else {
                    &mut c.stderr
                };
                if let Some(old) = slot.replace(raw) {
                    self.spare.push(old);
                }
            }
            _ => content.skip(name)?,
        }
        Ok(())
    }

    /// Whether the message of a failure whose `message` attribute is
    /// `attr` (of the case being read) comes from its body, or the summary
    /// reads its body ([`crate::model::cause_in_detail`]). pytest's message
    /// is the attribute's, unless that is empty or a collection failure.
    fn message_needs_body(&mut self, attr: &str) -> bool {
        if self.dialect_for() != Dialect::Pytest {
            return true;
        }
        let m = pytest_attr_message(attr);
        pytest_message_in_body(&m) || crate::model::cause_in_detail(&message_line(&strip_ansi(&m)))
    }

    fn dialect_for(&mut self) -> Dialect {
        let c = &self.case;
        let suite = self.suites.last();
        let known = suite.map_or(self.root_dialect, |s| s.dialect);
        if known != Dialect::Unknown {
            return known;
        }
        let suite_name = suite.map_or("", |s| s.name.as_str());
        let (cn, n) = (c.classname.as_str(), c.name.as_str());
        let d = if c.file().is_some_and(|f| f.ends_with(".py")) {
            Dialect::Pytest
        } else if !cn.is_empty()
            && n.len() > cn.len()
            && n.ends_with(cn)
            && n[..n.len() - cn.len()].ends_with(' ')
        {
            Dialect::Mocha
        } else if cn == n && n.contains(' ') {
            Dialect::Jest
        } else if cn.contains('/')
            && ["Test", "Example", "Fuzz", "Benchmark"]
                .iter()
                .any(|p| n.starts_with(p))
        {
            Dialect::Go
        } else if cn == suite_name && looks_like_js_file(cn) {
            Dialect::Vitest
        } else if cn == suite_name && (n.contains("::") || !cn.contains('.')) && !cn.is_empty() {
            Dialect::Nextest
        } else {
            Dialect::Generic
        };
        if let Some(s) = self.suites.last_mut() {
            s.dialect = d;
        }
        d
    }

    fn close_case(&mut self) {
        let dialect = self.dialect_for();
        let (id, module) = self.id_and_module(dialect);
        let c = &mut self.case;
        let mut failure = c.failure.take();
        if let Some(f) = failure.as_deref_mut() {
            let body = c.body.as_deref().map_or(Cow::Borrowed(""), text_of);
            let body = trim_block(&body);
            f.message = failure_message(dialect, &f.message, body);
            if self.keep == Keep::All || crate::model::cause_in_detail(&f.message) {
                f.detail = match dialect {
                    Dialect::Pytest => pytest_unmangle(body).into_owned(),
                    _ => body.to_string(),
                };
            } else {
                // Of a detail left out, its first line: there is one or
                // not, as in a full read (merging reports prefers a failure
                // with a detail).
                f.detail = body.lines().next().unwrap_or("").to_string();
            }
            if let Some(raw) = &c.stdout {
                f.stdout = trim_block(&text_of(raw)).to_string();
            }
            if let Some(raw) = &c.stderr {
                f.stderr = trim_block(&text_of(raw)).to_string();
            }
        }
        if dialect == Dialect::Jest
            && !c.has_children
            && c.time == Some(0.0)
            && let Some(s) = self.suites.last_mut()
        {
            s.bare.push(self.tests.len());
        }
        let test = TestCase {
            id,
            module,
            outcome: c.outcome,
            duration_secs: c.time,
            failure,
        };
        // pytest writes a second <testcase> for a test whose call failed and
        // whose teardown errored: the same test, counted once.
        let in_suite = self
            .suites
            .last()
            .is_none_or(|s| s.first_case < self.tests.len());
        if in_suite
            && let Some(prev) = self.tests.last_mut()
            && prev.id == test.id
        {
            super::merge::combine_phases(prev, test);
            return;
        }
        self.tests.push(test);
    }

    fn id_and_module(&mut self, dialect: Dialect) -> (String, Arc<str>) {
        let c = &self.case;
        let (cn, n) = (c.classname.as_str(), c.name.as_str());
        let suite = self.suites.last();
        let suite_name = suite.map_or("", |s| s.name.as_str());
        let last = &mut self.last_module;
        match dialect {
            Dialect::Pytest => {
                if cn.is_empty() {
                    let id = pytest::collection_error_id(n);
                    let module = intern(last, &id);
                    return (id, module);
                }
                let hit = self.classes.iter().position(|e| e.classname == cn);
                let entry = match hit {
                    Some(i) => &self.classes[i],
                    None => {
                        // A new entry, or the oldest one's buffers reused.
                        let i = if self.classes.len() < CLASS_CACHE {
                            self.classes.push(ClassEntry {
                                classname: String::new(),
                                prefix: String::new(),
                                module: Arc::from(""),
                            });
                            self.classes.len() - 1
                        } else {
                            let i = self.class_next;
                            self.class_next = (i + 1) % CLASS_CACHE;
                            i
                        };
                        let e = &mut self.classes[i];
                        let module = &mut self.scratch;
                        pytest::split_classname_into(cn, c.file(), module, &mut e.prefix);
                        e.module = intern(last, module);
                        e.classname.clear();
                        e.classname.push_str(cn);
                        &self.classes[i]
                    }
                };
                let prefix = &entry.prefix;
                let mut id = String::with_capacity(prefix.len() + 2 + n.len());
                id.push_str(prefix);
                id.push_str("::");
                id.push_str(n);
                let module = entry.module.clone();
                (id, module)
            }
            Dialect::Jest => {
                let module = c.file().unwrap_or(suite_name);
                (n.to_string(), intern(last, module))
            }
            Dialect::Vitest => (join(cn, " > ", n), intern(last, cn)),
            Dialect::Mocha => {
                if suite_name != "Root Suite"
                    && !suite_name.is_empty()
                    && self.mocha_top.len() < 1024
                    && !self.mocha_top.iter().any(|t| n.starts_with(t.as_str()))
                {
                    self.mocha_top.push(suite_name.to_string());
                }
                let module = self
                    .mocha_top
                    .iter()
                    .find(|t| {
                        n.strip_prefix(t.as_str())
                            .is_some_and(|r| r.starts_with(' '))
                    })
                    .map_or(suite_name, String::as_str);
                (n.to_string(), intern(last, module))
            }
            Dialect::Nextest => (join(cn, " ", n), intern(last, cn)),
            Dialect::Go => {
                let short = cn.rsplit('/').next().unwrap_or(cn);
                (join(short, " ", n), intern(last, cn))
            }
            Dialect::Generic | Dialect::Unknown => {
                let id = if cn.is_empty() || n.starts_with(cn) {
                    n.to_string()
                } else {
                    join(cn, ".", n)
                };
                let module = if cn.is_empty() { suite_name } else { cn };
                (id, intern(last, module))
            }
        }
    }

    fn close_suite(&mut self) {
        let Some(suite) = self.suites.pop() else {
            return;
        };
        if self.suites.is_empty() && self.outer_dialect.is_none() {
            self.outer_dialect = Some(suite.dialect);
        }
        if suite.dialect == Dialect::Jest {
            let range = suite.first_case..self.tests.len();
            jest_ids(&mut self.tests[range.clone()], &suite.name);
            // jest-junit writes test.todo as a bare <testcase> and leaves it
            // out of the suite's `tests` count: the surplus of bare, zero-time
            // cases over that count are the todos (counted as skipped).
            if let Some(declared) = suite.tests_attr {
                let surplus = range.len().saturating_sub(declared);
                for &i in suite.bare.iter().take(surplus) {
                    if self.tests[i].outcome == Outcome::Passed {
                        self.tests[i].outcome = Outcome::Skipped;
                    }
                }
            }
        }
        if let Some(parent) = self.suites.last_mut()
            && parent.dialect == Dialect::Unknown
        {
            parent.dialect = suite.dialect;
        }
    }

    fn finish(self) -> Report {
        let mut run_errors = Vec::new();
        let mut warnings = self.warnings;
        let listed = self.tests.len();
        let errored = self
            .tests
            .iter()
            .filter(|t| t.outcome == Outcome::Errored)
            .count();
        if let Some(errors) = self.root_errors
            && errors > errored
        {
            run_errors.push(format!(
                "{} error(s) outside any test case (e.g. packages that failed to build)",
                errors - errored
            ));
        }
        if let Some(declared) = self.root_tests
            && declared > listed
        {
            warnings.push(format!(
                "report declares {declared} tests but lists {listed} (mocha-junit-reporter leaves pending tests out)"
            ));
        }
        Report {
            format: "JUnit XML",
            tests: self.tests,
            run_errors,
            complete: true,
            expected_total: self.root_tests,
            warnings,
        }
    }
}

fn join(a: &str, sep: &str, b: &str) -> String {
    let mut s = String::with_capacity(a.len() + sep.len() + b.len());
    s.push_str(a);
    s.push_str(sep);
    s.push_str(b);
    s
}

fn looks_like_js_file(s: &str) -> bool {
    [
        ".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx", ".vue", ".svelte",
    ]
    .iter()
    .any(|ext| s.ends_with(ext))
}

/// Leading blank lines and trailing whitespace (element indentation) go.
fn trim_block(s: &str) -> &str {
    let start = s.len() - s.trim_start_matches(['\n', '\r']).len();
    let end = s.trim_end().len();
    if start >= end {
        return "";
    }
    &s[start..end]
}

/// The console's first line of a failure from a JUnit failure element.
fn failure_message(dialect: Dialect, attr: &str, body: &str) -> String {
    let line = match dialect {
        Dialect::Go => return go::first_output_line(body),
        Dialect::Pytest => {
            let m = pytest_attr_message(attr);
            if pytest_message_in_body(&m) {
                pytest::first_e_line(body).map(str::to_string).unwrap_or(m)
            } else {
                m
            }
        }
        Dialect::Jest => {
            let b = first_line(body);
            let l = if b.is_empty() { first_line(attr) } else { b };
            l.strip_prefix("Error: ").unwrap_or(l).to_string()
        }
        _ => {
            let m = first_line(attr);
            let b = first_line(body);
            if m.is_empty() || b.contains(m) {
                b.to_string()
            } else {
                m.to_string()
            }
        }
    };
    message_line(&strip_ansi(&line))
}

/// A pytest failure's message as its `message` attribute gives it.
fn pytest_attr_message(attr: &str) -> String {
    let attr = pytest_unmangle(attr);
    pytest::unwrap_phase_error(first_line(&attr)).to_string()
}

/// Whether a pytest failure whose attribute gives the message `m` has its
/// real message in its body instead (the first `E` line): a collection
/// error, or no message at all.
fn pytest_message_in_body(m: &str) -> bool {
    m.is_empty() || m == "collection failure"
}

/// jest-junit joins describe blocks and the test title with spaces. The
/// console joins them with ` › `. A word boundary is taken as a describe
/// boundary when the prefix up to it is the suite name, or when at least two
/// tests of the same file share that prefix and some of them branch right
/// after it. Tests made by `test.each` with a shared leading word can get a
/// spurious boundary; `merge` compares ids with ` › ` folded to a space, so
/// counting is not affected.
fn jest_ids(tests: &mut [TestCase], suite_name: &str) {
    let mut counts: HashMap<(&str, &str), usize> = HashMap::new();
    for t in tests.iter() {
        for (i, _) in t.id.match_indices(' ') {
            *counts.entry((&*t.module, &t.id[..i])).or_default() += 1;
        }
    }
    let mut new_ids = Vec::with_capacity(tests.len());
    for t in tests.iter() {
        let bounds: Vec<usize> = t.id.match_indices(' ').map(|(i, _)| i).collect();
        let count = |i: usize| counts.get(&(&*t.module, &t.id[..i])).copied().unwrap_or(0);
        let mut cut = Vec::new();
        for (k, &b) in bounds.iter().enumerate() {
            let here = count(b);
            let next = bounds.get(k + 1).map_or(1, |&nb| count(nb));
            let is_suite = !suite_name.is_empty() && &t.id[..b] == suite_name;
            if is_suite || (here >= 2 && here > next) {
                cut.push(b);
            }
        }
        if cut.is_empty() {
            new_ids.push(None);
            continue;
        }
        let mut id = String::with_capacity(t.id.len() + 4 * cut.len());
        let mut last = 0;
        for b in cut {
            id.push_str(&t.id[last..b]);
            id.push_str(" › ");
            last = b + 1;
        }
        id.push_str(&t.id[last..]);
        new_ids.push(Some(id));
    }
    for (t, id) in tests.iter_mut().zip(new_ids) {
        if let Some(id) = id {
            t.id = id;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ingest::IngestError;
    use crate::model::{Outcome, Report};

    /// `doc` read with [`super::whole_case`] and with the events alone.
    fn both_ways(doc: &[u8]) -> (Result<Report, IngestError>, Result<Report, IngestError>) {
        let fast = crate::ingest::parse(doc);
        super::EVENTS_ONLY.set(true);
        let events = crate::ingest::parse(doc);
        super::EVENTS_ONLY.set(false);
        (fast, events)
    }

    #[test]
    fn cases_read_from_the_buffer_equal_cases_read_as_events() {
        let mut docs: Vec<(String, Vec<u8>)> = Vec::new();
        let reports = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reports");
        for runner in std::fs::read_dir(reports).unwrap() {
            for case in std::fs::read_dir(runner.unwrap().path())
                .into_iter()
                .flatten()
            {
                for file in std::fs::read_dir(case.unwrap().path())
                    .into_iter()
                    .flatten()
                {
                    let path = file.unwrap().path();
                    if path.extension().is_some_and(|e| e == "xml") {
                        docs.push((path.display().to_string(), std::fs::read(&path).unwrap()));
                    }
                }
            }
        }
        let xml_fixtures = docs.len();
        docs.push((
            "generated".into(),
            crate::ingest::generate_junit(3_000, 0.05, 20).into_bytes(),
        ));
        docs.push(("tricky".into(), TRICKY.as_bytes().to_vec()));
        // jest-junit: a case with time 0 and no children is a todo.
        docs.push((
            "jest".into(),
            br#"<testsuites name="jest tests"><testsuite name="d" tests="1"><testcase classname="d t" name="d t" time="0"><system-out>x</system-out></testcase><testcase classname="d u" name="d u" time="0"/></testsuite></testsuites>"#.to_vec(),
        ));
        for (name, doc) in &docs {
            let (fast, events) = both_ways(doc);
            assert_eq!(fast, events, "{name}");
            assert!(!fast.unwrap().tests.is_empty(), "{name}");
        }
        assert!(xml_fixtures >= 8, "{xml_fixtures}");
        // Malformed tags where the buffer path must not guess differently
        // from quick-xml: a quote in an attribute's name (quick-xml then
        // looks for the tag's end past a `>`), form feeds (not XML space).
        let hostile: [&[u8]; 6] = [
            br#"<testsuite name="s"><testcase name="a" x"="y"/><testcase name="b"/>"/></testsuite>"#,
            br#"<testsuite name="s"><testcase name="a"><failure message="m" x'='y'>t</failure>'></testcase></testsuite>"#,
            b"<testsuite name=\"s\"><testcase\x0Cname=\"a\" classname=\"c\"/><testcase name=\"b\"/></testsuite>",
            b"<testsuite name=\"s\"><testcase name=\"a\"><failure\x0Cmessage=\"m\"/></testcase></testsuite>",
            b"<testsuite name=\"s\"><testcase name=\"a\"><failure\x0C>boom</failure></testcase></testsuite>",
            b"<testsuite name=\"s\">\n  <testcase name=\"a\" time=\"1\">\n    <system-out>x</system-out>\n  </testcase>\n  <testcase name=\"b\"/>\n</testsuite>",
        ];
        for doc in hostile {
            let (fast, events) = both_ways(doc);
            assert_eq!(fast, events, "{}", String::from_utf8_lossy(doc));
        }
    }

    /// Children of test cases in every shape the buffer path takes or
    /// leaves to the events.
    const TRICKY: &str = r#"<testsuites><testsuite name="pytest" tests="12">
<testcase classname="t.test_b" name="test_text" time="1"><system-out>GET /a -&gt; 200 &amp; done</system-out><system-err>warn</system-err></testcase>
<testcase classname="t.test_b" name="test_fail" time="2">
  <failure message="AssertionError: x &lt; y" type="AssertionError">E   AssertionError: x &lt; y</failure>
  <failure message="second">ignored</failure>
  <system-out>out</system-out>
</testcase>
<testcase classname="t.test_b" name="test_skip" time="3"><skipped type="pytest.skip" message="no">why</skipped></testcase>
<testcase classname="t.test_b" name="test_skip_empty" time="4"><skipped/></testcase>
<testcase classname="t.test_b" name="test_error" time="5"><error message="">E   boom</error></testcase>
<testcase classname="t.test_b" name="test_cdata" time="6"><system-out><![CDATA[<raw>]]></system-out></testcase>
<testcase classname="t.test_b" name="test_nested" time="7"><failure message="m"><b>bold</b> text</failure></testcase>
<testcase classname="t.test_b" name="test_comment" time="8"><!-- c --><system-out>x</system-out></testcase>
<testcase classname="t.test_b" name="test_unknown" time="9"><properties><property name="a" value="b"/></properties><rerunFailure message="flaky">t</rerunFailure></testcase>
<testcase classname="t.test_b" name="test_quoted" time="10"><failure message="a>b">E   a&gt;b</failure></testcase>
<testcase classname="t.test_b" name="test_spaced_end" time="11"><system-out>x</system-out></testcase >
<testcase classname="t.test_b" name="test_ns" time="12"><x:failure message="ns">body</x:failure></testcase>
</testsuite></testsuites>"#;

    fn detail(body: &str) -> String {
        let doc = format!(
            r#"<testsuite name="s"><testcase classname="a" name="b"><failure message="m">{body}</failure></testcase></testsuite>"#
        );
        let report = crate::ingest::parse(doc.as_bytes()).unwrap();
        report.tests[0].failure.as_ref().unwrap().detail.clone()
    }

    #[test]
    fn self_closing_testcases_read_straight_from_the_buffer() {
        // What `empty_case` takes, next to what it leaves to the events.
        let doc = r#"<testsuites><testsuite name="pytest" tests="9">
<testcase classname="t.test_a" name="test_gt[a>b]" time="0.5"/><testcase classname='t.test_a' name='test_single"q' time='1'/>
<testcase	classname="t.test_a"
   name="test_newlines" time="2" /><testcase classname="t.test_a" name="test_slash/in/name" time="3"/>
<testcase classname="t.test_a" name="test_amp&amp;" time="4"/><testcase classname="t.test_a" name="test_children" time="5"><skipped/></testcase>
<testcase classname="t.test_a" name="test_after_children" time="6"/>
<testcase classname="t.test_a" name="test_empty_pair" time="7"></testcase><testcase classname="t.test_a" name="test_q/>uoted" time="8"/>
<testcase classname="t.test_a" name="test_last" time="9"/>
</testsuite></testsuites>"#;
        let report = crate::ingest::parse(doc.as_bytes()).unwrap();
        let got: Vec<(&str, Option<f64>, Outcome)> = report
            .tests
            .iter()
            .map(|t| (t.id.as_str(), t.duration_secs, t.outcome))
            .collect();
        let id = |n: &str| format!("t/test_a.py::{n}");
        let want = [
            ("test_gt[a>b]", 0.5, Outcome::Passed),
            ("test_single\"q", 1.0, Outcome::Passed),
            ("test_newlines", 2.0, Outcome::Passed),
            ("test_slash/in/name", 3.0, Outcome::Passed),
            ("test_amp&", 4.0, Outcome::Passed),
            ("test_children", 5.0, Outcome::Skipped),
            ("test_after_children", 6.0, Outcome::Passed),
            ("test_empty_pair", 7.0, Outcome::Passed),
            ("test_q/>uoted", 8.0, Outcome::Passed),
            ("test_last", 9.0, Outcome::Passed),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((got_id, time, outcome), (name, t, o)) in got.into_iter().zip(want) {
            assert_eq!((got_id, time, outcome), (id(name).as_str(), Some(t), o));
        }
        // A broken tag after a good one is still an error that names it.
        let broken = r#"<testsuite name="pytest"><testcase classname="a" name="b"/><testcase classname="a" name="c/></testsuite>"#;
        assert!(crate::ingest::parse(broken.as_bytes()).is_err());
    }

    #[test]
    fn content_with_cdata_comments_and_references() {
        assert_eq!(
            detail("a&lt;<![CDATA[<x>&amp;]]><!-- c -->b"),
            "a<<x>&amp;b"
        );
        assert_eq!(detail("x<b>bold</b><?pi x?>y"), "xboldy");
        assert_eq!(
            detail("&lol9; &#0; &#27;[31m&#x41; &#99999999999; &quot;q&apos;"),
            "&lol9; &#0; \u{1b}[31mA &#99999999999; \"q'"
        );
        assert_eq!(detail("fish & chips"), "fish & chips");
    }

    #[test]
    fn text_read_raw_and_text_read_as_events_agree() {
        // The text before the first markup is read raw and unescaped at
        // once; after a comment, the same text comes as events.
        for text in [
            "&#x0001F600; &#00000000065; &#x41;&#65;",
            "a &quot;b&quot; &lt;c&gt; &amp;amp; &apos;",
            "&unknown; &; &#; &#xZZ; & lone; &lt",
            "&#1114112; &#xD800; &#0;",
            "tail &amp",
        ] {
            assert_eq!(detail(text), detail(&format!("<!---->{text}")), "{text}");
        }
        assert_eq!(detail("&#x0001F600;&#00000000065;"), "\u{1F600}A");
    }

    #[test]
    fn times_parse_as_str_parse_does() {
        for t in [
            "0",
            "1",
            "1.234",
            "0.1",
            "0.3",
            "123456.789",
            "1.000000000000001",
            "99999.99999",
            "0.000000000000001",
            "12345678901234.5",
        ] {
            assert_eq!(super::parse_time(t), t.parse::<f64>().ok(), "{t}");
        }
        for t in ["", ".5", "5.", "1.2.3", "-1", "1e3", "NaN", "1,234.5"] {
            let fast = super::parse_time_fast(t.as_bytes());
            assert!(fast.is_none(), "{t}");
        }
        assert_eq!(super::parse_time("1,234.5"), Some(1234.5));
        assert_eq!(super::parse_time("-1"), None);
    }
}
