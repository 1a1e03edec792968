//! The y/n question for actions with side effects.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::pane_block;
use super::theme::Theme;
use crate::app::{Confirm, Control, State};

pub fn draw(frame: &mut Frame, area: Rect, state: &State, question: Confirm, theme: &Theme) {
    let service = match &state.control {
        Control::Enabled(c) => c.service.clone().unwrap_or_else(|| "the service".into()),
        Control::ReadOnly(_) => "the service".into(),
    };
    let live = state
        .latest()
        .and_then(|it| it.data.deploy.as_ref())
        .and_then(|d| d.revision.clone())
        .map_or(String::new(), |r| format!(" (now at revision {r})"));
    let text = match question {
        Confirm::Deploy {
            next_iteration: false,
        } => format!("Deploy {service}{live} from the current workdir?"),
        Confirm::Deploy {
            next_iteration: true,
        } => format!(
            "Start the next iteration: new iteration folder, deploy {service}{live}, then run the tests if the deploy succeeds?"
        ),
        Confirm::Cancel => {
            let what = state
                .active
                .as_ref()
                .map_or("the command", |a| a.kind.label());
            format!(
                "Cancel the running {what}? Every process it started gets SIGTERM, then SIGKILL."
            )
        }
        Confirm::QuitWhileRunning => {
            let what = state
                .active
                .as_ref()
                .map_or("a command", |a| a.kind.label());
            format!("The {what} is still running. Cancel it and quit?")
        }
        Confirm::TestWhileDeploying => "A deploy is still running. Run the tests anyway?".into(),
    };
    let w = 64.min(area.width);
    let [v] = Layout::vertical([Constraint::Length(6)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(w)])
        .flex(Flex::Center)
        .areas(v);
    let lines = vec![
        Line::raw(text),
        Line::from(vec![
            Span::styled("y", theme.key()),
            Span::raw(" yes   "),
            Span::styled("n", theme.key()),
            Span::raw("/Esc no"),
        ]),
    ];
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(pane_block(
                Line::styled(" Confirm ", theme.title()),
                true,
                theme,
            )),
        popup,
    );
}
