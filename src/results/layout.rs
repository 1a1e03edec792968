//! Which folders are iterations and which files in them are read.
//! See the module documentation of [`crate::results`] for the rules.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// How the results root is organised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Numbered subfolders, one per iteration.
    Loop,
    /// The root itself is one iteration (it has no numbered subfolders).
    Single,
}

/// The runs of ASCII digits in a name, as numbers (saturating), in order.
/// `iter-001` -> `[1]`, `2026-11-24_run3` -> `[2026, 11, 24, 3]`.
pub fn digit_runs(name: &str) -> Vec<u64> {
    let mut runs = Vec::new();
    let mut current: Option<u64> = None;
    for c in name.chars() {
        if let Some(d) = c.to_digit(10) {
            let v = current.unwrap_or(0);
            current = Some(v.saturating_mul(10).saturating_add(u64::from(d)));
        } else if let Some(v) = current.take() {
            runs.push(v);
        }
    }
    runs.extend(current);
    runs
}

/// The iteration number of a folder name: its first run of digits.
pub fn iteration_number(name: &str) -> Option<u64> {
    digit_runs(name).first().copied()
}

/// Sort key of an iteration folder: all its digit runs compared as numbers
/// (so `iter-2` < `iter-10`, and date-like names sort by date then time),
/// then the name itself to make the order total.
pub(crate) fn sort_key(name: &str) -> (Vec<u64>, String) {
    (digit_runs(name), name.to_string())
}

/// Names that are never read: hidden files and folders (temp files of
/// atomic writes, editor state, `.loopdeck`), editor backups.
pub(crate) fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".tmp")
        || name.ends_with(".swp")
        || name.ends_with(".part")
}

/// What a file in an iteration folder is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileRole {
    Meta,
    Deploy,
    /// Might be a report: read and recognised by content.
    Report,
    /// Logs, loopdeck's own `runs.jsonl`, anything else: ignored quietly.
    Other,
}

/// Extensions of files that are expected to be reports; files with other
/// extensions are never opened.
pub const REPORT_EXTENSIONS: &[&str] = &["xml", "json", "jsonl", "ndjson"];

pub(crate) fn role(name: &str) -> FileRole {
    match name {
        "iteration.json" => FileRole::Meta,
        "deploy.json" => FileRole::Deploy,
        "runs.jsonl" => FileRole::Other,
        _ if is_ignored_name(name) => FileRole::Other,
        _ => {
            let ext = Path::new(name)
                .extension()
                .and_then(|e| e.to_str())
                .map(|e| e.to_ascii_lowercase());
            match ext {
                Some(e) if REPORT_EXTENSIONS.contains(&e.as_str()) => FileRole::Report,
                _ => FileRole::Other,
            }
        }
    }
}

/// A numbered folder directly under the root.
#[derive(Debug, Clone)]
pub(crate) struct IterDir {
    pub name: OsString,
    pub key: String,
    pub number: u64,
}

/// Result of listing the root.
#[derive(Debug, Clone)]
pub(crate) struct RootListing {
    pub layout: Layout,
    /// Numbered subfolders (empty for [`Layout::Single`]), sorted.
    pub iterations: Vec<IterDir>,
}

/// Lists the root: numbered real subfolders (never symlinks, never hidden)
/// make a loop; otherwise the root is a single iteration.
pub(crate) fn list_root(root: &Path) -> io::Result<RootListing> {
    let mut iterations = Vec::new();
    for entry in fs::read_dir(root)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let lossy = name.to_string_lossy().into_owned();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            if is_ignored_name(&lossy) {
                continue;
            }
            if let Some(number) = iteration_number(&lossy) {
                iterations.push(IterDir {
                    name,
                    key: lossy,
                    number,
                });
            }
        }
    }
    iterations.sort_by_cached_key(|d| sort_key(&d.key));
    let layout = if iterations.is_empty() {
        Layout::Single
    } else {
        Layout::Loop
    };
    Ok(RootListing { layout, iterations })
}

