//! The bottom line: the keys that apply now, a prompt while typing, or a notice.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::app::{Input, State};

pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let line = if let Some(input) = &state.input {
        let (label, text, hint) = match input {
            Input::Filter(s) => ("filter", s, "Enter keep · Esc clear"),
            Input::Search(s) => ("search", s, "Enter find · Esc cancel"),
        };
        Line::from(vec![
            Span::styled(format!(" /{label}: "), theme.key()),
            Span::raw(text.clone()),
            Span::styled("▏", theme.accent()),
            Span::styled(format!("  {hint}"), theme.dim()),
        ])
    } else if let Some(flash) = &state.flash {
        Line::styled(format!(" {flash}"), theme.accent())
    } else {
        let keys: &[(&str, &str)] = if state.detail.is_some() {
            &[
                ("j/k", "scroll"),
                ("g/G", "top/end"),
                ("/", "search"),
                ("n/N", "next/prev"),
                ("y", "copy"),
                ("Esc", "back"),
                ("?", "help"),
                ("q", "quit"),
            ]
        } else {
            &[
                ("←→", "iteration"),
                ("G", "live"),
                ("Tab", "pane"),
                ("⏎", "open"),
                ("/", "filter"),
                ("y", "copy"),
                ("?", "help"),
                ("q", "quit"),
            ]
        };
        let mut spans = vec![Span::raw(" ")];
        // Whole hints only: stop before one would be cut (? help lists them all).
        let mut used = 1;
        for (k, what) in keys {
            let hint = format!(" {what}  ");
            let w = Span::raw(*k).width() + Span::raw(hint.as_str()).width();
            if used + w > area.width as usize + 2 {
                break;
            }
            used += w;
            spans.push(Span::styled(*k, theme.key()));
            spans.push(Span::raw(hint));
        }
        if area.width >= 100 {
            spans.push(Span::styled("read-only viewer", theme.dim()));
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}
