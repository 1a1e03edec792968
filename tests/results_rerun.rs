//! A rerun of the failing tests in the same iteration folder as the full run:
//! real report files (pytest JUnit XML and report-log), a real `runs.jsonl`,
//! modification times set explicitly (no sleeps).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use loopdeck::model::{Outcome, Summary};
use loopdeck::results::{IterationData, Store};

/// 2026-11-24T10:00:00Z, the start of the story.
fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_514_400)
}

fn at(secs: u64) -> SystemTime {
    t0() + Duration::from_secs(secs)
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()
}

const TESTS: [&str; 5] = [
    "test_login",
    "test_send",
    "test_edit",
    "test_delete",
    "test_typing",
];

fn id(name: &str) -> String {
    format!("tests/test_chat.py::{name}")
}

/// A pytest `--junitxml` report of all five tests; `failing` fail with
/// `message`.
fn junit(failing: &[&str], message: &str) -> String {
    let mut cases = String::new();
    for name in TESTS {
        if failing.contains(&name) {
            cases.push_str(&format!(
                r#"<testcase classname="tests.test_chat" name="{name}" time="0.100"><failure message="{message}">def {name}(client):
&gt;       assert client.post("/api").status_code == 200
E       {message}

tests/test_chat.py:12: AssertionError</failure></testcase>"#
            ));
        } else {
            cases.push_str(&format!(
                r#"<testcase classname="tests.test_chat" name="{name}" time="0.100" />"#
            ));
        }
    }
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="{}" skipped="0" tests="5" time="0.5" timestamp="2026-11-24T10:00:01.000000+00:00" hostname="vm">{cases}</testsuite></testsuites>"#,
        failing.len()
    )
}

/// A pytest `--report-log` of the given tests and call outcomes.
fn report_log(tests: &[(&str, &str)], message: &str) -> String {
    let mut out =
        String::from("{\"pytest_version\": \"9.2.0\", \"$report_type\": \"SessionStart\"}\n");
    for (name, outcome) in tests {
        let nodeid = id(name);
        let longrepr = if *outcome == "failed" {
            format!(
                r#"{{"reprcrash": {{"path": "tests/test_chat.py", "lineno": 12, "message": "{message}"}}, "reprtraceback": {{"reprentries": [], "extraline": null, "style": "long"}}, "sections": [], "chain": []}}"#
            )
        } else {
            "null".to_string()
        };
        for (when, o, lr) in [
            ("setup", "passed", "null"),
            ("call", outcome, longrepr.as_str()),
            ("teardown", "passed", "null"),
        ] {
            out.push_str(&format!(
                r#"{{"nodeid": "{nodeid}", "location": ["tests/test_chat.py", 11, "{name}"], "keywords": {{}}, "outcome": "{o}", "longrepr": {lr}, "when": "{when}", "user_properties": [], "sections": [], "duration": 0.01, "start": 1795514500.0, "stop": 1795514500.01, "$report_type": "TestReport"}}"#
            ));
            out.push('\n');
        }
    }
    out.push_str("{\"exitstatus\": 0, \"$report_type\": \"SessionFinish\"}\n");
    out
}

/// `runs.jsonl` lines of one run, as the runner writes them (minimal fields).
fn run_lines(kind: &str, started: SystemTime, finished: SystemTime) -> String {
    let id = format!("{kind}-{}", rfc3339(started));
    let (s, f) = (rfc3339(started), rfc3339(finished));
    format!(
        "{{\"event\":\"started\",\"id\":\"{id}\",\"kind\":\"{kind}\",\"started\":\"{s}\"}}\n\
         {{\"event\":\"finished\",\"id\":\"{id}\",\"kind\":\"{kind}\",\"started\":\"{s}\",\"finished\":\"{f}\",\"exit_code\":0}}\n"
    )
}

fn write_at(path: &Path, content: &str, mtime: SystemTime) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

fn append(path: &Path, content: &str) {
    use std::io::Write;
    fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
}

fn outcome(it: &IterationData, name: &str) -> Outcome {
    it.tests.iter().find(|t| t.id == id(name)).unwrap().outcome
}

fn provisional(it: &IterationData) -> Vec<&str> {
    it.provisional
        .iter()
        .map(|&i| it.tests[i].id.as_str())
        .collect()
}

/// iter-001 after a full run (3 failures) and a rerun of those 3 (2 pass).
fn full_run_then_rerun(root: &Path) -> PathBuf {
    let dir = root.join("iter-001");
    write_at(
        &dir.join("junit.xml"),
        &junit(
            &["test_send", "test_edit", "test_delete"],
            "HTTP 403 Forbidden",
        ),
        at(50),
    );
    write_at(
        &dir.join("rerun.jsonl"),
        &report_log(
            &[
                ("test_send", "passed"),
                ("test_edit", "passed"),
                ("test_delete", "failed"),
            ],
            "HTTP 500 after the fix",
        ),
        at(105),
    );
    let runs = dir.join("runs.jsonl");
    append(&runs, &run_lines("test", at(0), at(60)));
    append(&runs, &run_lines("deploy", at(70), at(90)));
    append(&runs, &run_lines("rerun_failed", at(100), at(110)));
    dir
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

    let rerun_files: Vec<(&str, bool)> = it
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.rerun))
        .collect();
    assert_eq!(rerun_files, [("junit.xml", false), ("rerun.jsonl", true)]);
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
    let rerun_files: Vec<(&str, bool)> = it
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.rerun))
        .collect();
    assert_eq!(rerun_files, [("junit.xml", false), ("rerun.jsonl", true)]);
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
