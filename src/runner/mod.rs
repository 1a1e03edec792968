//! Child processes, owned for real.
//!
//! [`spawn`] runs one shell command line (`sh -c`, commands come only from
//! the operator's config) as a run: its output streams into the
//! iteration's log file and to the caller as [`RunEvent`]s, and the run is
//! recorded in the iteration's `runs.jsonl` (see [`record`]).
//!
//! # Behaviour
//!
//! * **Own session.** The command starts with `setsid()`: its own session
//!   and process group (pgid = its pid), no controlling terminal (a command
//!   that opens `/dev/tty` to prompt gets an error instead of fighting the
//!   TUI for the keyboard), stdin from `/dev/null`, SIGTERM/SIGINT/SIGHUP/
//!   SIGQUIT/SIGPIPE reset to their defaults.
//! * **Output.** stdout and stderr are read concurrently in chunks of
//!   whole lines and appended to the log as they come: the log holds the
//!   command's bytes (escape sequences included), interleaved line-wise, with
//!   no per-line work on the way, so a command printing gigabytes runs about
//!   as fast as with its output sent to a file. Nothing is kept: memory stays
//!   bounded for any amount of output (see [`output`]). Output is sanitized
//!   when shown: the output pane reads the log back through
//!   [`crate::logtail`], and a headless run copies it to stdout
//!   ([`RunSpec::echo`]), sanitized when stdout is a terminal. The caller
//!   gets no lines, only a [`RunEvent::Output`] now and then. The log is
//!   opened in append mode: several attempts share one `test.log`, each
//!   framed by a `[loopdeck] <id> started ...` and a `[loopdeck] <id> ...`
//!   outcome line, which are also sent as [`RunEvent::Line`]s.
//! * **Cancel** ([`RunHandle::cancel`]) and **timeout**: SIGTERM to the
//!   whole group, up to [`RunSpec::grace`] (default [`DEFAULT_GRACE`]) for
//!   it to go, then SIGKILL to the group. `cancelled`/`timed_out` is set and
//!   `signal` is the last signal loopdeck had to send: 15 when SIGTERM was
//!   enough, 9 when the grace period ran out (for a command that exits by
//!   itself, `signal` is whatever signal ended it, if any). A cancel that
//!   arrives after the command has exited (while its pipes drain) changes
//!   nothing: the leftover clean-up below follows anyway.
//! * **After the command exits** its pipes are drained until they close,
//!   or until no byte has arrived for [`DRAIN_IDLE`] (or [`DRAIN_MAX`] in
//!   all): a grandchild that inherited the pipe cannot hang the run.
//! * **Leftover processes:** anything still alive in the run's process
//!   group once the command has exited (background jobs, a server the test
//!   suite forgot to stop, a grandchild holding the pipe) is terminated the
//!   same way (SIGTERM, grace, SIGKILL) and the log says so. A run owns its
//!   whole group: nothing it started outlives it. (A command that really
//!   wants a daemon must start it with its own `setsid`; processes that
//!   leave the group that way are out of reach, and if one keeps the pipe
//!   open, its reader is abandoned after [`FINAL_DRAIN`].)
//! * **Errors:** a working directory that is not one, or a shell that
//!   cannot start, gives a `Finished` record with `error` set (pid 0, no
//!   `Started` event) and a `[loopdeck]` line in the log saying why. A
//!   command the shell cannot find is exit 127 with the shell's own message
//!   in the log and `error: "command not found (exit 127)"`; 126 likewise
//!   ("not executable"). `spawn` itself fails only when the log or the
//!   record cannot be opened, or outside a tokio runtime.
//! * **No child outlives loopdeck.** Dropping a [`RunHandle`] of a run
//!   still going SIGKILLs its group and writes its `finished` record at once
//!   (`cancelled`, `signal: 9`, `error` saying why). [`kill_all`] does the
//!   same for every run of the process: call it from the exit path, the
//!   SIGTERM/SIGHUP handler and the panic hook. `PR_SET_PDEATHSIG` is not
//!   used (it fires when the spawning *thread* exits). Not covered: loopdeck
//!   itself being SIGKILLed (or the OOM killer): nothing in-process can run
//!   then, so the runs go on and their `started` lines stay without a
//!   `finished` one.
//! * **Records:** a `started` line once the command runs and a `finished`
//!   line when the run is over, written exactly once per run whichever path
//!   ends it (see [`record`]). Ids are `<kind>-<UTC start>-<pid>`.
//!
//! A group id is only signalled while its run is registered (until its
//! `finished` record is written); Linux does not reuse a pid while a process
//! group of that id has members.

