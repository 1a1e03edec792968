//! End to end, watching: the real binary in a real pseudo-terminal, real
//! files written while it watches, the screen read back through vt100.
//! A fast runner is followed live; the results directory deleted and
//! re-created, an event storm, a same-size rewrite, an unreadable report
//! and running out of inotify watches are all recovered from on screen.
//! Waiting is on the terminal's output, bounded by a deadline; the only
//! sleeps pace the simulated test runner.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::pty::Tui;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reports");

/// A JUnit report of `n` passing tests, and one failing with `message`.
fn junit(n: usize, message: Option<&str>) -> String {
    let mut s = String::from("<testsuite name=\"s\">");
    for i in 0..n {
        s.push_str(&format!(
            "<testcase classname=\"tests.test_x\" name=\"test_{i}\" time=\"0.1\"/>"
        ));
    }
    if let Some(m) = message {
        s.push_str(&format!(
            "<testcase classname=\"tests.test_x\" name=\"test_fails\"><failure message=\"{m}\">trace</failure></testcase>"
        ));
    }
    s.push_str("</testsuite>\n");
    s
}

/// Writes a file the way a careful runner finishes one: temp name, rename.
fn land(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The number in "running tests: N so far" (no total known) on the screen,
/// if shown.
fn running_count(screen: &str) -> Option<usize> {
    let at = screen.find("running tests: ")? + "running tests: ".len();
    let digits: String = screen[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn report_log_line(i: usize) -> String {
    format!(
        "{{\"nodeid\": \"tests/test_fast.py::test_{i}\", \"location\": [\"tests/test_fast.py\", {i}, \"test_{i}\"], \"keywords\": {{}}, \"outcome\": \"passed\", \"longrepr\": null, \"when\": \"call\", \"user_properties\": [], \"sections\": [], \"duration\": 0.0001, \"start\": 1.0, \"stop\": 1.0001, \"$report_type\": \"TestReport\"}}\n"
    )
}

/// A runner appends one report-log line every 2 ms for 3 s: the count on
/// screen must grow while it runs, not only once it stops.
#[test]
fn the_count_grows_on_screen_while_a_fast_runner_appends() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let iter = root.join("iter-001");
    std::fs::create_dir_all(&iter).unwrap();
    let log = iter.join("report-log.jsonl");
    std::fs::write(
        &log,
        b"{\"pytest_version\": \"9.2.0\", \"$report_type\": \"SessionStart\"}\n",
    )
    .unwrap();
    let mut tui = Tui::start(&["watch", root.to_str().unwrap()], 100, 30);
    tui.wait_text("running tests: 0 so far");

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            let start = Instant::now();
            let mut i = 0;
            while start.elapsed() < Duration::from_secs(3) {
                f.write_all(report_log_line(i).as_bytes()).unwrap();
                i += 1;
                // Pacing the simulated runner, not synchronisation.
                std::thread::sleep(Duration::from_millis(2));
            }
            done.store(true, Ordering::SeqCst);
            i
        })
    };
    // Every count the screen shows while the writer still writes.
    let mut during: Vec<usize> = Vec::new();
    while !done.load(Ordering::SeqCst) {
        assert!(tui.read_some(), "loopdeck exited");
        if let Some(n) = running_count(&tui.screen())
            && n > 0
            && during.last() != Some(&n)
            && !done.load(Ordering::SeqCst)
        {
            during.push(n);
        }
    }
    let total = writer.join().unwrap();
    tui.wait_text(&format!("running tests: {total} so far"));
    assert!(
        during.windows(2).all(|w| w[0] < w[1]),
        "the count never goes back: {during:?}"
    );
    assert!(
        during.len() >= 5,
        "the count grew on screen only {} times during a 3 s run of {total} tests: {during:?}",
        during.len()
    );
    tui.press("q");
    assert!(tui.wait_exit().success());
}

/// `rm -rf DIR; mkdir DIR`, then `mv DIR DIR.old; mkdir DIR`: each time a
/// report written into the new directory appears.
#[test]
fn a_results_directory_deleted_and_re_created_is_watched_again() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("results");
    land(&root.join("iter-001/junit.xml"), junit(2, None).as_bytes());
    let mut tui = Tui::start(&["watch", root.to_str().unwrap()], 100, 30);
    tui.wait_text("2/2 passed");

    std::fs::remove_dir_all(&root).unwrap();
    tui.wait_text("waiting for the first report");
    std::fs::create_dir(&root).unwrap();
    land(&root.join("iter-001/junit.xml"), junit(3, None).as_bytes());
    tui.wait_text("3/3 passed");
    // Still watched natively after that: a second iteration shows too.
    land(&root.join("iter-002/junit.xml"), junit(4, None).as_bytes());
    tui.wait_text("4/4 passed");

    std::fs::rename(&root, parent.path().join("results.old")).unwrap();
    tui.wait_text("waiting for the first report");
    std::fs::create_dir(&root).unwrap();
    land(&root.join("iter-007/junit.xml"), junit(5, None).as_bytes());
    tui.wait_text("5/5 passed");
    tui.wait_text("Iteration 7");
    tui.press("q");
    assert!(tui.wait_exit().success());
}

