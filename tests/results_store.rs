//! The results layer (layout, safe reading, incremental tail, assembly) with
//! a tiny fake report format, so these tests do not depend on the real
//! parsers in `crate::ingest`:
//!
//! * document: `<run>` on the first line, then `pass ID` / `fail ID MESSAGE`
//!   lines, then `</run>`; without `</run>` it is "truncated";
//! * lines: one JSON object per line, `{"id":"a","outcome":"passed"}`, and
//!   `{"end":true}` at the end of the run.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use loopdeck::ingest::{IngestError, Shape};
use loopdeck::model::{Failure, Outcome, Report, TestCase};
use loopdeck::results::{Changes, Formats, IterationData, Layout, LineFeed, Store};

struct Fake;

fn case(id: &str, outcome: Outcome, message: Option<&str>) -> TestCase {
    TestCase {
        id: id.to_string(),
        module: id.split("::").next().unwrap_or("").into(),
        outcome,
        duration_secs: None,
        failure: message.map(|m| {
            Box::new(Failure {
                message: m.to_string(),
                ..Failure::default()
            })
        }),
    }
}

impl Formats for Fake {
    fn sniff(&self, head: &[u8]) -> Option<Shape> {
        match head.first() {
            Some(b'<') => Some(Shape::Document),
            Some(b'{') => Some(Shape::Lines),
            _ => None,
        }
    }

    fn parse(&self, bytes: &[u8]) -> Result<Report, IngestError> {
        if bytes.is_empty() {
            return Err(IngestError::Empty);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| IngestError::Binary)?;
        if text.contains('\0') {
            return Err(IngestError::Binary);
        }
        if !text.starts_with("<run>") {
            return Err(IngestError::Unrecognized);
        }
        if !text.trim_end().ends_with("</run>") {
            return Err(IngestError::Truncated("root element not closed".into()));
        }
        let mut tests = Vec::new();
        for line in text.lines() {
            let mut parts = line.splitn(3, ' ');
            match (parts.next(), parts.next()) {
                (Some("pass"), Some(id)) => tests.push(case(id, Outcome::Passed, None)),
                (Some("fail"), Some(id)) => tests.push(case(id, Outcome::Failed, parts.next())),
                _ => {}
            }
        }
        Ok(Report {
            format: "fake document",
            tests,
            complete: true,
            ..Report::default()
        })
    }

    fn line_reader(&self) -> Box<dyn LineFeed> {
        Box::new(FakeLines::default())
    }

    fn merge(&self, reports: &[&Report]) -> Vec<TestCase> {
        let mut out: Vec<TestCase> = Vec::new();
        for r in reports {
            for t in &r.tests {
                if !out.iter().any(|o| o.id == t.id) {
                    out.push(t.clone());
                }
            }
        }
        out
    }
}

#[derive(Default)]
struct FakeLines {
    partial: Vec<u8>,
    report: Report,
    line_no: usize,
}

impl LineFeed for FakeLines {
    fn feed(&mut self, chunk: &[u8]) {
        self.partial.extend_from_slice(chunk);
        while let Some(nl) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=nl).collect();
            self.line_no += 1;
            match serde_json::from_slice::<serde_json::Value>(&line) {
                Ok(v) if v["end"] == true => self.report.complete = true,
                Ok(v) => {
                    let id = v["id"].as_str().unwrap_or("?");
                    let outcome = if v["outcome"] == "passed" {
                        Outcome::Passed
                    } else {
                        Outcome::Failed
                    };
                    self.report
                        .tests
                        .push(case(id, outcome, v["message"].as_str()));
                }
                Err(e) => self
                    .report
                    .warnings
                    .push(format!("line {}: {e}", self.line_no)),
            }
        }
    }

    fn report(&self) -> Report {
        Report {
            format: "fake lines",
            ..self.report.clone()
        }
    }
}

fn store(root: &Path) -> Store {
    Store::open_with(root, Arc::new(Fake)).expect("open store")
}

fn write(path: &Path, content: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, content).unwrap();
}

fn append(path: &Path, content: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(content)
        .unwrap();
}

fn ids(it: &IterationData) -> Vec<&str> {
    it.tests.iter().map(|t| t.id.as_str()).collect()
}

fn keys(items: &[IterationData]) -> Vec<&str> {
    items.iter().map(|i| i.key.as_str()).collect()
}

