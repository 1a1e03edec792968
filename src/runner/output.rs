//! A run's output: the command writes straight into the log file; a
//! follower reads it back only for what needs the bytes.
//!
//! The command's stdout and stderr are the log itself (opened in append
//! mode, as `cmd >> test.log 2>&1` would): loopdeck is not between the
//! command and the disk, so a command printing gigabytes runs as fast as
//! with its output sent to a file, and loopdeck spends nothing per byte.
//! Each `write` the command makes lands whole, so stdout and stderr
//! interleave at the granularity of the command's writes: whole lines when
//! it writes line by line (stderr, or a line-buffered stdout), blocks of a
//! few KiB for a block-buffered stdout, exactly as in a shell redirection.
//! The log holds the command's bytes, escape sequences included; loopdeck's
//! `[loopdeck] ... started`/outcome lines frame them (an outcome line after
//! a last line without a newline gets one in front).
//!
//! Nothing is sanitized here: output is sanitized when shown. The output
//! pane reads the log back through [`crate::logtail`]; a headless run
//! copies it to stdout ([`Echo`]), line by line sanitized when stdout is a
//! terminal.
//!
//! The follower, on its own thread, looks at the log every
//! [`PING_EVERY`]: when it grew, it says so ([`RunEvent::Output`]); for a
//! headless run it copies the new bytes to stdout (in the kernel,
//! `copy_file_range`/`sendfile`/`splice`, when raw; sanitized lines on a
//! terminal); for a deploy it looks for the revision pattern in each new
//! line as the pane shows it (sanitized: a coloured revision matches as the
//! operator sees it). Lines come from the one log tailer,
//! [`crate::logtail::LogTail`], from the output's start and without
//! skipping. A UI test run needs none of the bytes: the follower then only
//! stats the file. Memory is bounded by one [`crate::logtail::MAX_READ`]
//! read, whatever the output.
//!
//! What this costs compared with a pipe: a command whose disk fills gets
//! the write error itself (a pipe reader could drop the output and keep the
//! command going), and a process that escaped the run's process group
//! (its own `setsid`) may append to the log after the run's outcome line.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use regex::Regex;
use tokio::sync::mpsc::UnboundedSender;

use super::RunEvent;
use crate::logtail::LogTail;

/// How often the follower looks at the log while the command runs: output
/// reaches a headless stdout within this, and [`RunEvent::Output`] comes at
/// most this often.
pub const PING_EVERY: Duration = Duration::from_millis(33);

/// Where a run's output is copied besides the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Echo {
    /// Nowhere (the UI reads the log back).
    #[default]
    None,
    /// To stdout as is (headless, stdout is not a terminal: the same bytes
    /// as the log).
    Raw,
    /// To stdout, each line sanitized (headless, stdout is a terminal: no
    /// escape sequence from the command reaches it).
    Sanitized,
}

/// What the follower needs.
pub(crate) struct Follow {
    /// The log, opened for reading at the offset where the command's output
    /// starts.
    pub log: File,
    pub log_path: PathBuf,
    /// That offset.
    pub start: u64,
    pub echo: Echo,
    pub pattern: Option<Regex>,
    pub tx: UnboundedSender<RunEvent>,
}

/// What the follower learned.
pub(crate) struct FollowOut {
    pub revision: Option<String>,
}

/// Follows the log until `stop` says so (or is dropped), then reads what
/// is left and returns. Blocking: runs on its own thread.
pub(crate) fn follow(f: Follow, stop: Receiver<()>) -> FollowOut {
    let Follow {
        mut log,
        log_path,
        start,
        echo,
        pattern,
        tx,
    } = f;
    let mut offset = start;
    let mut raw_out = (echo == Echo::Raw).then(io::stdout);
    let mut shown = Shown {
        out: (echo == Echo::Sanitized).then(io::stdout),
        buf: Vec::new(),
        pattern,
        revision: None,
    };
    // Lines as shown, only when something needs them.
    let mut lines =
        (shown.out.is_some() || shown.pattern.is_some()).then(|| LogTail::from(&log_path, start));
    loop {
        let last = !matches!(
            stop.recv_timeout(PING_EVERY),
            Err(RecvTimeoutError::Timeout)
        );
        let len = log.metadata().map(|m| m.len()).unwrap_or(offset);
        if len > offset {
            if let Some(out) = &raw_out
                && io::copy(&mut (&mut log).take(len - offset), &mut out.lock()).is_err()
            {
                // stdout closed (`loopdeck test | head`): the log goes on.
                raw_out = None;
            }
            if let Some(tail) = &mut lines {
                loop {
                    for line in tail.read_new().unwrap_or_default() {
                        shown.line(line);
                    }
                    shown.flush();
                    if !tail.more() {
                        break;
                    }
                }
            }
            offset = len;
            let _ = tx.send(RunEvent::Output { bytes: len - start });
        }
        if last {
            if let Some(line) = lines.as_mut().and_then(LogTail::finish) {
                shown.line(line);
            }
            shown.flush();
            if let Some(out) = &raw_out {
                let _ = out.lock().flush();
            }
            return FollowOut {
                revision: shown.revision,
            };
        }
    }
}

