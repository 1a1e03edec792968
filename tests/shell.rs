//! Completions and the man page, as the binary prints them.

use std::io::Write;
use std::process::{Command, Stdio};

fn loopdeck(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_loopdeck"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_name_the_subcommands_and_bash_accepts_its_script() {
    for shell in ["bash", "zsh", "fish"] {
        let script = loopdeck(&["completions", shell]);
        for word in ["status", "watch", "note", "json", "config"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    // bash parses it (syntax check only, nothing runs).
    let mut bash = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    bash.stdin
        .take()
        .unwrap()
        .write_all(loopdeck(&["completions", "bash"]).as_bytes())
        .unwrap();
    assert!(bash.wait().unwrap().success());
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let page = loopdeck(&["man"]);
    assert!(page.contains(".TH loopdeck 1"));
    assert!(page.contains(".SH SYNOPSIS"));
    for sub in ["watch", "status", "note", "completions"] {
        assert!(page.contains(sub), "the man page lacks {sub}");
    }
}
