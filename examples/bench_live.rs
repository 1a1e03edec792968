//! What a user feels of the results path, measured side by side in one run:
//!
//! 1. **CPU per appended test**: a pytest report-log of N tests grows by one
//!    test at a time; each append goes through the store and `update()` as
//!    the UI's reader does it. The live path (`Store::refresh_live`, patches)
//!    against the whole-view path (`Store::refresh`, what the UI used
//!    before), at N = 200 and N = 100,000.
//! 2. **History**: the first full read (store + app state + one frame) of a
//!    loop of 1,000 iterations x 466 tests and of 100 x 10,000, and the peak
//!    RSS of this process after it (each case in a child process of its
//!    own, so peaks do not mix).
//! 3. **`loopdeck status --json`** on the latest iteration alone and with
//!    the history beside it (needs `cargo build --release` first).
//!
//! `cargo run --release --example bench_live` (all), or with an argument:
//! `append`, `history`, `status`.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use loopdeck::app::{Msg, State, update};
use loopdeck::results::{Changes, Store};
use loopdeck::ui::{Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    if let Some(case) = what.strip_prefix("history-child:") {
        history_child(case);
        return;
    }
    if let Some(case) = what.strip_prefix("big-child:") {
        big_child(case);
        return;
    }
    if what == "big" {
        big();
    }
    if what.is_empty() || what == "append" {
        append();
    }
    if what.is_empty() || what == "history" {
        history();
    }
    if what.is_empty() || what == "status" {
        status();
    }
}

fn line(i: usize, outcome: &str) -> String {
    format!(
        "{{\"nodeid\": \"tests/e2e/test_m{m}.py::test_{i}\", \"location\": [\"tests/e2e/test_m{m}.py\", 1, \"t\"], \"keywords\": {{}}, \"outcome\": \"{outcome}\", \"longrepr\": null, \"when\": \"call\", \"user_properties\": [], \"sections\": [], \"duration\": 0.001, \"start\": 1.0, \"stop\": 1.0, \"$report_type\": \"TestReport\"}}\n",
        m = i % 60
    )
}

fn report_log(n: usize) -> String {
    let mut s =
        String::from("{\"pytest_version\": \"8.3.0\", \"$report_type\": \"SessionStart\"}\n");
    for i in 0..n {
        s.push_str(&line(i, if i % 50 == 7 { "failed" } else { "passed" }));
    }
    s
}

