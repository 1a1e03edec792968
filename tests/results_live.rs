//! The live path from the results directory to the app: a store that hands
//! out patches (what the UI's reader uses, `Store::refresh_live`) and one
//! that hands out whole iterations (`Store::refresh`) watch the same
//! directory while real reports are written into it; the app state fed by
//! each must be the same after every write, and the patches must carry only
//! what changed.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;
use loopdeck::app::{Msg, State, update};
use loopdeck::model::Summary;
use loopdeck::results::{Changes, Store};

const REPORT_LOG: &str = "tests/fixtures/reports/pytest-reportlog/shop/report-log.jsonl";
const JUNIT: &str = "tests/fixtures/reports/pytest-junit-xunit2/shop/junit.xml";
const GO: &str = "tests/fixtures/reports/go-test-json/geo/report.jsonl";

struct Pair {
    live: Store,
    whole: Store,
    live_state: State,
    whole_state: State,
    patches: usize,
    patched_tests: usize,
}

fn feed(state: &mut State, changes: Changes) {
    if !changes.updated.is_empty() || !changes.removed.is_empty() {
        update(
            state,
            Msg::Data {
                changed: changes.updated,
                removed: changes.removed,
            },
        );
    }
    if !changes.patched.is_empty() {
        update(state, Msg::Patch(changes.patched));
    }
}

impl Pair {
    fn open(root: &Path) -> Pair {
        let mut p = Pair {
            live: Store::open(root).unwrap(),
            whole: Store::open(root).unwrap(),
            live_state: State::new("t", None, Utc::now()),
            whole_state: State::new("t", None, Utc::now()),
            patches: 0,
            patched_tests: 0,
        };
        p.refresh(None);
        p
    }

    /// Both stores look at what a watcher would name, then the states are
    /// compared. Returns how many iterations came as patches.
    fn refresh(&mut self, paths: Option<&[PathBuf]>) -> usize {
        let live = self.live.refresh_live(paths);
        let n = live.patched.len();
        self.patches += n;
        self.patched_tests += live.patched.iter().map(|p| p.changed.len()).sum::<usize>();
        feed(&mut self.live_state, live);
        feed(&mut self.whole_state, self.whole.refresh(paths));
        self.assert_same();
        n
    }

