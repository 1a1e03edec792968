//! What the results directory says about runs in progress, for the UI: the
//! latest iteration's command logs (tailed) and who runs what (runs.jsonl and
//! the lock). Read back from the directory, so a run started anywhere — this
//! loopdeck, another one over SSH, `loopdeck test` in a script — shows the
//! same way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::app::Msg;
use crate::lock::{self, LockInfo};
use crate::logtail::LogTail;
use crate::model::{RunKind, RunRecord};
use crate::results::IterationData;
use crate::runner;

const LOGS: [(&str, RunKind); 2] = [("deploy.log", RunKind::Deploy), ("test.log", RunKind::Test)];

/// The tail of the newest command log in an iteration folder `dir` (the
/// last [`crate::logtail::MAX_READ`] bytes at most, sanitized lines), and
/// which log it is; `(None, [])` when the folder has none. For a past
/// iteration's own output pane.
pub fn newest_log_tail(dir: &Path) -> (Option<RunKind>, Vec<String>) {
    let newest = LOGS
        .iter()
        .filter_map(|(name, kind)| {
            let path = dir.join(name);
            let meta = std::fs::symlink_metadata(&path)
                .ok()
                .filter(|m| m.is_file())?;
            Some((meta.modified().ok()?, path, *kind))
        })
        .max_by_key(|(modified, _, _)| *modified);
    match newest {
        Some((_, path, kind)) => {
            let lines = LogTail::new(&path).read_new().unwrap_or_default();
            (Some(kind), lines)
        }
        None => (None, Vec::new()),
    }
}

/// Whether `path` is a command's log (`test.log`, `deploy.log`): what a
/// command printing fast writes to thousands of times a second.
pub fn is_command_log(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| LOGS.iter().any(|(name, _)| n == *name))
}

#[derive(Debug)]
pub struct Follow {
    root: PathBuf,
    latest: Option<(u64, PathBuf)>,
    tails: HashMap<PathBuf, LogTail>,
    shown: Option<(Option<RunRecord>, Option<LockInfo>)>,
}

impl Follow {
    pub fn new(root: &Path) -> Follow {
        Follow {
            root: root.to_path_buf(),
            latest: None,
            tails: HashMap::new(),
            shown: None,
        }
    }

    /// Messages for what changed. `paths` are the files the watcher named;
    /// `None` means look at everything (start, rescan).
    pub fn look<'a>(
        &mut self,
        updated: impl IntoIterator<Item = &'a IterationData>,
        paths: Option<&[PathBuf]>,
    ) -> Vec<Msg> {
        let mut moved = false;
        for it in updated {
            if self.latest.as_ref().is_none_or(|(n, _)| it.number >= *n) {
                moved |= self.latest.as_ref().is_none_or(|(_, p)| *p != it.path);
                self.latest = Some((it.number, it.path.clone()));
            }
        }
        let Some((_, dir)) = self.latest.clone() else {
            return Vec::new();
        };
        if moved {
            self.tails.clear();
        }
        let all = paths.is_none() || moved;
        // The folder itself stands for everything in it: the watcher folds
        // a storm of paths into their iteration folders.
        let touched = |name: &str| {
            all || paths.is_some_and(|ps| {
                ps.iter().any(|p| {
                    *p == dir
                        || (p.parent() == Some(&dir) && p.file_name().is_some_and(|f| f == name))
                })
            })
        };
        let mut msgs = Vec::new();
        for (name, kind) in LOGS {
            if !touched(name) {
                continue;
            }
            let path = dir.join(name);
            if !path.exists() {
                continue;
            }
            let tail = self
                .tails
                .entry(path.clone())
                .or_insert_with(|| LogTail::new(&path));
            match tail.read_new() {
                Ok(lines) if !lines.is_empty() => msgs.push(Msg::LogLines { kind, lines }),
                Ok(_) => {}
                Err(e) => tracing::debug!("{}: {e}", path.display()),
            }
        }
        let lock_touched = paths.is_none_or(|ps| {
            ps.iter()
                .any(|p| p.file_name().is_some_and(|f| f == lock::LOCK_FILE))
        });
        if all || lock_touched || touched("runs.jsonl") {
            let lock = lock::holder(&self.root);
            let running = lock.as_ref().and_then(|l| {
                runner::read_runs(&dir.join("runs.jsonl"))
                    .into_iter()
                    .rev()
                    .find(|r| r.is_running() && r.host == l.host)
            });
            let now = (running, lock);
            if self.shown.as_ref() != Some(&now) {
                self.shown = Some(now.clone());
                msgs.push(Msg::Activity {
                    running: now.0,
                    lock: now.1,
                });
            }
        }
        msgs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_lines(msgs: &[Msg]) -> Vec<String> {
        msgs.iter()
            .filter_map(|m| match m {
                Msg::LogLines { lines, .. } => Some(lines.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn a_folded_path_naming_the_iteration_folder_reads_its_logs() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("iter-001");
        std::fs::create_dir(&dir).unwrap();
        let log = dir.join("test.log");
        std::fs::write(&log, "first\n").unwrap();
        let mut follow = Follow::new(root.path());
        let it = IterationData {
            number: 1,
            path: dir.clone(),
            ..IterationData::default()
        };
        assert_eq!(log_lines(&follow.look(&[it], None)), ["first"]);
        std::fs::write(&log, "first\nsecond\n").unwrap();
        // Another file named: the log is not looked at.
        let other = [dir.join("junit.xml")];
        assert!(log_lines(&follow.look(&[], Some(&other))).is_empty());
        // The folder itself (a folded storm): it is.
        assert_eq!(
            log_lines(&follow.look(&[], Some(std::slice::from_ref(&dir)))),
            ["second"]
        );
    }
}
