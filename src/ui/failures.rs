//! Failures grouped by normalized cause; groups expand to their tests.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use unicode_width::UnicodeWidthStr;

use super::format::left_truncate;
use super::pane_block;
use super::theme::Theme;
use crate::app::{FailureRow, Focus, PROVISIONAL_KEY, State};
use crate::model::TestCase;

pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let focused = state.focus == Focus::Failures;
    let it = state.current();
    let (failing, groups, provisional) = it.map_or((0, 0, 0), |it| {
        let s = &it.summary;
        (s.totals.failing(), s.groups.len(), s.totals.provisional)
    });
    let mut title = vec![Span::styled(
        format!(
            " Failures {failing} in {groups} group{} ",
            if groups == 1 { "" } else { "s" }
        ),
        theme.title(),
    )];
    if provisional > 0 {
        title.push(Span::styled(
            format!("· {provisional} provisional "),
            theme.warn(),
        ));
    }
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
    if it.compact {
        let text = format!("loading iteration {}…", it.label());
        frame.render_widget(Paragraph::new(text).style(theme.dim()), inner);
        return;
    }
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
                let message = if g.message.is_empty() {
                    "(no message)"
                } else {
                    g.message.as_str()
                };
                let open = state.group_expanded(&g.signature, g.tests.len());
                let count = count(shown, g.tests.len());
                group_line(open, count, message, theme.fail(), theme)
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
                let mark = Span::styled(format!("{} ", theme.fail_mark()), theme.fail());
                test_line(mark, t, tags, width)
            }
            FailureRow::Provisional { shown } => {
                let all = it.data.provisional.len();
                let open = state.group_expanded(PROVISIONAL_KEY, all);
                let what = "provisional: passed only in a rerun · T runs all to confirm";
                group_line(open, count(shown, all), what, theme.warn(), theme)
            }
            FailureRow::ProvisionalTest { test } => {
                let mark = Span::styled(format!("{} ", theme.provisional_mark()), theme.warn());
                let tags = vec![Span::styled(" rerun", theme.warn())];
                test_line(mark, &it.data.tests[test], tags, width)
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

/// `3`, or `2/3` when a filter hides some.
fn count(shown: usize, all: usize) -> String {
    if shown == all {
        shown.to_string()
    } else {
        format!("{shown}/{all}")
    }
}

/// A group's line: open/closed arrow, count, what the group is.
fn group_line<'a>(open: bool, count: String, what: &str, style: Style, theme: &Theme) -> Line<'a> {
    let arrow = match (open, theme.ascii) {
        (true, false) => "▾",
        (false, false) => "▸",
        (true, true) => "-",
        (false, true) => "+",
    };
    Line::from(vec![
        Span::raw(format!("{arrow} ")),
        Span::styled(format!("{count:>3}  "), style),
        Span::styled(what.to_string(), theme.title()),
    ])
}

/// A test's line: indent, mark, id (cut on the left), right-aligned tags.
fn test_line<'a>(mark: Span<'a>, t: &TestCase, tags: Vec<Span<'a>>, width: usize) -> Line<'a> {
    let tags_w: usize = tags.iter().map(Span::width).sum();
    let id_w = width.saturating_sub(6 + tags_w);
    let id = left_truncate(short_id(&t.id, &t.module), id_w);
    let pad = id_w.saturating_sub(UnicodeWidthStr::width(id.as_str()));
    let mut spans = vec![
        Span::raw("    "),
        mark,
        Span::raw(id),
        Span::raw(" ".repeat(pad)),
    ];
    spans.extend(tags);
    Line::from(spans)
}

/// The test id without the module's folders: the module is the group's
/// context, the file name and test name are what tell tests apart.
fn short_id<'a>(id: &'a str, module: &str) -> &'a str {
    match module.rfind('/') {
        Some(slash) if id.starts_with(module) => &id[slash + 1..],
        _ => id,
    }
}
