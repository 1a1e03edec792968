//! The bundled demo loop (`loopdeck demo`).
//!
//! The demo is not a fake screen: [`play`] writes real report files into a
//! results directory over time, exactly as a loop script and pytest would,
//! so what the user watches is the live path of the app (watcher,
//! incremental read, redraw). Four iterations of a 60-test pytest e2e suite
//! against a staging backend: 403s, then an `asyncio.run()` setup error,
//! then HTTP 500s from a missing `await`, then green. The story lives in
//! `assets/demo/loop.json`; everything in it is deterministic.
//!
//! Layout written (one folder per iteration):
//!
//! ```text
//! iter-001/
//!   iteration.json     issue + started at the start; root cause, fix,
//!                      notes and finished at the end (temp file + rename)
//!   deploy.json        "deploying", then "live" (temp file + rename)
//!   report-log.jsonl   pytest --report-log, appended line by line as tests run
//!   junit.xml          pytest --junitxml (xunit2), written once at the end
//! ```

mod pytest;
mod script;
pub mod sim;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::Serialize;

pub use script::SCRIPT_JSON;

/// Start time of [`write_all`]'s timestamps, so its output is identical on
/// every run (tests, screenshots).
pub const FIXED_START: &str = "2026-03-12T09:00:00Z";

/// Plays the demo loop into `dir` (created if missing), `speed` times faster
/// than the ~60 s story. Blocks until done; returns early, without error,
/// once `stop` is set (checked between writes and at least every 20 ms while
/// waiting; `Thread::unpark` on the playing thread wakes it at once).
/// Timestamps in the files follow the wall clock from now, scaled by speed.
pub fn play(dir: &Path, speed: f64, stop: &AtomicBool) -> io::Result<()> {
    if speed.is_nan() || speed <= 0.0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("demo speed must be positive, got {speed}"),
        ));
    }
    let clock = Clock {
        t0: Utc::now(),
        scale: if speed.is_finite() { 1.0 / speed } else { 1.0 },
        pace: speed.is_finite().then(|| (Instant::now(), speed)),
    };
    run(dir, &clock, stop)
}

/// Writes the whole demo at once, as [`play`] at infinite speed, with
/// timestamps from [`FIXED_START`]: the same bytes every time.
pub fn write_all(dir: &Path) -> io::Result<()> {
    let t0 = DateTime::parse_from_rfc3339(FIXED_START)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc.timestamp_opt(0, 0).unwrap());
    let clock = Clock {
        t0,
        scale: 1.0,
        pace: None,
    };
    run(dir, &clock, &AtomicBool::new(false))
}

/// How long the demo plays at speed 1.
pub fn story_length() -> Duration {
    let Ok(script) = script::load() else {
        return Duration::ZERO;
    };
    let t = &script.timing;
    let mut total = 0.0;
    for i in 0..script.iterations.len() {
        let tests: f64 = script.runs(i).iter().map(|r| r.duration).sum();
        total += t.tests_after + TESTS_LEAD + tests;
        total += if i + 1 == script.iterations.len() {
            t.finish_after_tests
        } else {
            t.next_iteration_after_tests
        };
    }
    Duration::from_secs_f64(total)
}

/// Story seconds between the session header and the first test.
const TESTS_LEAD: f64 = 0.1;
/// Longest single sleep while waiting, so `stop` is seen promptly.
const WAIT_SLICE: Duration = Duration::from_millis(20);

/// Maps story seconds (at speed 1) to waits and to timestamps.
struct Clock {
    t0: DateTime<Utc>,
    /// Timestamp seconds per story second.
    scale: f64,
    /// `Some((start, speed))` to wait in real time; `None` writes at once.
    pace: Option<(Instant, f64)>,
}

impl Clock {
    fn at(&self, story: f64) -> DateTime<Utc> {
        self.t0 + chrono::Duration::microseconds((story * self.scale * 1e6).round() as i64)
    }

    fn unix(&self, story: f64) -> f64 {
        let t = self.at(story);
        let micros = t.timestamp_micros();
        micros as f64 / 1e6
    }

    fn rfc3339(&self, story: f64) -> String {
        self.at(story).to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// Python's `datetime.isoformat()` of an aware UTC time.
    fn isoformat(&self, story: f64) -> String {
        self.at(story)
            .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
            .to_string()
    }

    /// Waits until story time `story`; false when `stop` was set.
    fn wait(&self, story: f64, stop: &AtomicBool) -> bool {
        let Some((start, speed)) = self.pace else {
            return !stop.load(Ordering::Relaxed);
        };
        let deadline = start + Duration::from_secs_f64((story / speed).max(0.0));
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            std::thread::park_timeout((deadline - now).min(WAIT_SLICE));
        }
    }
}

#[derive(Serialize)]
struct IterationFile<'a> {
    issue: Option<&'a str>,
    root_cause: Option<&'a str>,
    fix: Option<&'a str>,
    notes: Option<&'a str>,
    started: Option<&'a str>,
    finished: Option<&'a str>,
}