    fn assert_same(&self) {
        let (a, b) = (&self.live_state, &self.whole_state);
        assert_eq!(a.iterations.len(), b.iterations.len());
        for (x, y) in a.iterations.iter().zip(&b.iterations) {
            assert_eq!(x.data, y.data, "iteration {}", x.data.key);
            assert_eq!(x.summary, y.summary, "iteration {}", x.data.key);
            assert_eq!(
                x.summary,
                Summary::with_provisional(&x.data.tests, &x.data.provisional)
            );
            assert_eq!(x.failing, y.failing);
            assert_eq!(x.failing_before, y.failing_before);
        }
        assert_eq!(a.failure_rows, b.failure_rows);
        assert_eq!(a.module_rows, b.module_rows);
    }
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// Writes `src` into `dst` in pieces (one line, several lines, a line cut in
/// two), refreshing after each; returns the patches seen.
fn stream(pair: &mut Pair, src: &str, dst: &Path) -> usize {
    let data = fs::read(src).unwrap();
    let mut at = 0;
    let mut step = 0;
    let mut patched = 0;
    while at < data.len() {
        // 1, 2 or 3 lines, or half a line.
        let lines = step % 4;
        let mut end = at;
        for _ in 0..lines.max(1) {
            end = match memchr(&data[end..]) {
                Some(i) => end + i + 1,
                None => data.len(),
            };
        }
        if lines == 0 {
            end = at + (end - at) / 2 + 1;
        }
        append(dst, &data[at..end]);
        at = end;
        step += 1;
        patched += pair.refresh(Some(&[dst.to_path_buf()]));
    }
    patched
}

fn memchr(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

#[test]
fn patches_and_whole_views_give_the_same_screen() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let it1 = root.join("iter-001");
    fs::create_dir(&it1).unwrap();
    let mut pair = Pair::open(root);

    // A report-log written as pytest writes it: after its first read, every
    // append comes as a patch carrying only the tests it touched.
    let log = it1.join("report-log.jsonl");
    let patched = stream(&mut pair, REPORT_LOG, &log);
    let tests = pair.live_state.iterations[0].data.tests.len();
    assert!(tests > 10, "the fixture has tests");
    assert!(patched > 10, "appends came as patches: {patched}");
    assert!(
        pair.patched_tests < 3 * tests,
        "patches carry what changed ({} tests sent for {tests})",
        pair.patched_tests
    );

    // The run's JUnit file lands whole next to it: a whole view (two
    // reports merge), then appends are whole views too.
    fs::copy(JUNIT, it1.join("junit.xml")).unwrap();
    assert_eq!(pair.refresh(Some(&[it1.join("junit.xml")])), 0);
    append(&log, b"\n");
    pair.refresh(Some(std::slice::from_ref(&log)));

    // The next iteration streams go test -json while the first stays.
    let it2 = root.join("iter-002");
    fs::create_dir(&it2).unwrap();
    pair.refresh(Some(std::slice::from_ref(&it2)));
    let patched = stream(&mut pair, GO, &it2.join("go.jsonl"));
    assert!(patched > 0);

    // A rerun recorded in runs.jsonl: the iteration is combined by run,
    // so it comes whole.
    let now = Utc::now();
    let started = (now - chrono::Duration::seconds(60)).to_rfc3339();
    let run = format!(
        "{{\"event\":\"started\",\"id\":\"rerun-1\",\"kind\":\"rerun_failed\",\"command\":\"x\",\"started\":\"{started}\"}}\n"
    );
    fs::write(it2.join("runs.jsonl"), run).unwrap();
    assert_eq!(pair.refresh(Some(&[it2.join("runs.jsonl")])), 0);

    // A report removed, a folder removed: whole views, same screen.
    fs::remove_file(it1.join("junit.xml")).unwrap();
    pair.refresh(Some(&[it1.join("junit.xml")]));
    fs::remove_dir_all(&it2).unwrap();
    pair.refresh(None);
    assert_eq!(pair.live_state.iterations.len(), 1);
}

#[test]
fn a_patch_costs_what_it_adds() {
    // One test appended to a 20,000-test report-log: the patch carries
    // that test, not the report.
    let tmp = tempfile::tempdir().unwrap();
    let it1 = tmp.path().join("1");
    fs::create_dir(&it1).unwrap();
    let log = it1.join("report-log.jsonl");
    let mut text =
        String::from("{\"pytest_version\": \"8.3.0\", \"$report_type\": \"SessionStart\"}\n");
    let line = |i: usize, outcome: &str| {
        format!(
            "{{\"nodeid\": \"tests/test_m{}.py::test_{i}\", \"location\": [\"tests/test_m.py\", 1, \"t\"], \"keywords\": {{}}, \"outcome\": \"{outcome}\", \"longrepr\": null, \"when\": \"call\", \"user_properties\": [], \"sections\": [], \"duration\": 0.001, \"start\": 1.0, \"stop\": 1.0, \"$report_type\": \"TestReport\"}}\n",
            i % 50
        )
    };
    for i in 0..20_000 {
        text.push_str(&line(i, "passed"));
    }
    fs::write(&log, text).unwrap();
    let mut pair = Pair::open(tmp.path());
    assert_eq!(pair.live_state.iterations[0].data.tests.len(), 20_000);

    let before = pair.patched_tests;
    append(&log, line(20_000, "failed").as_bytes());
    assert_eq!(pair.refresh(Some(std::slice::from_ref(&log))), 1);
    assert_eq!(pair.patched_tests - before, 1);
    let it = &pair.live_state.iterations[0];
    assert_eq!(it.data.tests.len(), 20_001);
    assert_eq!(it.summary.totals.failed, 1);
    assert!(it.failing.contains("tests/test_m0.py::test_20000"));
}

#[test]
fn a_long_history_shows_the_newest_first_and_fills_in_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for i in 1..=30 {
        let dir = root.join(format!("iter-{i:03}"));
        fs::create_dir(&dir).unwrap();
        fs::copy(JUNIT, dir.join("junit.xml")).unwrap();
    }
    let mut live = Store::open(root).unwrap();
    live.set_newest_first(true);
    let mut state = State::new("t", None, Utc::now());

