//! Driving the loop through update(): trigger keys -> effects, confirmations,
//! auto mode, quitting while a command runs. No processes, no terminal.

mod common;

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use loopdeck::app::{Commands, Confirm, Control, Effect, Msg, Stage, State, loop_stage, update};
use loopdeck::model::{RunKind, RunRecord};

fn ch(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn driving() -> State {
    let mut s = State::new("e2e", Some(12), Utc::now());
    s.control = Control::Enabled(Commands {
        service: Some("backend".into()),
        test: true,
        deploy: true,
        rerun_failed: true,
        auto_max_iterations: Some(2),
    });
    update(
        &mut s,
        Msg::Data {
            changed: vec![common::iteration(1, 4, 3, &[(0, 0, "HTTP 403 Forbidden")])],
            removed: vec![],
        },
    );
    s
}

fn finished(kind: RunKind, exit: i32) -> Msg {
    let now = Utc::now();
    Msg::RunFinished(RunRecord {
        id: format!("{kind:?}-1"),
        kind,
        command: "true".into(),
        cwd: "/".into(),
        user: "u".into(),
        host: "h".into(),
        pid: 1,
        started: now,
        finished: Some(now),
        exit_code: Some(exit),
        signal: None,
        duration_secs: Some(1.0),
        cancelled: false,
        timed_out: false,
        error: None,
        revision: Some("00094-k2d".into()),
        output_bytes: 10,
    })
}

#[test]
fn read_only_explains_and_does_nothing() {
    let mut s = State::new("e2e", None, Utc::now());
    for k in ['T', 'D', 'N', 'R', 'X', 'A'] {
        assert!(
            update(&mut s, ch(k)).is_empty(),
            "{k} has no effect read-only"
        );
        assert!(s.confirm.is_none());
        assert!(
            s.flash.as_deref().unwrap().starts_with("read-only:"),
            "{k}: {:?}",
            s.flash
        );
    }
}

#[test]
fn t_runs_tests_and_output_streams() {
    let mut s = driving();
    let fx = update(&mut s, ch('T'));
    assert_eq!(
        fx,
        vec![Effect::Start {
            kind: RunKind::Test,
            next_iteration: false
        }]
    );
    assert_eq!(s.active.as_ref().unwrap().kind, RunKind::Test);
    let started = s.now;
    update(
        &mut s,
        Msg::RunStarted {
            kind: RunKind::Test,
            id: "test-1".into(),
            started,
        },
    );
    update(
        &mut s,
        Msg::RunOutput(vec!["collected 12 items".into(), "tests/a.py ..F".into()]),
    );
    assert_eq!(s.output.lines.len(), 2);
    // A second trigger while running is refused with a reason.
    assert!(update(&mut s, ch('T')).is_empty());
    assert!(s.flash.as_deref().unwrap().contains("X cancels"));
    update(&mut s, finished(RunKind::Test, 1));
    assert!(s.active.is_none());
    assert!(s.flash.as_deref().unwrap().contains("test run failed"));
}

#[test]
fn deploy_asks_first_and_n_chains_tests_after_success() {
    let mut s = driving();
    assert!(update(&mut s, ch('D')).is_empty());
    assert_eq!(
        s.confirm,
        Some(Confirm::Deploy {
            next_iteration: false
        })
    );
    assert!(update(&mut s, ch('n')).is_empty(), "no starts nothing");
    assert!(s.confirm.is_none());

    assert!(update(&mut s, ch('N')).is_empty());
    let fx = update(&mut s, ch('y'));
    assert_eq!(
        fx,
        vec![Effect::Start {
            kind: RunKind::Deploy,
            next_iteration: true
        }]
    );
    let fx = update(&mut s, finished(RunKind::Deploy, 0));
    assert_eq!(
        fx,
        vec![Effect::Start {
            kind: RunKind::Test,
            next_iteration: false
        }],
        "tests follow a good deploy"
    );
}

#[test]
fn failed_deploy_does_not_chain() {
    let mut s = driving();
    update(&mut s, ch('N'));
    update(&mut s, ch('y'));
    assert!(update(&mut s, finished(RunKind::Deploy, 2)).is_empty());
    assert!(s.flash.as_deref().unwrap().contains("deploy failed"));
}

#[test]
fn x_cancels_after_confirmation() {
    let mut s = driving();
    assert!(update(&mut s, ch('X')).is_empty());
    assert_eq!(s.flash.as_deref(), Some("nothing is running"));
    update(&mut s, ch('T'));
    update(&mut s, ch('X'));
    assert_eq!(s.confirm, Some(Confirm::Cancel));
    assert_eq!(update(&mut s, ch('y')), vec![Effect::Cancel]);
    assert!(s.active.as_ref().unwrap().cancelling);
}

#[test]
fn quitting_while_running_asks_and_cancels() {
    let mut s = driving();
    update(&mut s, ch('T'));
    assert!(update(&mut s, ch('q')).is_empty());
    assert_eq!(s.confirm, Some(Confirm::QuitWhileRunning));
    assert!(
        update(
            &mut s,
            KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE).into_msg()
        )
        .is_empty()
    );
    update(&mut s, ch('q'));
    assert_eq!(update(&mut s, ch('y')), vec![Effect::Cancel, Effect::Quit]);
}

