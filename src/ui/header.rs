//! Two lines: the loop and its goal; the iteration on screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{bar, clock, duration, parse_time, percent};
use super::theme::Theme;
use crate::app::{Iteration, State};

pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let w = area.width as usize;
    let lines = vec![
        fit(loop_line(state, theme), w),
        fit(iteration_line(state, theme), w),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

/// Parts of a header line, each with a priority: when the line is wider than
/// the terminal, the least important parts go first (instead of the end of the
/// line being cut off). Everything dropped is also shown in a pane.
type Parts<'a> = Vec<(u8, Vec<Span<'a>>)>;

fn fit<'a>(mut parts: Parts<'a>, width: usize) -> Line<'a> {
    let part_width = |p: &(u8, Vec<Span>)| p.1.iter().map(Span::width).sum::<usize>();
    while parts.iter().map(part_width).sum::<usize>() > width {
        let Some((i, _)) = parts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.0 > 0)
            .max_by_key(|(i, p)| (p.0, *i))
        else {
            break;
        };
        parts.remove(i);
    }
    Line::from(parts.into_iter().flat_map(|p| p.1).collect::<Vec<_>>())
}

fn loop_line<'a>(state: &'a State, theme: &Theme) -> Parts<'a> {
    let goal = state.goal_total();
    // Progress counts confirmed passes only: what a rerun of the failing
    // tests alone made pass is shown next to it, as provisional.
    let totals = state.latest().map(|it| it.summary.totals);
    let passed = totals.map_or(0, |t| t.verified());
    let provisional = totals.map_or(0, |t| t.provisional);
    let mut parts: Parts = vec![
        (0, vec![Span::styled(" loopdeck", theme.accent())]),
        (
            3,
            vec![
                Span::raw(" · "),
                Span::styled(state.title.as_str(), theme.title()),
            ],
        ),
        (0, vec![Span::raw(format!(" · {passed}/{goal} verified "))]),
    ];
    if provisional > 0 {
        parts.push((
            1,
            vec![Span::styled(
                format!("(+{provisional} provisional) "),
                theme.warn(),
            )],
        ));
    }
    parts.extend([
        (
            2,
            vec![Span::styled(
                bar(passed, goal, 10, theme.ascii),
                theme.pass(),
            )],
        ),
        (0, vec![Span::raw(format!(" {}%", percent(passed, goal)))]),
    ]);
    if goal > passed {
        parts.push((4, vec![Span::raw(format!(" · {} to go", goal - passed))]));
    }
    let n = state.iterations.len();
    if let Some(cur) = state.current_index() {
        let mode = if state.is_live() {
            Span::styled("LIVE", theme.accent())
        } else {
            Span::styled("PAST (G: live)", theme.warn())
        };
        parts.push((
            0,
            vec![Span::raw(format!(" · iter {}/{} ", cur + 1, n)), mode],
        ));
    }
    parts
}

fn iteration_line<'a>(state: &'a State, theme: &Theme) -> Parts<'a> {
    let Some(it) = state.current() else {
        return vec![(
            0,
            vec![Span::styled(" waiting for the first report…", theme.dim())],
        )];
    };
    let t = &it.summary.totals;
    let mut spans: Parts = vec![(
        0,
        vec![Span::styled(
            format!(" Iteration {}", it.label()),
            theme.title(),
        )],
    )];
    let (started, finished) = times(it);
    if let Some(s) = started {
        spans.push((3, vec![Span::raw(format!(" · {}", clock(s, state.tz)))]));
    }
    if it.data.running {
        // Few streaming formats announce a total: fall back to the goal
        // (--goal, the config's, else the most tests another iteration has
        // seen). A total the run has already reached is no total: then the
        // count is "so far", without a bar that would say "done".
        let key = &it.data.key;
        let total = it.data.expected_total.or(state.goal).or_else(|| {
            state
                .iterations
                .iter()
                .filter(|o| &o.data.key != key)
                .map(|o| o.summary.totals.tests)
                .max()
        });
        match total.filter(|&n| n > t.tests || it.data.expected_total.is_some()) {
            Some(total) => {
                spans.push((
                    0,
                    vec![Span::styled(
                        format!(" · running tests {}/{total} ", t.tests),
                        theme.accent(),
                    )],
                ));
                spans.push((
                    2,
                    vec![Span::styled(
                        bar(t.tests, total.max(t.tests), 10, theme.ascii),
                        theme.accent(),
                    )],
                ));
            }
            None => spans.push((
                0,
                vec![Span::styled(
                    format!(" · running tests: {} so far ", t.tests),
                    theme.accent(),
                )],
            )),
        }
        if let Some(s) = started {
            spans.push((
                1,
                vec![Span::raw(format!(
                    " {}",
                    duration((state.now - s).num_seconds())
                ))],
            ));
        }
    } else {
        let provisional = if t.provisional > 0 {
            format!(", {} provisional", t.provisional)
        } else {
            String::new()
        };
        let status = if t.tests == 0 {
            Span::styled(" · no tests yet", theme.dim())
        } else if t.failing() == 0 && t.provisional > 0 {
            Span::styled(
                format!(
                    " · {} {}/{} passed{provisional}",
                    theme.provisional_mark(),
                    t.passed,
                    t.tests
                ),
                theme.warn(),
            )
        } else if t.failing() == 0 {
            Span::styled(
                format!(" · {} {}/{} passed", theme.pass_mark(), t.passed, t.tests),
                theme.pass(),
            )
        } else {
            Span::styled(
                format!(
                    " · {} {} failing · {}/{} passed{provisional}",
                    theme.fail_mark(),
                    t.failing(),
                    t.passed,
                    t.tests
                ),
                theme.fail(),
            )
        };
        spans.push((0, vec![status]));
        if let (Some(s), Some(f)) = (started, finished) {
            spans.push((
                3,
                vec![Span::raw(format!(
                    " · took {}",
                    duration((f - s).num_seconds())
                ))],
            ));
        }
    }
    if let Some(issue) = it.data.meta.as_ref().and_then(|m| m.issue.as_deref()) {
        spans.push((5, vec![Span::raw(" · issue: "), Span::raw(issue)]));
    }
    spans
}

pub fn times(
    it: &Iteration,
) -> (
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
) {
    // iteration.json says best; else the files' own times.
    let meta = it.data.meta.as_ref();
    let started = parse_time(meta.and_then(|m| m.started.as_deref())).or(it.data.started);
    let finished = parse_time(meta.and_then(|m| m.finished.as_deref())).or(if it.data.running {
        None
    } else {
        it.data.modified
    });
    (started, finished)
}
