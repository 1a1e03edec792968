//! `cargo bench --bench status_process`: the budget case of DESIGN.md §4 as
//! the user meets it — the whole `loopdeck status DIR --json` process
//! (start, read, parse, summarise, print, exit) on a results directory
//! holding one generated 100,000-test JUnit report (~21.9 MB, 2% failures
//! with 30-line tracebacks). Budget: < 50 ms and < 40 MB peak RSS.
//!
//! It runs the release binary `target/release/loopdeck`, which a bench
//! cannot build: run `cargo build --release` first. Besides criterion's
//! timing it prints the child's peak RSS (`wait4` rusage) and a plain mean.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

const TESTS: usize = 100_000;
const BUDGET_MS: f64 = 50.0;
const BUDGET_KB: i64 = 40 * 1024;

/// `target/release/loopdeck`, found next to this bench's executable
/// (`target/release/deps/status_process-…`).
fn release_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("bench executable path");
    let release = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("bench runs from target/<profile>/deps");
    let bin = release.join(format!("loopdeck{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        panic!(
            "{} is missing: run `cargo build --release` first (a bench cannot build the binary)",
            bin.display()
        );
    }
    bin
}

fn command(bin: &PathBuf, dir: &std::path::Path) -> Command {
    let mut c = Command::new(bin);
    c.arg("status")
        .arg(dir)
        .arg("--json")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Resets this process's peak RSS (Linux `clear_refs`). A child started
/// with `posix_spawn` (vfork) inherits its parent's peak RSS in `ru_maxrss`:
/// without this, the generated 22 MB report would count as the child's.
fn reset_own_peak_rss() {
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        eprintln!("note: cannot reset the bench's own peak RSS; the child's may read high");
    }
}

/// Runs the command once; returns its wall time, exit code and peak RSS in KB.
fn run_measured(bin: &PathBuf, dir: &std::path::Path) -> (Duration, i32, i64) {
    let start = Instant::now();
    let child = command(bin, dir).spawn().expect("spawn loopdeck");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be filled in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; the pointers are
    // valid for the call. The `Child` is forgotten below, so nothing waits
    // for the pid a second time.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    std::mem::forget(child);
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // Linux reports ru_maxrss in kilobytes.
    (elapsed, code, usage.ru_maxrss)
}

fn bench(c: &mut Criterion) {
    let bin = release_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let xml = loopdeck::ingest::generate_junit(TESTS, 0.02, 30);
    std::fs::write(dir.path().join("junit.xml"), &xml).expect("write report");
    let mb = xml.len() as f64 / 1e6;
    drop(xml);

    reset_own_peak_rss();
    // The report has failures: exit code 1 is the expected answer.
    let (_, code, _) = run_measured(&bin, dir.path());
    assert_eq!(code, 1, "loopdeck status should exit 1 on a failing report");

    let mut g = c.benchmark_group("status_process");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("status_json_100k_junit", |b| {
        b.iter(|| {
            let s = command(&bin, dir.path()).status().expect("run loopdeck");
            assert_eq!(s.code(), Some(1));
        })
    });
    g.finish();

    let runs = 20;
    let mut times = Vec::with_capacity(runs);
    let mut peak = 0;
    reset_own_peak_rss();
    for _ in 0..runs {
        let (t, code, rss) = run_measured(&bin, dir.path());
        assert_eq!(code, 1);
        times.push(t.as_secs_f64() * 1e3);
        peak = peak.max(rss);
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / runs as f64;
    println!(
        "status --json, {TESTS} tests ({mb:.1} MB), {runs} runs: mean {mean:.1} ms, min {:.1} ms, median {:.1} ms (budget {BUDGET_MS} ms); peak RSS {peak} KB = {:.1} MB (budget {} MB)",
        times[0],
        times[runs / 2],
        peak as f64 / 1024.0,
        BUDGET_KB / 1024
    );
    if mean > BUDGET_MS || peak > BUDGET_KB {
        println!("status --json: OVER BUDGET");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
