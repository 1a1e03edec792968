//! Filesystem changes under the results root -> debounced [`WatchEvent`]s.
//!
//! Uses notify-debouncer-full: it coalesces bursts (a runner appending a
//! line per test) and passes through the kernel's queue-overflow signal as
//! `rescan: true`, on which the store must re-read everything. The watch is
//! recursive, so iteration folders created after start are watched too.
//! Symlinks are not followed. With [`Backend::Poll`] (network filesystems,
//! where inotify sees nothing) the tree is polled at the given interval.
//!
//! Events caused by merely opening or reading a file (loopdeck's own reads)
//! are dropped; otherwise every refresh would trigger the next one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{
    DebounceEventResult, DebouncedEvent, Debouncer, NoCache, new_debouncer_opt,
};
use tokio::sync::mpsc::UnboundedSender;

/// Debounce window: well under the 50 ms write-to-frame budget, long enough
/// to coalesce a burst of writes into one refresh.
pub const DEBOUNCE: Duration = Duration::from_millis(20);
/// Default interval of the polling fallback (DESIGN: no polling faster than 1 Hz).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Something changed under the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchEvent {
    /// Paths that changed (absolute, as the watcher spells them: under the
    /// root as given to [`spawn`]). Deduplicated, in first-seen order.
    pub paths: Vec<PathBuf>,
    /// Events were lost (kernel queue overflow, watcher error): re-read
    /// everything, e.g. `Store::refresh(None)`.
    pub rescan: bool,
}

/// How to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// inotify / FSEvents / ReadDirectoryChanges.
    Native,
    /// Stat the tree at this interval (network filesystems).
    Poll(Duration),
}

/// Keeps the watcher running; dropping it stops watching (without waiting).
pub struct WatchHandle {
    inner: Inner,
}

impl WatchHandle {
    /// Stops watching and waits for the debouncer thread to finish (at most
    /// one debounce tick); no event is sent after this returns.
    pub fn stop(self) {
        match self.inner {
            Inner::Native(d) => d.stop(),
            Inner::Poll(d) => d.stop(),
        }
    }
}

enum Inner {
    Native(Debouncer<RecommendedWatcher, NoCache>),
    Poll(Debouncer<PollWatcher, NoCache>),
}

impl std::fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.inner {
            Inner::Native(_) => "native",
            Inner::Poll(_) => "poll",
        };
        f.debug_struct("WatchHandle")
            .field("backend", &kind)
            .finish()
    }
}

/// Watches `root` recursively with the native backend.
pub fn spawn(root: &Path, tx: UnboundedSender<WatchEvent>) -> notify::Result<WatchHandle> {
    spawn_with(root, tx, Backend::Native)
}

/// Watches `root` recursively with the chosen backend.
pub fn spawn_with(
    root: &Path,
    tx: UnboundedSender<WatchEvent>,
    backend: Backend,
) -> notify::Result<WatchHandle> {
    let handler = move |result: DebounceEventResult| {
        if let Some(event) = to_watch_event(result) {
            // The receiver gone means the app is shutting down.
            let _ = tx.send(event);
        }
    };
    // NoCache: the file-id cache only helps rename matching on platforms
    // without rename cookies, and its directory walk follows symlinks.
    let config = notify::Config::default().with_follow_symlinks(false);
    let inner = match backend {
        Backend::Native => {
            let mut d = new_debouncer_opt::<_, RecommendedWatcher, NoCache>(
                DEBOUNCE, None, handler, NoCache, config,
            )?;
            d.watch(root, RecursiveMode::Recursive)?;
            Inner::Native(d)
        }
        Backend::Poll(interval) => {
            let mut d = new_debouncer_opt::<_, PollWatcher, NoCache>(
                DEBOUNCE,
                None,
                handler,
                NoCache,
                config.with_poll_interval(interval),
            )?;
            d.watch(root, RecursiveMode::Recursive)?;
            Inner::Poll(d)
        }
    };
    Ok(WatchHandle { inner })
}

/// Whether an event can mean the content of the tree changed. Opening and
/// reading do not (and loopdeck's own reads produce them).
fn is_relevant(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

fn to_watch_event(result: DebounceEventResult) -> Option<WatchEvent> {
    let mut out = WatchEvent::default();
    match result {
        Ok(events) => {
            for DebouncedEvent { event, .. } in events {
                if event.need_rescan() {
                    out.rescan = true;
                    continue;
                }
                if !is_relevant(&event.kind) {
                    continue;
                }
                for p in event.paths {
                    if !out.paths.contains(&p) {
                        out.paths.push(p);
                    }
                }
            }
        }
        Err(errors) => {
            for e in &errors {
                tracing::warn!("file watcher: {e}");
            }
            // Something was missed; the safe answer is to read it all again.
            out.rescan = true;
        }
    }
    (out.rescan || !out.paths.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::Event;
    use notify::event::{CreateKind, Flag};
    use std::time::Instant;

    fn ev(kind: EventKind, path: &str) -> DebouncedEvent {
        DebouncedEvent::new(
            Event::new(kind).add_path(PathBuf::from(path)),
            Instant::now(),
        )
    }

    #[test]
    fn reads_are_dropped_writes_kept() {
        let out = to_watch_event(Ok(vec![
            ev(
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                "/r/a.xml",
            ),
            ev(
                EventKind::Access(AccessKind::Close(AccessMode::Read)),
                "/r/a.xml",
            ),
        ]));
        assert_eq!(out, None);
        let out = to_watch_event(Ok(vec![
            ev(EventKind::Create(CreateKind::File), "/r/b.xml"),
            ev(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                "/r/b.xml",
            ),
        ]))
        .unwrap();
        assert_eq!(out.paths, vec![PathBuf::from("/r/b.xml")]);
        assert!(!out.rescan);
    }

    #[test]
    fn rescan_and_errors_pass_through() {
        let rescan = DebouncedEvent::new(
            Event::new(EventKind::Other).set_flag(Flag::Rescan),
            Instant::now(),
        );
        let out = to_watch_event(Ok(vec![rescan])).unwrap();
        assert!(out.rescan);
        let out = to_watch_event(Err(vec![notify::Error::generic("boom")])).unwrap();
        assert!(out.rescan);
        assert!(out.paths.is_empty());
    }
}
