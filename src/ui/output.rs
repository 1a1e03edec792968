//! The running (or last) command's output, following the tail unless the
//! user scrolled up; only the visible lines are drawn.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::pane_block;
use super::theme::Theme;
use crate::app::{Focus, State};
use crate::model::duration_text;

pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    if let Some(past) = &state.past_output {
        draw_past(frame, area, state, past, theme);
        return;
    }
    let focused = state.focus == Focus::Output;
    let out = &state.output;
    let mut title = match (&state.active, out.kind) {
        (Some(a), _) => format!(
            " Output · {} running {}{} ",
            a.kind.label(),
            duration_text((state.now - a.started).num_seconds()),
            if a.cancelling {
                " · cancelling…"
            } else {
                ""
            }
        ),
        (None, Some(kind)) => format!(" Output · last {} ", kind.label()),
        (None, None) => " Output ".to_string(),
    };
    if out.back > 0 {
        title.push_str(&format!("· {} lines up, End follows ", out.back));
    }
    let block = pane_block(Line::styled(title, theme.title()), focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    let end = out.lines.len().saturating_sub(out.back);
    let start = end.saturating_sub(height);
    let mut lines: Vec<Line> = out
        .lines
        .range(start..end)
        .map(|l| Line::raw(l.as_str()))
        .collect();
    if lines.is_empty() {
        let hint = match &state.control {
            crate::app::Control::ReadOnly(why) => format!("no command output: {why}"),
            crate::app::Control::Enabled(_) => {
                "no command run yet: T tests, D deploy, N next iteration".into()
            }
        };
        lines.push(Line::styled(hint, theme.dim()));
    } else if start == 0 && out.dropped > 0 {
        lines[0] = Line::styled(
            format!("… {} earlier lines are in the log file", out.dropped),
            theme.dim(),
        );
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A past iteration's own recorded output (the tail of its newest log).
fn draw_past(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    past: &crate::app::PastOutput,
    theme: &Theme,
) {
    let focused = state.focus == Focus::Output;
    let label = state.current().map(|it| it.label()).unwrap_or_default();
    let title = match past.kind {
        Some(kind) => format!(" Output · iteration {label} · last {} ", kind.label()),
        None => format!(" Output · iteration {label} "),
    };
    let block = pane_block(Line::styled(title, theme.title()), focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    let start = past.lines.len().saturating_sub(height);
    let mut lines: Vec<Line> = past.lines[start..]
        .iter()
        .map(|l| Line::raw(l.as_str()))
        .collect();
    if lines.is_empty() {
        let hint = if past.loaded {
            "no command output recorded in this iteration"
        } else {
            "reading this iteration's log…"
        };
        lines.push(Line::styled(hint, theme.dim()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