/// What is done with each line of output, as the pane shows it.
struct Shown {
    /// Sanitized echo, and the lines waiting for it.
    out: Option<io::Stdout>,
    buf: Vec<u8>,
    pattern: Option<Regex>,
    revision: Option<String>,
}

impl Shown {
    fn line(&mut self, line: String) {
        if let Some(p) = &self.pattern
            && let Some(r) = match_revision(p, &line)
        {
            self.revision = Some(r);
        }
        if self.out.is_some() {
            self.buf.extend_from_slice(line.as_bytes());
            self.buf.push(b'\n');
        }
    }

    fn flush(&mut self) {
        if let Some(out) = &self.out {
            let mut out = out.lock();
            let _ = out.write_all(&self.buf).and_then(|()| out.flush());
        }
        self.buf.clear();
    }
}

/// Makes sure the log ends with a newline, so that what loopdeck appends
/// next starts on its own line. Returns the bytes to write first.
pub(crate) fn newline_needed(log_path: &Path) -> &'static [u8] {
    let last = File::open(log_path).and_then(|f| {
        let len = f.metadata()?.len();
        let mut b = [0u8; 1];
        if len == 0 {
            return Ok(b'\n');
        }
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut b, len - 1)?;
        Ok(b[0])
    });
    match last {
        Ok(b'\n') | Err(_) => b"",
        Ok(_) => b"\n",
    }
}

/// The last match of `pattern` in `line`: its first capture group if it
/// has one, else the whole match.
pub(crate) fn match_revision(pattern: &Regex, line: &str) -> Option<String> {
    let caps = pattern.captures_iter(line).last()?;
    let m = caps.get(1).or_else(|| caps.get(0))?;
    (!m.as_str().is_empty()).then(|| m.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_prefers_the_first_group_and_the_last_match() {
        let p = Regex::new(r"revision (\S+)").unwrap();
        assert_eq!(
            match_revision(&p, "revision a-1 then revision b-2").as_deref(),
            Some("b-2")
        );
        let whole = Regex::new(r"backend-\d+-\w+").unwrap();
        assert_eq!(
            match_revision(&whole, "serving backend-00094-abc now").as_deref(),
            Some("backend-00094-abc")
        );
        assert_eq!(match_revision(&whole, "nothing here"), None);
    }

    /// Runs the follower over `writes` appended to a log one look apart,
    /// and returns what it learned and the pings it sent.
    fn follow_writes(writes: &[&[u8]], pattern: Option<&str>) -> (FollowOut, Vec<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deploy.log");
        std::fs::write(&path, "[loopdeck] header\n").unwrap();
        let start = std::fs::metadata(&path).unwrap().len();
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let mut reader = File::open(&path).unwrap();
        io::Seek::seek(&mut reader, io::SeekFrom::Start(start)).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop_tx, stop) = std::sync::mpsc::channel();
        let f = Follow {
            log: reader,
            log_path: path.clone(),
            start,
            echo: Echo::None,
            pattern: pattern.map(|p| Regex::new(p).unwrap()),
            tx,
        };
        let t = std::thread::spawn(move || follow(f, stop));
        let mut pings = Vec::new();
        let mut total = 0;
        for w in writes {
            log.write_all(w).unwrap();
            total += w.len() as u64;
            // Wait for the follower to have seen this write.
            loop {
                match rx.blocking_recv() {
                    Some(RunEvent::Output { bytes }) => {
                        pings.push(bytes);
                        if bytes == total {
                            break;
                        }
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        stop_tx.send(()).unwrap();
        (t.join().unwrap(), pings)
    }

    #[test]
    fn the_revision_is_found_per_line_as_shown_across_reads() {
        let (out, pings) = follow_writes(
            &[
                b"building\r\nrevision \x1b[1mr-1\x1b[0m is live\r\nrevision r-",
                b"2 is live\nrevision r-3 is not\n",
            ],
            Some(r"^revision (\S+) is live$"),
        );
        assert_eq!(out.revision.as_deref(), Some("r-2"));
        assert!(pings.windows(2).all(|w| w[0] < w[1]), "{pings:?}");
        // A colour code does not hide a match (the pane shows no colour).
        let (out, _) = follow_writes(
            &[b"revision \x1b[1mr-1\x1b[0m is live\n"],
            Some(r"^revision (\S+) is live$"),
        );
        assert_eq!(out.revision.as_deref(), Some("r-1"));
        // `^`/`$` are per line: a pattern never spans two lines.
        let (out, _) = follow_writes(&[b"is live\nnoise\n"], Some(r"live\s+noise"));
        assert_eq!(out.revision, None);
        // The last line needs no newline.
        let (out, _) = follow_writes(&[b"x\nrevision r-9 is live"], Some(r"revision (\S+)"));
        assert_eq!(out.revision.as_deref(), Some("r-9"));
    }

    #[test]
    fn a_newline_goes_before_loopdecks_line_only_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.log");
        std::fs::write(&path, "line\n").unwrap();
        assert_eq!(newline_needed(&path), b"");
        std::fs::write(&path, "no newline").unwrap();
        assert_eq!(newline_needed(&path), b"\n");
        std::fs::write(&path, "").unwrap();
        assert_eq!(newline_needed(&path), b"");
    }
}
