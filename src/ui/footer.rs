//! The bottom line: the keys that apply now, a prompt while typing, or a notice.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::app::{Control, Input, Stage, State, loop_stage};
use crate::model::duration_text;

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
    } else {
        let keys: &[(&str, &str)] = if state.detail.is_some() {
            &[
                ("j/k", "scroll"),
                ("g/G", "top/end"),
                ("/", "search"),
                ("n/N", "next/prev"),
                ("y", "copy"),
                ("q", "back"),
            ]
        } else {
            &[
                ("←→", "iteration"),
                ("G", "live"),
                ("Tab", "pane"),
                ("⏎", "open"),
                ("/", "filter"),
                ("y", "copy"),
                ("q", "quit"),
            ]
        };
        let width = area.width as usize;
        let mut spans = vec![Span::raw(" ")];
        // The live state first: a notice never hides what runs or where
        // the loop stands.
        if state.detail.is_none() {
            spans.extend(loop_status(state, theme));
        }
        let status_w = Line::from(spans.clone()).width();
        // `? help` always shows; the notice and the other hints take what
        // is left, the notice first (cut with "…" if it must be).
        let room = width.saturating_sub(status_w + HELP_HINT.len());
        let mut used = 0;
        if let Some(flash) = &state.flash {
            let text = fit(flash, room.saturating_sub(3));
            used += Span::raw(text.as_str()).width() + 3;
            spans.push(Span::styled(text, theme.accent()));
            spans.push(Span::raw(" │ "));
        }
        // Whole hints only: stop before one would be cut (? help lists them all).
        for (k, what) in keys {
            let hint = format!(" {what}  ");
            let w = Span::raw(*k).width() + Span::raw(hint.as_str()).width();
            if used + w > room {
                break;
            }
            used += w;
            spans.push(Span::styled(*k, theme.key()));
            spans.push(Span::raw(hint));
        }
        spans.push(Span::styled("?", theme.key()));
        spans.push(Span::raw(" help  "));
        if width >= 100 + used.min(20) && matches!(state.control, Control::ReadOnly(_)) {
            spans.push(Span::styled("read-only viewer", theme.dim()));
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// `? help  ` as the footer shows it.
const HELP_HINT: &str = "? help  ";

/// `text` cut to `max` columns, ending in "…" when cut.
fn fit(text: &str, max: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    if Span::raw(text).width() <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in text.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > max {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.push('…');
    out
}

/// What runs now, or where the loop stands and the key that moves it on.
fn loop_status<'a>(state: &State, theme: &Theme) -> Vec<Span<'a>> {
    if let Some(a) = &state.active {
        let took = duration_text((state.now - a.started).num_seconds());
        let word = if a.cancelling {
            "cancelling"
        } else {
            "running"
        };
        return vec![
            Span::styled(
                format!("● {} {word} {took}", a.kind.label()),
                theme.accent(),
            ),
            Span::raw(" · "),
            Span::styled("X", theme.key()),
            Span::raw(" cancel │ "),
        ];
    }
    if let Some(r) = &state.running {
        // Another loopdeck's (or a script's) run, seen in the directory.
        let took = duration_text((state.now - r.started).num_seconds());
        return vec![
            Span::styled(
                format!("● {} running {took}", r.kind.label()),
                theme.accent(),
            ),
            Span::raw(format!(" by {}@{} │ ", r.user, r.host)),
        ];
    }
    let Control::Enabled(_) = state.control else {
        return Vec::new();
    };
    let stage = loop_stage(state);
    let mut spans = vec![Span::styled(format!("{} ", stage.label()), theme.title())];
    // Here nothing runs in this loopdeck (that case returned above): a
    // deploy or test run in progress was started elsewhere.
    if matches!(stage, Stage::Deploying | Stage::Testing) {
        spans.push(Span::raw("(started elsewhere)"));
    }
    if let Some((key, what)) = stage.next_step(state.active.is_some()) {
        spans.push(Span::raw("→ "));
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::raw(format!(" {what}")));
    }
    if state.auto.on {
        spans.push(Span::styled(" · AUTO", theme.accent()));
    }
    spans.push(Span::raw(" │ "));
    spans
}
