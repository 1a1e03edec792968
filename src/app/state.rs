use std::collections::HashSet;

use chrono::{DateTime, FixedOffset, Utc};

use super::control::{ActiveRun, Auto, Confirm, Control, Output};
use super::detail::Detail;
use super::iteration::Iteration;
use super::rows::{self, FailureRow};

/// The panes that take keyboard focus. At narrow sizes they are tabs and the
/// focused one is the one shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Failures,
    Modules,
    Iteration,
    Deploy,
    Output,
    Warnings,
}

impl Focus {
    pub const ALL: [Focus; 6] = [
        Focus::Failures,
        Focus::Modules,
        Focus::Iteration,
        Focus::Deploy,
        Focus::Output,
        Focus::Warnings,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Focus::Failures => "Failures",
            Focus::Modules => "Modules",
            Focus::Iteration => "Iteration",
            Focus::Deploy => "Deploy",
            Focus::Output => "Output",
            Focus::Warnings => "Warnings",
        }
    }
}

/// A line of text being typed: the list filter or a search in the detail view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Filter(String),
    Search(String),
}

#[derive(Debug, Clone)]
pub struct State {
    /// Shown in the header: the loop's name (directory name or `--name`).
    pub title: String,
    /// Goal total of tests (`--goal`); defaults to the tests seen.
    pub goal: Option<usize>,
    pub iterations: Vec<Iteration>,
    /// Which iteration is on screen; `None` follows the latest (live).
    pub viewing: Option<usize>,
    pub focus: Focus,
    pub modules_cursor: usize,
    pub failures_cursor: usize,
    pub scroll: u16,
    /// Failure groups whose expansion the user flipped from the default.
    pub toggled_groups: HashSet<String>,
    pub filter: String,
    pub input: Option<Input>,
    pub detail: Option<Detail>,
    pub help: bool,
    pub help_scroll: usize,
    pub dir_warnings: Vec<String>,
    pub root_error: Option<String>,
    pub size: (u16, u16),
    pub now: DateTime<Utc>,
    /// Offset used to show times; the terminal sets the local one, tests UTC.
    pub tz: FixedOffset,
    /// A one-line notice ("copied 1.2 kB"), cleared by the next key.
    pub flash: Option<String>,
    /// Derived from iterations + filter + expansion, rebuilt by `update`
    /// whenever one of those changes so that drawing stays cheap.
    pub failure_rows: Vec<FailureRow>,
    pub module_rows: Vec<usize>,
    /// May this loopdeck run commands (a config), or is it a viewer?
    pub control: Control,
    pub confirm: Option<Confirm>,
    /// The command this loopdeck runs now.
    pub active: Option<ActiveRun>,
    pub auto: Auto,
    pub output: Output,
    /// A run in progress as the results directory records it (maybe
    /// another loopdeck's), and who holds the loop's lock.
    pub running: Option<crate::model::RunRecord>,
    pub lock: Option<crate::lock::LockInfo>,
    /// Keep iterations other than the latest and the viewed one compact
    /// (summary and failing ids only); the runtime turns this on, as it
    /// can load them back ([`super::Effect::Load`]).
    pub compact_history: bool,
    /// The iteration whose tests were asked for, until they arrive.
    pub loading: Option<String>,
    /// The output pane of a past iteration on screen: its own recorded log
    /// (`output` is the live one, the latest iteration's).
    pub past_output: Option<PastOutput>,
}

/// A past iteration's recorded command output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastOutput {
    pub key: String,
    /// Which log it is; `None`: asked for, not here yet, or the folder has
    /// no log.
    pub kind: Option<crate::model::RunKind>,
    pub lines: Vec<String>,
    /// The answer has come.
    pub loaded: bool,
}

impl State {
    pub fn new(title: impl Into<String>, goal: Option<usize>, now: DateTime<Utc>) -> Self {
        State {
            title: title.into(),
            goal,
            iterations: Vec::new(),
            viewing: None,
            focus: Focus::Failures,
            modules_cursor: 0,
            failures_cursor: 0,
            scroll: 0,
            toggled_groups: HashSet::new(),
            filter: String::new(),
            input: None,
            detail: None,
            help: false,
            help_scroll: 0,
            dir_warnings: Vec::new(),
            root_error: None,
            size: (80, 24),
            now,
            tz: FixedOffset::east_opt(0).expect("zero offset"),
            flash: None,
            failure_rows: Vec::new(),
            module_rows: Vec::new(),
            control: Control::ReadOnly(
                "no loopdeck.toml: a read-only viewer (`loopdeck init` writes one)".into(),
            ),
            confirm: None,
            active: None,
            auto: Auto::default(),
            output: Output::default(),
            running: None,
            lock: None,
            compact_history: false,
            loading: None,
            past_output: None,
        }
    }

    /// Index of the iteration on screen.
    pub fn current_index(&self) -> Option<usize> {
        match self.viewing {
            Some(i) if i < self.iterations.len() => Some(i),
            _ => self.iterations.len().checked_sub(1),
        }
    }

    pub fn current(&self) -> Option<&Iteration> {
        self.current_index().map(|i| &self.iterations[i])
    }

    pub fn latest(&self) -> Option<&Iteration> {
        self.iterations.last()
    }

    pub fn is_live(&self) -> bool {
        self.viewing.is_none()
    }

    /// The goal: `--goal`, else the most tests any iteration has seen.
    pub fn goal_total(&self) -> usize {
        self.goal.unwrap_or_else(|| {
            self.iterations
                .iter()
                .map(|i| i.summary.totals.tests)
                .max()
                .unwrap_or(0)
        })
    }

    /// Narrow terminals show one pane at a time as tabs.
    pub fn tabbed(&self) -> bool {
        self.size.0 < 100 || self.size.1 < 30
    }

    pub fn all_warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self.root_error.iter().cloned().collect();
        out.extend(self.dir_warnings.iter().cloned());
        if let Some(it) = self.current() {
            out.extend(it.data.warnings.iter().cloned());
        }
        out
    }

    pub fn group_expanded(&self, signature: &str, size: usize) -> bool {
        let default = size <= rows::EXPAND_BY_DEFAULT_UP_TO;
        default != self.toggled_groups.contains(signature)
    }

    /// Rebuilds the cached rows after data, filter or expansion changed,
    /// keeping cursors in range.
    pub fn rebuild_rows(&mut self) {
        self.failure_rows = rows::failure_rows(self);
        self.module_rows = rows::module_rows(self);
        self.failures_cursor = self
            .failures_cursor
            .min(self.failure_rows.len().saturating_sub(1));
        self.modules_cursor = self
            .modules_cursor
            .min(self.module_rows.len().saturating_sub(1));
    }
}

impl State {
    /// True when something on screen shows elapsed time, so the clock must tick.
    pub fn needs_clock(&self) -> bool {
        use crate::model::DeployState;
        self.active.is_some()
            || self.current().is_some_and(|it| {
                it.data.running
                    || it.data.deploy.as_ref().is_some_and(|d| {
                        matches!(d.state, DeployState::Deploying | DeployState::Queued)
                    })
            })
    }
}
