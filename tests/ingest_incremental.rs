//! The JSON-lines reader fed in arbitrary pieces sees exactly what a
//! whole-file parse sees, and never reads a line before its newline.

use std::path::Path;

use loopdeck::ingest::{self, LineReader};
use loopdeck::model::Report;

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/reports")
            .join(rel),
    )
    .unwrap()
}

/// Deterministic chunk sizes from a linear congruential generator.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, max: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        1 + ((self.0 >> 33) as usize % max)
    }
}

fn feed_in_chunks(bytes: &[u8], seed: u64, max_chunk: usize) -> LineReader {
    let mut rng = Lcg(seed);
    let mut reader = LineReader::new();
    let mut at = 0;
    while at < bytes.len() {
        let n = rng.next(max_chunk).min(bytes.len() - at);
        reader.feed(&bytes[at..at + n]);
        at += n;
    }
    reader
}

fn same(a: &Report, b: &Report) {
    assert_eq!(a.tests, b.tests);
    assert_eq!(a.complete, b.complete);
    assert_eq!(a.warnings, b.warnings);
    assert_eq!(a.expected_total, b.expected_total);
}

#[test]
fn random_chunks_equal_whole_parse() {
    for rel in [
        "pytest-reportlog/shop/report-log.jsonl",
        "go-test-json/geo/report.jsonl",
        "libtest-json/ledger/report.jsonl",
    ] {
        let bytes = fixture(rel);
        let whole = ingest::parse(&bytes).unwrap();
        assert!(!whole.tests.is_empty());
        for seed in 1..=20u64 {
            for max_chunk in [1, 7, 64, 1000, 70_000] {
                let reader = feed_in_chunks(&bytes, seed, max_chunk);
                same(&reader.report(), &whole);
                assert_eq!(
                    reader.consumed(),
                    bytes.len() as u64,
                    "{rel}: all lines end with a newline"
                );
            }
        }
    }
}

#[test]
fn half_line_waits_for_its_newline() {
    let bytes = fixture("pytest-reportlog/shop/report-log.jsonl");
    let text = std::str::from_utf8(&bytes).unwrap();
    // The line of the first failing call report, cut in the middle.
    let start = text.find(r#""outcome": "failed""#).unwrap();
    let line_start = text[..start].rfind('\n').unwrap() + 1;
    let line_end = line_start + text[line_start..].find('\n').unwrap();
    let mid = (line_start + line_end) / 2;

    let mut reader = LineReader::new();
    reader.feed(&bytes[..mid]);
    let before = reader.report();
    assert_eq!(reader.consumed(), line_start as u64);
    assert!(
        before.warnings.is_empty(),
        "a half line is not a bad line: {:?}",
        before.warnings
    );
    assert!(before.tests.iter().all(|t| !t.outcome.is_failing()));
    assert!(!before.complete);

    // The rest of the line but not its newline: still waiting.
    reader.feed(&bytes[mid..line_end]);
    assert_eq!(reader.report().tests, before.tests);
    // The newline completes it.
    reader.feed(b"\n");
    let after = reader.report();
    assert_eq!(
        after
            .tests
            .iter()
            .filter(|t| t.outcome.is_failing())
            .count(),
        1
    );
    assert_eq!(reader.consumed(), line_end as u64 + 1);
    // And the remainder gives the full report.
    reader.feed(&bytes[line_end + 1..]);
    same(&reader.report(), &ingest::parse(&bytes).unwrap());
}

#[test]
fn whole_parse_reads_a_complete_last_line_without_newline_but_not_a_cut_one() {
    let bytes = fixture("libtest-json/ledger/report.jsonl");
    let trimmed = bytes.strip_suffix(b"\n").unwrap();
    let full = ingest::parse(&bytes).unwrap();
    assert_eq!(ingest::parse(trimmed).unwrap().tests, full.tests);
    assert!(full.complete);
    // Cut the last test event in half: that test is not there yet.
    let text = std::str::from_utf8(trimmed).unwrap();
    let last_test = text.rfind(r#""type": "test""#).unwrap();
    let cut = &trimmed[..last_test + 40];
    let partial = ingest::parse(cut).unwrap();
    assert!(partial.tests.len() < full.tests.len());
    assert!(partial.warnings.is_empty());
}

#[test]
fn go_test_still_running_is_not_counted_until_its_package_ends() {
    let lines = [
        r#"{"Action":"run","Package":"ex/p","Test":"TestA"}"#,
        r#"{"Action":"output","Package":"ex/p","Test":"TestA","Output":"=== RUN   TestA\n"}"#,
        r#"{"Action":"output","Package":"ex/p","Test":"TestA","Output":"panic: boom\n"}"#,
    ];
    let mut reader = LineReader::new();
    for l in lines {
        reader.feed(l.as_bytes());
        reader.feed(b"\n");
    }
    assert!(reader.report().tests.is_empty());
    assert!(!reader.report().complete);
    reader.feed(b"{\"Action\":\"fail\",\"Package\":\"ex/p\",\"Elapsed\":0.1}\n");
    let r = reader.report();
    assert_eq!(r.tests.len(), 1);
    assert_eq!(r.tests[0].id, "ex/p TestA");
    assert_eq!(r.tests[0].message(), "panic: boom");
    assert!(r.complete);
    // A package that fails to build: one errored entry named by import path.
    reader.feed(b"{\"Action\":\"output\",\"Package\":\"ex/q\",\"Output\":\"FAIL\\tex/q [build failed]\\n\"}\n");
    reader.feed(b"{\"Action\":\"fail\",\"Package\":\"ex/q\",\"Elapsed\":0}\n");
    let r = reader.report();
    let q = r.tests.iter().find(|t| t.id == "ex/q").unwrap();
    assert_eq!(q.outcome, loopdeck::model::Outcome::Errored);
    assert!(q.message().contains("build failed"));
}
