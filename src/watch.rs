//! Filesystem changes under the results root -> batched [`WatchEvent`]s.
//!
//! # Delivery: leading edge, then one batch per read
//!
//! The native backend is notify's raw [`RecommendedWatcher`] (inotify on
//! Linux): its thread blocks in the kernel until something happens, so an
//! idle loopdeck wakes nobody. Each relevant event is merged, on notify's
//! thread, into one shared pending batch (a set of paths plus a rescan flag)
//! and the consumer ([`Events::recv_timeout`], the results reader) is woken.
//! There is no debounce timer: the first event after a quiet spell reaches
//! the reader at once; events that arrive while the reader is busy reading
//! accumulate in the batch and are taken, all together, as soon as it asks
//! for the next one. A path that keeps changing (a report-log growing every
//! millisecond) is therefore re-read back to back, as fast as the reader
//! goes, and never postponed: the latency is at most one read.
//!
//! The batch is bounded: past [`MAX_PATHS`] distinct paths it is folded into
//! the top-level entries (iteration folders) they fall in, and if those are
//! still too many into one rescan. A kernel queue overflow is one rescan,
//! coalesced with everything else pending. So an event storm costs a fixed
//! amount of memory and one read of each folder per batch, not per event.
//!
//! Events caused by merely opening or reading a file (loopdeck's own reads)
//! are dropped on notify's thread (`is_relevant`); otherwise every refresh
//! would trigger the next one.
//!
//! # Recovering by itself
//!
//! * **The root deleted or swapped** (`rm -rf DIR; mkdir DIR`,
//!   `mv DIR DIR.old; mkdir DIR`): the root's own watch reports that it was
//!   deleted or moved away. If a directory of its name is there again, the
//!   watch is re-established on it at once (and a rescan delivered);
//!   otherwise its path is checked once every [`ROOT_CHECK_INTERVAL`] until
//!   it is. (Watching the parent instead would wake loopdeck for everything
//!   that happens next to the results directory, e.g. in `/tmp`.)
//! * **Out of inotify watches** (`fs.inotify.max_user_watches`), at start
//!   or later (a new iteration folder that cannot be watched): a warning is
//!   delivered ([`WatchEvent::warnings`]) and the *whole tree* is polled
//!   from then on, at [`DEFAULT_POLL_INTERVAL`], besides the native watches
//!   that do exist. Any other failure to set up the native watch at start
//!   (an unreadable subfolder, say) falls back the same way. (notify drops
//!   other failures to watch a folder created later, such as a permission
//!   error; the store still names such a folder when it cannot list it.)
//! * **A new folder**: files written into it before notify has added its
//!   watch would be missed, so every created folder is delivered once more
//!   [`SECOND_LOOK`] later.
//!
//! # Polling
//!
//! [`Backend::Poll`] (network filesystems, where inotify sees nothing) and
//! the fallback above use loopdeck's own poller: it walks the root, its
//! folders and their subfolders (the depth the results layout reads; symlinks
//! are not followed) and compares each entry's inode, size, mtime and ctime
//! to nanoseconds, so a same-size rewrite within one second is noticed.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// Default interval of the polling backend and fallback (no polling faster
/// than 1 Hz).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Distinct paths a pending batch holds before it is folded (see the module
/// documentation).
pub const MAX_PATHS: usize = 4096;
/// A created folder is delivered again this long after it appeared.
pub const SECOND_LOOK: Duration = Duration::from_millis(100);
/// While the root is gone, how often its path is checked for its return.
pub const ROOT_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Command logs are handed out at most this often: once a frame (the
/// screen cannot show them faster).
pub const LOG_PACE: Duration = Duration::from_millis(33);

/// Something changed under the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchEvent {
    /// Paths that changed (absolute, under the root as given to [`spawn`]).
    /// Deduplicated, in no particular order.
    pub paths: Vec<PathBuf>,
    /// Events were lost (kernel queue overflow, watcher error) or the root
    /// was re-created: re-read everything, e.g. `Store::refresh(None)`.
    pub rescan: bool,
    /// Watching degraded (and how loopdeck copes); for the warnings pane.
    pub warnings: Vec<String>,
}

/// How to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// inotify / FSEvents / ReadDirectoryChanges.
    Native,
    /// Stat the tree at this interval (network filesystems).
    Poll(Duration),
}

