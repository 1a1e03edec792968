//! `loopdeck test` prints the command's output as the log gets it: piped,
//! the bytes as they are (the log's); on a terminal, sanitized, so escape
//! sequences from the command never reach it. The log holds the bytes in
//! both cases.

mod common;

use std::path::Path;

use common::pty::Tui;

/// The command: a window title (OSC), a clipboard write (OSC 52), a screen
/// clear, colour, plain text, and a last line with no newline.
const PRINT: &str = r"printf '\033]0;evil title\007\033]52;c;aGkK\007\033[2Jcleared\n\033[31mred\033[0m\tx\nplain\n' ; printf 'last' >&2";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("loopdeck.toml"),
        format!(
            "results_dir = \"results\"\n[test]\ncommand = \"{}\"\n",
            PRINT.replace('\\', "\\\\").replace('"', "\\\"")
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join(".git"), "").unwrap();
    dir
}

fn log(p: &Path) -> Vec<u8> {
    std::fs::read(p.join("results/iter-001/test.log")).unwrap()
}

const RAW: &[u8] =
    b"\x1b]0;evil title\x07\x1b]52;c;aGkK\x07\x1b[2Jcleared\n\x1b[31mred\x1b[0m\tx\nplain\nlast";

#[test]
fn piped_stdout_gets_the_logs_bytes() {
    let proj = project();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loopdeck"))
        .arg("test")
        .current_dir(proj.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = log(proj.path());
    assert!(log.windows(RAW.len()).any(|w| w == RAW));
    // stdout is the log: loopdeck's start line, the bytes, its outcome line.
    assert_eq!(out.stdout, log);
    assert!(out.stdout.starts_with(b"[loopdeck] test-"));
}

#[test]
fn a_terminal_gets_the_output_sanitized() {
    let proj = project();
    let mut tui = Tui::start_in(Some(proj.path()), &["test"], 100, 30);
    assert!(tui.wait_exit().success());
    let screen = tui.screen();
    for shown in ["cleared", "red     x", "plain", "last", "finished: exit 0"] {
        assert!(screen.contains(shown), "{shown:?} not in\n{screen}");
    }
    // Nothing of the command's escape sequences reached the terminal.
    for seq in [&b"\x1b]"[..], b"\x1b[2J", b"\x1b[31m"] {
        assert!(
            !tui.raw.windows(seq.len()).any(|w| w == seq),
            "{:?} reached the terminal",
            String::from_utf8_lossy(seq)
        );
    }
    // The log has them all.
    let log = log(proj.path());
    assert!(log.windows(RAW.len()).any(|w| w == RAW));
}