fn only(changes: &Changes) -> &IterationData {
    assert_eq!(changes.updated.len(), 1, "{changes:#?}");
    &changes.updated[0]
}

const DOC: &[u8] = b"<run>\npass a::one\nfail a::two boom 42\n</run>\n";

// ---------------------------------------------------------------- layout

#[test]
fn numbered_subfolders_sort_numerically() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in ["iter-10", "iter-2", "3", "run-1", "logs", ".tmp-5"] {
        fs::create_dir(root.join(name)).unwrap();
    }
    write(&root.join("iter-2/r.xml"), DOC);
    write(&root.join("notes.xml"), DOC); // root files are not read in a loop
    std::os::unix::fs::symlink("/etc", root.join("iter-99")).unwrap();

    let mut s = store(root);
    let changes = s.refresh(None);
    assert_eq!(changes.layout, Layout::Loop);
    assert_eq!(keys(&changes.updated), ["run-1", "iter-2", "3", "iter-10"]);
    let numbers: Vec<u64> = changes.updated.iter().map(|i| i.number).collect();
    assert_eq!(numbers, [1, 2, 3, 10]);
    assert_eq!(ids(&changes.updated[1]), ["a::one", "a::two"]);
    assert!(changes.updated[0].tests.is_empty());
    assert_eq!(keys(&s.iterations()), ["run-1", "iter-2", "3", "iter-10"]);
    assert!(
        changes.updated.iter().all(|i| i.warnings.is_empty()),
        "{changes:#?}"
    );
}

#[test]
fn flat_dir_is_one_iteration() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("junit-out");
    write(&root.join("r.xml"), DOC);
    write(
        &root.join("reports/more.xml"),
        b"<run>\npass b::three\n</run>\n",
    );
    let mut s = store(&root);
    let changes = s.refresh(None);
    assert_eq!(changes.layout, Layout::Single);
    let it = only(&changes);
    assert_eq!(it.key, "junit-out");
    assert_eq!(it.number, 1);
    assert_eq!(it.path, fs::canonicalize(&root).unwrap());
    let mut got = ids(it);
    got.sort();
    assert_eq!(got, ["a::one", "a::two", "b::three"]);
    let names: Vec<&str> = it.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["r.xml", "reports/more.xml"]);
    assert_eq!(it.files[0].format.as_deref(), Some("fake document"));
    assert_eq!(it.files[0].tests, 2);
    assert!(it.files[0].complete);
    assert_eq!(it.files[0].bytes, DOC.len() as u64);
}

#[test]
fn empty_dir_then_report_then_loop() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out");
    fs::create_dir(&root).unwrap();
    let mut s = store(&root);
    let changes = s.refresh(None);
    assert!(
        changes.updated.is_empty() && changes.removed.is_empty(),
        "{changes:#?}"
    );
    assert!(s.iterations().is_empty());

    // A report appears: the root is one iteration.
    write(&root.join("r.xml"), DOC);
    let changes = s.refresh(Some(&[root.join("r.xml")]));
    assert_eq!(keys(&changes.updated), ["out"]);

    // A numbered folder appears: now it is a loop, the flat view goes away.
    write(&root.join("iter-001/r.xml"), DOC);
    let changes = s.refresh(Some(&[root.join("iter-001")]));
    assert_eq!(changes.layout, Layout::Loop);
    assert_eq!(changes.removed, ["out"]);
    assert_eq!(keys(&changes.updated), ["iter-001"]);
}

#[test]
fn open_fails_on_missing_or_non_directory_root() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Store::open(&dir.path().join("nope")).is_err());
    write(&dir.path().join("file"), b"x");
    assert!(Store::open(&dir.path().join("file")).is_err());
}

// ---------------------------------------------------------------- refresh scope