/// What [`Events::recv_timeout`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recv {
    Event(WatchEvent),
    /// Nothing happened within the timeout.
    Timeout,
    /// The [`WatchHandle`] was dropped: no event will come any more.
    Closed,
}

/// The pending batch, filled by the watcher threads.
#[derive(Default)]
struct Pending {
    paths: HashSet<PathBuf>,
    rescan: bool,
    warnings: Vec<String>,
    /// Folders created since the last take (for the second look).
    created: Vec<PathBuf>,
    /// The root was deleted or moved away: watch it again when it is back.
    root_gone: bool,
    /// A directory of the root's name is back: watch it again.
    reroot: bool,
    /// The native watcher could not watch something: poll the tree.
    poll_needed: Option<String>,
    closed: bool,
    /// Command logs (`test.log`, `deploy.log`) that changed: a command
    /// printing fast writes them thousands of times a second, so they are
    /// handed out at most once every [`LOG_PACE`] and never wake the
    /// consumer on their own before that.
    logs: HashSet<PathBuf>,
    /// When command logs were last handed out.
    logs_at: Option<Instant>,
}

impl Pending {
    /// When the pending command logs may be handed out (None: none pending).
    fn logs_due(&self) -> Option<Instant> {
        if self.logs.is_empty() {
            return None;
        }
        Some(self.logs_at.map_or_else(Instant::now, |t| t + LOG_PACE))
    }

    fn is_empty(&self) -> bool {
        self.paths.is_empty()
            && !self.rescan
            && self.warnings.is_empty()
            && !self.reroot
            && !self.root_gone
            && self.poll_needed.is_none()
    }
}

struct Queue {
    root: PathBuf,
    state: Mutex<Pending>,
    ready: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds paths to the pending batch (folding it when it grows past
    /// [`MAX_PATHS`]) and wakes the consumer.
    fn push(&self, paths: impl IntoIterator<Item = PathBuf>) {
        let mut p = self.lock();
        let (logs, paths): (Vec<PathBuf>, Vec<PathBuf>) = paths
            .into_iter()
            .partition(|x| crate::follow::is_command_log(x));
        // A log joining logs already pending changes nothing the consumer
        // waits for: no wake-up (one per write would cost a core).
        let wake = !paths.is_empty() || (p.logs.is_empty() && !logs.is_empty());
        p.logs.extend(logs);
        if !p.rescan && !paths.is_empty() {
            p.paths.extend(paths);
            if fold(&mut p.paths, &self.root) {
                p.rescan = true;
            }
        }
        drop(p);
        if wake {
            self.ready.notify_one();
        }
    }

    fn update(&self, f: impl FnOnce(&mut Pending)) {
        f(&mut self.lock());
        self.ready.notify_one();
    }
}

/// Keeps a set of paths within [`MAX_PATHS`]: past it, each path is replaced
/// by the entry directly under `root` it is in (its iteration folder).
/// Returns true when even that is too many: the set is then emptied and the
/// caller must rescan.
fn fold(paths: &mut HashSet<PathBuf>, root: &Path) -> bool {
    if paths.len() <= MAX_PATHS {
        return false;
    }
    let top_level = |path: PathBuf| match path.strip_prefix(root).map(|r| r.components().next()) {
        Ok(Some(Component::Normal(first))) => root.join(first),
        Ok(_) => path,
        Err(_) => root.to_path_buf(),
    };
    let folded: HashSet<PathBuf> = paths.drain().map(top_level).collect();
    if folded.len() > MAX_PATHS {
        return true;
    }
    *paths = folded;
    false
}

/// The watchers, shared by the handle (which owns them) and the receiver
/// (which repairs them between batches).
struct Watchers {
    root: PathBuf,
    native: Option<RecommendedWatcher>,
    poller: Option<Poller>,
    poll_interval: Duration,
    /// Checks, while the root is gone, for its return.
    root_check: Option<Poller>,
}

impl Watchers {
    fn start_polling(&mut self, queue: &Arc<Queue>) {
        if self.poller.is_none() {
            self.poller = Some(poll_tree(
                self.root.clone(),
                self.poll_interval,
                queue.clone(),
            ));
        }
    }

