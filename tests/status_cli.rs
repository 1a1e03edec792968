//! `loopdeck status`: the real binary on real report files; text, JSON and exit codes.

mod common;

use std::path::Path;
use std::process::Command;

use common::rerun;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reports");

fn status(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loopdeck"))
        .arg("status")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn place(case: &str, file: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(format!("{FIXTURES}/{case}/{file}"), to).unwrap();
}

fn expected(case: &str) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(format!("{FIXTURES}/{case}/expected.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn json_matches_the_runner_console_and_exit_code_is_1_when_failing() {
    let dir = tempfile::tempdir().unwrap();
    place(
        "pytest-junit-xunit2/shop",
        "junit.xml",
        &dir.path().join("junit.xml"),
    );
    let (code, out, err) = status(&[dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "tests fail -> exit 1; stderr: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    let exp = expected("pytest-junit-xunit2/shop");
    let t = &v["totals"];
    assert_eq!(t["tests"], exp["total"]);
    assert_eq!(t["passed"], exp["passed"]);
    assert_eq!(t["failed"], exp["failed"]);
    assert_eq!(t["errors"], exp["errored"]);
    assert_eq!(t["skipped"], exp["skipped"]);
    let ids: std::collections::BTreeSet<&str> = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    let want: std::collections::BTreeSet<&str> = exp["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, want);
    for f in v["failures"].as_array().unwrap() {
        assert!(
            f["module"].as_str().unwrap().starts_with("tests/"),
            "module is the test file: {f}"
        );
        assert!(
            !f["message"].as_str().unwrap().contains('\n'),
            "message is one line: {f}"
        );
    }
    let modules = v["modules"].as_array().unwrap();
    assert!(
        modules
            .iter()
            .any(|m| m["name"] == "tests/test_inventory.py")
    );
    assert!(v["warnings"].as_array().unwrap().is_empty());
}

#[test]
fn iterations_select_and_green_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    place(
        "pytest-junit-xunit2/shop",
        "junit.xml",
        &root.join("iter-1/junit.xml"),
    );
    // Iteration 2: a green run, written by hand the way a shell script would.
    std::fs::create_dir_all(root.join("iter-2")).unwrap();
    std::fs::write(
        root.join("iter-2/junit.xml"),
        r#"<testsuites><testsuite name="s" tests="2"><testcase classname="tests.test_a" name="test_x" time="0.1"/><testcase classname="tests.test_a" name="test_y"/></testsuite></testsuites>"#,
    )
    .unwrap();
    let (code, out, _) = status(&[root.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "latest iteration is green: {out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["iteration"], 2);
    assert_eq!(v["totals"]["passed"], 2);

    let (code, out, _) = status(&[root.to_str().unwrap(), "--json", "--iteration", "1"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["iteration"], 1);

    let (code, text, _) = status(&[root.to_str().unwrap(), "--iteration", "1"]);
    assert_eq!(code, 1);
    assert!(
        text.contains("failures: 9 in"),
        "text output lists failure groups:\n{text}"
    );
    assert!(text.contains("KeyError: 'durian'"), "{text}");

    let (code, _, err) = status(&[root.to_str().unwrap(), "--iteration", "7"]);
    assert_eq!(code, 2, "unknown iteration");
    assert!(err.contains("no iteration"), "{err}");
}

#[test]
fn unreadable_directory_exits_2() {
    let (code, out, err) = status(&["/definitely/not/here", "--json"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn bad_files_are_warnings_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    place(
        "pytest-junit-xunit2/shop",
        "junit.xml",
        &dir.path().join("junit.xml"),
    );
    std::fs::write(
        dir.path().join("broken.xml"),
        b"<testsuites><testsuite><testcase name=\"a\">",
    )
    .unwrap();
    std::fs::write(dir.path().join("noise.json"), [0u8, 159, 146, 150, 0, 1, 2]).unwrap();
    let (code, out, _) = status(&[dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let warnings: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("broken.xml")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("noise.json")),
        "{warnings:?}"
    );
    assert_eq!(v["totals"]["tests"], 26, "the good report still counts");
}

#[test]
fn a_rerun_green_is_reported_as_provisional() {
    let dir = tempfile::tempdir().unwrap();
    let it = rerun::full_run_then_rerun(dir.path());
    let root = dir.path().to_str().unwrap();

    let (code, out, err) = status(&[root]);
    assert_eq!(code, 1, "test_delete still fails; stderr: {err}");
    assert!(
        out.contains("tests 5 · passed 4 · failed 1 · errors 0 · skipped 0 · goal 2/5"),
        "{out}"
    );
    assert!(
        out.contains("provisional 2: passed only in a rerun"),
        "{out}"
    );
    assert!(out.contains("PROV  tests/test_chat.py::test_send"), "{out}");
    assert!(out.contains("FAIL tests/test_chat.py"), "{out}");

    let (_, out, _) = status(&[root, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["totals"]["provisional"], 2);
    assert_eq!(v["totals"]["passed"], 4);
    assert_eq!(v["modules"][0]["provisional"], 2);
    assert_eq!(
        v["provisional"],
        serde_json::json!([rerun::id("test_send"), rerun::id("test_edit")])
    );
    assert_eq!(v["files"][1]["rerun"], true);
    assert!(
        v["files"][0].get("rerun").is_none(),
        "only rerun files say so"
    );

    // The rerun passed everything: nothing fails (exit 0), all of it provisional.
    rerun::write_at(
        &it.join("rerun.jsonl"),
        &rerun::report_log(
            &[
                ("test_send", "passed"),
                ("test_edit", "passed"),
                ("test_delete", "passed"),
            ],
            "",
        ),
        rerun::at(106),
    );
    let (code, out, _) = status(&[root, "--json"]);
    assert_eq!(code, 3, "nothing fails, but only a rerun says so");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["totals"]["provisional"], 3);
    assert_eq!(v["totals"]["failed"], 0);
    let (_, out, _) = status(&[root]);
    assert!(out.contains("ok~  tests/test_chat.py"), "{out}");
    assert!(out.contains("goal 2/5"), "{out}");
}

#[test]
fn a_big_report_read_in_two_halves_gives_the_one_pass_picture() {
    // Over loopdeck::ingest::SPLIT_FROM: the process parses it on two
    // threads; the totals and failures must be what one pass reads.
    let doc = loopdeck::ingest::generate_junit(30_000, 0.02, 30);
    assert!(doc.len() as u64 >= loopdeck::ingest::SPLIT_FROM);
    let whole = loopdeck::ingest::parse(doc.as_bytes()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junit.xml"), &doc).unwrap();
    let (code, out, err) = status(&[dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "stderr: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["totals"]["tests"], whole.tests.len());
    let failing: Vec<&str> = whole
        .tests
        .iter()
        .filter(|t| t.outcome.is_failing())
        .map(|t| t.id.as_str())
        .collect();
    assert!(!failing.is_empty());
    let ids: Vec<&str> = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, failing);
    assert_eq!(v["warnings"], serde_json::json!([]));
}

#[test]
fn a_run_whose_loopdeck_died_reads_as_interrupted_not_running() {
    // A `started` record with no `finished` one, and no lock held: the
    // loopdeck that ran it was killed before it could record the end.
    let dir = tempfile::tempdir().unwrap();
    let it = dir.path().join("iter-001");
    std::fs::create_dir_all(&it).unwrap();
    std::fs::write(
        it.join("runs.jsonl"),
        r#"{"id":"test-20261124T150000Z-4242","kind":"test","command":"pytest","pid":4242,"started":"2026-11-24T15:00:00Z"}
"#,
    )
    .unwrap();
    let (code, out, err) = status(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 4, "no test was read: no verdict; stderr: {err}");
    assert!(out.contains("last run: test run interrupted"), "{out}");
    assert!(!out.contains("running"), "{out}");
    let (_, json, _) = status(&[dir.path().to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["command"], serde_json::Value::Null);
}

#[test]
fn a_test_run_that_wrote_no_report_is_no_verdict_not_the_older_green() {
    // An older run's report says green; the last test run finished (it
    // failed) after it without writing any report.
    let dir = tempfile::tempdir().unwrap();
    let it = dir.path().join("iter-001");
    place(
        "pytest-junit-xunit2/shop",
        "junit.xml",
        &it.join("junit.xml"),
    );
    let later = chrono::Utc::now() + chrono::Duration::seconds(30);
    let (start, end) = (
        later.to_rfc3339(),
        (later + chrono::Duration::seconds(2)).to_rfc3339(),
    );
    std::fs::write(
        it.join("runs.jsonl"),
        format!(
            "{{\"event\":\"started\",\"id\":\"test-1\",\"kind\":\"test\",\"command\":\"pytest\",\"pid\":1,\"started\":\"{start}\"}}\n\
             {{\"event\":\"finished\",\"id\":\"test-1\",\"kind\":\"test\",\"command\":\"pytest\",\"pid\":1,\"started\":\"{start}\",\"finished\":\"{end}\",\"exit_code\":2}}\n"
        ),
    )
    .unwrap();
    let (code, out, err) = status(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 4, "stderr: {err}");
    assert!(out.contains("no verdict: the last test run"), "{out}");
    // Without that run, the same report is a verdict.
    std::fs::remove_file(it.join("runs.jsonl")).unwrap();
    let (code, _, _) = status(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "the shop fixture has failures");
}