/// One entry of an iteration folder.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Relative to the iteration folder.
    pub rel: PathBuf,
    pub role: FileRole,
    /// `symlink_metadata` says it is a symlink.
    pub symlink: bool,
    /// Not a regular file and not a symlink (FIFO, socket, device).
    pub special: Option<&'static str>,
}

/// At most this many entries are considered per iteration folder.
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// What [`list_iteration`] found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listing {
    pub entries: Vec<Entry>,
    /// Subfolders (relative to the iteration folder) that exist but cannot
    /// be listed (permissions): what was read from them before is kept.
    pub unreadable: Vec<PathBuf>,
    /// Why, per unreadable subfolder, for the warning.
    errors: Vec<String>,
}

impl Listing {
    /// The warning for subfolders that cannot be listed, if any.
    pub fn problem(&self) -> Option<String> {
        (!self.errors.is_empty()).then(|| self.errors.join("; "))
    }
}

/// Lists the files of an iteration folder: its own files plus the files of
/// its direct (non-hidden, non-symlink) subfolders, e.g. `shard-1/junit.xml`.
/// Only files whose role is not [`FileRole::Other`] are returned, except that
/// report-looking symlinks and special files are returned so the caller can
/// warn about them. Nested folders are shards whatever their name. A
/// subfolder that vanished meanwhile is skipped; one that cannot be read is
/// named in [`Listing::unreadable`].
pub(crate) fn list_iteration(dir: &Path) -> io::Result<Listing> {
    let mut out = Listing::default();
    list_into(dir, Path::new(""), 1, &mut out)?;
    out.entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

fn list_into(dir: &Path, prefix: &Path, depth_left: u32, out: &mut Listing) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        if out.entries.len() >= MAX_ENTRIES {
            break;
        }
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let lossy = name.to_string_lossy().into_owned();
        let Ok(ft) = entry.file_type() else { continue };
        let rel = prefix.join(&name);
        if ft.is_dir() {
            if depth_left > 0 && !is_ignored_name(&lossy) {
                match list_into(&entry.path(), &rel, depth_left - 1, out) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        // A folder name is untrusted text.
                        let shown = crate::sanitize::line(&rel.to_string_lossy());
                        out.errors.push(format!(
                            "cannot list {shown}: {e}; its reports are shown as last read"
                        ));
                        out.unreadable.push(rel);
                    }
                    _ => {}
                }
            }
            continue;
        }
        let role = role(&lossy);
        if role == FileRole::Other {
            continue;
        }
        let (symlink, special) = if ft.is_symlink() {
            (true, None)
        } else if ft.is_file() {
            (false, None)
        } else {
            (false, Some(super::safe::kind_name(ft)))
        };
        out.entries.push(Entry {
            rel,
            role,
            symlink,
            special,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_and_numbers() {
        assert_eq!(digit_runs("iter-001"), vec![1]);
        assert_eq!(digit_runs("2"), vec![2]);
        assert_eq!(digit_runs("2026-11-24_run3"), vec![2026, 11, 24, 3]);
        assert_eq!(digit_runs("logs"), Vec::<u64>::new());
        assert_eq!(iteration_number("run-3"), Some(3));
        assert_eq!(iteration_number("x"), None);
        assert_eq!(digit_runs("99999999999999999999999"), vec![u64::MAX]);
    }

    #[test]
    fn roles() {
        assert_eq!(role("junit.xml"), FileRole::Report);
        assert_eq!(role("report-log.JSONL"), FileRole::Report);
        assert_eq!(role("iteration.json"), FileRole::Meta);
        assert_eq!(role("deploy.json"), FileRole::Deploy);
        assert_eq!(role("runs.jsonl"), FileRole::Other);
        assert_eq!(role("test.log"), FileRole::Other);
        assert_eq!(role(".junit.xml.tmp"), FileRole::Other);
        assert_eq!(role("junit.xml~"), FileRole::Other);
    }
}
