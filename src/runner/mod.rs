//! Child processes, owned for real.
//!
//! [`spawn`] runs one shell command line (`sh -c`, commands come only from
//! the operator's config) as a run: the command writes its output straight
//! into the iteration's log file, the caller hears about the run as
//! [`RunEvent`]s (started, output grew, finished), and the run is recorded
//! in the iteration's `runs.jsonl` (see [`record`]).
//!
//! # Behaviour
//!
//! * **Own session.** The command starts with `setsid()`: its own session
//!   and process group (pgid = its pid), no controlling terminal (a command
//!   that opens `/dev/tty` to prompt gets an error instead of fighting the
//!   TUI for the keyboard), stdin from `/dev/null`, SIGTERM/SIGINT/SIGHUP/
//!   SIGQUIT/SIGPIPE reset to their defaults.
//! * **Output.** stdout and stderr of the command are the log file itself,
//!   opened in append mode (`cmd >> test.log 2>&1`): loopdeck is not in the
//!   way of the bytes, so a command printing gigabytes runs as fast as with
//!   its output sent to a file, and memory does not depend on the output.
//!   The log holds the command's bytes, escape sequences included; they
//!   interleave at the granularity of the command's writes. Output is
//!   sanitized when shown: the output pane reads the log back through
//!   [`crate::logtail`], and a headless run copies it to stdout
//!   ([`RunSpec::echo`]), sanitized when stdout is a terminal. The caller
//!   gets no lines, only a [`RunEvent::Output`] when the log grew (see
//!   [`output`]). Several attempts share one `test.log`, each framed by a
//!   `[loopdeck] <id> started ...` and a `[loopdeck] <id> ...` outcome line
//!   (also sent as [`RunEvent::Line`]s). The command starts only once its
//!   `started` line is in the log: `sh` waits on a pipe (fd 3, closed before
//!   the command runs) on which loopdeck, after writing it, sends the run id
//!   and closes; `sh` exports it as `LOOPDECK_RUN_ID` (the run's mark, see
//!   below) and `exec`s `sh -c <command>` — same pid, same shell, same `$0`.
//!   If loopdeck dies before that, the gate closes without an id and `sh`
//!   exits 125: the command never runs.
//! * **A run's processes** are its process group *and* its whole process
//!   tree ([`tree`]): everything below its root `sh` (pid + start time) by
//!   the `ppid` links in `/proc`, plus every process carrying its mark
//!   `LOOPDECK_RUN_ID=<id>` in its environment, and everything below those.
//!   So `timeout` (which moves into its own process group), anything that
//!   calls `setsid`, and a double-forked daemon (re-parented to loopdeck,
//!   which makes itself a child subreaper at startup, see
//!   [`tree::set_subreaper`]) are all reached. Each is signalled through a
//!   pidfd after checking its start time: a reused pid is never signalled.
//!   The tree is looked at every [`SCAN_EVERY`] while the run goes and
//!   whenever it is signalled or waited for; zombies among loopdeck's
//!   (re-parented) children that are the run's (seen alive in it, or still
//!   in its process group) are reaped then, by pid.
//! * **Cancel** ([`RunHandle::cancel`]) and **timeout**: SIGTERM to the
//!   run's processes (group and tree), up to [`RunSpec::grace`] (default
//!   [`DEFAULT_GRACE`]) for them to go, then SIGKILL to what is left. `cancelled`/`timed_out` is set and
//!   `signal` is the last signal loopdeck had to send: 15 when SIGTERM was
//!   enough, 9 when the grace period ran out (for a command that exits by
//!   itself, `signal` is whatever signal ended it, if any). A cancel that
//!   arrives after the command has exited (while its leftovers are cleaned
//!   up) changes nothing: the clean-up below follows anyway.
//! * **Leftover processes:** any process of the run still alive once the
//!   command has exited (background jobs, a server the test suite forgot to
//!   stop, a `setsid` daemon, a grandchild still writing to the log) is
//!   terminated the same way (SIGTERM, grace, SIGKILL) and the log says so.
//!   A run owns everything it started: nothing outlives it. No output pipe
//!   can hang a run: there is none. Out of reach: a process that both left
//!   the tree (double fork) and emptied its environment (`env -i`).
//! * **Errors:** a working directory that is not one, or a shell that
//!   cannot start, gives a `Finished` record with `error` set (pid 0, no
//!   `Started` event) and a `[loopdeck]` line in the log saying why. A
//!   command the shell cannot find is exit 127 with the shell's own message
//!   in the log and `error: "command not found (exit 127)"`; 126 likewise
//!   ("not executable"). `spawn` itself fails only when the log or the
//!   record cannot be opened, or outside a tokio runtime.
//! * **No child outlives loopdeck.** [`kill_all`] ends every run of the
//!   process like a cancel (SIGTERM to group and tree, the grace period,
//!   SIGKILL; blocking) and records them `cancelled` with `error: "killed
//!   because loopdeck exited"`: the UI calls it when it quits (after giving
//!   the terminal back) and on SIGTERM/SIGHUP/Ctrl-C, `main` from the panic
//!   hook; a headless run cancels its run on those signals. Dropping a
//!   [`RunHandle`] of a run still going cannot wait: it SIGKILLs the group
//!   and tree and writes the `finished` record at once (`cancelled`,
//!   `signal: 9`). `PR_SET_PDEATHSIG` is not used (it fires when the
//!   spawning *thread* exits). loopdeck itself being SIGKILLed (or the OOM
//!   killer) cannot be caught: the runs go on and their `started` lines
//!   stay without a `finished` one. The `started` line records the root's
//!   start time (`pid_start`), so the next loopdeck can find such a run's
//!   processes (by pid + start time, and by mark), refuse to start another
//!   run while they live, end them (`loopdeck cancel`) and record the run
//!   as interrupted (see [`crate::driver`]).
//! * **Records:** a `started` line once the command runs and a `finished`
//!   line when the run is over, written exactly once per run whichever path
//!   ends it (see [`record`]). Ids are `<kind>-<UTC start>-<pid>`.
//!
//! A group id is only signalled while its run is registered (until its
//! `finished` record is written); Linux does not reuse a pid while a process
//! group of that id has members. Single processes are signalled only by pid
//! + start time (see [`tree`]).

