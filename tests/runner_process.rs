//! The runner with real child processes (scripts in `tests/scripts/`).
//!
//! No sleeps as synchronisation: tests wait for events with a timeout, and
//! check that processes are gone with a bounded poll on their pid.
//!
//! The test process makes itself a child subreaper, so orphaned
//! grandchildren are re-parented to it (not to pid 1, which in some
//! containers never reaps) and the pid poll can reap them: a killed
//! grandchild then really answers `kill(pid, 0)` with `ESRCH`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use loopdeck::runner::{self, RunEvent, RunHandle, RunKind, RunRecord, RunSpec};
use tokio::sync::mpsc;
use tokio::time::Instant;

const ROLE: &str = "LOOPDECK_RUNNER_TEST_ROLE";

fn script(name: &str) -> String {
    format!("{}/tests/scripts/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn subreaper() {
    // SAFETY: plain prctl on this process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

struct Dir {
    _tmp: tempfile::TempDir,
    iter: PathBuf,
}

impl Dir {
    fn new() -> Dir {
        let tmp = tempfile::tempdir().unwrap();
        let iter = tmp.path().join("iter-001");
        Dir { _tmp: tmp, iter }
    }
    fn log(&self) -> PathBuf {
        self.iter.join("test.log")
    }
    fn runs(&self) -> PathBuf {
        self.iter.join("runs.jsonl")
    }
    fn spec(&self, command: String) -> RunSpec {
        RunSpec::new(RunKind::Test, command, self.log(), self.runs())
    }
    fn pidfile(&self) -> PathBuf {
        self.iter.join("pids")
    }
}

fn start(spec: RunSpec) -> (RunHandle, mpsc::UnboundedReceiver<RunEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = runner::spawn(spec, tx).expect("spawn");
    (handle, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<RunEvent>, within: Duration) -> RunEvent {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("timed out waiting for a run event")
        .expect("event channel closed before Finished")
}

/// What the pane would show for a log: its lines, sanitized.
fn shown(log: &Path) -> Vec<String> {
    loopdeck::logtail::display_lines(&std::fs::read(log).unwrap_or_default())
}

/// Waits until the log shows the line `text` (output is announced by
/// `Output` events; the text itself is in the log). Returns the events seen.
async fn until_line(
    rx: &mut mpsc::UnboundedReceiver<RunEvent>,
    log: &Path,
    text: &str,
) -> Vec<RunEvent> {
    let mut seen = Vec::new();
    loop {
        let ev = next(rx, Duration::from_secs(20)).await;
        if let RunEvent::Finished(r) = &ev {
            panic!("finished before {text:?}: {r:?}\nafter {seen:?}");
        }
        let done = shown(log).iter().any(|l| l == text);
        seen.push(ev);
        if done {
            return seen;
        }
    }
}

/// Waits for `Finished`; returns loopdeck's own lines sent on the way, the
/// output sizes announced, and the record.
async fn until_finished(
    rx: &mut mpsc::UnboundedReceiver<RunEvent>,
    within: Duration,
) -> (Vec<String>, Vec<u64>, RunRecord) {
    let end = Instant::now() + within;
    let mut lines = Vec::new();
    let mut sizes = Vec::new();
    loop {
        match next(rx, end.saturating_duration_since(Instant::now())).await {
            RunEvent::Line(l) => lines.push(l),
            RunEvent::Output { bytes } => sizes.push(bytes),
            RunEvent::Finished(r) => return (lines, sizes, *r),
            RunEvent::Started { .. } => {}
        }
    }
}

fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Bounded poll: true once `pid` is gone (reaping it if it became our
/// zombie).
async fn dead_within(pid: i32, within: Duration) -> bool {
    let end = Instant::now() + within;
    loop {
        // SAFETY: plain syscalls on a pid we were given.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        let rc = unsafe { libc::kill(pid, 0) };
        if rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn assert_all_dead(pids: &[i32]) {
    for &pid in pids {
        assert!(
            dead_within(pid, Duration::from_secs(10)).await,
            "process {pid} survived the run"
        );
    }
}

fn non_loopdeck(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with(runner::LOG_PREFIX))
        .collect()
}

#[tokio::test]
async fn success_streams_the_commands_bytes_into_the_log_and_the_record() {
    subreaper();
    let dir = Dir::new();
    let mut spec = dir.spec(format!("sh {} 20", script("lines.sh")));
    spec.revision_pattern = Some(regex::Regex::new(r"revision (\S+)").unwrap());
    let (handle, mut rx) = start(spec);

    let RunEvent::Started { id, pid } = next(&mut rx, Duration::from_secs(10)).await else {
        panic!("first event is not Started");
    };
    assert_eq!(handle.id(), id);
    assert_eq!(handle.pid(), Some(pid));
    assert!(
        id.starts_with("test-") && id.ends_with(&format!("-{pid}")),
        "{id}"
    );

    let (own, sizes, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    assert!(rec.succeeded(), "{rec:?}");
    assert_eq!((rec.exit_code, rec.signal), (Some(0), None));
    assert_eq!(rec.id, id);
    assert_eq!(rec.pid, pid);
    assert_eq!(rec.kind, RunKind::Test);
    assert_eq!(rec.revision.as_deref(), Some("backend-00094-abc"));
    assert!(!rec.user.is_empty() && !rec.host.is_empty());
    assert!(rec.duration_secs.unwrap() >= 0.0);
    let raw = "\x1b[31mred\x1b[0m\tafter-tab";
    let expected_bytes: usize = (1..=20)
        .map(|i| format!("out {i}\nerr {i}\n").len())
        .sum::<usize>()
        + raw.len()
        + 1
        + "Deploying revision backend-00093-x55\n".len()
        + "Serving revision backend-00094-abc at 100%\n".len();
    assert_eq!(rec.output_bytes, expected_bytes as u64);
    // The output was announced, growing, the last announcement all of it.
    assert!(!sizes.is_empty());
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
    assert_eq!(sizes.last().copied(), Some(rec.output_bytes));

    // The log holds the command's bytes, escape sequence included, framed
    // by loopdeck's own start and outcome lines (the only `Line` events).
    let log = std::fs::read(dir.log()).unwrap();
    let header_end = log.iter().position(|&b| b == b'\n').unwrap() + 1;
    let body = &log[header_end..];
    let footer_start = body[..body.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    assert_eq!(footer_start, expected_bytes);
    assert!(body.windows(raw.len()).any(|w| w == raw.as_bytes()));
    assert_eq!(own.len(), 2, "{own:?}");
    assert!(own[0].starts_with(&format!("[loopdeck] {id} started ")));
    assert!(own[1].contains("finished: exit 0"));
    assert_eq!(
        String::from_utf8_lossy(&log[..header_end]).trim_end(),
        own[0]
    );
    assert_eq!(
        String::from_utf8_lossy(&body[footer_start..]).trim_end(),
        own[1]
    );

    // Each stream in order, interleaved line-wise; what the pane shows for
    // it is sanitized.
    let lines = shown(&dir.log());
    let body = non_loopdeck(&lines);
    let outs: Vec<&str> = body
        .iter()
        .copied()
        .filter(|l| l.starts_with("out "))
        .collect();
    let errs: Vec<&str> = body
        .iter()
        .copied()
        .filter(|l| l.starts_with("err "))
        .collect();
    let want = |p: &str| (1..=20).map(|i| format!("{p} {i}")).collect::<Vec<_>>();
    assert_eq!(outs, want("out"));
    assert_eq!(errs, want("err"));
    assert_eq!(body.len(), 43);
    assert!(body.contains(&"red     after-tab"));
    assert!(
        lines
            .iter()
            .all(|l| !l.contains('\x1b') && !l.contains('\t'))
    );

    // runs.jsonl: one started and one finished line, read back as the record.
    let raw_runs = std::fs::read_to_string(dir.runs()).unwrap();
    let raw_lines: Vec<&str> = raw_runs.lines().collect();
    assert_eq!(raw_lines.len(), 2);
    assert!(raw_lines[0].starts_with(r#"{"event":"started""#));
    assert!(raw_lines[1].starts_with(r#"{"event":"finished""#));
    assert_eq!(runner::read_runs(&dir.runs()), vec![rec]);
    assert!(handle.is_finished());
}

#[tokio::test]
async fn a_last_line_without_newline_gets_one_before_the_outcome_line() {
    let dir = Dir::new();
    let (_h, mut rx) = start(dir.spec("printf 'no newline'; printf 'err too' >&2".into()));
    let (_, _, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    assert_eq!(rec.output_bytes, 17);
    // As in a shell redirection, the two writes follow each other.
    let lines = shown(&dir.log());
    assert_eq!(non_loopdeck(&lines), ["no newlineerr too"]);
    assert!(lines.last().unwrap().contains("finished: exit 0"));
}

#[tokio::test]
async fn nonzero_exit_then_a_retry_both_recorded() {
    let dir = Dir::new();
    let (_h, mut rx) = start(dir.spec(format!("sh {} 3", script("exit_code.sh"))));
    let (_, _, first) = until_finished(&mut rx, Duration::from_secs(20)).await;
    let lines = shown(&dir.log());
    assert_eq!((first.exit_code, first.signal), (Some(3), None));
    assert!(!first.succeeded() && !first.cancelled && !first.timed_out);
    assert_eq!(first.error, None);
    assert_eq!(non_loopdeck(&lines), ["about to exit 3"]);
    assert!(lines.last().unwrap().contains("finished: exit 3"));

    // A retry appends to the same log and record; nothing is overwritten.
    let (_h2, mut rx2) = start(dir.spec(format!("sh {} 0", script("exit_code.sh"))));
    let (_, _, second) = until_finished(&mut rx2, Duration::from_secs(20)).await;
    assert!(second.succeeded());
    assert_ne!(first.id, second.id);
    assert_eq!(runner::read_runs(&dir.runs()), vec![first, second]);
    let log = std::fs::read_to_string(dir.log()).unwrap();
    assert_eq!(log.matches("about to exit").count(), 2);
}

#[tokio::test]
async fn a_test_run_records_the_revision_it_ran_against() {
    let dir = Dir::new();
    let mut spec = dir.spec(format!("sh {} 0", script("exit_code.sh")));
    spec.revision = Some("backend-00094-abc".into());
    assert_eq!(spec.kind.log_name(), "test.log");
    let (_h, mut rx) = start(spec);
    let (_, _, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    assert_eq!(rec.revision.as_deref(), Some("backend-00094-abc"));
    let raw = std::fs::read_to_string(dir.runs()).unwrap();
    let started = raw.lines().next().unwrap();
    assert!(
        started.contains(r#""revision":"backend-00094-abc""#),
        "{started}"
    );
}

#[tokio::test]
async fn cancel_terminates_the_whole_group_grandchildren_included() {
    subreaper();
    let dir = Dir::new();
    let pidfile = dir.pidfile();
    let (handle, mut rx) = start(dir.spec(format!(
        "sh {} {}",
        script("grandchildren.sh"),
        quote(&pidfile)
    )));
    until_line(&mut rx, &dir.log(), "ready").await;
    let pids = read_pids(&pidfile);
    assert_eq!(pids.len(), 4, "{pids:?}");
    let asked = Instant::now();
    handle.cancel();
    let (lines, _, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    assert!(rec.cancelled && !rec.timed_out, "{rec:?}");
    assert_eq!((rec.exit_code, rec.signal), (None, Some(libc::SIGTERM)));
    // TERM was enough: no wait for the grace period.
    assert!(
        asked.elapsed() < runner::DEFAULT_GRACE,
        "{:?}",
        asked.elapsed()
    );
    assert!(
        lines
            .last()
            .unwrap()
            .contains("cancelled: killed by SIGTERM")
    );
    assert_all_dead(&pids).await;
    assert_eq!(runner::read_runs(&dir.runs()), vec![rec]);
}

#[tokio::test]
async fn timeout_terminates_the_group() {
    subreaper();
    let dir = Dir::new();
    let pidfile = dir.pidfile();
    let mut spec = dir.spec(format!(
        "sh {} {}",
        script("grandchildren.sh"),
        quote(&pidfile)
    ));
    spec.timeout = Some(Duration::from_millis(1500));
    let (_handle, mut rx) = start(spec);
    let (lines, _, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    assert!(rec.timed_out && !rec.cancelled, "{rec:?}");
    assert_eq!(rec.signal, Some(libc::SIGTERM));
    assert!(rec.duration_secs.unwrap() >= 1.5);
    assert!(
        lines
            .last()
            .unwrap()
            .contains("timed out: killed by SIGTERM")
    );
    assert_all_dead(&read_pids(&pidfile)).await;
}

#[tokio::test]
async fn a_command_ignoring_sigterm_is_killed_after_the_grace_period() {
    subreaper();
    let dir = Dir::new();
    let pidfile = dir.pidfile();
    let mut spec = dir.spec(format!(
        "sh {} {}",
        script("ignore_term.sh"),
        quote(&pidfile)
    ));
    spec.grace = Duration::from_millis(500);
    let (handle, mut rx) = start(spec);
    until_line(&mut rx, &dir.log(), "ready").await;
    let pids = read_pids(&pidfile);
    assert_eq!(pids.len(), 1);
    let asked = Instant::now();
    handle.cancel();
    let (_, _, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    assert!(asked.elapsed() >= Duration::from_millis(500));
    assert!(rec.cancelled, "{rec:?}");
    assert_eq!(rec.signal, Some(libc::SIGKILL));
    assert_all_dead(&pids).await;
}

/// (process group, parent) of a live process.
fn pgrp_ppid(pid: i32) -> (i32, i32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    (f[2].parse().unwrap(), f[1].parse().unwrap())
}

/// Starts `escapees.sh` (with `arg`), waits for "ready" and checks that its
/// processes really escaped: `timeout`'s and `setsid`'s left the run's
/// group, the double-forked one was re-parented to this (subreaper) test.
async fn escapees(
    dir: &Dir,
    arg: &str,
) -> (RunHandle, mpsc::UnboundedReceiver<RunEvent>, Vec<i32>) {
    subreaper();
    let pidfile = dir.pidfile();
    let (handle, mut rx) = start(dir.spec(format!(
        "sh {} {} {arg}",
        script("escapees.sh"),
        quote(&pidfile)
    )));
    until_line(&mut rx, &dir.log(), "ready").await;
    let pids = read_pids(&pidfile);
    assert_eq!(pids.len(), 4, "{pids:?}");
    if arg == "exit" {
        // The command is gone already, and its leftovers are being ended.
        return (handle, rx, pids);
    }
    let root = handle.pid().unwrap() as i32;
    let seen: Vec<(i32, i32)> = pids.iter().map(|&p| pgrp_ppid(p)).collect();
    assert!(
        seen.iter().filter(|(g, _)| *g != root).count() >= 3,
        "timeout's and setsid's processes left the group {root}: {seen:?}"
    );
    let me = std::process::id() as i32;
    assert!(
        seen.iter().any(|(_, ppid)| *ppid == me),
        "the double-forked sleep was re-parented here: {seen:?}"
    );
    (handle, rx, pids)
}

#[tokio::test]
async fn cancel_ends_processes_that_left_the_group_or_the_tree() {
    let dir = Dir::new();
    let (handle, mut rx, pids) = escapees(&dir, "").await;
    handle.cancel();
    let (_, _, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    assert!(rec.cancelled, "{rec:?}");
    assert_eq!(rec.signal, Some(libc::SIGTERM));
    assert_all_dead(&pids).await;
}

#[tokio::test]
async fn re_parented_zombies_are_reaped_by_the_runner() {
    let dir = Dir::new();
    let (handle, mut rx, pids) = escapees(&dir, "").await;
    handle.cancel();
    until_finished(&mut rx, Duration::from_secs(20)).await;
    // No waitpid here: the double-forked sleep, re-parented to this
    // (subreaper) process, disappears only if the runner reaped it.
    let end = Instant::now() + Duration::from_secs(10);
    for pid in pids {
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                Instant::now() < end,
                "process {pid} was not reaped: {:?}",
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_timeout_ends_processes_that_left_the_group_or_the_tree() {
    let dir = Dir::new();
    let pidfile = dir.pidfile();
    let mut spec = dir.spec(format!("sh {} {}", script("escapees.sh"), quote(&pidfile)));
    spec.timeout = Some(Duration::from_millis(1500));
    subreaper();
    let (_h, mut rx) = start(spec);
    let (_, _, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    assert!(rec.timed_out, "{rec:?}");
    let pids = read_pids(&pidfile);
    assert_eq!(pids.len(), 4, "{pids:?}");
    assert_all_dead(&pids).await;
}

#[tokio::test]
async fn escapees_left_behind_by_a_command_that_exited_are_ended() {
    let dir = Dir::new();
    let (_h, mut rx, pids) = escapees(&dir, "exit").await;
    let (lines, _, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    assert_eq!(rec.exit_code, Some(0));
    assert!(!rec.cancelled);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("left processes running: sent them SIGTERM")),
        "{lines:?}"
    );
    assert_all_dead(&pids).await;
}

#[tokio::test]
async fn missing_command_is_exit_127_with_the_shells_message() {
    let dir = Dir::new();
    let (_h, mut rx) = start(dir.spec("loopdeck-no-such-command-xyz --flag".into()));
    let (_, _, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    let lines = shown(&dir.log());
    assert_eq!(rec.exit_code, Some(127));
    assert_eq!(rec.error.as_deref(), Some("command not found (exit 127)"));
    assert!(
        non_loopdeck(&lines)
            .iter()
            .any(|l| l.contains("loopdeck-no-such-command-xyz") && l.contains("not found")),
        "{lines:?}"
    );
    let log = std::fs::read_to_string(dir.log()).unwrap();
    assert!(log.contains("not found"));
    assert!(log.contains("command not found (exit 127)"));
}

#[tokio::test]
async fn bad_working_directory_is_a_finished_record_with_an_error() {
    let dir = Dir::new();
    let mut spec = dir.spec("echo never".into());
    spec.cwd = Some(dir.iter.join("no/such/dir"));
    let (handle, mut rx) = start(spec);
    assert_eq!(handle.pid(), None);
    let mut events = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        let last = matches!(ev, RunEvent::Finished(_));
        events.push(ev);
        if last {
            break;
        }
    }
    assert!(!events.iter().any(|e| matches!(e, RunEvent::Started { .. })));
    let Some(RunEvent::Finished(rec)) = events.last() else {
        panic!("no Finished: {events:?}");
    };
    let err = rec.error.as_deref().unwrap();
    assert!(
        err.contains("working directory") && err.contains("no/such/dir"),
        "{err}"
    );
    assert_eq!((rec.pid, rec.exit_code), (0, None));
    assert!(handle.is_finished());
    let log = std::fs::read_to_string(dir.log()).unwrap();
    assert!(log.contains("could not start") && log.contains("No such file or directory"));
    assert_eq!(runner::read_runs(&dir.runs()), vec![(**rec).clone()]);
}

#[tokio::test]
async fn a_grandchild_holding_the_pipe_does_not_hang_the_run_and_is_killed() {
    subreaper();
    let dir = Dir::new();
    let pidfile = dir.pidfile();
    let t0 = Instant::now();
    let (_h, mut rx) = start(dir.spec(format!(
        "sh {} {}",
        script("pipe_holder.sh"),
        quote(&pidfile)
    )));
    let (lines, _, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    // Drain idle time plus TERM for the leftover: far below the sleep's 300 s.
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(rec.exit_code, Some(0));
    assert!(!rec.cancelled);
    assert!(non_loopdeck(&shown(&dir.log())).contains(&"parent done"));
    let leftover = "left processes running: sent them SIGTERM";
    assert!(lines.iter().any(|l| l.contains(leftover)), "{lines:?}");
    assert!(shown(&dir.log()).iter().any(|l| l.contains(leftover)));
    assert_all_dead(&read_pids(&pidfile)).await;
}

#[tokio::test]
async fn dropping_the_handle_kills_the_group_and_records_it() {
    subreaper();
    let dir = Dir::new();
    let pidfile = dir.pidfile();
    let (handle, mut rx) = start(dir.spec(format!(
        "sh {} {}",
        script("grandchildren.sh"),
        quote(&pidfile)
    )));
    until_line(&mut rx, &dir.log(), "ready").await;
    let pids = read_pids(&pidfile);
    drop(handle);
    // The record is written by the drop itself.
    let runs = runner::read_runs(&dir.runs());
    assert_eq!(runs.len(), 1);
    assert!(runs[0].cancelled && runs[0].signal == Some(libc::SIGKILL));
    assert!(runs[0].error.as_deref().unwrap().contains("dropped"));
    assert_all_dead(&pids).await;
    let (_, _, rec) = until_finished(&mut rx, Duration::from_secs(20)).await;
    assert_eq!(rec, runs[0]);
}

/// Re-runs this test binary as a stand-in for loopdeck, running one role.
fn helper(test: &str, role: &str, dir: &Dir) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env("LOOPDECK_TEST_DIR", &dir.iter)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn role_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Helper role: start a run whose processes escape its group and tree
/// (`tests/scripts/escapees.sh`), say READY, and on SIGTERM do what
/// loopdeck's handler does: `kill_all`, exit.
fn sigterm_victim(dir: PathBuf) {
    role_runtime().block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).unwrap();
        let pidfile = dir.join("pids");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _handle = runner::spawn(
            RunSpec::new(
                RunKind::Deploy,
                format!("sh {} {}", script("escapees.sh"), quote(&pidfile)),
                dir.join("deploy.log"),
                dir.join("runs.jsonl"),
            ),
            tx,
        )
        .unwrap();
        until_line(&mut rx, &dir.join("deploy.log"), "ready").await;
        println!("READY");
        term.recv().await;
        let n = runner::kill_all();
        println!("KILLED {n}");
        std::process::exit(0);
    });
}

#[test]
fn sigterm_to_loopdeck_kills_every_run_via_kill_all() {
    if std::env::var(ROLE).as_deref() == Ok("sigterm-victim") {
        return sigterm_victim(std::env::var("LOOPDECK_TEST_DIR").unwrap().into());
    }
    subreaper();
    let dir = Dir::new();
    std::fs::create_dir_all(&dir.iter).unwrap();
    let mut child = helper(
        "sigterm_to_loopdeck_kills_every_run_via_kill_all",
        "sigterm-victim",
        &dir,
    );
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "helper exited early");
        // The harness may print "test ... " on the same line first.
        if line.trim_end().ends_with("READY") {
            break;
        }
    }
    let pids = read_pids(&dir.pidfile());
    assert_eq!(pids.len(), 4);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(rest.contains("KILLED 1"), "{rest}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(assert_all_dead(&pids));
    let runs = runner::read_runs(&dir.runs());
    assert_eq!(runs.len(), 1);
    assert!(runs[0].cancelled && runs[0].finished.is_some());
    assert_eq!(runs[0].kind, RunKind::Deploy);
    assert!(
        runs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("loopdeck exited")
    );
    // SIGTERM was enough: `kill_all` waits the grace period before SIGKILL.
    let log = std::fs::read_to_string(dir.iter.join("deploy.log")).unwrap();
    assert!(log.contains("cancelled: killed by SIGTERM"), "{log}");
}

/// Peak resident memory (VmHWM) and current (VmRSS) in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    };
    (field("VmHWM:"), field("VmRSS:"))
}

const BIG_LINES: u64 = 200_000; // x 100 bytes = 20 MB

/// Helper role: run ~20 MB of output, count it without keeping it, report
/// the peak memory growth.
fn big_output(dir: PathBuf) {
    role_runtime().block_on(async move {
        let (_, rss_before) = memory_kib();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _handle = runner::spawn(
            RunSpec::new(
                RunKind::Test,
                format!("sh {} {BIG_LINES}", script("big_output.sh")),
                dir.join("test.log"),
                dir.join("runs.jsonl"),
            ),
            tx,
        )
        .unwrap();
        let mut pings = 0u64;
        let rec = loop {
            match rx.recv().await.unwrap() {
                RunEvent::Output { .. } => pings += 1,
                RunEvent::Finished(r) => break *r,
                RunEvent::Line(_) | RunEvent::Started { .. } => {}
            }
        };
        let (hwm, _) = memory_kib();
        println!(
            "RESULT pings={pings} output_bytes={} exit={:?} growth_kib={}",
            rec.output_bytes,
            rec.exit_code,
            hwm.saturating_sub(rss_before)
        );
    });
}

#[test]
fn twenty_megabytes_of_output_stream_with_bounded_memory() {
    if std::env::var(ROLE).as_deref() == Ok("big-output") {
        return big_output(std::env::var("LOOPDECK_TEST_DIR").unwrap().into());
    }
    let dir = Dir::new();
    std::fs::create_dir_all(&dir.iter).unwrap();
    let child = helper(
        "twenty_megabytes_of_output_stream_with_bounded_memory",
        "big-output",
        &dir,
    );
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // The harness may print "test ... " on the same line first.
    let result = text
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no RESULT in {text}"));
    let get = |k: &str| -> String {
        result
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .unwrap()
            .to_string()
    };
    let payload = BIG_LINES * 100;
    assert_eq!(get("output_bytes"), payload.to_string());
    assert_eq!(get("exit"), "Some(0)");
    // The output was announced, not line by line.
    let pings: u64 = get("pings").parse().unwrap();
    assert!((1..BIG_LINES / 100).contains(&pings), "{pings} pings");
    // The log has all of it (plus loopdeck's start and outcome lines).
    let log = std::fs::read(dir.log()).unwrap();
    assert!(log.len() as u64 > payload && (log.len() as u64) < payload + 1000);
    assert_eq!(
        log.iter().filter(|&&b| b == b'\n').count() as u64,
        BIG_LINES + 2
    );
    let growth: u64 = get("growth_kib").parse().unwrap();
    eprintln!("peak memory growth while streaming 20 MB: {growth} KiB");
    assert!(growth < 16 * 1024, "memory grew by {growth} KiB");
}
