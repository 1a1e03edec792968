//! Small text helpers shared by panes: bars, durations, truncation.

use chrono::{DateTime, FixedOffset, Utc};
use unicode_width::UnicodeWidthChar;

/// `▕███░░░░░▏` of `width` cells for `done` of `total`.
pub fn bar(done: usize, total: usize, width: usize, ascii: bool) -> String {
    let filled = (done.min(total) * width).checked_div(total).unwrap_or(0);
    let (l, r, f, e) = if ascii {
        ("[", "]", "#", ".")
    } else {
        ("▕", "▏", "█", "░")
    };
    format!("{l}{}{}{r}", f.repeat(filled), e.repeat(width - filled))
}

pub fn percent(done: usize, total: usize) -> usize {
    (done.min(total) * 100).checked_div(total).unwrap_or(0)
}

pub use crate::model::{duration_text as duration, parse_time};

pub fn clock(t: DateTime<Utc>, tz: FixedOffset) -> String {
    t.with_timezone(&tz).format("%H:%M").to_string()
}

/// Keeps the end of `s` (the informative part of a path) within `width` cells.
pub fn left_truncate(s: &str, width: usize) -> String {
    let w: usize = s.chars().map(|c| c.width().unwrap_or(0)).sum();
    if w <= width {
        return s.to_string();
    }
    let mut out: Vec<char> = Vec::new();
    let mut used = 1; // the ellipsis
    for c in s.chars().rev() {
        let cw = c.width().unwrap_or(0);
        if used + cw > width {
            break;
        }
        used += cw;
        out.push(c);
    }
    out.push('…');
    out.into_iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_fills_proportionally() {
        assert_eq!(bar(1, 4, 8, true), "[##......]");
        assert_eq!(bar(5, 4, 4, true), "[####]");
        assert_eq!(bar(0, 0, 2, true), "[..]");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(133), "2:13");
        assert_eq!(duration(3_725), "1:02:05");
    }

    #[test]
    fn truncates_from_the_left() {
        assert_eq!(left_truncate("tests/e2e/test_ws.py", 12), "…/test_ws.py");
        assert_eq!(left_truncate("short", 12), "short");
    }
}
