//! The screen, drawn into a TestBackend and compared with reviewed snapshots
//! (insta) at 80x24 and 120x40, for each pane and mode.

mod common;

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use loopdeck::app::{Msg, State, update};
use loopdeck::model::DeployState;
use loopdeck::ui::{Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use common::iteration;

fn screen(state: &State) -> String {
    let (w, h) = state.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| draw(f, state, &Theme::plain())).unwrap();
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn keys(state: &mut State, keys: &str) {
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\t' => KeyCode::Tab,
            '\x1b' => KeyCode::Esc,
            c => KeyCode::Char(c),
        };
        update(state, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }
}

fn demo_state(w: u16, h: u16) -> State {
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 7, 30).unwrap();
    let mut s = State::new("staging e2e", Some(466), now);
    update(&mut s, Msg::Resize(w, h));
    let it1 = iteration(
        1,
        10,
        6,
        &[
            (0, 0, "HTTP 403 Forbidden (request 4411)"),
            (1, 3, "HTTP 403 Forbidden (request 87)"),
        ],
    );
    let mut it2 = iteration(
        2,
        10,
        6,
        &[
            (
                2,
                0,
                "RuntimeError: asyncio.run() cannot be called from a running event loop",
            ),
            (
                2,
                1,
                "RuntimeError: asyncio.run() cannot be called from a running event loop",
            ),
            (
                4,
                5,
                "RuntimeError: asyncio.run() cannot be called from a running event loop",
            ),
            (1, 3, "HTTP 403 Forbidden (request 90210)"),
        ],
    );
    it2.running = true;
    it2.expected_total = Some(60);
    it2.tests.truncate(37);
    it2.meta.as_mut().unwrap().finished = None;
    let d = it2.deploy.as_mut().unwrap();
    d.state = DeployState::Deploying;
    d.finished = None;
    d.started = Some("2026-11-24T10:05:17Z".into());
    d.message = Some("rolling out revision 00094 to 3 instances".into());
    update(
        &mut s,
        Msg::Data {
            changed: vec![it1, it2],
            removed: vec![],
        },
    );
    s
}

#[test]
fn wide_live_running() {
    insta::assert_snapshot!(screen(&demo_state(120, 40)));
}

#[test]
fn small_failures_tab() {
    insta::assert_snapshot!(screen(&demo_state(80, 24)));
}

#[test]
fn small_modules_tab() {
    let mut s = demo_state(80, 24);
    keys(&mut s, "\t");
    insta::assert_snapshot!(screen(&s));
}

#[test]
fn small_iteration_and_deploy_tabs() {
    let mut s = demo_state(80, 24);
    keys(&mut s, "3");
    let it = screen(&s);
    keys(&mut s, "4");
    let dep = screen(&s);
    insta::assert_snapshot!("small_iteration_tab", it);
    insta::assert_snapshot!("small_deploy_tab", dep);
}

#[test]
fn past_iteration() {
    let mut s = demo_state(120, 40);
    keys(&mut s, "[");
    insta::assert_snapshot!(screen(&s));
}

#[test]
fn detail_view_with_search() {
    let mut s = demo_state(80, 24);
    keys(&mut s, "j\n/client\n");
    insta::assert_snapshot!(screen(&s));
}

#[test]
fn filter_prompt_and_result() {
    let mut s = demo_state(120, 40);
    keys(&mut s, "/mod2");
    insta::assert_snapshot!(screen(&s));
}

#[test]
fn help_overlay() {
    let mut s = demo_state(80, 24);
    keys(&mut s, "?");
    insta::assert_snapshot!(screen(&s));
}

#[test]
fn empty_directory() {
    let mut s = State::new("nothing yet", None, Utc::now());
    update(&mut s, Msg::Resize(80, 24));
    insta::assert_snapshot!(screen(&s));
}

#[test]
fn warnings_are_named() {
    let mut s = demo_state(120, 40);
    let mut it3 = iteration(3, 2, 2, &[]);
    it3.warnings = vec![
        "iter-003/junit.xml: truncated: root element <testsuites> not closed".into(),
        "iter-003/deploy.json: malformed: expected value at line 1 column 1".into(),
    ];
    it3.deploy = None;
    it3.meta = None;
    update(
        &mut s,
        Msg::Data {
            changed: vec![it3],
            removed: vec![],
        },
    );
    let line = screen(&s);
    keys(&mut s, "6");
    insta::assert_snapshot!("warnings_line", line);
    insta::assert_snapshot!("warnings_pane", screen(&s));
}

/// After a rerun of the failing tests: three tests pass only in the rerun
/// (provisional); `failing` still fail.
fn rerun_state(w: u16, h: u16, failing: &[(usize, usize, &str)]) -> State {
    use loopdeck::app::{Commands, Control};
    use loopdeck::results::FileStatus;
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 7, 30).unwrap();
    let mut s = State::new("staging e2e", Some(12), now);
    s.control = Control::Enabled(Commands {
        test: true,
        deploy: true,
        rerun_failed: true,
        ..Commands::default()
    });
    update(&mut s, Msg::Resize(w, h));
    let mut it = iteration(3, 4, 3, failing);
    it.provisional = vec![0, 3, 4];
    let file = |name: &str, format: &str, tests: usize, rerun: bool| FileStatus {
        name: name.into(),
        format: Some(format.into()),
        tests,
        complete: true,
        pending: false,
        error: None,
        bytes: 4096,
        modified: None,
        rerun,
    };
    it.files = vec![
        file("junit.xml", "JUnit XML", 12, false),
        file("rerun.jsonl", "pytest report-log", 4, true),
    ];
    update(
        &mut s,
        Msg::Data {
            changed: vec![it],
            removed: vec![],
        },
    );
    s
}

/// Asserts that `screen` shows each of `texts`.
fn shows(screen: &str, texts: &[&str]) {
    for t in texts {
        assert!(screen.contains(t), "{t:?} not on screen:\n{screen}");
    }
}

#[test]
fn provisional_green_small() {
    let mut s = rerun_state(80, 24, &[]);
    let failures = screen(&s);
    // Words and marks, not colour, say it: header, list, footer.
    shows(
        &failures,
        &[
            "9/12 verified (+3 provisional)",
            "~ 12/12 passed, 3 provisional",
            "~ test_mod1.py::test_case_1",
            "rerun green is provisional → T full run to confirm",
        ],
    );
    keys(&mut s, "\t");
    let modules = screen(&s);
    shows(&modules, &["~ tests/e2e/test_mod1.py", "3/3 (2 prov.)"]);
    keys(&mut s, "3");
    let iteration = screen(&s);
    shows(
        &iteration,
        &[
            "~ 3 provisional: passed only in a rerun; T runs all to confirm",
            "file rerun.jsonl (pytest report-log, 4 tests) · rerun",
        ],
    );
    insta::assert_snapshot!("provisional_failures_tab", failures);
    insta::assert_snapshot!("provisional_modules_tab", modules);
    insta::assert_snapshot!("provisional_iteration_tab", iteration);
}

#[test]
fn provisional_with_a_failure_wide() {
    let mut s = rerun_state(120, 40, &[(2, 1, "HTTP 500 Internal Server Error")]);
    keys(&mut s, "j");
    let text = screen(&s);
    shows(
        &text,
        &[
            "1 failing · 11/12 passed, 3 provisional",
            "tests fail: fix, then → N",
        ],
    );
    insta::assert_snapshot!(text);
}