pub mod group;
pub mod output;
pub mod record;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
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
/// After the command exits, its pipes are given up on once they have been
/// silent this long...
pub const DRAIN_IDLE: Duration = Duration::from_millis(300);
/// ...or once this much time has passed since the exit, output or not.
pub const DRAIN_MAX: Duration = Duration::from_secs(5);
/// After the leftover processes are killed, how long the readers get to
/// reach the end of the pipes before they are abandoned.
pub const FINAL_DRAIN: Duration = Duration::from_secs(1);

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
    Output { bytes: u64 },
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

/// Kills every run this process started that is still going (SIGKILL to
/// each group, `finished` record written at once). For loopdeck's exit
/// path, its SIGTERM/SIGHUP handler and its panic hook. Returns how many
/// runs were killed. Not async-signal-safe (it locks and writes files):
/// call it from a `tokio::signal` task or the panic hook, never from a raw
/// signal handler.
pub fn kill_all() -> usize {
    let live: Vec<Arc<Shared>> = registry().clone();
    live.iter()
        .filter(|s| s.kill_now("killed because loopdeck exited"))
        .count()
}

/// Runs `spec`, reporting to `tx`. Must be called inside a tokio runtime.
/// Does a few small blocking writes (the log header and the `started`
/// record) before returning.
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

    let child = check_cwd(spec.cwd.as_deref()).and_then(|()| {
        command(&spec)
            .spawn()
            .map_err(|e| format!("cannot start `sh -c {}`: {e}", spec.command))
    });
    let mut child = match child {
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
            let _ = log_lines(&mut log, spec.echo, &[&header]);
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
    let started_line = record::event_line("started", &base);
    let shared = Arc::new(Shared::new(
        base.id.clone(),
        i32::try_from(pid).ok().filter(|&p| p > 1),
        runs,
        spec.log_path.clone(),
        spec.echo,
        base,
        t0,
    ));
    registry().push(shared.clone());

    let mut note = None;
    if let Err(e) = log_lines(&mut log, spec.echo, &[&header]) {
        note = Some(format!("writing the log failed: {e}"));
    }
    if let Err(e) = record::append_line(&mut shared.lock().runs, &started_line) {
        note = Some(format!("writing {} failed: {e}", spec.runs_path.display()));
    }
    let _ = tx.send(RunEvent::Started {
        id: shared.id.clone(),
        pid,
    });
    let _ = tx.send(RunEvent::Line(header));

    let bytes = shared.bytes.clone();
    let (chunk_tx, chunk_rx) = mpsc::channel(output::CHANNEL);
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        output::widen_pipe(&out);
        readers.push(rt.spawn(output::read_pipe(out, chunk_tx.clone(), bytes.clone())));
    }
    if let Some(err) = child.stderr.take() {
        output::widen_pipe(&err);
        readers.push(rt.spawn(output::read_pipe(err, chunk_tx.clone(), bytes.clone())));
    }
    drop(chunk_tx);
    let sink = output::Sink {
        chunks: chunk_rx,
        log,
        echo: spec.echo,
        pattern: spec.revision_pattern.clone(),
        tx: tx.clone(),
        bytes: bytes.clone(),
        rt: rt.clone(),
    };
    let sink = rt.spawn_blocking(move || output::write_all(sink));
    rt.spawn(supervise(Supervised {
        shared: shared.clone(),
        child,
        readers,
        sink,
        bytes,
        timeout: spec.timeout,
        grace: spec.grace,
        note,
        tx,
    }));
    Ok(RunHandle { shared })
}

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

