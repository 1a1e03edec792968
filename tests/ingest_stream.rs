//! `ingest::parse_stream` (the file streamed through a small buffer, as
//! `loopdeck status` and the results store read documents) gives exactly
//! what `ingest::parse` gives for the same bytes: reports, and errors with
//! their positions.

use std::io::Read;

use loopdeck::ingest;

/// Hands out at most `step` bytes per read, to cut the input anywhere.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(self.data.len()).min(out.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn same(bytes: &[u8], head: usize, step: usize) {
    let head = head.min(bytes.len());
    let mut rest = Trickle {
        data: &bytes[head..],
        step,
    };
    let streamed = ingest::parse_stream(&bytes[..head], &mut rest, bytes.len()).unwrap();
    assert_eq!(
        streamed,
        ingest::parse(bytes),
        "head {head} step {step}: {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
    );
}

fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "xml" || x == "json") {
            out.push(p);
        }
    }
}

#[test]
fn every_fixture_streams_to_the_same_report() {
    let mut all = Vec::new();
    files(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")),
        &mut all,
    );
    assert!(all.len() > 10);
    for p in all {
        let bytes = std::fs::read(&p).unwrap();
        for (head, step) in [(8192, 1 << 20), (0, 7), (3, 1), (100, 4096)] {
            same(&bytes, head, step);
        }
    }
}

#[test]
fn cut_broken_and_binary_documents_fail_the_same_way() {
    let doc = r#"<?xml version="1.0"?><testsuites><testsuite name="s"><testcase classname="a.B" name="t1" time="0.1"/><testcase classname="a.B" name="t2"><failure message="boom">trace &amp; more &lol; é</failure><system-out><![CDATA[out]]></system-out></testcase></testsuite></testsuites>"#;
    for cut in 0..=doc.len() {
        same(&doc.as_bytes()[..cut], 16, 5);
    }
    let cases: &[&[u8]] = &[
        b"<testsuites>\0\0\0</testsuites>",
        b"<testsuites><testsuite name=\"\xff\xfe\xfd\"></testsuite></testsuites>",
        b"<testsuites><testcase classname=\"a\" name=\"b\"></wrong></testcase></testsuites>",
        b"<testsuites></wrong> then \0",
        b"<testsuites><testcase name=\"\xc3",
        b"<html><body>not a report</body></html>",
        b"\xEF\xBB\xBF  <testsuite name=\"bom\"><testcase name=\"x\"/></testsuite>",
        b"   ",
        b"",
    ];
    for bytes in cases {
        for (head, step) in [(0, 1), (2, 3), (8192, 8192)] {
            same(bytes, head, step);
        }
    }
}

#[test]
fn a_big_report_read_ahead_on_a_thread_is_the_same() {
    // Over the size from which the file is read ahead on a second thread.
    let doc = ingest::generate_junit(12_000, 0.05, 5);
    assert!(doc.len() > 2 * 1024 * 1024);
    same(doc.as_bytes(), 8192, 1 << 20);
    same(doc.as_bytes(), 100, 1000);
    // Cut short, broken near the end, binary near the end.
    let cut = &doc.as_bytes()[..doc.len() - 40];
    same(cut, 8192, 1 << 16);
    let mut broken = doc.clone().into_bytes();
    let at = broken.len() - 30;
    broken[at..at + 2].copy_from_slice(b"</");
    same(&broken, 8192, 1 << 16);
    let mut binary = doc.into_bytes();
    let at = binary.len() - 100;
    binary[at] = 0;
    same(&binary, 8192, 1 << 16);
}
