//! Untrusted text (test names, messages, tracebacks, command output, file
//! names) -> text that is safe to put on the terminal.
//!
//! Everything a report contains was written by someone else's program, so it
//! goes through here once, at the edge, before any widget sees it:
//!
//! * Escape and control sequences are parsed with a real terminal parser
//!   (`vte`) and dropped whole: CSI (SGR colours included, for now), OSC
//!   (window titles, OSC 52 clipboard writes, OSC 8 links: the link text
//!   stays), DCS / SOS / PM / APC strings, and lone ESC. C1 controls
//!   (U+0080..U+009F) are read the way a terminal reads them: U+009B is a CSI,
//!   U+009D an OSC, and so on, so `"\u{9b}31m"` leaves no `31m` residue.
//!   Input is `&str`: a raw 0x9B byte from a non-UTF-8 file has already
//!   become U+FFFD in `String::from_utf8_lossy`, which is printable.
//! * A sequence never crosses a line: an unterminated OSC or DCS swallows at
//!   most the rest of its own line, never the rest of the traceback.
//! * NUL, BEL, backspace, DEL, CAN and SUB are dropped; tabs are expanded to
//!   8-column stops (display columns, so CJK counts double); `\r\n` becomes
//!   `\n`; a lone `\r` followed by more text on the same line keeps only what
//!   came after it, as a terminal would show a progress bar.
//! * Other C0 controls, bidi overrides and isolates, zero-width and other
//!   invisible or format characters are shown as `<U+202E>`-style markers,
//!   never passed through. A zero-width joiner between two emoji (family
//!   emoji, profession emoji) is kept.
//! * Printable Unicode passes unchanged. Text that needs none of this (the
//!   common case: a plain test name) is returned as is, without parsing;
//!   see [`line_cow`] and [`text_cow`] to avoid the copy too.

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_width::UnicodeWidthChar;

/// Tab stops, in display columns.
const TAB_WIDTH: usize = 8;

/// What a newline becomes in [`line`].
pub const NEWLINE_MARK: &str = " ⏎ ";

/// One display line: no control characters at all; newlines are shown as
/// [`NEWLINE_MARK`] (trailing newlines are trimmed).
pub fn line(s: &str) -> String {
    line_cow(s).into_owned()
}

/// Multi-line text: keeps `\n`, everything else as described in the module
/// documentation.
pub fn text(s: &str) -> String {
    text_cow(s).into_owned()
}

/// Same as [`text`]: the text with every escape sequence removed.
pub fn ansi_free(s: &str) -> String {
    text(s)
}

/// [`line`] without a copy when nothing needs to change.
pub fn line_cow(s: &str) -> Cow<'_, str> {
    let s = s.trim_end_matches(['\n', '\r']);
    if is_clean(s, false) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(sanitize(s, Mode::Line))
    }
}

/// [`text`] without a copy when nothing needs to change.
pub fn text_cow(s: &str) -> Cow<'_, str> {
    if is_clean(s, true) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(sanitize(s, Mode::Text))
    }
}

