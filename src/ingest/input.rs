//! A checked byte stream for the streaming XML reader. The document goes
//! through chunks of [`CHUNK`] bytes (it is never held whole), read ahead on
//! a second thread while the parser works, and checked on their way for
//! what makes a file "binary" (NUL bytes, invalid UTF-8). The offset of the
//! last `>` is remembered, so that a parse error can still tell a file cut
//! short from a broken one.

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

/// Bytes read from the source at a time.
const CHUNK: usize = 128 * 1024;
/// Chunks read ahead of the parser.
const AHEAD: usize = 2;

/// What the reading side hands to the parsing side.
enum Msg {
    /// A buffer, the length of checked text in it, and the offset of the
    /// last `>` read so far.
    Chunk(Vec<u8>, usize, Option<u64>),
    /// A NUL byte or invalid UTF-8 was read: nothing more follows.
    Binary,
    End,
    Failed(io::Error),
}

/// The checks over the chunks of a stream, in order.
#[derive(Default)]
struct Validator {
    /// Offset in the stream of the next chunk.
    offset: u64,
    last_gt: Option<u64>,
    /// The start of a UTF-8 sequence cut at the end of the previous chunk.
    carry: [u8; 4],
    carry_len: usize,
}

impl Validator {
    /// Checks the next chunk; false if it makes the stream binary.
    fn check(&mut self, chunk: &[u8]) -> bool {
        if let Some(i) = memchr::memrchr(b'>', chunk) {
            self.last_gt = Some(self.offset + i as u64);
        }
        self.offset += chunk.len() as u64;
        memchr::memchr(0, chunk).is_none() && self.utf8_ok(chunk)
    }

    /// End of the stream: false if it cuts a character.
    fn finish(&self) -> bool {
        self.carry_len == 0
    }

    /// Validates `chunk` as the continuation of the UTF-8 read so far.
    fn utf8_ok(&mut self, chunk: &[u8]) -> bool {
        let mut data = chunk;
        if self.carry_len > 0 {
            let need = match self.carry[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (need - self.carry_len).min(data.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&data[..take]);
            self.carry_len += take;
            data = &data[take..];
            if self.carry_len < need {
                return true;
            }
            if std::str::from_utf8(&self.carry[..need]).is_err() {
                return false;
            }
            self.carry_len = 0;
        }
        // The SIMD check answers the common case (valid) several times
        // faster; std's error says where a cut character starts.
        if simdutf8::basic::from_utf8(data).is_ok() {
            return true;
        }
        match std::str::from_utf8(data) {
            Ok(_) => true,
            Err(e) if e.error_len().is_none() => {
                let rest = &data[e.valid_up_to()..];
                self.carry[..rest.len()].copy_from_slice(rest);
                self.carry_len = rest.len();
                true
            }
            Err(_) => false,
        }
    }
}

/// Reads and checks the next chunk into `buf` (a recycled buffer).
fn next_msg(source: &mut dyn Read, v: &mut Validator, mut buf: Vec<u8>) -> Msg {
    // Buffers keep their full length (no clearing per chunk).
    if buf.len() < CHUNK {
        buf.resize(CHUNK, 0);
    }
    let n = loop {
        match source.read(&mut buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Msg::Failed(e),
        }
    };
    if n == 0 {
        return if v.finish() { Msg::End } else { Msg::Binary };
    }
    if v.check(&buf[..n]) {
        Msg::Chunk(buf, n, v.last_gt)
    } else {
        Msg::Binary
    }
}

/// Where the chunks come from.
enum Feed<'s> {
    /// Read ahead by a thread of the enclosing scope.
    Thread {
        rx: Receiver<Msg>,
        back: Sender<Vec<u8>>,
    },
    /// Read here, when needed (no thread could be started).
    Inline {
        source: &'s mut (dyn Read + Send),
        validator: Validator,
    },
}

pub(crate) struct Checked<'s> {
    feed: Feed<'s>,
    cur: Vec<u8>,
    /// Length of the text in `cur`.
    len: usize,
    pos: usize,
    last_gt: Option<u64>,
    binary: bool,
    eof: bool,
}

impl<'s> Checked<'s> {
    /// Reads `source` here, as the parser asks for bytes.
    pub fn inline(source: &'s mut (dyn Read + Send)) -> Checked<'s> {
        Checked::with(Feed::Inline {
            source,
            validator: Validator::default(),
        })
    }

    /// Reads `source` ahead on a thread of `scope` (inline if no thread
    /// can be started).
    pub fn threaded<'scope, 'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        source: &'s mut (dyn Read + Send),
    ) -> Checked<'s>
    where
        's: 'scope,
    {
        let (tx, rx) = mpsc::sync_channel(AHEAD);
        let (back, recycled) = mpsc::channel();
        // The source is shared by reference with the thread; if it cannot
        // start, it is used here instead.
        let shared = std::sync::Arc::new(std::sync::Mutex::new(Some(source)));
        let theirs = shared.clone();
        let started = std::thread::Builder::new()
            .name("loopdeck-read".into())
            .spawn_scoped(scope, move || {
                let source = theirs.lock().ok().and_then(|mut s| s.take());
                if let Some(source) = source {
                    read_ahead(source, &tx, &recycled);
                }
            });
        if started.is_err()
            && let Some(source) = shared.lock().ok().and_then(|mut s| s.take())
        {
            return Checked::inline(source);
        }
        Checked::with(Feed::Thread { rx, back })
    }