#[test]
fn tests_while_deploying_ask_first() {
    let mut s = driving();
    update(&mut s, ch('D'));
    update(&mut s, ch('y'));
    assert!(update(&mut s, ch('T')).is_empty());
    assert_eq!(s.confirm, Some(Confirm::TestWhileDeploying));
}

#[test]
fn auto_mode_chains_and_stops_on_failed_deploy_and_limit() {
    let mut s = driving();
    update(&mut s, ch('A'));
    assert!(s.auto.on);
    update(&mut s, ch('D'));
    update(&mut s, ch('y'));
    let fx = update(&mut s, finished(RunKind::Deploy, 0));
    assert_eq!(
        fx,
        vec![Effect::Start {
            kind: RunKind::Test,
            next_iteration: false
        }]
    );
    update(&mut s, finished(RunKind::Test, 1));
    assert!(s.auto.on, "tests failing keeps auto mode on");
    update(&mut s, ch('D'));
    update(&mut s, ch('y'));
    assert!(update(&mut s, finished(RunKind::Deploy, 1)).is_empty());
    assert!(!s.auto.on, "a failed deploy stops auto mode");

    // Limit: two iterations, the third deploy stops it.
    update(&mut s, ch('A'));
    for _ in 0..2 {
        update(&mut s, ch('D'));
        update(&mut s, ch('y'));
        assert!(!update(&mut s, finished(RunKind::Deploy, 0)).is_empty());
        update(&mut s, finished(RunKind::Test, 1));
    }
    update(&mut s, ch('D'));
    update(&mut s, ch('y'));
    assert!(update(&mut s, finished(RunKind::Deploy, 0)).is_empty());
    assert!(!s.auto.on);
}

#[test]
fn rerun_needs_failures() {
    let mut s = driving();
    assert_eq!(
        update(&mut s, ch('R')),
        vec![Effect::Start {
            kind: RunKind::RerunFailed,
            next_iteration: false
        }]
    );
    let mut green = driving();
    update(
        &mut green,
        Msg::Data {
            changed: vec![common::iteration(1, 4, 3, &[])],
            removed: vec![],
        },
    );
    assert!(update(&mut green, ch('R')).is_empty());
    assert_eq!(green.flash.as_deref(), Some("no failing tests to rerun"));
}

/// Iteration 1 (4 modules x 3 tests, nothing failing) where two tests pass
/// only because a rerun of the failing tests says so.
fn provisional(s: &mut State) {
    let mut it = common::iteration(1, 4, 3, &[]);
    it.provisional = vec![0, 4];
    update(
        s,
        Msg::Data {
            changed: vec![it],
            removed: vec![],
        },
    );
}

