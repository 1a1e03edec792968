//! No process a run started escapes: the real `loopdeck` binary running
//! `tests/scripts/escapees.sh` (a `timeout` child, a `setsid` grandchild, a
//! double-forked daemon), ended by SIGTERM, SIGHUP, or SIGKILL followed by
//! `loopdeck cancel`. Every pid the script wrote is checked.
//!
//! No sleeps as synchronisation: waits are bounded polls on the pid file
//! and on `/proc`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::procs::{Cleanup, alive, all_gone, escapees, project};

const BIN: &str = env!("CARGO_BIN_EXE_loopdeck");

fn start(dir: &Path, args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `loopdeck test` starts and succeeds.
fn tests_run(p: &Path) {
    let out = run(p, &["test"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
}

fn runs(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("results/iter-001/runs.jsonl")).unwrap()
}

fn deploy_state(dir: &Path) -> String {
    let d: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("results/iter-001/deploy.json")).unwrap(),
    )
    .unwrap();
    d["state"].as_str().unwrap().to_string()
}

fn signal_ends_everything(sig: i32) {
    let proj = project();
    let p = proj.path();
    let mut loopdeck = start(p, &["deploy"]);
    let pids = escapees(p);
    let _cleanup = Cleanup(pids.clone());
    // SAFETY: signalling our own child.
    unsafe { libc::kill(loopdeck.id() as i32, sig) };
    let out = loopdeck.wait().unwrap();
    assert_eq!(out.code(), Some(1), "a cancelled deploy is exit 1");
    all_gone(&pids);
    let runs = runs(p);
    assert!(runs.contains("\"event\":\"finished\""), "{runs}");
    assert!(runs.contains("\"cancelled\":true"), "{runs}");
    assert_eq!(deploy_state(p), "cancelled");
}

#[test]
fn sigterm_to_a_headless_run_ends_every_process_it_started() {
    signal_ends_everything(libc::SIGTERM);
}

#[test]
fn sighup_to_a_headless_run_ends_every_process_it_started() {
    signal_ends_everything(libc::SIGHUP);
}

/// Starts a deploy and SIGKILLs its loopdeck: the run's processes live on.
fn killed_mid_run(p: &Path) -> Vec<i32> {
    let mut loopdeck = start(p, &["deploy"]);
    let pids = escapees(p);
    loopdeck.kill().unwrap();
    loopdeck.wait().unwrap();
    assert!(pids.iter().all(|&p| alive(p)), "SIGKILL cannot be caught");
    assert_eq!(deploy_state(p), "deploying");
    pids
}

#[test]
fn after_sigkill_no_second_run_until_cancel_ends_the_first_ones_processes() {
    let proj = project();
    let p = proj.path();
    let pids = killed_mid_run(p);
    let _cleanup = Cleanup(pids.clone());

    // A second loopdeck refuses, naming the processes.
    let out = run(p, &["test"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for pid in &pids {
        assert!(err.contains(&pid.to_string()), "pid {pid} named: {err}");
    }
    assert!(err.contains("loopdeck cancel"), "{err}");
    assert!(!runs(p).contains("\"kind\":\"test\""), "nothing started");

    // `loopdeck cancel` ends them and records the run as interrupted.
    let out = run(p, &["cancel"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    all_gone(&pids);
    let finished: Vec<serde_json::Value> = runs(p)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["event"] == "finished")
        .collect();
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0]["kind"], "deploy");
    assert_eq!(finished[0]["interrupted"], true);
    assert_eq!(finished[0]["cancelled"], true);
    assert_eq!(deploy_state(p), "cancelled");

    // Nothing left to cancel; the next run starts.
    let out = run(p, &["cancel"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to cancel"));
    tests_run(p);
}

#[test]
fn after_sigkill_processes_that_ended_by_themselves_are_reconciled_at_the_next_start() {
    let proj = project();
    let p = proj.path();
    let pids = killed_mid_run(p);
    let _cleanup = Cleanup(pids.clone());
    let root: PathBuf = p.join("results/iter-001");
    let started: serde_json::Value = serde_json::from_str(runs(p).lines().next().unwrap()).unwrap();
    assert!(started["pid_start"].as_u64().is_some(), "{started}");
    // They end by themselves (here: someone else kills them).
    for &pid in &pids {
        // SAFETY: processes this test started (through loopdeck).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    // The run's root `sh` ends once its children are gone.
    let root_pid = started["pid"].as_i64().unwrap() as i32;
    all_gone(&pids);
    all_gone(&[root_pid]);
    tests_run(p);
    assert_eq!(deploy_state(p), "failed");
    let text = runs(p);
    assert!(text.contains("\"interrupted\":true"), "{text}");
    assert!(text.contains("its processes were gone"), "{text}");
    let log = std::fs::read_to_string(root.join("deploy.log")).unwrap();
    assert!(log.contains("interrupted"), "{log}");
}
