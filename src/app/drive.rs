//! The part of `update` that drives the loop: trigger keys, confirmations,
//! auto mode and the messages of a running command.

use super::control::{ActiveRun, Confirm, Control, Stage, stage};
use super::keymap::Action;
use super::msg::Effect;
use super::state::{Focus, State};
use crate::model::{DeployState, RunKind, RunRecord, duration_text, parse_time};
use chrono::{DateTime, Utc};

/// Where the loop stands, from the latest iteration and what runs now.
pub fn loop_stage(state: &State) -> Stage {
    let Some(it) = state.latest() else {
        return if state.active.is_some() {
            Stage::Deploying
        } else {
            Stage::Empty
        };
    };
    let deploy = it.data.deploy.as_ref();
    let t = &it.summary.totals;
    // Tests count for this deploy only if the reports are newer than the deploy.
    let deploy_done = deploy
        .and_then(|d| d.finished.as_deref())
        .and_then(|s: &str| parse_time(Some(s)));
    let tests_after_deploy = match (deploy_done, it.data.modified) {
        (Some(d), Some(m)) => m >= d,
        _ => true,
    };
    // A run by another loopdeck (or a script) counts like our own.
    let others = state.running.as_ref().map(|r| ActiveRun {
        kind: r.kind,
        id: Some(r.id.clone()),
        started: r.started,
        then_test: false,
        cancelling: false,
    });
    stage(
        state.active.as_ref().or(others.as_ref()),
        deploy.map(|d| d.state),
        it.data.running,
        t,
        state.goal_total(),
        tests_after_deploy,
    )
}

fn commands(state: &State) -> Result<&super::control::Commands, String> {
    match &state.control {
        Control::ReadOnly(why) => Err(why.clone()),
        Control::Enabled(c) => Ok(c),
    }
}

/// Upper-case keys. Returns effects; explains in the footer what it cannot do.
pub fn on_trigger(state: &mut State, action: Action) -> Vec<Effect> {
    let cmds = match commands(state) {
        Ok(c) => c.clone(),
        Err(why) => {
            state.flash = Some(format!("read-only: {why}"));
            return Vec::new();
        }
    };
    let busy = state.active.as_ref().map(|a| a.kind);
    if busy.is_none()
        && !matches!(action, Action::ToggleAuto)
        && let (Some(r), Some(lock)) = (&state.running, &state.lock)
    {
        // Someone else's run: say who, instead of failing on the lock later.
        state.flash = Some(format!("{} running, lock held by {lock}", r.kind.label()));
        return Vec::new();
    }
    match action {
        Action::CancelRun => match busy {
            Some(_) => state.confirm = Some(Confirm::Cancel),
            None => state.flash = Some("nothing is running".into()),
        },
        Action::ToggleAuto => {
            if !(cmds.test && cmds.deploy) {
                state.flash = Some(
                    "auto mode needs both a [test] and a [deploy] command in loopdeck.toml".into(),
                );
                return Vec::new();
            }
            state.auto.on = !state.auto.on;
            state.auto.iterations = 0;
            state.auto.max = cmds.auto_max_iterations;
            state.flash = Some(if state.auto.on {
                let max = cmds
                    .auto_max_iterations
                    .map_or(String::new(), |m| format!(", or after {m} iterations"));
                format!(
                    "auto mode on: tests follow each successful deploy; stops when green, when a deploy fails{max}"
                )
            } else {
                "auto mode off".into()
            });
        }
        _ if busy.is_some() => {
            let kind = busy.expect("checked");
            if action == Action::RunTests && kind == RunKind::Deploy {
                state.confirm = Some(Confirm::TestWhileDeploying);
            } else {
                state.flash = Some(format!("{} is running: X cancels it", kind.label()));
            }
        }
        Action::RunTests => {
            if !cmds.test {
                state.flash = Some("no [test] command in loopdeck.toml".into());
            } else if state
                .latest()
                .and_then(|it| it.data.deploy.as_ref())
                .is_some_and(|d| matches!(d.state, DeployState::Deploying | DeployState::Queued))
            {
                // Someone else's deploy, seen in the results directory.
                state.confirm = Some(Confirm::TestWhileDeploying);
            } else {
                return start(state, RunKind::Test, false, false);
            }
        }
        Action::RerunFailed => {
            let totals = state.latest().map(|it| it.summary.totals);
            let failing = totals.map_or(0, |t| t.failing());
            if !cmds.rerun_failed {
                state.flash = Some("no [rerun_failed] command in loopdeck.toml".into());
            } else if failing == 0 && totals.is_some_and(|t| t.provisional > 0) {
                state.flash = Some(
                    "no failing tests to rerun; the rerun green is provisional: T runs the full suite"
                        .into(),
                );
            } else if failing == 0 {
                state.flash = Some("no failing tests to rerun".into());
            } else {
                return start(state, RunKind::RerunFailed, false, false);
            }
        }
        Action::Deploy | Action::Next => {
            if !cmds.deploy {
                state.flash = Some("no [deploy] command in loopdeck.toml".into());
            } else {
                state.confirm = Some(Confirm::Deploy {
                    next_iteration: action == Action::Next,
                });
            }
        }
        _ => {}
    }
    Vec::new()
}