/// Thousands of files created and deleted, three times over, then one real
/// report: it appears, and no warning names a file of the storm.
#[test]
fn after_an_event_storm_the_real_report_appears_without_stale_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let iter = root.join("iter-001");
    land(&iter.join("first.xml"), junit(1, None).as_bytes());
    let mut tui = Tui::start(&["watch", root.to_str().unwrap()], 100, 30);
    tui.wait_text("1/1 passed");
    common::storm(&iter, 5000, 3);
    land(&iter.join("junit.xml"), junit(6, None).as_bytes());
    // test_0 is in both reports: merged by id.
    tui.wait_text("6/6 passed");
    tui.press("6");
    tui.wait_for("the warnings pane", |s| s.contains("Warnings"));
    let s = tui.screen();
    assert!(!s.contains("storm-"), "stale warnings:\n{s}");
    tui.press("q");
    assert!(tui.wait_exit().success());
}

/// A report overwritten in place with another of the same size is read
/// again: here a report-log whose first test flips from passed to failed,
/// far from the end of the file (a tail that only checks the bytes before
/// its offset would not notice).
#[test]
fn a_report_rewritten_in_place_with_the_same_size_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let path = root.join("iter-001/report-log.jsonl");
    let log = |first: &str| {
        let mut s =
            String::from("{\"pytest_version\": \"9.2.0\", \"$report_type\": \"SessionStart\"}\n");
        s.push_str(&report_log_line(0).replace("\"passed\"", &format!("\"{first}\"")));
        for i in 1..30 {
            s.push_str(&report_log_line(i));
        }
        s + "{\"exitstatus\": 0, \"$report_type\": \"SessionFinish\"}\n"
    };
    land(&path, log("passed").as_bytes());
    let mut tui = Tui::start(&["watch", root.to_str().unwrap()], 100, 30);
    tui.wait_text("30/30 passed");
    let again = log("failed");
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all(again.as_bytes()).unwrap();
    drop(f);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        again.len() as u64,
        "same size"
    );
    tui.wait_text("29/30 passed");
    tui.press("q");
    assert!(tui.wait_exit().success());
}

/// How to run loopdeck so that file modes apply to it: directly when not
/// root; as root, in a new user namespace where root's files are not its
/// own (`unshare -U`). None when neither works here.
fn unprivileged_wrapper() -> Option<Vec<&'static str>> {
    if !is_root() {
        return Some(Vec::new());
    }
    let works = std::process::Command::new("unshare")
        .args(["-U", "--", "true"])
        .status()
        .is_ok_and(|s| s.success());
    works.then(|| vec!["unshare", "-U", "--"])
}

/// A report turned unreadable (mode 000) keeps its data on screen and gains
/// a warning naming it; so does a shard folder turned unreadable.
#[test]
fn an_unreadable_report_keeps_its_data_and_gains_a_warning() {
    let Some(wrapper) = unprivileged_wrapper() else {
        eprintln!("SKIPPED: running as root and `unshare -U` is not available");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let report = root.join("iter-001/junit.xml");
    let shard = root.join("iter-001/shard-2");
    std::fs::create_dir_all(&shard).unwrap();
    std::fs::copy(
        format!("{FIXTURES}/pytest-junit-xunit2/shop/junit.xml"),
        &report,
    )
    .unwrap();
    land(&shard.join("more.xml"), junit(4, None).as_bytes());
    let mut tui = Tui::start_via(None, &wrapper, &["watch", root.to_str().unwrap()], 100, 30);
    tui.wait_text("17/30 passed");

    chmod(&report, 0o000);
    tui.press("6");
    tui.wait_text("cannot open");
    let s = tui.screen();
    assert!(s.contains("junit.xml"), "the warning names the file:\n{s}");
    assert!(s.contains("17/30 passed"), "the data stays:\n{s}");

    chmod(&shard, 0o000);
    tui.wait_text("cannot list shard-2");
    assert!(tui.screen().contains("17/30 passed"), "{}", tui.screen());

    // Readable again: the warnings go.
    chmod(&shard, 0o755);
    chmod(&report, 0o644);
    tui.wait_for("the warnings gone", |s| {
        !s.contains("cannot open") && !s.contains("cannot list")
    });
    assert!(tui.screen().contains("17/30 passed"), "{}", tui.screen());
    tui.press("q");
    assert!(tui.wait_exit().success());
}

/// The inotify watch limit runs out while loopdeck runs (set low in a user
/// namespace of our own: `/proc/sys/user/max_inotify_watches`): a new
/// iteration folder cannot be watched. The warnings pane says so, and a
/// report written there later still appears (polling).
#[test]
fn running_out_of_inotify_watches_while_running_is_a_warning_and_polling_takes_over() {
    // The root and iter-001: two watches, then none left.
    let script = "echo 2 > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\"";
    let works = std::process::Command::new("unshare")
        .args(["-U", "-r", "sh", "-c", script, "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        eprintln!(
            "SKIPPED: cannot lower the inotify watch limit in a user namespace (unshare -U -r)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    land(&root.join("iter-001/junit.xml"), junit(2, None).as_bytes());
    let wrapper = ["unshare", "-U", "-r", "sh", "-c", script];
    let mut tui = Tui::start_via(None, &wrapper, &["watch", root.to_str().unwrap()], 100, 30);
    tui.wait_text("2/2 passed");
    tui.press("6");
    tui.wait_text("Warnings");
    assert!(
        !tui.screen().contains("inotify watch limit"),
        "no warning while every folder is watched:\n{}",
        tui.screen()
    );
    std::fs::create_dir(root.join("iter-002")).unwrap();
    tui.wait_text("inotify watch limit");
    // Written only now, long after the folder appeared: only polling sees it.
    land(&root.join("iter-002/junit.xml"), junit(3, None).as_bytes());
    tui.wait_text("3/3 passed");
    tui.press("q");
    assert!(tui.wait_exit().success());
}
