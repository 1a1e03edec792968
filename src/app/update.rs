//! The one pure state transition: `update(state, msg) -> effects`.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::detail::{Detail, clipboard_text, detail_lines, search_hits};
use super::drive;
use super::iteration::Iteration;
use super::keymap::{Action, Mode, action_for};
use super::msg::{Effect, Msg};
use super::rows::FailureRow;
use super::state::{Focus, Input, State};
use crate::model::TestCase;
use crate::results::IterationData;

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    let mut effects = apply(state, msg);
    if state.compact_history {
        keep_history_compact(state, &mut effects);
    }
    ask_for_past_output(state, &mut effects);
    effects
}

/// A past iteration on screen shows its own recorded output: asked for
/// once when it comes on screen.
fn ask_for_past_output(state: &mut State, effects: &mut Vec<Effect>) {
    if state.is_live() {
        state.past_output = None;
        return;
    }
    let Some(it) = state.current() else { return };
    if state
        .past_output
        .as_ref()
        .is_some_and(|p| p.key == it.data.key)
    {
        return;
    }
    let (key, dir) = (it.data.key.clone(), it.data.path.clone());
    state.past_output = Some(super::state::PastOutput {
        key: key.clone(),
        kind: None,
        lines: Vec::new(),
        loaded: false,
    });
    effects.push(Effect::LoadOutput { key, dir });
}

/// Iterations other than the latest and the one on screen keep only their
/// summary; the one on screen, if compact, is asked for.
fn keep_history_compact(state: &mut State, effects: &mut Vec<Effect>) {
    let (current, last) = (state.current_index(), state.iterations.len().checked_sub(1));
    for (i, it) in state.iterations.iter_mut().enumerate() {
        if !it.compact && Some(i) != current && Some(i) != last {
            it.compact();
        }
    }
    let wanted = state
        .current()
        .filter(|it| it.compact)
        .map(|it| it.data.key.clone());
    if wanted.is_some() && wanted != state.loading {
        effects.push(Effect::Load(wanted.clone().expect("checked")));
    }
    state.loading = wanted;
}

fn apply(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(state, key),
        Msg::Resize(w, h) => {
            state.size = (w, h);
            Vec::new()
        }
        Msg::Data { changed, removed } => {
            on_data(state, changed, removed);
            Vec::new()
        }
        Msg::Patch(patches) => {
            on_patch(state, patches);
            Vec::new()
        }
        Msg::RootError(e) => {
            state.root_error = e;
            Vec::new()
        }
        Msg::DirWarning(w) => {
            if !state.dir_warnings.contains(&w) {
                state.dir_warnings.push(w);
            }
            Vec::new()
        }
        Msg::RunStarted { kind, id, started } => {
            drive::on_started(state, kind, id, started);
            Vec::new()
        }
        Msg::RunOutput(lines) => {
            drive::on_output(state, lines);
            Vec::new()
        }
        Msg::RunFinished(record) => drive::on_finished(state, record),
        Msg::RunRefused { kind, reason } => {
            drive::on_refused(state, kind, reason);
            Vec::new()
        }
        Msg::LogLines { kind, lines } => {
            drive::on_log(state, kind, lines);
            Vec::new()
        }
        Msg::Activity { running, lock } => {
            state.running = running;
            state.lock = lock;
            Vec::new()
        }
        Msg::PastOutput { key, kind, lines } => {
            if let Some(p) = state.past_output.as_mut().filter(|p| p.key == key) {
                p.kind = kind;
                p.lines = lines;
                p.loaded = true;
            }
            Vec::new()
        }
        Msg::Tick(now) => {
            state.now = now;
            Vec::new()
        }
    }
}

