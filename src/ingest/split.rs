//! A big JUnit document parsed in two halves, one per core.
//!
//! The document is cut just before a `<testcase>` start tag near its
//! middle. The first half is parsed as it is, up to the cut, and ends with
//! its root and one suite still open. The second half is parsed as a
//! document of its own: the start tags of that root and suite, copied from
//! the file, followed by the rest of the file. Where the suite open at the
//! cut started is a guess (the last `<testsuite` before the cut, or the
//! first one of the document); [`junit::join_halves`] checks the guess against
//! what the first half actually saw, and anything that does not fit (a cut
//! inside a comment or CDATA, a nested suite, a dialect that needs whole
//! suites) sends the caller back to the one-pass parse. So the split is
//! never a second opinion on the content: it reads exactly what one pass
//! would have, or nothing.
//!
//! Each half reads its own byte range with positioned reads (no shared
//! file offset) through the same NUL / UTF-8 checks as the one-pass read.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use memchr::memmem;
use quick_xml::Reader;
use quick_xml::events::Event;

use super::input::Checked;
use super::{Keep, junit};
use crate::model::{Report, TestCase};

/// Documents smaller than this are read in one pass (a thread and the
/// probing reads cost more than they save).
pub const SPLIT_FROM: u64 = 4 * 1024 * 1024;
/// How far from the middle a `<testcase` start tag is looked for.
const PROBE: u64 = 256 * 1024;
/// How far back from the cut the suite's start tag is looked for before
/// guessing the document's first suite, and in steps of how many bytes.
const BACK: u64 = 1024 * 1024;
const STEP: u64 = 64 * 1024;
/// The longest start tag (with its attributes) taken as context.
const MAX_TAG: u64 = 64 * 1024;

/// Work done on the tests of each half, on the thread that parsed it
/// (the results layer sanitises them there).
pub type EachPart<'a> = dyn Fn(&mut [TestCase]) + Sync + 'a;

/// Parses the JUnit document in `file` (`len` bytes, of which `head` are
/// its first; keeping what `keep` says of each failure) in two halves on
/// two threads, applying `each` to the tests
/// of each half. Returns the report and the bytes read, or `None` when the
/// document is small, not JUnit, cannot be cut, or its halves do not fit
/// together: the caller reads it in one pass (which also gives the
/// precise error of a broken document).
pub fn parse_split(
    file: &File,
    head: &[u8],
    len: u64,
    cap: u64,
    keep: Keep,
    each: &EachPart<'_>,
) -> Option<(Report, u64)> {
    if len < SPLIT_FROM || len > cap {
        return None;
    }
    let base = (head.len() - super::skip_bom_and_space(head).len()) as u64;
    let root = root_tag(&head[base as usize..])?;
    if root.one_pass {
        // Known before parsing anything: the halves could not be joined.
        return None;
    }
    let cut = find_cut(file, len)?;
    // Offsets in the first half count from `base`.
    let root_end = root.at + root.bytes.len() as u64;
    let (context, open, suite_end) = if root.name == b"testsuites" {
        let suite = open_suite(file, base + root_end, cut)?;
        let end = suite.at + suite.bytes.len() as u64 - base;
        ([root.bytes, suite.bytes].concat(), 2, end)
    } else {
        // A lone <testsuite> root is the suite itself (a cut inside a
        // suite nested in it does not join).
        (root.bytes, 1, root_end)
    };

    // The second half's records: about its share of the bytes (of the
    // declared count it reserves), a little more to spare.
    let share = (len - cut) as f64 / len as f64 * 1.05;
    std::thread::scope(|s| {
        let second = std::thread::Builder::new()
            .name("loopdeck-split".into())
            .spawn_scoped(s, || {
                let mut source = context.as_slice().chain(Range::new(file, cut, cap + 1));
                let mut input = Checked::inline(&mut source);
                let walk = junit::walk(&mut input, (len - cut) as usize, share, keep).ok();
                let binary = input.is_binary();
                drop(input);
                let read = source.into_inner().1.pos - cut;
                let mut walk = walk.filter(|_| !binary)?;
                each(walk.tests_mut());
                Some((walk, read))
            })
            .ok()?;
        let mut source = Range::new(file, base, cut);
        let first = {
            let mut input = Checked::inline(&mut source);
            let walk = junit::walk(&mut input, len as usize, 1.0, keep).ok();
            walk.filter(|_| !input.is_binary()).map(|mut w| {
                // Here, while the other half may still be parsing.
                each(w.tests_mut());
                w
            })
        };
        let (second, read) = second.join().ok()??;
        let first = first?;
        let total = cut + read;
        if total > cap || source.pos != cut {
            return None;
        }
        junit::join_halves(first, second, open, suite_end).map(|r| (r, total))
    })
}