#[test]
fn only_touched_iterations_are_updated_and_removals_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("iter-1/r.xml"), DOC);
    write(&root.join("iter-2/r.xml"), DOC);
    let mut s = store(root);
    assert_eq!(s.refresh(None).updated.len(), 2);

    let changed = root.join("iter-2/r.xml");
    write(&changed, b"<run>\npass z::new\n</run>\n");
    let changes = s.refresh(Some(std::slice::from_ref(&changed)));
    assert_eq!(ids(only(&changes)), ["z::new"]);
    assert_eq!(changes.updated[0].key, "iter-2");

    // Nothing changed: nothing to report, nothing read.
    let before = s.bytes_read();
    let changes = s.refresh(Some(&[]));
    assert!(changes.is_empty(), "{changes:#?}");
    assert_eq!(s.bytes_read(), before);

    fs::remove_dir_all(root.join("iter-2")).unwrap();
    let changes = s.refresh(Some(&[root.join("iter-2")]));
    assert_eq!(changes.removed, ["iter-2"]);
    assert!(changes.updated.is_empty());
    assert_eq!(keys(&s.iterations()), ["iter-1"]);

    // A file removed from an iteration.
    fs::remove_file(root.join("iter-1/r.xml")).unwrap();
    let changes = s.refresh(Some(&[root.join("iter-1/r.xml")]));
    let it = only(&changes);
    assert!(it.tests.is_empty() && it.files.is_empty());
}

#[test]
fn meta_and_deploy_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("iter-1/iteration.json"),
        br#"{"issue":"HTTP 500 on /cart","started":"2026-11-24T10:05:00+01:00"}"#,
    );
    write(
        &root.join("iter-1/deploy.json"),
        br#"{"service":"backend","revision":"00094-x55","state":"rolling"}"#,
    );
    let mut s = store(root);
    let changes = s.refresh(None);
    let it = only(&changes);
    assert_eq!(
        it.meta.as_ref().unwrap().issue.as_deref(),
        Some("HTTP 500 on /cart")
    );
    assert_eq!(
        it.started.unwrap().to_rfc3339(),
        "2026-11-24T09:05:00+00:00"
    );
    let deploy = it.deploy.as_ref().unwrap();
    assert_eq!(deploy.state, loopdeck::model::DeployState::Deploying);
    assert_eq!(deploy.revision.as_deref(), Some("00094-x55"));
    assert!(it.warnings.is_empty(), "{:?}", it.warnings);
    assert!(it.modified.is_some());
}

// ---------------------------------------------------------------- tail

#[test]
fn lines_are_tailed_from_their_offset() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let log = root.join("iter-1/log.jsonl");
    let first = b"{\"id\":\"t::a\",\"outcome\":\"passed\"}\n{\"id\":\"t::b\",\"outcome\":\"failed\",\"message\":\"nope\"}\n{\"id\":\"t::";
    write(&log, first);
    let mut s = store(root);
    let changes = s.refresh(None);
    let it = only(&changes);
    assert_eq!(ids(it), ["t::a", "t::b"]);
    assert!(it.running);
    assert_eq!(it.files[0].format.as_deref(), Some("fake lines"));
    assert!(!it.files[0].complete);
    assert_eq!(s.bytes_read(), first.len() as u64);

    // The half line completes: only the new bytes are read.
    let rest = b"c\",\"outcome\":\"passed\"}\n";
    append(&log, rest);
    let before = s.bytes_read();
    let changes = s.refresh(Some(std::slice::from_ref(&log)));
    assert_eq!(ids(only(&changes)), ["t::a", "t::b", "t::c"]);
    assert_eq!(s.bytes_read() - before, rest.len() as u64);

    // Another half line: read, but no test yet.
    let half = b"{\"id\":\"t::d\",\"out";
    append(&log, half);
    let changes = s.refresh(Some(std::slice::from_ref(&log)));
    assert_eq!(ids(only(&changes)), ["t::a", "t::b", "t::c"]);
    assert_eq!(s.bytes_read() - before, (rest.len() + half.len()) as u64);

    // A bad line is a warning naming the file; the rest goes on.
    append(&log, b"come\":\"passed\"}\nnot json\n{\"end\":true}\n");
    let changes = s.refresh(Some(std::slice::from_ref(&log)));
    let it = only(&changes);
    assert_eq!(ids(it), ["t::a", "t::b", "t::c", "t::d"]);
    assert!(!it.running);
    assert!(it.files[0].complete);
    assert_eq!(it.warnings.len(), 1, "{:?}", it.warnings);
    assert!(
        it.warnings[0].starts_with("iter-1/log.jsonl: line 5:"),
        "{:?}",
        it.warnings
    );

    // Named again without any change: nothing new is read or reported.
    let before = s.bytes_read();
    let changes = s.refresh(Some(std::slice::from_ref(&log)));
    assert!(changes.is_empty(), "{changes:#?}");
    assert_eq!(s.bytes_read(), before);
}

