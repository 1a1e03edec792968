//! Follows a command log (`test.log`, `deploy.log`) by offset, so the output
//! pane of every viewer shows the run live, whoever started it. Only new
//! bytes are read, and at most [`MAX_READ`] per look: a log that grew by a
//! gigabyte is skipped to its end, never loaded whole.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::sanitize;

/// Most bytes read in one look; older output is in the file.
pub const MAX_READ: u64 = 1 << 20;

#[derive(Debug)]
pub struct LogTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
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
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Complete new lines since the last look, sanitized; a half-written
    /// last line waits for its newline. A shorter file starts over.
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
        if len - self.offset > MAX_READ {
            // Skip what we cannot show anyway; say so in the pane.
            self.offset = len - MAX_READ;
            self.partial.clear();
        }
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        file.take(len - self.offset).read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let Some(last_nl) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        let complete: Vec<u8> = self.partial.drain(..=last_nl).collect();
        Ok(String::from_utf8_lossy(&complete)
            .lines()
            .map(sanitize::line)
            .collect())
    }
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
    fn a_huge_log_is_read_from_its_last_megabyte_only() {
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
        assert!(lines.len() > 10_000);
    }
}
