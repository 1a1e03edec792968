//! `loopdeck status` reads only the iteration it prints; the rest of the
//! history counts only for the default goal, through a cache of test counts
//! that is trusted only while an iteration's report files are unchanged.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::Command;

const REPORT_LOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/reports/pytest-reportlog/shop/report-log.jsonl"
);

fn status(dir: &Path, cache: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_loopdeck"))
        .arg("status")
        .arg(dir)
        .arg("--json")
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn test_line(i: usize) -> String {
    format!(
        "{{\"nodeid\": \"tests/test_extra.py::test_{i}\", \"location\": [\"tests/test_extra.py\", 1, \"t\"], \"keywords\": {{}}, \"outcome\": \"passed\", \"longrepr\": null, \"when\": \"call\", \"user_properties\": [], \"sections\": [], \"duration\": 0.001, \"start\": 1.0, \"stop\": 1.0, \"$report_type\": \"TestReport\"}}\n"
    )
}

#[test]
fn the_default_goal_comes_from_counts_that_are_trusted_only_while_files_are_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for i in 1..=3 {
        let dir = root.join(format!("iter-{i:03}"));
        fs::create_dir(&dir).unwrap();
        fs::copy(REPORT_LOG, dir.join("report-log.jsonl")).unwrap();
    }
    let base = status(root, cache.path(), &[]);
    let n = base["totals"]["tests"].as_u64().unwrap();
    assert!(n > 0);
    assert_eq!(base["iterations"], 3);
    assert_eq!(base["iteration_key"], "iter-003");
    assert_eq!(base["goal"], n);

    // An old iteration grows: the goal follows (the counts it had are stale).
    let old = root.join("iter-001/report-log.jsonl");
    let mut f = OpenOptions::new().append(true).open(&old).unwrap();
    for i in 0..5 {
        f.write_all(test_line(i).as_bytes()).unwrap();
    }
    drop(f);
    assert_eq!(status(root, cache.path(), &[])["goal"], n + 5);

    // The counts are really used: a count planted for unchanged files is
    // believed...
    let file = fs::read_dir(cache.path().join("loopdeck"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut counts: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    counts["iterations"]["iter-002"]["tests"] = 999.into();
    fs::write(&file, counts.to_string()).unwrap();
    assert_eq!(status(root, cache.path(), &[])["goal"], 999);
    // ...and not once the file changes, even at the same size.
    let p = root.join("iter-002/report-log.jsonl");
    let bytes = fs::read(&p).unwrap();
    fs::write(&p, &bytes).unwrap();
    let t = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(t)
        .unwrap();
    assert_eq!(status(root, cache.path(), &[])["goal"], n + 5);

    // With a goal, the rest of the history is not needed.
    let with_goal = status(root, cache.path(), &["--goal", "466"]);
    assert_eq!(with_goal["goal"], 466);
    assert_eq!(with_goal["iterations"], 3);
    assert_eq!(with_goal["totals"]["tests"], n);

    // An older iteration asked for by number is the one read.
    let first = status(root, cache.path(), &["--iteration", "1"]);
    assert_eq!(first["iteration_key"], "iter-001");
    assert_eq!(first["totals"]["tests"], n + 5);
}
