//! The footer at 80 columns: the live state and `? help` are always on it;
//! a one-off notice sits beside them, cut with "…" if it must be, and the
//! other hints give way first.

mod common;

use chrono::Utc;
use loopdeck::app::{ActiveRun, Commands, Control, Msg, State, update};
use loopdeck::model::RunKind;
use loopdeck::ui::{Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn footer(state: &State, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| draw(f, state, &Theme::plain())).unwrap();
    let buf = terminal.backend().buffer().clone();
    (0..w)
        .map(|x| buf[(x, h - 1)].symbol().to_string())
        .collect::<String>()
}

fn state() -> State {
    let mut s = State::new("e2e", Some(60), Utc::now());
    s.control = Control::Enabled(Commands {
        test: true,
        deploy: true,
        ..Commands::default()
    });
    update(&mut s, Msg::Resize(80, 24));
    update(
        &mut s,
        Msg::Data {
            changed: vec![common::iteration(1, 4, 3, &[(0, 0, "HTTP 403 Forbidden")])],
            removed: vec![],
        },
    );
    s
}

#[test]
fn a_notice_never_hides_the_live_state_and_help_stays() {
    let mut s = state();
    s.active = Some(ActiveRun {
        kind: RunKind::Test,
        id: None,
        started: s.now,
        then_test: false,
        cancelling: false,
    });
    s.flash = Some("deploy succeeded in 0:05 · revision 00095-k7q is live on 3 instances".into());
    let line = footer(&s, 80, 24);
    assert!(line.contains("● test run running"), "{line}");
    assert!(line.contains("X cancel"), "{line}");
    assert!(line.contains("deploy succeeded"), "{line}");
    assert!(line.contains('…'), "the notice is cut visibly: {line}");
    assert!(line.trim_end().ends_with("? help"), "{line}");
}

#[test]
fn at_80_columns_help_outlasts_every_other_hint() {
    let s = state();
    let line = footer(&s, 80, 24);
    assert!(line.contains("tests fail"), "the loop's stage: {line}");
    assert!(line.contains("? help"), "{line}");
    let narrow = footer(&s, 60, 24);
    assert!(narrow.contains("? help"), "{narrow}");
}

#[test]
fn a_run_started_elsewhere_offers_no_cancel_key() {
    let mut s = state();
    // The latest iteration's report is still streaming, and nothing runs
    // in this loopdeck.
    s.iterations.last_mut().unwrap().data.running = true;
    let line = footer(&s, 100, 30);
    assert!(line.contains("testing (started elsewhere)"), "{line}");
    assert!(!line.contains("X cancel"), "{line}");
}
