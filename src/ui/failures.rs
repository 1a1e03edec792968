//! Failures grouped by normalized cause; groups expand to their tests.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use unicode_width::UnicodeWidthStr;

use super::format::left_truncate;
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
    let width = inner.width as usize;
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
                // Right-aligned tags, as words (not only colour).
                let mut tags: Vec<Span> = Vec::new();
                if t.outcome == crate::model::Outcome::Errored {
                    tags.push(Span::styled(" error", theme.fail()));
                }
                match &it.failing_before {
                    Some(before) if before.contains(&t.id) => {
                        tags.push(Span::styled(" still", theme.warn()))
                    }
                    Some(_) => tags.push(Span::styled(" new  ", theme.fail())),
                    None => {}
                }
                let tags_w: usize = tags.iter().map(Span::width).sum();
                let id_w = width.saturating_sub(6 + tags_w);
                let id = left_truncate(short_id(&t.id, &t.module), id_w);
                let pad = id_w.saturating_sub(UnicodeWidthStr::width(id.as_str()));
                let mut spans = vec![
                    Span::raw("    "),
                    Span::styled(format!("{} ", theme.fail_mark()), theme.fail()),
                    Span::raw(id),
                    Span::raw(" ".repeat(pad)),
                ];
                spans.extend(tags);
                Line::from(spans)
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

/// The test id without the module's folders: the module is the group's
/// context, the file name and test name are what tell tests apart.
fn short_id<'a>(id: &'a str, module: &str) -> &'a str {
    match module.rfind('/') {
        Some(slash) if id.starts_with(module) => &id[slash + 1..],
        _ => id,
    }
}