fn on_data(state: &mut State, changed: Vec<IterationData>, removed: Vec<String>) {
    let viewing_key = state
        .viewing
        .and_then(|i| state.iterations.get(i))
        .map(|it| it.data.key.clone());
    state
        .iterations
        .retain(|it| !removed.contains(&it.data.key));
    for data in changed {
        match state
            .iterations
            .iter_mut()
            .find(|it| it.data.key == data.key)
        {
            Some(slot) => *slot = Iteration::new(data),
            None => state.iterations.push(Iteration::new(data)),
        }
    }
    state
        .iterations
        .sort_by(|a, b| (a.data.number, &a.data.key).cmp(&(b.data.number, &b.data.key)));
    link_failing_before(state);
    state.viewing =
        viewing_key.and_then(|k| state.iterations.iter().position(|it| it.data.key == k));
    if let Some(d) = &state.detail
        && !state.iterations.iter().any(|it| it.data.key == d.iteration)
    {
        state.detail = None;
    }
    state.rebuild_rows();
}

/// Tests that changed in place or were appended (a report being written):
/// only those are touched.
fn on_patch(state: &mut State, patches: Vec<crate::results::IterationPatch>) {
    let current = state.current().map(|it| it.data.key.clone());
    let mut rows = false;
    for p in patches {
        let key = p.data.key.clone();
        match state.iterations.iter_mut().find(|it| it.data.key == key) {
            Some(it) => it.patch(p),
            // The reader sends a whole iteration before any patch of it.
            None => tracing::warn!("a patch for unknown iteration {key}"),
        }
        rows |= current.as_ref() == Some(&key);
    }
    link_failing_before(state);
    if rows {
        state.rebuild_rows();
    }
}

/// "new" / "still" markers compare with the iteration before: each
/// iteration shares the previous one's failing set (no copy).
fn link_failing_before(state: &mut State) {
    let mut before = None;
    for it in &mut state.iterations {
        it.failing_before = before.replace(it.failing.clone());
    }
}

fn mode(state: &State) -> Mode {
    if state.confirm.is_some() {
        Mode::Confirm
    } else if state.help {
        Mode::Help
    } else if state.detail.is_some() {
        Mode::Detail
    } else {
        Mode::List
    }
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    state.flash = None;
    if state.input.is_some() {
        on_text_input(state, key);
        return Vec::new();
    }
    let Some(action) = action_for(mode(state), key) else {
        return Vec::new();
    };
    match mode(state) {
        Mode::Confirm => drive::on_confirm(state, action == Action::Yes),
        Mode::Help => {
            match action {
                Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                    state.help_scroll = step(
                        state.help_scroll,
                        super::keymap::HELP.len(),
                        action,
                        page(state),
                    );
                }
                Action::Quit => return quit(state),
                _ => state.help = false,
            }
            Vec::new()
        }
        Mode::Detail => on_detail_action(state, action),
        Mode::List => on_list_action(state, action),
    }
}

fn on_text_input(state: &mut State, key: KeyEvent) {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let Some(input) = state.input.as_mut() else {
        return;
    };
    let buf = match input {
        Input::Filter(s) | Input::Search(s) => s,
    };
    match key.code {
        KeyCode::Char('u') if ctrl => buf.clear(),
        KeyCode::Char('c') if ctrl => {
            // Ctrl-C in a prompt cancels the prompt, like a shell.
            cancel_input(state);
            return;
        }
        KeyCode::Char(c) if !ctrl => buf.push(c),
        KeyCode::Backspace => {
            buf.pop();
        }
        KeyCode::Enter => {
            if let Some(Input::Search(s)) = state.input.take() {
                if let Some(d) = state.detail.as_mut() {
                    d.search = s;
                }
                jump_to_hit(state, true, true);
            } else {
                state.input = None;
            }
            return;
        }
        KeyCode::Esc => {
            cancel_input(state);
            return;
        }
        _ => {}
    }
    // The filter applies as it is typed.
    if let Some(Input::Filter(s)) = &state.input {
        state.filter = s.clone();
        state.rebuild_rows();
    }
}

fn cancel_input(state: &mut State) {
    if let Some(Input::Filter(_)) = state.input.take() {
        state.filter.clear();
        state.rebuild_rows();
    }
}

fn page(state: &State) -> usize {
    (state.size.1 as usize).saturating_sub(10).max(1)
}

