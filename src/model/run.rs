use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a run does. Keys with side effects map onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Test,
    Deploy,
    RerunFailed,
}

impl RunKind {
    pub fn label(self) -> &'static str {
        match self {
            RunKind::Test => "tests",
            RunKind::Deploy => "deploy",
            RunKind::RerunFailed => "rerun of failed tests",
        }
    }

    /// The log file of this kind of run in the iteration folder.
    pub fn log_name(self) -> &'static str {
        match self {
            RunKind::Deploy => "deploy.log",
            RunKind::Test | RunKind::RerunFailed => "test.log",
        }
    }
}

/// One attempt of a command, as `runs.jsonl` records it: a `started` line
/// when it begins and a `finished` line with the outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub kind: RunKind,
    pub command: String,
    #[serde(default)]
    pub cwd: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub pid: u32,
    pub started: DateTime<Utc>,
    #[serde(default)]
    pub finished: Option<DateTime<Utc>>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub signal: Option<i32>,
    #[serde(default)]
    pub duration_secs: Option<f64>,
    #[serde(default)]
    pub cancelled: bool,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default)]
    pub output_bytes: u64,
}

impl RunRecord {
    pub fn succeeded(&self) -> bool {
        self.finished.is_some()
            && self.exit_code == Some(0)
            && !self.cancelled
            && !self.timed_out
            && self.error.is_none()
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
