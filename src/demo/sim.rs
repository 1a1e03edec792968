//! The demo's deploy and test commands. `loopdeck demo` writes a
//! loopdeck.toml whose commands are loopdeck itself in this simulation mode,
//! so `D`, `T` and `N` in the demo run real child processes through the same
//! runner, lock and records as a real loop.

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

/// A test run: streams a pytest report-log of the whole suite (the green
/// run of the story) into `dir`, prints pytest-like progress, then writes
/// the JUnit file. Exit status as pytest's: 0 when everything passed.
pub fn tests(dir: &Path, speed: f64) -> io::Result<bool> {
    let script = script::load()?;
    let last = script.iterations.len() - 1;
    let runs = script.runs(last);
    let clock = Clock {
        t0: Utc::now(),
        scale: 1.0 / speed,
        pace: Some((std::time::Instant::now(), speed)),
    };
    let stop = AtomicBool::new(false);
    std::fs::create_dir_all(dir)?;
    let mut log = File::create(dir.join("report-log.jsonl"))?;
    let mut head = pytest::session_start(&script.pytest_version);
    for m in &script.modules {
        head.push_str(&pytest::collect_report(&m.path));
    }
    append(&mut log, &head)?;
    let mut out = io::stdout().lock();
    writeln!(out, "collected {} items", runs.len())?;
    let rootdir_name = script.rootdir.rsplit('/').next().unwrap_or("");
    let mut t = 0.1;
    let mut module = String::new();
    for run in &runs {
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
    let xml = pytest::junit_xml(&pytest::Session {
        suite_name: &script.suite_name,
        hostname: &script.hostname,
        timestamp: &clock.isoformat(0.0),
        runs: &runs,
    });
    write_atomic(&dir.join("junit.xml"), xml.as_bytes())?;
    let passed = runs.len() - runs.iter().filter(|r| r.failure.is_some()).count();
    writeln!(out, "\n\n{passed} passed, {} failed", runs.len() - passed)?;
    Ok(!failed)
}
