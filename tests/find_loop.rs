//! One way to find the loop: from a project folder with a loopdeck.toml
//! (or any folder below it, up to the git root, or with --config), every
//! subcommand uses its results directory and goal; a flag overrides it.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::pty::Tui;

const JUNIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/reports/pytest-junit-xunit2/shop/junit.xml"
);

fn project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    fs::create_dir(p.join(".git")).unwrap();
    fs::create_dir_all(p.join("src/deep")).unwrap();
    fs::write(
        p.join("loopdeck.toml"),
        "results_dir = \"out\"\ngoal = 466\n[test]\ncommand = \"true\"\n",
    )
    .unwrap();
    for i in 1..=2 {
        let it = p.join(format!("out/iter-{i:03}"));
        fs::create_dir_all(&it).unwrap();
        fs::copy(JUNIT, it.join("junit.xml")).unwrap();
    }
    tmp
}

fn loopdeck(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loopdeck"))
        .current_dir(cwd)
        .args(args)
        .env("XDG_CACHE_HOME", cwd.join(".cache-for-test"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn status_and_note_use_the_config_from_the_project_and_below_it() {
    let tmp = project();
    let p = tmp.path();
    for cwd in [p.to_path_buf(), p.join("src/deep")] {
        let (_, out, err) = loopdeck(&cwd, &["status", "--json"]);
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
        assert_eq!(v["iteration_key"], "iter-002", "from {}", cwd.display());
        assert_eq!(v["iterations"], 2);
        assert_eq!(v["goal"], 466, "the config's goal");
    }
    // --goal overrides the config's.
    let (_, out, _) = loopdeck(p, &["status", "--json", "--goal", "70"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["goal"], 70);

    // note writes into the config's latest iteration, not into the cwd.
    let (code, _, err) = loopdeck(&p.join("src"), &["note", "--issue", "HTTP 403"]);
    assert_eq!(code, 0, "{err}");
    let written = fs::read_to_string(p.join("out/iter-002/iteration.json")).unwrap();
    assert!(written.contains("HTTP 403"));
    assert!(!p.join("src/iter-001").exists() && !p.join("iter-001").exists());

    // From anywhere else, --config finds the same loop.
    let elsewhere = tempfile::tempdir().unwrap();
    let config = p.join("loopdeck.toml");
    let (_, out, _) = loopdeck(
        elsewhere.path(),
        &["status", "--json", "--config", config.to_str().unwrap()],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["iteration_key"], "iter-002");
    assert_eq!(v["goal"], 466);
    // A directory given on the command line wins over the config's.
    let (_, out, _) = loopdeck(
        p,
        &["status", "--json", p.join("out/iter-001").to_str().unwrap()],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["iterations"], 1, "that folder alone is one iteration");
    assert_ne!(v["goal"], 466, "the config drives another directory");
}

#[test]
fn the_screen_shows_the_config_goal() {
    let tmp = project();
    let mut tui = Tui::start_in(Some(&tmp.path().join("src")), &[], 100, 30);
    tui.wait_for("the header counts toward the config's goal", |s| {
        s.lines()
            .next()
            .is_some_and(|l| l.contains("/466 verified"))
    });
}
