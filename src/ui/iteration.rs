//! What the iteration is about: iteration.json, timing and its report files.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::format::{clock, duration};
use super::header::times;
use super::pane_block;
use super::theme::Theme;
use crate::app::{Focus, State};

pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let focused = state.focus == Focus::Iteration;
    let Some(it) = state.current() else {
        let block = pane_block(Line::styled(" Iteration ", theme.title()), focused, theme);
        frame.render_widget(
            Paragraph::new("no iteration yet")
                .style(theme.dim())
                .block(block),
            area,
        );
        return;
    };
    let title = format!(" Iteration {} · {} ", it.label(), it.data.key);
    let block = pane_block(Line::styled(title, theme.title()), focused, theme);
    let mut lines = Vec::new();
    let (started, finished) = times(it);
    let mut when = Vec::new();
    if let Some(s) = started {
        when.push(format!("started {}", clock(s, state.tz)));
    }
    if let Some(f) = finished {
        when.push(format!("finished {}", clock(f, state.tz)));
    }
    match (started, finished) {
        (Some(s), Some(f)) => when.push(format!("took {}", duration((f - s).num_seconds()))),
        (Some(s), None) if it.data.running => when.push(format!(
            "running for {}",
            duration((state.now - s).num_seconds())
        )),
        _ => {}
    }
    if it.data.running {
        when.push("running".to_string());
    } else if finished.is_none() {
        when.push("finished".to_string());
    }
    lines.push(Line::raw(when.join(" · ")));
    let provisional = it.summary.totals.provisional;
    if provisional > 0 {
        lines.push(Line::styled(
            format!(
                "{} {provisional} provisional: passed only in a rerun; T runs all to confirm",
                theme.provisional_mark()
            ),
            theme.warn(),
        ));
    }
    if let Some(meta) = &it.data.meta {
        for (label, value) in [
            ("issue", &meta.issue),
            ("root cause", &meta.root_cause),
            ("fix", &meta.fix),
            ("notes", &meta.notes),
        ] {
            if let Some(v) = value {
                lines.push(Line::from(vec![
                    Span::styled(format!("{label}: "), theme.title()),
                    Span::raw(v.clone()),
                ]));
            }
        }
    } else {
        lines.push(Line::styled(
            "no iteration.json: no issue, root cause or fix recorded",
            theme.dim(),
        ));
    }
    for f in &it.data.files {
        let status = match &f.error {
            Some(e) if f.pending => format!(" · being written ({e})"),
            Some(e) => format!(" · {e}"),
            None if !f.complete => " · still being written".to_string(),
            None => String::new(),
        };
        let format = f.format.as_deref().unwrap_or("not a report");
        let run = if f.rerun { " · rerun" } else { "" };
        lines.push(Line::styled(
            format!("file {} ({format}, {} tests){run}{status}", f.name, f.tests),
            theme.dim(),
        ));
    }
    for e in &it.data.run_errors {
        lines.push(Line::styled(format!("run error: {e}"), theme.fail()));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((if focused { state.scroll } else { 0 }, 0))
            .block(block),
        area,
    );
}