pub mod group;
pub mod output;
pub mod record;
pub mod tree;

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use group::signal_name;
pub use output::Echo;
pub use record::{RunKind, RunRecord, read_runs, read_runs_from};

/// SIGTERM -> SIGKILL grace period unless the spec says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// How often a run's process tree is looked at while it runs.
pub const SCAN_EVERY: Duration = Duration::from_secs(1);
/// How often a run is looked at while waiting for it to die.
const POLL: Duration = Duration::from_millis(40);

/// Prefix of the lines loopdeck itself writes into a run's log.
pub const LOG_PREFIX: &str = "[loopdeck]";

/// What to run and where its traces go.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub kind: RunKind,
    /// A shell command line, run with `sh -c`.
    pub command: String,
    /// Working directory; loopdeck's own when `None`.
    pub cwd: Option<PathBuf>,
    /// Added to loopdeck's environment.
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// The log, e.g. `iter-004/test.log` (appended to; parents created).
    pub log_path: PathBuf,
    /// The record, e.g. `iter-004/runs.jsonl` (appended to).
    pub runs_path: PathBuf,
    /// Pulls the deployed revision out of the output: first capture group,
    /// or the whole match; the last match wins.
    pub revision_pattern: Option<Regex>,
    /// The revision known before the run (for a test run: the deployed
    /// revision it runs against), recorded from the `started` line on; a
    /// match of `revision_pattern` replaces it.
    pub revision: Option<String>,
    /// Where the output is copied besides the log (headless: stdout).
    pub echo: output::Echo,
}

impl RunSpec {
    /// A spec with no cwd, env, timeout or pattern and the default grace.
    pub fn new(
        kind: RunKind,
        command: impl Into<String>,
        log_path: impl Into<PathBuf>,
        runs_path: impl Into<PathBuf>,
    ) -> RunSpec {
        RunSpec {
            kind,
            command: command.into(),
            cwd: None,
            env: Vec::new(),
            timeout: None,
            grace: DEFAULT_GRACE,
            log_path: log_path.into(),
            runs_path: runs_path.into(),
            revision_pattern: None,
            revision: None,
            echo: output::Echo::None,
        }
    }
}

