//! Report files of a full run and of a rerun of the failing tests in one
//! iteration folder, with `runs.jsonl` and explicit modification times.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// 2026-11-24T10:00:00Z, the start of the story.
pub fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_514_400)
}

pub fn at(secs: u64) -> SystemTime {
    t0() + Duration::from_secs(secs)
}

pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()
}

pub const TESTS: [&str; 5] = [
    "test_login",
    "test_send",
    "test_edit",
    "test_delete",
    "test_typing",
];

pub fn id(name: &str) -> String {
    format!("tests/test_chat.py::{name}")
}

/// A pytest `--junitxml` report of all five tests; `failing` fail with
/// `message`.
pub fn junit(failing: &[&str], message: &str) -> String {
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
pub fn report_log(tests: &[(&str, &str)], message: &str) -> String {
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
pub fn run_lines(kind: &str, started: SystemTime, finished: SystemTime) -> String {
    let id = format!("{kind}-{}", rfc3339(started));
    let (s, f) = (rfc3339(started), rfc3339(finished));
    format!(
        "{{\"event\":\"started\",\"id\":\"{id}\",\"kind\":\"{kind}\",\"started\":\"{s}\"}}\n\
         {{\"event\":\"finished\",\"id\":\"{id}\",\"kind\":\"{kind}\",\"started\":\"{s}\",\"finished\":\"{f}\",\"exit_code\":0}}\n"
    )
}

pub fn write_at(path: &Path, content: &str, mtime: SystemTime) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

pub fn append(path: &Path, content: &str) {
    use std::io::Write;
    fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
}

/// iter-001 after a full run (3 failures) and a rerun of those 3 (2 pass).
pub fn full_run_then_rerun(root: &Path) -> PathBuf {
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
