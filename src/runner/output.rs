//! A run's output: pipes -> raw byte chunks -> log file (and, headless, stdout).
//!
//! Two reader tasks (stdout, stderr) read their pipe in chunks of up to
//! [`CHUNK`] bytes and send the part up to the chunk's last newline — whole
//! lines — into one bounded channel; the rest of a line waits for its end in
//! the reader. So the two streams interleave line-wise (a line longer than
//! [`CHUNK`] is the exception: it is sent in pieces, and the other stream may
//! land between them). Finding the last newline is one `memrchr` per read;
//! nothing is split into lines, decoded or copied on the way.
//!
//! One writer thread (tokio's blocking pool) takes the chunks and appends
//! each to the log with one `write` (the log holds the command's bytes as
//! they came; only a last line without a newline gets one, so loopdeck's
//! outcome line starts on its own line). For a headless run it also copies
//! them to stdout ([`Echo`]). For a deploy it looks for the revision pattern
//! in each line, as the pane shows it (sanitized). Every [`PING_EVERY`] at
//! most it tells the caller that the output grew ([`RunEvent::Output`]).
//!
//! Nothing is sanitized here: output is sanitized when shown — the output
//! pane reads the log back through [`crate::logtail`], and [`Echo::Sanitized`]
//! cleans what reaches a terminal.
//!
//! Memory is bounded by the channel, whatever the size of the output. When
//! the disk (or stdout) is slower than the command, the channel fills, the
//! readers stop reading, and the command waits on its pipe.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use regex::Regex;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use super::RunEvent;

/// Most bytes read from a pipe at once and sent as one chunk.
pub const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the readers and the writer.
pub(crate) const CHANNEL: usize = 8;
/// Pipe buffer asked for (`F_SETPIPE_SZ`; Linux's default limit for a user):
/// fewer, larger reads while the command prints fast.
const PIPE_SIZE: libc::c_int = 1 << 20;
/// At most one [`RunEvent::Output`] this often.
pub const PING_EVERY: Duration = Duration::from_millis(33);

/// Where a run's output is copied besides the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Echo {
    /// Nowhere (the UI reads the log back).
    #[default]
    None,
    /// To stdout as is (headless, stdout is not a terminal: same bytes as
    /// the log).
    Raw,
    /// To stdout, each line sanitized (headless, stdout is a terminal: no
    /// escape sequence from the command reaches it).
    Sanitized,
}

/// Asks for a larger pipe buffer; a refusal only costs speed.
pub(crate) fn widen_pipe(pipe: &impl AsRawFd) {
    // SAFETY: fcntl on a descriptor we own; F_SETPIPE_SZ has no other effect.
    unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
}