#[test]
fn truncate_and_rewrite_resets_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let log = root.join("iter-1/log.jsonl");
    let run1 =
        b"{\"id\":\"old::a\",\"outcome\":\"passed\"}\n{\"id\":\"old::b\",\"outcome\":\"passed\"}\n";
    write(&log, run1);
    let mut s = store(root);
    assert_eq!(ids(only(&s.refresh(None))), ["old::a", "old::b"]);

    // Rewritten in place (same inode) and already longer than before.
    let run2 = b"{\"id\":\"new::x\",\"outcome\":\"failed\"}\n{\"id\":\"new::y\",\"outcome\":\"passed\"}\n{\"id\":\"new::z\",\"outcome\":\"passed\"}\n";
    assert!(run2.len() > run1.len());
    File::create(&log).unwrap().write_all(run2).unwrap();
    let changes = s.refresh(Some(std::slice::from_ref(&log)));
    let it = only(&changes);
    assert_eq!(ids(it), ["new::x", "new::y", "new::z"]);
    assert!(it.running);

    // Truncated to something shorter.
    let run3 = b"{\"id\":\"r3::q\",\"outcome\":\"passed\"}\n";
    File::create(&log).unwrap().write_all(run3).unwrap();
    let changes = s.refresh(Some(std::slice::from_ref(&log)));
    assert_eq!(ids(only(&changes)), ["r3::q"]);

    // Replaced by another file (new inode) of the same length.
    let tmp = root.join("iter-1/.log.tmp");
    write(&tmp, b"{\"id\":\"r4::w\",\"outcome\":\"passed\"}\n");
    fs::rename(&tmp, &log).unwrap();
    let changes = s.refresh(Some(&[log.clone(), tmp]));
    assert_eq!(ids(only(&changes)), ["r4::w"]);
}

// ---------------------------------------------------------------- being written

#[test]
fn half_written_document_keeps_last_good_parse_until_it_settles() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let doc = root.join("iter-2/junit.xml");
    write(&doc, DOC);
    let mut s = store(root);
    assert_eq!(ids(only(&s.refresh(None))), ["a::one", "a::two"]);
    assert_eq!(s.recheck_in(), None);

    // The runner truncated and is writing: pending, quiet, last good kept.
    write(&doc, b"<run>\npass a::one\n");
    let changes = s.refresh(Some(std::slice::from_ref(&doc)));
    let it = only(&changes);
    assert_eq!(ids(it), ["a::one", "a::two"]);
    assert!(it.files[0].pending);
    assert_eq!(
        it.files[0].error.as_deref(),
        Some("truncated: root element not closed")
    );
    assert!(it.warnings.is_empty(), "{:?}", it.warnings);
    let recheck = s.recheck_in().expect("a pending file wants a re-check");
    assert!(recheck <= Duration::from_secs(5));

    // Empty is pending too.
    write(&doc, b"");
    let it = s
        .refresh(Some(std::slice::from_ref(&doc)))
        .updated
        .remove(0);
    assert!(it.files[0].pending);
    assert_eq!(ids(&it), ["a::one", "a::two"]);
    assert!(it.warnings.is_empty());

    // It stays broken: once it has not changed for the settle time, it is
    // named in a warning (re-checked without any file event).
    write(&doc, b"<run>\npass a::one\n");
    s.refresh(Some(std::slice::from_ref(&doc)));
    let old = SystemTime::now() - Duration::from_secs(60);
    File::options()
        .write(true)
        .open(&doc)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let changes = s.refresh(Some(&[]));
    let it = only(&changes);
    assert!(!it.files[0].pending);
    assert_eq!(
        it.warnings,
        ["iter-2/junit.xml: truncated: root element not closed"]
    );
    assert_eq!(ids(it), ["a::one", "a::two"]);
    assert_eq!(s.recheck_in(), Some(Duration::ZERO));

    // Completed: warning gone, new data in.
    write(&doc, b"<run>\npass a::one\npass a::two\n</run>\n");
    let changes = s.refresh(Some(std::slice::from_ref(&doc)));
    let it = only(&changes);
    assert!(it.warnings.is_empty());
    assert_eq!(it.tests[1].outcome, Outcome::Passed);
    assert_eq!(s.recheck_in(), None);
}

