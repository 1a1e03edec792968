//! Two lines: the loop and its goal; the iteration on screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{bar, clock, duration, parse_time, percent};
use super::theme::Theme;
use crate::app::{Iteration, State};

pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let lines = vec![loop_line(state, theme), iteration_line(state, theme)];
    frame.render_widget(Paragraph::new(lines), area);
}

fn loop_line<'a>(state: &'a State, theme: &Theme) -> Line<'a> {
    let goal = state.goal_total();
    let passed = state.latest().map_or(0, |it| it.summary.totals.passed);
    let mut spans = vec![
        Span::styled(" loopdeck", theme.accent()),
        Span::raw(" · "),
        Span::styled(state.title.as_str(), theme.title()),
        Span::raw(format!(" · goal {goal} · {passed} verified ")),
        Span::styled(bar(passed, goal, 10, theme.ascii), theme.pass()),
        Span::raw(format!(" {}%", percent(passed, goal))),
    ];
    if goal > passed {
        spans.push(Span::raw(format!(" · {} to go", goal - passed)));
    }
    let n = state.iterations.len();
    if let Some(cur) = state.current_index() {
        spans.push(Span::raw(format!(" · iter {}/{} ", cur + 1, n)));
        if state.is_live() {
            spans.push(Span::styled("LIVE", theme.accent()));
        } else {
            spans.push(Span::styled("PAST (G: live)", theme.warn()));
        }
    }
    Line::from(spans)
}

fn iteration_line<'a>(state: &'a State, theme: &Theme) -> Line<'a> {
    let Some(it) = state.current() else {
        return Line::styled(" waiting for the first report…", theme.dim());
    };
    let t = &it.summary.totals;
    let mut spans = vec![Span::styled(
        format!(" Iteration {}", it.label()),
        theme.title(),
    )];
    let (started, finished) = times(it);
    if let Some(s) = started {
        spans.push(Span::raw(format!(" · {}", clock(s, state.tz))));
    }
    if it.data.running {
        let total = it.data.expected_total.unwrap_or(0).max(t.tests);
        spans.push(Span::styled(
            format!(
                " · running tests {}/{} ",
                t.tests,
                if total > 0 {
                    total.to_string()
                } else {
                    "?".into()
                }
            ),
            theme.accent(),
        ));
        if total > 0 {
            spans.push(Span::styled(
                bar(t.tests, total, 10, theme.ascii),
                theme.accent(),
            ));
        }
        if let Some(s) = started {
            spans.push(Span::raw(format!(
                " {}",
                duration((state.now - s).num_seconds())
            )));
        }
    } else {
        let status = if t.tests == 0 {
            Span::styled(" · no tests yet", theme.dim())
        } else if t.failing() == 0 {
            Span::styled(
                format!(" · {} {}/{} passed", theme.pass_mark(), t.passed, t.tests),
                theme.pass(),
            )
        } else {
            Span::styled(
                format!(
                    " · {} {} failing · {}/{} passed",
                    theme.fail_mark(),
                    t.failing(),
                    t.passed,
                    t.tests
                ),
                theme.fail(),
            )
        };
        spans.push(status);
        if let (Some(s), Some(f)) = (started, finished) {
            spans.push(Span::raw(format!(
                " · took {}",
                duration((f - s).num_seconds())
            )));
        }
    }
    if let Some(issue) = it.data.meta.as_ref().and_then(|m| m.issue.as_deref()) {
        spans.push(Span::raw(" · issue: "));
        spans.push(Span::raw(issue));
    }
    Line::from(spans)
}

pub fn times(
    it: &Iteration,
) -> (
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
) {
    let meta = it.data.meta.as_ref();
    (
        parse_time(meta.and_then(|m| m.started.as_deref())),
        parse_time(meta.and_then(|m| m.finished.as_deref())),
    )
}
