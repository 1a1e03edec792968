//! Runs the loop's commands the same way for the UI and the headless
//! subcommands: take the lock, pick or create the iteration folder, record
//! the deploy in deploy.json, expand the command, hand it to the runner.
//! Everything it does is written into the results directory first, so any
//! other loopdeck watching the directory sees the run live.
//!
//! # After a loopdeck was killed mid-run
//!
//! `kill -9` (or the OOM killer) cannot be caught: the run's processes go
//! on, its `started` line stays without a `finished` one, and a deploy's
//! `deploy.json` says `deploying`. Holding the lock, [`start`] first looks
//! for such a run: a run of the latest iteration's `runs.jsonl`, started on
//! this host, with no `finished` line (the lock is free, so no loopdeck is
//! running it). Its processes are found by the root's pid + start time
//! (`pid_start` in the `started` line) and by the run's mark (see
//! [`runner::tree`]).
//!
//! * While any of them lives, no run starts: the refusal names the run and
//!   its pids and says that `loopdeck cancel` ends them ([`interrupted`],
//!   [`refusal`]).
//! * `loopdeck cancel` ends them (SIGTERM, the `[cancel] grace`, SIGKILL).
//! * Once they are gone (ended by `cancel`, or by themselves), the run is
//!   reconciled ([`reconcile`]): a `finished` line with `"interrupted":true`,
//!   `cancelled`, and an `error` saying what happened is appended (plus an
//!   outcome line in the log), and a `deploying` `deploy.json` becomes
//!   `cancelled` (its processes were ended) or `failed` (they were gone)
//!   with that message. `start` does this by itself before starting.
//!
//! Runs started on another host are left alone: their pids mean nothing
//! here.

use std::path::{Path, PathBuf};

use chrono::Utc;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::config::{self, Config, Vars};
use crate::headless::write_atomic;
use crate::lock;
use crate::model::{DeployState, Deployment, RunKind, RunRecord};
use crate::results::{Store, digit_runs, iteration_number};
use crate::runner::{self, RunEvent, RunHandle, RunSpec};

/// Starts `kind` for the loop `config` describes. Events (started, output
/// grew, finished) go to `tx`; the output goes to the iteration's log and to
/// `echo`; the returned handle cancels the run, and dropping it kills the
/// run's processes (group and tree) at once.
///
/// Refused (besides a held lock) while a run whose loopdeck was killed
/// still has processes alive; such a run whose processes are gone is
/// recorded as interrupted first (see the module docs).
///
/// Blocking: it takes the lock and reads and writes the results directory
/// (the iteration it runs in, and `deploy.json` files newest first). The
/// UI calls it off its task; it must be called inside a tokio runtime.
pub fn start(
    config: &Config,
    kind: RunKind,
    next_iteration: bool,
    echo: runner::Echo,
    tx: UnboundedSender<RunEvent>,
) -> Result<RunHandle, String> {
    let command = match kind {
        RunKind::Test => config.test.as_ref(),
        RunKind::Deploy => config.deploy.as_ref(),
        RunKind::RerunFailed => config.rerun_failed.as_ref(),
    }
    .ok_or_else(|| {
        format!(
            "no [{}] command in {}",
            kind.as_str(),
            config.path.display()
        )
    })?;

    // One run at a time per results directory, across processes and hosts.
    std::fs::create_dir_all(&config.results_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.results_dir.display()))?;
    let guard = lock::try_acquire(&config.results_dir, kind.as_str()).map_err(|e| e.to_string())?;
    // A run whose loopdeck was killed: refused while its processes live,
    // recorded as interrupted once they are gone.
    let left = interrupted(&config.results_dir);
    if left.iter().any(|i| !i.alive.is_empty()) {
        return Err(refusal(&left));
    }
    for i in &left {
        reconcile(&config.results_dir, i, None)?;
    }

    let (dir, number) = iteration_for(&config.results_dir, next_iteration)?;
    let latest_deploy = last_deploy(&config.results_dir);
    let mut vars = Vars {
        iteration_dir: dir.clone(),
        iteration: number,
        results_dir: config.results_dir.clone(),
        service: config.service.clone(),
        revision: latest_deploy
            .as_ref()
            .and_then(|d| d.revision.as_deref())
            .map(crate::sanitize::line),
        ..Vars::default()
    };
    if kind == RunKind::RerunFailed {
        let ids = failing_ids(&config.results_dir, &dir);
        if ids.is_empty() {
            return Err("no failing tests to rerun in the latest iteration".into());
        }
        vars.failed_ids_file =
            Some(config::write_failed_ids(&dir, &ids).map_err(|e| format!("cannot rerun: {e}"))?);
        vars.failed_ids = ids;
    }
    let line = config::expand(&command.command, &vars)?;
    let mut env = config.env.clone();
    env.extend(config::env_for(&vars));

    if kind == RunKind::Deploy {
        let deploying = Deployment {
            service: config.service.clone(),
            revision: None,
            state: DeployState::Deploying,
            started: Some(Utc::now().to_rfc3339()),
            finished: None,
            message: None,
        };
        write_deploy(&dir, &deploying)?;
    }

    let spec = RunSpec {
        kind,
        command: line,
        cwd: Some(config.workdir.clone()),
        env,
        timeout: command.timeout,
        grace: config.grace,
        log_path: dir.join(kind.log_name()),
        runs_path: dir.join("runs.jsonl"),
        revision_pattern: if kind == RunKind::Deploy {
            config.revision_pattern.clone()
        } else {
            None
        },
        revision: if kind == RunKind::Deploy {
            None
        } else {
            vars.revision.clone()
        },
        echo,
    };
    let (itx, mut irx) = unbounded_channel();
    let handle =
        runner::spawn(spec, itx).map_err(|e| format!("cannot start the {}: {e}", kind.label()))?;
    let service = config.service.clone();
    tokio::spawn(async move {
        // The lock is held until the run has finished and been recorded.
        let _guard = guard;
        while let Some(ev) = irx.recv().await {
            if let RunEvent::Finished(record) = &ev
                && record.kind == RunKind::Deploy
                && let Err(e) = write_deploy(&dir, &finished_deploy(service.clone(), record))
            {
                tracing::warn!("{e}");
            }
            // The receiver may be gone (headless caller exited): keep draining.
            let _ = tx.send(ev);
        }
    });
    Ok(handle)
}