/// True when `s` needs no change for [`text`] (`newlines`) or [`line`] (no
/// newlines allowed). Conservative only for emoji joiners: a kept U+200D
/// still goes through the parser.
pub fn is_clean(s: &str, newlines: bool) -> bool {
    // Fast path: printable ASCII (plus `\n` for text) is the common case.
    let bytes = s.as_bytes();
    // Branch-free over the whole string, so it vectorises.
    if bytes.iter().fold(true, |ok, &b| {
        ok & ((b.wrapping_sub(0x20) < 0x5f) | (newlines & (b == b'\n')))
    }) {
        return true;
    }
    let ascii_end = bytes
        .iter()
        .position(|&b| !((0x20..0x7f).contains(&b) || (newlines && b == b'\n')))
        .unwrap_or(bytes.len());
    if ascii_end == bytes.len() {
        return true;
    }
    s[ascii_end..].chars().all(|c| match c {
        '\n' => newlines,
        ' '..='~' => true,
        c if c.is_ascii() => false,
        c => class(c) == Class::Print,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Line,
    Text,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// Shown as is.
    Print,
    /// Shown as a `<U+XXXX>` marker.
    Marker,
    /// U+200D: kept between emoji, a marker elsewhere.
    Joiner,
    /// C1 control: a terminal reads it as the 7-bit `ESC Fe` sequence.
    C1,
}

/// Classifies a non-ASCII character.
fn class(c: char) -> Class {
    let u = c as u32;
    match u {
        0x80..=0x9F => Class::C1,
        0x200D => Class::Joiner,
        // Unicode general category Cf (format characters): soft hyphen,
        // Arabic number signs, bidi marks, embeddings, overrides and
        // isolates, zero-width space/non-joiner, word joiner, invisible
        // operators, BOM, interlinear annotations, tag characters...
        0xAD
        | 0x600..=0x605
        | 0x61C
        | 0x6DD
        | 0x70F
        | 0x890..=0x891
        | 0x8E2
        | 0x180E
        | 0x200B..=0x200C
        | 0x200E..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0001
        | 0xE0020..=0xE007F
        // Line and paragraph separators (Zl, Zp).
        | 0x2028..=0x2029
        // Invisible letters and marks used to hide text: combining grapheme
        // joiner, Hangul fillers, Khmer inherent vowels, Mongolian variation
        // selectors, variation selectors 1-14 and 17-256 (data smuggling).
        | 0x34F
        | 0x115F..=0x1160
        | 0x17B4..=0x17B5
        | 0x180B..=0x180D
        | 0x180F
        | 0x3164
        | 0xFFA0
        | 0xFE00..=0xFE0D
        | 0xE0100..=0xE01EF
        // Noncharacters.
        | 0xFDD0..=0xFDEF
        | 0xFFFE..=0xFFFF => Class::Marker,
        _ => Class::Print,
    }
}

/// Characters that take part in emoji ZWJ sequences.
fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF)
}

fn sanitize(s: &str, mode: Mode) -> String {
    let mut sink = Sink {
        out: String::with_capacity(s.len() + 16),
        line_start: 0,
        col: 0,
        pending_cr: false,
        pending_joiner: false,
        after_emoji: false,
    };
    let mut bytes = Vec::with_capacity(s.len().min(4096));
    for (i, segment) in s.split('\n').enumerate() {
        if i > 0 {
            match mode {
                Mode::Line => sink.out.push_str(NEWLINE_MARK),
                Mode::Text => sink.out.push('\n'),
            }
            sink.line_start = sink.out.len();
            sink.col = 0;
        }
        bytes.clear();
        encode_c1_as_esc(segment, &mut bytes);
        // A fresh parser per line: whatever an unterminated sequence started
        // ends with its line.
        let mut parser = vte::Parser::new();
        parser.advance(&mut sink, &bytes);
        sink.end_line();
    }
    sink.out
}

/// UTF-8 bytes of `s`, with each C1 control rewritten as its 7-bit form
/// (`ESC` followed by the character minus 0x40), which is how a terminal
/// that honours C1 controls reads them.
fn encode_c1_as_esc(s: &str, out: &mut Vec<u8>) {
    let mut rest = s;
    while let Some(pos) = rest.find(|c: char| matches!(c as u32, 0x80..=0x9F)) {
        out.extend_from_slice(&rest.as_bytes()[..pos]);
        let c = rest[pos..].chars().next().unwrap_or('\u{80}');
        out.push(0x1B);
        out.push((c as u32 - 0x40) as u8);
        rest = &rest[pos + c.len_utf8()..];
    }
    out.extend_from_slice(rest.as_bytes());
}

struct Sink {
    out: String,
    /// Byte offset in `out` where the current line starts.
    line_start: usize,
    /// Display column in the current line.
    col: usize,
    /// A `\r` was seen: the next thing printed on this line starts it over.
    pending_cr: bool,
    /// A U+200D after an emoji, waiting to see whether an emoji follows.
    pending_joiner: bool,
    after_emoji: bool,
}