fn command(spec: &RunSpec) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(&spec.command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    // SAFETY: between fork and exec only async-signal-safe calls (setsid,
    // signal) are made, and nothing is allocated.
    unsafe {
        cmd.pre_exec(|| {
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
/// mode, in one write, and copies them to the echo: everything in the log
/// reaches the echo, in the log's order.
fn log_lines(log: &mut File, echo: output::Echo, lines: &[&str]) -> io::Result<()> {
    let mut buf = Vec::new();
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
    cancel: Notify,
    /// Raw output bytes read so far.
    bytes: Arc<AtomicU64>,
    state: Mutex<FinishState>,
}

#[derive(Debug)]
struct FinishState {
    runs: File,
    log_path: PathBuf,
    echo: output::Echo,
    base: RunRecord,
    t0: Instant,
    /// The `finished` record, once written.
    written: Option<RunRecord>,
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
            cancel: Notify::new(),
            bytes: Arc::new(AtomicU64::new(0)),
            state: Mutex::new(FinishState {
                runs,
                log_path,
                echo,
                base,
                t0,
                written: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FinishState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
                let footer = footer_line(&rec);
                if let Ok(mut log) = OpenOptions::new().append(true).open(&st.log_path) {
                    let _ = log_lines(&mut log, st.echo, &[&footer]);
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
        if let Some(pgid) = self.pgid {
            group::signal(pgid, libc::SIGKILL);
        }
        self.cancel.notify_one();
        // Nobody listens for events on this path: the record is what counts.
        let (tx, _rx) = mpsc::unbounded_channel();
        self.finish(
            |r| {
                r.cancelled = true;
                r.signal = Some(libc::SIGKILL);
                r.error = Some(reason.to_string());
                r.output_bytes = self.bytes.load(Ordering::Relaxed);
            },
            &tx,
        );
        true
    }
}

struct Supervised {
    shared: Arc<Shared>,
    child: tokio::process::Child,
    readers: Vec<JoinHandle<()>>,
    sink: JoinHandle<output::SinkOut>,
    bytes: Arc<AtomicU64>,
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
        readers,
        mut sink,
        bytes,
        timeout,
        grace,
        mut note,
        tx,
    } = s;
    let pgid = shared.pgid.unwrap_or(0);
    let deadline = timeout.map(|t| Instant::now() + t);
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
            _ = shared.cancel.notified(), if term_at.is_none() => {
                cancelled = true;
                group::signal(pgid, libc::SIGTERM);
                sent = Some(libc::SIGTERM);
                term_at = Some(Instant::now());
            }
            _ = until(deadline), if term_at.is_none() => {
                timed_out = true;
                group::signal(pgid, libc::SIGTERM);
                sent = Some(libc::SIGTERM);
                term_at = Some(Instant::now());
            }
            _ = until(kill_at), if kill_at.is_some() => {
                group::signal(pgid, libc::SIGKILL);
                sent = Some(libc::SIGKILL);
                killed = true;
            }
        }
    };
    let status = match status {
        Ok(st) => Some(st),
        Err(e) => {
            note.get_or_insert(format!("waiting for the command failed: {e}"));
            group::signal(pgid, libc::SIGKILL);
            None
        }
    };

    let mut sink_out = None;
    if let Some(t) = term_at {
        // Cancelling: what the TERM left gets the rest of the grace, then
        // KILL; then the pipes close by themselves.
        if !killed && !group::wait_gone(pgid, t + grace).await {
            group::signal(pgid, libc::SIGKILL);
            sent = Some(libc::SIGKILL);
        }
        group::wait_gone(pgid, Instant::now() + Duration::from_secs(1)).await;
    } else {
        // Exited by itself: collect what is still coming, then clean up.
        sink_out = drain(&mut sink, &bytes).await;
        if let Some(sig) = group::terminate(pgid, grace).await {
            let msg = format!(
                "{LOG_PREFIX} {} the command exited but left processes in its group: sent them {}",
                shared.id,
                signal_name(sig)
            );
            let (log_path, echo) = {
                let st = shared.lock();
                (st.log_path.clone(), st.echo)
            };
            if let Ok(mut log) = OpenOptions::new().append(true).open(&log_path) {
                let _ = log_lines(&mut log, echo, &[&msg]);
            }
            let _ = tx.send(RunEvent::Line(msg));
        }
    }
    if sink_out.is_none() {
        sink_out = match tokio::time::timeout(FINAL_DRAIN, &mut sink).await {
            Ok(out) => out.ok(),
            Err(_) => {
                // Something outside the group still holds a pipe.
                for r in &readers {
                    r.abort();
                }
                tokio::time::timeout(DRAIN_MAX, &mut sink)
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
        };
    }
    let out = sink_out.unwrap_or(output::SinkOut {
        revision: None,
        write_error: Some("the log writer did not finish".into()),
    });

    let output_bytes = bytes.load(Ordering::Relaxed);
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
            if out.revision.is_some() {
                r.revision = out.revision;
            }
            r.output_bytes = output_bytes;
            r.error = note.or(out.write_error).or(match r.exit_code {
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

/// After the command's exit: waits for the readers to reach the end of the
/// pipes, giving up after [`DRAIN_IDLE`] of silence or [`DRAIN_MAX`] in
/// all. `Some` when the sink finished.
async fn drain(
    sink: &mut JoinHandle<output::SinkOut>,
    bytes: &AtomicU64,
) -> Option<output::SinkOut> {
    let start = Instant::now();
    let mut seen = bytes.load(Ordering::Relaxed);
    loop {
        tokio::select! {
            out = &mut *sink => return out.ok(),
            _ = tokio::time::sleep(DRAIN_IDLE) => {
                let now = bytes.load(Ordering::Relaxed);
                if now == seen || start.elapsed() >= DRAIN_MAX {
                    return None;
                }
                seen = now;
            }
        }
    }
}
