//! Deployment of the iteration on screen, from its deploy.json.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::format::{clock, duration, parse_time};
use super::pane_block;
use super::theme::Theme;
use crate::app::{Focus, State};
use crate::model::DeployState;

pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let focused = state.focus == Focus::Deploy;
    let block = pane_block(Line::styled(" Deploy ", theme.title()), focused, theme);
    let lines = match state.current() {
        None => vec![Line::styled("no iteration yet", theme.dim())],
        Some(it) => match &it.data.deploy {
            None => vec![Line::styled(
                format!(
                    "no deploy recorded for this iteration (no deploy.json in {})",
                    it.data.key
                ),
                theme.dim(),
            )],
            Some(d) => {
                let started = parse_time(d.started.as_deref());
                let finished = parse_time(d.finished.as_deref());
                let (mark, style) = match d.state {
                    DeployState::Live => (theme.pass_mark(), theme.pass()),
                    DeployState::Failed | DeployState::Cancelled => {
                        (theme.fail_mark(), theme.fail())
                    }
                    DeployState::Deploying | DeployState::Queued => ("…", theme.accent()),
                    DeployState::Unknown => ("?", theme.dim()),
                };
                let mut first = vec![
                    Span::styled(
                        d.service.clone().unwrap_or_else(|| "service ?".into()),
                        theme.title(),
                    ),
                    Span::raw("  "),
                    Span::raw(d.revision.clone().unwrap_or_else(|| "revision ?".into())),
                    Span::raw("  "),
                    Span::styled(format!("{mark} {}", d.state.label()), style),
                ];
                match (d.state, started, finished) {
                    (DeployState::Deploying | DeployState::Queued, Some(s), _) => {
                        let elapsed = duration((state.now - s).num_seconds());
                        first.push(Span::raw(match typical_deploy_secs(state) {
                            Some(eta) => format!(" {elapsed} of ~{}", duration(eta)),
                            None => format!(" for {elapsed}"),
                        }))
                    }
                    (DeployState::Live, _, Some(f)) => {
                        first.push(Span::raw(format!(" since {}", clock(f, state.tz))))
                    }
                    (_, Some(s), Some(f)) => first.push(Span::raw(format!(
                        " after {}",
                        duration((f - s).num_seconds())
                    ))),
                    _ => {}
                }
                let mut lines = vec![Line::from(first)];
                let mut times = Vec::new();
                if let Some(s) = started {
                    times.push(format!("started {}", clock(s, state.tz)));
                }
                if let Some(f) = finished {
                    times.push(format!("finished {}", clock(f, state.tz)));
                }
                if let (Some(s), Some(f)) = (started, finished) {
                    times.push(format!("took {}", duration((f - s).num_seconds())));
                }
                if !times.is_empty() {
                    lines.push(Line::styled(times.join(" · "), theme.dim()));
                }
                if let Some(m) = &d.message {
                    lines.push(Line::raw(m.clone()));
                }
                lines
            }
        },
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((if focused { state.scroll } else { 0 }, 0))
            .block(block),
        area,
    );
}

/// The median duration of the loop's earlier successful deploys, for the
/// "2:13 of ~10:00" estimate; `None` until one has finished.
pub fn typical_deploy_secs(state: &State) -> Option<i64> {
    let mut secs: Vec<i64> = state
        .iterations
        .iter()
        .filter_map(|it| it.data.deploy.as_ref())
        .filter(|d| d.state == DeployState::Live)
        .filter_map(|d| {
            Some(
                (parse_time(d.finished.as_deref())? - parse_time(d.started.as_deref())?)
                    .num_seconds(),
            )
        })
        .filter(|s| *s >= 0)
        .collect();
    if secs.is_empty() {
        return None;
    }
    secs.sort_unstable();
    Some(secs[secs.len() / 2])
}
