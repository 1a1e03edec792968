use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use crate::model::{RunKind, RunRecord};
use crate::results::IterationData;

/// Everything that can happen to loopdeck, as data.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// Iterations whose data changed (read back from the results directory),
    /// and the keys of iteration folders that disappeared.
    Data {
        changed: Vec<IterationData>,
        removed: Vec<String>,
    },
    /// Iterations whose tests changed only in place or at the end (a
    /// streaming report being written), as patches on what `Data` sent.
    Patch(Vec<crate::results::IterationPatch>),
    /// The results directory itself cannot be read (deleted, permissions), or
    /// can again (`None`).
    RootError(Option<String>),
    /// Warnings that concern the whole directory (watcher trouble, unreadable root).
    DirWarning(String),
    /// A command this loopdeck asked for has started (its record id, and
    /// when: the run's timer counts from this, not from the key press).
    RunStarted {
        kind: RunKind,
        id: String,
        started: DateTime<Utc>,
    },
    /// Output lines of the running command, already sanitized.
    RunOutput(Vec<String>),
    /// The command ended (or could not start); the record as written to runs.jsonl.
    RunFinished(RunRecord),
    /// A run was not started: the lock is held, the command is missing...
    RunRefused {
        kind: RunKind,
        reason: String,
    },
    /// New lines of a command log in the latest iteration (whoever runs it).
    LogLines {
        kind: RunKind,
        lines: Vec<String>,
    },
    /// Who runs what, from runs.jsonl and the lock: a run in progress (by
    /// this or any other loopdeck) and the lock holder.
    Activity {
        running: Option<RunRecord>,
        lock: Option<crate::lock::LockInfo>,
    },
    /// The command output recorded in a past iteration's folder (the tail
    /// of its newest log), answering [`Effect::LoadOutput`].
    PastOutput {
        key: String,
        /// Which log, `None` when the folder has none.
        kind: Option<RunKind>,
        lines: Vec<String>,
    },
    /// Wall clock; only sent while something on screen shows elapsed time.
    Tick(DateTime<Utc>),
}

/// What `update` asks the outside world to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    /// Put this text on the user's clipboard (OSC 52, works over SSH/tmux).
    Copy(String),
    /// Start a command; `next_iteration` first creates the next iteration folder.
    Start {
        kind: RunKind,
        next_iteration: bool,
    },
    /// Terminate the running command's process group (TERM, then KILL).
    Cancel,
    /// Read this iteration's tests again (by key): it is on screen but was
    /// kept compact. The answer comes as [`Msg::Data`].
    Load(String),
    /// Read the tail of the newest command log in a past iteration's
    /// folder (`dir`), for its own output pane; answered by
    /// [`Msg::PastOutput`] with `key`.
    LoadOutput {
        key: String,
        dir: std::path::PathBuf,
    },
}