    fn stop(&mut self) {
        // Dropping notify's watcher asks its thread to stop.
        self.native = None;
        for p in [self.poller.take(), self.root_check.take()]
            .into_iter()
            .flatten()
        {
            p.stop();
        }
    }
}

/// Keeps the watcher running; dropping it stops watching (without waiting
/// for the polling thread).
pub struct WatchHandle {
    queue: Arc<Queue>,
    watchers: Arc<Mutex<Watchers>>,
}

impl WatchHandle {
    /// Stops watching and waits for the polling thread, if any, to finish;
    /// the receiver then returns [`Recv::Closed`].
    pub fn stop(self) {
        // The work is done by Drop.
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        lock(&self.watchers).stop();
        self.queue.update(|p| p.closed = true);
        self.queue.ready.notify_all();
    }
}

impl std::fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = lock(&self.watchers);
        f.debug_struct("WatchHandle")
            .field("root", &w.root)
            .field("native", &w.native.is_some())
            .field("polling", &w.poller.is_some())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The receiving end: takes pending batches.
pub struct Events {
    queue: Arc<Queue>,
    watchers: Weak<Mutex<Watchers>>,
    /// Created folders to deliver again, and when.
    again: Option<(Instant, HashSet<PathBuf>)>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("root", &self.queue.root)
            .finish_non_exhaustive()
    }
}

impl Events {
    /// Waits until something is pending (at most `timeout`, forever with
    /// `None`) and takes all of it as one event.
    pub fn recv_timeout(&mut self, timeout: Option<Duration>) -> Recv {
        let start = Instant::now();
        let caller_deadline = timeout.map(|t| start + t);
        let mut p = self.queue.lock();
        loop {
            if p.closed {
                return Recv::Closed;
            }
            let now = Instant::now();
            let again_due = self.again.as_ref().is_some_and(|(at, _)| *at <= now);
            let logs_due = p.logs_due().is_some_and(|at| at <= now);
            if !p.is_empty() || again_due || logs_due {
                break;
            }
            let deadline = [
                caller_deadline,
                self.again.as_ref().map(|a| a.0),
                p.logs_due(),
            ]
            .into_iter()
            .flatten()
            .min();
            match deadline {
                Some(d) if d <= now => return Recv::Timeout,
                Some(d) => {
                    p = self
                        .queue
                        .ready
                        .wait_timeout(p, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                None => p = self.queue.ready.wait(p).unwrap_or_else(|e| e.into_inner()),
            }
        }
        // Command logs ride along when their time has come.
        let logs = if p.logs_due().is_some_and(|at| at <= Instant::now()) {
            p.logs_at = Some(Instant::now());
            std::mem::take(&mut p.logs)
        } else {
            HashSet::new()
        };
        let (pending_logs, logs_at) = (std::mem::take(&mut p.logs), p.logs_at);
        let mut taken = std::mem::take(&mut *p);
        p.closed = taken.closed;
        p.logs = pending_logs;
        p.logs_at = logs_at;
        drop(p);
        taken.paths.extend(logs);
        let mut event = WatchEvent {
            paths: taken.paths.into_iter().collect(),
            rescan: taken.rescan,
            warnings: taken.warnings,
        };
        // A second look that is due rides along (a steady stream of other
        // events never postpones it). The root in it stands for "too many
        // folders": read everything.
        if self
            .again
            .as_ref()
            .is_some_and(|(at, _)| *at <= Instant::now())
        {
            let (_, paths) = self.again.take().expect("checked");
            event.rescan |= paths.contains(&self.queue.root);
            event.paths.extend(paths);
        }
        if event.rescan {
            event.paths.clear();
        }
        if !taken.created.is_empty() {
            let when = Instant::now() + SECOND_LOOK;
            let (at, again) = self.again.get_or_insert_with(|| (when, HashSet::new()));
            *at = when;
            again.extend(taken.created);
            if fold(again, &self.queue.root) {
                again.clear();
                again.insert(self.queue.root.clone());
            }
        }
        if taken.reroot || taken.root_gone || taken.poll_needed.is_some() {
            let reroot = taken.reroot || taken.root_gone;
            self.repair(reroot, taken.poll_needed, &mut event);
        }
        Recv::Event(event)
    }

    /// Re-establishes the native watch on a re-created root (or, while it
    /// is missing, starts checking for its return), and starts polling when
    /// something cannot be watched natively.
    fn repair(&mut self, reroot: bool, poll_needed: Option<String>, event: &mut WatchEvent) {
        let Some(watchers) = self.watchers.upgrade() else {
            return;
        };
        let mut w = lock(&watchers);
        let mut poll_needed = poll_needed;
        if reroot && w.native.is_some() {
            event.rescan = true;
            event.paths.clear();
            let root = w.root.clone();
            if let Some(c) = w.root_check.take() {
                c.stop();
            }
            let native = w.native.as_mut().expect("checked");
            // Drops the watches left on the old directory's folders.
            let _ = native.unwatch(&root);
            match native.watch(&root, RecursiveMode::Recursive) {
                Ok(()) => {}
                Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                    poll_needed.get_or_insert_with(|| limit_warning(&root));
                }
                Err(e) => {
                    // Not back (yet): look again once in a while.
                    tracing::info!("re-watching {}: {e}", root.display());
                    let queue = self.queue.clone();
                    w.root_check = Some(Poller::start(ROOT_CHECK_INTERVAL, move || {
                        if !root.is_dir() {
                            return true;
                        }
                        queue.update(|p| p.reroot = true);
                        false
                    }));
                }
            }
        }
        if let Some(warning) = poll_needed
            && w.poller.is_none()
        {
            w.start_polling(&self.queue);
            event.warnings.push(warning);
        }
    }
}

/// Watches `root` recursively with the native backend.
pub fn spawn(root: &Path) -> notify::Result<(WatchHandle, Events)> {
    spawn_with(root, Backend::Native)
}

/// Watches `root` recursively with the chosen backend. With
/// [`Backend::Native`] only a failure to start inotify at all is an error;
/// a watch that cannot be set up falls back to polling (and says so in the
/// first event).
pub fn spawn_with(root: &Path, backend: Backend) -> notify::Result<(WatchHandle, Events)> {
    let root = if root.is_absolute() {
        root.to_path_buf()
    } else {
        std::env::current_dir()?.join(root)
    };
    let queue = Arc::new(Queue {
        root: root.clone(),
        state: Mutex::new(Pending::default()),
        ready: Condvar::new(),
    });
    let mut watchers = Watchers {
        root: root.clone(),
        native: None,
        poller: None,
        poll_interval: DEFAULT_POLL_INTERVAL,
        root_check: None,
    };
    match backend {
        Backend::Poll(interval) => {
            watchers.poll_interval = interval;
            watchers.start_polling(&queue);
        }
        Backend::Native => {
            let handler_queue = queue.clone();
            let config = notify::Config::default().with_follow_symlinks(false);
            let mut native = RecommendedWatcher::new(
                move |res: notify::Result<notify::Event>| handle(&handler_queue, res),
                config,
            )?;
            if let Err(e) = native.watch(&root, RecursiveMode::Recursive) {
                let warning = if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
                    limit_warning(&root)
                } else {
                    crate::sanitize::line(&format!(
                        "cannot watch {} for changes ({e}); polling it every {} s instead",
                        root.display(),
                        DEFAULT_POLL_INTERVAL.as_secs()
                    ))
                };
                queue.update(|p| p.poll_needed = Some(warning));
            }
            watchers.native = Some(native);
        }
    }
    let watchers = Arc::new(Mutex::new(watchers));
    let events = Events {
        queue: queue.clone(),
        watchers: Arc::downgrade(&watchers),
        again: None,
    };
    Ok((WatchHandle { queue, watchers }, events))
}

