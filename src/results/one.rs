//! Reading one iteration of a results directory without the others: for
//! starting a run (`driver`), which needs the latest iteration's failing
//! tests and deployed revision, not the whole history.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use super::iteration::IterState;
use super::layout::{self, Layout};
use super::tail::{Ctx, MetaFile};
use super::{IterationData, Store, safe};
use crate::model::Deployment;

impl Store {
    /// Reads one iteration of the results directory `root`: `dir` is one of
    /// its numbered folders. The reports are read and merged exactly as
    /// [`Store::refresh`] does, and no other iteration is looked at. `None`
    /// when `dir` is not a numbered folder of `root` (a root without any,
    /// the single layout, included).
    pub fn read_iteration(root: &Path, dir: &Path) -> io::Result<Option<IterationData>> {
        let store = Store::open(root)?;
        let listing = layout::list_root(&store.root)?;
        // The driver always runs in a loop layout (it makes `iter-001`).
        if listing.layout != Layout::Loop {
            return Ok(None);
        }
        let Some(d) = listing
            .iterations
            .into_iter()
            .find(|d| is_child(&store.root, dir, &d.name))
        else {
            return Ok(None);
        };
        let mut it = IterState::new(d.name, d.key, d.number);
        let mut bytes_read = 0;
        let mut ctx = Ctx {
            formats: &*store.formats,
            max_document_bytes: store.max_document_bytes,
            bytes_read: &mut bytes_read,
        };
        let now = SystemTime::now();
        it.refresh(&store.root, &mut ctx, &HashSet::new(), now, store.settle);
        Ok(Some(it.build_owned(
            &store.root,
            &*store.formats,
            now,
            store.settle,
        )))
    }

    /// The `deploy.json` of one iteration folder of `root`, read the way
    /// the store reads it (only a regular file inside `root`, size-capped,
    /// leniently parsed), without reading anything else. `None` when the
    /// folder has none or it cannot be read. Untrusted text: sanitize what
    /// is shown.
    pub fn read_deploy(root: &Path, dir: &Path) -> Option<Deployment> {
        let root = std::fs::canonicalize(root).ok()?;
        let rel = std::fs::canonicalize(dir).ok()?;
        let rel = rel.strip_prefix(&root).ok()?.join("deploy.json");
        let mut file = MetaFile::<Deployment>::default();
        let mut bytes_read = 0;
        file.update(&mut bytes_read, safe::open_inside(&root, &rel), true);
        file.value
    }
}

/// Whether `dir` is the folder `name` directly under `root` (canonical).
fn is_child(root: &Path, dir: &Path, name: &OsString) -> bool {
    dir.file_name() == Some(name.as_os_str())
        && dir
            .parent()
            .and_then(|p| std::fs::canonicalize(p).ok())
            .is_some_and(|p| p == root)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JUNIT: &str = r#"<testsuite name="s" tests="2"><testcase classname="t.a" name="ok"/><testcase classname="t.a" name="bad"><failure message="boom">boom</failure></testcase></testsuite>"#;

    #[test]
    fn one_iteration_is_read_as_the_store_reads_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for (dir, deploy) in [("iter-1", "r-1"), ("iter-2", "r-2")] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            std::fs::write(root.join(dir).join("junit.xml"), JUNIT).unwrap();
            std::fs::write(
                root.join(dir).join("deploy.json"),
                format!(r#"{{"revision":"{deploy}","state":"live"}}"#),
            )
            .unwrap();
        }
        // A broken report elsewhere is not even opened.
        std::fs::write(root.join("iter-1/broken.xml"), "<testsuite").unwrap();
        let one = Store::read_iteration(root, &root.join("iter-2"))
            .unwrap()
            .unwrap();
        let (_, all) = Store::read_all(root).unwrap();
        assert_eq!(one, all[1]);
        assert_eq!(one.tests.len(), 2);
        assert!(
            Store::read_iteration(root, &root.join("nope"))
                .unwrap()
                .is_none()
        );
        let d = Store::read_deploy(root, &root.join("iter-1")).unwrap();
        assert_eq!(d.revision.as_deref(), Some("r-1"));
        std::fs::write(root.join("iter-1/deploy.json"), "{not json").unwrap();
        assert!(Store::read_deploy(root, &root.join("iter-1")).is_none());
        assert!(Store::read_deploy(root, &root.join("nope")).is_none());
    }

    #[test]
    fn a_symlinked_deploy_json_leading_out_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("d.json"), r#"{"revision":"evil"}"#).unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("iter-1")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("d.json"),
            root.join("iter-1/deploy.json"),
        )
        .unwrap();
        assert!(Store::read_deploy(root, &root.join("iter-1")).is_none());
    }
}