/// What a run reports, in this order: `Started` (unless it could not
/// start), `Line`s and `Output`s, `Finished` (always, exactly once).
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    Started {
        id: String,
        pid: u32,
    },
    /// A line loopdeck itself appended to the log (the run's start and
    /// outcome, leftover processes), sanitized.
    Line(String),
    /// The command's output grew: `bytes` of it so far, all in the log. At
    /// most one every [`output::PING_EVERY`]; the output itself is in the log.
    Output {
        bytes: u64,
    },
    /// Boxed: a record is ~300 bytes, a line event 24, and the channel
    /// sizes every slot for the largest variant.
    Finished(Box<RunRecord>),
}

/// A running (or finished) run. Dropping it kills the run's process group
/// if the run is still going.
#[derive(Debug)]
pub struct RunHandle {
    shared: Arc<Shared>,
}

impl RunHandle {
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The command's pid (= its process group), `None` if it never started.
    pub fn pid(&self) -> Option<u32> {
        self.shared.pgid.map(|p| p as u32)
    }

    /// Asks the run to stop: SIGTERM to its group, SIGKILL after the grace
    /// period. Returns at once; the `Finished` event follows.
    pub fn cancel(&self) {
        self.shared.cancel.notify_one();
    }

    /// True once the `finished` record is written.
    pub fn is_finished(&self) -> bool {
        self.shared.lock().written.is_some()
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        self.shared
            .kill_now("stopped because its run handle was dropped (loopdeck exiting?)");
    }
}

/// Ends every run this process started that is still going, the way a
/// cancel does: SIGTERM to each run's group and whole process tree, up to
/// the longest of their grace periods for them to go, then SIGKILL to what
/// is left; each run's `finished` record says cancelled, with the last
/// signal sent and `error: "killed because loopdeck exited"`. Blocks for at
/// most the grace period plus a second. For loopdeck's exit path (quit),
/// its SIGTERM/SIGHUP handling and its panic hook. Returns how many runs
/// were still going. Not async-signal-safe (it locks and writes files):
/// call it from a `tokio::signal` task, the exit path or the panic hook,
/// never from a raw signal handler.
pub fn kill_all() -> usize {
    const WHY: &str = "killed because loopdeck exited";
    let live: Vec<Arc<Shared>> = registry()
        .iter()
        .filter(|s| s.lock().written.is_none())
        .cloned()
        .collect();
    if live.is_empty() {
        return 0;
    }
    let grace = live.iter().map(|s| s.grace).max().unwrap_or(DEFAULT_GRACE);
    for s in &live {
        s.lock().stopping = Some((WHY.to_string(), libc::SIGTERM));
        s.signal(libc::SIGTERM);
    }
    let runs: Vec<tree::Run> = live.iter().map(|s| s.tree()).collect();
    let (last, _left) = tree::terminate_blocking(&runs, grace, true);
    for s in &live {
        s.scan(); // reaps what died as loopdeck's children
        if last == Some(libc::SIGKILL) {
            s.lock().stopping = Some((WHY.to_string(), libc::SIGKILL));
            if let Some(pgid) = s.pgid {
                group::signal(pgid, libc::SIGKILL);
            }
        }
        // Records what the supervisor has not recorded yet.
        s.kill_now(WHY);
    }
    live.len()
}

/// Writes the end of a run another loopdeck started and never finished
/// (see [`crate::driver::reconcile`]): the outcome line in its log and a
/// `finished` line marked `"interrupted":true` in its `runs.jsonl`.
pub fn record_interrupted(log_path: &Path, runs_path: &Path, rec: &RunRecord) -> io::Result<()> {
    let footer = footer_line(rec);
    if let Ok(mut log) = OpenOptions::new().append(true).open(log_path) {
        let _ = log_lines(&mut log, log_path, output::Echo::None, &[&footer]);
    }
    let mut runs = OpenOptions::new().read(true).append(true).open(runs_path)?;
    record::append_line(&mut runs, &record::interrupted_line(rec))
}

/// How many runs of this process are still going.
pub fn running() -> usize {
    registry().len()
}