    let first = live.refresh_live(None);
    let keys: Vec<&str> = first.updated.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, ["iter-030"], "only the newest is read first");
    assert_eq!(live.unread(), 29);
    feed(&mut state, first);

    // The watcher names a file of an old iteration: that one is read now.
    let touched = root.join("iter-005/junit.xml");
    let c = live.refresh_live(Some(std::slice::from_ref(&touched)));
    assert_eq!(c.updated.len(), 1);
    assert_eq!(c.updated[0].key, "iter-005");
    feed(&mut state, c);

    let next = live.read_older(10);
    let keys: Vec<&str> = next.updated.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys.first(), Some(&"iter-020"));
    assert_eq!(keys.last(), Some(&"iter-029"));
    feed(&mut state, next);
    while live.unread() > 0 {
        let c = live.read_older(10);
        assert!(!c.updated.is_empty());
        feed(&mut state, c);
    }

    // Filled in, it is the screen a whole read gives.
    let mut whole = Store::open(root).unwrap();
    let mut whole_state = State::new("t", None, Utc::now());
    feed(&mut whole_state, whole.refresh(None));
    assert_eq!(state.iterations.len(), 30);
    for (a, b) in state.iterations.iter().zip(&whole_state.iterations) {
        assert_eq!(a.data, b.data);
        assert_eq!(a.summary, b.summary);
        assert_eq!(a.failing_before, b.failing_before);
    }
}

#[test]
fn older_iterations_are_dropped_after_they_are_handed_out_and_read_again_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for i in 1..=4 {
        let dir = root.join(format!("iter-{i:03}"));
        fs::create_dir(&dir).unwrap();
        fs::copy(JUNIT, dir.join("junit.xml")).unwrap();
    }
    let mut live = Store::open(root).unwrap();
    live.set_newest_first(true);
    let mut state = State::new("t", None, Utc::now());
    feed(&mut state, live.refresh_live(None));
    while live.unread() > 0 {
        feed(&mut state, live.read_older(2));
    }
    let whole = || {
        let mut s = Store::open(root).unwrap();
        s.refresh(None).updated
    };

    // Nothing changed: a rescan hands out none of the dropped iterations
    // (only the newest, as it always did: as an empty patch) and reads
    // nothing.
    let read = live.bytes_read();
    let c = live.refresh_live(None);
    assert!(c.updated.is_empty());
    let keys: Vec<&str> = c.patched.iter().map(|p| p.data.key.as_str()).collect();
    assert_eq!(keys, ["iter-004"]);
    assert!(c.patched[0].changed.is_empty());
    assert_eq!(
        live.bytes_read(),
        read,
        "dropped iterations are not re-read"
    );

    // Asked for, an old one comes back whole.
    let c = live.load("iter-002");
    assert_eq!(c.updated.len(), 1);
    assert_eq!(c.updated[0], whole()[1]);

    // A report added to a dropped iteration: it is read again whole, so
    // the view holds both reports, not only the new one.
    let it1 = root.join("iter-001");
    fs::copy(REPORT_LOG, it1.join("report-log.jsonl")).unwrap();
    let c = live.refresh_live(Some(&[it1.join("report-log.jsonl")]));
    assert_eq!(c.updated.len(), 1);
    assert_eq!(c.updated[0], whole()[0]);
    assert_eq!(c.updated[0].files.len(), 2);
}

