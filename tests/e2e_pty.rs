//! End to end: the real binary in a real pseudo-terminal, real files written
//! while it watches, assertions on the screen a vt100 parser reconstructs.
//! Waiting is on the terminal's output (each chunk re-checks the screen),
//! bounded by a deadline; never a sleep.

mod common;

use std::io::Write;
use std::path::Path;

use common::pty::Tui;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reports");

fn copy(from: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    // Write to a temp name, then rename: the way a careful runner finishes a file.
    let tmp = to.with_extension("tmp-write");
    std::fs::copy(format!("{FIXTURES}/{from}"), &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

#[test]
fn watches_reports_appear_live_and_quit_restores_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut tui = Tui::start(&["watch", root.to_str().unwrap()], 100, 30);
    tui.wait_text("waiting for the first report");
    assert!(
        tui.parser.screen().alternate_screen(),
        "UI runs in the alternate screen"
    );

    // A finished JUnit report lands in iteration 1.
    copy(
        "pytest-junit-xunit2/shop/junit.xml",
        &root.join("iter-001/junit.xml"),
    );
    tui.wait_text("13/26 passed");
    tui.wait_text("KeyError: 'durian'");
    let s = tui.screen();
    assert!(s.contains("9 failing"), "failing count on screen:\n{s}");
    assert!(
        s.contains("tests/test_inventory.py"),
        "module on screen:\n{s}"
    );

    // Iteration 2 streams a report-log line by line: the UI follows live.
    let log = std::fs::read_to_string(format!("{FIXTURES}/pytest-reportlog/shop/report-log.jsonl"))
        .unwrap();
    let lines: Vec<&str> = log.lines().collect();
    std::fs::create_dir_all(root.join("iter-002")).unwrap();
    let path = root.join("iter-002/report-log.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    let half = lines.len() / 2;
    for l in &lines[..half] {
        writeln!(f, "{l}").unwrap();
    }
    f.flush().unwrap();
    tui.wait_text("Iteration 2");
    tui.wait_text("running tests");
    for l in &lines[half..] {
        writeln!(f, "{l}").unwrap();
    }
    f.flush().unwrap();
    tui.wait_text("13/26 passed");

    // Back to iteration 1 and live again.
    tui.press("[");
    tui.wait_text("PAST");
    tui.press("G");
    tui.wait_text("LIVE");

    tui.press("q");
    let status = tui.wait_exit();
    assert!(status.success(), "clean exit: {status:?}");
    assert!(
        !tui.parser.screen().alternate_screen(),
        "alternate screen left on quit"
    );
}

#[test]
fn broken_and_hostile_reports_are_named_and_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy(
        "pytest-junit-xunit2/shop/junit.xml",
        &root.join("iter-001/junit.xml"),
    );
    let it = root.join("iter-001");
    std::fs::write(
        it.join("shard-2.xml"),
        b"<testsuites><testsuite name=\"x\"><testcase name=\"a\"",
    )
    .unwrap();
    std::fs::write(it.join("deploy.json"), b"{not json").unwrap();
    let hostile = "<testsuite name=\"h\" tests=\"1\"><testcase classname=\"tests.test_evil\" name=\"test_title\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}x\"><failure message=\"boom \u{1b}]52;c;aGVsbG8=\u{7} end\">trace</failure></testcase></testsuite>";
    std::fs::write(it.join("evil.xml"), hostile).unwrap();

    let mut tui = Tui::start(&["watch", root.to_str().unwrap()], 100, 30);
    tui.wait_text("shard-2.xml");
    tui.wait_for("the good report still shown", |s| {
        s.contains("KeyError: 'durian'")
    });
    tui.press("6");
    tui.wait_text("deploy.json");
    tui.press("1");
    tui.wait_text("<U+202E>");
    let raw = String::from_utf8_lossy(&tui.raw);
    assert!(
        !raw.contains("\u{1b}]"),
        "no OSC sequence from a report reached the terminal"
    );
    assert!(!raw.contains("pwned"), "the title payload was removed");
    assert!(!raw.contains('\u{202e}'), "bidi override never sent raw");
    tui.press("q");
    assert!(tui.wait_exit().success());
}

#[test]
fn sigterm_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut tui = Tui::start(&["watch", dir.path().to_str().unwrap()], 80, 24);
    tui.wait_text("waiting for the first report");
    let pid = tui.child.process_id().expect("pid") as i32;
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    tui.wait_exit();
    assert!(
        !tui.parser.screen().alternate_screen(),
        "alternate screen left on SIGTERM"
    );
}