/// A start tag read from the file.
struct Tag {
    name: Vec<u8>,
    /// The whole start tag, `<` to `>`.
    bytes: Vec<u8>,
    /// Its offset (in the file, or in the slice it was found in).
    at: u64,
    /// It names a dialect that is read in one pass (Jest, mocha).
    one_pass: bool,
}

/// The first start tag of `doc` (after the declaration, comments, a
/// doctype), if it opens an element with content.
fn root_tag(doc: &[u8]) -> Option<Tag> {
    let mut reader = Reader::from_reader(doc);
    loop {
        let before = reader.buffer_position() as usize;
        match reader.read_event().ok()? {
            Event::Start(e) => {
                let end = reader.buffer_position() as usize;
                return Some(Tag {
                    name: e.local_name().as_ref().to_vec(),
                    bytes: doc[before..end].to_vec(),
                    at: before as u64,
                    one_pass: junit::needs_one_pass(&e),
                });
            }
            Event::Decl(_)
            | Event::Comment(_)
            | Event::PI(_)
            | Event::DocType(_)
            | Event::Text(_) => {}
            _ => return None,
        }
    }
}

/// The offset of a `<testcase` start tag at or after the middle.
fn find_cut(file: &File, len: u64) -> Option<u64> {
    let mid = len / 2;
    let window = read_window(file, mid, PROBE.min(len - mid))?;
    tag_starts(&window, b"<testcase")
        .next()
        .map(|i| mid + i as u64)
}

/// The `<testsuite` start tag most likely open at `cut`: the last one in
/// the megabyte before it, else the first one after the root's start tag.
fn open_suite(file: &File, after_root: u64, cut: u64) -> Option<Tag> {
    let at = match last_before(file, b"<testsuite", after_root, cut) {
        Some(at) => at,
        None => {
            let window = read_window(file, after_root, STEP.min(cut - after_root))?;
            after_root + tag_starts(&window, b"<testsuite").next()? as u64
        }
    };
    let tag = read_window(file, at, MAX_TAG.min(cut - at))?;
    let t = root_tag(&tag)?;
    (t.at == 0 && t.name == b"testsuite").then_some(Tag { at, ..t })
}

/// The last start tag `needle` in `from..to`, looked for backwards from
/// `to` in steps of [`STEP`] bytes, at most [`BACK`] bytes back.
fn last_before(file: &File, needle: &[u8], from: u64, to: u64) -> Option<u64> {
    let floor = to.saturating_sub(BACK).max(from);
    // One buffer; steps overlap by a needle's length (and the byte after
    // it) so that no tag is missed at a step's edge.
    let overlap = needle.len() as u64 + 1;
    let mut buf = vec![0; (STEP + overlap) as usize];
    let mut end = to;
    while end > floor {
        let start = end.saturating_sub(STEP).max(floor);
        let stop = (end + overlap).min(to);
        let window = &mut buf[..(stop - start) as usize];
        file.read_exact_at(window, start).ok()?;
        if let Some(i) = tag_starts(window, needle).last() {
            return Some(start + i as u64);
        }
        end = start;
    }
    None
}

/// Offsets in `hay` of `needle` followed by what ends an element name.
fn tag_starts<'h>(hay: &'h [u8], needle: &'h [u8]) -> impl Iterator<Item = usize> + 'h {
    memmem::find_iter(hay, needle).filter(move |&i| {
        hay.get(i + needle.len())
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'>' | b'/'))
    })
}

fn read_window(file: &File, at: u64, len: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0; len as usize];
    file.read_exact_at(&mut buf, at).ok()?;
    Some(buf)
}

/// Bytes `pos..end` of a file, read with positioned reads.
struct Range<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
}

impl<'f> Range<'f> {
    fn new(file: &'f File, pos: u64, end: u64) -> Range<'f> {
        Range { file, pos, end }
    }
}

impl Read for Range<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}