/// Runs `spec`, reporting to `tx`. Must be called inside a tokio runtime.
/// Does a few small blocking writes (the log header and the `started`
/// record) before returning; the UI calls it off its task (see `driver`).
pub fn spawn(spec: RunSpec, tx: mpsc::UnboundedSender<RunEvent>) -> io::Result<RunHandle> {
    let rt = tokio::runtime::Handle::try_current()
        .map_err(|e| io::Error::other(format!("runner::spawn needs a tokio runtime: {e}")))?;
    for path in [&spec.log_path, &spec.runs_path] {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            fs::create_dir_all(parent)?;
        }
    }
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log_path)?;
    let runs = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&spec.runs_path)?;

    let started = Utc::now();
    let t0 = Instant::now();
    let cwd = spec
        .cwd
        .clone()
        .or_else(|| std::env::current_dir().ok())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut base = RunRecord {
        id: String::new(),
        kind: spec.kind,
        command: spec.command.clone(),
        cwd,
        user: crate::lock::username(),
        host: crate::lock::hostname(),
        pid: 0,
        started,
        finished: None,
        exit_code: None,
        signal: None,
        duration_secs: None,
        cancelled: false,
        timed_out: false,
        error: None,
        revision: spec.revision.clone(),
        output_bytes: 0,
    };

    // The command writes into the log itself (see `output`); it waits at
    // the gate until its `started` line is there.
    let gate = Gate::new();
    let child = check_cwd(spec.cwd.as_deref()).and_then(|()| {
        let gate = gate.as_ref().map_err(|e| format!("cannot start: {e}"))?;
        let out = log.try_clone().and_then(|o| Ok((o.try_clone()?, o)));
        let (stdout, stderr) = out.map_err(|e| format!("cannot start: {e}"))?;
        command(&spec, stdout, stderr, gate.read_fd())
            .spawn()
            .map_err(|e| format!("cannot start `sh -c {}`: {e}", spec.command))
    });
    let child = match child {
        Ok(child) => child,
        Err(msg) => {
            static FAILED: AtomicU32 = AtomicU32::new(0);
            base.id = format!(
                "{}-{}-failed-{}-{}",
                spec.kind,
                stamp(started),
                std::process::id(),
                FAILED.fetch_add(1, Ordering::Relaxed)
            );
            let header = header_line(&base);
            let _ = log_lines(&mut log, &spec.log_path, spec.echo, &[&header]);
            let _ = tx.send(RunEvent::Line(header));
            let shared = Arc::new(Shared::new(
                base.id.clone(),
                None,
                runs,
                spec.log_path.clone(),
                spec.echo,
                base,
                t0,
            ));
            let rec = shared.finish(|r| r.error = Some(msg), &tx);
            let _ = tx.send(RunEvent::Finished(Box::new(rec)));
            return Ok(RunHandle { shared });
        }
    };

    let pid = child.id().unwrap_or(0);
    base.pid = pid;
    base.id = format!("{}-{}-{pid}", spec.kind, stamp(started));
    let header = header_line(&base);
    // The root `sh` waits at the gate: alive, so its start time is its own.
    let pid_start = tree::start_time(pid);
    let started_line = record::started_line(&base, pid_start);
    let mut shared = Shared::new(
        base.id.clone(),
        i32::try_from(pid).ok().filter(|&p| p > 1),
        runs,
        spec.log_path.clone(),
        spec.echo,
        base,
        t0,
    );
    shared.root = shared.pgid.zip(pid_start);
    shared.grace = spec.grace;
    let shared = Arc::new(shared);
    registry().push(shared.clone());

    let mut note = None;
    if let Err(e) = log_lines(&mut log, &spec.log_path, spec.echo, &[&header]) {
        note = Some(format!("writing the log failed: {e}"));
    }
    if let Err(e) = record::append_line(&mut shared.lock().runs, &started_line) {
        note = Some(format!("writing {} failed: {e}", spec.runs_path.display()));
    }
    // The command's output starts here.
    let start = log.metadata().map(|m| m.len()).unwrap_or(0);
    shared.lock().output_start = start;
    if let Ok(gate) = gate {
        gate.open(&shared.id);
    }
    let _ = tx.send(RunEvent::Started {
        id: shared.id.clone(),
        pid,
    });
    let _ = tx.send(RunEvent::Line(header));

    let (stop, stop_rx) = std::sync::mpsc::channel();
    let follower = File::open(&spec.log_path).and_then(|mut f| {
        io::Seek::seek(&mut f, io::SeekFrom::Start(start))?;
        Ok(f)
    });
    let follower = match follower {
        Ok(log) => {
            let f = output::Follow {
                log,
                log_path: spec.log_path.clone(),
                start,
                echo: spec.echo,
                pattern: spec.revision_pattern.clone(),
                tx: tx.clone(),
            };
            Some(rt.spawn_blocking(move || output::follow(f, stop_rx)))
        }
        Err(e) => {
            note.get_or_insert(format!("cannot read the log back: {e}"));
            None
        }
    };
    rt.spawn(supervise(Supervised {
        shared: shared.clone(),
        child,
        follower,
        stop,
        timeout: spec.timeout,
        grace: spec.grace,
        note,
        tx,
    }));
    Ok(RunHandle { shared })
}

