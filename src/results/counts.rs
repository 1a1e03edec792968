//! How many tests each iteration has, remembered across `loopdeck status`
//! runs, so that its default goal (the most tests any iteration has seen)
//! does not cost a read of the whole history every time.
//!
//! An entry is keyed by the iteration folder's name and trusted only while
//! its report files are exactly the ones it was made from: same names,
//! device, inode, size, modification and status-change times (to the
//! nanosecond). Anything
//! else is a miss and the iteration is read again. The file lives in the
//! user's cache directory (`$XDG_CACHE_HOME/loopdeck`, else
//! `~/.cache/loopdeck`), one per results directory, never in the results
//! directory itself (which may be read-only or shared); if it cannot be
//! read or written, every iteration is simply read.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::safe::Stat;

const VERSION: u32 = 2;

/// One report file as the entry saw it: name inside the iteration folder,
/// device, inode, size, modification and status-change times in
/// nanoseconds.
type FileId = (String, u64, u64, u64, i128, i128);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    files: Vec<FileId>,
    tests: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    iterations: HashMap<String, Entry>,
}

/// The remembered counts of one results directory.
#[derive(Debug, Default)]
pub struct Counts {
    path: Option<PathBuf>,
    entries: HashMap<String, Entry>,
    changed: bool,
}

fn ids(files: &[(PathBuf, Option<Stat>)]) -> Option<Vec<FileId>> {
    files
        .iter()
        .map(|(rel, stat)| {
            let s = (*stat)?;
            Some((
                rel.to_string_lossy().into_owned(),
                s.dev,
                s.ino,
                s.len,
                s.mtime_ns,
                s.ctime_ns,
            ))
        })
        .collect()
}

impl Counts {
    /// The counts remembered for the results directory `root` (canonical).
    pub fn open(root: &Path) -> Counts {
        let path = cache_dir().map(|d| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            root.hash(&mut h);
            d.join(format!("counts-{:016x}.json", h.finish()))
        });
        let entries = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<OnDisk>(&b).ok())
            .filter(|d| d.version == VERSION)
            .map(|d| d.iterations)
            .unwrap_or_default();
        Counts {
            path,
            entries,
            changed: false,
        }
    }

    /// Counts kept in memory only (tests).
    pub fn in_memory() -> Counts {
        Counts::default()
    }

    /// The count for `key` if its files are still the ones it was made from.
    pub(crate) fn get(&self, key: &str, files: &[(PathBuf, Option<Stat>)]) -> Option<usize> {
        let e = self.entries.get(key)?;
        (Some(&e.files) == ids(files).as_ref()).then_some(e.tests)
    }

    pub(crate) fn put(&mut self, key: &str, files: Vec<(PathBuf, Option<Stat>)>, tests: usize) {
        if let Some(files) = ids(&files) {
            self.entries.insert(key.to_string(), Entry { files, tests });
            self.changed = true;
        }
    }

    /// Writes the counts back (atomically; errors are ignored: the cache
    /// only saves time), keeping only the iterations in `keep`.
    pub fn save(&mut self, keep: &[&str]) {
        let before = self.entries.len();
        self.entries.retain(|k, _| keep.contains(&k.as_str()));
        if !self.changed && before == self.entries.len() {
            return;
        }
        let Some(path) = &self.path else { return };
        let disk = OnDisk {
            version: VERSION,
            iterations: std::mem::take(&mut self.entries),
        };
        if let (Some(dir), Ok(bytes)) = (path.parent(), serde_json::to_vec(&disk)) {
            let _ = std::fs::create_dir_all(dir);
            let _ = crate::headless::write_atomic(path, &bytes);
        }
        self.entries = disk.iterations;
        self.changed = false;
    }
}

fn cache_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("loopdeck"))
}
