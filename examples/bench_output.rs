//! The slowdown factor of a command printing a lot (1 GB by default) under
//! loopdeck, against the same command with its output sent to a file, and
//! what loopdeck itself spends meanwhile. Needs the release binary:
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example bench_output                  # 1 GB, 3 runs each
//! cargo run --release --example bench_output -- --bytes 300000000 --runs 5
//! cargo run --release --example bench_output -- --command 'head -c 1000000000 /dev/zero | tr "\0" x | fold -w 99'
//! ```
//!
//! In each round, in this order:
//! * **file**: `sh -c '<command> > FILE'`, wall time;
//! * **headless**: `loopdeck test` (stdout to /dev/null) in a project whose
//!   `loopdeck.toml` runs the command; the run's time is the record's
//!   `duration_secs`; loopdeck's CPU is its own user+sys (from
//!   `/proc/PID/stat` of the exited, not yet reaped process: its children
//!   are not in it);
//! * **UI**: `loopdeck` in a pseudo-terminal (100x30), `T` pressed, same
//!   measures; meanwhile `?` is pressed every 100 ms and the time until the
//!   help opens (or closes) on the screen is the key latency. `--poll`
//!   runs the UI with `--poll` (no file events: what the runner and the
//!   screen cost without the watcher's share).
//!
//! Reported: medians over the rounds, ratio = run / file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

fn binary() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/loopdeck");
    assert!(bin.exists(), "build it first: cargo build --release");
    bin
}

fn ticks() -> f64 {
    // SAFETY: plain sysconf.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// User + system seconds of `pid` itself (not of its children).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // After the comm: state is field 3, utime 14, stime 15.
    let utime: f64 = fields[11].parse().unwrap();
    let stime: f64 = fields[12].parse().unwrap();
    (utime + stime) / ticks()
}

/// Waits for `pid` to exit without reaping it, so its /proc entry stays.
fn wait_exited(pid: u32) {
    // SAFETY: waitid on our own child, with a zeroed siginfo to fill.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT);
    }
}

fn project(command: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("results_dir = \"results\"\n[test]\ncommand = '''{command}'''\n");
    std::fs::write(dir.path().join("loopdeck.toml"), toml).unwrap();
    std::fs::write(dir.path().join(".git"), "").unwrap();
    dir
}

/// The run's duration and output size, from its record.
fn record(project: &Path) -> (f64, u64) {
    let runs = std::fs::read_to_string(project.join("results/iter-001/runs.jsonl")).unwrap();
    let fin: serde_json::Value = runs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event"] == "finished")
        .expect("no finished record");
    assert_eq!(fin["exit_code"], 0, "the command failed: {fin}");
    (
        fin["duration_secs"].as_f64().unwrap(),
        fin["output_bytes"].as_u64().unwrap(),
    )
}

fn to_file(command: &str, dir: &Path) -> f64 {
    let file = dir.join("out.txt");
    let t = Instant::now();
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("{command} > '{}'", file.display()))
        .status()
        .unwrap()
        .success();
    let secs = t.elapsed().as_secs_f64();
    assert!(ok);
    std::fs::remove_file(file).unwrap();
    secs
}

fn headless(command: &str) -> (f64, f64, u64) {
    let proj = project(command);
    let mut child = Command::new(binary())
        .arg("test")
        .current_dir(proj.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_exited(child.id());
    let cpu = cpu_secs(child.id());
    assert!(child.wait().unwrap().success());
    let (secs, bytes) = record(proj.path());
    (secs, cpu, bytes)
}

struct Screen {
    parser: vt100::Parser,
    rx: Receiver<Vec<u8>>,
}

impl Screen {
    /// Reads the terminal until `cond` holds; false at the deadline.
    fn until(&mut self, deadline: Instant, cond: impl Fn(&str) -> bool) -> bool {
        loop {
            if cond(&self.parser.screen().contents()) {
                return true;
            }
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(bytes) => self.parser.process(&bytes),
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => panic!("loopdeck exited"),
            }
        }
    }
}