#[test]
fn the_app_keeps_history_compact_and_asks_for_what_it_shows() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use loopdeck::app::Effect;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for i in 1..=3 {
        let dir = root.join(format!("iter-{i:03}"));
        fs::create_dir(&dir).unwrap();
        fs::copy(JUNIT, dir.join("junit.xml")).unwrap();
    }
    let mut store = Store::open(root).unwrap();
    let mut state = State::new("t", None, Utc::now());
    state.compact_history = true;
    feed(&mut state, store.refresh(None));
    let compact: Vec<bool> = state.iterations.iter().map(|it| it.compact).collect();
    assert_eq!(
        compact,
        [true, true, false],
        "only the latest keeps its tests"
    );
    assert!(state.iterations[0].data.tests.is_empty());
    let failing = state.iterations[2].summary.totals.failing();
    assert!(failing > 0, "the fixture has failures");
    assert_eq!(state.iterations[1].summary.totals.failing(), failing);
    assert!(state.iterations[2].failing_before.as_ref().unwrap().len() == failing);

    // Stepping back to iteration 2 asks for its tests, once.
    let left = || Msg::Key(KeyEvent::new(KeyCode::Left, KeyModifiers::NONE));
    let effects = update(&mut state, left());
    let loads = |fx: &[Effect]| -> Vec<Effect> {
        fx.iter()
            .filter(|e| matches!(e, Effect::Load(_)))
            .cloned()
            .collect()
    };
    assert_eq!(loads(&effects), vec![Effect::Load("iter-002".into())]);
    assert!(state.failure_rows.is_empty());
    let c = store.load("iter-002");
    update(
        &mut state,
        Msg::Data {
            changed: c.updated,
            removed: c.removed,
        },
    );
    assert!(!state.iterations[1].compact);
    assert!(!state.failure_rows.is_empty(), "its failures are listed");
    assert_eq!(state.loading, None);

    // Further back: iteration 2 goes compact again, iteration 1 is asked for.
    let effects = update(&mut state, left());
    assert_eq!(loads(&effects), vec![Effect::Load("iter-001".into())]);
    assert!(state.iterations[1].compact);
}

#[test]
fn a_large_newest_iteration_is_held_once_and_keeps_its_last_good_data() {
    let tmp = tempfile::tempdir().unwrap();
    let it1 = tmp.path().join("iter-001");
    fs::create_dir(&it1).unwrap();
    let junit = it1.join("junit.xml");
    fs::copy(JUNIT, &junit).unwrap();
    let mut live = Store::open(tmp.path()).unwrap();
    live.set_newest_first(true);
    live.set_large_iteration(10); // the fixture's 26 tests count as large
    let mut state = State::new("t", None, Utc::now());
    feed(&mut state, live.refresh_live(None));
    let tests = state.iterations[0].data.tests.len();
    assert!(tests >= 10);
    let summary = state.iterations[0].summary.clone();

    // The store dropped its copy: a rescan of the unchanged folder reads nothing.
    let read = live.bytes_read();
    feed(&mut state, live.refresh_live(None));
    assert_eq!(live.bytes_read(), read);

    // Rewritten in place and caught half-written: the store has no last
    // good parse any more, so the app keeps its tests and learns only that
    // the file is being written.
    let full = fs::read(JUNIT).unwrap();
    fs::write(&junit, &full[..full.len() / 2]).unwrap();
    let c = live.refresh_live(Some(std::slice::from_ref(&junit)));
    assert!(c.updated.is_empty(), "no whole view without the report");
    assert_eq!(c.patched.len(), 1);
    assert!(c.patched[0].changed.is_empty());
    assert!(c.patched[0].data.files[0].pending, "shown as being written");
    feed(&mut state, c);
    assert_eq!(state.iterations[0].data.tests.len(), tests);
    assert_eq!(state.iterations[0].summary, summary);

    // Whole again: a whole view, read from the file.
    fs::write(&junit, &full).unwrap();
    let c = live.refresh_live(Some(std::slice::from_ref(&junit)));
    assert_eq!(c.updated.len(), 1);
    assert_eq!(c.updated[0].tests.len(), tests);
    feed(&mut state, c);

    // Replaced by something that is refused unread (a FIFO): the last good
    // data stays on screen, with a warning naming the file.
    fs::remove_file(&junit).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&junit)
        .status()
        .unwrap();
    assert!(made.success());
    let c = live.refresh_live(Some(std::slice::from_ref(&junit)));
    feed(&mut state, c);
    let it = &state.iterations[0];
    assert_eq!(it.data.tests.len(), tests, "last good data kept");
    assert!(
        it.data.warnings.iter().any(|w| w.contains("junit.xml")),
        "{:?}",
        it.data.warnings
    );
}