#[test]
fn settle_time_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("iter-1/junit.xml"), b"<run>\n");
    let mut s = store(root);
    s.set_settle(Duration::ZERO);
    let changes = s.refresh(None);
    assert_eq!(
        only(&changes).warnings,
        ["iter-1/junit.xml: truncated: root element not closed"]
    );
}

// ---------------------------------------------------------------- hostile files

#[test]
fn fifo_does_not_block_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    write(&root.join("iter-1/ok.xml"), DOC);
    let fifo = root.join("iter-1/report.xml");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);

    // Run in a thread: if reading blocked, the test fails instead of hanging.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut s = store(&root);
        let _ = tx.send(s.refresh(None));
    });
    let changes = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("refresh blocked on a FIFO");
    let it = only(&changes);
    assert_eq!(ids(it), ["a::one", "a::two"]);
    assert_eq!(
        it.warnings,
        ["iter-1/report.xml: not a regular file (fifo); not read"]
    );
}

#[test]
fn symlinks_out_of_the_root_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("results");
    let outside = dir.path().join("secret.xml");
    write(&outside, b"<run>\npass leaked::secret\n</run>\n");
    write(&root.join("iter-1/ok.xml"), DOC);
    write(
        &root.join("iter-1/shard/real.xml"),
        b"<run>\npass inside::linked\n</run>\n",
    );
    let it1 = root.join("iter-1");
    std::os::unix::fs::symlink("/etc/passwd", it1.join("passwd.xml")).unwrap();
    std::os::unix::fs::symlink(&outside, it1.join("secret.xml")).unwrap();
    std::os::unix::fs::symlink("../../secret.xml", it1.join("rel.xml")).unwrap();
    std::os::unix::fs::symlink("/etc", it1.join("etcdir")).unwrap();
    std::os::unix::fs::symlink("shard/real.xml", it1.join("inside.xml")).unwrap();
    std::os::unix::fs::symlink(dir.path(), root.join("iter-2")).unwrap();

    let mut s = store(&root);
    let changes = s.refresh(None);
    let it = only(&changes);
    assert_eq!(it.key, "iter-1");
    let mut got = ids(it);
    got.sort();
    assert_eq!(got, ["a::one", "a::two", "inside::linked"]);
    let refused = "symbolic link to outside the results directory (or to nothing); not followed";
    assert_eq!(
        it.warnings,
        [
            format!("iter-1/passwd.xml: {refused}"),
            format!("iter-1/rel.xml: {refused}"),
            format!("iter-1/secret.xml: {refused}"),
        ]
    );
}

#[test]
fn binary_and_malformed_files_warn_while_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("iter-1/ok.xml"), DOC);
    write(
        &root.join("iter-1/blob.xml"),
        b"\x7fELF\x02\x01\x01\0\0\0\0",
    );
    write(&root.join("iter-1/deploy.json"), b"{\"state\": live}");
    write(
        &root.join("iter-1/iteration.json"),
        br#"{"issue":"login 403"}"#,
    );
    write(&root.join("iter-1/test.log"), b"\0\0\0 raw output");
    write(
        &root.join("iter-1/runs.jsonl"),
        b"{\"event\":\"started\"}\n",
    );
    write(&root.join("iter-1/coverage.json"), b"[1,2,3]");
    let mut s = store(root);
    s.set_settle(Duration::ZERO);
    let changes = s.refresh(None);
    let it = only(&changes);
    assert_eq!(ids(it), ["a::one", "a::two"]);
    assert_eq!(
        it.meta.as_ref().unwrap().issue.as_deref(),
        Some("login 403")
    );
    assert!(it.deploy.is_none());
    assert_eq!(it.warnings.len(), 3, "{:?}", it.warnings);
    assert_eq!(
        it.warnings[0],
        "iter-1/blob.xml: binary data, not a text report"
    );
    assert_eq!(
        it.warnings[1],
        "iter-1/coverage.json: not a test report format loopdeck knows"
    );
    assert!(
        it.warnings[2].starts_with("iter-1/deploy.json: invalid JSON:"),
        "{:?}",
        it.warnings
    );
    let names: Vec<&str> = it.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["blob.xml", "coverage.json", "ok.xml"]);
}

