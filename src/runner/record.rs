//! `runs.jsonl`: loopdeck's own record of the commands it ran.
//!
//! One JSON object per line, appended whole with `O_APPEND` in a single
//! `write`: `{"event":"started", ...record}` when a run starts and
//! `{"event":"finished", ...record}` when it ends. Each attempt has its own
//! `id`, so a retried run never overwrites an earlier one. A crash at any
//! moment leaves at worst a partial last line, which readers skip; the next
//! append first ends that partial line so it cannot corrupt the new one.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Test,
    Deploy,
    RerunFailed,
}

impl RunKind {
    /// The serde name: `test`, `deploy`, `rerun_failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Test => "test",
            RunKind::Deploy => "deploy",
            RunKind::RerunFailed => "rerun_failed",
        }
    }
}

impl RunKind {
    /// The log file a run of this kind writes in its iteration folder:
    /// `deploy.log` for deploys, `test.log` for test runs and reruns.
    pub fn log_name(self) -> &'static str {
        match self {
            RunKind::Deploy => "deploy.log",
            RunKind::Test | RunKind::RerunFailed => "test.log",
        }
    }

    /// For messages: "test run", "deploy", "rerun of the failing tests".
    pub fn label(self) -> &'static str {
        match self {
            RunKind::Test => "test run",
            RunKind::Deploy => "deploy",
            RunKind::RerunFailed => "rerun of the failing tests",
        }
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One attempt at running a command. In `runs.jsonl` the `started` line has
/// the first eight fields; the `finished` line has them all.
///
/// Everything but `id`, `kind` and `started` has a default when read, so a
/// shell script can write a minimal record with `echo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique per attempt: `<kind>-<UTC start, %Y%m%dT%H%M%SZ>-<pid>`.
    pub id: String,
    pub kind: RunKind,
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub cwd: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub host: String,
    /// The child's pid (also its process group and session id); 0 when it
    /// never started.
    #[serde(default)]
    pub pid: u32,
    pub started: DateTime<Utc>,
    #[serde(default)]
    pub finished: Option<DateTime<Utc>>,
    /// Exit status when the command exited by itself.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// For a run loopdeck stopped (cancelled or timed out): the last signal
    /// it had to send the group, 15 when SIGTERM was enough, 9 when the
    /// grace period ran out and SIGKILL followed. Otherwise the signal that
    /// ended the command by itself (e.g. 11), if any.
    #[serde(default)]
    pub signal: Option<i32>,
    #[serde(default)]
    pub duration_secs: Option<f64>,
    /// Stopped on request (the `X` key, a dropped handle, loopdeck exiting).
    #[serde(default)]
    pub cancelled: bool,
    /// Stopped because its timeout ran out.
    #[serde(default)]
    pub timed_out: bool,
    /// Why the run did not do what it should beyond its exit status: could
    /// not start, command not found (`sh` exit 127), not executable (126),
    /// log not writable, killed because loopdeck exited.
    #[serde(default)]
    pub error: Option<String>,
    /// Deploys: the last match of the revision pattern in the output. Test
    /// runs: the revision they ran against ([`RunSpec::revision`]), unless
    /// a pattern matched their output.
    ///
    /// [`RunSpec::revision`]: super::RunSpec::revision
    #[serde(default)]
    pub revision: Option<String>,
    /// Bytes of output read from the command (stdout + stderr, raw).
    #[serde(default)]
    pub output_bytes: u64,
}

impl RunRecord {
    /// Finished, exit 0, nothing else wrong.
    pub fn succeeded(&self) -> bool {
        self.finished.is_some()
            && self.exit_code == Some(0)
            && self.error.is_none()
            && !self.cancelled
            && !self.timed_out
    }

    /// No `finished` line yet: still running, or its loopdeck died (check
    /// the lock holder to tell).
    pub fn is_running(&self) -> bool {
        self.finished.is_none()
    }
}

#[derive(Serialize)]
struct EventOut<'a> {
    event: &'a str,
    #[serde(flatten)]
    record: &'a RunRecord,
}

#[derive(Deserialize)]
struct EventIn {
    #[serde(default)]
    event: String,
    #[serde(flatten)]
    record: RunRecord,
}

/// One `runs.jsonl` line (without the newline).
pub fn event_line(event: &str, record: &RunRecord) -> Vec<u8> {
    serde_json::to_vec(&EventOut { event, record }).expect("a run record always serialises")
}