fn step(cursor: usize, len: usize, action: Action, page: usize) -> usize {
    let last = len.saturating_sub(1);
    match action {
        Action::Up => cursor.saturating_sub(1),
        Action::Down => (cursor + 1).min(last),
        Action::PageUp => cursor.saturating_sub(page),
        Action::PageDown => (cursor + page).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => cursor,
    }
}

fn on_list_action(state: &mut State, action: Action) -> Vec<Effect> {
    use Action::*;
    let page = page(state);
    match action {
        Quit => return quit(state),
        Help => {
            state.help = true;
            state.help_scroll = 0;
        }
        RunTests | Deploy | Next | RerunFailed | CancelRun | ToggleAuto => {
            return drive::on_trigger(state, action);
        }
        FocusNext | FocusPrev => {
            let all = Focus::ALL;
            let i = all.iter().position(|f| *f == state.focus).unwrap_or(0);
            let n = all.len();
            let next = if action == FocusNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            state.focus = all[next];
            state.scroll = 0;
        }
        FocusTab(i) => {
            if let Some(f) = Focus::ALL.get(i) {
                state.focus = *f;
                state.scroll = 0;
            }
        }
        PrevIteration => {
            if let Some(cur) = state.current_index()
                && cur > 0
            {
                view_iteration(state, Some(cur - 1));
            }
        }
        NextIteration => {
            if let Some(cur) = state.current_index() {
                let last = state.iterations.len() - 1;
                if cur + 1 >= last {
                    view_iteration(state, None);
                } else {
                    view_iteration(state, Some(cur + 1));
                }
            }
        }
        // In the output pane End/G resumes following the tail.
        Live if state.focus == Focus::Output => state.output.back = 0,
        Live => view_iteration(state, None),
        Up | Down | PageUp | PageDown | Top | Bottom => match state.focus {
            Focus::Failures => {
                state.failures_cursor = step(
                    state.failures_cursor,
                    state.failure_rows.len(),
                    action,
                    page,
                )
            }
            Focus::Modules => {
                state.modules_cursor =
                    step(state.modules_cursor, state.module_rows.len(), action, page)
            }
            Focus::Output => {
                let len = state.output.lines.len();
                state.output.back = match action {
                    Up => (state.output.back + 1).min(len.saturating_sub(1)),
                    Down => state.output.back.saturating_sub(1),
                    PageUp => (state.output.back + page).min(len.saturating_sub(1)),
                    PageDown => state.output.back.saturating_sub(page),
                    Top => len.saturating_sub(1),
                    _ => 0,
                };
            }
            _ => state.scroll = step(state.scroll as usize, u16::MAX as usize, action, page) as u16,
        },
        Open => open_selected(state),
        Back => {
            if !state.filter.is_empty() {
                clear_filter(state);
            }
        }
        ClearFilter => clear_filter(state),
        Filter => state.input = Some(Input::Filter(state.filter.clone())),
        Copy => {
            if let Some(test) = selected_test(state) {
                let text = clipboard_text(test);
                state.flash = Some(format!("copied {} to the clipboard", test.id));
                return vec![Effect::Copy(text)];
            }
            state.flash = Some("select a failing test to copy it".into());
        }
        SearchNext | SearchPrev | Yes | No => {}
    }
    Vec::new()
}

/// Quitting while a command runs asks first (and cancels it on yes).
fn quit(state: &mut State) -> Vec<Effect> {
    if state.active.is_some() {
        state.confirm = Some(super::control::Confirm::QuitWhileRunning);
        Vec::new()
    } else {
        vec![Effect::Quit]
    }
}

fn clear_filter(state: &mut State) {
    state.filter.clear();
    state.rebuild_rows();
}

fn view_iteration(state: &mut State, viewing: Option<usize>) {
    if state.viewing == viewing {
        return;
    }
    state.viewing = viewing;
    state.failures_cursor = 0;
    state.modules_cursor = 0;
    state.scroll = 0;
    state.rebuild_rows();
}

fn selected_test(state: &State) -> Option<&TestCase> {
    let it = state.current()?;
    match state.failure_rows.get(state.failures_cursor)? {
        FailureRow::Test { test, .. } | FailureRow::ProvisionalTest { test }
            if state.focus == Focus::Failures =>
        {
            it.data.tests.get(*test)
        }
        _ => None,
    }
}