#[test]
fn huge_document_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let big = root.join("iter-1/big.xml");
    write(&big, b"<run>\npass x::y\n");
    // Sparse: 513 MiB on paper, nothing on disk.
    OpenOptions::new()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(513 * 1024 * 1024)
        .unwrap();
    write(&root.join("iter-1/ok.xml"), DOC);
    let mut s = store(root);
    let changes = s.refresh(None);
    let it = only(&changes);
    assert_eq!(ids(it), ["a::one", "a::two"]);
    assert_eq!(
        it.warnings,
        ["iter-1/big.xml: 513 MB, over the 512 MB limit for whole-document reports; not read"]
    );
    assert!(s.bytes_read() < 64 * 1024, "read {} bytes", s.bytes_read());
}

#[test]
fn untrusted_text_is_sanitised() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("iter-1/r.xml"),
        b"<run>\nfail evil::\x1b]52;c;aGk=\x07x \x1b[2Jcleared\n</run>\n",
    );
    write(&root.join("iter-1/b\x1b[31mad.xml"), b"\0");
    let mut s = store(root);
    let changes = s.refresh(None);
    let it = only(&changes);
    assert_eq!(it.tests.len(), 1);
    let t = &it.tests[0];
    for text in [t.id.as_str(), t.message()]
        .into_iter()
        .chain(it.warnings.iter().map(String::as_str))
        .chain(it.files.iter().map(|f| f.name.as_str()))
    {
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
    assert_eq!(it.warnings.len(), 1);
}

#[test]
fn iterations_created_later_are_found_by_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("iter-1/r.xml"), DOC);
    let mut s = store(root);
    s.refresh(None);
    // Only the file's path is reported (the folder's own event was missed).
    let p: PathBuf = root.join("iter-2/r.xml");
    write(&p, DOC);
    let changes = s.refresh(Some(&[p]));
    assert_eq!(keys(&changes.updated), ["iter-2"]);
    assert_eq!(keys(&s.iterations()), ["iter-1", "iter-2"]);
}

