//! `loopdeck.toml`: the operator's configuration, the only place commands
//! come from (data never executes: see the README's design section).
//!
//! * [`find`] locates the file, [`load`] reads and checks it, [`init`] writes
//!   the commented [`TEMPLATE`].
//! * [`expand`] and [`env_for`] turn a configured command line and the
//!   iteration's [`Vars`] into the shell line and environment the runner
//!   starts; untrusted values (test ids, revisions, folder names) are always
//!   shell-quoted.
//!
//! Every error names the file, the line and the key, e.g.
//! `loopdeck.toml:12: [deploy] timeout: invalid duration "ten minutes" (examples: 90s, 10m, 1h30m)`.

mod duration;
mod expand;
mod parse;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use duration::{DURATION_EXAMPLES, parse_duration};
pub use expand::{
    FAILED_IDS_FILE_NAME, PLACEHOLDERS, Vars, check_failed_id, check_template, env_for, expand,
    write_failed_ids,
};

/// The file name [`find`] looks for and [`init`] writes.
pub const FILE_NAME: &str = "loopdeck.toml";

/// Default `results_dir`, relative to the config file's folder.
pub const DEFAULT_RESULTS_DIR: &str = "loop-results";

/// Default `[cancel] grace`: time between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// The commented template written by [`init`]; every key is explained.
pub const TEMPLATE: &str = include_str!("../../assets/loopdeck.toml");

/// A loaded, checked `loopdeck.toml`. Paths are absolute.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file itself (absolute).
    pub path: PathBuf,
    /// Where iterations are recorded (absolute; need not exist yet).
    pub results_dir: PathBuf,
    /// Total number of tests the loop aims to pass.
    pub goal: Option<usize>,
    /// Service name shown in the deploy pane and the deploy confirmation.
    pub service: Option<String>,
    /// Commands run here (absolute; checked to be a directory at load time).
    pub workdir: PathBuf,
    /// Extra environment for every command, sorted by name.
    pub env: Vec<(String, String)>,
    pub test: Option<CommandConfig>,
    pub deploy: Option<CommandConfig>,
    pub rerun_failed: Option<CommandConfig>,
    /// `[deploy] revision_pattern`: see [`revision_from`].
    pub revision_pattern: Option<regex::Regex>,
    /// `[auto] max_iterations`; `None`: no limit besides the goal and a failed deploy.
    pub auto_max_iterations: Option<u32>,
    /// `[cancel] grace`: SIGTERM to the process group, then SIGKILL after this.
    pub grace: Duration,
}

/// One configured command: a `sh -c` line template (see [`expand`]) and an
/// optional timeout (`None`: runs until it ends or is cancelled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandConfig {
    pub command: String,
    pub timeout: Option<Duration>,
}

/// A config problem, located as precisely as possible.
///
/// `key` is in display form: `goal`, `[deploy] timeout`, `[env] FOO`,
/// `[deplyo]` (an unknown table). `line` and `column` are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    /// `path:line: key: message`, leaving out what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn file(path: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            line: None,
            column: None,
            key: None,
            message: message.into(),
        }
    }
}

/// Which config file to use.
///
/// * `explicit` (`--config`) wins, made absolute against `cwd`; it is
///   returned even if it does not exist, so that [`load`] reports it.
/// * Otherwise `loopdeck.toml` is looked for in `cwd`, then in each parent
///   folder up to and including the enclosing git root (the nearest folder
///   holding `.git`), like tools that find their project file from a
///   subfolder. Outside a git repository only `cwd` itself is checked: a
///   `loopdeck.toml` lying in `/tmp` or a home folder above the project is
///   never picked up by accident, since its commands would run.
/// * Only regular files (or links to them) count; `None` means no config:
///   loopdeck is a read-only viewer.
pub fn find(explicit: Option<&Path>, cwd: &Path) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(if path.is_absolute() {
            path.to_path_buf()
        } else {
            cwd.join(path)
        });
    }
    let git_root = cwd.ancestors().find(|dir| dir.join(".git").exists());
    for dir in cwd.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        match git_root {
            Some(root) if dir != root => continue,
            _ => break,
        }
    }
    None
}

/// Reads and checks a config file. Unknown keys, wrong types, bad
/// durations, patterns, placeholders and paths are errors naming the line
/// and key (typos get a "did you mean"); when several things are wrong, the
/// one nearest the top of the file is reported.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| ConfigError::file(path, format!("cannot read config: {e}")))?;
    if !meta.is_file() {
        return Err(ConfigError::file(path, "not a regular file"));
    }
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| ConfigError::file(path, "not valid UTF-8 (TOML files are UTF-8)"))?;
    // The folder is resolved by the OS (`..` and links in it), the file
    // name is kept: a linked loopdeck.toml counts as living where the link is.
    let resolve = || -> std::io::Result<(PathBuf, PathBuf)> {
        let absolute = std::path::absolute(path)?;
        let name = absolute
            .file_name()
            .ok_or(std::io::ErrorKind::InvalidInput)?;
        let base = absolute.parent().unwrap_or(Path::new("/")).canonicalize()?;
        Ok((base.join(name), base))
    };
    let (absolute, base) =
        resolve().map_err(|e| ConfigError::file(path, format!("cannot resolve path: {e}")))?;
    parse::parse(path, &absolute, &base, &text)
}

/// Writes [`TEMPLATE`] to `dir/loopdeck.toml` atomically (temp file +
/// rename) and returns its path. Refuses to replace an existing file unless
/// `force`.
pub fn init(dir: &Path, force: bool) -> Result<PathBuf, String> {
    let path = dir.join(FILE_NAME);
    if !force && std::fs::symlink_metadata(&path).is_ok() {
        return Err(format!(
            "{} already exists; use --force to overwrite it",
            path.display()
        ));
    }
    let fail = |e: &dyn fmt::Display| format!("cannot write {}: {e}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".loopdeck.toml.")
        .tempfile_in(dir)
        .map_err(|e| fail(&e))?;
    tmp.write_all(TEMPLATE.as_bytes()).map_err(|e| fail(&e))?;
    tmp.as_file().sync_all().map_err(|e| fail(&e))?;
    if force {
        tmp.persist(&path).map_err(|e| fail(&e.error))?;
    } else {
        // Lost a race with another writer: still never overwrite.
        tmp.persist_noclobber(&path).map_err(|e| fail(&e.error))?;
    }
    Ok(path)
}

/// The revision named in deploy output by `pattern`: the capture group
/// named `revision` if the pattern has one, else group 1, else the whole
/// match. Returns the last match in `text` (a deploy may log several).
pub fn revision_from<'t>(pattern: &regex::Regex, text: &'t str) -> Option<&'t str> {
    let caps = pattern.captures_iter(text).last()?;
    let found = if pattern.capture_names().any(|n| n == Some("revision")) {
        caps.name("revision")
    } else if pattern.captures_len() > 1 {
        caps.get(1)
    } else {
        caps.get(0)
    };
    found.map(|m| m.as_str()).filter(|s| !s.is_empty())
}