impl Sink {
    /// Called before anything visible is added to the current line.
    fn before_print(&mut self, next_is_emoji: bool) {
        if self.pending_cr {
            self.pending_cr = false;
            self.out.truncate(self.line_start);
            self.col = 0;
            if self.pending_joiner {
                // The joiner was overwritten with the rest of the line.
                self.pending_joiner = false;
            }
        }
        if self.pending_joiner {
            self.pending_joiner = false;
            if next_is_emoji {
                self.out.push('\u{200D}');
            } else {
                self.push_marker('\u{200D}');
            }
        }
    }

    fn push_char(&mut self, c: char) {
        let emoji = is_emoji(c);
        self.before_print(emoji);
        self.out.push(c);
        self.col += c.width().unwrap_or(0);
        // VS16 (emoji presentation) keeps the emoji context for a joiner.
        if c != '\u{FE0F}' {
            self.after_emoji = emoji;
        }
    }

    fn marker(&mut self, c: char) {
        self.before_print(false);
        self.push_marker(c);
        self.after_emoji = false;
    }

    fn push_marker(&mut self, c: char) {
        let before = self.out.len();
        let _ = write!(self.out, "<U+{:04X}>", c as u32);
        self.col += self.out.len() - before;
    }

    fn tab(&mut self) {
        self.before_print(false);
        let next = (self.col / TAB_WIDTH + 1) * TAB_WIDTH;
        for _ in self.col..next {
            self.out.push(' ');
        }
        self.col = next;
        self.after_emoji = false;
    }

    fn end_line(&mut self) {
        self.pending_cr = false;
        if self.pending_joiner {
            self.pending_joiner = false;
            self.push_marker('\u{200D}');
        }
        self.after_emoji = false;
    }
}

impl vte::Perform for Sink {
    fn print(&mut self, c: char) {
        if c.is_ascii() {
            if c == '\x7f' {
                return; // DEL
            }
            self.push_char(c);
            return;
        }
        match class(c) {
            Class::Print => self.push_char(c),
            Class::Marker => self.marker(c),
            Class::Joiner if self.after_emoji && !self.pending_joiner => {
                self.pending_joiner = true;
            }
            Class::Joiner => self.marker(c),
            // Rewritten to ESC sequences before parsing; never printed.
            Class::C1 => {}
        }
    }

    fn execute(&mut self, byte: u8) {
        match byte {
            b'\t' => self.tab(),
            b'\r' => self.pending_cr = true,
            // NUL, BEL, BS, CAN, SUB, ESC: terminal noise, dropped.
            0x00 | 0x07 | 0x08 | 0x18 | 0x1A | 0x1B => {}
            // Other C0 controls (vertical tab, form feed, SO/SI, ...) are
            // made visible.
            0x00..=0x1F => self.marker(char::from(byte)),
            // C1 controls never reach here (see `encode_c1_as_esc`).
            _ => {}
        }
    }
    // CSI, OSC, ESC and DCS dispatches are ignored: the sequences vanish.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            line_cow("tests/test_a.py::test_b[1-2]"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(text_cow("a\nb"), Cow::Borrowed(_)));
        assert!(matches!(text_cow("café 東京 🎉"), Cow::Borrowed(_)));
        assert!(matches!(line_cow("a\tb"), Cow::Owned(_)));
    }

    #[test]
    fn joiner_kept_between_emoji_only() {
        let family = "👨\u{200D}👩\u{200D}👧";
        assert_eq!(text(family), family);
        assert_eq!(text("a\u{200D}b"), "a<U+200D>b");
        assert_eq!(text("👨\u{200D}b"), "👨<U+200D>b");
        assert_eq!(text("👨\u{200D}"), "👨<U+200D>");
    }

    #[test]
    fn tabs_use_display_columns() {
        assert_eq!(text("東京\tx"), "東京    x");
        assert_eq!(text("ab\tc\n\td"), "ab      c\n        d");
    }
}
