//! A checked, buffered byte stream for the streaming XML reader: the bytes
//! go through a fixed buffer (the document is never held whole) and every
//! chunk is checked on its way for what makes a file "binary" (NUL bytes,
//! invalid UTF-8), with the offset of the last `>` seen remembered so that a
//! parse error can still tell a file cut short from a broken one.

use std::io::{self, BufRead, Read};

/// Bytes read from the source at a time.
const CHUNK: usize = 128 * 1024;

pub(crate) struct Checked<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    filled: usize,
    /// Offset in the stream of `buf[0]`.
    offset: u64,
    /// Offset of the last `>` read so far.
    last_gt: Option<u64>,
    /// The start of a UTF-8 sequence cut at the end of the previous chunk.
    carry: [u8; 4],
    carry_len: usize,
    binary: bool,
    eof: bool,
}

impl<R: Read> Checked<R> {
    pub fn new(inner: R) -> Checked<R> {
        Checked {
            inner,
            buf: vec![0u8; CHUNK].into_boxed_slice(),
            pos: 0,
            filled: 0,
            offset: 0,
            last_gt: None,
            carry: [0; 4],
            carry_len: 0,
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
        while !self.eof && !self.binary {
            self.pos = self.filled;
            match self.refill() {
                Ok(()) => {}
                Err(_) if self.binary => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn refill(&mut self) -> io::Result<()> {
        self.offset += self.filled as u64;
        self.pos = 0;
        self.filled = 0;
        let n = loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            self.eof = true;
            // A character cut by the end of the file.
            self.binary |= self.carry_len > 0;
        } else {
            self.filled = n;
            let chunk = &self.buf[..n];
            if let Some(i) = memchr::memrchr(b'>', chunk) {
                self.last_gt = Some(self.offset + i as u64);
            }
            let ok = memchr::memchr(0, chunk).is_none() && self.utf8_ok(n);
            self.binary |= !ok;
        }
        if self.binary {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "binary data, not a text report",
            ));
        }
        Ok(())
    }

    /// Validates `buf[..n]` as the continuation of the UTF-8 read so far.
    fn utf8_ok(&mut self, n: usize) -> bool {
        let mut data = &self.buf[..n];
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

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Checked<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled && !self.eof {
            self.refill()?;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.filled);
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
        let mut c = Checked::new(Trickle { data, step });
        let mut out = Vec::new();
        let ok = c.read_to_end(&mut out).is_ok();
        (ok && !c.is_binary(), out)
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
        let mut c = Checked::new(Trickle {
            data: b"<a>x</a> <b",
            step: 3,
        });
        c.drain().unwrap();
        assert!(c.has_gt_from(7));
        assert!(!c.has_gt_from(8));
    }
}
