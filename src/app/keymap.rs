//! Keys -> actions. Actions have snake_case names so a future keymap file can
//! name them; the mapping depends on the mode (list, detail, help).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    FocusNext,
    FocusPrev,
    PrevIteration,
    NextIteration,
    Live,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    Filter,
    ClearFilter,
    Copy,
    SearchNext,
    SearchPrev,
    FocusTab(usize),
    // Side effects: upper case keys (the k9s/lazygit safety habit).
    RunTests,
    Deploy,
    Next,
    RerunFailed,
    CancelRun,
    ToggleAuto,
    // Answers to a confirmation.
    Yes,
    No,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    List,
    Detail,
    Help,
    Confirm,
}

/// The key -> action table. Text input (filter, search) is handled before this.
pub fn action_for(mode: Mode, key: KeyEvent) -> Option<Action> {
    use Action::*;
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl {
        return match key.code {
            KeyCode::Char('c') => Some(Quit),
            KeyCode::Char('d') => Some(PageDown),
            KeyCode::Char('u') => Some(PageUp),
            KeyCode::Char('f') => Some(PageDown),
            KeyCode::Char('b') => Some(PageUp),
            _ => None,
        };
    }
    if mode == Mode::Confirm {
        return match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some(Yes),
            _ => Some(No),
        };
    }
    if mode == Mode::Help {
        // j/k scroll a help longer than the screen; q, Esc and any other
        // key close it (less's habit; Ctrl-C quits, above).
        return Some(match key.code {
            KeyCode::Char('j') | KeyCode::Down => Down,
            KeyCode::Char('k') | KeyCode::Up => Up,
            KeyCode::PageDown | KeyCode::Char(' ') => PageDown,
            KeyCode::PageUp => PageUp,
            _ => Back,
        });
    }
    let common = match key.code {
        // q goes back one level and quits only from the top (less, k9s).
        KeyCode::Char('q') if mode == Mode::Detail => Some(Back),
        KeyCode::Char('q') => Some(Quit),
        KeyCode::Char('?') => Some(Help),
        KeyCode::Up | KeyCode::Char('k') => Some(Up),
        KeyCode::Down | KeyCode::Char('j') => Some(Down),
        KeyCode::PageUp => Some(PageUp),
        KeyCode::PageDown | KeyCode::Char(' ') => Some(PageDown),
        KeyCode::Esc => Some(Back),
        KeyCode::Char('y') => Some(Copy),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    match mode {
        Mode::Detail => match key.code {
            KeyCode::Char('g') | KeyCode::Home => Some(Top),
            KeyCode::Char('G') | KeyCode::End => Some(Bottom),
            KeyCode::Char('/') => Some(Filter),
            KeyCode::Char('n') => Some(SearchNext),
            KeyCode::Char('N') => Some(SearchPrev),
            KeyCode::Backspace | KeyCode::Left | KeyCode::Char('h') => Some(Back),
            _ => None,
        },
        Mode::List => match key.code {
            KeyCode::Tab => Some(FocusNext),
            KeyCode::BackTab => Some(FocusPrev),
            KeyCode::Left | KeyCode::Char('[') => Some(PrevIteration),
            KeyCode::Right | KeyCode::Char(']') => Some(NextIteration),
            KeyCode::Char('G') | KeyCode::End => Some(Live),
            KeyCode::Char('g') | KeyCode::Home => Some(Top),
            KeyCode::Enter | KeyCode::Char('l') => Some(Open),
            KeyCode::Char('/') => Some(Filter),
            KeyCode::Char('c') => Some(ClearFilter),
            KeyCode::Char(c @ '1'..='6') => Some(FocusTab(c as usize - '1' as usize)),
            KeyCode::Char('T') => Some(RunTests),
            KeyCode::Char('D') => Some(Deploy),
            KeyCode::Char('N') => Some(Next),
            KeyCode::Char('R') => Some(RerunFailed),
            KeyCode::Char('X') => Some(CancelRun),
            KeyCode::Char('A') => Some(ToggleAuto),
            _ => None,
        },
        Mode::Help | Mode::Confirm => None,
    }
}

/// The help screen's table, generated from the same words the keymap uses.
pub const HELP: &[(&str, &str)] = &[
    ("q", "back one level (help, detail); quits from the list"),
    (
        "Ctrl-C",
        "quit from anywhere (asks first while a command runs)",
    ),
    ("?", "this help (j/k scroll, q or any other key closes it)"),
    (
        "Tab  Shift-Tab",
        "move focus between panes (tabs on small terminals)",
    ),
    (
        "1-6",
        "panes: failures modules iteration deploy output warnings",
    ),
    ("←/→  [ ]", "previous / next iteration"),
    ("G  End", "back to the live (latest) iteration"),
    ("j/k  ↑/↓", "move; PgUp/PgDn, Ctrl-U/Ctrl-D page"),
    ("g  Home", "top of the list"),
    (
        "Enter  l",
        "open detail · expand/collapse group · filter by module",
    ),
    ("Esc", "back; clears the filter in the list"),
    ("/", "filter tests and modules by name (in detail: search)"),
    ("c", "clear the filter"),
    ("n / N", "next / previous search hit (detail)"),
    ("g / G", "top / bottom (detail)"),
    ("y", "copy the failure (id, message, traceback) via OSC 52"),
    ("T", "run the tests (asks first while a deploy runs)"),
    ("D", "deploy (asks y/n, naming service and revision)"),
    (
        "N",
        "next iteration: new folder, deploy, tests if it worked",
    ),
    ("R", "rerun only the failing tests (green is provisional)"),
    ("X", "cancel the running command (asks y/n)"),
    ("A", "auto mode: tests follow every successful deploy"),
    // The legend: every mark and word the screen uses (ASCII form after /).
    ("✘ / X", "failing (failed or errored) test or module"),
    (
        "✔ / ok",
        "passing; a module passes when none of its tests fails",
    ),
    (
        "~",
        "passes only in a rerun of the failing tests: provisional",
    ),
    ("▸ ▾ / > v", "a collapsed / expanded failure group"),
    (
        "new",
        "fails now, passed (or did not run) in the previous iteration",
    ),
    ("still", "failed in the previous iteration too"),
    (
        "error",
        "errored outside its assertions (setup, teardown, crash)",
    ),
    (
        "LIVE / PAST",
        "following the latest iteration / looking at an older one",
    ),
    ("●", "a command runs (here or in another loopdeck)"),
];