fn limit_warning(path: &Path) -> String {
    crate::sanitize::line(&format!(
        "cannot watch {} for changes: the inotify watch limit is reached \
         (fs.inotify.max_user_watches); polling the results directory every {} s instead",
        path.display(),
        DEFAULT_POLL_INTERVAL.as_secs()
    ))
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

/// Runs on notify's thread for every event: merges it into the pending batch.
fn handle(queue: &Queue, res: notify::Result<notify::Event>) {
    let event = match res {
        Ok(e) => e,
        Err(e) => {
            if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
                let path = e.paths.first().unwrap_or(&queue.root).clone();
                queue.update(|p| {
                    p.poll_needed.get_or_insert_with(|| limit_warning(&path));
                    // What could not be watched may already hold files.
                    p.paths.insert(path);
                });
            } else {
                tracing::warn!("file watcher: {e}");
                // Something was missed; the safe answer is to read it all again.
                queue.update(|p| p.rescan = true);
            }
            return;
        }
    };
    if event.need_rescan() {
        queue.update(|p| p.rescan = true);
        return;
    }
    if !is_relevant(&event.kind) {
        return;
    }
    let root = &queue.root;
    let paths: Vec<PathBuf> = event
        .paths
        .into_iter()
        .filter(|p| p.starts_with(root))
        .collect();
    if paths.is_empty() {
        return;
    }
    let root_named = paths.iter().any(|p| p == root);
    let gone = root_named
        && matches!(
            event.kind,
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
        );
    let folder = match event.kind {
        EventKind::Create(kind) => kind == notify::event::CreateKind::Folder,
        EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => {
            paths.iter().any(|p| p != root && p.is_dir())
        }
        _ => false,
    };
    if gone || folder {
        queue.update(|p| {
            p.root_gone |= gone;
            if folder {
                p.created
                    .extend(paths.iter().filter(|x| *x != root).cloned());
            }
        });
    }
    queue.push(paths);
}

