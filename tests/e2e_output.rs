//! End to end, a command that prints hundreds of megabytes: the real binary
//! in a real pty runs it from `T`; while it prints, a key is answered; the
//! log on disk ends up complete (every byte, counted) and the output pane
//! shows its tail. Waits are on screen output, on the log's size and on
//! files the command writes; never a sleep.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::pty::Tui;

/// One line of output: 99 characters and a newline.
const LINE: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
/// The command prints batches of this many bytes...
const BATCH: u64 = 10_000_000;
/// ...at least this many, and then until the test says `go`.
const MIN_BATCHES: u64 = 30;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("loopdeck.toml"),
        "results_dir = \"results\"\n[test]\ncommand = \"sh ./print.sh\"\n",
    )
    .unwrap();
    std::fs::write(
        p.join("print.sh"),
        format!(
            "n=0\nwhile [ ! -e go ] || [ $n -lt {MIN_BATCHES} ]; do\n  yes {LINE} | head -c {BATCH}\n  n=$((n+1))\ndone\necho $n > batches\n"
        ),
    )
    .unwrap();
    std::fs::write(p.join(".git"), "").unwrap(); // config lookup stops at the project root
    dir
}

/// Bounded wait for the log to hold at least `bytes`.
fn wait_log(log: &Path, bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(log).map_or(0, |m| m.len()) < bytes {
        assert!(
            Instant::now() < deadline,
            "the log stays below {bytes} bytes"
        );
        std::thread::yield_now();
    }
}

#[test]
fn a_command_printing_hundreds_of_megabytes_keeps_the_keys_answering_and_the_log_complete() {
    let proj = project();
    let p = proj.path();
    let log = p.join("results/iter-001/test.log");
    let mut tui = Tui::start_in(Some(p), &[], 100, 30);
    tui.wait_text("no iteration yet");

    tui.press("T");
    tui.wait_text("test run running");
    // While the command prints (it cannot stop before `go`), a key is
    // answered: the help opens, and closes.
    wait_log(&log, 2 * BATCH);
    tui.press("?");
    tui.wait_text("this help");
    assert!(!p.join("batches").exists(), "the command stopped printing");
    tui.press("?");
    tui.wait_for("the help to close", |s| !s.contains("this help"));
    tui.wait_text("test run running");

    std::fs::write(p.join("go"), "").unwrap();
    tui.wait_text("test run succeeded");
    // The pane shows the log's tail: the outcome line after the output.
    tui.wait_text("finished: exit 0");
    let s = tui.screen();
    assert!(s.contains(&LINE[..90]), "{s}");

    // The log is complete: loopdeck's start line, every byte the command
    // printed, its outcome line; the record counts the same bytes.
    let batches: u64 = std::fs::read_to_string(p.join("batches"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(batches >= MIN_BATCHES);
    let printed = batches * BATCH;
    let runs = std::fs::read_to_string(p.join("results/iter-001/runs.jsonl")).unwrap();
    let finished: serde_json::Value = runs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event"] == "finished")
        .unwrap();
    assert_eq!(finished["output_bytes"], printed);
    assert_eq!(finished["exit_code"], 0);
    let bytes = std::fs::read(&log).unwrap();
    let first = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let last = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    assert!(bytes[..first].starts_with(b"[loopdeck] test-"));
    assert!(bytes[last..].starts_with(b"[loopdeck] test-"));
    let output = &bytes[first..last];
    assert_eq!(output.len() as u64, printed);
    // A batch is 100,000 whole lines.
    assert!(
        output
            .chunks(100)
            .all(|l| l == format!("{LINE}\n").as_bytes())
    );

    tui.press("q");
    assert!(tui.wait_exit().success());
}