fn finished_deploy(service: Option<String>, record: &RunRecord) -> Deployment {
    let state = if record.succeeded() {
        DeployState::Live
    } else if record.cancelled {
        DeployState::Cancelled
    } else {
        DeployState::Failed
    };
    let message = if record.succeeded() {
        None
    } else if let Some(e) = &record.error {
        Some(e.clone())
    } else if record.timed_out {
        Some("timed out".into())
    } else if record.cancelled {
        Some("cancelled".into())
    } else {
        record
            .exit_code
            .map(|c| format!("deploy command exited with {c}"))
    };
    Deployment {
        service,
        revision: record.revision.clone(),
        state,
        started: Some(record.started.to_rfc3339()),
        finished: record.finished.map(|f| f.to_rfc3339()),
        message,
    }
}

fn write_deploy(dir: &Path, d: &Deployment) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(d).map_err(|e| e.to_string())?;
    write_atomic(&dir.join("deploy.json"), &json)
        .map_err(|e| format!("cannot write {}/deploy.json: {e}", dir.display()))
}

/// A run whose loopdeck ended without recording its end.
#[derive(Debug, Clone)]
pub struct Interrupted {
    /// Its iteration folder.
    pub dir: PathBuf,
    pub record: RunRecord,
    /// Its processes as recorded: root pid + start time, and its mark.
    pub tree: runner::tree::Run,
    /// Those of them alive now.
    pub alive: Vec<runner::tree::Proc>,
}

/// The runs of the latest iteration that were started on this host and
/// have no `finished` line, with their processes still alive. Only
/// meaningful while holding the lock (otherwise a running run looks the
/// same).
pub fn interrupted(results_dir: &Path) -> Vec<Interrupted> {
    let Ok(Some((_, dir))) = latest_iteration(results_dir) else {
        return Vec::new();
    };
    let host = lock::hostname();
    runner::record::read_recorded(&dir.join("runs.jsonl"))
        .into_iter()
        .filter(|r| r.record.finished.is_none() && r.record.host == host)
        .map(|r| {
            let root = i32::try_from(r.record.pid).ok().filter(|&p| p > 1);
            let tree = runner::tree::Run {
                id: r.record.id.clone(),
                root: root.zip(r.pid_start),
            };
            Interrupted {
                dir: dir.clone(),
                alive: tree.alive(),
                tree,
                record: r.record,
            }
        })
        .collect()
}

/// Why no run starts while an interrupted run's processes live.
pub fn refusal(left: &[Interrupted]) -> String {
    let runs: Vec<String> = left
        .iter()
        .filter(|i| !i.alive.is_empty())
        .map(|i| {
            format!(
                "pids {} of an unfinished {} still run (its loopdeck was killed?): `loopdeck cancel` ends them ({}, started {})",
                runner::tree::pid_list(&i.alive),
                i.record.kind.label(),
                i.record.id,
                i.record.started.format("%Y-%m-%d %H:%M:%SZ"),
            )
        })
        .collect();
    runs.join("; ")
}

