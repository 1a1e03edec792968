//! update(): message sequences in, state and effects out. No terminal, no files.

mod common;

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use loopdeck::app::{Effect, FailureRow, Focus, Msg, State, update};
use loopdeck::model::Outcome;

use common::iteration;

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}
fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

const HTTP403: &str = "HTTP 403 Forbidden: request 8812 rejected";
const HTTP403B: &str = "HTTP 403 Forbidden: request 17 rejected";
const ASYNCIO: &str = "RuntimeError: asyncio.run() cannot be called from a running event loop";

fn loaded() -> State {
    let mut s = State::new("e2e", Some(466), Utc::now());
    let it1 = iteration(1, 4, 3, &[(0, 0, HTTP403), (1, 2, HTTP403B)]);
    let it2 = iteration(
        2,
        4,
        3,
        &[(0, 0, ASYNCIO), (2, 1, ASYNCIO), (3, 0, HTTP403)],
    );
    update(
        &mut s,
        Msg::Data {
            changed: vec![it2, it1],
            removed: vec![],
        },
    );
    s
}

#[test]
fn data_is_sorted_and_latest_is_live() {
    let s = loaded();
    assert_eq!(s.iterations.len(), 2);
    assert_eq!(s.iterations[0].data.number, 1);
    assert!(s.is_live());
    assert_eq!(s.current().unwrap().data.number, 2);
    // Two groups in iteration 2: asyncio (2 tests) before 403 (1 test).
    let groups = &s.current().unwrap().summary.groups;
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].tests.len(), 2);
    assert!(groups[0].message.contains("asyncio"));
}

#[test]
fn numbers_in_messages_do_not_split_groups() {
    let mut s = loaded();
    update(&mut s, ch('['));
    let groups = &s.current().unwrap().summary.groups;
    assert_eq!(
        groups.len(),
        1,
        "403 with different request ids is one group"
    );
    assert_eq!(groups[0].tests.len(), 2);
}

#[test]
fn arrows_step_through_iterations_and_g_returns_live() {
    let mut s = loaded();
    update(&mut s, key(KeyCode::Left));
    assert!(!s.is_live());
    assert_eq!(s.current().unwrap().data.number, 1);
    update(&mut s, key(KeyCode::Left));
    assert_eq!(
        s.current().unwrap().data.number,
        1,
        "no iteration before the first"
    );
    update(&mut s, ch(']'));
    assert!(s.is_live());
    update(&mut s, ch('['));
    update(&mut s, ch('G'));
    assert!(s.is_live());
}

#[test]
fn viewing_a_past_iteration_survives_new_data() {
    let mut s = loaded();
    update(&mut s, key(KeyCode::Left));
    let it3 = iteration(3, 4, 3, &[]);
    update(
        &mut s,
        Msg::Data {
            changed: vec![it3],
            removed: vec![],
        },
    );
    assert_eq!(
        s.current().unwrap().data.number,
        1,
        "still looking at iteration 1"
    );
    update(&mut s, key(KeyCode::End));
    assert_eq!(s.current().unwrap().data.number, 3);
}

#[test]
fn new_and_still_failing_are_known() {
    let s = loaded();
    let it = s.current().unwrap();
    let before = it
        .failing_before
        .as_ref()
        .expect("iteration 2 has a previous one");
    assert!(before.contains("tests/e2e/test_mod0.py::test_case_0"));
    assert!(!before.contains("tests/e2e/test_mod2.py::test_case_1"));
}

