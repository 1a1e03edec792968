//! Write → frame latency and idle wakeups of the real binary, measured on
//! its screen: `loopdeck watch DIR` runs in a pseudo-terminal, a vt100
//! parser rebuilds its screen from every byte it draws, and a frame counts
//! as showing a write when the number the write produced is on screen.
//!
//! * **isolated**: one JUnit report lands (temp file + rename) every 200 ms,
//!   each with one test more; latency = rename → first frame showing
//!   "N/N passed";
//! * **stream**: a pytest report-log grows by one test line every 1 ms for
//!   5 s (1 kHz); for every frame that shows a new "running tests N",
//!   latency = that frame − the write of line N (how far the screen is
//!   behind the file), plus the number of distinct counts shown per second
//!   while the writer runs;
//! * **idle**: voluntary + involuntary context switches of all the
//!   process's threads (`/proc/PID/task/*/status`) over 5 s with nothing
//!   changing, per second, with the busiest threads named.
//!
//! ```sh
//! cargo build --release && cargo run --release --example bench_watch
//! cargo run --release --example bench_watch -- --bin PATH [--baseline PATH]
//! ```
//! `--baseline` measures a second binary (e.g. an older loopdeck) the same
//! way, in the same run, and prints both side by side.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pty::Tui;

const ISOLATED_WRITES: usize = 40;
const STREAM_FOR: Duration = Duration::from_secs(5);
const STREAM_EVERY: Duration = Duration::from_millis(1);
const IDLE_FOR: Duration = Duration::from_secs(5);

#[path = "../tests/common/pty.rs"]
#[allow(dead_code)]
mod pty;

/// Reads output until `cond` holds on the screen; returns when the chunk
/// that made it hold arrived.
fn until(tui: &mut Tui, what: &str, cond: impl Fn(&str) -> bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tui.output.recv_timeout(left) {
            Ok(bytes) => {
                let at = Instant::now();
                tui.parser.process(&bytes);
                if cond(&tui.screen()) {
                    return at;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("timed out waiting for {what}:\n{}", tui.screen())
            }
            Err(RecvTimeoutError::Disconnected) => panic!("loopdeck exited"),
        }
    }
}

/// Feeds whatever output is waiting, without blocking.
fn drain(tui: &mut Tui) {
    while let Ok(bytes) = tui.output.try_recv() {
        tui.parser.process(&bytes);
    }
}

fn land(path: &Path, content: &[u8]) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn junit(n: usize) -> String {
    let mut s = String::from("<testsuite name=\"s\">");
    for i in 0..n {
        s.push_str(&format!(
            "<testcase classname=\"tests.test_x\" name=\"test_{i}\"/>"
        ));
    }
    s + "</testsuite>\n"
}

fn report_log_line(i: usize) -> String {
    format!(
        "{{\"nodeid\": \"tests/test_fast.py::test_{i}\", \"location\": [\"tests/test_fast.py\", {i}, \"test_{i}\"], \"keywords\": {{}}, \"outcome\": \"passed\", \"longrepr\": null, \"when\": \"call\", \"user_properties\": [], \"sections\": [], \"duration\": 0.0001, \"start\": 1.0, \"stop\": 1.0001, \"$report_type\": \"TestReport\"}}\n"
    )
}

/// The count in "running tests N/T" or "running tests: N so far".
fn running_count(screen: &str) -> Option<usize> {
    let at = screen.find("running tests")? + "running tests".len();
    screen[at..]
        .trim_start_matches([':', ' '])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[derive(Debug, Default)]
struct Figures {
    isolated: Vec<f64>,
    stream: Vec<f64>,
    /// Distinct counts shown while the writer wrote, per second.
    stream_updates_per_s: f64,
    stream_written: usize,
    /// Longest time the screen showed no new count while the writer wrote.
    stream_longest_gap_ms: f64,
    /// Longest time between two writes of the writer (its own stalls: a
    /// busy machine).
    writer_longest_gap_ms: f64,
    idle_wakeups_per_s: f64,
    idle_threads: Vec<(String, u64)>,
}

/// Context switches per thread (name, voluntary + involuntary).
fn switches(pid: u32) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(t.path().join("status")) else {
            continue;
        };
        let field = |k: &str| -> u64 {
            status
                .lines()
                .find(|l| l.starts_with(k))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let name = status
            .lines()
            .find(|l| l.starts_with("Name:"))
            .map(|l| l["Name:".len()..].trim().to_string())
            .unwrap_or_default();
        let tid = t.file_name().to_string_lossy().into_owned();
        out.push((
            format!("{name}[{tid}]"),
            field("voluntary_ctxt_switches:") + field("nonvoluntary_ctxt_switches:"),
        ));
    }
    out
}

