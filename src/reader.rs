//! The results reader: the file watcher and the thread that reads what it
//! names, turning file changes into [`Msg`]s for the UI task.

use std::path::{Path, PathBuf};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::app::Msg;
use crate::follow::Follow;
use crate::results::Store;
use crate::watch::{self, Backend, WatchEvent, WatchHandle};

/// Starts watching `root` (polling if `poll`) and the thread that reads
/// `store` on each change, sending messages on `tx`. Must be called inside a
/// tokio runtime. The returned watcher must be kept: dropping it ends the
/// reader thread.
pub fn start(
    root: &Path,
    store: Store,
    poll: bool,
    tx: UnboundedSender<Msg>,
) -> std::io::Result<Option<WatchHandle>> {
    let (wtx, wrx) = unbounded_channel::<WatchEvent>();
    let poll_backend = Backend::Poll(watch::DEFAULT_POLL_INTERVAL);
    let backend = if poll { poll_backend } else { Backend::Native };
    let watcher = match watch::spawn_with(root, wtx.clone(), backend) {
        Ok(w) => Some(w),
        Err(e) => {
            // E.g. the inotify watch limit ran out: polling still works.
            let _ = tx.send(Msg::DirWarning(crate::sanitize::line(&format!(
                "cannot watch {} for changes ({e}); polling every second instead",
                root.display()
            ))));
            watch::spawn_with(root, wtx.clone(), poll_backend).ok()
        }
    };
    drop(wtx);
    let rt = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("results-reader".into())
        .spawn(move || reader_loop(store, wrx, tx, rt))?;
    Ok(watcher)
}

/// Blocking file I/O runs on its own thread: it reads what the watcher names
/// and sends the iterations that changed. A half-written file gets no further
/// event when it stays broken, so the store says when to look again.
fn reader_loop(
    mut store: Store,
    mut events: UnboundedReceiver<WatchEvent>,
    tx: UnboundedSender<Msg>,
    rt: tokio::runtime::Handle,
) {
    let mut root_error: Option<String> = None;
    let mut follow = Follow::new(store.root());
    let mut changes = store.refresh(None);
    let mut looked_at: Option<Vec<PathBuf>> = None;
    loop {
        for msg in follow.look(&changes.updated, looked_at.as_deref()) {
            if tx.send(msg).is_err() {
                return;
            }
        }
        if changes.root_error != root_error {
            root_error = changes.root_error.clone();
            if tx.send(Msg::RootError(root_error.clone())).is_err() {
                return;
            }
        }
        if !(changes.updated.is_empty() && changes.removed.is_empty())
            && tx
                .send(Msg::Data {
                    changed: changes.updated,
                    removed: changes.removed,
                })
                .is_err()
        {
            return;
        }
        let recheck = store.recheck_in();
        let next = rt.block_on(async {
            match recheck {
                Some(d) => tokio::time::timeout(d, events.recv())
                    .await
                    .unwrap_or_else(|_| {
                        Some(WatchEvent {
                            paths: Vec::new(),
                            rescan: false,
                        })
                    }),
                None => events.recv().await,
            }
        });
        let Some(ev) = next else { return };
        // Coalesce a burst of events into one read.
        let mut rescan = ev.rescan;
        let mut paths = ev.paths;
        while let Ok(more) = events.try_recv() {
            rescan |= more.rescan;
            paths.extend(more.paths);
        }
        changes = if rescan {
            store.refresh(None)
        } else {
            store.refresh(Some(&paths))
        };
        looked_at = (!rescan).then_some(paths);
    }
}
