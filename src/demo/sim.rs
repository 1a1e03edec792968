//! The demo's deploy and test commands. `loopdeck demo` writes a
//! loopdeck.toml whose commands are loopdeck itself in this simulation mode,
//! so `D`, `T`, `N` and `R` in the demo run real child processes through the
//! same runner, lock and records as a real loop.
//!
//! The first test run of an iteration has two flaky websocket timeouts (as
//! real e2e suites do); `R` reruns just those, and they pass, which makes
//! the green provisional until `T` runs everything again.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::Utc;

use super::{Clock, append, pytest, script, write_atomic};

/// A deploy: prints build and rollout progress and the line the demo's
/// `revision_pattern` picks up. The revision follows the iteration number.
pub fn deploy(iteration: u64, speed: f64) -> io::Result<()> {
    let revision = format!(
        "{:05}-{}",
        92 + iteration,
        &format!("{:x}", script::hash(&[&iteration.to_string()]))[..3]
    );
    let step = Duration::from_secs_f64(0.6 / speed.max(0.01));
    let mut out = io::stdout().lock();
    for line in [
        "Building image backend:e2e-fix".to_string(),
        "Step 1/4 : FROM python:3.12-slim".into(),
        "Step 4/4 : CMD [\"uvicorn\", \"relay.api:app\"]".into(),
        "Pushing image (412 MB)".into(),
        format!("Creating revision {revision}"),
        "Routing traffic: 0% -> 100%".into(),
    ] {
        writeln!(out, "{line}")?;
        out.flush()?;
        std::thread::sleep(step);
    }
    writeln!(out, "revision {revision} is live")?;
    Ok(())
}

/// How many tests the first run of an iteration loses to flaky timeouts.
const FLAKY: usize = 2;

/// The tests of the green run of the story; on the first run of an
/// iteration (no JUnit file in `dir` yet), [`FLAKY`] of them time out.
fn suite(script: &script::Script, dir: &Path) -> Vec<script::TestRun> {
    let last = script.iterations.len() - 1;
    let mut runs = script.runs(last);
    if !dir.join("junit.xml").exists() {
        // The same two every time: the tests whose names hash lowest.
        let mut order: Vec<usize> = (0..runs.len()).collect();
        order.sort_by_key(|&i| script::hash(&[&runs[i].nodeid, "flaky"]));
        for &i in order.iter().take(FLAKY) {
            let run = &mut runs[i];
            run.duration += 5.0;
            run.failure = Some(script::Failure {
                when: script::When::Call,
                message: "TimeoutError: no websocket frame within 5.0s".into(),
                crash_path: format!("{}/tests/e2e/ws.py", script.rootdir),
                crash_line: 88,
                entries: Vec::new(),
                stdout: String::new(),
                stderr: "websocket: ping timeout (flaky network on staging)\n".into(),
            });
        }
    }
    runs
}

/// A rerun of the failing tests: the ids in `ids_file` (one a line, as
/// loopdeck writes `{failed_ids_file}`) run again and pass, streamed into
/// `dir/rerun.jsonl`. Ids the suite does not have are reported and skipped.
pub fn rerun(dir: &Path, ids_file: &Path, speed: f64) -> io::Result<()> {
    let script = script::load()?;
    let wanted = std::fs::read_to_string(ids_file)?;
    let last = script.iterations.len() - 1;
    let all = script.runs(last);
    let mut out = io::stdout().lock();
    let mut runs = Vec::new();
    for id in wanted.lines().filter(|l| !l.is_empty()) {
        match all.iter().find(|r| r.nodeid == id) {
            Some(r) => runs.push(r.clone()),
            None => writeln!(out, "not in the demo suite: {}", crate::sanitize::line(id))?,
        }
    }
    stream(&script, dir, "rerun.jsonl", &runs, speed, &mut out)?;
    writeln!(out, "\n\n{} passed (rerun)", runs.len())?;
    Ok(())
}

/// A test run: streams a pytest report-log of the whole suite (the green
/// run of the story, or two flaky failures on the first run of an
/// iteration) into `dir`, prints pytest-like progress, then writes the
/// JUnit file. Exit status as pytest's: 0 when everything passed.
pub fn tests(dir: &Path, speed: f64) -> io::Result<bool> {
    let script = script::load()?;
    let runs = suite(&script, dir);
    let mut out = io::stdout().lock();
    let clock = stream(&script, dir, "report-log.jsonl", &runs, speed, &mut out)?;
    let xml = pytest::junit_xml(&pytest::Session {
        suite_name: &script.suite_name,
        hostname: &script.hostname,
        timestamp: &clock.isoformat(0.0),
        runs: &runs,
    });
    write_atomic(&dir.join("junit.xml"), xml.as_bytes())?;
    let failed = runs.iter().filter(|r| r.failure.is_some()).count();
    writeln!(out, "\n\n{} passed, {failed} failed", runs.len() - failed)?;
    Ok(failed == 0)
}

/// Streams `runs` as a pytest report-log `name` in `dir`, paced like the
/// real thing, printing pytest's progress dots.
fn stream(
    script: &script::Script,
    dir: &Path,
    name: &str,
    runs: &[script::TestRun],
    speed: f64,
    out: &mut impl Write,
) -> io::Result<Clock> {
    let clock = Clock {
        t0: Utc::now(),
        scale: 1.0 / speed,
        pace: Some((std::time::Instant::now(), speed)),
    };
    let stop = AtomicBool::new(false);
    std::fs::create_dir_all(dir)?;
    let mut log = File::create(dir.join(name))?;
    let mut head = pytest::session_start(&script.pytest_version);
    for m in &script.modules {
        head.push_str(&pytest::collect_report(&m.path));
    }
    append(&mut log, &head)?;
    writeln!(out, "collected {} items", runs.len())?;
    let rootdir_name = script.rootdir.rsplit('/').next().unwrap_or("");
    let mut t = 0.1;
    let mut module = String::new();
    for run in runs {
        if run.module != module {
            module = run.module.clone();
            write!(out, "\n{module} ")?;
        }
        let end = t + run.duration;
        let times = [
            (clock.unix(t), clock.unix(t)),
            (clock.unix(t), clock.unix(end)),
            (clock.unix(end), clock.unix(end)),
        ];
        clock.wait(end, &stop);
        let lines: String = pytest::test_reports(run, rootdir_name, times)
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        append(&mut log, &lines)?;
        write!(out, "{}", if run.failure.is_some() { "F" } else { "." })?;
        out.flush()?;
        t = end;
    }
    let failed = runs.iter().any(|r| r.failure.is_some());
    append(&mut log, &pytest::session_finish(i32::from(failed)))?;
    Ok(clock)
}