fn measure(bin: &Path) -> Figures {
    let mut fig = Figures::default();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let iter1 = root.join("iter-001");
    std::fs::create_dir_all(&iter1).unwrap();
    land(&iter1.join("junit.xml"), junit(1).as_bytes());
    let args = ["watch", root.to_str().unwrap()];
    let mut screen = Tui::start_program(bin, None, &[], &args, 100, 30);
    until(&mut screen, "the first report", |s| {
        s.contains("1/1 passed")
    });

    // Isolated writes.
    for k in 2..ISOLATED_WRITES + 2 {
        std::thread::sleep(Duration::from_millis(200));
        drain(&mut screen);
        let want = format!("{k}/{k} passed");
        let t0 = Instant::now();
        land(&iter1.join("junit.xml"), junit(k).as_bytes());
        let shown = until(&mut screen, &want, |s| s.contains(&want));
        fig.isolated.push(ms(shown.saturating_duration_since(t0)));
    }

    // A 1 kHz stream into a new iteration.
    let iter2 = root.join("iter-002");
    std::fs::create_dir_all(&iter2).unwrap();
    let log = iter2.join("report-log.jsonl");
    std::fs::write(
        &log,
        b"{\"pytest_version\": \"9.2.0\", \"$report_type\": \"SessionStart\"}\n",
    )
    .unwrap();
    until(&mut screen, "the stream's iteration", |s| {
        running_count(s) == Some(0)
    });
    let written: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let written = written.clone();
        let log = log.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            let start = Instant::now();
            let mut i = 0;
            let mut next = start;
            while start.elapsed() < STREAM_FOR {
                f.write_all(report_log_line(i).as_bytes()).unwrap();
                // Time when test i+1 is in the file.
                written.lock().unwrap().push(Instant::now());
                i += 1;
                next += STREAM_EVERY;
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
            (start, Instant::now(), i)
        })
    };
    let mut last_count = 0;
    let mut frames: Vec<(Instant, usize)> = Vec::new();
    // Until the writer is done and the screen shows its last line.
    let mut total: Option<usize> = None;
    let mut stop_by: Option<Instant> = None;
    while total.is_none_or(|t| last_count < t) {
        if total.is_none() && writer.is_finished() {
            total = Some(written.lock().unwrap().len());
            stop_by = Some(Instant::now() + Duration::from_secs(30));
        }
        match screen.output.recv_timeout(Duration::from_millis(50)) {
            Ok(bytes) => {
                let at = Instant::now();
                screen.parser.process(&bytes);
                if let Some(n) = running_count(&screen.screen())
                    && n != last_count
                {
                    last_count = n;
                    frames.push((at, n));
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => panic!("loopdeck exited"),
        }
        assert!(
            stop_by.is_none_or(|t| Instant::now() < t),
            "the last count never showed:\n{}",
            screen.screen()
        );
    }
    let (start, end, total) = writer.join().unwrap();
    fig.stream_written = total;
    let written = written.lock().unwrap().clone();
    let during: Vec<&(Instant, usize)> = frames.iter().filter(|(at, _)| *at <= end).collect();
    fig.stream_updates_per_s = during.len() as f64 / (end - start).as_secs_f64();
    // Every line written: how long until a frame showed it (a count at
    // least its number).
    let mut f = frames.iter().peekable();
    for (i, w) in written.iter().enumerate() {
        while f.peek().is_some_and(|(_, n)| *n < i + 1) {
            f.next();
        }
        if let Some((at, _)) = f.peek() {
            fig.stream.push(ms(at.saturating_duration_since(*w)));
        }
    }
    let mut times: Vec<Instant> = vec![start];
    times.extend(during.iter().map(|(at, _)| *at));
    times.push(end);
    fig.stream_longest_gap_ms = times
        .windows(2)
        .map(|w| ms(w[1].saturating_duration_since(w[0])))
        .fold(0.0, f64::max);
    let mut wtimes = vec![start];
    wtimes.extend(written.iter().copied());
    fig.writer_longest_gap_ms = wtimes
        .windows(2)
        .map(|w| ms(w[1].saturating_duration_since(w[0])))
        .fold(0.0, f64::max);
    // The stream stays "running" (no SessionFinish): the clock ticks once a
    // second, as it would in a real run that paused.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"{\"exitstatus\": 0, \"$report_type\": \"SessionFinish\"}\n")
        .unwrap();
    until(&mut screen, "the stream's end", |s| {
        !s.contains("running tests")
    });

    // Idle: nothing changes for IDLE_FOR (the output is still drained).
    std::thread::sleep(Duration::from_millis(500));
    drain(&mut screen);
    let pid = screen.child.process_id().expect("pid");
    let before = switches(pid);
    let t0 = Instant::now();
    while t0.elapsed() < IDLE_FOR {
        if let Ok(bytes) = screen.output.recv_timeout(Duration::from_millis(100)) {
            screen.parser.process(&bytes);
        }
    }
    let after = switches(pid);
    let secs = t0.elapsed().as_secs_f64();
    let mut per_thread: Vec<(String, u64)> = after
        .iter()
        .map(|(name, n)| {
            let b = before
                .iter()
                .find(|(bn, _)| bn == name)
                .map_or(0, |(_, v)| *v);
            (name.clone(), n - b)
        })
        .collect();
    per_thread.sort_by_key(|t| std::cmp::Reverse(t.1));
    fig.idle_wakeups_per_s = per_thread.iter().map(|(_, n)| *n).sum::<u64>() as f64 / secs;
    fig.idle_threads = per_thread.into_iter().filter(|(_, n)| *n > 0).collect();
    fig
}

fn report(label: &str, bin: &Path, fig: &mut Figures) {
    fig.isolated.sort_by(f64::total_cmp);
    fig.stream.sort_by(f64::total_cmp);
    println!("{label}: {}", bin.display());
    println!(
        "  isolated write -> frame ({} writes):  p50 {:6.1} ms   p95 {:6.1} ms",
        fig.isolated.len(),
        percentile(&fig.isolated, 0.5),
        percentile(&fig.isolated, 0.95)
    );
    println!(
        "  1 kHz stream, {} lines in {} s:  {} frames with a new count ({:.1}/s), longest gap {:.0} ms (the writer's own longest pause: {:.0} ms)",
        fig.stream_written,
        STREAM_FOR.as_secs(),
        (fig.stream_updates_per_s * STREAM_FOR.as_secs_f64()).round(),
        fig.stream_updates_per_s,
        fig.stream_longest_gap_ms,
        fig.writer_longest_gap_ms
    );
    println!(
        "  stream write -> frame (every line until a frame shows it):  p50 {:6.1} ms   p95 {:6.1} ms   max {:6.1} ms",
        percentile(&fig.stream, 0.5),
        percentile(&fig.stream, 0.95),
        fig.stream.last().copied().unwrap_or(f64::NAN)
    );
    let busiest: Vec<String> = fig
        .idle_threads
        .iter()
        .take(4)
        .map(|(n, c)| format!("{n} {:.1}/s", *c as f64 / IDLE_FOR.as_secs_f64()))
        .collect();
    println!(
        "  idle: {:.1} wakeups/s (context switches of all threads over {} s; busiest: {})",
        fig.idle_wakeups_per_s,
        IDLE_FOR.as_secs(),
        busiest.join(", ")
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut bin: Option<PathBuf> = None;
    let mut baseline: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bin" => bin = args.next().map(PathBuf::from),
            "--baseline" => baseline = args.next().map(PathBuf::from),
            other => panic!("unknown argument {other}; see the module docs"),
        }
    }
    // target/release/examples/bench_watch -> target/release/loopdeck
    let bin = bin.unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap();
        exe.parent().unwrap().parent().unwrap().join("loopdeck")
    });
    let mut runs = vec![("loopdeck", bin)];
    if let Some(b) = baseline {
        runs.push(("baseline", b));
    }
    for (label, bin) in runs {
        let mut fig = measure(&bin);
        report(label, &bin, &mut fig);
    }
}