/// CPU time of this process (all threads), user + system.
fn cpu() -> Duration {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| Duration::new(v.tv_sec as u64, v.tv_usec as u32 * 1000);
    t(u.ru_utime) + t(u.ru_stime)
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

/// Median CPU per appended test over `appends` appends.
fn per_append(n: usize, live: bool, appends: usize) -> Duration {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("iter-001");
    fs::create_dir(&dir).unwrap();
    let log = dir.join("report-log.jsonl");
    fs::write(&log, report_log(n)).unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let mut state = State::new("bench", None, Utc::now());
    feed(&mut state, store.refresh_live(None));
    let mut samples = Vec::new();
    let paths = [log.clone()];
    for k in 0..appends {
        let mut f = OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(line(n + k, "passed").as_bytes()).unwrap();
        drop(f);
        let t = cpu();
        let changes = if live {
            store.refresh_live(Some(&paths))
        } else {
            store.refresh(Some(&paths))
        };
        feed(&mut state, changes);
        samples.push(cpu() - t);
    }
    assert_eq!(state.iterations[0].data.tests.len(), n + appends);
    samples.sort();
    samples[samples.len() / 2]
}

fn append() {
    println!("## CPU per appended test (median of 200 appends; store + update)");
    println!("| tests in the report | live path (patches) | whole-view path | ratio |");
    println!("| ---: | ---: | ---: | ---: |");
    for n in [200, 100_000] {
        let live = per_append(n, true, 200);
        let whole = per_append(n, false, if n > 1000 { 30 } else { 200 });
        println!(
            "| {n} | {:.3} ms | {:.3} ms | {:.0}x |",
            ms(live),
            ms(whole),
            whole.as_secs_f64() / live.as_secs_f64().max(1e-9)
        );
    }
    // getrusage ticks are coarse on some kernels: say so if samples are 0.
    println!("(CPU time from getrusage; a 0.000 median means below the clock's tick)");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A loop of `iterations` folders of `tests` tests each (JUnit, 2% failing).
fn make_history(root: &Path, iterations: usize, tests: usize) {
    let xml = loopdeck::ingest::generate_junit(tests, 0.02, 10);
    for i in 1..=iterations {
        let dir = root.join(format!("iter-{i:04}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("junit.xml"), &xml).unwrap();
        fs::write(
            dir.join("iteration.json"),
            format!("{{\"issue\": \"issue {i}\"}}"),
        )
        .unwrap();
    }
}

fn history() {
    println!("\n## History: first full read and frame, peak RSS");
    println!(
        "| loop | first frame (newest iteration) | all iterations read | an old iteration loaded | peak RSS | RSS after |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (iters, tests) in [(1_000, 466), (100, 10_000)] {
        let tmp = tempfile::tempdir().unwrap();
        make_history(tmp.path(), iters, tests);
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .arg(format!("history-child:{}", tmp.path().display()))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        println!("| {iters} x {tests} | {} |", text.trim());
    }
}

fn history_child(root: &str) {
    let t = Instant::now();
    let mut store = Store::open(Path::new(root)).unwrap();
    store.set_newest_first(true);
    let mut state = State::new("bench", None, Utc::now());
    state.compact_history = true;
    feed(&mut state, store.refresh_live(None));
    update(&mut state, Msg::Resize(120, 40));
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|f| draw(f, &state, &Theme::plain())).unwrap();
    let first = t.elapsed();
    // The rest fills in behind, as the UI's reader does it.
    while store.unread() > 0 {
        feed(&mut state, store.read_older(16));
    }
    term.draw(|f| draw(f, &state, &Theme::plain())).unwrap();
    let filled = t.elapsed();
    // Stepping to an old iteration: asked for, read, shown.
    let t = Instant::now();
    let key = state.iterations[state.iterations.len() / 2]
        .data
        .key
        .clone();
    feed(&mut state, store.load(&key));
    let load = t.elapsed();
    let now = rss_kb("VmRSS:");
    let rss = rss_kb("VmHWM:");
    println!(
        "{:.0} ms | {:.0} ms | {:.0} ms | {} MB | {} MB",
        ms(first),
        ms(filled),
        ms(load),
        rss / 1024,
        now / 1024
    );
}

/// A 2.6M-test JUnit report (~200 MB): read, first frame, a key, memory.
fn big() {
    println!("\n## A 2.6M-test JUnit report");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("iter-001");
    fs::create_dir(&dir).unwrap();
    let xml = loopdeck::ingest::generate_junit(2_600_000, 0.02, 10);
    println!("report: {} MB", xml.len() >> 20);
    fs::write(dir.join("junit.xml"), xml).unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .arg(format!("big-child:{}", tmp.path().display()))
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

fn big_child(root: &str) {
    let t = Instant::now();
    let mut store = Store::open(Path::new(root)).unwrap();
    store.set_newest_first(true);
    let mut state = State::new("bench", None, Utc::now());
    state.compact_history = true;
    feed(&mut state, store.refresh_live(None));
    // As the UI's reader does after a big read.
    loopdeck::oneshot::give_back_freed_memory();
    update(&mut state, Msg::Resize(120, 40));
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|f| draw(f, &state, &Theme::plain())).unwrap();
    let first = t.elapsed();
    let mut keys = Vec::new();
    for code in ["j", "j", "k", "/", "x", "Enter", "Esc"] {
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let code = match code {
            "Enter" => KeyCode::Enter,
            "Esc" => KeyCode::Esc,
            c => KeyCode::Char(c.chars().next().unwrap()),
        };
        let t = Instant::now();
        update(
            &mut state,
            Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
        );
        term.draw(|f| draw(f, &state, &Theme::plain())).unwrap();
        keys.push(t.elapsed());
    }
    keys.sort();
    println!(
        "read + first frame {:.0} ms; key + frame median {:.1} ms, worst {:.1} ms; peak RSS {} MB, after {} MB",
        ms(first),
        ms(keys[keys.len() / 2]),
        ms(*keys.last().unwrap()),
        rss_kb("VmHWM:") / 1024,
        rss_kb("VmRSS:") / 1024
    );
}

fn rss_kb(field: &str) -> u64 {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .unwrap()
}

fn status() {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/loopdeck");
    if !bin.exists() {
        println!("\n(status: build the release binary first: cargo build --release)");
        return;
    }
    println!("\n## `loopdeck status --json` on the latest iteration (median of 15)");
    println!("| results directory | time | ratio to alone |");
    println!("| --- | ---: | ---: |");
    for tests in [466, 10_000] {
        let alone = tempfile::tempdir().unwrap();
        make_history(alone.path(), 1, tests);
        let many = tempfile::tempdir().unwrap();
        let iters = if tests > 1000 { 100 } else { 1000 };
        make_history(many.path(), iters, tests);
        let run = |dir: &Path, extra: &[&str]| {
            let mut v: Vec<Duration> = (0..15)
                .map(|_| {
                    let t = Instant::now();
                    let out = Command::new(&bin)
                        .args(["status", "--json"])
                        .args(extra)
                        .arg(dir)
                        .output()
                        .unwrap();
                    assert!(!out.stdout.is_empty());
                    t.elapsed()
                })
                .collect();
            v.sort();
            v[v.len() / 2]
        };
        let (a, b) = (run(alone.path(), &[]), run(many.path(), &[]));
        let c = run(many.path(), &["--goal", "466"]);
        let mut row = String::new();
        write!(row, "| 1 x {tests} | {:.1} ms | 1 |", ms(a)).unwrap();
        println!("{row}");
        println!(
            "| {iters} x {tests} (counts cached) | {:.1} ms | {:.1}x |",
            ms(b),
            b.as_secs_f64() / a.as_secs_f64()
        );
        println!(
            "| {iters} x {tests}, `--goal` given | {:.1} ms | {:.1}x |",
            ms(c),
            c.as_secs_f64() / a.as_secs_f64()
        );
    }
}
