//! The checking walk over a parsed TOML document. We walk toml's spanned
//! tree by hand instead of deriving `Deserialize`: every error then knows
//! its line and key, and unknown keys get a "did you mean".

use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::{CommandConfig, Config, ConfigError, DEFAULT_GRACE, DEFAULT_RESULTS_DIR};

type Key<'i> = Spanned<DeString<'i>>;
type Value<'i> = Spanned<DeValue<'i>>;

const TOP_KEYS: &[&str] = &[
    "results_dir",
    "goal",
    "service",
    "workdir",
    "env",
    "test",
    "deploy",
    "rerun_failed",
    "auto",
    "cancel",
];
const SECTIONS: &[(&str, &[&str])] = &[
    ("test", &["command", "timeout"]),
    ("deploy", &["command", "timeout", "revision_pattern"]),
    ("rerun_failed", &["command", "timeout"]),
    ("auto", &["max_iterations"]),
    ("cancel", &["grace"]),
];
/// Regexes bigger than this (compiled) are refused: the pattern runs on
/// every line of deploy output.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

struct Cx<'a> {
    display_path: &'a Path,
    text: &'a str,
    base: &'a Path,
    /// (byte offset, error): the one nearest the top is reported.
    errors: Vec<(usize, ConfigError)>,
}

pub(super) fn parse(
    display_path: &Path,
    absolute: &Path,
    base: &Path,
    text: &str,
) -> Result<Config, ConfigError> {
    let doc = DeTable::parse(text).map_err(|e| syntax_error(display_path, text, &e))?;
    let mut cx = Cx {
        display_path,
        text,
        base,
        errors: Vec::new(),
    };
    let mut config = Config {
        path: absolute.to_path_buf(),
        results_dir: base.join(DEFAULT_RESULTS_DIR),
        goal: None,
        service: None,
        workdir: base.to_path_buf(),
        env: Vec::new(),
        test: None,
        deploy: None,
        rerun_failed: None,
        revision_pattern: None,
        auto_max_iterations: None,
        grace: DEFAULT_GRACE,
    };
    for (key, value) in doc.get_ref().iter() {
        let name: &str = key.get_ref();
        match name {
            "results_dir" => {
                if let Some(p) = cx.path(value, name) {
                    config.results_dir = p;
                }
            }
            "workdir" => {
                if let Some(p) = cx.path(value, name) {
                    if p.is_dir() {
                        config.workdir = p;
                    } else {
                        cx.err(
                            value.span(),
                            name,
                            format!("{} is not a directory", p.display()),
                        );
                    }
                }
            }
            "goal" => {
                config.goal = cx
                    .positive(value, name, usize::MAX as u64)
                    .map(|n| n as usize)
            }
            "service" => config.service = cx.text_value(value, name),
            "env" => config.env = cx.env(key, value),
            "test" => config.test = cx.command_section(key, value, name).0,
            "rerun_failed" => config.rerun_failed = cx.command_section(key, value, name).0,
            "deploy" => {
                (config.deploy, config.revision_pattern) = cx.command_section(key, value, name)
            }
            "auto" => {
                if let Some(table) = cx.section(key, value, name) {
                    for (k, v) in table.iter() {
                        let sub: &str = k.get_ref();
                        let shown = format!("[auto] {sub}");
                        match sub {
                            "max_iterations" => {
                                config.auto_max_iterations = cx
                                    .positive(v, &shown, u64::from(u32::MAX))
                                    .map(|n| n as u32)
                            }
                            _ => cx.unknown(k, Some(name)),
                        }
                    }
                }
            }
            "cancel" => {
                if let Some(table) = cx.section(key, value, name) {
                    for (k, v) in table.iter() {
                        let sub: &str = k.get_ref();
                        match sub {
                            "grace" => {
                                if let Some(d) = cx.duration(v, "[cancel] grace", true) {
                                    config.grace = d;
                                }
                            }
                            _ => cx.unknown(k, Some(name)),
                        }
                    }
                }
            }
            _ => cx.unknown(
                key,
                matches!(value.get_ref(), DeValue::Table(_)).then_some(""),
            ),
        }
    }
    if let Some((_, err)) = cx.errors.into_iter().min_by_key(|(offset, _)| *offset) {
        return Err(err);
    }
    Ok(config)
}