/// Identity and change signature of a directory entry, as the poller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sig {
    ino: u64,
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    dir: bool,
}

impl Sig {
    fn of(m: &std::fs::Metadata) -> Sig {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Sig {
            ino: m.ino(),
            len: m.len(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
            dir: m.is_dir(),
        }
    }
}

/// Folder levels below the root the poller walks: root/iteration/shard/file.
const POLL_DEPTH: usize = 3;

/// Everything under `root` down to [`POLL_DEPTH`], without following symlinks.
fn snapshot(root: &Path) -> HashMap<PathBuf, Sig> {
    let mut out = HashMap::new();
    if let Ok(m) = std::fs::symlink_metadata(root) {
        out.insert(root.to_path_buf(), Sig::of(&m));
    }
    let mut dirs = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(m) = entry.metadata() else { continue };
            let path = entry.path();
            if m.is_dir() && depth + 1 < POLL_DEPTH {
                dirs.push((path.clone(), depth + 1));
            }
            out.insert(path, Sig::of(&m));
        }
    }
    out
}

/// Polls the tree under `root` every `interval` and pushes what changed.
fn poll_tree(root: PathBuf, interval: Duration, queue: Arc<Queue>) -> Poller {
    // Taken before returning: a change made right after is a change.
    let mut seen = snapshot(&root);
    Poller::start(interval, move || {
        let now = snapshot(&root);
        let mut changed: Vec<PathBuf> = now
            .iter()
            .filter(|(p, s)| seen.get(*p) != Some(s))
            .map(|(p, _)| p.clone())
            .collect();
        changed.extend(seen.keys().filter(|p| !now.contains_key(*p)).cloned());
        seen = now;
        if !changed.is_empty() {
            queue.push(changed);
        }
        true
    })
}

/// A thread that runs `tick` every `interval` until it returns false or the
/// poller is stopped.
struct Poller {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    fn start(interval: Duration, mut tick: impl FnMut() -> bool + Send + 'static) -> Poller {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("results-poller".into())
            .spawn(move || {
                loop {
                    let (m, cv) = &*flag;
                    let guard = lock(m);
                    let (guard, _) = cv
                        .wait_timeout_while(guard, interval, |stopped| !*stopped)
                        .unwrap_or_else(|e| e.into_inner());
                    if *guard {
                        return;
                    }
                    drop(guard);
                    if !tick() {
                        return;
                    }
                }
            })
            .ok();
        Poller { stop, thread }
    }