/// Holds a command back until loopdeck has written its `started` line:
/// `sh` reads fd 3 (the read end of this pipe) until loopdeck closes the
/// write end, which dropping the gate does.
struct Gate {
    read: std::os::fd::OwnedFd,
    _write: std::os::fd::OwnedFd,
}

impl Gate {
    fn new() -> io::Result<Gate> {
        use std::os::fd::FromRawFd;
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the two descriptors on success; both are
        // close-on-exec, so no other child keeps them past its exec.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the descriptors were just created and are owned by nobody else.
        unsafe {
            Ok(Gate {
                read: std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                _write: std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            })
        }
    }

    fn read_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.read)
    }

    /// Lets the command go, handing it the run id it exports as
    /// [`tree::RUN_ID_VAR`] (a failed write leaves it unset: the command
    /// still starts, found by descent only).
    fn open(self, id: &str) {
        let mut w = File::from(self._write);
        let _ = w.write_all(format!("{id}\n").as_bytes());
    }
}

/// What `sh` runs first: wait at the gate (fd 3) for the run id, export it
/// as the run's mark, close the gate, and become `sh -c <command>`. No id
/// (loopdeck died before opening the gate): the command never runs.
const GATE_SCRIPT: &str = r#"read -r LOOPDECK_RUN_ID <&3 || exit 125; export LOOPDECK_RUN_ID; exec 3<&-; exec sh -c "$1""#;

fn check_cwd(cwd: Option<&Path>) -> Result<(), String> {
    let Some(dir) = cwd else { return Ok(()) };
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!(
            "working directory {} is not a directory",
            dir.display()
        )),
        Err(e) => Err(format!("working directory {}: {e}", dir.display())),
    }
}

fn command(spec: &RunSpec, stdout: File, stderr: File, gate: i32) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(GATE_SCRIPT)
        .arg("sh")
        .arg(&spec.command)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(false);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    // SAFETY: between fork and exec only async-signal-safe calls (setsid,
    // signal, dup2) are made, and nothing is allocated.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            for sig in [
                libc::SIGTERM,
                libc::SIGINT,
                libc::SIGHUP,
                libc::SIGQUIT,
                libc::SIGPIPE,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            // The gate's read end as fd 3, kept across exec (dup2 clears
            // close-on-exec; the write end stays close-on-exec).
            let kept = if gate == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(gate, 3)
            };
            if kept == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn header_line(r: &RunRecord) -> String {
    crate::sanitize::line(&format!(
        "{LOG_PREFIX} {} started {} by {}@{} in {}: {}",
        r.id,
        r.started.format("%Y-%m-%d %H:%M:%SZ"),
        r.user,
        r.host,
        r.cwd,
        r.command
    ))
}

