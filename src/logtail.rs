//! Follows a command log (`test.log`, `deploy.log`) by offset, so the output
//! pane of every viewer shows the run live, whoever started it. Only new
//! bytes are read, and at most [`MAX_READ`] per look: a log that grew by a
//! gigabyte is skipped to its end, never loaded whole, and a look costs the
//! same whatever the command's speed.
//!
//! The log holds the command's bytes as it printed them (see
//! [`crate::runner::output`]); this is where they become display text: each
//! line is sanitized ([`display_lines`]: no escape sequence reaches the
//! pane), and a line longer than [`MAX_LINE`] bytes is shown in pieces, so a
//! newline-free gigabyte never sits in memory.
//!
//! The runner's follower ([`crate::runner::output`]) uses the same tailer
//! from a given offset without skipping ([`LogTail::from`]), for a run's
//! revision pattern and its headless echo on a terminal.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::sanitize;

/// Most bytes read in one look; older output is in the file.
pub const MAX_READ: u64 = 256 * 1024;
/// A look further behind than [`MAX_READ`] skips to this many last bytes:
/// hundreds of lines, more than any screen shows, so that following a
/// command that prints fast costs little per look.
pub const SKIP_TO: u64 = 64 * 1024;
/// Longer lines are shown in pieces of this many bytes (cut at a UTF-8
/// boundary).
pub const MAX_LINE: usize = 64 * 1024;

#[derive(Debug)]
pub struct LogTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    /// Skip to the last [`MAX_READ`] bytes when further behind (the pane);
    /// else read every byte, [`MAX_READ`] at a time (see [`LogTail::from`]).
    skip: bool,
    /// The last look stopped before the end of the file.
    more: bool,
}

impl LogTail {
    /// Starts near the end of what the file has now (the last `MAX_READ`
    /// bytes at most), so opening loopdeck on a huge log is cheap.
    pub fn new(path: &Path) -> LogTail {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        LogTail {
            path: path.to_path_buf(),
            offset: len.saturating_sub(MAX_READ),
            partial: Vec::new(),
            skip: true,
            more: false,
        }
    }

    /// Follows from `offset` and never skips: each look reads at most
    /// [`MAX_READ`] bytes, and [`LogTail::more`] says whether there is more
    /// already (a run's revision pattern and its headless echo see every
    /// line this way).
    pub fn from(path: &Path, offset: u64) -> LogTail {
        LogTail {
            path: path.to_path_buf(),
            offset,
            partial: Vec::new(),
            skip: false,
            more: false,
        }
    }

    /// The last look stopped before the end of the file: look again.
    pub fn more(&self) -> bool {
        self.more
    }

    /// The half-written last line, as a line (for when its writer is done).
    pub fn finish(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| display_line(&std::mem::take(&mut self.partial)))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Complete new lines since the last look, sanitized; a half-written
    /// last line waits for its newline (up to [`MAX_LINE`] bytes of it). A
    /// shorter file starts over.
    pub fn read_new(&mut self) -> io::Result<Vec<String>> {
        let meta = std::fs::symlink_metadata(&self.path)?;
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        let len = meta.len();
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        if self.skip && len - self.offset > MAX_READ {
            // Skip what nobody could read at this speed anyway.
            self.offset = len - SKIP_TO;
            self.partial.clear();
        }
        let want = (len - self.offset).min(MAX_READ);
        self.more = len - self.offset > want;
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.offset))?;
        let n = file.take(want).read_to_end(&mut self.partial)?;
        self.offset += n as u64;
        let mut lines = Vec::new();
        if let Some(last_nl) = memchr::memrchr(b'\n', &self.partial) {
            lines = display_lines(&self.partial[..=last_nl]);
            self.partial.drain(..=last_nl);
        }
        while self.partial.len() > MAX_LINE {
            let cut = char_boundary(&self.partial, MAX_LINE);
            lines.extend(display_lines(&self.partial[..cut]));
            self.partial.drain(..cut);
        }
        Ok(lines)
    }
}

/// Raw command output -> the lines shown for it, each sanitized (escape
/// sequences removed, tabs expanded, `\r\n` read as a newline). A last
/// piece without a newline counts as a line. Valid UTF-8 (the common case)
/// is checked once for the whole block, not line by line.
pub fn display_lines(raw: &[u8]) -> Vec<String> {
    if raw.is_empty() {
        return Vec::new();
    }
    let body = raw.strip_suffix(b"\n").unwrap_or(raw);
    match simdutf8::basic::from_utf8(body) {
        Ok(text) => text
            .split('\n')
            .map(|l| sanitize::line_cow(l).into_owned())
            .collect(),
        Err(_) => body.split(|&b| b == b'\n').map(display_line).collect(),
    }
}

/// One raw line of output as shown: sanitized.
pub fn display_line(raw: &[u8]) -> String {
    sanitize::line(&String::from_utf8_lossy(raw))
}

