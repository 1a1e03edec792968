//! From a configured command template to the `sh -c` line and environment
//! the runner starts.
//!
//! Template syntax (like Rust's `format!`): `{name}` is a placeholder, `{{`
//! and `}}` are literal braces, any other brace is an error (so a shell
//! `${VAR}` is written `$VAR` or `${{VAR}}`). Every value is shell-quoted
//! for POSIX `sh` (shlex), so untrusted text — test ids from report files,
//! the revision pulled from deploy output, folder names in the results
//! directory — arrives as literal arguments and never runs.
//!
//! Quoting only protects a value the shell reads once, as a plain word. So
//! [`check_template`] (run by `load` on every command, and by [`expand`])
//! refuses placeholders where that does not hold: inside '...' or "..."
//! (the quotes would combine with ours), backquotes, `${...}`, `$((...))`,
//! right after `$` (`$'...'` is bash's escape string), after a
//! here-document `<<`, as the command word itself, and as an
//! argument of a command that re-parses its arguments in another shell
//! (`eval`, `ssh`, `su`, `watch`). `$(...)` is fine: its inside is a script
//! of its own. `{failed_ids}` (several words) must stand alone as a word.
//! This is a guard against the usual slips, not a full shell parser.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The placeholders [`expand`] knows.
pub const PLACEHOLDERS: &[&str] = &[
    "iteration_dir",
    "iteration",
    "results_dir",
    "failed_ids",
    "failed_ids_file",
    "service",
    "revision",
];

/// The file [`write_failed_ids`] writes in the folder it is given.
pub const FAILED_IDS_FILE_NAME: &str = "failed-ids.txt";

/// Commands that join their arguments and hand them to another shell,
/// which would undo one level of quoting.
const REPARSERS: &[&str] = &["eval", "ssh", "su", "watch"];

/// Variables available to commands, as `{placeholders}` and environment
/// variables (see [`env_for`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    /// `{iteration_dir}`, `LOOPDECK_ITERATION_DIR`: this iteration's folder.
    pub iteration_dir: PathBuf,
    /// `{iteration}`, `LOOPDECK_ITERATION`: its number.
    pub iteration: u64,
    /// `{results_dir}`, `LOOPDECK_RESULTS_DIR`.
    pub results_dir: PathBuf,
    /// `{failed_ids}` (each quoted, space-separated), `LOOPDECK_FAILED_IDS`
    /// (one per line): the failing test ids of the last run. Untrusted.
    pub failed_ids: Vec<String>,
    /// `{failed_ids_file}`, `LOOPDECK_FAILED_IDS_FILE`: the same ids, one a
    /// line, written by [`write_failed_ids`].
    pub failed_ids_file: Option<PathBuf>,
    /// `{service}`, `LOOPDECK_SERVICE`: from the config.
    pub service: Option<String>,
    /// `{revision}`, `LOOPDECK_REVISION`: the revision last recorded as
    /// deployed (pulled from deploy output: untrusted).
    pub revision: Option<String>,
}

/// Whether a test id may be handed to a command: not empty, no NUL, no
/// line break (it could not be one line of the ids file or of
/// `LOOPDECK_FAILED_IDS`), and not starting with `-` (the test runner would
/// read it as an option: `-p plugin` loads code in pytest).
pub fn check_failed_id(id: &str) -> Result<(), String> {
    let problem = if id.is_empty() {
        "is empty"
    } else if id.contains('\0') {
        "contains a NUL byte"
    } else if id.contains(['\n', '\r']) {
        "contains a line break"
    } else if id.starts_with('-') {
        "starts with '-' (it would be read as an option)"
    } else {
        return Ok(());
    };
    Err(format!("refusing test id {id:?}: it {problem}"))
}

