//! Modules table: failing first, passed/total per module; a module green
//! only thanks to a rerun of the failing tests is marked `~` and says so.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::left_truncate;
use super::pane_block;
use super::theme::Theme;
use crate::app::{Focus, State};

pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let focused = state.focus == Focus::Modules;
    let Some(it) = state.current() else {
        let block = pane_block(Line::from(" Modules "), focused, theme);
        frame.render_widget(
            Paragraph::new("no modules yet")
                .style(theme.dim())
                .block(block),
            area,
        );
        return;
    };
    let s = &it.summary;
    let (green, all) = (s.green_modules(), s.modules.len());
    let provisional = s.provisional_modules();
    let title = if state.filter.is_empty() && provisional > 0 {
        format!(" Modules {green}/{all} passing, {provisional} provisional ")
    } else if state.filter.is_empty() {
        format!(" Modules {green}/{all} passing ")
    } else {
        // Shorter when filtered, so the filter itself fits in the title.
        let shown = state.module_rows.len();
        format!(
            " Modules {green}/{all} · {shown} shown · filter: {} ",
            state.filter
        )
    };
    let block = pane_block(Line::styled(title, theme.title()), focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let height = inner.height as usize;
    let width = inner.width as usize;
    let offset = state
        .modules_cursor
        .saturating_sub(height.saturating_sub(1));
    let mut lines = Vec::with_capacity(height);
    for (row, &m) in state
        .module_rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
    {
        let module = &s.modules[m];
        let (mark, style) = if !module.is_green() {
            (theme.fail_mark(), theme.fail())
        } else if module.provisional > 0 {
            (theme.provisional_mark(), theme.warn())
        } else {
            (theme.pass_mark(), theme.pass())
        };
        let counts = format!(" {}/{}", module.passed, module.total());
        let name_full = unicode_width::UnicodeWidthStr::width(module.name.as_str());
        // The extra counts are the first thing to go when the name would be
        // cut (the `~` mark stays and the failures pane lists the tests).
        let mut extra = String::new();
        for (n, what) in [(module.provisional, "prov."), (module.skipped, "skip")] {
            let more = format!(" ({n} {what})");
            if n > 0 && name_full + 2 + counts.len() + 1 + extra.len() + more.len() <= width {
                extra.push_str(&more);
            }
        }
        let name_w = width.saturating_sub(2 + counts.len() + extra.len() + 1);
        let name = left_truncate(&module.name, name_w);
        let pad = name_w.saturating_sub(unicode_width::UnicodeWidthStr::width(name.as_str()));
        let mut line = Line::from(vec![
            Span::styled(format!("{mark} "), style),
            Span::raw(name),
            Span::raw(" ".repeat(pad)),
            Span::styled(counts, style),
            Span::styled(extra, theme.skip()),
        ]);
        if focused && row == state.modules_cursor {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }
    if lines.is_empty() {
        let msg = if state.filter.is_empty() {
            "no modules yet"
        } else {
            "no module matches the filter"
        };
        lines.push(Line::styled(msg, theme.dim()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