/// Records an interrupted run whose processes are gone: ended by `loopdeck
/// cancel` with `signal` (its last signal), or gone by themselves (`None`).
pub fn reconcile(results_dir: &Path, i: &Interrupted, signal: Option<i32>) -> Result<(), String> {
    let now = Utc::now();
    let mut rec = i.record.clone();
    rec.finished = Some(now);
    rec.duration_secs = Some((now - rec.started).num_milliseconds().max(0) as f64 / 1000.0);
    rec.cancelled = true;
    rec.exit_code = None;
    rec.signal = signal;
    rec.error = Some(match signal {
        Some(_) => "interrupted: the loopdeck running it ended without finishing it; `loopdeck cancel` ended its processes".into(),
        None => "interrupted: the loopdeck running it ended without finishing it; its processes were gone".into(),
    });
    let log = i.dir.join(rec.kind.log_name());
    runner::record_interrupted(&log, &i.dir.join("runs.jsonl"), &rec)
        .map_err(|e| format!("cannot record the interrupted {}: {e}", rec.kind.label()))?;
    if rec.kind == RunKind::Deploy
        && let Some(mut d) = Store::read_deploy(results_dir, &i.dir)
        && d.state == DeployState::Deploying
    {
        d.state = if signal.is_some() {
            DeployState::Cancelled
        } else {
            DeployState::Failed
        };
        d.finished = Some(now.to_rfc3339());
        d.message = rec.error.clone();
        write_deploy(&i.dir, &d)?;
    }
    Ok(())
}

/// The latest iteration folder (highest number), if any.
fn latest_iteration(results_dir: &Path) -> Result<Option<(u64, PathBuf)>, String> {
    let mut latest: Option<(u64, PathBuf)> = None;
    let entries = std::fs::read_dir(results_dir)
        .map_err(|e| format!("cannot read {}: {e}", results_dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if let Some(n) = iteration_number(&name)
            && latest.as_ref().is_none_or(|(m, _)| n > *m)
        {
            latest = Some((n, entry.path()));
        }
    }
    Ok(latest)
}

/// The folder the run writes into: the latest iteration, or a new one
/// (`iter-NNN`, one past the highest number) for `next` or an empty loop.
pub fn iteration_for(results_dir: &Path, next: bool) -> Result<(PathBuf, u64), String> {
    let latest = latest_iteration(results_dir)?;
    match latest {
        Some((n, path)) if !next => Ok((path, n)),
        _ => {
            let n = latest.map_or(1, |(n, _)| n + 1);
            let path = results_dir.join(format!("iter-{n:03}"));
            std::fs::create_dir_all(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            let started = serde_json::json!({ "started": Utc::now().to_rfc3339() });
            write_atomic(&path.join("iteration.json"), started.to_string().as_bytes())
                .map_err(|e| format!("cannot write {}/iteration.json: {e}", path.display()))?;
            Ok((path, n))
        }
    }
}

/// The most recent deploy.json of the loop (the revision tests run
/// against): the newest iteration that has a readable one. Reads only
/// `deploy.json` files, newest first, and stops at the first.
fn last_deploy(results_dir: &Path) -> Option<Deployment> {
    let mut folders: Vec<(Vec<u64>, String)> = std::fs::read_dir(results_dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.') && iteration_number(name).is_some())
        .map(|name| (digit_runs(&name), name))
        .collect();
    folders.sort();
    folders
        .iter()
        .rev()
        .map(|(_, name)| results_dir.join(name))
        .find_map(|dir| Store::read_deploy(results_dir, &dir))
}

/// Failing test ids of the iteration in `dir`, as the reports name them.
/// Reads that iteration only.
fn failing_ids(results_dir: &Path, dir: &Path) -> Vec<String> {
    let Ok(Some(it)) = Store::read_iteration(results_dir, dir) else {
        return Vec::new();
    };
    it.tests
        .iter()
        .filter(|t| t.outcome.is_failing())
        .map(|t| t.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_deploy_is_the_newest_readable_one_numbers_compared_as_numbers() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let deploy = |dir: &str, json: &str| {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            std::fs::write(root.join(dir).join("deploy.json"), json).unwrap();
        };
        assert_eq!(last_deploy(root), None);
        deploy("iter-2", r#"{"revision":"r-2","state":"live"}"#);
        deploy("iter-10", r#"{"revision":"r-10\u001b[31m","state":"live"}"#);
        std::fs::create_dir_all(root.join("iter-11")).unwrap(); // none yet
        let d = last_deploy(root).unwrap();
        assert_eq!(
            d.revision.as_deref(),
            Some("r-10\x1b[31m"),
            "as in the file"
        );
        // A broken one is passed over, as the store would.
        deploy("iter-10", "{broken");
        assert_eq!(last_deploy(root).unwrap().revision.as_deref(), Some("r-2"));
    }

    #[test]
    fn failing_ids_come_from_the_one_iteration() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let junit = |dir: &str, name: &str| {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            std::fs::write(
                root.join(dir).join("junit.xml"),
                format!(
                    r#"<testsuite name="s" tests="2"><testcase classname="t" name="ok"/><testcase classname="t" name="{name}"><failure message="x">x</failure></testcase></testsuite>"#
                ),
            )
            .unwrap();
        };
        junit("iter-1", "old_failure");
        junit("iter-2", "new_failure");
        let ids = failing_ids(root, &root.join("iter-2"));
        assert_eq!(ids.len(), 1);
        assert!(ids[0].contains("new_failure"), "{ids:?}");
        assert!(failing_ids(root, &root.join("iter-3")).is_empty());
    }
}
