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

use serde::{Deserialize, Serialize};

pub use crate::model::{RunKind, RunRecord};

#[derive(Serialize)]
struct EventOut<'a> {
    event: &'a str,
    #[serde(flatten)]
    record: &'a RunRecord,
    /// `started` lines: the start time of the process `pid` (field 22 of
    /// `/proc/PID/stat`), so a later loopdeck can tell that very process
    /// from one that reused its pid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pid_start: Option<u64>,
    /// `finished` lines written by a later loopdeck for a run whose own
    /// loopdeck ended without recording the end (killed, machine crash).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupted: bool,
}

#[derive(Deserialize)]
struct EventIn {
    #[serde(default)]
    event: String,
    #[serde(default)]
    pid_start: Option<u64>,
    #[serde(flatten)]
    record: RunRecord,
}

/// One `runs.jsonl` line (without the newline).
pub fn event_line(event: &str, record: &RunRecord) -> Vec<u8> {
    line(event, record, None, false)
}

/// The `started` line of a run whose root process started at `pid_start`.
pub fn started_line(record: &RunRecord, pid_start: Option<u64>) -> Vec<u8> {
    line("started", record, pid_start, false)
}

/// The `finished` line a later loopdeck writes for an interrupted run
/// (`"interrupted":true`).
pub fn interrupted_line(record: &RunRecord) -> Vec<u8> {
    line("finished", record, None, true)
}

fn line(event: &str, record: &RunRecord, pid_start: Option<u64>, interrupted: bool) -> Vec<u8> {
    serde_json::to_vec(&EventOut {
        event,
        record,
        pid_start,
        interrupted,
    })
    .expect("a run record always serialises")
}

/// A run as `runs.jsonl` has it, with the root's start time from its
/// `started` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub record: RunRecord,
    pub pid_start: Option<u64>,
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
    read_recorded(path).into_iter().map(|r| r.record).collect()
}

/// [`read_runs`] with each run's `pid_start`.
pub fn read_recorded(path: &Path) -> Vec<Recorded> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    recorded_from(BufReader::new(file))
}

/// [`read_runs`] over any reader.
pub fn read_runs_from(reader: impl Read) -> Vec<RunRecord> {
    recorded_from(reader)
        .into_iter()
        .map(|r| r.record)
        .collect()
}

fn recorded_from(reader: impl Read) -> Vec<Recorded> {
    /// Longer lines are not ours; skip them without holding them.
    const MAX_LINE: u64 = 1 << 20;
    let mut reader = BufReader::new(reader);
    let mut out: Vec<Recorded> = Vec::new();
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
                    let pid_start = ev.pid_start.or(out[*i].pid_start);
                    out[*i] = Recorded {
                        record: ev.record,
                        pid_start,
                    };
                    *done |= finished;
                }
            }
            None => {
                by_id.insert(ev.record.id.clone(), (out.len(), finished));
                out.push(Recorded {
                    record: ev.record,
                    pid_start: ev.pid_start,
                });
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
