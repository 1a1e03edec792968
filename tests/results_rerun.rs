//! A rerun of the failing tests in the same iteration folder as the full run:
//! real report files (pytest JUnit XML and report-log), a real `runs.jsonl`,
//! modification times set explicitly (no sleeps).

mod common;

use std::fs;

use common::rerun::{append, at, full_run_then_rerun, id, junit, run_lines, write_at};
use loopdeck::model::{Outcome, Summary};
use loopdeck::results::{IterationData, Store};

fn outcome(it: &IterationData, name: &str) -> Outcome {
    it.tests.iter().find(|t| t.id == id(name)).unwrap().outcome
}

/// Each report file's name and whether a rerun wrote it.
fn rerun_files(it: &IterationData) -> Vec<(&str, bool)> {
    it.files
        .iter()
        .map(|f| (f.name.as_str(), f.rerun))
        .collect()
}

fn provisional(it: &IterationData) -> Vec<&str> {
    it.provisional
        .iter()
        .map(|&i| it.tests[i].id.as_str())
        .collect()
}

#[test]
fn rerun_passes_are_provisional_and_its_failure_is_the_newer_one() {
    let root = tempfile::tempdir().unwrap();
    full_run_then_rerun(root.path());
    let (_, iterations) = Store::read_all(root.path()).unwrap();
    let it = &iterations[0];
    assert_eq!(it.tests.len(), 5, "each test once");
    assert_eq!(outcome(it, "test_send"), Outcome::Passed);
    assert_eq!(outcome(it, "test_edit"), Outcome::Passed);
    assert_eq!(outcome(it, "test_delete"), Outcome::Failed);
    let delete = it.tests.iter().find(|t| t.id == id("test_delete")).unwrap();
    assert_eq!(
        delete.message(),
        "HTTP 500 after the fix",
        "the rerun's failure"
    );
    assert_eq!(
        provisional(it),
        [id("test_send"), id("test_edit")],
        "passed only in the rerun"
    );

    let s = Summary::with_provisional(&it.tests, &it.provisional);
    assert_eq!(
        (s.totals.passed, s.totals.failing(), s.totals.provisional),
        (4, 1, 2)
    );
    assert_eq!(
        s.totals.verified(),
        2,
        "login and typing passed in a full run"
    );

    assert_eq!(
        rerun_files(it),
        [("junit.xml", false), ("rerun.jsonl", true)]
    );
}

#[test]
fn a_later_full_run_confirms_or_refutes() {
    let root = tempfile::tempdir().unwrap();
    let dir = full_run_then_rerun(root.path());
    let mut store = Store::open(root.path()).unwrap();
    let first = store.refresh(None);
    assert_eq!(provisional(&first.updated[0]).len(), 2);

    // The full run rewrites junit.xml: test_edit fails again there.
    append(
        &dir.join("runs.jsonl"),
        &run_lines("test", at(200), at(260)),
    );
    write_at(
        &dir.join("junit.xml"),
        &junit(&["test_edit", "test_delete"], "HTTP 409 Conflict"),
        at(250),
    );
    let changes = store.refresh(Some(&[dir.join("junit.xml"), dir.join("runs.jsonl")]));
    let it = &changes.updated[0];
    assert!(it.provisional.is_empty(), "{:?}", provisional(it));
    assert_eq!(outcome(it, "test_send"), Outcome::Passed, "confirmed");
    assert_eq!(
        outcome(it, "test_edit"),
        Outcome::Failed,
        "the full run wins"
    );
    let edit = it.tests.iter().find(|t| t.id == id("test_edit")).unwrap();
    assert_eq!(edit.message(), "HTTP 409 Conflict");
    // rerun.jsonl is still the rerun's; it is just older than the full run.
    assert_eq!(
        rerun_files(it),
        [("junit.xml", false), ("rerun.jsonl", true)]
    );
}

#[test]
fn runs_jsonl_arriving_later_reattributes_without_a_report_change() {
    let root = tempfile::tempdir().unwrap();
    let dir = full_run_then_rerun(root.path());
    let runs = dir.join("runs.jsonl");
    let all = fs::read_to_string(&runs).unwrap();
    // Only the full run recorded so far: the old merge, a failure beats a pass.
    let full_only: String = all.lines().take(2).map(|l| format!("{l}\n")).collect();
    fs::write(&runs, full_only).unwrap();
    let mut store = Store::open(root.path()).unwrap();
    let it = store.refresh(None).updated.remove(0);
    assert_eq!(outcome(&it, "test_send"), Outcome::Failed);
    assert!(it.provisional.is_empty());

    fs::write(&runs, all).unwrap();
    let changes = store.refresh(Some(std::slice::from_ref(&runs)));
    assert_eq!(
        changes.updated.len(),
        1,
        "the records alone change the view"
    );
    let it = &changes.updated[0];
    assert_eq!(outcome(it, "test_send"), Outcome::Passed);
    assert_eq!(provisional(it).len(), 2);
}

#[test]
fn no_or_broken_runs_jsonl_means_no_reruns_known() {
    for runs in [None, Some("not json\n\u{0}\u{1}{\"event\":"), Some("")] {
        let root = tempfile::tempdir().unwrap();
        let dir = full_run_then_rerun(root.path());
        match runs {
            None => fs::remove_file(dir.join("runs.jsonl")).unwrap(),
            Some(text) => fs::write(dir.join("runs.jsonl"), text).unwrap(),
        }
        let (_, iterations) = Store::read_all(root.path()).unwrap();
        let it = &iterations[0];
        assert_eq!(it.tests.len(), 5);
        // One run as far as anyone knows: a failure seen anywhere is kept.
        assert_eq!(outcome(it, "test_send"), Outcome::Failed, "{runs:?}");
        assert!(it.provisional.is_empty(), "{runs:?}");
        assert!(it.warnings.is_empty(), "{runs:?}: {:?}", it.warnings);
    }
}

#[test]
fn a_runs_jsonl_symlink_is_not_followed() {
    let root = tempfile::tempdir().unwrap();
    let dir = full_run_then_rerun(root.path());
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("runs.jsonl");
    fs::rename(dir.join("runs.jsonl"), &target).unwrap();
    std::os::unix::fs::symlink(&target, dir.join("runs.jsonl")).unwrap();
    let (_, iterations) = Store::read_all(root.path()).unwrap();
    assert!(iterations[0].provisional.is_empty());
    assert_eq!(outcome(&iterations[0], "test_send"), Outcome::Failed);
}