    fn stop(mut self) {
        let (m, cv) = &*self.stop;
        *lock(m) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::Event;
    use notify::event::{CreateKind, Flag};

    fn queue(root: &str) -> Queue {
        Queue {
            root: PathBuf::from(root),
            state: Mutex::new(Pending::default()),
            ready: Condvar::new(),
        }
    }

    fn ev(kind: EventKind, path: &str) -> notify::Result<Event> {
        Ok(Event::new(kind).add_path(PathBuf::from(path)))
    }

    #[test]
    fn reads_are_dropped_writes_kept() {
        let q = queue("/r");
        handle(
            &q,
            ev(
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                "/r/a.xml",
            ),
        );
        handle(
            &q,
            ev(
                EventKind::Access(AccessKind::Close(AccessMode::Read)),
                "/r/a.xml",
            ),
        );
        assert!(q.lock().is_empty());
        handle(&q, ev(EventKind::Create(CreateKind::File), "/r/b.xml"));
        handle(
            &q,
            ev(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                "/r/b.xml",
            ),
        );
        let p = q.lock();
        assert_eq!(p.paths, HashSet::from([PathBuf::from("/r/b.xml")]));
        assert!(!p.rescan);
    }

    #[test]
    fn the_root_deleted_or_moved_away_is_noticed() {
        let q = queue("/p/r");
        handle(&q, ev(EventKind::Create(CreateKind::Folder), "/p/rx"));
        assert!(q.lock().is_empty(), "outside the root");
        handle(
            &q,
            ev(
                EventKind::Modify(ModifyKind::Metadata(notify::event::MetadataKind::Any)),
                "/p/r",
            ),
        );
        assert!(!q.lock().root_gone, "a chmod of the root is not its loss");
        handle(
            &q,
            ev(EventKind::Remove(notify::event::RemoveKind::Folder), "/p/r"),
        );
        assert!(q.lock().root_gone);
        let q = queue("/p/r");
        handle(
            &q,
            ev(
                EventKind::Modify(ModifyKind::Name(RenameMode::From)),
                "/p/r",
            ),
        );
        let p = q.lock();
        assert!(p.root_gone);
        assert!(p.created.is_empty(), "the root is not a second-look folder");
    }

    #[test]
    fn rescan_and_errors_pass_through() {
        let q = queue("/r");
        handle(&q, Ok(Event::new(EventKind::Other).set_flag(Flag::Rescan)));
        assert!(q.lock().rescan);
        let q = queue("/r");
        handle(&q, Err(notify::Error::generic("boom")));
        assert!(q.lock().rescan);
        let q = queue("/r");
        handle(
            &q,
            Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch)
                .add_path(PathBuf::from("/r/iter-9"))),
        );
        let p = q.lock();
        assert!(!p.rescan);
        assert!(p.poll_needed.as_deref().unwrap().contains("/r/iter-9"));
        assert!(p.paths.contains(Path::new("/r/iter-9")));
    }

    #[test]
    fn a_storm_folds_into_folders_then_into_one_rescan() {
        let q = queue("/r");
        q.push((0..MAX_PATHS + 1).map(|i| PathBuf::from(format!("/r/iter-1/f{i}.xml"))));
        q.push([PathBuf::from("/r/iter-2/a.xml")]);
        {
            let p = q.lock();
            assert!(!p.rescan);
            let mut got: Vec<_> = p.paths.iter().cloned().collect();
            got.sort();
            assert_eq!(
                got,
                [PathBuf::from("/r/iter-1"), PathBuf::from("/r/iter-2/a.xml")]
            );
        }
        q.push((0..2 * MAX_PATHS).map(|i| PathBuf::from(format!("/r/{i}"))));
        let p = q.lock();
        assert!(p.rescan);
        assert!(p.paths.is_empty(), "no memory kept for a rescan");
    }

    #[test]
    fn taking_a_batch_empties_it_and_a_created_folder_comes_again() {
        let q = Arc::new(queue("/r"));
        let mut events = Events {
            queue: q.clone(),
            watchers: Weak::new(),
            again: None,
        };
        assert_eq!(events.recv_timeout(Some(Duration::ZERO)), Recv::Timeout);
        handle(&q, ev(EventKind::Create(CreateKind::Folder), "/r/iter-2"));
        handle(
            &q,
            ev(
                EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Any)),
                "/r/iter-1/a.jsonl",
            ),
        );
        let Recv::Event(e) = events.recv_timeout(None) else {
            panic!("event expected")
        };
        assert_eq!(e.paths.len(), 2);
        // The second look: the folder alone, once.
        let Recv::Event(e) = events.recv_timeout(Some(Duration::from_secs(10))) else {
            panic!("second look expected")
        };
        assert_eq!(e.paths, [PathBuf::from("/r/iter-2")]);
        assert_eq!(events.recv_timeout(Some(Duration::ZERO)), Recv::Timeout);
        // A second look that falls due while other events keep coming is
        // delivered with them, not after them.
        handle(&q, ev(EventKind::Create(CreateKind::Folder), "/r/iter-3"));
        assert!(matches!(events.recv_timeout(None), Recv::Event(_)));
        events.again.as_mut().expect("scheduled").0 = Instant::now();
        handle(
            &q,
            ev(
                EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Any)),
                "/r/iter-1/a.jsonl",
            ),
        );
        let Recv::Event(mut e) = events.recv_timeout(None) else {
            panic!("event expected")
        };
        e.paths.sort();
        assert_eq!(
            e.paths,
            [
                PathBuf::from("/r/iter-1/a.jsonl"),
                PathBuf::from("/r/iter-3")
            ]
        );
        assert!(events.again.is_none());
        q.update(|p| p.closed = true);
        assert_eq!(events.recv_timeout(None), Recv::Closed);
    }
}