fn footer_line(r: &RunRecord) -> String {
    let took = r
        .duration_secs
        .map(|d| format!(" after {d:.1}s"))
        .unwrap_or_default();
    let how = match (r.exit_code, r.signal) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(sig)) => format!("killed by {}", signal_name(sig)),
        (None, None) => "no exit status".to_string(),
    };
    let what = if r.timed_out {
        "timed out"
    } else if r.cancelled {
        "cancelled"
    } else if r.pid == 0 {
        "could not start"
    } else {
        "finished"
    };
    let mut s = if r.pid == 0 {
        format!("{LOG_PREFIX} {} {what}", r.id)
    } else {
        format!("{LOG_PREFIX} {} {what}: {how}{took}", r.id)
    };
    if let Some(e) = &r.error {
        s.push_str(": ");
        s.push_str(e);
    }
    crate::sanitize::line(&s)
}

/// Appends loopdeck's own (sanitized) lines to a log opened in append
/// mode, in one write, on a line of their own, and copies them to the echo.
fn log_lines(
    log: &mut File,
    log_path: &Path,
    echo: output::Echo,
    lines: &[&str],
) -> io::Result<()> {
    let mut buf = output::newline_needed(log_path).to_vec();
    for l in lines {
        buf.extend_from_slice(l.as_bytes());
        buf.push(b'\n');
    }
    if echo != output::Echo::None {
        let mut out = io::stdout().lock();
        let _ = out.write_all(&buf).and_then(|()| out.flush());
    }
    log.write_all(&buf)
}

/// The runs still going in this process.
fn registry() -> MutexGuard<'static, Vec<Arc<Shared>>> {
    static LIVE: Mutex<Vec<Arc<Shared>>> = Mutex::new(Vec::new());
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the handle, the supervisor and [`kill_all`] share about one run.
#[derive(Debug)]
struct Shared {
    id: String,
    /// The command's process group; `None` when it never started.
    pgid: Option<i32>,
    /// The command's root `sh`: pid and start time (see [`tree`]).
    root: Option<(i32, u64)>,
    /// Between SIGTERM and SIGKILL.
    grace: Duration,
    /// Processes of the run seen alive (pid, start time): the zombies among
    /// them that were re-parented to loopdeck are reaped.
    seen: Mutex<HashSet<(i32, u64)>>,
    cancel: Notify,
    state: Mutex<FinishState>,
}

#[derive(Debug)]
struct FinishState {
    runs: File,
    log_path: PathBuf,
    echo: output::Echo,
    /// Size of the log when the command started writing into it.
    output_start: u64,
    base: RunRecord,
    t0: Instant,
    /// The `finished` record, once written.
    written: Option<RunRecord>,
    /// Set when loopdeck itself is ending the run ([`kill_all`]): why, and
    /// the last signal it sent. The record says cancelled, whoever writes it.
    stopping: Option<(String, i32)>,
}

