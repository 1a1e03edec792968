//! The UI and a run's escaping processes, end to end in a real pty: quit,
//! SIGTERM or SIGHUP while a deploy runs ends every process it started
//! (SIGTERM, then SIGKILL after the grace period), and after a loopdeck was
//! SIGKILLed mid-run, `T` is refused, naming the processes, until
//! `loopdeck cancel` ends them.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::procs::{Cleanup, alive, all_gone, escapees, project};
use common::pty::Tui;

/// The UI on `p`, its deploy (D, y) running with its escapees; their pids.
fn deploying(p: &Path) -> (Tui, Vec<i32>) {
    let mut tui = Tui::start_in(Some(p), &[], 120, 32);
    tui.wait_text("no iteration yet");
    tui.press("D");
    tui.wait_text("Deploy backend");
    tui.press("y");
    let pids = escapees(p);
    (tui, pids)
}

#[test]
fn quit_while_a_deploy_runs_ends_every_process_it_started() {
    let proj = project();
    let p = proj.path();
    let (mut tui, pids) = deploying(p);
    let _cleanup = Cleanup(pids.clone());
    tui.press("q");
    tui.wait_text("Cancel it and quit?");
    tui.press("y");
    assert!(tui.wait_exit().success());
    all_gone(&pids);
    let runs = std::fs::read_to_string(p.join("results/iter-001/runs.jsonl")).unwrap();
    assert!(runs.contains("\"event\":\"finished\""), "{runs}");
    assert!(runs.contains("\"cancelled\":true"), "{runs}");
}

/// SIGTERM or SIGHUP (the SSH session closed) to the UI while its deploy
/// runs: every process the deploy started ends, and the run is recorded.
fn signal_to_the_ui_ends_every_process(sig: i32) {
    let proj = project();
    let p = proj.path();
    let (mut tui, pids) = deploying(p);
    let _cleanup = Cleanup(pids.clone());
    let ui = tui.child.process_id().unwrap() as i32;
    // SAFETY: signalling the loopdeck this test started.
    unsafe { libc::kill(ui, sig) };
    tui.wait_exit();
    all_gone(&pids);
    let runs = std::fs::read_to_string(p.join("results/iter-001/runs.jsonl")).unwrap();
    assert!(runs.contains("\"cancelled\":true"), "{runs}");
    assert!(runs.contains("killed because loopdeck exited"), "{runs}");
}

#[test]
fn sigterm_to_the_ui_ends_every_process_its_run_started() {
    signal_to_the_ui_ends_every_process(libc::SIGTERM);
}

#[test]
fn sighup_to_the_ui_ends_every_process_its_run_started() {
    signal_to_the_ui_ends_every_process(libc::SIGHUP);
}

#[test]
fn after_a_sigkilled_run_the_ui_refuses_naming_its_processes_until_cancel() {
    let proj = project();
    let p = proj.path();
    let mut headless = Command::new(env!("CARGO_BIN_EXE_loopdeck"))
        .arg("deploy")
        .current_dir(p)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pids = escapees(p);
    let _cleanup = Cleanup(pids.clone());
    headless.kill().unwrap();
    headless.wait().unwrap();

    let mut tui = Tui::start_in(Some(p), &[], 200, 32);
    // The directory says a deploy runs (deploy.json), so T asks first;
    // then it is refused, naming the processes.
    tui.wait_text("deploying");
    tui.press("T");
    tui.wait_text("Run the tests anyway?");
    tui.press("y");
    tui.wait_text("loopdeck cancel");
    let screen = tui.screen();
    for pid in &pids {
        assert!(screen.contains(&pid.to_string()), "pid {pid}:\n{screen}");
    }
    assert!(pids.iter().all(|&p| alive(p)));

    let out = Command::new(env!("CARGO_BIN_EXE_loopdeck"))
        .arg("cancel")
        .current_dir(p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    all_gone(&pids);
    // Once the UI has read the reconciled deploy.json, T runs the tests.
    tui.wait_for("the deploy no longer shown as deploying", |s| {
        !s.contains("deploying")
    });
    tui.press("T");
    tui.wait_text("test run succeeded");
    tui.press("q");
    assert!(tui.wait_exit().success());
}
