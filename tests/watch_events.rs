//! The watcher delivers debounced events for writes under the root, including
//! in folders created after it started. No sleeps: every test awaits the
//! event it needs, with a bounded timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use loopdeck::watch::{self, Backend, WatchEvent};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::{Instant, timeout};

const LIMIT: Duration = Duration::from_secs(10);

/// Receives events until one names a path ending in `suffix`; panics after
/// `LIMIT`. Returns all events seen.
async fn await_path(rx: &mut UnboundedReceiver<WatchEvent>, suffix: &Path) -> Vec<WatchEvent> {
    let deadline = Instant::now() + LIMIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = timeout(left, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no event for {suffix:?} within {LIMIT:?}; saw {seen:#?}"))
            .expect("watcher stopped");
        let hit = event.paths.iter().any(|p| p.ends_with(suffix));
        seen.push(event);
        if hit {
            return seen;
        }
    }
}

#[tokio::test]
async fn a_written_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = unbounded_channel();
    let _handle = watch::spawn(dir.path(), tx).unwrap();
    std::fs::write(dir.path().join("junit.xml"), b"<testsuites/>").unwrap();
    let seen = await_path(&mut rx, Path::new("junit.xml")).await;
    assert!(seen.iter().all(|e| !e.rescan));
}

#[tokio::test]
async fn a_folder_created_after_start_is_watched() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = unbounded_channel();
    let _handle = watch::spawn(dir.path(), tx).unwrap();
    let iter = dir.path().join("iter-002");
    std::fs::create_dir(&iter).unwrap();
    await_path(&mut rx, Path::new("iter-002")).await;
    // The folder is now watched too: a later write inside it is seen.
    std::fs::write(iter.join("report-log.jsonl"), b"{}\n").unwrap();
    await_path(&mut rx, Path::new("iter-002/report-log.jsonl")).await;
    // And appends to it.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(iter.join("report-log.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"more\":1}\n").unwrap();
    await_path(&mut rx, Path::new("iter-002/report-log.jsonl")).await;
}

#[tokio::test]
async fn polling_backend_reports_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = unbounded_channel();
    let _handle =
        watch::spawn_with(dir.path(), tx, Backend::Poll(Duration::from_millis(100))).unwrap();
    let sub: PathBuf = dir.path().join("3");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("junit.xml"), b"<testsuites/>").unwrap();
    await_path(&mut rx, Path::new("3/junit.xml")).await;
}

#[tokio::test]
async fn reading_files_does_not_feed_back_into_events() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, b"<testsuites/>").unwrap();
    let (tx, mut rx) = unbounded_channel();
    let handle = watch::spawn(dir.path(), tx).unwrap();
    // Reads (opens) of the file, then a write to a marker: the marker's event
    // must be the first one that arrives.
    for _ in 0..5 {
        std::fs::read(&file).unwrap();
    }
    std::fs::write(dir.path().join("marker.xml"), b"x").unwrap();
    let seen = await_path(&mut rx, Path::new("marker.xml")).await;
    for e in &seen {
        assert!(
            !e.paths.iter().any(|p| p.ends_with("junit.xml")),
            "{seen:#?}"
        );
    }
    handle.stop();
}

#[tokio::test]
async fn dropping_the_handle_stops_the_watcher() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = unbounded_channel();
    let handle = watch::spawn(dir.path(), tx).unwrap();
    drop(handle);
    // The sender lives in the debouncer's thread: once it stopped, the
    // channel closes.
    let end = timeout(LIMIT, async { while rx.recv().await.is_some() {} }).await;
    assert!(end.is_ok(), "watcher still running after drop");
}

#[tokio::test]
async fn watcher_and_store_together() {
    use loopdeck::results::Store;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("iter-001")).unwrap();
    let mut store = Store::open(root).unwrap();
    let (tx, mut rx) = unbounded_channel();
    let _handle = watch::spawn(root, tx).unwrap();
    // No report files yet, so the real parsers are not needed here.
    assert_eq!(store.refresh(None).updated.len(), 1);
    std::fs::create_dir(root.join("iter-002")).unwrap();
    std::fs::write(
        root.join("iter-002/iteration.json"),
        br#"{"issue":"HTTP 500 on /cart"}"#,
    )
    .unwrap();
    // Refresh on each event, as the app does, until the new iteration's
    // metadata shows (a burst may arrive as several events).
    let deadline = Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = timeout(left, rx.recv())
            .await
            .expect("new iteration not seen in time")
            .expect("watcher stopped");
        let changes = if event.rescan {
            store.refresh(None)
        } else {
            store.refresh(Some(&event.paths))
        };
        let issue = changes
            .updated
            .iter()
            .find(|i| i.key == "iter-002")
            .and_then(|i| i.meta.as_ref())
            .and_then(|m| m.issue.clone());
        if issue.as_deref() == Some("HTTP 500 on /cart") {
            break;
        }
    }
    let keys: Vec<String> = store.iterations().into_iter().map(|i| i.key).collect();
    assert_eq!(keys, ["iter-001", "iter-002"]);
}
