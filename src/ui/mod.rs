//! Drawing. Every function here reads `&State` and never changes it.
//! One file per pane; this file only lays them out.

mod confirm;
mod deploy;
mod detail;
mod failures;
mod footer;
mod format;
mod header;
mod help;
mod iteration;
mod modules;
mod output;
mod theme;
mod warnings;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

use crate::app::{Focus, State};
pub use theme::Theme;

pub fn draw(frame: &mut Frame, state: &State, theme: &Theme) {
    let area = frame.area();
    let warnings = state.all_warnings();
    let [header, body, warn_line, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(u16::from(!warnings.is_empty())),
        Constraint::Length(1),
    ])
    .areas(area);

    header::draw(frame, header, state, theme);
    if !warnings.is_empty() {
        warnings::draw_line(frame, warn_line, &warnings, theme);
    }
    footer::draw(frame, footer, state, theme);

    if let Some(d) = &state.detail {
        detail::draw(frame, body, state, d, theme);
    } else if state.tabbed() {
        draw_tabbed(frame, body, state, theme, &warnings);
    } else {
        draw_wide(frame, body, state, theme, &warnings);
    }
    if state.help {
        help::draw(frame, area, state.help_scroll, theme);
    }
    if let Some(q) = state.confirm {
        confirm::draw(frame, area, state, q, theme);
    }
}

fn draw_wide(frame: &mut Frame, area: Rect, state: &State, theme: &Theme, warnings: &[String]) {
    let bottom_h = if state.focus == Focus::Warnings {
        10
    } else {
        8
    };
    // The output pane appears once there is output (or the user asks for it).
    let show_output = state.active.is_some()
        || !state.output.lines.is_empty()
        || state
            .past_output
            .as_ref()
            .is_some_and(|p| !p.lines.is_empty())
        || state.focus == Focus::Output;
    let output_h = if show_output {
        (area.height / 4).max(6)
    } else {
        0
    };
    let [top, out, bottom] = Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(output_h),
        Constraint::Length(bottom_h),
    ])
    .areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(38), Constraint::Percentage(62)]).areas(top);
    modules::draw(frame, left, state, theme);
    failures::draw(frame, right, state, theme);
    if show_output {
        output::draw(frame, out, state, theme);
    }
    if state.focus == Focus::Warnings {
        warnings::draw_pane(frame, bottom, state, warnings, theme);
    } else {
        let [it, dep] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(bottom);
        iteration::draw(frame, it, state, theme);
        deploy::draw(frame, dep, state, theme);
    }
}

fn draw_tabbed(frame: &mut Frame, area: Rect, state: &State, theme: &Theme, warnings: &[String]) {
    let [tabs, pane] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let mut spans = Vec::new();
    for (i, f) in Focus::ALL.iter().enumerate() {
        let label = format!(
            " {} {}{} ",
            i + 1,
            f.title(),
            tab_badge(state, *f, warnings)
        );
        let style = if *f == state.focus {
            theme.selected()
        } else {
            theme.dim()
        };
        spans.push(Span::styled(label, style));
    }
    frame.render_widget(Line::from(spans), tabs);
    match state.focus {
        Focus::Failures => failures::draw(frame, pane, state, theme),
        Focus::Modules => modules::draw(frame, pane, state, theme),
        Focus::Iteration => iteration::draw(frame, pane, state, theme),
        Focus::Deploy => deploy::draw(frame, pane, state, theme),
        Focus::Output => output::draw(frame, pane, state, theme),
        Focus::Warnings => warnings::draw_pane(frame, pane, state, warnings, theme),
    }
}

fn tab_badge(state: &State, focus: Focus, warnings: &[String]) -> String {
    let Some(it) = state.current() else {
        return String::new();
    };
    match focus {
        Focus::Failures => match it.summary.totals.provisional {
            0 => format!(" {}", it.summary.totals.failing()),
            p => format!(" {} ~{p}", it.summary.totals.failing()),
        },
        Focus::Modules => format!(
            " {}/{}",
            it.summary.green_modules(),
            it.summary.modules.len()
        ),
        Focus::Warnings if !warnings.is_empty() => format!(" {}", warnings.len()),
        _ => String::new(),
    }
}

/// A bordered block whose border shows focus (bold/cyan and a `▶` in the title,
/// so focus is visible without colour).
pub(crate) fn pane_block<'a>(title: Line<'a>, focused: bool, theme: &Theme) -> Block<'a> {
    let mut title = title;
    if focused {
        title
            .spans
            .insert(0, Span::styled("▶", theme.focused_border()));
    }
    Block::new()
        .borders(Borders::ALL)
        .border_set(theme.border_set())
        .border_style(if focused {
            theme.focused_border()
        } else {
            theme.dim()
        })
        .title(title)
}