/// One piece of a template.
enum Piece {
    Text(String),
    Placeholder(&'static str),
}

/// Checks a command template: brace syntax, known placeholders, and the
/// shell context of each placeholder (see the module docs).
pub fn check_template(command: &str) -> Result<(), String> {
    parse_template(command).map(|_| ())
}

/// Expands a command template into the line for `sh -c`. Every value is
/// shell-quoted. A placeholder whose value is missing is an error rather
/// than an empty string (`pytest {failed_ids}` with no ids would run the
/// whole suite), as is a bad test id (see [`check_failed_id`]) in
/// `{failed_ids}` or a path that is not UTF-8.
pub fn expand(command: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(command.len());
    for piece in parse_template(command)? {
        match piece {
            Piece::Text(text) => out.push_str(&text),
            Piece::Placeholder(name) => out.push_str(&value_of(name, vars)?),
        }
    }
    Ok(out)
}

fn quote(value: &str, what: &str) -> Result<String, String> {
    shlex::try_quote(value)
        .map(|q| q.into_owned())
        .map_err(|_| format!("{{{what}}} contains a NUL byte"))
}

fn quote_path(path: &Path, what: &str) -> Result<String, String> {
    let Some(s) = path.to_str() else {
        return Err(format!("{{{what}}}: path {} is not UTF-8", path.display()));
    };
    quote(s, what)
}

fn value_of(name: &str, vars: &Vars) -> Result<String, String> {
    match name {
        "iteration_dir" => quote_path(&vars.iteration_dir, name),
        "iteration" => Ok(vars.iteration.to_string()),
        "results_dir" => quote_path(&vars.results_dir, name),
        "failed_ids" => {
            if vars.failed_ids.is_empty() {
                return Err("{failed_ids} is empty: there are no failing tests to pass".into());
            }
            let mut words = Vec::with_capacity(vars.failed_ids.len());
            for id in &vars.failed_ids {
                check_failed_id(id)?;
                words.push(quote(id, name)?);
            }
            Ok(words.join(" "))
        }
        "failed_ids_file" => match &vars.failed_ids_file {
            Some(path) => quote_path(path, name),
            None => Err("{failed_ids_file}: no failed ids file was written".into()),
        },
        "service" => match &vars.service {
            Some(s) => quote(s, name),
            None => Err("{service}: no `service` is set in the config".into()),
        },
        "revision" => match &vars.revision {
            Some(r) => quote(r, name),
            None => Err("{revision}: no deployed revision is known yet".into()),
        },
        _ => Err(format!("unknown placeholder {{{name}}}")),
    }
}

/// Stand-in for a placeholder while the shell context is checked, followed
/// by a private-use character carrying the placeholder's index. Templates
/// may not contain NUL, so it cannot be confused with command text.
const MARK: char = '\0';
const INDEX_BASE: u32 = 0xF_0000;

fn parse_template(command: &str) -> Result<Vec<Piece>, String> {
    if command.contains('\0') {
        return Err("the command contains a NUL byte".into());
    }
    let mut pieces = Vec::new();
    let mut text = String::new();
    // The line the shell would see, with MARK + index for each placeholder.
    let mut shell_view = String::with_capacity(command.len());
    let mut names = Vec::new();
    let mut rest = command;
    while let Some(i) = rest.find(['{', '}']) {
        text.push_str(&rest[..i]);
        shell_view.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            let brace = &tail[..1];
            text.push_str(brace);
            shell_view.push_str(brace);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err("unmatched `}`: write `}}` for a literal brace".into());
        }
        let inner_end = tail[1..].find(['{', '}']).map(|j| j + 1);
        let name = match inner_end {
            Some(end) if tail[end..].starts_with('}') => &tail[1..end],
            _ => return Err("unmatched `{`: write `{{` for a literal brace".into()),
        };
        let Some(known) = PLACEHOLDERS.iter().find(|p| **p == name) else {
            let mut msg = format!(
                "unknown placeholder {{{name}}} (known: {})",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let is_ident =
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.is_empty();
            if let Some(best) = super::parse::did_you_mean(name, PLACEHOLDERS) {
                msg.push_str(&format!("; did you mean {{{best}}}?"));
            } else if is_ident {
                msg.push_str(&format!(
                    "; for a shell variable write ${name} or ${{{{{name}}}}}"
                ));
            } else {
                msg.push_str("; write `{{` and `}}` for literal braces");
            }
            return Err(msg);
        };
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Placeholder(known));
        shell_view.push(MARK);
        shell_view.push(char::from_u32(INDEX_BASE + names.len() as u32).unwrap_or('?'));
        names.push(*known);
        rest = &tail[name.len() + 2..];
    }
    text.push_str(rest);
    shell_view.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    if !names.is_empty() {
        check_shell_context(&shell_view, &names)?;
    }
    Ok(pieces)
}

