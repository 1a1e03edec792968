//! End to end, driving the loop: the real binary in a real pty with a real
//! loopdeck.toml whose commands are shell scripts. D (confirm) deploys and the
//! revision appears; T streams output and the counts change; X (confirm)
//! cancels a run and its process group dies. Waits are on screen output.

mod common;

use std::time::{Duration, Instant};

use common::pty::Tui;

const JUNIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/reports/pytest-junit-xunit2/shop/junit.xml"
);

/// A project folder: config plus deploy and test scripts. The test script
/// waits for a `go` file before writing its report, so the test controls
/// when it finishes without sleeping; it records its pid for the cancel check.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("loopdeck.toml"),
        r#"results_dir = "results"
goal = 26
service = "backend"
[test]
command = "sh ./tests.sh {iteration_dir}"
[deploy]
command = "sh ./deploy.sh"
revision_pattern = 'revision (\S+) is live'
[cancel]
grace = "2s"
"#,
    )
    .unwrap();
    std::fs::write(
        p.join("deploy.sh"),
        "echo 'building image'\nprintf '\\033[32mpushed\\033[0m\\n'\necho 'revision 00095-k7q is live'\n",
    )
    .unwrap();
    std::fs::write(
        p.join("tests.sh"),
        format!(
            "n=$(cat attempts 2>/dev/null || echo 0); n=$((n+1)); echo $n > attempts\necho $$ > \"$1/test.pid\"\necho \"collected 26 items (attempt $n)\"\nwhile [ ! -e go ]; do sleep 0.05; done\ncp '{JUNIT}' \"$1/junit.xml\"\necho '8 failed, 13 passed'\nexit 1\n"
        ),
    )
    .unwrap();
    std::fs::write(p.join(".git"), "").unwrap(); // config lookup stops at the project root
    dir
}

fn alive(pid: i32) -> bool {
    // A zombie is dead for our purposes (nothing reaps in some containers).
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn deploy_test_and_cancel_from_the_keyboard() {
    let proj = project();
    let p = proj.path();
    let mut tui = Tui::start_in(Some(p), &[], 110, 32);
    tui.wait_text("no iteration yet");

    // D asks first, naming the service; y deploys; the revision shows up.
    tui.press("D");
    tui.wait_text("Deploy backend");
    tui.press("y");
    tui.wait_text("00095-k7q");
    tui.wait_text("live since");
    tui.wait_text("deploy succeeded");
    // The log is read back at most once a frame: wait for its lines.
    tui.wait_text("pushed");
    let s = tui.screen();
    assert!(
        s.contains("pushed") && !tui.raw.windows(5).any(|w| w == b"[32mp"),
        "colour codes stripped:\n{s}"
    );

    // T streams output; when the report lands the counts change.
    tui.press("T");
    tui.wait_text("collected 26 items (attempt 1)");
    std::fs::write(p.join("go"), "").unwrap();
    tui.wait_text("13/26 passed");
    tui.wait_text("test run failed");
    std::fs::remove_file(p.join("go")).unwrap();

    // T again, then X: asks, then the whole group is terminated.
    tui.press("T");
    tui.wait_text("collected 26 items (attempt 2)");
    let pid: i32 = std::fs::read_to_string(p.join("results/iter-001/test.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    tui.press("X");
    tui.wait_text("Cancel the running test run");
    tui.press("y");
    tui.wait_text("test run cancelled");
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "test script {pid} survived the cancel"
        );
        std::thread::yield_now();
    }

    // The records are in the results directory for every other viewer.
    let runs = std::fs::read_to_string(p.join("results/iter-001/runs.jsonl")).unwrap();
    assert_eq!(
        runs.lines()
            .filter(|l| l.contains("\"event\":\"finished\""))
            .count(),
        3
    );
    assert!(runs.contains("\"cancelled\":true"));
    let deploy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.join("results/iter-001/deploy.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(deploy["state"], "live");
    assert_eq!(deploy["revision"], "00095-k7q");

    tui.press("q");
    assert!(tui.wait_exit().success());
}

#[test]
fn without_config_the_keys_explain_read_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".git"), "").unwrap();
    let results = dir.path().join("r");
    std::fs::create_dir_all(&results).unwrap();
    let mut tui = Tui::start_in(
        Some(dir.path()),
        &["watch", results.to_str().unwrap()],
        100,
        30,
    );
    tui.wait_text("waiting for the first report");
    tui.press("T");
    tui.wait_text("read-only: no loopdeck.toml");
    tui.press("q");
    assert!(tui.wait_exit().success());
}

#[test]
fn a_bad_config_names_the_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".git"), "").unwrap();
    std::fs::write(
        dir.path().join("loopdeck.toml"),
        "results_dir = \"r\"\n[deploy]\ntimeout = \"ten minutes\"\ncommand = \"x\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loopdeck"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("loopdeck.toml:3") && err.contains("[deploy] timeout"),
        "{err}"
    );
}

#[test]
fn a_run_started_by_a_script_is_watched_live_and_holds_the_lock() {
    let proj = project();
    let p = proj.path();
    let mut tui = Tui::start_in(Some(p), &[], 110, 32);
    tui.wait_text("no iteration yet");
    // Another process drives the loop: `loopdeck test` as a script would.
    let mut script = std::process::Command::new(env!("CARGO_BIN_EXE_loopdeck"))
        .arg("test")
        .current_dir(p)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tui.wait_text("collected 26 items (attempt 1)");
    tui.wait_text("test run running");
    tui.press("T");
    tui.wait_text("lock held by");
    std::fs::write(p.join("go"), "").unwrap();
    assert_eq!(
        script.wait().unwrap().code(),
        Some(1),
        "tests fail -> exit 1"
    );
    tui.wait_text("13/26 passed");
    tui.press("q");
    assert!(tui.wait_exit().success());
}
