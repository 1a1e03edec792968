//! Failures grouped by normalized cause; groups expand to their tests.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane_block;
use super::theme::Theme;
use crate::app::{FailureRow, Focus, State};

pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let focused = state.focus == Focus::Failures;
    let it = state.current();
    let (failing, groups) = it.map_or((0, 0), |it| {
        (it.summary.totals.failing(), it.summary.groups.len())
    });
    let mut title = vec![Span::styled(
        format!(
            " Failures {failing} in {groups} group{} ",
            if groups == 1 { "" } else { "s" }
        ),
        theme.title(),
    )];
    if !state.filter.is_empty() {
        title.push(Span::styled(
            format!("· filter: {} (c clears) ", state.filter),
            theme.warn(),
        ));
    }
    let block = pane_block(Line::from(title), focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let Some(it) = it else {
        frame.render_widget(
            Paragraph::new("waiting for reports…").style(theme.dim()),
            inner,
        );
        return;
    };
    let height = inner.height as usize;
    let offset = state
        .failures_cursor
        .saturating_sub(height.saturating_sub(1));
    let mut lines = Vec::with_capacity(height);
    for (row_i, row) in state
        .failure_rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
    {
        let mut line = match *row {
            FailureRow::Group { group, shown } => {
                let g = &it.summary.groups[group];
                let open = state.group_expanded(&g.signature, g.tests.len());
                let arrow = match (open, theme.ascii) {
                    (true, false) => "▾",
                    (false, false) => "▸",
                    (true, true) => "-",
                    (false, true) => "+",
                };
                let count = if shown == g.tests.len() {
                    format!("{shown}")
                } else {
                    format!("{shown}/{}", g.tests.len())
                };
                let message = if g.message.is_empty() {
                    "(no message)"
                } else {
                    g.message.as_str()
                };
                Line::from(vec![
                    Span::raw(format!("{arrow} ")),
                    Span::styled(format!("{count:>3}  "), theme.fail()),
                    Span::styled(message.to_string(), theme.title()),
                ])
            }
            FailureRow::Test { test, .. } => {
                let t = &it.data.tests[test];
                let tag = match &it.failing_before {
                    Some(before) if before.contains(&t.id) => Span::styled("still ", theme.warn()),
                    Some(_) => Span::styled("new   ", theme.fail()),
                    None => Span::raw(""),
                };
                let word = if t.outcome == crate::model::Outcome::Errored {
                    "error "
                } else {
                    ""
                };
                Line::from(vec![
                    Span::raw("      "),
                    Span::styled(format!("{} ", theme.fail_mark()), theme.fail()),
                    tag,
                    Span::styled(word, theme.fail()),
                    Span::raw(t.id.clone()),
                ])
            }
        };
        if focused && row_i == state.failures_cursor {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }
    if lines.is_empty() {
        let t = &it.summary.totals;
        let line = if !state.filter.is_empty() {
            Line::styled("no failing test matches the filter", theme.dim())
        } else if t.tests == 0 {
            Line::styled("no tests yet", theme.dim())
        } else {
            Line::styled(
                format!(
                    "{} no failures: {}/{} passed",
                    theme.pass_mark(),
                    t.passed,
                    t.tests
                ),
                theme.pass(),
            )
        };
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
