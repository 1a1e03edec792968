//! One failure in full: scrollable by logical line, long lines wrapped so
//! nothing is cut off, search hits highlighted.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthChar;

use super::pane_block;
use super::theme::Theme;
use crate::app::{Detail, State, detail_lines, detail_test};

pub fn draw(frame: &mut Frame, area: Rect, state: &State, detail: &Detail, theme: &Theme) {
    let Some(test) = detail_test(state, detail) else {
        let block = pane_block(Line::from(" Failure "), true, theme);
        frame.render_widget(
            Paragraph::new("this test is no longer in the report").block(block),
            area,
        );
        return;
    };
    let mut lines = detail_lines(test);
    let provisional = state.iterations.iter().any(|it| {
        it.data.key == detail.iteration
            && it
                .data
                .provisional
                .iter()
                .any(|&i| it.data.tests[i].id == test.id)
    });
    if provisional {
        lines[0].push_str(" · provisional: passed only in a rerun; a full run (T) confirms");
    }
    let title = format!(
        " {} · {} · line {}/{} ",
        test.id,
        detail.iteration,
        (detail.scroll + 1).min(lines.len()),
        lines.len()
    );
    let block = pane_block(Line::styled(title, theme.title()), true, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width.max(1) as usize;
    let mut out: Vec<Line> = Vec::with_capacity(inner.height as usize);
    'fill: for (i, line) in lines.iter().enumerate().skip(detail.scroll) {
        let style = if i == 0 {
            theme.fail()
        } else if line.starts_with("── ") {
            theme.accent()
        } else {
            Default::default()
        };
        for piece in wrap(line, width) {
            if out.len() >= inner.height as usize {
                break 'fill;
            }
            out.push(highlight(piece, &detail.search, style, theme));
        }
    }
    frame.render_widget(Paragraph::new(out), inner);
}

/// Splits a line into pieces of at most `width` cells.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut used = 0;
    for c in line.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            pieces.push(String::new());
            used = 0;
        }
        pieces.last_mut().expect("non-empty").push(c);
        used += w;
    }
    pieces
}

fn highlight<'a>(
    piece: String,
    search: &str,
    style: ratatui::style::Style,
    theme: &Theme,
) -> Line<'a> {
    if search.is_empty() {
        return Line::styled(piece, style);
    }
    let lower = piece.to_lowercase();
    let needle = search.to_lowercase();
    // Lower-casing can change byte lengths for some scripts; highlight only when it did not.
    if lower.len() != piece.len() {
        return Line::styled(piece, style);
    }
    let mut spans = Vec::new();
    let mut last = 0;
    for (at, _) in lower.match_indices(&needle) {
        spans.push(Span::styled(piece[last..at].to_string(), style));
        spans.push(Span::styled(
            piece[at..at + needle.len()].to_string(),
            theme.selected(),
        ));
        last = at + needle.len();
    }
    spans.push(Span::styled(piece[last..].to_string(), style));
    Line::from(spans)
}