impl Cx<'_> {
    fn err(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let (line, column) = line_col(self.text, span.start);
        self.errors.push((
            span.start,
            ConfigError {
                path: self.display_path.to_path_buf(),
                line: Some(line),
                column: Some(column),
                key: Some(key.to_string()),
                message: message.into(),
            },
        ));
    }

    /// An unknown key in `[section]`; at the top level `section` is `None`
    /// for a plain key and `Some("")` for a table, shown as `[name]`.
    fn unknown(&mut self, key: &Key<'_>, section: Option<&str>) {
        let name: &str = key.get_ref();
        let (shown, section) = match section {
            Some("") => (format!("[{name}]"), None),
            Some(s) => (format!("[{s}] {name}"), Some(s)),
            None => (name.to_string(), None),
        };
        let message = unknown_key_message(name, section);
        self.err(key.span(), &shown, message);
    }

    fn string<'v>(&mut self, value: &'v Value<'_>, key: &str) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(s) => {
                if s.contains('\0') {
                    self.err(value.span(), key, "contains a NUL character");
                    None
                } else {
                    Some(s.as_ref())
                }
            }
            other => {
                self.err(value.span(), key, must_be("a string", other));
                None
            }
        }
    }

    /// A non-empty string.
    fn text_value(&mut self, value: &Value<'_>, key: &str) -> Option<String> {
        let s = self.string(value, key)?;
        if s.trim().is_empty() {
            self.err(value.span(), key, "must not be empty");
            return None;
        }
        Some(s.to_string())
    }

    /// A path, relative to the config file's folder; `~/` is the home folder.
    fn path(&mut self, value: &Value<'_>, key: &str) -> Option<PathBuf> {
        let s = self.text_value(value, key)?;
        let path = match (s.strip_prefix("~/"), std::env::var_os("HOME")) {
            (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
            _ => PathBuf::from(&s),
        };
        Some(clean(&self.base.join(path)))
    }

    fn positive(&mut self, value: &Value<'_>, key: &str, max: u64) -> Option<u64> {
        let DeValue::Integer(i) = value.get_ref() else {
            self.err(
                value.span(),
                key,
                must_be("a whole number", value.get_ref()),
            );
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if n >= 1 && n as u64 <= max => Some(n as u64),
            Ok(n) if n < 1 => {
                self.err(value.span(), key, format!("must be at least 1, not {n}"));
                None
            }
            _ => {
                self.err(value.span(), key, format!("must be at most {max}"));
                None
            }
        }
    }

    fn duration(&mut self, value: &Value<'_>, key: &str, zero_ok: bool) -> Option<Duration> {
        if let DeValue::Integer(i) = value.get_ref() {
            let n = i.as_str();
            self.err(
                value.span(),
                key,
                format!("write a duration with a unit, e.g. \"{n}s\" or \"{n}m\""),
            );
            return None;
        }
        let s = self.string(value, key)?;
        match super::parse_duration(s) {
            Ok(d) if d.is_zero() && !zero_ok => {
                self.err(value.span(), key, "must be longer than zero");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(value.span(), key, e);
                None
            }
        }
    }

    fn section<'t, 'i>(
        &mut self,
        key: &Key<'_>,
        value: &'t Value<'i>,
        name: &str,
    ) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            DeValue::Array(_) => {
                self.err(
                    key.span(),
                    &format!("[{name}]"),
                    format!("write [{name}] once, not [[{name}]]"),
                );
                None
            }
            other => {
                self.err(
                    value.span(),
                    name,
                    format!("{} (write a [{name}] section)", must_be("a table", other)),
                );
                None
            }
        }
    }

    /// `[test]`, `[deploy]`, `[rerun_failed]`; the regex is `[deploy] revision_pattern`.
    fn command_section(
        &mut self,
        key: &Key<'_>,
        value: &Value<'_>,
        name: &str,
    ) -> (Option<CommandConfig>, Option<regex::Regex>) {
        let Some(table) = self.section(key, value, name) else {
            return (None, None);
        };
        let errors_before = self.errors.len();
        let mut command = None;
        let mut timeout = None;
        let mut pattern = None;
        for (k, v) in table.iter() {
            let sub: &str = k.get_ref();
            let shown = format!("[{name}] {sub}");
            match sub {
                "command" => {
                    if let Some(c) = self.text_value(v, &shown) {
                        match super::check_template(&c) {
                            Ok(()) => command = Some(c),
                            Err(e) => self.err(v.span(), &shown, e),
                        }
                    }
                }
                "timeout" => timeout = self.duration(v, &shown, false),
                "revision_pattern" if name == "deploy" => {
                    if let Some(p) = self.text_value(v, &shown) {
                        match regex::RegexBuilder::new(&p)
                            .size_limit(REGEX_SIZE_LIMIT)
                            .build()
                        {
                            Ok(re) => pattern = Some(re),
                            Err(e) => self.err(
                                v.span(),
                                &shown,
                                format!("invalid regular expression: {}", regex_error(&e)),
                            ),
                        }
                    }
                }
                _ => self.unknown(k, Some(name)),
            }
        }
        if command.is_none() && self.errors.len() == errors_before {
            self.err(
                key.span(),
                &format!("[{name}]"),
                "missing `command` (the shell command line to run)",
            );
        }
        (
            command.map(|command| CommandConfig { command, timeout }),
            pattern,
        )
    }

    fn env(&mut self, key: &Key<'_>, value: &Value<'_>) -> Vec<(String, String)> {
        let Some(table) = self.section(key, value, "env") else {
            return Vec::new();
        };
        let mut env = Vec::new();
        for (k, v) in table.iter() {
            let name: &str = k.get_ref();
            let shown = format!("[env] {name}");
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.err(
                    k.span(),
                    &shown,
                    "not a valid environment variable name (letters, digits and _, not starting with a digit)",
                );
                continue;
            }
            if name.to_ascii_uppercase().starts_with("LOOPDECK_") {
                self.err(
                    k.span(),
                    &shown,
                    "LOOPDECK_ names are reserved for the variables loopdeck sets itself",
                );
                continue;
            }
            match v.get_ref() {
                DeValue::String(_) => {
                    if let Some(s) = self.string(v, &shown) {
                        env.push((name.to_string(), s.to_string()));
                    }
                }
                other => self.err(
                    v.span(),
                    &shown,
                    format!("{} (quote it)", must_be("a string", other)),
                ),
            }
        }
        env.sort();
        env
    }
}