fn open_selected(state: &mut State) {
    match state.focus {
        Focus::Failures => match state.failure_rows.get(state.failures_cursor).copied() {
            Some(row @ (FailureRow::Group { .. } | FailureRow::Provisional { .. })) => {
                let sig = match row {
                    FailureRow::Group { group, .. } => state
                        .current()
                        .and_then(|it| it.summary.groups.get(group))
                        .map(|g| g.signature.clone()),
                    _ => Some(super::rows::PROVISIONAL_KEY.to_string()),
                };
                let Some(sig) = sig else {
                    return;
                };
                if !state.toggled_groups.remove(&sig) {
                    state.toggled_groups.insert(sig);
                }
                state.rebuild_rows();
            }
            Some(FailureRow::Test { test, .. } | FailureRow::ProvisionalTest { test }) => {
                let Some(it) = state.current() else { return };
                state.detail = Some(Detail {
                    iteration: it.data.key.clone(),
                    test_id: it.data.tests[test].id.clone(),
                    scroll: 0,
                    search: String::new(),
                });
            }
            None => {}
        },
        Focus::Modules => {
            let name = state.current().and_then(|it| {
                let m = *state.module_rows.get(state.modules_cursor)?;
                Some(it.summary.modules.get(m)?.name.clone())
            });
            if let Some(name) = name {
                state.filter = name;
                state.focus = Focus::Failures;
                state.failures_cursor = 0;
                state.rebuild_rows();
            }
        }
        _ => {}
    }
}

/// The test the detail view shows, looked up by key and id.
pub fn detail_test<'a>(state: &'a State, detail: &Detail) -> Option<&'a TestCase> {
    let it = state
        .iterations
        .iter()
        .find(|it| it.data.key == detail.iteration)?;
    it.data.tests.iter().find(|t| t.id == detail.test_id)
}

fn on_detail_action(state: &mut State, action: Action) -> Vec<Effect> {
    use Action::*;
    let page = page(state);
    let Some(detail) = state.detail.clone() else {
        return Vec::new();
    };
    let lines = detail_test(state, &detail)
        .map(detail_lines)
        .unwrap_or_default();
    match action {
        Quit => return quit(state),
        Help => state.help = true,
        Back => state.detail = None,
        Up | Down | PageUp | PageDown | Top | Bottom => {
            let len = lines.len();
            if let Some(d) = state.detail.as_mut() {
                d.scroll = step(d.scroll, len, action, page);
            }
        }
        Filter => state.input = Some(Input::Search(detail.search.clone())),
        SearchNext => jump_to_hit(state, true, false),
        SearchPrev => jump_to_hit(state, false, false),
        Copy => {
            if let Some(test) = detail_test(state, &detail) {
                let text = clipboard_text(test);
                state.flash = Some(format!("copied {} to the clipboard", test.id));
                return vec![Effect::Copy(text)];
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Moves the detail view to the next (or previous) line matching its search.
/// `inclusive` also accepts the line at the current position (a new search).
fn jump_to_hit(state: &mut State, forward: bool, inclusive: bool) {
    let Some(detail) = state.detail.clone() else {
        return;
    };
    let lines = detail_test(state, &detail)
        .map(detail_lines)
        .unwrap_or_default();
    let hits = search_hits(&lines, &detail.search);
    let cur = detail.scroll;
    let target = if forward {
        hits.iter()
            .copied()
            .find(|&h| if inclusive { h >= cur } else { h > cur })
            .or(hits.first().copied())
    } else {
        hits.iter()
            .rev()
            .copied()
            .find(|&h| h < cur)
            .or(hits.last().copied())
    };
    match target {
        Some(t) => {
            if let Some(d) = state.detail.as_mut() {
                d.scroll = t;
            }
            let n = hits.iter().position(|&h| h == t).unwrap_or(0) + 1;
            state.flash = Some(format!("match {n}/{}", hits.len()));
        }
        None if !detail.search.is_empty() => {
            state.flash = Some(format!("no match for \"{}\"", detail.search));
        }
        None => {}
    }
}
