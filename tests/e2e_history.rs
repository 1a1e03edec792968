//! A long history in a real pseudo-terminal: the newest iteration is on
//! screen first, older ones are kept as summaries, and stepping back to
//! one reads its tests again and lists its failures.

mod common;

use std::fs;

use common::pty::Tui;

/// A JUnit report whose one failure names the iteration.
fn junit(iteration: usize) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3" failures="1" errors="0" skipped="0">
<testcase classname="tests.test_api" name="test_ok" time="0.1"/>
<testcase classname="tests.test_api" name="test_also_ok" time="0.1"/>
<testcase classname="tests.test_api" name="test_iteration_{iteration}" time="0.1"><failure message="AssertionError: broken in iteration {iteration}">trace</failure></testcase>
</testsuite></testsuites>
"#
    )
}

#[test]
fn stepping_back_through_a_compact_history_shows_each_iterations_failures() {
    let tmp = tempfile::tempdir().unwrap();
    for i in 1..=40 {
        let dir = tmp.path().join(format!("iter-{i:03}"));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("junit.xml"), junit(i)).unwrap();
    }
    let mut tui = Tui::start(&["watch", tmp.path().to_str().unwrap()], 120, 40);
    tui.wait_text("broken in iteration 40");
    // The whole history fills in behind the first frame.
    tui.wait_for("all 40 iterations known", |s| s.contains("iter 40/40"));
    for i in (36..40).rev() {
        tui.press("[");
        tui.wait_text(&format!("broken in iteration {i}"));
    }
    // And forward again to the live one.
    tui.press("G");
    tui.wait_text("broken in iteration 40");
}

#[test]
fn a_past_iteration_shows_its_own_output() {
    let tmp = tempfile::tempdir().unwrap();
    for i in 1..=2 {
        let dir = tmp.path().join(format!("iter-{i:03}"));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("junit.xml"), junit(i)).unwrap();
        fs::write(
            dir.join("test.log"),
            format!("collected 3 items\npytest said: run of iteration {i}\n"),
        )
        .unwrap();
    }
    let mut tui = Tui::start(&["watch", tmp.path().to_str().unwrap()], 120, 40);
    tui.wait_text("pytest said: run of iteration 2");
    tui.press("[");
    tui.wait_text("pytest said: run of iteration 1");
    assert!(
        !tui.screen().contains("run of iteration 2"),
        "iteration 1 shows its own log, not the latest's:\n{}",
        tui.screen()
    );
    tui.wait_text("Output · iteration 1 · last test run");
    tui.press("G");
    tui.wait_text("pytest said: run of iteration 2");
}
