//! Driving the loop from the UI: what may run, what runs now, what needs a
//! yes first, and where the loop stands. Plain data; `update` decides.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::model::{DeployState, RunKind, Totals};

/// Whether this loopdeck may run commands, and which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// A viewer: the reason is shown when a trigger key is pressed.
    ReadOnly(String),
    Enabled(Commands),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commands {
    pub service: Option<String>,
    pub test: bool,
    pub deploy: bool,
    pub rerun_failed: bool,
    pub auto_max_iterations: Option<u32>,
}

/// A question waiting for y/n.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// `D` (or `N`, which first makes a new iteration folder).
    Deploy { next_iteration: bool },
    /// `X`: terminate the running command's process group.
    Cancel,
    /// `q` while a command runs: cancel it and quit.
    QuitWhileRunning,
    /// `T` while a deploy is still running.
    TestWhileDeploying,
}

/// The command this loopdeck started and is watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRun {
    pub kind: RunKind,
    pub id: Option<String>,
    pub started: DateTime<Utc>,
    /// `N`: a successful deploy is followed by a test run.
    pub then_test: bool,
    pub cancelling: bool,
}

/// Auto mode: every successful deploy is followed by a test run; it stops
/// itself when the goal is met, a deploy fails, or after `max` iterations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Auto {
    pub on: bool,
    pub iterations: u32,
    pub max: Option<u32>,
}

/// The output pane: the tail of the running (or last) command's output.
/// Bounded: a command printing a gigabyte keeps only the last lines here
/// (the whole output is in the iteration's log file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub kind: Option<RunKind>,
    pub lines: VecDeque<String>,
    /// Lines that fell off the front.
    pub dropped: u64,
    /// 0 follows the tail; otherwise how many lines above the tail the view is.
    pub back: usize,
}

impl Output {
    pub const KEEP: usize = 5_000;

    pub fn clear(&mut self, kind: RunKind) {
        *self = Output {
            kind: Some(kind),
            ..Output::default()
        };
    }

    pub fn push(&mut self, line: String) {
        if self.lines.len() == Self::KEEP {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
        // Someone reading back keeps their place while new lines arrive.
        if self.back > 0 {
            self.back = (self.back + 1).min(self.lines.len().saturating_sub(1));
        }
    }
}

/// Where the loop stands, and so what the next step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Empty,
    NeedsDeploy,
    Deploying,
    NeedsTests,
    Testing,
    /// Tests ran against the current deploy and some fail: fix, then `N`.
    NeedsFix,
    /// Nothing fails, but only because a rerun of the failing tests says so
    /// for some: a full run has to confirm before the loop is green.
    Provisional,
    Green,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Empty => "no iteration yet",
            Stage::NeedsDeploy => "needs a deploy",
            Stage::Deploying => "deploying",
            Stage::NeedsTests => "needs a test run",
            Stage::Testing => "testing",
            Stage::NeedsFix => "tests fail: fix, then",
            Stage::Provisional => "rerun green is provisional",
            Stage::Green => "green",
        }
    }

    /// The key that takes the loop forward from here, with what it does.
    /// `owned`: this loopdeck runs the command (only then can `X` cancel
    /// a deploy or test run in progress; one seen in the directory was
    /// started elsewhere).
    pub fn next_step(self, owned: bool) -> Option<(&'static str, &'static str)> {
        match self {
            Stage::Empty | Stage::NeedsFix => Some(("N", "next iteration")),
            Stage::NeedsDeploy => Some(("D", "deploy")),
            Stage::NeedsTests => Some(("T", "run tests")),
            Stage::Provisional => Some(("T", "full run to confirm")),
            Stage::Deploying | Stage::Testing if owned => Some(("X", "cancel")),
            Stage::Deploying | Stage::Testing | Stage::Green => None,
        }
    }
}

/// Derives the stage from the latest iteration (`totals`) and what runs now.
pub fn stage(
    active: Option<&ActiveRun>,
    deploy: Option<DeployState>,
    tests_running: bool,
    totals: &Totals,
    goal: usize,
    tests_after_deploy: bool,
) -> Stage {
    let tests = totals.tests;
    match active.map(|a| a.kind) {
        Some(RunKind::Deploy) => return Stage::Deploying,
        Some(RunKind::Test | RunKind::RerunFailed) => return Stage::Testing,
        None => {}
    }
    if tests_running {
        return Stage::Testing;
    }
    match deploy {
        Some(DeployState::Deploying | DeployState::Queued) => return Stage::Deploying,
        Some(DeployState::Failed | DeployState::Cancelled) => return Stage::NeedsDeploy,
        _ => {}
    }
    if tests == 0 || !tests_after_deploy {
        return if deploy.is_none() && tests == 0 {
            Stage::NeedsDeploy
        } else {
            Stage::NeedsTests
        };
    }
    if totals.failing() > 0 {
        Stage::NeedsFix
    } else if totals.provisional > 0 {
        Stage::Provisional
    } else if tests >= goal {
        Stage::Green
    } else {
        Stage::NeedsTests
    }
}
