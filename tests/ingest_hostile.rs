//! Hostile and broken input: never a panic, always the right error (or a
//! report with warnings), in bounded time and stack.

use loopdeck::ingest::{self, IngestError, LineReader, Shape};
use loopdeck::model::Outcome;

fn junit(cases: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><testsuites><testsuite name="s">{cases}</testsuite></testsuites>"#
    )
}

#[test]
fn empty_and_blank_files_are_empty() {
    assert_eq!(ingest::parse(b""), Err(IngestError::Empty));
    assert_eq!(ingest::parse(b"  \n\t\n"), Err(IngestError::Empty));
    assert_eq!(ingest::parse(b"\xEF\xBB\xBF"), Err(IngestError::Empty));
    assert_eq!(ingest::sniff(b""), None);
}

#[test]
fn truncated_xml_is_truncated_at_every_cut() {
    let doc = junit(
        r#"<testcase classname="a.B" name="t1" time="0.1"/><testcase classname="a.B" name="t2"><failure message="boom">trace &amp; more</failure><system-out><![CDATA[out]]></system-out></testcase>"#,
    );
    let full = ingest::parse(doc.as_bytes()).unwrap();
    assert_eq!(full.tests.len(), 2);
    // Every proper prefix (past the first '<') is truncated, never a panic,
    // never a silently short report.
    let start = doc.find("<testsuites").unwrap() + 1;
    for cut in start..doc.len() - 1 {
        if !doc.is_char_boundary(cut) {
            continue;
        }
        match ingest::parse(&doc.as_bytes()[..cut]) {
            Err(IngestError::Truncated(_)) => {}
            other => panic!("cut at {cut} ({:?}): {other:?}", &doc[..cut]),
        }
    }
    // A declaration alone: too little to tell.
    assert!(matches!(
        ingest::parse(br#"<?xml version="1.0"?>"#),
        Err(IngestError::Truncated(_))
    ));
}

#[test]
fn a_file_cut_inside_a_test_case_says_where_it_ends() {
    // Cut inside the text of a child the parser reads, skips or passes
    // over: the message names the missing end tag and the end of the file.
    for child in [
        r#"<failure message="boom">trace &amp; more"#,
        r#"<properties><property name="x" value="y"/>"#,
        r#"<system-out>GET /a -&gt; 200"#,
        r#"<rerunFailure message="flaky">once"#,
    ] {
        let doc = junit(&format!(r#"<testcase classname="a.B" name="t">{child}"#));
        let cut = doc.find("</testsuite>").unwrap();
        match ingest::parse(&doc.as_bytes()[..cut]) {
            Err(IngestError::Truncated(m)) => {
                assert!(m.ends_with(&format!("at byte {cut}")), "{child}: {m}");
                assert!(m.contains("not found"), "{child}: {m}");
            }
            other => panic!("{child}: {other:?}"),
        }
    }
}

#[test]
fn truncated_json_document_is_truncated() {
    let doc = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reports/jest-json/cart/report.json"
    ))
    .unwrap();
    for cut in [10, doc.len() / 3, doc.len() / 2, doc.len() - 2] {
        match ingest::parse(&doc[..cut]) {
            Err(IngestError::Truncated(_)) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    assert_eq!(ingest::sniff(&doc[..100]), Some(Shape::Document));
}

#[test]
fn binary_input_is_binary() {
    assert_eq!(
        ingest::parse(b"<testsuites>\0\0\0</testsuites>"),
        Err(IngestError::Binary)
    );
    assert_eq!(
        ingest::parse(b"\x00\x01\x02\xff\xfe"),
        Err(IngestError::Binary)
    );
    // Invalid UTF-8 inside an XML document.
    assert_eq!(
        ingest::parse(b"<testsuites><testsuite name=\"\xff\xfe\xfd\"></testsuite></testsuites>"),
        Err(IngestError::Binary)
    );
    // UTF-16 (with and without BOM) reads as NULs / BOM: binary, not garbage.
    let utf16: Vec<u8> = "<testsuites></testsuites>"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    assert_eq!(ingest::parse(&utf16), Err(IngestError::Binary));
    let mut bom = vec![0xFF, 0xFE];
    bom.extend(&utf16);
    assert_eq!(ingest::parse(&bom), Err(IngestError::Binary));
    assert_eq!(ingest::sniff(&bom), None);
    // Random bytes (deterministic): never a panic.
    let mut x: u32 = 12345;
    for len in [1usize, 2, 10, 100, 4096] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let _ = ingest::parse(&bytes);
        let _ = ingest::sniff(&bytes);
        let mut lr = LineReader::new();
        lr.feed(&bytes);
        let _ = lr.report();
    }
}

#[test]
fn deeply_nested_xml_does_not_overflow_the_stack() {
    let depth = 100_000;
    // Nested unknown elements inside a test case, and nested suites.
    let inner = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    let doc = junit(&format!(
        r#"<testcase classname="x.Y" name="t">{inner}<failure message="m"/></testcase>"#
    ));
    let r = ingest::parse(doc.as_bytes()).unwrap();
    assert_eq!(r.tests.len(), 1);
    assert_eq!(r.tests[0].outcome, Outcome::Failed);

    let suites = format!(
        "<testsuites>{}<testcase classname=\"x.Y\" name=\"deep\"/>{}</testsuites>",
        "<testsuite name=\"s\">".repeat(depth),
        "</testsuite>".repeat(depth)
    );
    let r = ingest::parse(suites.as_bytes()).unwrap();
    assert_eq!(r.tests.len(), 1);
    // Unclosed deep nesting: truncated, no overflow.
    let open = format!("<testsuites>{}", "<testsuite>".repeat(depth));
    assert!(matches!(
        ingest::parse(open.as_bytes()),
        Err(IngestError::Truncated(_))
    ));
    // Deeply nested JSON: serde_json's recursion limit, an error not a crash.
    let json = format!(
        "{{\"testResults\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert!(ingest::parse(json.as_bytes()).is_err());
    let mut lr = LineReader::new();
    lr.feed(format!("{}\n", "[".repeat(depth)).as_bytes());
    assert_eq!(lr.report().warnings.len(), 1);
}

#[test]
fn huge_attribute_counts_are_linear() {
    let attrs: String = (0..200_000).map(|i| format!(" a{i}=\"{i}\"")).collect();
    // Duplicates too: quick-xml's duplicate check would be quadratic.
    let dups = " x=\"1\"".repeat(200_000);
    let doc = junit(&format!(
        r#"<testcase classname="c.D" name="t"{attrs}{dups} time="1.5"/>"#
    ));
    let started = std::time::Instant::now();
    let r = ingest::parse(doc.as_bytes()).unwrap();
    assert_eq!(r.tests.len(), 1);
    assert_eq!(r.tests[0].duration_secs, Some(1.5));
    // Generous: linear work on ~3 MB takes milliseconds even unoptimised.
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn control_characters_are_kept_as_data() {
    let doc = junit(
        "<testcase classname=\"m.C\" name=\"t&#27;[2J\u{1}x\"><failure message=\"bad &#27;]52;c;AAAA&#7; \u{7} end\">&#27;[31mred\u{1b}[0m</failure></testcase>",
    );
    let r = ingest::parse(doc.as_bytes()).unwrap();
    let t = &r.tests[0];
    assert!(t.id.contains("t\u{1b}[2J\u{1}x"), "{:?}", t.id);
    let f = t.failure.as_deref().unwrap();
    assert!(
        f.detail.contains("\u{1b}[31mred\u{1b}[0m"),
        "{:?}",
        f.detail
    );
    // The one-line message has no escape sequences left.
    assert!(
        !f.message.chars().any(|c| c.is_control()),
        "{:?}",
        f.message
    );
    assert!(f.message.starts_with("bad"), "{:?}", f.message);
}

#[test]
fn billion_laughs_entities_stay_inert() {
    let mut dtd = String::from("<!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    dtd.push_str("<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>");
    let doc = format!(
        "<?xml version=\"1.0\"?>{dtd}<testsuites><testsuite name=\"&lol9;\"><testcase classname=\"a.B\" name=\"&lol9;&xxe;\"><failure message=\"&lol9;\">&lol9;</failure></testcase></testsuite></testsuites>"
    );
    let r = ingest::parse(doc.as_bytes()).unwrap();
    let t = &r.tests[0];
    assert!(t.id.ends_with("&lol9;&xxe;"), "{}", t.id);
    let f = t.failure.as_deref().unwrap();
    assert_eq!(f.detail, "&lol9;");
    assert!(f.message.len() < 100);
}

#[test]
fn garbage_lines_are_warnings_and_good_lines_still_count() {
    let good = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reports/pytest-reportlog/shop/report-log.jsonl"
    ))
    .unwrap();
    let clean = ingest::parse(&good).unwrap();
    let mut dirty = Vec::new();
    let mut garbage_lines = 0;
    for (i, line) in good.split_inclusive(|&b| b == b'\n').enumerate() {
        if i % 7 == 3 {
            dirty.extend_from_slice(
                [
                    &b"not json at all\n"[..],
                    b"{\"half\": \n",
                    b"\xff\xfe\x00binary\n",
                    b"[1,2,3]\n",
                ][i % 4],
            );
            garbage_lines += 1;
        }
        dirty.extend_from_slice(line);
    }
    let r = ingest::parse(&dirty).unwrap();
    assert_eq!(r.tests, clean.tests);
    assert_eq!(r.warnings.len(), garbage_lines, "{:?}", r.warnings);
    assert!(r.warnings.iter().all(|w| w.starts_with("line ")));
    assert!(r.complete);
    // Same through the incremental reader.
    let mut lr = LineReader::new();
    lr.feed(&dirty);
    assert_eq!(lr.report().tests, clean.tests);
    assert_eq!(lr.report().warnings.len(), garbage_lines);
}

#[test]
fn warnings_are_bounded() {
    let mut lr = LineReader::new();
    lr.feed(b"{\"$report_type\": \"SessionStart\"}\n");
    for _ in 0..10_000 {
        lr.feed(b"garbage\n");
    }
    let r = lr.report();
    assert!(r.warnings.len() <= 101);
    assert!(r.warnings.last().unwrap().contains("more"));
}

#[test]
fn unrelated_documents_are_unrecognized() {
    for doc in [
        &b"<html><body>hi</body></html>"[..],
        b"<?xml version=\"1.0\"?><project><modelVersion>4.0.0</modelVersion></project>",
        b"{\"name\": \"my-package\", \"version\": \"1.0.0\"}",
        b"[1, 2, 3]",
        b"{\"level\":\"info\",\"msg\":\"started\"}\n{\"level\":\"info\",\"msg\":\"done\"}\n",
        b"plain text log line\n",
        b"---\nyaml: true\n",
    ] {
        assert_eq!(
            ingest::parse(doc),
            Err(IngestError::Unrecognized),
            "{}",
            String::from_utf8_lossy(doc)
        );
        assert_eq!(ingest::sniff(doc), None, "{}", String::from_utf8_lossy(doc));
    }
}

#[test]
fn malformed_xml_is_malformed() {
    let doc = junit(r#"<testcase classname="a" name="b"></wrong></testcase>"#);
    assert!(matches!(
        ingest::parse(doc.as_bytes()),
        Err(IngestError::Malformed(_))
    ));
}

#[test]
fn sniff_tells_documents_from_lines_by_content() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reports/");
    let head = |rel: &str| {
        let b = std::fs::read(format!("{root}{rel}")).unwrap();
        b[..b.len().min(ingest::SNIFF_LEN)].to_vec()
    };
    assert_eq!(
        ingest::sniff(&head("pytest-reportlog/shop/report-log.jsonl")),
        Some(Shape::Lines)
    );
    assert_eq!(
        ingest::sniff(&head("go-test-json/geo/report.jsonl")),
        Some(Shape::Lines)
    );
    assert_eq!(
        ingest::sniff(&head("libtest-json/ledger/report.jsonl")),
        Some(Shape::Lines)
    );
    assert_eq!(
        ingest::sniff(&head("vitest-json/slug/report.json")),
        Some(Shape::Document)
    );
    assert_eq!(
        ingest::sniff(&head("pytest-json-report/shop/report.json")),
        Some(Shape::Document)
    );
    assert_eq!(
        ingest::sniff(&head(
            "maven-surefire/ticketing/TEST-fixtures.ticketing.SeatsTest.xml"
        )),
        Some(Shape::Document)
    );
    // Too little written yet to tell.
    assert_eq!(
        ingest::sniff(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        None
    );
    assert_eq!(ingest::sniff(b"{"), None);
    // A half-written first line still tells by its first key.
    assert_eq!(
        ingest::sniff(b"{\"pytest_version\": \"9.2"),
        Some(Shape::Lines)
    );
    assert_eq!(
        ingest::sniff(b"{\"numFailedTestSuites\":3,\"numFa"),
        Some(Shape::Document)
    );
}
