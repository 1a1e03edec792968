//! `?`: every key, from the same table the keymap documents.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::pane_block;
use super::theme::Theme;
use crate::app::keymap_help;

pub fn draw(frame: &mut Frame, area: Rect, scroll: usize, theme: &Theme) {
    let rows = keymap_help();
    let h = (rows.len() as u16 + 2).min(area.height);
    let w = 76.min(area.width);
    let [v] = Layout::vertical([Constraint::Length(h)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(w)])
        .flex(Flex::Center)
        .areas(v);
    let lines: Vec<Line> = rows
        .iter()
        .skip(scroll)
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>16}  "), theme.key()),
                Span::raw(*what),
            ])
        })
        .collect();
    let more = rows
        .len()
        .saturating_sub(scroll + h.saturating_sub(2) as usize);
    let hint = if more > 0 {
        format!(" j/k: {more} more · any other key closes ")
    } else {
        " any key closes ".to_string()
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            pane_block(Line::styled(" Keys ", theme.title()), true, theme)
                .title_bottom(Line::styled(hint, theme.dim())),
        ),
        popup,
    );
}