#[test]
fn half_written_iteration_json_is_pending_then_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let meta = root.join("iter-1/iteration.json");
    write(&meta, br#"{"issue":"first"}"#);
    let mut s = store(root);
    let changes = s.refresh(None);
    assert_eq!(
        only(&changes).meta.as_ref().unwrap().issue.as_deref(),
        Some("first")
    );

    write(&meta, br#"{"issue":"sec"#);
    let changes = s.refresh(Some(std::slice::from_ref(&meta)));
    let it = only(&changes);
    assert_eq!(it.meta.as_ref().unwrap().issue.as_deref(), Some("first"));
    assert!(it.warnings.is_empty(), "{:?}", it.warnings);

    let old = SystemTime::now() - Duration::from_secs(60);
    File::options()
        .write(true)
        .open(&meta)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let changes = s.refresh(Some(&[]));
    let it = only(&changes);
    assert_eq!(it.meta.as_ref().unwrap().issue.as_deref(), Some("first"));
    assert_eq!(it.warnings.len(), 1);
    assert!(
        it.warnings[0].starts_with("iter-1/iteration.json: truncated JSON:"),
        "{:?}",
        it.warnings
    );
    // Re-checking again changes nothing.
    assert!(s.refresh(Some(&[])).is_empty());
}

// ---------------------------------------------------------------- changed in place, unreadable

#[test]
fn rewritten_in_place_with_the_same_size_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The changed byte lies far before the end (outside the window a tail
    // checks), and the size stays the same.
    let long = "x".repeat(200);
    let lines = |outcome: &str| {
        format!(
            "{{\"id\":\"t::a\",\"outcome\":\"{outcome}\"}}\n{{\"id\":\"t::{long}\",\"outcome\":\"passed\"}}\n"
        )
    };
    let log = root.join("iter-1/log.jsonl");
    let doc = root.join("iter-1/junit.xml");
    write(&log, lines("passed").as_bytes());
    write(&doc, DOC);
    let mut s = store(root);
    let failing = |it: &IterationData| {
        it.tests
            .iter()
            .filter(|t| t.outcome == Outcome::Failed)
            .map(|t| (t.id.clone(), t.failure.as_ref().map(|f| f.message.clone())))
            .collect::<Vec<_>>()
    };
    let it = only(&s.refresh(None)).clone();
    assert_eq!(
        failing(&it),
        [("a::two".to_string(), Some("boom 42".into()))]
    );

    // Overwrite in place: no truncation, no new inode, same length.
    let overwrite = |path: &Path, content: &[u8]| {
        let before = fs::metadata(path).unwrap().len();
        let mut f = OpenOptions::new().write(true).open(path).unwrap();
        f.write_all(content).unwrap();
        assert_eq!(fs::metadata(path).unwrap().len(), before);
    };
    overwrite(&log, lines("failed").as_bytes());
    overwrite(&doc, &DOC.to_vec().replace_bytes(b"boom 42", b"boom 43"));
    // Found by comparing the files' state alone (a rescan, or a watcher
    // event that named something else).
    let changes = s.refresh(None);
    let it = only(&changes);
    let mut got = failing(it);
    got.sort();
    assert_eq!(
        got,
        [
            ("a::two".to_string(), Some("boom 43".into())),
            ("t::a".to_string(), None)
        ]
    );
    // And once read, naming the file again reads nothing more.
    let before = s.bytes_read();
    assert!(s.refresh(Some(&[log.clone(), doc.clone()])).is_empty());
    assert!(s.bytes_read() - before < DOC.len() as u64 + 1);
}

trait ReplaceBytes {
    fn replace_bytes(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceBytes for Vec<u8> {
    fn replace_bytes(self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = self
            .windows(from.len())
            .position(|w| w == from)
            .expect("present");
        let mut out = self[..at].to_vec();
        out.extend_from_slice(to);
        out.extend_from_slice(&self[at + from.len()..]);
        out
    }
}

/// Runs `f` on a thread whose file system uid is `nobody` when this test
/// runs as root (root reads files of any mode; the thread does not), so
/// a file's mode really decides whether it opens.
fn unprivileged<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: geteuid/setfsuid only change this thread's credentials.
            unsafe {
                if libc::geteuid() == 0 {
                    libc::setfsuid(65534);
                    // A second call returns the current fsuid.
                    assert_eq!(libc::setfsuid(65534), 65534, "cannot drop to nobody");
                }
            }
            f()
        })
        .join()
        .unwrap()
    })
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_report_that_becomes_unreadable_keeps_its_data_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    chmod(root, 0o755);
    let doc = root.join("iter-1/junit.xml");
    let log = root.join("iter-1/shard-2/log.jsonl");
    write(&doc, DOC);
    write(&log, b"{\"id\":\"t::a\",\"outcome\":\"passed\"}\n");
    let s = unprivileged(|| {
        let mut s = store(root);
        assert_eq!(only(&s.refresh(None)).tests.len(), 3);
        s
    });

    // The report turns unreadable, then the shard folder does.
    chmod(&doc, 0o000);
    let s = unprivileged(move || {
        let mut s = s;
        let changes = s.refresh(Some(std::slice::from_ref(&doc)));
        let it = only(&changes);
        assert_eq!(ids(it), ["a::one", "a::two", "t::a"], "last good data kept");
        assert_eq!(it.warnings.len(), 1, "{:?}", it.warnings);
        assert!(
            it.warnings[0].starts_with("iter-1/junit.xml: cannot open: Permission denied"),
            "{:?}",
            it.warnings
        );
        s
    });
    chmod(&root.join("iter-1/shard-2"), 0o000);
    let mut s = unprivileged(move || {
        let mut s = s;
        let changes = s.refresh(None);
        let it = only(&changes);
        assert_eq!(ids(it), ["a::one", "a::two", "t::a"], "last good data kept");
        assert_eq!(it.warnings.len(), 2, "{:?}", it.warnings);
        assert!(
            it.warnings
                .iter()
                .any(|w| w.starts_with("iter-1: cannot list shard-2: Permission denied")),
            "{:?}",
            it.warnings
        );
        s
    });

    // Readable again: the warnings go, the data stays.
    chmod(&root.join("iter-1/shard-2"), 0o755);
    chmod(&root.join("iter-1/junit.xml"), 0o644);
    let changes = unprivileged(move || s.refresh(None));
    let it = only(&changes);
    assert_eq!(ids(it), ["a::one", "a::two", "t::a"]);
    assert!(it.warnings.is_empty(), "{:?}", it.warnings);
}