#[test]
fn enter_toggles_groups_and_opens_detail_and_esc_returns() {
    let mut s = loaded();
    // Small groups start expanded: group, test, test, group, test.
    assert_eq!(s.failure_rows.len(), 5);
    assert!(matches!(s.failure_rows[0], FailureRow::Group { .. }));
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.failure_rows.len(), 3, "first group collapsed");
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.failure_rows.len(), 5);
    update(&mut s, ch('j'));
    update(&mut s, key(KeyCode::Enter));
    let d = s.detail.clone().expect("detail open");
    assert!(d.test_id.ends_with("test_case_0"));
    update(&mut s, ch('j'));
    assert_eq!(s.detail.as_ref().unwrap().scroll, 1);
    update(&mut s, key(KeyCode::Esc));
    assert!(s.detail.is_none());
    assert_eq!(s.failures_cursor, 1, "back at the same row");
}

#[test]
fn detail_search_finds_lines_and_n_cycles() {
    let mut s = loaded();
    update(&mut s, ch('j'));
    update(&mut s, key(KeyCode::Enter));
    for c in "/client".chars() {
        update(&mut s, ch(c));
    }
    update(&mut s, key(KeyCode::Enter));
    let d = s.detail.clone().unwrap();
    assert_eq!(d.search, "client");
    let test = loopdeck::app::detail_test(&s, &d).unwrap();
    let lines = loopdeck::app::detail_lines(test);
    assert!(
        lines[d.scroll].contains("client"),
        "scrolled to a matching line: {:?}",
        lines[d.scroll]
    );
    assert!(s.flash.as_deref().unwrap().starts_with("match 1/"));
    update(&mut s, ch('n'));
    assert!(s.flash.as_deref().unwrap().starts_with("match"));
}

#[test]
fn filter_narrows_lists_and_is_cleared_by_one_key() {
    let mut s = loaded();
    update(&mut s, ch('/'));
    for c in "mod2".chars() {
        update(&mut s, ch(c));
    }
    assert_eq!(s.filter, "mod2", "applies while typing");
    update(&mut s, key(KeyCode::Enter));
    assert!(s.input.is_none());
    assert_eq!(s.module_rows.len(), 1);
    let tests: Vec<_> = s
        .failure_rows
        .iter()
        .filter(|r| matches!(r, FailureRow::Test { .. }))
        .collect();
    assert_eq!(tests.len(), 1);
    update(&mut s, ch('c'));
    assert!(s.filter.is_empty());
    assert_eq!(s.module_rows.len(), 4);
}

#[test]
fn enter_on_a_module_filters_failures_to_it() {
    let mut s = loaded();
    update(&mut s, key(KeyCode::Tab));
    assert_eq!(s.focus, Focus::Modules);
    // Failing modules come first; the first is test_mod0.
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.focus, Focus::Failures);
    assert_eq!(s.filter, "tests/e2e/test_mod0.py");
}

#[test]
fn copy_gives_id_message_and_traceback() {
    let mut s = loaded();
    assert!(
        update(&mut s, ch('y')).is_empty(),
        "nothing to copy on a group row"
    );
    update(&mut s, ch('j'));
    let fx = update(&mut s, ch('y'));
    let [Effect::Copy(text)] = fx.as_slice() else {
        panic!("expected a copy: {fx:?}")
    };
    assert!(text.starts_with("tests/e2e/test_mod0.py::test_case_0\n"));
    assert!(text.contains("asyncio.run()"));
    assert!(text.contains("Traceback"));
}

#[test]
fn quit_keys() {
    let mut s = loaded();
    assert_eq!(update(&mut s, ch('q')), vec![Effect::Quit]);
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(update(&mut s, ctrl_c), vec![Effect::Quit]);
    // In the filter prompt, q is text and Ctrl-C only cancels the prompt.
    update(&mut s, ch('/'));
    assert!(update(&mut s, ch('q')).is_empty());
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(update(&mut s, ctrl_c).is_empty());
    assert!(s.input.is_none());
}

#[test]
fn removed_iteration_disappears_and_detail_closes() {
    let mut s = loaded();
    update(&mut s, ch('j'));
    update(&mut s, key(KeyCode::Enter));
    assert!(s.detail.is_some());
    update(
        &mut s,
        Msg::Data {
            changed: vec![],
            removed: vec!["iter-002".into()],
        },
    );
    assert_eq!(s.iterations.len(), 1);
    assert!(s.detail.is_none());
    assert_eq!(s.current().unwrap().summary.totals.failing(), 2);
}

