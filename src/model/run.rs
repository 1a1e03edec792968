//! Runs of the loop's commands as `runs.jsonl` records them (plain data;
//! the runner writes them, everything else reads them).

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

    /// One word for how it ended.
    pub fn outcome_word(&self) -> &'static str {
        if self.finished.is_none() {
            "running"
        } else if self.cancelled {
            "cancelled"
        } else if self.timed_out {
            "timed out"
        } else if self.error.is_some() {
            "could not start"
        } else if self.exit_code == Some(0) {
            "succeeded"
        } else {
            "failed"
        }
    }
}