/// Appends `line` plus a newline to `file` (opened with append + read) in
/// one `write`. If the file does not end with a newline (a crash cut the
/// last line short), a newline goes first so the new line stays whole.
pub fn append_line(file: &mut File, line: &[u8]) -> io::Result<()> {
    let len = file.metadata()?.len();
    let mut buf = Vec::with_capacity(line.len() + 2);
    if len > 0 {
        let mut last = [0u8];
        if file.read_exact_at(&mut last, len - 1).is_ok() && last[0] != b'\n' {
            buf.push(b'\n');
        }
    }
    buf.extend_from_slice(line);
    buf.push(b'\n');
    file.write_all(&buf)
}

/// Reads `runs.jsonl`: one record per run id, in order of first appearance,
/// the `finished` line winning over the `started` one. Tolerant: missing
/// file -> empty; bad, partial or non-UTF-8 lines are skipped.
pub fn read_runs(path: &Path) -> Vec<RunRecord> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    read_runs_from(BufReader::new(file))
}

/// [`read_runs`] over any reader.
pub fn read_runs_from(reader: impl Read) -> Vec<RunRecord> {
    /// Longer lines are not ours; skip them without holding them.
    const MAX_LINE: u64 = 1 << 20;
    let mut reader = BufReader::new(reader);
    let mut out: Vec<RunRecord> = Vec::new();
    let mut by_id: HashMap<String, (usize, bool)> = HashMap::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(n) => n,
            Err(_) => break,
        };
        if line.last() != Some(&b'\n') {
            if n as u64 >= MAX_LINE {
                // Skip the rest of an over-long line.
                let mut sink = Vec::new();
                while let Ok(k) = (&mut reader).take(MAX_LINE).read_until(b'\n', &mut sink) {
                    if k == 0 || sink.last() == Some(&b'\n') {
                        break;
                    }
                    sink.clear();
                }
                continue;
            }
            // A partial last line: being written, or cut by a crash.
            break;
        }
        let Ok(ev) = serde_json::from_slice::<EventIn>(&line) else {
            continue;
        };
        let finished = ev.event == "finished" || ev.record.finished.is_some();
        match by_id.get_mut(&ev.record.id) {
            Some((i, done)) => {
                if finished || !*done {
                    out[*i] = ev.record;
                    *done |= finished;
                }
            }
            None => {
                by_id.insert(ev.record.id.clone(), (out.len(), finished));
                out.push(ev.record);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> RunRecord {
        RunRecord {
            id: id.into(),
            kind: RunKind::Deploy,
            command: "deploy.sh".into(),
            cwd: "/srv".into(),
            user: "alice".into(),
            host: "ci-3".into(),
            pid: 42,
            started: "2026-11-24T10:15:00Z".parse().unwrap(),
            finished: None,
            exit_code: None,
            signal: None,
            duration_secs: None,
            cancelled: false,
            timed_out: false,
            error: None,
            revision: None,
            output_bytes: 0,
        }
    }

    #[test]
    fn event_line_is_flat_and_round_trips() {
        let r = rec("deploy-1");
        let line = String::from_utf8(event_line("started", &r)).unwrap();
        assert!(line.starts_with(r#"{"event":"started","id":"deploy-1","kind":"deploy""#));
        assert_eq!(read_runs_from(format!("{line}\n").as_bytes()), vec![r]);
    }

    #[test]
    fn finished_wins_and_bad_lines_are_skipped() {
        let a = rec("a");
        let mut a_done = a.clone();
        a_done.finished = Some(a.started);
        a_done.exit_code = Some(0);
        let b = rec("b");
        let mut text = Vec::new();
        for l in [
            event_line("started", &a),
            b"not json".to_vec(),
            b"{\"event\":\"started\"}".to_vec(),
            event_line("started", &b),
            event_line("finished", &a_done),
            event_line("started", &a), // a stray re-start does not undo finished
        ] {
            text.extend_from_slice(&l);
            text.push(b'\n');
        }
        text.extend_from_slice(b"{\"event\":\"finished\",\"id\":\"b\",\"ki"); // partial
        assert_eq!(read_runs_from(&text[..]), vec![a_done, b]);
    }

    #[test]
    fn minimal_shell_written_record() {
        let line = br#"{"event":"finished","id":"x","kind":"test","started":"2026-11-24T10:00:00Z","exit_code":1}
"#;
        let runs = read_runs_from(&line[..]);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].exit_code, Some(1));
        assert!(!runs[0].succeeded());
    }

    #[test]
    fn append_after_a_partial_line_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.jsonl");
        std::fs::write(&path, b"{\"event\":\"sta").unwrap();
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        append_line(&mut f, &event_line("started", &rec("c"))).unwrap();
        assert_eq!(read_runs(&path), vec![rec("c")]);
    }
}
