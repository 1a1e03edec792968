//! `loopdeck status` reads reports keeping only what it prints from
//! (`Keep::Summary`: no tracebacks, no captured output). Its picture must be
//! the one a full read gives, for every fixture and for a report big enough
//! to be parsed in two halves.

use std::path::Path;
use std::sync::Arc;

use loopdeck::ingest::{self, Keep};
use loopdeck::results::{Ingest, IterationData, Store};
use loopdeck::status;

fn read(dir: &Path, keep: Keep) -> Vec<IterationData> {
    let mut store = Store::open_with(dir, Arc::new(Ingest { keep })).unwrap();
    store.set_settle(std::time::Duration::ZERO);
    store.refresh_once().updated
}

/// The status JSON of `dir` both ways, the number of failures with a
/// detail, and of those whose detail the summary-only read cut short (it
/// must cut some to be worth it).
fn compare(dir: &Path) -> (usize, usize) {
    let full = read(dir, Keep::All);
    let brief = read(dir, Keep::Summary);
    assert_eq!(full.len(), brief.len());
    let (mut details, mut cut) = (0, 0);
    for (a, b) in full.iter().zip(&brief) {
        assert_eq!(
            status::json_text(status::History::of(&full), Some(a), None, &[]),
            status::json_text(status::History::of(&brief), Some(b), None, &[]),
            "{}",
            dir.display()
        );
        assert_eq!(
            status::to_text("t", status::History::of(&full), Some(a), None, &[]),
            status::to_text("t", status::History::of(&brief), Some(b), None, &[]),
        );
        assert_eq!(a.tests.len(), b.tests.len());
        for (x, y) in a.tests.iter().zip(&b.tests) {
            let (Some(x), Some(y)) = (x.failure.as_deref(), y.failure.as_deref()) else {
                continue;
            };
            let kept =
                |f: &loopdeck::model::Failure| f.detail.len() + f.stdout.len() + f.stderr.len();
            if kept(x) > 0 {
                details += 1;
                // Left out, there is still a trace of one: its first line.
                assert!(
                    y.detail.is_empty() == x.detail.is_empty(),
                    "{}",
                    dir.display()
                );
            }
            cut += usize::from(kept(y) < kept(x));
        }
    }
    (details, cut)
}

#[test]
fn every_fixture_reads_the_same_without_tracebacks() {
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports");
    let (mut cases, mut dropped, mut kept_panics) = (0, 0, 0);
    for runner in std::fs::read_dir(&reports).unwrap() {
        for case in std::fs::read_dir(runner.unwrap().path())
            .into_iter()
            .flatten()
        {
            let case = case.unwrap().path();
            if !case.is_dir() {
                continue;
            }
            let (details, left_out) = compare(&case);
            cases += 1;
            dropped += left_out;
            // A Rust panic groups by the line after "panicked at" in its
            // detail: that detail is kept.
            kept_panics += read(&case, Keep::Summary)
                .iter()
                .flat_map(|it| &it.tests)
                .filter_map(|t| t.failure.as_deref())
                .filter(|f| loopdeck::model::cause_in_detail(&f.message) && !f.detail.is_empty())
                .count();
            assert!(left_out <= details);
        }
    }
    assert!(cases >= 10, "{cases}");
    assert!(dropped > 0, "the summary-only read kept every detail");
    assert!(kept_panics > 0, "no panic detail was kept");
}

#[test]
fn a_report_parsed_in_two_halves_reads_the_same_without_tracebacks() {
    let doc = ingest::generate_junit(30_000, 0.02, 30);
    assert!(doc.len() as u64 >= ingest::SPLIT_FROM);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junit.xml"), &doc).unwrap();
    let (details, left_out) = compare(dir.path());
    assert!(details > 500, "{details}");
    assert_eq!(left_out, details);
}

#[test]
fn pytest_messages_that_come_from_the_traceback_are_still_read() {
    // pytest's message is its `message` attribute, except for a collection
    // error ("collection failure": the first `E` line of the traceback) and
    // an empty attribute. A message that reads like a Rust panic keeps its
    // traceback: the failure groups by the line after it.
    let doc = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
<testcase classname="" name="tests.e2e.test_broken" time="0.000"><error message="collection failure">tests/e2e/test_broken.py:3: in &lt;module&gt;
    import missing_module
E   ModuleNotFoundError: No module named 'missing_module'</error></testcase>
<testcase classname="tests.e2e.test_ws" name="test_empty" time="0.1"><failure message="">def test_empty():
&gt;       assert connect() == 200
E       assert 403 == 200</failure></testcase>
<testcase classname="tests.e2e.test_ws" name="test_plain" time="0.1"><failure message="AssertionError: HTTP 403 Forbidden">long traceback &quot;here&quot;
E   AssertionError: HTTP 403 Forbidden</failure><system-out>GET /x -&gt; 403</system-out></testcase>
<testcase classname="tests.e2e.test_ws" name="test_panicky" time="0.1"><failure message="thread 'main' panicked at src/lib.rs:7:9:">thread 'main' panicked at src/lib.rs:7:9:
ledger does not balance: off by 10 cents</failure></testcase>
<testcase classname="tests.e2e.test_ws" name="test_ok" time="0.1"/>
</testsuite></testsuites>"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junit.xml"), doc).unwrap();
    let (details, left_out) = compare(dir.path());
    // Every traceback but the panic's is cut to its first line.
    assert_eq!((details, left_out), (4, 3));
    let brief = read(dir.path(), Keep::Summary);
    let messages: Vec<&str> = brief[0]
        .tests
        .iter()
        .filter_map(|t| t.failure.as_deref())
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "ModuleNotFoundError: No module named 'missing_module'",
            "assert 403 == 200",
            "AssertionError: HTTP 403 Forbidden",
            "thread 'main' panicked at src/lib.rs:7:9:",
        ]
    );
}

#[test]
fn reports_of_one_run_in_two_formats_merge_the_same_without_tracebacks() {
    // The same tests in a JUnit file and in the runner's own report: the
    // merge prefers the entry with a detail, so the summary-only read must
    // still tell a failure with one from a failure without.
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports");
    let mut projects: std::collections::BTreeMap<String, Vec<std::path::PathBuf>> =
        Default::default();
    for runner in std::fs::read_dir(&reports).unwrap() {
        let runner = runner.unwrap().path();
        for case in std::fs::read_dir(&runner).into_iter().flatten() {
            let case = case.unwrap().path();
            for file in std::fs::read_dir(&case).into_iter().flatten() {
                let file = file.unwrap().path();
                let name = file.file_name().unwrap().to_string_lossy().to_string();
                if name != "expected.json" && name != "alt-expected.json" && !name.ends_with(".txt")
                {
                    let project = case.file_name().unwrap().to_string_lossy().to_string();
                    projects.entry(project).or_default().push(file);
                }
            }
        }
    }
    let mut merged = 0;
    for (project, files) in &projects {
        if files.len() < 2 {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        for (i, file) in files.iter().enumerate() {
            let name = file.file_name().unwrap().to_string_lossy();
            std::fs::copy(file, dir.path().join(format!("{i}-{name}"))).unwrap();
        }
        let (details, _) = compare(dir.path());
        assert!(details > 0, "{project}");
        merged += 1;
    }
    assert!(merged >= 4, "{merged}");
}
