//! The full-failure view: message, traceback and captured output of one test.

use crate::model::TestCase;

use super::rows::contains_ignore_case;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// The iteration (folder key) and test shown, by name so the view survives the
    /// directory being re-read (indices can move, names do not).
    pub iteration: String,
    pub test_id: String,
    pub scroll: usize,
    pub search: String,
}

/// The lines the detail view shows, in order. Text is already sanitized.
pub fn detail_lines(test: &TestCase) -> Vec<String> {
    let mut lines = vec![
        format!("{} {}", outcome_word(test), test.id),
        format!("module: {}", test.module),
    ];
    if let Some(d) = test.duration_secs {
        lines.push(format!("duration: {d:.3}s"));
    }
    if let Some(f) = test.failure.as_deref() {
        if let Some(kind) = &f.kind {
            lines.push(format!("type: {kind}"));
        }
        section(&mut lines, "Message", &f.message);
        section(&mut lines, "Traceback", &f.detail);
        section(&mut lines, "Captured stdout", &f.stdout);
        section(&mut lines, "Captured stderr", &f.stderr);
    }
    lines
}

fn section(lines: &mut Vec<String>, title: &str, body: &str) {
    if body.trim().is_empty() {
        return;
    }
    lines.push(String::new());
    lines.push(format!("── {title} ──"));
    lines.extend(body.trim_end().lines().map(str::to_string));
}

fn outcome_word(test: &TestCase) -> &'static str {
    use crate::model::Outcome::*;
    match test.outcome {
        Failed => "✘ FAILED",
        Errored => "✘ ERROR",
        Skipped => "○ SKIPPED",
        Passed => "✔ PASSED",
    }
}

/// Line indices that contain the search text (case-insensitive).
pub fn search_hits(lines: &[String], search: &str) -> Vec<usize> {
    if search.is_empty() {
        return Vec::new();
    }
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| contains_ignore_case(l, search))
        .map(|(i, _)| i)
        .collect()
}

/// What `y` copies: id, message and traceback, plain text.
pub fn clipboard_text(test: &TestCase) -> String {
    let mut out = format!("{}\n", test.id);
    if let Some(f) = test.failure.as_deref() {
        out.push_str(&f.message);
        out.push('\n');
        if !f.detail.trim().is_empty() {
            out.push('\n');
            out.push_str(f.detail.trim_end());
            out.push('\n');
        }
    }
    out
}
