//! The results reader: the file watcher and the thread that reads what it
//! names, turning file changes into [`Msg`]s for the UI task.
//!
//! The thread sleeps until the watcher has something (see [`crate::watch`]:
//! the first change after a quiet spell wakes it at once, changes made while
//! it reads are taken together as the next batch), reads what the batch
//! names through the [`Store`], and sends the iterations that changed. It
//! never sleeps on a timer except when the store has a half-written file
//! whose settle time will run out ([`Store::recheck_in`]). What the watcher
//! says about itself (out of inotify watches, polling instead) becomes a
//! [`Msg::DirWarning`].
//!
//! What it sends costs what changed ([`Store::refresh_live`]): an iteration
//! whose streaming report grew comes as a [`Msg::Patch`] of the tests that
//! changed, not as the whole iteration again. A long history opens at once
//! ([`Store::set_newest_first`]): the newest iteration is read and sent
//! first, older ones are read in batches of [`OLDER_BATCH`] whenever no
//! change is waiting, and the store keeps only the newest one's parsed
//! reports (the app keeps the others as summaries and asks for the one it
//! shows, see [`crate::app::Effect::Load`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedSender;

use crate::app::Msg;
use crate::follow::{Follow, is_command_log};
use crate::results::Store;
use crate::watch::{self, Backend, Events, Recv, WatchHandle};
use std::time::Duration;

/// Keeps the reader running; dropping it stops the watcher, which ends
/// the reader thread.
pub struct Reader {
    slot: Arc<Mutex<Slot>>,
}

#[derive(Default)]
struct Slot {
    watcher: Option<WatchHandle>,
    dropped: bool,
}

impl Drop for Reader {
    fn drop(&mut self) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.dropped = true;
        slot.watcher = None;
    }
}

/// Starts the thread that watches `root` (polling if `poll`) and reads
/// `store` on each change, sending messages on `tx`. Setting up the watch
/// (one inotify watch per folder) happens on that thread, before its first
/// read, so the UI draws meanwhile and no change made during the first read
/// is missed.
pub fn start(
    root: &Path,
    store: Store,
    poll: bool,
    tx: UnboundedSender<Msg>,
) -> std::io::Result<Reader> {
    let slot = Arc::new(Mutex::new(Slot::default()));
    let reader = Reader { slot: slot.clone() };
    let shown_root = root.to_path_buf();
    std::thread::Builder::new()
        .name("results-reader".into())
        .spawn(move || {
            let Some(events) = watch_for_reader(&shown_root, &store, poll, &tx, &slot) else {
                return;
            };
            reader_loop(store, events, tx);
        })?;
    Ok(reader)
}

/// Sets up the watcher (falling back to polling, with a warning, if the
/// native one cannot start) and leaves its handle in `slot`. None when the
/// reader was dropped meanwhile or nothing can watch.
fn watch_for_reader(
    root: &Path,
    store: &Store,
    poll: bool,
    tx: &UnboundedSender<Msg>,
    slot: &Mutex<Slot>,
) -> Option<Events> {
    let poll_backend = Backend::Poll(watch::DEFAULT_POLL_INTERVAL);
    let backend = if poll { poll_backend } else { Backend::Native };
    // Watch the canonical root: the store knows that spelling in every event.
    let watched = store.root();
    let (handle, events) = match watch::spawn_with(watched, backend) {
        Ok(w) => w,
        Err(e) => {
            // E.g. no inotify instance left: polling still works.
            let _ = tx.send(Msg::DirWarning(crate::sanitize::line(&format!(
                "cannot watch {} for changes ({e}); polling every second instead",
                root.display()
            ))));
            watch::spawn_with(watched, poll_backend).ok()?
        }
    };
    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
    if slot.dropped {
        return None;
    }
    slot.watcher = Some(handle);
    Some(events)
}

/// Blocking file I/O runs on its own thread: it reads what the watcher names
/// and sends the iterations that changed. A half-written file gets no further
/// event when it stays broken, so the store says when to look again.
fn reader_loop(mut store: Store, mut events: Events, tx: UnboundedSender<Msg>) {
    let mut root_error: Option<String> = None;
    let mut follow = Follow::new(store.root());
    // A long history opens at once: the newest iteration first, the rest
    // read in small batches while nothing else happens (see below).
    store.set_newest_first(true);
    let mut changes = store.refresh_live(None);
    if store.bytes_read() >= TRIM_AFTER_BYTES {
        crate::oneshot::give_back_freed_memory();
    }
    let mut looked_at: Option<Vec<PathBuf>> = None;
    loop {
        let heads = changes.patched.iter().map(|p| &p.data);
        for msg in follow.look(changes.updated.iter().chain(heads), looked_at.as_deref()) {
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
        if !changes.patched.is_empty() && tx.send(Msg::Patch(changes.patched)).is_err() {
            return;
        }
        // Older iterations still unread fill in between changes: a batch
        // whenever no change is waiting.
        let wait = if store.unread() > 0 {
            Some(Duration::ZERO)
        } else {
            store.recheck_in()
        };
        let ev = match events.recv_timeout(wait) {
            Recv::Event(ev) => ev,
            Recv::Timeout if store.unread() > 0 => {
                changes = store.read_older(OLDER_BATCH);
                looked_at = Some(Vec::new());
                continue;
            }
            Recv::Timeout => Default::default(),
            Recv::Closed => return,
        };
        for w in ev.warnings {
            if tx.send(Msg::DirWarning(w)).is_err() {
                return;
            }
        }
        // Command logs (handed out at most once a frame by the watcher)
        // are no business of the store: a batch of only those is for the
        // log tails.
        if !ev.rescan && !ev.paths.is_empty() && ev.paths.iter().all(|p| is_command_log(p)) {
            changes = store.unchanged();
            looked_at = Some(ev.paths);
            continue;
        }
        let read_before = store.bytes_read();
        changes = if ev.rescan {
            store.refresh_live(None)
        } else {
            store.refresh_live(Some(&ev.paths))
        };
        looked_at = (!ev.rescan).then_some(ev.paths);
        if store.bytes_read() - read_before >= TRIM_AFTER_BYTES {
            crate::oneshot::give_back_freed_memory();
        }
    }
}

/// After reading this much at once, the freed parse memory is given back
/// to the system (see [`crate::oneshot::give_back_freed_memory`]).
const TRIM_AFTER_BYTES: u64 = 64 << 20;

/// Older iterations read per batch while filling in a long history: small
/// enough that a change waits at most a few milliseconds behind one.
const OLDER_BATCH: usize = 8;