impl Shared {
    fn new(
        id: String,
        pgid: Option<i32>,
        runs: File,
        log_path: PathBuf,
        echo: output::Echo,
        base: RunRecord,
        t0: Instant,
    ) -> Shared {
        Shared {
            id,
            pgid,
            root: None,
            grace: DEFAULT_GRACE,
            seen: Mutex::new(HashSet::new()),
            cancel: Notify::new(),
            state: Mutex::new(FinishState {
                runs,
                log_path,
                echo,
                output_start: 0,
                base,
                t0,
                written: None,
                stopping: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FinishState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tree(&self) -> tree::Run {
        tree::Run {
            id: self.id.clone(),
            root: self.root,
        }
    }

    /// The run's live processes now (whatever group or session they are
    /// in); remembers them, and reaps the zombies among loopdeck's
    /// (re-parented) children that are the run's: seen alive in it earlier,
    /// or still in its process group.
    fn scan(&self) -> Vec<tree::Proc> {
        if self.pgid.is_none() {
            return Vec::new();
        }
        let procs = tree::snapshot();
        let alive: Vec<tree::Proc> = self
            .tree()
            .members_in(&procs)
            .into_iter()
            .filter(|p| !p.zombie)
            .collect();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.extend(alive.iter().map(|p| (p.pid, p.start)));
        let dead: Vec<tree::Proc> = procs
            .into_iter()
            .filter(|p| p.zombie && (seen.contains(&(p.pid, p.start)) || Some(p.pgrp) == self.pgid))
            .collect();
        tree::reap(&dead, self.pgid);
        alive
    }

    /// `sig` to the run's process group and to every process of its tree
    /// (looked at first: a process the group signal ends at once is still
    /// known, so its zombie is reaped).
    fn signal(&self, sig: i32) {
        let procs = self.scan();
        if let Some(pgid) = self.pgid {
            group::signal(pgid, sig);
        }
        tree::send_all(&procs, sig);
    }

    /// True while a process of the run lives (its group or its tree).
    fn alive(&self) -> bool {
        self.pgid.is_some_and(group::has_live_members) || !self.scan().is_empty()
    }

    /// Waits until nothing of the run lives, or `deadline`. True when gone.
    async fn wait_gone(&self, deadline: Instant) -> bool {
        loop {
            if !self.alive() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep_until((Instant::now() + POLL).min(deadline)).await;
        }
    }

    /// SIGTERM to what is left of the run, up to `grace` for it to go, then
    /// SIGKILL. The last signal sent (None when nothing was left).
    async fn terminate(&self, grace: Duration) -> Option<i32> {
        if !self.alive() {
            return None;
        }
        self.signal(libc::SIGTERM);
        if self.wait_gone(Instant::now() + grace).await {
            return Some(libc::SIGTERM);
        }
        self.signal(libc::SIGKILL);
        // SIGKILL cannot be ignored; give the kernel a moment to finish it.
        self.wait_gone(Instant::now() + Duration::from_secs(1))
            .await;
        Some(libc::SIGKILL)
    }

    /// What the log grew by since the command started writing into it.
    fn output_bytes(&self) -> u64 {
        let (path, start) = {
            let st = self.lock();
            (st.log_path.clone(), st.output_start)
        };
        let len = fs::metadata(path).map_or(start, |m| m.len());
        len.saturating_sub(start)
    }

    /// Writes the `finished` record (and the log's outcome line) unless
    /// already written, and returns the record that was written. The run
    /// leaves the registry.
    fn finish(
        &self,
        fill: impl FnOnce(&mut RunRecord),
        tx: &mpsc::UnboundedSender<RunEvent>,
    ) -> RunRecord {
        let rec = {
            let mut st = self.lock();
            if let Some(done) = &st.written {
                done.clone()
            } else {
                let mut rec = st.base.clone();
                rec.finished = Some(Utc::now());
                rec.duration_secs = Some(st.t0.elapsed().as_secs_f64());
                fill(&mut rec);
                if let Some((why, sig)) = &st.stopping {
                    rec.cancelled = true;
                    rec.timed_out = false;
                    rec.exit_code = None;
                    rec.signal = Some(*sig);
                    rec.error.get_or_insert_with(|| why.clone());
                }
                let footer = footer_line(&rec);
                if let Ok(mut log) = OpenOptions::new().append(true).open(&st.log_path) {
                    let _ = log_lines(&mut log, &st.log_path, st.echo, &[&footer]);
                }
                let _ = tx.send(RunEvent::Line(footer));
                let _ = record::append_line(&mut st.runs, &record::event_line("finished", &rec));
                st.written = Some(rec.clone());
                rec
            }
        };
        registry().retain(|s| !std::ptr::eq(&**s, self));
        rec
    }

    /// SIGKILL to the group and the `finished` record written now, unless
    /// the run is already over. True when it was still going.
    fn kill_now(&self, reason: &str) -> bool {
        if self.lock().written.is_some() {
            return false;
        }
        self.signal(libc::SIGKILL);
        self.cancel.notify_one();
        // Nobody listens for events on this path: the record is what counts.
        let (tx, _rx) = mpsc::unbounded_channel();
        let bytes = self.output_bytes();
        self.finish(
            |r| {
                r.cancelled = true;
                r.signal = Some(libc::SIGKILL);
                r.error = Some(reason.to_string());
                r.output_bytes = bytes;
            },
            &tx,
        );
        true
    }
}

struct Supervised {
    shared: Arc<Shared>,
    child: tokio::process::Child,
    /// Reads the log back while the command runs (see `output`).
    follower: Option<JoinHandle<output::FollowOut>>,
    /// Tells the follower to read what is left and stop.
    stop: std::sync::mpsc::Sender<()>,
    timeout: Option<Duration>,
    grace: Duration,
    note: Option<String>,
    tx: mpsc::UnboundedSender<RunEvent>,
}

/// Sleeps until `at`, or forever.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Waits for the command, handles cancel/timeout, drains, cleans up the
/// group and writes the record.
async fn supervise(s: Supervised) {
    let Supervised {
        shared,
        mut child,
        follower,
        stop,
        timeout,
        grace,
        mut note,
        tx,
    } = s;
    let deadline = timeout.map(|t| Instant::now() + t);
    // Looks at the run's tree now and then, so processes that leave it
    // (double fork) are known and their zombies reaped.
    let mut look = tokio::time::interval(SCAN_EVERY);
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut term_at: Option<Instant> = None;
    // The last signal sent to stop the run.
    let mut sent: Option<i32> = None;
    let mut killed = false;
    let mut cancelled = false;
    let mut timed_out = false;

    let status = loop {
        let kill_at = term_at.filter(|_| !killed).map(|t| t + grace);
        tokio::select! {
            st = child.wait() => break st,
            _ = look.tick() => {
                shared.scan();
            }
            _ = shared.cancel.notified(), if term_at.is_none() => {
                cancelled = true;
                shared.signal(libc::SIGTERM);
                sent = Some(libc::SIGTERM);
                term_at = Some(Instant::now());
            }
            _ = until(deadline), if term_at.is_none() => {
                timed_out = true;
                shared.signal(libc::SIGTERM);
                sent = Some(libc::SIGTERM);
                term_at = Some(Instant::now());
            }
            _ = until(kill_at), if kill_at.is_some() => {
                shared.signal(libc::SIGKILL);
                sent = Some(libc::SIGKILL);
                killed = true;
            }
        }
    };
    let status = match status {
        Ok(st) => Some(st),
        Err(e) => {
            note.get_or_insert(format!("waiting for the command failed: {e}"));
            shared.signal(libc::SIGKILL);
            None
        }
    };

    if let Some(t) = term_at {
        // Cancelling: what the TERM left gets the rest of the grace, then
        // KILL.
        if !killed && !shared.wait_gone(t + grace).await {
            shared.signal(libc::SIGKILL);
            sent = Some(libc::SIGKILL);
        }
        shared
            .wait_gone(Instant::now() + Duration::from_secs(1))
            .await;
    }
    // Exited by itself: clean up what it left in its group (their output
    // still reaches the echo meanwhile).
    let leftovers = if term_at.is_none() {
        shared.terminate(grace).await
    } else {
        None
    };
    // The follower reads what is left of the output, then stops.
    let _ = stop.send(());
    let out = match follower {
        Some(f) => f.await.ok(),
        None => None,
    };
    let output_bytes = shared.output_bytes();
    if let Some(sig) = leftovers {
        let msg = format!(
            "{LOG_PREFIX} {} the command exited but left processes running: sent them {}",
            shared.id,
            signal_name(sig)
        );
        let (log_path, echo) = {
            let st = shared.lock();
            (st.log_path.clone(), st.echo)
        };
        if let Ok(mut log) = OpenOptions::new().append(true).open(&log_path) {
            let _ = log_lines(&mut log, &log_path, echo, &[&msg]);
        }
        let _ = tx.send(RunEvent::Line(msg));
    }
    let revision = out.and_then(|o| o.revision);

    let rec = shared.finish(
        |r| {
            use std::os::unix::process::ExitStatusExt;
            r.exit_code = status.and_then(|s| s.code());
            r.signal = if cancelled || timed_out {
                sent
            } else {
                status.and_then(|s| s.signal())
            };
            r.cancelled = cancelled;
            r.timed_out = timed_out;
            if revision.is_some() {
                r.revision = revision;
            }
            r.output_bytes = output_bytes;
            r.error = note.or(match r.exit_code {
                Some(127) if !cancelled && !timed_out => {
                    Some("command not found (exit 127)".to_string())
                }
                Some(126) if !cancelled && !timed_out => {
                    Some("command not executable (exit 126)".to_string())
                }
                _ => None,
            });
        },
        &tx,
    );
    let _ = tx.send(RunEvent::Finished(Box::new(rec)));
}
