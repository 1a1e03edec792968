//! `demo::write_all` writes a complete, well-formed results directory.
//! Parsed with serde_json directly (not through `ingest`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde_json::Value;

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Iter {
    meta: Value,
    deploy: Value,
    lines: Vec<Value>,
    junit: String,
}

fn write() -> (tempfile::TempDir, Vec<Iter>) {
    let dir = tempfile::tempdir().unwrap();
    loopdeck::demo::write_all(dir.path()).unwrap();
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["iter-001", "iter-002", "iter-003", "iter-004"]);
    let iters = names
        .iter()
        .map(|n| {
            let d = dir.path().join(n);
            let mut files: Vec<String> = fs::read_dir(&d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            assert_eq!(
                files,
                [
                    "deploy.json",
                    "iteration.json",
                    "junit.xml",
                    "report-log.jsonl"
                ],
                "no temp files left behind in {n}"
            );
            let log = fs::read_to_string(d.join("report-log.jsonl")).unwrap();
            assert!(log.ends_with('\n'));
            let lines = log
                .lines()
                .enumerate()
                .map(|(i, l)| {
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("{n} line {}: {e}", i + 1))
                })
                .collect();
            Iter {
                meta: read_json(&d.join("iteration.json")),
                deploy: read_json(&d.join("deploy.json")),
                lines,
                junit: fs::read_to_string(d.join("junit.xml")).unwrap(),
            }
        })
        .collect();
    (dir, iters)
}

fn test_reports(it: &Iter) -> impl Iterator<Item = &Value> {
    it.lines
        .iter()
        .filter(|v| v["$report_type"] == "TestReport")
}

/// Module file -> number of failed reports in it.
fn failing_modules(it: &Iter) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in test_reports(it).filter(|r| r["outcome"] == "failed") {
        let nodeid = r["nodeid"].as_str().unwrap();
        *m.entry(nodeid.split("::").next().unwrap().to_string())
            .or_default() += 1;
    }
    m
}

#[test]
fn files_exist_and_parse() {
    let (_dir, iters) = write();
    for (i, it) in iters.iter().enumerate() {
        for key in ["issue", "root_cause", "fix", "notes", "started", "finished"] {
            assert!(it.meta.get(key).is_some(), "iteration.json has {key}");
        }
        for key in ["started", "finished"] {
            let t = it.meta[key].as_str().unwrap();
            chrono::DateTime::parse_from_rfc3339(t).unwrap();
        }
        assert_eq!(it.deploy["service"], "backend");
        assert_eq!(it.deploy["state"], "live");
        assert!(
            it.deploy["revision"]
                .as_str()
                .unwrap()
                .starts_with(&format!("0009{}-", 3 + i))
        );
        for key in ["started", "finished"] {
            chrono::DateTime::parse_from_rfc3339(it.deploy[key].as_str().unwrap()).unwrap();
        }
        assert!(it.deploy["message"].is_string());
        assert_eq!(it.lines.first().unwrap()["$report_type"], "SessionStart");
        assert_eq!(it.lines.last().unwrap()["$report_type"], "SessionFinish");
        assert!(it.junit.starts_with("<?xml") && it.junit.ends_with("</testsuites>"));
    }
    let m = &iters[0].meta;
    assert!(m["issue"].as_str().unwrap().contains("403"));
    assert!(m["fix"].is_string() && m["root_cause"].is_string());
}