#[test]
fn help_opens_and_any_key_closes() {
    let mut s = loaded();
    update(&mut s, ch('?'));
    assert!(s.help);
    update(&mut s, ch('x'));
    assert!(!s.help);
}

#[test]
fn goal_defaults_to_tests_seen() {
    let mut s = State::new("e2e", None, Utc::now());
    update(
        &mut s,
        Msg::Data {
            changed: vec![iteration(1, 2, 5, &[])],
            removed: vec![],
        },
    );
    assert_eq!(s.goal_total(), 10);
    assert_eq!(s.current().unwrap().summary.totals.passed, 10);
    assert!(
        s.current()
            .unwrap()
            .data
            .tests
            .iter()
            .all(|t| t.outcome == Outcome::Passed)
    );
}

#[test]
fn provisional_tests_follow_the_failures_and_open_like_them() {
    let mut s = State::new("e2e", None, Utc::now());
    let mut it = iteration(1, 4, 3, &[(3, 2, HTTP403)]);
    it.provisional = vec![0, 4];
    update(
        &mut s,
        Msg::Data {
            changed: vec![it],
            removed: vec![],
        },
    );
    // Failure group, its test, then the provisional group and its tests.
    assert_eq!(
        s.failure_rows,
        [
            FailureRow::Group { group: 0, shown: 1 },
            FailureRow::Test { group: 0, test: 11 },
            FailureRow::Provisional { shown: 2 },
            FailureRow::ProvisionalTest { test: 0 },
            FailureRow::ProvisionalTest { test: 4 },
        ]
    );
    for _ in 0..2 {
        update(&mut s, ch('j'));
    }
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.failure_rows.len(), 3, "provisional group collapsed");
    update(&mut s, key(KeyCode::Enter));
    update(&mut s, ch('j'));
    update(&mut s, key(KeyCode::Enter));
    let d = s.detail.clone().expect("detail open");
    assert_eq!(d.test_id, "tests/e2e/test_mod0.py::test_case_0");
    update(&mut s, key(KeyCode::Esc));
    // The filter applies to them too.
    update(&mut s, ch('/'));
    for c in "mod1".chars() {
        update(&mut s, ch(c));
    }
    assert_eq!(
        s.failure_rows,
        [
            FailureRow::Provisional { shown: 1 },
            FailureRow::ProvisionalTest { test: 4 },
        ]
    );
}

#[test]
fn q_goes_back_one_level_and_quits_only_from_the_list() {
    let mut s = loaded();
    // Into a failure's detail: select the first test row, open it.
    let test_row = s
        .failure_rows
        .iter()
        .position(|r| matches!(r, FailureRow::Test { .. }))
        .expect("a test row");
    s.failures_cursor = test_row;
    update(&mut s, key(KeyCode::Enter));
    assert!(s.detail.is_some(), "Enter opens the detail");
    let fx = update(&mut s, ch('q'));
    assert!(!fx.contains(&Effect::Quit), "q in the detail does not quit");
    assert!(s.detail.is_none(), "q closes the detail");
    assert_eq!(s.failures_cursor, test_row, "back at the same place");

    update(&mut s, ch('?'));
    assert!(s.help);
    let fx = update(&mut s, ch('q'));
    assert!(!fx.contains(&Effect::Quit) && !s.help, "q closes the help");

    // From the top, q quits; Ctrl-C quits from anywhere.
    assert!(update(&mut s, ch('q')).contains(&Effect::Quit));
    update(&mut s, key(KeyCode::Enter));
    assert!(s.detail.is_some());
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(update(&mut s, ctrl_c).contains(&Effect::Quit));
}