#[derive(Debug)]
enum Ctx {
    /// Script text: the top level, or inside `$(...)` (`sub`).
    Script(Frame),
    Single,
    Double,
    Backtick,
    Param,
    Arith(u32),
}

#[derive(Debug, Default)]
struct Frame {
    sub: bool,
    parens: u32,
    /// The word being read (quoted parts count as `x`).
    word: String,
    /// The current simple command's command word, once known.
    command: Option<String>,
    /// The next word is the target of a redirection (`> file`).
    redirect: bool,
}

impl Frame {
    fn at_command_position(&self) -> bool {
        self.command.is_none()
    }

    fn end_word(&mut self, uncertain: &mut bool) {
        let word = std::mem::take(&mut self.word);
        if word.is_empty() {
            return;
        }
        if std::mem::take(&mut self.redirect) {
            return;
        }
        if self.sub && word == "case" {
            *uncertain = true;
        }
        if self.command.is_none() {
            let assignment = word.split_once('=').is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            let keyword = matches!(
                word.as_str(),
                "!" | "{" | "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "time"
            );
            if !assignment && !keyword {
                let base = word.rsplit('/').next().unwrap_or(&word).to_string();
                self.command = Some(base);
            }
        }
    }

    fn end_command(&mut self, uncertain: &mut bool) {
        self.end_word(uncertain);
        self.command = None;
        self.redirect = false;
    }
}

