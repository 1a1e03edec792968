//! Small text helpers shared by the format readers: XML unescaping without
//! entity expansion, first lines, ANSI stripping for one-line messages.

use std::borrow::Cow;

/// Unescapes an XML attribute value or text run. Only the five predefined
/// entities and numeric character references are decoded; anything else
/// (unknown entities such as `&lol9;`, a lone `&`) is kept literally, so an
/// entity bomb stays inert text. `&#27;` becomes ESC: it is data, and the
/// display layer sanitises it.
pub fn unescape(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let Some(mut at) = memchr::memchr(b'&', bytes) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    // `s[..done]` is in `out`; `at` is the next `&`.
    let mut done = 0;
    loop {
        out.push_str(&s[done..at]);
        match decode_entity(&s[at..]) {
            Some((c, used)) => {
                out.push(c);
                done = at + used;
            }
            None => {
                out.push('&');
                done = at + 1;
            }
        }
        match memchr::memchr(b'&', &bytes[done..]) {
            Some(i) => at = done + i,
            None => break,
        }
    }
    out.push_str(&s[done..]);
    Cow::Owned(out)
}

/// `s` starts with `&`. Returns the character and the number of bytes used.
pub(crate) fn decode_entity(s: &str) -> Option<(char, usize)> {
    // Entity names and numeric references are short; do not scan far.
    // 16: as long as a reference quick-xml hands over whole (see
    // `junit::push_reference`), so both ways of reading text agree.
    let window = &s.as_bytes()[..s.len().min(16)];
    let semi = memchr::memchr(b';', window)?;
    let body = &s[1..semi];
    let c = match body {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let num = body.strip_prefix('#')?;
            let code = if let Some(hex) = num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
                u32::from_str_radix(hex, 16).ok()?
            } else {
                num.parse::<u32>().ok()?
            };
            if code == 0 {
                return None;
            }
            char::from_u32(code)?
        }
    };
    Some((c, semi + 1))
}

/// First line that is not blank, trimmed.
pub fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// Removes ANSI escape sequences (CSI, OSC, two-byte ESC sequences) and
/// other C0 control characters except tab. For one-line messages only;
/// details keep their escapes for the display layer to render or strip.
pub fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            match chars.peek() {
                Some('[') => {
                    chars.next();
                    // CSI: parameters and intermediates, then one final byte.
                    for n in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&n) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    chars.next();
                    // OSC: until BEL or ST (ESC \).
                    while let Some(n) = chars.next() {
                        if n == '\u{7}' {
                            break;
                        }
                        if n == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                Some(_) => {
                    chars.next();
                }
                None => {}
            }
        } else if c.is_control() && c != '\t' {
            continue;
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The one-line message shown for a failure: first non-blank line, ANSI
/// stripped, trimmed.
pub fn message_line(s: &str) -> String {
    let line = first_line(s);
    strip_ansi(line).trim().to_string()
}

/// pytest writes characters that XML cannot hold as `#xNN` (ESC becomes
/// `#x1B`). Turns `#x1B` back into ESC so colour escapes are escapes again.
pub fn pytest_unmangle(s: &str) -> Cow<'_, str> {
    if s.contains("#x1B") {
        Cow::Owned(s.replace("#x1B", "\u{1b}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Makes absolute test-file paths relative to the project: drops the common
/// directory of all `paths`, then climbs while that directory is itself a
/// conventional test folder (`test`, `tests`, `__tests__`, `spec`), so
/// `/ci/proj/test/a.test.mjs` becomes `test/a.test.mjs`.
pub fn relative_paths(paths: &[&str]) -> Vec<String> {
    let absolute: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| p.starts_with('/'))
        .collect();
    if absolute.is_empty() {
        return paths.iter().map(|p| p.to_string()).collect();
    }
    let mut common: Vec<&str> = absolute[0].split('/').collect();
    common.pop(); // the file name
    for p in &absolute[1..] {
        let parts: Vec<&str> = p.split('/').collect();
        let dir = &parts[..parts.len().saturating_sub(1)];
        let same = common.iter().zip(dir).take_while(|(a, b)| a == b).count();
        common.truncate(same);
    }
    while let Some(last) = common.last() {
        if matches!(
            *last,
            "test" | "tests" | "__tests__" | "spec" | "specs" | "e2e"
        ) {
            common.pop();
        } else {
            break;
        }
    }
    let prefix = common.join("/") + "/";
    paths
        .iter()
        .map(|p| p.strip_prefix(prefix.as_str()).unwrap_or(p).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_keeps_unknown_entities() {
        assert_eq!(
            unescape("a &lt;b&gt; &amp; &lol9; & x"),
            "a <b> & &lol9; & x"
        );
        assert_eq!(unescape("&#27;[31m&#x41;"), "\u{1b}[31mA");
        assert_eq!(unescape("&#0;"), "&#0;");
        assert_eq!(unescape("&#99999999999;"), "&#99999999999;");
    }

    #[test]
    fn ansi_is_stripped_from_messages() {
        assert_eq!(strip_ansi("\u{1b}[31mred\u{1b}[0m ok"), "red ok");
        assert_eq!(strip_ansi("\u{1b}]52;c;abc\u{7}x"), "x");
        assert_eq!(
            message_line("\n  \u{1b}[1mE\u{1b}[0m: boom  \nmore"),
            "E: boom"
        );
    }

    #[test]
    fn relative_paths_climb_test_dirs() {
        let r = relative_paths(&["/ci/proj/test/a.test.mjs", "/ci/proj/test/b.test.mjs"]);
        assert_eq!(r, ["test/a.test.mjs", "test/b.test.mjs"]);
        let r = relative_paths(&["/ci/p/__tests__/a.js", "/ci/p/src/b.test.js"]);
        assert_eq!(r, ["__tests__/a.js", "src/b.test.js"]);
        assert_eq!(relative_paths(&["rel/a.js"]), ["rel/a.js"]);
    }
}
