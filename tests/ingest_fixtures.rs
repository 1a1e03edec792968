//! Every case directory of `tests/fixtures/reports/<runner>/<case>/`: its
//! report files, ingested and merged, must say what the runner's console said
//! (`expected.json`, computed from the console, not from the files).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use loopdeck::ingest::{self, Shape};
use loopdeck::model::{Outcome, Report, TestCase};
use serde_json::Value;

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports")
}

fn case_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for runner in std::fs::read_dir(fixtures_root()).unwrap() {
        let runner = runner.unwrap().path();
        if !runner.is_dir() {
            continue;
        }
        for case in std::fs::read_dir(&runner).unwrap() {
            let case = case.unwrap().path();
            if case.join("expected.json").exists() {
                out.push(case);
            }
        }
    }
    out.sort();
    out
}

fn is_report_file(name: &str) -> bool {
    !(name.ends_with(".txt")
        || name == "expected.json"
        || name == "alt-expected.json"
        || name.ends_with(".md"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Report files of a case dir, parsed (checked against `files` of expected).
fn reports_of(case: &Path, expected: &Value) -> Vec<(String, Report)> {
    let mut names: Vec<String> = std::fs::read_dir(case)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| is_report_file(n))
        .collect();
    names.sort();
    let listed: BTreeSet<String> = expected["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names.iter().cloned().collect::<BTreeSet<_>>(),
        listed,
        "{}",
        case.display()
    );
    names
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(case.join(&n)).unwrap();
            let shape = ingest::sniff(&bytes[..bytes.len().min(ingest::SNIFF_LEN)]);
            assert!(
                shape.is_some(),
                "{}: sniff does not recognise {n}",
                case.display()
            );
            let report =
                ingest::parse(&bytes).unwrap_or_else(|e| panic!("{}: {n}: {e}", case.display()));
            if shape == Some(Shape::Lines) {
                // The incremental reader sees the same as the whole-file parse.
                let mut lr = ingest::LineReader::new();
                lr.feed(&bytes);
                assert_eq!(lr.report().tests, report.tests, "{n}: LineReader vs parse");
            }
            (n, report)
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Counts {
    total: usize,
    passed: usize,
    failed: usize,
    errored: usize,
    skipped: usize,
}

fn counts_of(tests: &[TestCase]) -> Counts {
    let n = |o: Outcome| tests.iter().filter(|t| t.outcome == o).count();
    Counts {
        total: tests.len(),
        passed: n(Outcome::Passed),
        failed: n(Outcome::Failed),
        errored: n(Outcome::Errored),
        skipped: n(Outcome::Skipped),
    }
}

fn counts_in(v: &Value) -> Counts {
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}")) as usize;
    Counts {
        total: n("total"),
        passed: n("passed"),
        failed: n("failed"),
        errored: n("errored"),
        skipped: n("skipped"),
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Failed => "failed",
        Outcome::Errored => "errored",
        Outcome::Skipped => "skipped",
        Outcome::Passed => "passed",
    }
}

/// Trimmed, ANSI-stripped, with the run-specific thread id of a Rust panic
/// line (`thread 'x' (864) panicked`) removed: the README says runners add it.
fn normalize(m: &str) -> String {
    let s = ingest::strip_ansi(m).trim().to_string();
    match (s.find("' ("), s.find(") panicked at")) {
        (Some(a), Some(b)) if a < b && s[a + 3..b].chars().all(|c| c.is_ascii_digit()) => {
            format!("{}'{}", &s[..a], &s[b + 1..])
        }
        _ => s,
    }
}

fn messages_match(expected: &str, actual: &str) -> bool {
    let (e, a) = (normalize(expected), normalize(actual));
    if e.is_empty() {
        return a.is_empty();
    }
    !a.is_empty() && (a.contains(&e) || e.contains(&a))
}

#[test]
fn every_fixture_case_matches_its_console() {
    let cases = case_dirs();
    assert!(
        cases.len() >= 14,
        "expected the 14 fixture cases, found {}",
        cases.len()
    );
    let mut problems = Vec::new();
    for case in &cases {
        let name = case
            .strip_prefix(fixtures_root())
            .unwrap()
            .display()
            .to_string();
        let expected = read_json(&case.join("expected.json"));
        let reports = reports_of(case, &expected);
        let refs: Vec<&Report> = reports.iter().map(|(_, r)| r).collect();
        let tests = ingest::merge(&refs);
        let owned: Vec<Report> = reports.iter().map(|(_, r)| r.clone()).collect();
        assert_eq!(
            ingest::merge_owned(owned),
            tests,
            "{}: merge_owned == merge",
            case.display()
        );

        // Counts: expected, or one of alt-expected's accepted alternatives
        // (formats that cannot express what the console showed).
        let got = counts_of(&tests);
        let mut accepted = vec![counts_in(&expected)];
        let alt = case.join("alt-expected.json");
        if alt.exists() {
            let alt = read_json(&alt);
            accepted.extend(alt["accept"].as_array().unwrap().iter().map(counts_in));
        }
        if !accepted.contains(&got) {
            problems.push(format!("{name}: counts {got:?}, accepted {accepted:?}"));
        }
        assert_eq!(
            got.total,
            got.passed + got.failed + got.errored + got.skipped,
            "{name}: total is the sum"
        );

        // Failing ids with outcomes, exactly.
        let want: BTreeMap<String, (String, String)> = expected["failing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["id"].as_str().unwrap().to_string(),
                    (
                        f["outcome"].as_str().unwrap().to_string(),
                        f["message"].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect();
        let have: BTreeMap<String, (&'static str, &str)> = tests
            .iter()
            .filter(|t| t.outcome.is_failing())
            .map(|t| (t.id.clone(), (outcome_word(t.outcome), t.message())))
            .collect();
        let want_ids: BTreeSet<_> = want.keys().collect();
        let have_ids: BTreeSet<_> = have.keys().collect();
        if want_ids != have_ids {
            problems.push(format!(
                "{name}: failing ids differ\n  missing: {:?}\n  unexpected: {:?}",
                want_ids.difference(&have_ids).collect::<Vec<_>>(),
                have_ids.difference(&want_ids).collect::<Vec<_>>()
            ));
        }
        for (id, (outcome, message)) in &want {
            let Some((got_outcome, got_message)) = have.get(id) else {
                continue;
            };
            if got_outcome != outcome {
                problems.push(format!(
                    "{name}: {id}: outcome {got_outcome}, expected {outcome}"
                ));
            }
            if !messages_match(message, got_message) {
                problems.push(format!(
                    "{name}: {id}: message {got_message:?}, expected {message:?}"
                ));
            }
        }

        // Modules are files/suites/packages, never the runner's name.
        for t in &tests {
            let m: &str = &t.module;
            if m.is_empty() || ["pytest", "jest tests", "vitest tests", "pytest tests"].contains(&m)
            {
                problems.push(format!("{name}: {}: module {m:?}", t.id));
                break;
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

fn parse_fixture(rel: &str) -> Report {
    ingest::parse(&std::fs::read(fixtures_root().join(rel)).unwrap()).unwrap()
}

#[test]
fn junit_and_reportlog_of_one_pytest_run_merge_to_one_count() {
    let junit = parse_fixture("pytest-junit-xunit2/shop/junit.xml");
    let log = parse_fixture("pytest-reportlog/shop/report-log.jsonl");
    let alone = counts_of(&ingest::merge(&[&junit]));
    let both = ingest::merge(&[&junit, &log]);
    assert_eq!(counts_of(&both), alone);
    assert_eq!(counts_of(&both), counts_of(&ingest::merge(&[&log])));
    assert_eq!(counts_of(&ingest::merge(&[&log, &junit])), alone);
    // The same ids from both files: the merge adds nothing new.
    let junit_ids: BTreeSet<_> = junit.tests.iter().map(|t| &t.id).collect();
    let log_ids: BTreeSet<_> = log.tests.iter().map(|t| &t.id).collect();
    assert_eq!(junit_ids, log_ids);
    // xunit1 (with `file=`) maps to the same ids as xunit2.
    let x1 = parse_fixture("pytest-junit-xunit1/shop/junit.xml");
    let x1_ids: BTreeSet<_> = x1.tests.iter().map(|t| &t.id).collect();
    assert_eq!(x1_ids, junit_ids);
    let json = parse_fixture("pytest-json-report/shop/report.json");
    let json_ids: BTreeSet<_> = json.tests.iter().map(|t| &t.id).collect();
    assert_eq!(json_ids, junit_ids);
}

#[test]
fn jest_junit_and_jest_json_of_one_run_merge_to_one_count() {
    let junit = parse_fixture("jest-junit/cart/junit.xml");
    let json = parse_fixture("jest-json/cart/report.json");
    let merged = ingest::merge(&[&junit, &json]);
    assert_eq!(merged.len(), json.tests.len());
    assert_eq!(counts_of(&merged), counts_of(&json.tests));
}

#[test]
fn disjoint_shards_add_up() {
    let a = parse_fixture("pytest-junit-xunit2/shop/junit.xml");
    let b = parse_fixture("gotestsum-junit/geo/junit.xml");
    let c = parse_fixture("maven-surefire/ticketing/TEST-fixtures.ticketing.SeatsTest.xml");
    let (ca, cb, cc) = (
        counts_of(&a.tests),
        counts_of(&b.tests),
        counts_of(&c.tests),
    );
    let all = counts_of(&ingest::merge(&[&a, &b, &c]));
    assert_eq!(all.total, ca.total + cb.total + cc.total);
    assert_eq!(all.failed, ca.failed + cb.failed + cc.failed);
    assert_eq!(all.errored, ca.errored + cb.errored + cc.errored);
    assert_eq!(all.skipped, ca.skipped + cb.skipped + cc.skipped);
    assert_eq!(all.passed, ca.passed + cb.passed + cc.passed);
}

#[test]
fn failing_tests_carry_detail_and_captured_output_passing_ones_do_not() {
    let junit = parse_fixture("pytest-junit-xunit2/shop/junit.xml");
    let t = junit
        .tests
        .iter()
        .find(|t| t.id.ends_with("test_reserve_bundle_deep_traceback"))
        .unwrap();
    let f = t.failure.as_deref().unwrap();
    assert!(
        f.detail.contains("shop/__init__.py:29: OutOfStock"),
        "{}",
        f.detail
    );
    assert!(f.stdout.contains("reserving bundle: apple, pear, kiwi"));
    assert!(f.stderr.contains("warning: kiwi has no supplier"));
    assert_eq!(&*t.module, "tests/test_inventory.py");
    let passing = junit
        .tests
        .iter()
        .find(|t| t.id.ends_with("test_passing_with_output"))
        .unwrap();
    assert!(passing.failure.is_none());
    // pytest's `#x1B` is ESC again in the detail; the message has no escapes.
    let ansi = junit
        .tests
        .iter()
        .find(|t| t.id.ends_with("test_ansi_colour_output"))
        .unwrap();
    let f = ansi.failure.as_deref().unwrap();
    assert_eq!(f.message, "AssertionError: coloured assertion message");
    assert!(!f.detail.contains("#x1B") && f.detail.contains('\u{1b}'));

    let log = parse_fixture("pytest-reportlog/shop/report-log.jsonl");
    let t = log
        .tests
        .iter()
        .find(|t| t.id.ends_with("test_ñandú_failure"))
        .unwrap();
    let f = t.failure.as_deref().unwrap();
    assert!(f.stdout.contains("Привет, мир"));
    assert!(f.stderr.contains("标准错误输出"));
    assert!(
        f.detail
            .contains("tests/test_unicode_names.py:13: AssertionError"),
        "{}",
        f.detail
    );
    assert!(log.complete);
}

#[test]
fn modules_per_dialect() {
    let module_of = |rel: &str, id_part: &str| {
        let r = parse_fixture(rel);
        r.tests
            .iter()
            .find(|t| t.id.contains(id_part))
            .unwrap()
            .module
            .to_string()
    };
    assert_eq!(
        module_of("jest-junit/cart/junit.xml", "negative quantity"),
        "__tests__/cart.test.js"
    );
    assert_eq!(
        module_of("jest-json/cart/report.json", "negative quantity"),
        "__tests__/cart.test.js"
    );
    assert_eq!(
        module_of("vitest-junit/slug/junit.xml", "keeps CJK"),
        "test/slug.test.mjs"
    );
    assert_eq!(
        module_of("vitest-json/slug/report.json", "keeps CJK"),
        "test/slug.test.mjs"
    );
    assert_eq!(
        module_of("mocha-junit/queue/junit.xml", "slow pop"),
        "Queue"
    );
    assert_eq!(
        module_of("nextest-junit/ledger/junit.xml", "audit_deep"),
        "ledger-fixtures::audit"
    );
    assert_eq!(
        module_of("gotestsum-junit/geo/junit.xml", "TestFactorPanics"),
        "fixtures.local/geo/units"
    );
    assert_eq!(
        module_of("go-test-json/geo/report.jsonl", "TestFactorPanics"),
        "fixtures.local/geo/units"
    );
    assert_eq!(
        module_of(
            "maven-surefire/ticketing/TEST-fixtures.ticketing.SeatsTest.xml",
            "waitlist"
        ),
        "fixtures.ticketing.SeatsTest"
    );
    assert_eq!(
        module_of("libtest-json/ledger/report.jsonl", "entries_struct_diff"),
        "tests"
    );
}