#[test]
fn sixty_tests_in_ten_modules_every_iteration() {
    let (_dir, iters) = write();
    for it in &iters {
        let ids: BTreeSet<&str> = test_reports(it)
            .map(|r| r["nodeid"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 60);
        let modules: BTreeSet<&str> = ids
            .iter()
            .map(|id| id.split("::").next().unwrap())
            .collect();
        assert_eq!(modules.len(), 10);
        assert!(modules.iter().all(|m| m.starts_with("tests/e2e/test_")));
        assert_eq!(it.junit.matches("<testcase ").count(), 60);
        // Every test has a setup and a teardown report; a call unless setup failed.
        for id in &ids {
            let whens: Vec<&str> = test_reports(it)
                .filter(|r| r["nodeid"] == *id)
                .map(|r| r["when"].as_str().unwrap())
                .collect();
            assert!(
                whens == ["setup", "call", "teardown"] || whens == ["setup", "teardown"],
                "{id}: {whens:?}"
            );
        }
    }
}

#[test]
fn the_story() {
    let (_dir, iters) = write();
    let f1 = failing_modules(&iters[0]);
    assert_eq!(f1.len(), 2, "{f1:?}");
    let f2 = failing_modules(&iters[1]);
    assert_eq!(f2.len(), 3, "{f2:?}");
    assert!(!failing_modules(&iters[2]).is_empty());
    assert!(failing_modules(&iters[3]).is_empty());

    let messages = |it: &Iter| -> Vec<String> {
        test_reports(it)
            .filter(|r| r["outcome"] == "failed")
            .map(|r| {
                r["longrepr"]["reprcrash"]["message"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert!(
        messages(&iters[0])
            .iter()
            .all(|m| m.contains("HTTP 403 Forbidden"))
    );
    assert!(
        messages(&iters[1])
            .iter()
            .all(|m| m == "RuntimeError: asyncio.run() cannot be called from a running event loop")
    );
    assert!(messages(&iters[2]).iter().all(|m| m.contains("HTTP 500")
        && m.contains("AttributeError: 'coroutine' object has no attribute 'get'")));
    // Request ids vary, so grouping has to normalise.
    let distinct: BTreeSet<String> = messages(&iters[0]).into_iter().collect();
    assert_eq!(distinct.len(), messages(&iters[0]).len());

    // Iteration 2 fails in setup: errors in JUnit, no call report.
    assert!(
        test_reports(&iters[1])
            .filter(|r| r["outcome"] == "failed")
            .all(|r| r["when"] == "setup")
    );
    assert!(
        iters[1]
            .junit
            .contains("<error message=\"failed on setup with &quot;RuntimeError")
    );
    assert!(
        iters[0]
            .junit
            .contains("<failure message=\"e2e.client.ApiError: HTTP 403 Forbidden")
    );

    // Exit statuses and JUnit counters agree with the reports.
    for (i, it) in iters.iter().enumerate() {
        let exit = it.lines.last().unwrap()["exitstatus"].as_i64().unwrap();
        assert_eq!(exit, if i == 3 { 0 } else { 1 });
        let failed = test_reports(it)
            .filter(|r| r["outcome"] == "failed")
            .count();
        let failures: usize = it
            .junit
            .split("failures=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let errors: usize = it
            .junit
            .split("errors=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(failures + errors, failed);
        assert_eq!(it.junit.matches("<failure ").count(), failures);
        assert_eq!(it.junit.matches("<error ").count(), errors);
    }
}

#[test]
fn failures_look_like_pytest() {
    let (_dir, iters) = write();
    let r = test_reports(&iters[0])
        .find(|r| r["outcome"] == "failed")
        .unwrap();
    assert_eq!(r["when"], "call");
    let lr = &r["longrepr"];
    let entries = lr["reprtraceback"]["reprentries"].as_array().unwrap();
    assert!(entries.len() >= 2);
    for e in entries {
        assert_eq!(e["type"], "ReprEntry");
        assert!(e["data"]["lines"].is_array());
        assert!(e["data"]["reprfileloc"]["lineno"].is_u64());
    }
    let last = entries.last().unwrap()["data"]["lines"].as_array().unwrap();
    assert!(last.last().unwrap().as_str().unwrap().starts_with("E   "));
    assert_eq!(lr["chain"][0][0], lr["reprtraceback"]);
    assert_eq!(lr["chain"][0][1], lr["reprcrash"]);
    let sections = r["sections"].as_array().unwrap();
    assert_eq!(sections[0][0], "Captured stdout call");
    // Location is 0-based like pytest's.
    assert!(r["location"][1].is_u64());
    // Placeholders were all filled.
    let text = serde_json::to_string(lr).unwrap();
    for p in ["{rid}", "{addr}", "{method}", "{path}", "{test}", "{room}"] {
        assert!(!text.contains(p), "{p} left in {text}");
    }
    // The JUnit body is pytest's long text format.
    assert!(iters[0].junit.contains(
        "\n_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ \n"
    ));
    assert!(
        iters[2]
            .junit
            .contains("AttributeError: &#x27;coroutine&#x27;")
            || iters[2].junit.contains("AttributeError: 'coroutine'")
    );
}

#[test]
fn output_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    loopdeck::demo::write_all(a.path()).unwrap();
    loopdeck::demo::write_all(b.path()).unwrap();
    for n in ["iter-001", "iter-003"] {
        for f in [
            "report-log.jsonl",
            "junit.xml",
            "iteration.json",
            "deploy.json",
        ] {
            assert_eq!(
                fs::read(a.path().join(n).join(f)).unwrap(),
                fs::read(b.path().join(n).join(f)).unwrap(),
                "{n}/{f}"
            );
        }
    }
}

/// Writes the demo where `LOOPDECK_DEMO_OUT` says, for looking at the files
/// by hand or feeding a screenshot:
/// `LOOPDECK_DEMO_OUT=/tmp/demo cargo test --test demo_files -- --ignored`.
#[test]
#[ignore = "writes outside the temp dir; run by hand"]
fn write_demo_to_env_dir() {
    let out = std::env::var("LOOPDECK_DEMO_OUT").expect("set LOOPDECK_DEMO_OUT");
    loopdeck::demo::write_all(Path::new(&out)).unwrap();
    println!(
        "story length at speed 1: {:?}",
        loopdeck::demo::story_length()
    );
}
