//! A run's output: pipes -> sanitized lines -> log file and events.
//!
//! Two reader tasks (stdout, stderr) split their pipe into lines of at most
//! [`MAX_LINE`] bytes, sanitize each one and send it into one bounded
//! channel, so the two streams interleave line-wise in arrival order. One
//! sink task takes lines from that channel, sends each as a
//! [`RunEvent::Line`] and appends them to the log in batches (one blocking
//! write per batch, on tokio's blocking pool). Memory is bounded by the
//! channel and the batch, whatever the size of the output; when the disk is
//! slower than the command, the channel fills and the readers stop reading,
//! so the command waits on its pipe.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use regex::Regex;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use super::RunEvent;

/// Longer lines are cut into pieces of this many bytes (at a UTF-8
/// boundary): a newline-free gigabyte must not sit in memory.
pub const MAX_LINE: usize = 64 * 1024;
/// Lines in flight between the readers and the sink.
pub(crate) const CHANNEL: usize = 256;
/// The sink writes at most this much per batch.
const BATCH: usize = 64 * 1024;

/// Reads `pipe` until EOF (or until the task is aborted), sending
/// sanitized lines to `out` and counting raw bytes in `bytes`.
pub(crate) async fn read_lines<R: AsyncRead + Unpin>(
    pipe: R,
    out: mpsc::Sender<String>,
    bytes: Arc<AtomicU64>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, pipe);
    let mut partial: Vec<u8> = Vec::new();
    let mut ready: Vec<String> = Vec::new();
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if buf.is_empty() {
            break;
        }
        let used = match memchr::memchr(b'\n', buf) {
            Some(i) if partial.is_empty() && i <= MAX_LINE => {
                ready.push(decode(&buf[..i]));
                i + 1
            }
            Some(i) => {
                partial.extend_from_slice(&buf[..i]);
                cut_long(&mut partial, &mut ready);
                ready.push(decode(&partial));
                partial.clear();
                i + 1
            }
            None => {
                partial.extend_from_slice(buf);
                cut_long(&mut partial, &mut ready);
                buf.len()
            }
        };
        reader.consume(used);
        bytes.fetch_add(used as u64, Ordering::Relaxed);
        for line in ready.drain(..) {
            if out.send(line).await.is_err() {
                return;
            }
        }
    }
    if !partial.is_empty() {
        let _ = out.send(decode(&partial)).await;
    }
}

/// Moves whole [`MAX_LINE`] pieces off the front of an over-long partial
/// line.
fn cut_long(partial: &mut Vec<u8>, ready: &mut Vec<String>) {
    while partial.len() > MAX_LINE {
        let cut = char_boundary(partial, MAX_LINE);
        ready.push(decode(&partial[..cut]));
        partial.drain(..cut);
    }
}

/// A cut at or just before `at` that does not split a UTF-8 character.
fn char_boundary(buf: &[u8], at: usize) -> usize {
    let mut cut = at.min(buf.len());
    while cut > at.saturating_sub(3) && cut > 0 && cut < buf.len() && (buf[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    if cut == 0 { at.min(buf.len()) } else { cut }
}

/// Raw bytes -> one safe display line.
fn decode(bytes: &[u8]) -> String {
    crate::sanitize::line(&String::from_utf8_lossy(bytes))
}

/// The last match of `pattern` in `line`: its first capture group if it
/// has one, else the whole match.
pub(crate) fn match_revision(pattern: &Regex, line: &str) -> Option<String> {
    let caps = pattern.captures_iter(line).last()?;
    let m = caps.get(1).or_else(|| caps.get(0))?;
    (!m.as_str().is_empty()).then(|| m.as_str().to_string())
}

/// What the sink learned.
pub(crate) struct SinkOut {
    pub revision: Option<String>,
    pub write_error: Option<String>,
}

/// Drains `lines` until every reader is done: events to `tx`, text to
/// `log`.
pub(crate) async fn sink(
    mut lines: mpsc::Receiver<String>,
    log: File,
    tx: mpsc::UnboundedSender<RunEvent>,
    pattern: Option<Regex>,
) -> SinkOut {
    let mut log = Some(log);
    let mut revision = None;
    let mut write_error: Option<String> = None;
    let mut batch: Vec<u8> = Vec::with_capacity(BATCH);
    while let Some(first) = lines.recv().await {
        let mut next = Some(first);
        while let Some(line) = next.take() {
            if let Some(p) = &pattern
                && let Some(r) = match_revision(p, &line)
            {
                revision = Some(r);
            }
            if log.is_some() {
                batch.extend_from_slice(line.as_bytes());
                batch.push(b'\n');
            }
            // The receiver may be gone (loopdeck shutting down): the log
            // still gets everything.
            let _ = tx.send(RunEvent::Line(line));
            if batch.len() < BATCH {
                next = lines.try_recv().ok();
            }
        }
        if let Some(mut file) = log.take() {
            let mut buf = std::mem::take(&mut batch);
            let done = tokio::task::spawn_blocking(move || {
                let r = file.write_all(&buf);
                buf.clear();
                (file, buf, r)
            })
            .await;
            match done {
                Ok((file, buf, Ok(()))) => {
                    log = Some(file);
                    batch = buf;
                }
                Ok((_, buf, Err(e))) => {
                    // Disk full or the like: keep draining the pipes (the
                    // command must not block), stop writing.
                    write_error = Some(format!("writing the log failed: {e}"));
                    batch = buf;
                }
                Err(e) => write_error = Some(format!("log writer failed: {e}")),
            }
        }
    }
    SinkOut {
        revision,
        write_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test]
    async fn long_lines_are_cut_and_the_tail_kept() {
        let mut input = vec![b'x'; MAX_LINE * 2 + 10];
        input.extend_from_slice(b"\nshort\r\n\x1b[31mred\x1b[0m\nno newline");
        let (tx, mut rx) = mpsc::channel(16);
        let bytes = Arc::new(AtomicU64::new(0));
        let reader = tokio::spawn(read_lines(
            std::io::Cursor::new(input.clone()),
            tx,
            bytes.clone(),
        ));
        let mut got = Vec::new();
        while let Some(l) = rx.recv().await {
            got.push(l);
        }
        reader.await.unwrap();
        assert_eq!(got.len(), 6);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1].len(), MAX_LINE);
        assert_eq!(got[2], "x".repeat(10));
        assert_eq!(&got[3..], ["short", "red", "no newline"]);
        assert_eq!(bytes.load(Ordering::Relaxed), input.len() as u64);
    }
}
