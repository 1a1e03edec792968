//! The results layer with the real parsers of `crate::ingest`, on real
//! runner output (copies of the shared fixtures in tests/fixtures/results/).

use std::fs;
use std::io::Write;
use std::path::Path;

use loopdeck::model::Outcome;
use loopdeck::results::{Layout, Store};

const JUNIT: &[u8] = include_bytes!("fixtures/results/junit.xml");
const REPORT_LOG: &[u8] = include_bytes!("fixtures/results/report-log.jsonl");

fn counts(tests: &[loopdeck::model::TestCase]) -> [usize; 4] {
    let n = |o| tests.iter().filter(|t| t.outcome == o).count();
    [
        n(Outcome::Passed),
        n(Outcome::Failed),
        n(Outcome::Errored),
        n(Outcome::Skipped),
    ]
}

fn write(path: &Path, content: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

#[test]

fn junit_dir_is_one_iteration() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("junit.xml"), JUNIT);
    let (layout, iterations) = Store::read_all(dir.path()).unwrap();
    assert_eq!(layout, Layout::Single);
    assert_eq!(iterations.len(), 1);
    let it = &iterations[0];
    // expected.json of the fixture: 26 tests, 13 passed, 8 failed, 1 errored, 4 skipped.
    assert_eq!(it.tests.len(), 26);
    assert_eq!(counts(&it.tests), [13, 8, 1, 4]);
    assert!(it.warnings.is_empty(), "{:?}", it.warnings);
    assert!(!it.running);
}

#[test]

fn report_log_tailed_in_pieces_matches_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("iter-001/report-log.jsonl");
    write(&log, b"");
    let mut store = Store::open(dir.path()).unwrap();
    store.refresh(None);
    let mut file = fs::OpenOptions::new().append(true).open(&log).unwrap();
    let mut last = 0;
    // 997-byte pieces cut lines anywhere.
    for piece in REPORT_LOG.chunks(997) {
        file.write_all(piece).unwrap();
        let before = store.bytes_read();
        let changes = store.refresh(Some(std::slice::from_ref(&log)));
        assert_eq!(store.bytes_read() - before, piece.len() as u64);
        if let Some(it) = changes.updated.first() {
            assert!(it.tests.len() >= last, "tests went backwards");
            last = it.tests.len();
            assert!(it.warnings.is_empty(), "{:?}", it.warnings);
        }
    }
    let it = store.iterations().remove(0);
    assert_eq!(it.tests.len(), 26);
    assert_eq!(counts(&it.tests), [13, 8, 1, 4]);
    assert!(!it.running, "SessionFinish was written");

    let (_, whole) = Store::read_all(dir.path()).unwrap();
    assert_eq!(whole[0].tests, it.tests);
}

#[test]

fn junit_and_report_log_of_one_run_merge() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("iter-001/junit.xml"), JUNIT);
    write(&dir.path().join("iter-001/report-log.jsonl"), REPORT_LOG);
    write(&dir.path().join("iter-001/test.log"), b"raw output\n");
    let (layout, iterations) = Store::read_all(dir.path()).unwrap();
    assert_eq!(layout, Layout::Loop);
    let it = &iterations[0];
    assert_eq!(it.tests.len(), 26);
    assert_eq!(it.files.len(), 2);
    assert!(it.files.iter().all(|f| f.tests > 0 && f.error.is_none()));
}

#[test]

fn junit_being_rewritten_keeps_its_last_good_parse() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("iter-001/junit.xml");
    write(&junit, JUNIT);
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.refresh(None).updated[0].tests.len(), 26);
    write(&junit, &JUNIT[..JUNIT.len() / 2]);
    let changes = store.refresh(Some(std::slice::from_ref(&junit)));
    let it = &changes.updated[0];
    assert_eq!(it.tests.len(), 26);
    assert!(it.files[0].pending);
    assert!(it.warnings.is_empty(), "{:?}", it.warnings);
}