fn start(state: &mut State, kind: RunKind, next_iteration: bool, then_test: bool) -> Vec<Effect> {
    state.active = Some(ActiveRun {
        kind,
        id: None,
        started: state.now,
        then_test,
        cancelling: false,
    });
    // Show the output as it streams (on small screens: its tab).
    state.focus = Focus::Output;
    vec![Effect::Start {
        kind,
        next_iteration,
    }]
}

/// The answer to the question on screen.
pub fn on_confirm(state: &mut State, yes: bool) -> Vec<Effect> {
    let Some(question) = state.confirm.take() else {
        return Vec::new();
    };
    if !yes {
        state.flash = Some("cancelled: nothing was started".into());
        return Vec::new();
    }
    match question {
        Confirm::Deploy { next_iteration } => {
            let then_test = next_iteration || state.auto.on;
            start(state, RunKind::Deploy, next_iteration, then_test)
        }
        Confirm::TestWhileDeploying => {
            if state.active.is_some() {
                state.flash = Some("the deploy is still running: X cancels it first".into());
                Vec::new()
            } else {
                start(state, RunKind::Test, false, false)
            }
        }
        Confirm::Cancel => cancel(state),
        Confirm::QuitWhileRunning => {
            let mut fx = cancel(state);
            fx.push(Effect::Quit);
            fx
        }
    }
}

fn cancel(state: &mut State) -> Vec<Effect> {
    match state.active.as_mut() {
        Some(a) => {
            a.cancelling = true;
            a.then_test = false;
            vec![Effect::Cancel]
        }
        None => Vec::new(),
    }
}

pub fn on_started(state: &mut State, kind: RunKind, id: String, started: DateTime<Utc>) {
    if let Some(a) = state.active.as_mut().filter(|a| a.kind == kind) {
        a.id = Some(id);
        // The clock on screen may be a quiet spell old at the key press.
        a.started = started;
    }
}

/// Lines read back from a command log. A log of another kind than the one
/// shown starts a fresh pane (deploy output, then test output).
pub fn on_log(state: &mut State, kind: RunKind, lines: Vec<String>) {
    let same = match (state.output.kind, kind) {
        (Some(RunKind::RerunFailed), RunKind::Test) => true,
        (Some(k), _) => k == kind,
        (None, _) => false,
    };
    if !same {
        state.output.clear(kind);
    }
    on_output(state, lines);
}

pub fn on_output(state: &mut State, lines: Vec<String>) {
    for l in lines {
        state.output.push(l);
    }
}

pub fn on_refused(state: &mut State, kind: RunKind, reason: String) {
    if state.active.as_ref().is_some_and(|a| a.kind == kind) {
        state.active = None;
    }
    state.auto.on = false;
    state.flash = Some(format!("{} not started: {reason}", kind.label()));
}

pub fn on_finished(state: &mut State, record: RunRecord) -> Vec<Effect> {
    // The directory will say so too, a moment later; don't wait for it.
    if state.running.as_ref().is_some_and(|r| r.id == record.id) {
        state.running = None;
    }
    let then_test = state.active.as_ref().is_some_and(|a| a.then_test);
    state.active = None;
    let word = record.outcome_word();
    let took = record.duration_secs.map_or(String::new(), |d| {
        format!(" in {}", duration_text(d as i64))
    });
    state.flash = Some(format!("{} {word}{took}", record.kind.label()));
    match record.kind {
        RunKind::Deploy if record.succeeded() => {
            if state.auto.on {
                state.auto.iterations += 1;
                if state.auto.max.is_some_and(|m| state.auto.iterations > m) {
                    state.auto.on = false;
                    state.flash = Some("auto mode stopped: iteration limit reached".into());
                    return Vec::new();
                }
            }
            if then_test || state.auto.on {
                return start(state, RunKind::Test, false, false);
            }
        }
        RunKind::Deploy => {
            if state.auto.on {
                state.auto.on = false;
                state.flash = Some(format!("deploy {word}: auto mode stopped"));
            }
        }
        // A rerun's green is provisional: auto mode confirms it with a full
        // run. (Decided on the exit status, not on the reports, which may
        // not have been read back yet.)
        RunKind::RerunFailed if state.auto.on && record.succeeded() => {
            state.flash = Some(format!(
                "{} {word}{took}: auto mode confirms with a full run",
                record.kind.label()
            ));
            return start(state, RunKind::Test, false, false);
        }
        RunKind::Test | RunKind::RerunFailed => {
            if state.auto.on && loop_stage(state) == Stage::Green {
                state.auto.on = false;
                state.flash = Some("goal met: every test passes; auto mode stopped".into());
            }
        }
    }
    Vec::new()
}
