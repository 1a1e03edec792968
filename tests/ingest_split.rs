//! A big JUnit document parsed in two halves on two threads reads exactly
//! what one pass reads, or declines (and the one-pass parse takes over).

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;

use loopdeck::ingest::{self, Keep, SNIFF_LEN, SPLIT_FROM, parse_split};
use loopdeck::model::Report;

const CAP: u64 = 1 << 30;

fn write(doc: &str) -> (tempfile::NamedTempFile, File) {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(doc.as_bytes()).unwrap();
    f.flush().unwrap();
    let file = File::open(f.path()).unwrap();
    (f, file)
}

/// The split parse of `doc`, if it did not decline.
fn split(doc: &str) -> Option<(Report, u64)> {
    assert!(
        doc.len() as u64 >= SPLIT_FROM,
        "document too small to split"
    );
    let (_tmp, file) = write(doc);
    let head = &doc.as_bytes()[..SNIFF_LEN.min(doc.len())];
    parse_split(&file, head, doc.len() as u64, CAP, Keep::All, &|_| {})
}

/// Where the split cuts `doc`: the first `<testcase` at or after the middle.
fn cut_of(doc: &str) -> usize {
    let mid = doc.len() / 2;
    mid + doc[mid..].find("<testcase ").unwrap()
}

fn suite_cases(out: &mut String, suite: usize, cases: usize) {
    for i in 0..cases {
        let _ = write!(
            out,
            r#"<testcase classname="pkg.suite{suite}.Case" name="test_{i}" time="0.{i:03}""#
        );
        if i % 50 == 7 {
            let _ = write!(
                out,
                r#"><failure message="HTTP 403 Forbidden for /api/{i}" type="AssertionError">Traceback &quot;x&quot; &lt;{i}&gt;
  line two</failure><system-out>out {i}</system-out></testcase>"#
            );
        } else {
            out.push_str("/>");
        }
        out.push('\n');
    }
}

#[test]
fn one_suite_pytest_report_splits_into_the_same_report() {
    let doc = ingest::generate_junit(30_000, 0.02, 30);
    let whole = ingest::parse(doc.as_bytes()).unwrap();
    let (report, read) = split(&doc).expect("a pytest report splits");
    assert_eq!(read, doc.len() as u64);
    assert_eq!(report.tests.len(), 30_000);
    assert!(report.tests.iter().any(|t| t.outcome.is_failing()));
    assert_eq!(report, whole);
}

