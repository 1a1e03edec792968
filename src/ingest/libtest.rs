//! libtest JSON lines (`cargo test -- -Z unstable-options --format json`).
//!
//! id = the test path as libtest prints it (the stream has no binary name),
//! module = the Rust module path before the last `::`, or `test binary N`
//! (N counts the `suite started` events) for tests at a crate root.
//! message = the `thread '...' panicked at FILE:LINE:COL:` line of the
//! captured stdout as the console shows it, else the event's `message`.

use serde_json::Value;

use super::lines::Sink;
use super::text::message_line;
use crate::model::{Failure, Outcome, TestCase};

#[derive(Debug, Default)]
pub(crate) struct LibtestState {
    suites_started: usize,
    suite_open: bool,
    pub expected_total: Option<usize>,
}

impl LibtestState {
    pub fn is_complete(&self) -> bool {
        self.suites_started > 0 && !self.suite_open
    }

    pub fn event(&mut self, v: &Value, sink: &mut Sink) {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        let event = v.get("event").and_then(Value::as_str).unwrap_or("");
        match (kind, event) {
            ("suite", "started") => {
                self.suites_started += 1;
                self.suite_open = true;
                if let Some(n) = v.get("test_count").and_then(Value::as_u64) {
                    *self.expected_total.get_or_insert(0) += n as usize;
                }
            }
            ("suite", _) => self.suite_open = false,
            ("test", "ok" | "failed" | "ignored") => {
                let name = v.get("name").and_then(Value::as_str).unwrap_or("");
                let outcome = match event {
                    "ok" => Outcome::Passed,
                    "failed" => Outcome::Failed,
                    _ => Outcome::Skipped,
                };
                let module = match name.rsplit_once("::") {
                    Some((m, _)) => m.to_string(),
                    None => format!("test binary {}", self.suites_started.max(1)),
                };
                let failure = (outcome == Outcome::Failed).then(|| {
                    let stdout = v.get("stdout").and_then(Value::as_str).unwrap_or("");
                    let note = v.get("message").and_then(Value::as_str).unwrap_or("");
                    Box::new(failure(stdout, note))
                });
                sink.upsert(TestCase {
                    id: name.to_string(),
                    module: module.into(),
                    outcome,
                    duration_secs: v.get("exec_time").and_then(Value::as_f64),
                    failure,
                });
            }
            _ => {}
        }
    }
}

/// A Rust test failure from its captured stdout (which holds the panic and
/// backtrace after anything the test printed) and libtest's own note.
pub fn failure(stdout: &str, note: &str) -> Failure {
    let panic_at = stdout.match_indices("thread '").map(|(i, _)| i).find(|&i| {
        stdout[i..]
            .lines()
            .next()
            .is_some_and(|l| l.contains("panicked at"))
    });
    let (message, detail) = match panic_at {
        Some(i) => (
            message_line(&stdout[i..]),
            stdout[i..].trim_end().to_string(),
        ),
        // The console prints libtest's note with a `note: ` prefix.
        None if !note.is_empty() && !note.starts_with("note: ") => {
            (message_line(&format!("note: {note}")), note.to_string())
        }
        None if !note.is_empty() => (message_line(note), note.to_string()),
        None => (message_line(stdout), stdout.trim_end().to_string()),
    };
    Failure {
        message,
        kind: None,
        detail,
        stdout: stdout.to_string(),
        stderr: String::new(),
    }
}