fn ui(command: &str, args: &[String]) -> (f64, f64, u64, Vec<f64>) {
    let proj = project(command);
    let pty = native_pty_system();
    let pair = pty
        .openpty(PtySize {
            rows: 30,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(binary());
    cmd.args(args);
    cmd.cwd(proj.path());
    cmd.env("TERM", "xterm-256color");
    cmd.env("LANG", "C.UTF-8");
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let pid = child.process_id().unwrap();
    let mut reader = pair.master.try_clone_reader().unwrap();
    let mut keys = pair.master.take_writer().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Screen {
        parser: vt100::Parser::new(30, 100, 0),
        rx,
    };
    let wait = Instant::now() + Duration::from_secs(20);
    assert!(screen.until(wait, |s| s.contains("no iteration yet")));
    let cpu0 = cpu_secs(pid);
    keys.write_all(b"T").unwrap();
    keys.flush().unwrap();
    let runs = proj.path().join("results/iter-001/runs.jsonl");
    let finished =
        || std::fs::read_to_string(&runs).is_ok_and(|r| r.contains("\"event\":\"finished\""));
    let mut latencies = Vec::new();
    let mut open = false;
    let end = Instant::now() + Duration::from_secs(600);
    while !finished() {
        assert!(Instant::now() < end, "the run did not finish");
        keys.write_all(b"?").unwrap();
        keys.flush().unwrap();
        let t = Instant::now();
        open = !open;
        let want = open;
        let ok = screen.until(t + Duration::from_secs(10), |s| {
            s.contains("this help") == want
        });
        assert!(ok, "a key went unanswered for 10 s");
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        // Drain the screen for the rest of 100 ms.
        screen.until(t + Duration::from_millis(100), |_| false);
    }
    let cpu = cpu_secs(pid) - cpu0;
    // q closes the help if it is open (it goes back one level), then quits.
    if open {
        keys.write_all(b"q").unwrap();
        keys.flush().unwrap();
        screen.until(Instant::now() + Duration::from_secs(10), |s| {
            !s.contains("this help")
        });
    }
    keys.write_all(b"q").unwrap();
    keys.flush().unwrap();
    let _ = child.wait();
    let (secs, bytes) = record(proj.path());
    (secs, cpu, bytes, latencies)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut bytes: u64 = 1_000_000_000;
    let mut runs = 3;
    let mut command: Option<String> = None;
    let mut ui_args = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bytes" => bytes = args.next().unwrap().parse().unwrap(),
            "--runs" => runs = args.next().unwrap().parse().unwrap(),
            "--command" => command = args.next(),
            "--poll" => ui_args.push("--poll".to_string()),
            _ => panic!("usage: bench_output [--bytes N] [--runs N] [--command CMD] [--poll]"),
        }
    }
    let command = command.unwrap_or_else(|| format!("yes {} | head -c {bytes}", "x".repeat(99)));
    println!("command: {command}");
    let scratch = tempfile::tempdir().unwrap();
    let (mut file, mut head, mut head_cpu, mut gui, mut gui_cpu, mut keys) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for round in 1..=runs {
        let f = to_file(&command, scratch.path());
        let (h, hc, hb) = headless(&command);
        let (u, uc, ub, lat) = ui(&command, &ui_args);
        println!(
            "round {round}: file {f:.2} s | headless {h:.2} s ({:.2}x), loopdeck cpu {hc:.2} s, {hb} bytes | UI {u:.2} s ({:.2}x), loopdeck cpu {uc:.2} s, {ub} bytes, {} keys, slowest {:.0} ms",
            h / f,
            u / f,
            lat.len(),
            lat.iter().copied().fold(0.0, f64::max)
        );
        file.push(f);
        head.push(h);
        head_cpu.push(hc);
        gui.push(u);
        gui_cpu.push(uc);
        keys.extend(lat);
    }
    let (f, h, u) = (median(file), median(head), median(gui));
    let (hc, uc) = (median(head_cpu), median(gui_cpu));
    let n = keys.len();
    let mut k = keys.clone();
    k.sort_by(f64::total_cmp);
    println!("median over {runs} rounds:");
    println!("  to a file          {f:.2} s");
    println!(
        "  loopdeck test      {h:.2} s  = {:.2}x; loopdeck's own cpu {hc:.2} s ({:.0}% of a core)",
        h / f,
        100.0 * hc / h
    );
    println!(
        "  UI, T              {u:.2} s  = {:.2}x; loopdeck's own cpu {uc:.2} s ({:.0}% of a core)",
        u / f,
        100.0 * uc / u
    );
    if n > 0 {
        println!(
            "  keys during UI runs: {n}, p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
            k[n / 2],
            k[(n * 95 / 100).min(n - 1)],
            k[n - 1]
        );
    }
}