    fn with(feed: Feed<'s>) -> Checked<'s> {
        Checked {
            feed,
            cur: Vec::new(),
            len: 0,
            pos: 0,
            last_gt: None,
            binary: false,
            eof: false,
        }
    }

    /// A NUL byte or invalid UTF-8 was read.
    pub fn is_binary(&self) -> bool {
        self.binary
    }

    /// Whether a `>` occurs at or after `pos` in what has been read.
    pub fn has_gt_from(&self, pos: u64) -> bool {
        self.last_gt.is_some_and(|g| g >= pos)
    }

    /// Reads (and checks) the rest of the input without keeping it: after a
    /// parse error, the whole file still decides "binary" and "cut short".
    pub fn drain(&mut self) -> io::Result<()> {
        while !self.eof {
            self.pos = self.len;
            match self.next() {
                Ok(()) => {}
                Err(_) if self.binary => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn next(&mut self) -> io::Result<()> {
        let used = std::mem::take(&mut self.cur);
        self.pos = 0;
        self.len = 0;
        let msg = match &mut self.feed {
            Feed::Thread { rx, back } => {
                let _ = back.send(used);
                rx.recv().unwrap_or(Msg::End)
            }
            Feed::Inline { source, validator } => next_msg(*source, validator, used),
        };
        match msg {
            Msg::Chunk(data, len, gt) => {
                self.cur = data;
                self.len = len;
                self.last_gt = gt;
                Ok(())
            }
            Msg::End => {
                self.eof = true;
                Ok(())
            }
            Msg::Binary => {
                self.eof = true;
                self.binary = true;
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "binary data, not a text report",
                ))
            }
            Msg::Failed(e) => {
                self.eof = true;
                Err(e)
            }
        }
    }
}

/// The reading thread: chunks until the end, a check fails, or the parser
/// is gone.
fn read_ahead(source: &mut (dyn Read + Send), tx: &SyncSender<Msg>, recycled: &Receiver<Vec<u8>>) {
    let mut v = Validator::default();
    loop {
        let buf = recycled.try_recv().unwrap_or_default();
        let msg = next_msg(source, &mut v, buf);
        let last = !matches!(msg, Msg::Chunk(..));
        if tx.send(msg).is_err() || last {
            return;
        }
    }
}

impl Read for Checked<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Checked<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.len && !self.eof {
            self.next()?;
        }
        Ok(&self.cur[self.pos..self.len])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(self.data.len()).min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn check(data: &[u8], step: usize) -> (bool, Vec<u8>) {
        let mut out = Vec::new();
        let mut source = Trickle { data, step };
        let inline = {
            let mut c = Checked::inline(&mut source);
            let ok = c.read_to_end(&mut out).is_ok();
            ok && !c.is_binary()
        };
        let mut threaded_out = Vec::new();
        let mut source = Trickle { data, step };
        let threaded = std::thread::scope(|s| {
            let mut c = Checked::threaded(s, &mut source);
            let ok = c.read_to_end(&mut threaded_out).is_ok();
            ok && !c.is_binary()
        });
        assert_eq!((inline, &out), (threaded, &threaded_out));
        (inline, out)
    }

    #[test]
    fn utf8_split_anywhere_is_text() {
        let text = "<a>é€😀 ok</a>".as_bytes();
        for step in 1..text.len() {
            assert_eq!(check(text, step), (true, text.to_vec()), "step {step}");
        }
    }

    #[test]
    fn nul_invalid_or_cut_utf8_is_binary() {
        for bad in [
            &b"<a>\0</a>"[..],
            b"<a>\xff</a>",
            b"<a>\xe2\x82",
            b"<a>\xe2(\xa1",
        ] {
            for step in 1..bad.len() {
                assert!(!check(bad, step).0, "{bad:?} step {step}");
            }
        }
    }

    #[test]
    fn remembers_the_last_gt() {
        let mut source = Trickle {
            data: b"<a>x</a> <b",
            step: 3,
        };
        let mut c = Checked::inline(&mut source);
        c.drain().unwrap();
        assert!(c.has_gt_from(7));
        assert!(!c.has_gt_from(8));
    }
}
