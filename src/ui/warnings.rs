//! Files that could not be read, named with the reason.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::pane_block;
use super::theme::Theme;
use crate::app::{Focus, State};

/// One line above the footer, whenever there is any warning.
pub fn draw_line(frame: &mut Frame, area: Rect, warnings: &[String], theme: &Theme) {
    let more = if warnings.len() > 1 {
        format!(" (+{} more, 6 to list)", warnings.len() - 1)
    } else {
        String::new()
    };
    let mark = if theme.ascii { "!" } else { "⚠" };
    let line = Line::from(vec![
        Span::styled(format!(" {mark} "), theme.warn()),
        Span::styled(warnings[0].clone(), theme.warn()),
        Span::styled(more, theme.dim()),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

pub fn draw_pane(frame: &mut Frame, area: Rect, state: &State, warnings: &[String], theme: &Theme) {
    let focused = state.focus == Focus::Warnings;
    let block = pane_block(
        Line::styled(format!(" Warnings {} ", warnings.len()), theme.title()),
        focused,
        theme,
    );
    let lines: Vec<Line> = if warnings.is_empty() {
        vec![Line::styled(
            "no warnings: every file was read",
            theme.dim(),
        )]
    } else {
        warnings
            .iter()
            .map(|w| Line::styled(w.clone(), theme.warn()))
            .collect()
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((if focused { state.scroll } else { 0 }, 0))
            .block(block),
        area,
    );
}