#[test]
fn many_suites_split_into_the_same_report() {
    let mut doc = String::from(
        r#"<?xml version="1.0"?>
<testsuites name="all" tests="75000">
"#,
    );
    for s in 0..300 {
        let _ = writeln!(doc, r#"<testsuite name="pkg.suite{s}" tests="250">"#);
        suite_cases(&mut doc, s, 250);
        doc.push_str("</testsuite>\n");
    }
    doc.push_str("</testsuites>\n");
    let whole = ingest::parse(doc.as_bytes()).unwrap();
    let (report, _) = split(&doc).expect("a multi-suite report splits");
    assert_eq!(report.tests.len(), 75_000);
    assert_eq!(report, whole);
}

#[test]
fn a_lone_testsuite_root_splits_into_the_same_report() {
    let mut doc = String::from(r#"<testsuite name="root" tests="70000">"#);
    suite_cases(&mut doc, 0, 70_000);
    doc.push_str("</testsuite>");
    let whole = ingest::parse(doc.as_bytes()).unwrap();
    let (report, _) = split(&doc).expect("a lone testsuite splits");
    assert_eq!(report, whole);
}

#[test]
fn a_test_whose_two_testcases_straddle_the_cut_counts_once() {
    // pytest writes a second <testcase> for a teardown error of the same
    // test. Shift the document until the cut falls between such a pair.
    for pad in 0..4 {
        let mut doc = String::from(r#"<testsuites name="pytest tests"><testsuite name="pytest">"#);
        for p in 0..pad {
            let _ = write!(
                doc,
                r#"<testcase classname="tests.test_pad" name="test_{p}"/>"#
            );
        }
        for i in 0..50_000 {
            let _ = write!(
                doc,
                r#"<testcase classname="tests.test_x" name="test_{i}" time="1"/><testcase classname="tests.test_x" name="test_{i}" time="0.5"><error message="failed on teardown">boom</error></testcase>"#
            );
        }
        doc.push_str("</testsuite></testsuites>");
        let cut = cut_of(&doc);
        let tag = &doc[cut..cut + doc[cut..].find('>').unwrap()];
        if !tag.contains(r#"classname="tests.test_x""#) || !tag.contains(r#"time="0.5""#) {
            continue;
        }
        let whole = ingest::parse(doc.as_bytes()).unwrap();
        assert_eq!(whole.tests.len(), 50_000 + pad);
        let (report, _) = split(&doc).expect("splits");
        assert_eq!(report, whole);
        return;
    }
    panic!("no padding put the cut between the two testcases of a test");
}

#[test]
fn a_cut_inside_cdata_declines() {
    // The middle of the document is inside a CDATA section that contains
    // text looking like testcases: the first half does not end where a
    // split needs it to, so the split declines.
    let mut fake = String::new();
    for i in 0..150_000 {
        let _ = write!(fake, r#"<testcase classname="fake" name="f{i}"/>"#);
    }
    let doc = format!(
        r#"<testsuites><testsuite name="s"><testcase classname="a" name="t"><system-out><![CDATA[{fake}]]></system-out></testcase></testsuite></testsuites>"#
    );
    assert!(split(&doc).is_none());
    let whole = ingest::parse(doc.as_bytes()).unwrap();
    assert_eq!(whole.tests.len(), 1);
}

#[test]
fn jest_reports_decline() {
    // jest-junit ids are rebuilt from all the tests of a suite at once.
    let mut doc = String::from(
        r#"<testsuites name="jest tests"><testsuite name="src/a.test.js" tests="60000">"#,
    );
    for i in 0..60_000 {
        let _ = write!(
            doc,
            r#"<testcase classname="Cart adds item {i}" name="Cart adds item {i}" time="0.01"></testcase>"#
        );
    }
    doc.push_str("</testsuite></testsuites>");
    assert!(split(&doc).is_none());
}

#[test]
fn a_broken_second_half_declines() {
    let mut doc = ingest::generate_junit(30_000, 0.02, 30);
    doc.truncate(doc.len() - 40);
    assert!(split(&doc).is_none(), "the one-pass parse names the error");
}

#[test]
fn binary_in_either_half_declines() {
    let doc = ingest::generate_junit(30_000, 0.02, 30);
    for at in [doc.len() / 4, doc.len() * 3 / 4] {
        let mut bytes = doc.clone().into_bytes();
        let i = at + doc[at..].find("name=\"").unwrap() + 6;
        bytes[i] = 0;
        let (_tmp, file) = {
            let mut f = tempfile::NamedTempFile::new().unwrap();
            f.write_all(&bytes).unwrap();
            let file = File::open(f.path()).unwrap();
            (f, file)
        };
        let got = parse_split(
            &file,
            &bytes[..SNIFF_LEN],
            bytes.len() as u64,
            CAP,
            Keep::All,
            &|_| {},
        );
        assert!(got.is_none(), "NUL at {i}");
    }
}

#[test]
fn small_documents_are_not_split() {
    let doc = ingest::generate_junit(100, 0.02, 3);
    let (_tmp, file) = write(&doc);
    let head = &doc.as_bytes()[..SNIFF_LEN.min(doc.len())];
    assert!(parse_split(&file, head, doc.len() as u64, CAP, Keep::All, &|_| {}).is_none());
}

#[test]
fn each_half_is_handed_to_the_caller_once() {
    let doc = ingest::generate_junit(30_000, 0.02, 30);
    let (_tmp, file) = write(&doc);
    let seen = std::sync::Mutex::new(Vec::new());
    let (report, _) = parse_split(
        &file,
        &doc.as_bytes()[..SNIFF_LEN],
        doc.len() as u64,
        CAP,
        Keep::All,
        &|tests| {
            seen.lock().unwrap().push(tests.len());
            for t in tests {
                t.id.insert_str(0, "seen:");
            }
        },
    )
    .unwrap();
    let mut seen = seen.into_inner().unwrap();
    seen.sort();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0] > 10_000, "halves, not a sliver: {seen:?}");
    assert!(report.tests.iter().all(|t| t.id.starts_with("seen:")));
}