fn check_shell_context(view: &str, names: &[&str]) -> Result<(), String> {
    let cs: Vec<char> = view.chars().collect();
    let mut stack = vec![Ctx::Script(Frame::default())];
    let mut heredoc = false;
    let mut uncertain = false;
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let next = cs.get(i + 1).copied();
        let next2 = cs.get(i + 2).copied();
        if c == MARK {
            let index = next.map_or(usize::MAX, |n| (n as u32).wrapping_sub(INDEX_BASE) as usize);
            let name = names.get(index).copied().unwrap_or("?");
            if i > 0 && cs[i - 1] == '$' {
                // `${revision}` would expand to `$'...'`, which bash reads
                // as an escape-processing string: the quoting breaks.
                return Err(format!(
                    "{{{name}}} right after `$`: loopdeck replaces it with a quoted value; for a shell variable write ${{{{VAR}}}} or $VAR"
                ));
            }
            let after = cs.get(i + 2).copied();
            check_one(&stack, name, heredoc, uncertain, after)?;
            if let Some(Ctx::Script(frame)) = stack.last_mut() {
                frame.word.push('x');
            }
            i += 2;
            continue;
        }
        if c == '\\' && next == Some(MARK) {
            return Err("a placeholder cannot follow a backslash (the backslash would escape loopdeck's quoting)".into());
        }
        let top = stack.last_mut().expect("the top frame is never popped");
        match top {
            Ctx::Script(frame) => match c {
                '\\' => {
                    frame.word.push('x');
                    i += 1; // the escaped character
                }
                '\'' => {
                    frame.word.push('x');
                    stack.push(Ctx::Single);
                }
                '"' => {
                    frame.word.push('x');
                    stack.push(Ctx::Double);
                }
                '`' => {
                    frame.word.push('x');
                    stack.push(Ctx::Backtick);
                }
                '$' if next == Some('(') && next2 == Some('(') => {
                    frame.word.push('x');
                    stack.push(Ctx::Arith(0));
                    i += 2;
                }
                '$' if next == Some('(') => {
                    frame.word.push('x');
                    stack.push(Ctx::Script(Frame {
                        sub: true,
                        ..Frame::default()
                    }));
                    i += 1;
                }
                '$' if next == Some('{') => {
                    frame.word.push('x');
                    stack.push(Ctx::Param);
                    i += 1;
                }
                '#' if frame.word.is_empty() => {
                    while i + 1 < cs.len() && cs[i + 1] != '\n' {
                        i += 1;
                    }
                }
                '<' if next == Some('<') => {
                    heredoc = true;
                    frame.end_word(&mut uncertain);
                    i += 1;
                }
                '(' => {
                    frame.parens += 1;
                    frame.end_command(&mut uncertain);
                }
                ')' => {
                    if frame.parens > 0 {
                        frame.parens -= 1;
                        frame.end_command(&mut uncertain);
                    } else if frame.sub {
                        stack.pop();
                    } else {
                        frame.end_word(&mut uncertain);
                    }
                }
                '<' | '>' => {
                    if frame.word.chars().all(|c| c.is_ascii_digit()) {
                        frame.word.clear(); // a file descriptor: `2>`
                    } else {
                        frame.end_word(&mut uncertain);
                    }
                    frame.redirect = true;
                }
                ' ' | '\t' => frame.end_word(&mut uncertain),
                '\n' | ';' | '&' | '|' => frame.end_command(&mut uncertain),
                _ => frame.word.push(c),
            },
            Ctx::Single => {
                if c == '\'' {
                    stack.pop();
                }
            }
            Ctx::Double | Ctx::Backtick | Ctx::Param => {
                let closing = match top {
                    Ctx::Double => '"',
                    Ctx::Backtick => '`',
                    _ => '}',
                };
                match c {
                    '\\' => i += 1,
                    _ if c == closing => {
                        stack.pop();
                    }
                    '`' => stack.push(Ctx::Backtick),
                    '"' if matches!(top, Ctx::Param) => stack.push(Ctx::Double),
                    '$' if next == Some('(') && next2 == Some('(') => {
                        stack.push(Ctx::Arith(0));
                        i += 2;
                    }
                    '$' if next == Some('(') => {
                        stack.push(Ctx::Script(Frame {
                            sub: true,
                            ..Frame::default()
                        }));
                        i += 1;
                    }
                    '$' if next == Some('{') => {
                        stack.push(Ctx::Param);
                        i += 1;
                    }
                    _ => {}
                }
            }
            Ctx::Arith(parens) => match c {
                '(' => *parens += 1,
                ')' if *parens > 0 => *parens -= 1,
                ')' if next == Some(')') => {
                    stack.pop();
                    i += 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    Ok(())
}

fn check_one(
    stack: &[Ctx],
    name: &str,
    heredoc: bool,
    uncertain: bool,
    after: Option<char>,
) -> Result<(), String> {
    let p = format!("{{{name}}}");
    if stack.iter().any(|c| matches!(c, Ctx::Backtick)) {
        return Err(format!(
            "{p} is inside `backquotes`, where the shell would undo loopdeck's quoting; use $(...)"
        ));
    }
    let frame = match stack.last() {
        Some(Ctx::Script(frame)) => frame,
        Some(Ctx::Single) | Some(Ctx::Double) => {
            return Err(format!(
                "{p} is inside quotes: loopdeck quotes the value itself, remove the quotes around it"
            ));
        }
        _ => {
            return Err(format!(
                "{p} is inside ${{...}} or $((...)), where its quoting would not hold"
            ));
        }
    };
    if heredoc {
        return Err(format!(
            "{p} comes after a here-document (<<), where values are not protected by quoting"
        ));
    }
    if uncertain {
        return Err(format!(
            "cannot tell how the shell reads {p} (after a `case` inside $(...)); move it out"
        ));
    }
    if let Some(cmd) = &frame.command
        && REPARSERS.contains(&cmd.as_str())
    {
        return Err(format!(
            "{p} is an argument of `{cmd}`, which hands its arguments to another shell and would undo loopdeck's quoting; pass values through {{failed_ids_file}} or $LOOPDECK_* variables instead"
        ));
    }
    if frame.at_command_position() && frame.word.is_empty() && !frame.redirect {
        return Err(format!(
            "{p} cannot be the command itself (data never executes)"
        ));
    }
    if name == "failed_ids" {
        let alone_after = after
            .is_none_or(|c| matches!(c, ' ' | '\t' | '\n' | ';' | '&' | '|' | ')' | '<' | '>'));
        if !frame.word.is_empty() || !alone_after {
            return Err(
                "{failed_ids} expands to several words: it must stand alone, separated by spaces"
                    .into(),
            );
        }
    }
    Ok(())
}

/// The `LOOPDECK_*` environment for a command: `LOOPDECK_ITERATION_DIR`,
/// `LOOPDECK_ITERATION`, `LOOPDECK_RESULTS_DIR`, `LOOPDECK_FAILED_IDS` (one
/// id per line, always set, empty when there are none; ids failing
/// [`check_failed_id`] are left out), and, when known,
/// `LOOPDECK_FAILED_IDS_FILE`, `LOOPDECK_SERVICE`, `LOOPDECK_REVISION`.
/// Unknown values are left unset (not empty) so `set -u` scripts notice;
/// values that cannot be environment values (non-UTF-8 paths, NUL bytes)
/// are left out too.
pub fn env_for(vars: &Vars) -> Vec<(String, String)> {
    let mut env = Vec::new();
    let mut set = |key: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.contains('\0')) {
            env.push((key.to_string(), v));
        }
    };
    let path = |p: &Path| p.to_str().map(str::to_string);
    set("LOOPDECK_ITERATION_DIR", path(&vars.iteration_dir));
    set("LOOPDECK_ITERATION", Some(vars.iteration.to_string()));
    set("LOOPDECK_RESULTS_DIR", path(&vars.results_dir));
    let ids: Vec<&str> = vars
        .failed_ids
        .iter()
        .map(String::as_str)
        .filter(|id| check_failed_id(id).is_ok())
        .collect();
    set("LOOPDECK_FAILED_IDS", Some(ids.join("\n")));
    set(
        "LOOPDECK_FAILED_IDS_FILE",
        vars.failed_ids_file.as_deref().and_then(path),
    );
    set("LOOPDECK_SERVICE", vars.service.clone());
    set("LOOPDECK_REVISION", vars.revision.clone());
    env
}

/// Writes `ids` one per line (each followed by `\n`) to
/// `dir/failed-ids.txt` atomically (temp file in `dir`, then rename) and
/// returns the path. An id failing [`check_failed_id`] is an
/// `InvalidInput` error and nothing is written.
pub fn write_failed_ids(dir: &Path, ids: &[String]) -> std::io::Result<PathBuf> {
    let mut body = String::new();
    for id in ids {
        check_failed_id(id)
            .map_err(std::io::Error::other)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        body.push_str(id);
        body.push('\n');
    }
    let path = dir.join(FAILED_IDS_FILE_NAME);
    let mut tmp = tempfile::Builder::new()
        .prefix(".failed-ids.")
        .tempfile_in(dir)?;
    tmp.write_all(body.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces() {
        assert!(check_template("echo {{}}").is_ok());
        assert!(check_template("awk '{{print $1}}'").is_ok());
        assert!(
            check_template("echo {")
                .unwrap_err()
                .contains("unmatched `{`")
        );
        assert!(
            check_template("echo }")
                .unwrap_err()
                .contains("unmatched `}`")
        );
        let e = check_template("echo ${HOME}").unwrap_err();
        assert!(e.contains("$HOME or ${{HOME}}"), "{e}");
        assert!(
            check_template("echo {iteration_dri}")
                .unwrap_err()
                .contains("unknown placeholder")
        );
    }
}