/// A cut at or just before `at` that does not split a UTF-8 character.
fn char_boundary(buf: &[u8], at: usize) -> usize {
    let mut cut = at.min(buf.len());
    while cut > at.saturating_sub(3) && cut > 0 && cut < buf.len() && (buf[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    if cut == 0 { at.min(buf.len()) } else { cut }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn follows_appends_waits_for_newline_and_restarts_on_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.log");
        std::fs::write(&path, "old line\n").unwrap();
        let mut tail = LogTail::new(&path);
        assert_eq!(
            tail.read_new().unwrap(),
            vec!["old line"],
            "a small log is shown from its start"
        );
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"one\ntw").unwrap();
        assert_eq!(tail.read_new().unwrap(), vec!["one"]);
        f.write_all(b"o \x1b[31mred\x1b[0m\n").unwrap();
        assert_eq!(tail.read_new().unwrap(), vec!["two red"]);
        assert!(tail.read_new().unwrap().is_empty());
        std::fs::write(&path, "new\n").unwrap();
        assert_eq!(tail.read_new().unwrap(), vec!["new"]);
    }

    #[test]
    fn cut_keeps_characters_whole() {
        let s = "aé€😀".as_bytes(); // 1 + 2 + 3 + 4 bytes
        assert_eq!(char_boundary(s, 2), 1);
        assert_eq!(char_boundary(s, 3), 3);
        assert_eq!(char_boundary(s, 4), 3);
        assert_eq!(char_boundary(s, 7), 6);
        assert_eq!(char_boundary(s, 8), 6);
        assert_eq!(char_boundary(s, 10), 10);
    }

    #[test]
    fn display_lines_sanitize_each_line() {
        let raw = b"\x1b]0;title\x07one\r\n\x1b[31mred\x1b[0m\tx\n\nlast";
        assert_eq!(display_lines(raw), ["one", "red     x", "", "last"]);
        assert!(display_lines(b"").is_empty());
        assert_eq!(display_lines(b"\n"), [""]);
        // Not UTF-8: the same lines, the bad byte shown as U+FFFD.
        assert_eq!(
            display_lines(b"ok\n\xff\x1b[1mbad\n"),
            ["ok", "\u{fffd}bad"]
        );
    }

    #[test]
    fn long_lines_are_shown_in_pieces_and_escapes_never_pass() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.log");
        std::fs::write(&path, "").unwrap();
        let mut tail = LogTail::new(&path);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        // A line with no newline yet, longer than two pieces.
        // (Odd: the first cut falls inside a character.)
        let long = "a".to_string() + &"é".repeat(MAX_LINE);
        f.write_all(long.as_bytes()).unwrap();
        let pieces = tail.read_new().unwrap();
        assert_eq!(pieces.len(), 2, "whole pieces are shown at once");
        assert!(
            pieces
                .iter()
                .all(|p| p.len() <= MAX_LINE && p.len() > MAX_LINE - 4)
        );
        assert!(tail.partial.len() <= MAX_LINE);
        f.write_all(b"\x1b[2J\x1b]52;c;aGkK\x07end\n").unwrap();
        let rest = tail.read_new().unwrap();
        assert_eq!(rest.len(), 1);
        assert!(rest[0].ends_with("end"));
        let all: String = pieces.concat() + &rest[0];
        assert_eq!(all, long + "end");
        assert!(!all.contains('\x1b'));
    }

    #[test]
    fn from_an_offset_every_line_is_read_a_piece_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deploy.log");
        let line = "y".repeat(99) + "\n";
        std::fs::write(
            &path,
            "[loopdeck] header\n".to_string() + &line.repeat(10_000) + "end",
        )
        .unwrap();
        let mut tail = LogTail::from(&path, 18);
        let mut lines = Vec::new();
        let mut looks = 0;
        loop {
            lines.extend(tail.read_new().unwrap());
            looks += 1;
            if !tail.more() {
                break;
            }
        }
        assert!(looks > 1, "1 MB is read in pieces");
        assert_eq!(lines.len(), 10_000);
        assert!(lines.iter().all(|l| l.len() == 99));
        assert_eq!(tail.finish().as_deref(), Some("end"));
        assert_eq!(tail.finish(), None);
    }

    #[test]
    fn a_huge_log_is_read_from_its_tail_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.log");
        let line = "x".repeat(99) + "\n";
        std::fs::write(&path, line.repeat(30_000)).unwrap(); // 3 MB
        let mut tail = LogTail::new(&path);
        let lines = tail.read_new().unwrap();
        assert!(
            lines.len() <= (MAX_READ as usize) / 100 + 1,
            "{} lines",
            lines.len()
        );
        assert!(lines.len() >= (MAX_READ as usize) / 100 - 1);
        // Far behind again: the look jumps to the last SKIP_TO bytes.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(line.repeat(5_000).as_bytes()).unwrap(); // 500 KB
        let lines = tail.read_new().unwrap();
        assert!(lines.len() <= (SKIP_TO as usize) / 100 + 1);
        assert!(lines.len() >= (SKIP_TO as usize) / 100 - 1);
        assert!(tail.read_new().unwrap().is_empty());
    }
}
