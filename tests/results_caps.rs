//! Memory is bounded by what a person can read: a failure whose captured
//! output is a million lines keeps its first and last lines and says how
//! many more there are and in which file.

use std::fmt::Write as _;
use std::fs;

use loopdeck::results::Store;

#[test]
fn a_million_lines_of_captured_output_are_capped_with_a_pointer_to_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("iter-001");
    fs::create_dir(&dir).unwrap();
    let mut out = String::new();
    for i in 0..1_000_000 {
        writeln!(out, "GET /api/rooms/{i} 200").unwrap();
    }
    let xml = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="2" failures="1" errors="0" skipped="0">
<testcase classname="tests.test_ws" name="test_ok" time="0.1"/>
<testcase classname="tests.test_ws" name="test_flood" time="9.0"><failure message="AssertionError: flood">Traceback
  boom</failure><system-out>{out}</system-out></testcase>
</testsuite></testsuites>
"#
    );
    fs::write(dir.join("junit.xml"), xml).unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let changes = store.refresh(None);
    let it = &changes.updated[0];
    assert_eq!(it.tests.len(), 2);
    let failed = it
        .tests
        .iter()
        .find(|t| t.id.ends_with("test_flood"))
        .unwrap();
    let f = failed.failure.as_deref().unwrap();
    let lines: Vec<&str> = f.stdout.lines().collect();
    assert!(lines.len() < 2_100, "{} lines kept", lines.len());
    assert_eq!(lines[0], "GET /api/rooms/0 200");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("more lines not kept; all of it is in iter-001/junit.xml")),
        "the cap says where the rest is"
    );
    assert_eq!(lines.last().copied(), Some("GET /api/rooms/999999 200"));
    // The traceback itself was short: untouched.
    assert_eq!(f.detail, "Traceback\n  boom");
}