fn confirmed(s: &mut State) {
    update(
        s,
        Msg::Data {
            changed: vec![common::iteration(1, 4, 3, &[])],
            removed: vec![],
        },
    );
}

#[test]
fn a_provisional_green_is_not_green_and_a_full_run_is_next() {
    let mut s = driving();
    provisional(&mut s);
    assert_eq!(s.latest().unwrap().summary.totals.provisional, 2);
    assert_eq!(s.latest().unwrap().summary.totals.verified(), 10);
    assert_eq!(loop_stage(&s), Stage::Provisional);
    assert_eq!(
        Stage::Provisional.next_step(false),
        Some(("T", "full run to confirm"))
    );
    // Nothing fails, so R has nothing to rerun: it points at T.
    assert!(update(&mut s, ch('R')).is_empty());
    assert_eq!(
        s.flash.as_deref(),
        Some("no failing tests to rerun; the rerun green is provisional: T runs the full suite")
    );
    assert_eq!(
        update(&mut s, ch('T')),
        vec![Effect::Start {
            kind: RunKind::Test,
            next_iteration: false
        }]
    );
    confirmed(&mut s);
    update(&mut s, finished(RunKind::Test, 0));
    assert_eq!(loop_stage(&s), Stage::Green, "the full run confirmed");
}

#[test]
fn auto_mode_confirms_a_passing_rerun_and_a_provisional_green_is_not_the_goal() {
    let mut s = driving();
    update(&mut s, ch('A'));
    assert!(s.auto.on);
    assert!(!update(&mut s, ch('R')).is_empty());
    // The rerun passed (exit 0): its green is provisional, a full run follows.
    assert_eq!(
        update(&mut s, finished(RunKind::RerunFailed, 0)),
        vec![Effect::Start {
            kind: RunKind::Test,
            next_iteration: false
        }]
    );
    assert!(s.auto.on);
    // A full run whose result still shows provisional passes (it wrote no
    // report, say) does not meet the goal.
    provisional(&mut s);
    assert!(update(&mut s, finished(RunKind::Test, 0)).is_empty());
    assert!(s.auto.on, "provisional is not the goal");
    assert_ne!(loop_stage(&s), Stage::Green);
    // A rerun that still fails starts nothing.
    update(&mut s, ch('T'));
    update(&mut s, finished(RunKind::Test, 1));
    let mut failing = driving();
    update(&mut failing, ch('A'));
    update(&mut failing, ch('R'));
    assert!(update(&mut failing, finished(RunKind::RerunFailed, 1)).is_empty());
    assert!(failing.active.is_none());
    // Confirmed by a full run: the goal is met, auto mode stops.
    confirmed(&mut s);
    update(&mut s, ch('T'));
    update(&mut s, finished(RunKind::Test, 0));
    assert!(!s.auto.on);
    assert_eq!(
        s.flash.as_deref(),
        Some("goal met: every test passes; auto mode stopped")
    );
}

trait IntoMsg {
    fn into_msg(self) -> Msg;
}
impl IntoMsg for KeyEvent {
    fn into_msg(self) -> Msg {
        Msg::Key(self)
    }
}

#[test]
fn the_run_timer_counts_from_the_recorded_start_not_a_stale_clock() {
    let mut s = driving();
    // The screen was quiet for ten minutes: its clock is that old.
    let real_now = s.now;
    s.now = real_now - chrono::Duration::minutes(10);
    assert_eq!(
        update(&mut s, ch('T')),
        vec![Effect::Start {
            kind: RunKind::Test,
            next_iteration: false
        }]
    );
    update(
        &mut s,
        Msg::RunStarted {
            kind: RunKind::Test,
            id: "test-1".into(),
            started: real_now,
        },
    );
    update(&mut s, Msg::Tick(real_now + chrono::Duration::seconds(1)));
    let a = s.active.as_ref().unwrap();
    assert_eq!(a.started, real_now);
    assert_eq!((s.now - a.started).num_seconds(), 1, "0:01, not 10:01");
}