#[derive(Serialize)]
struct DeployFile<'a> {
    service: &'a str,
    revision: &'a str,
    state: &'a str,
    started: &'a str,
    finished: Option<&'a str>,
    message: &'a str,
}

fn run(dir: &Path, clock: &Clock, stop: &AtomicBool) -> io::Result<()> {
    let script = script::load()?;
    let timing = &script.timing;
    let rootdir_name = script.rootdir.rsplit('/').next().unwrap_or("");
    fs::create_dir_all(dir)?;

    macro_rules! wait {
        ($t:expr) => {
            if !clock.wait($t, stop) {
                return Ok(());
            }
        };
    }

    let mut base = 0.0;
    for (i, it) in script.iterations.iter().enumerate() {
        let runs = script.runs(i);
        let idir = dir.join(format!("iter-{:03}", i + 1));

        wait!(base);
        fs::create_dir_all(&idir)?;
        let started = clock.rfc3339(base);
        write_json(
            &idir.join("iteration.json"),
            &IterationFile {
                issue: Some(&it.issue_at_start),
                root_cause: None,
                fix: None,
                notes: None,
                started: Some(&started),
                finished: None,
            },
        )?;

        let deploy_started = clock.rfc3339(base + timing.deploy_after);
        wait!(base + timing.deploy_after);
        write_json(
            &idir.join("deploy.json"),
            &DeployFile {
                service: &script.service,
                revision: &it.revision,
                state: "deploying",
                started: &deploy_started,
                finished: None,
                message: &it.deploy_message,
            },
        )?;

        wait!(base + timing.live_after);
        let deploy_finished = clock.rfc3339(base + timing.live_after);
        write_json(
            &idir.join("deploy.json"),
            &DeployFile {
                service: &script.service,
                revision: &it.revision,
                state: "live",
                started: &deploy_started,
                finished: Some(&deploy_finished),
                message: &it.live_message,
            },
        )?;

        // The test session: report-log lines as each test finishes.
        let session_start = base + timing.tests_after;
        wait!(session_start);
        let mut log = File::create(idir.join("report-log.jsonl"))?;
        let mut head = pytest::session_start(&script.pytest_version);
        head.push_str(&pytest::collect_report(""));
        for m in &script.modules {
            head.push_str(&pytest::collect_report(&m.path));
        }
        head.push_str(&pytest::collect_report("tests/e2e"));
        head.push_str(&pytest::collect_report("tests"));
        append(&mut log, &head)?;

        let mut t = session_start + TESTS_LEAD;
        let mut scaled = runs.clone();
        for (run, scaled) in runs.iter().zip(scaled.iter_mut()) {
            let d = run.duration;
            let (setup_end, call_end, end) = (t + 0.15 * d, t + 0.9 * d, t + d);
            scaled.duration = (clock.unix(end) - clock.unix(t) + 5e-7).max(0.0);
            let times = [
                (clock.unix(t), clock.unix(setup_end)),
                (clock.unix(setup_end), clock.unix(call_end)),
                (clock.unix(call_end), clock.unix(end)),
            ];
            let mut reports = pytest::test_reports(run, rootdir_name, times).into_iter();
            wait!(setup_end);
            if let Some((_, setup)) = reports.next() {
                append(&mut log, &setup)?;
            }
            wait!(end);
            let rest: String = reports.map(|(_, line)| line).collect();
            append(&mut log, &rest)?;
            t = end;
        }
        let failed = runs.iter().any(|r| r.failure.is_some());
        append(&mut log, &pytest::session_finish(i32::from(failed)))?;
        drop(log);

        wait!(t + timing.junit_after_tests);
        let xml = pytest::junit_xml(&pytest::Session {
            suite_name: &script.suite_name,
            hostname: &script.hostname,
            timestamp: &clock.isoformat(session_start),
            runs: &scaled,
        });
        write_atomic(&idir.join("junit.xml"), xml.as_bytes())?;

        wait!(t + timing.finish_after_tests);
        let finished = clock.rfc3339(t + timing.finish_after_tests);
        write_json(
            &idir.join("iteration.json"),
            &IterationFile {
                issue: Some(&it.issue),
                root_cause: it.root_cause.as_deref(),
                fix: it.fix.as_deref(),
                notes: it.notes.as_deref(),
                started: Some(&started),
                finished: Some(&finished),
            },
        )?;

        base = t + timing.next_iteration_after_tests;
    }
    Ok(())
}

/// Appends whole lines with one write, then flushes.
fn append(file: &mut File, lines: &str) -> io::Result<()> {
    file.write_all(lines.as_bytes())?;
    file.flush()
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Temp file in the same directory (a dot file, so watchers can skip it),
/// then rename: a reader sees the old file or the new one, never half.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".loopdeck-demo-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.flush()?;
    // tempfile creates 0600; results are for every viewer (umask aside).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
