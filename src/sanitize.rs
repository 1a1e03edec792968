//! Untrusted text (test names, messages, tracebacks, command output, file
//! names) -> text that is safe to put on the terminal.
//! STUB: replaced by the real escape-sequence parser.

/// One display line: no control characters at all.
pub fn line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Multi-line text: keeps `\n`, drops everything else that is not printable.
pub fn text(s: &str) -> String {
    s.chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect()
}