/// Reads `pipe` until EOF (or until the task is aborted), sending chunks of
/// whole lines to `out` and counting raw bytes in `bytes`.
pub(crate) async fn read_pipe<R: AsyncRead + Unpin>(
    mut pipe: R,
    out: mpsc::Sender<Vec<u8>>,
    bytes: Arc<AtomicU64>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    loop {
        let start = buf.len();
        let n = match pipe.read_buf(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        bytes.fetch_add(n as u64, Ordering::Relaxed);
        let end = match memchr::memrchr(b'\n', &buf[start..]) {
            Some(i) => Some(start + i + 1),
            // A line longer than a chunk: send what there is.
            None if buf.len() >= CHUNK => Some(buf.len()),
            None => None,
        };
        if let Some(end) = end {
            let mut next = Vec::with_capacity(CHUNK);
            next.extend_from_slice(&buf[end..]);
            buf.truncate(end);
            if out.send(std::mem::replace(&mut buf, next)).await.is_err() {
                return;
            }
        }
    }
    if !buf.is_empty() {
        if buf.last() != Some(&b'\n') {
            buf.push(b'\n');
        }
        let _ = out.send(buf).await;
    }
}

/// What the writer learned.
pub(crate) struct SinkOut {
    pub revision: Option<String>,
    pub write_error: Option<String>,
}

/// The writer's inputs.
pub(crate) struct Sink {
    pub chunks: mpsc::Receiver<Vec<u8>>,
    pub log: File,
    pub echo: Echo,
    pub pattern: Option<Regex>,
    pub tx: mpsc::UnboundedSender<RunEvent>,
    pub bytes: Arc<AtomicU64>,
    /// For the timer of a ping owed (see [`write_all`]).
    pub rt: tokio::runtime::Handle,
}

/// Drains the chunks until every reader is done: each to the log (and the
/// echo). Blocking: runs on its own thread (`spawn_blocking`).
///
/// Pings ([`RunEvent::Output`]) have a leading and a trailing edge: the
/// first chunk after a quiet spell pings at once; chunks within
/// [`PING_EVERY`] of a ping owe one, sent when the period is over, so the
/// last output is always announced.
pub(crate) fn write_all(sink: Sink) -> SinkOut {
    let Sink {
        mut chunks,
        log,
        echo,
        pattern,
        tx,
        bytes,
        rt,
    } = sink;
    let mut log = Some(log);
    let mut revision = None;
    let mut write_error: Option<String> = None;
    let mut stdout = (echo != Echo::None).then(io::stdout);
    let mut last_ping: Option<Instant> = None;
    let mut owed = false;
    let ping = |last_ping: &mut Option<Instant>| {
        *last_ping = Some(Instant::now());
        let _ = tx.send(RunEvent::Output {
            bytes: bytes.load(Ordering::Relaxed),
        });
    };
    loop {
        let next = match last_ping.filter(|_| owed) {
            Some(at) => {
                let due = tokio::time::Instant::from_std(at + PING_EVERY);
                match rt.block_on(tokio::time::timeout_at(due, chunks.recv())) {
                    Ok(next) => next,
                    Err(_) => {
                        owed = false;
                        ping(&mut last_ping);
                        continue;
                    }
                }
            }
            None => chunks.blocking_recv(),
        };
        let Some(chunk) = next else { break };
        if let Some(file) = &mut log
            && let Err(e) = file.write_all(&chunk)
        {
            // Disk full or the like: keep draining the pipes (the command
            // must not block), stop writing.
            write_error = Some(format!("writing the log failed: {e}"));
            log = None;
        }
        if let Some(out) = &stdout {
            let r = match echo {
                Echo::Sanitized => write_display_lines(&mut out.lock(), &chunk),
                _ => out.lock().write_all(&chunk),
            };
            if r.is_err() {
                // stdout closed (`loopdeck test | head`): the log goes on.
                stdout = None;
            }
        }
        if let Some(p) = &pattern
            && let Some(r) = last_revision(p, &chunk)
        {
            revision = Some(r);
        }
        if last_ping.is_none_or(|t| t.elapsed() >= PING_EVERY) {
            owed = false;
            ping(&mut last_ping);
        } else {
            owed = true;
        }
    }
    if owed {
        ping(&mut last_ping);
    }
    if let Some(out) = &stdout {
        let _ = out.lock().flush();
    }
    SinkOut {
        revision,
        write_error,
    }
}

/// Raw output -> sanitized display lines, each ending in a newline.
pub fn write_display_lines(out: &mut impl Write, raw: &[u8]) -> io::Result<()> {
    for line in crate::logtail::display_lines(raw) {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The revision named by the last line of `chunk` that `pattern` matches,
/// lines read as the pane shows them (sanitized: a coloured revision
/// matches as the operator sees it).
fn last_revision(pattern: &Regex, chunk: &[u8]) -> Option<String> {
    crate::logtail::display_lines(chunk)
        .filter_map(|line| match_revision(pattern, &line))
        .last()
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

    #[test]
    fn revision_is_found_per_line_in_raw_chunks_as_shown() {
        let p = Regex::new(r"^revision (\S+) is live$").unwrap();
        // Colour codes around the revision, CRLF, and the last line wins.
        let chunk = b"building\r\nrevision \x1b[1mr-1\x1b[0m is live\r\nnoise\nrevision r-2 is live\nrevision r-3 is not\n";
        assert_eq!(last_revision(&p, chunk).as_deref(), Some("r-2"));
        // `^`/`$` are per line: the pattern never spans two lines.
        let two = Regex::new(r"live\s+noise").unwrap();
        assert_eq!(last_revision(&two, chunk), None);
        assert_eq!(last_revision(&p, b"nothing\n"), None);
    }

    async fn read_all_chunks(input: Vec<u8>) -> (Vec<Vec<u8>>, u64) {
        let (tx, mut rx) = mpsc::channel(4);
        let bytes = Arc::new(AtomicU64::new(0));
        let reader = tokio::spawn(read_pipe(std::io::Cursor::new(input), tx, bytes.clone()));
        let mut got = Vec::new();
        while let Some(c) = rx.recv().await {
            got.push(c);
        }
        reader.await.unwrap();
        (got, bytes.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn chunks_are_whole_lines_and_carry_the_bytes_unchanged() {
        let mut input = Vec::new();
        for i in 0..20_000 {
            input.extend_from_slice(format!("line {i} \x1b[31mred\x1b[0m\t\r\n").as_bytes());
        }
        input.extend_from_slice(b"no newline");
        let (chunks, bytes) = read_all_chunks(input.clone()).await;
        assert!(chunks.len() > 1, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() <= CHUNK + 1));
        assert!(chunks.iter().all(|c| c.ends_with(b"\n")));
        let joined: Vec<u8> = chunks.concat();
        // The bytes as they came; a last line without newline gets one.
        assert_eq!(&joined[..input.len()], &input[..]);
        assert_eq!(&joined[input.len()..], b"\n");
        assert_eq!(bytes, input.len() as u64);
    }

    #[tokio::test]
    async fn a_line_longer_than_a_chunk_is_sent_in_pieces() {
        let mut input = vec![b'x'; CHUNK * 2 + 10];
        input.extend_from_slice(b"\nshort\n");
        let (chunks, bytes) = read_all_chunks(input.clone()).await;
        assert_eq!(chunks.concat(), input);
        assert!(chunks.iter().all(|c| c.len() <= CHUNK));
        assert!(chunks.len() >= 3);
        assert_eq!(bytes, input.len() as u64);
    }

    /// A pipe that hands out the scripted pieces one read at a time.
    struct Script(std::collections::VecDeque<&'static [u8]>);

    impl AsyncRead for Script {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            if let Some(piece) = self.0.pop_front() {
                buf.put_slice(piece);
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn two_streams_interleave_line_wise() {
        // Each pipe delivers half lines; what reaches the writer is whole
        // lines of one stream or the other, never a mix inside a line.
        let (tx, mut rx) = mpsc::channel(64);
        let bytes = Arc::new(AtomicU64::new(0));
        let out = Script(
            [
                &b"out 1\nout "[..],
                b"2 half",
                b" done\nout 3\n",
            ]
            .into(),
        );
        let err = Script([&b"err"[..], b" 1\nerr 2", b"\n"].into());
        let a = tokio::spawn(read_pipe(out, tx.clone(), bytes.clone()));
        let b = tokio::spawn(read_pipe(err, tx, bytes.clone()));
        let mut text = Vec::new();
        while let Some(c) = rx.recv().await {
            assert!(c.ends_with(b"\n"));
            text.extend_from_slice(&c);
        }
        a.await.unwrap();
        b.await.unwrap();
        let text = String::from_utf8(text).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        let outs: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with("out"))
            .collect();
        assert_eq!(outs, ["out 1", "out 2 half done", "out 3"]);
        lines.sort();
        assert_eq!(
            lines,
            ["err 1", "err 2", "out 1", "out 2 half done", "out 3"]
        );
        assert_eq!(bytes.load(Ordering::Relaxed), text.len() as u64);
    }

    #[test]
    fn sanitized_echo_never_passes_an_escape_sequence() {
        let mut out = Vec::new();
        write_display_lines(
            &mut out,
            b"\x1b]52;c;aGkK\x07copied\n\x1b[2J\x1b[31mred\x1b[0m\tx\r\nplain\n",
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "copied\nred     x\nplain\n");
    }
}