fn must_be(what: &str, got: &DeValue<'_>) -> String {
    let ty = got.type_str();
    let article = if ty.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("must be {what}, not {article} {ty}")
}

fn unknown_key_message(name: &str, section: Option<&str>) -> String {
    let allowed: &[&str] = match section {
        None => TOP_KEYS,
        Some(s) => SECTIONS
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, keys)| *keys)
            .unwrap_or(&[]),
    };
    let mut message = match section {
        None => "unknown key".to_string(),
        Some(s) => format!("unknown key in [{s}]"),
    };
    // A key that belongs elsewhere: the usual TOML slip is a top-level key
    // written below a [section] header, where it joins that section.
    if section.is_some() && TOP_KEYS.contains(&name) {
        message.push_str(&format!(
            "; `{name}` is a top-level key: move it above the first [section] header"
        ));
        return message;
    }
    let home: Vec<&str> = SECTIONS
        .iter()
        .filter(|(s, keys)| Some(*s) != section && keys.contains(&name))
        .map(|(s, _)| *s)
        .collect();
    if !home.is_empty() {
        let list: Vec<String> = home.iter().map(|s| format!("[{s}]")).collect();
        message.push_str(&format!("; `{name}` belongs in {}", list.join(" or ")));
        return message;
    }
    if let Some(best) = did_you_mean(name, allowed) {
        message.push_str(&format!(" (did you mean `{best}`?)"));
    }
    message.push_str(&format!("; expected one of: {}", allowed.join(", ")));
    message
}

/// The closest allowed key within a small edit distance, case-insensitively.
pub(super) fn did_you_mean<'a>(name: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    allowed
        .iter()
        .map(|k| (edit_distance(&lower, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    // Optimal string alignment: insertions, deletions, substitutions and
    // swaps of two neighbours each cost 1.
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Drops `.` components. `..` is kept: folding it lexically would be wrong
/// when the folder before it is a symbolic link.
fn clean(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// The gist of a regex error: its `error: ...` line, without the drawing.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| one_line(&text))
}

fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A TOML syntax error, with the key guessed from the line it is on and
/// the last `[section]` header above it.
fn syntax_error(path: &Path, text: &str, err: &toml::de::Error) -> ConfigError {
    let (line, column) = match err.span() {
        Some(span) => {
            let (l, c) = line_col(text, span.start);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    let key = line.and_then(|l| guess_key(text, l));
    ConfigError {
        path: path.to_path_buf(),
        line,
        column,
        key,
        message: format!("invalid TOML: {}", one_line(err.message())),
    }
}

fn guess_key(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let here = lines.get(line - 1)?.trim();
    let header_of = |l: &str| {
        let l = l.trim();
        if l.starts_with('[') {
            let inner = l.trim_start_matches('[');
            let end = inner.find(']')?;
            Some(inner[..end].trim().to_string())
        } else {
            None
        }
    };
    if let Some(h) = header_of(here) {
        return Some(format!("[{h}]"));
    }
    let section = lines[..line - 1].iter().rev().find_map(|l| header_of(l));
    let key: String = here
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect();
    let key = (!key.is_empty() && here[key.len()..].trim_start().starts_with('=')).then_some(key);
    match (section, key) {
        (Some(s), Some(k)) => Some(format!("[{s}] {k}")),
        (None, Some(k)) => Some(k),
        (Some(s), None) => Some(format!("[{s}]")),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("timout", "timeout"), 1);
        assert_eq!(edit_distance("tiemout", "timeout"), 1);
        assert_eq!(edit_distance("command", "command"), 0);
        assert_eq!(
            did_you_mean("comand", &["command", "timeout"]),
            Some("command")
        );
        assert_eq!(
            did_you_mean("Timeout", &["command", "timeout"]),
            Some("timeout")
        );
        assert_eq!(did_you_mean("xyz", &["command", "timeout"]), None);
    }

    #[test]
    fn clean_folds_dots() {
        assert_eq!(clean(Path::new("/a/b/./c")), PathBuf::from("/a/b/c"));
        assert_eq!(clean(Path::new("/a/b/../c")), PathBuf::from("/a/b/../c"));
        assert_eq!(clean(Path::new("/a/.")), PathBuf::from("/a"));
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("a\nbé = 1", 5), (2, 3));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
