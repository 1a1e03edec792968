//! The loop without the UI: subcommands for scripts and agents. They write
//! exactly what the UI writes, so a loop driven by a script is watched live.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr, eyre};

use crate::model::IterationMeta;
use crate::results::Store;

/// Fields of `loopdeck note`; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Note {
    pub issue: Option<String>,
    pub root_cause: Option<String>,
    pub fix: Option<String>,
    pub notes: Option<String>,
}

/// Writes the note into the iteration's `iteration.json`, keeping what is
/// already there, atomically (temp file + rename: a viewer never reads half).
pub fn note(results_dir: &Path, iteration: Option<&str>, note: Note) -> Result<PathBuf> {
    if [&note.issue, &note.root_cause, &note.fix, &note.notes]
        .iter()
        .all(|v| v.is_none())
    {
        return Err(eyre!(
            "nothing to write: give --issue, --root-cause, --fix or --notes"
        ));
    }
    let dir = iteration_dir(results_dir, iteration)?;
    let path = dir.join("iteration.json");
    let mut value: serde_json::Value = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).wrap_err_with(|| {
            format!("{} is not valid JSON; not overwriting it", path.display())
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => return Err(e).wrap_err_with(|| format!("cannot read {}", path.display())),
    };
    let obj = value.as_object_mut().ok_or_else(|| {
        eyre!(
            "{} is not a JSON object; not overwriting it",
            path.display()
        )
    })?;
    let fields = [
        ("issue", note.issue),
        ("root_cause", note.root_cause),
        ("fix", note.fix),
        ("notes", note.notes),
    ];
    for (key, v) in fields {
        if let Some(v) = v {
            obj.insert(key.into(), serde_json::Value::String(v));
        }
    }
    // What we write must stay readable by the viewer.
    serde_json::from_value::<IterationMeta>(value.clone())
        .wrap_err("iteration.json would not be readable")?;
    write_atomic(&path, serde_json::to_string_pretty(&value)?.as_bytes())?;
    Ok(path)
}

/// The folder of an iteration: by number or folder name, else the latest.
/// A results directory with no iteration yet gets `iter-001`.
pub fn iteration_dir(results_dir: &Path, iteration: Option<&str>) -> Result<PathBuf> {
    let (_, iterations) = Store::read_all(results_dir)
        .wrap_err_with(|| format!("cannot read results directory {}", results_dir.display()))?;
    match crate::status::select(&iterations, iteration).map_err(|e| eyre!(e))? {
        Some(it) => Ok(it.path.clone()),
        None => {
            let dir = results_dir.join("iter-001");
            std::fs::create_dir_all(&dir)?;
            Ok(dir)
        }
    }
}

/// Writes a file so that readers see the old or the new content, never half.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".loopdeck-")
        .tempfile_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Exit codes of `loopdeck test`, `deploy` and `next` (documented in the README).
pub const EXIT_OK: i32 = 0;
pub const EXIT_COMMAND_FAILED: i32 = 1;
pub const EXIT_NOT_STARTED: i32 = 2;

/// Exit codes of `loopdeck cancel` (documented in the README): 0 nothing of
/// an interrupted run is left (its processes were ended, or there were
/// none) and its records say interrupted; 1 some of its processes could not
/// be ended (the records are left as they are); 2 nothing was done: no
/// config, a loopdeck is running a run right now (the lock is held: cancel
/// it there), or the records could not be written.
pub const EXIT_CANCEL_OK: i32 = 0;
pub const EXIT_CANCEL_LEFT: i32 = 1;
pub const EXIT_CANCEL_NOT_DONE: i32 = 2;

/// `loopdeck cancel`: ends the processes of runs whose loopdeck was killed
/// (SIGTERM, the `[cancel] grace`, SIGKILL) and records those runs as
/// interrupted (see [`crate::driver`]). Returns the exit code.
pub fn cancel(config: &crate::config::Config) -> i32 {
    use crate::runner::tree;
    let root = &config.results_dir;
    if !root.is_dir() {
        eprintln!(
            "loopdeck: nothing to cancel: {} does not exist",
            root.display()
        );
        return EXIT_CANCEL_OK;
    }
    let _guard = match crate::lock::try_acquire(root, "cancel") {
        Ok(g) => g,
        Err(e) => {
            eprintln!(
                "loopdeck: cannot cancel: the lock is {}; a loopdeck is running it: cancel it there (X in its UI, Ctrl-C or SIGTERM to `loopdeck test/deploy/next`)",
                crate::sanitize::line(&e.to_string())
            );
            return EXIT_CANCEL_NOT_DONE;
        }
    };
    let found = crate::driver::interrupted(root);
    if found.is_empty() {
        eprintln!("loopdeck: nothing to cancel: no interrupted run in the latest iteration");
        return EXIT_CANCEL_OK;
    }
    for i in found.iter().filter(|i| !i.alive.is_empty()) {
        eprintln!(
            "loopdeck: ending the interrupted {} {}: pids {}",
            i.record.kind.label(),
            i.record.id,
            tree::pid_list(&i.alive)
        );
    }
    let runs: Vec<tree::Run> = found.iter().map(|i| i.tree.clone()).collect();
    let (last, left) = tree::terminate_blocking(&runs, config.grace, false);
    if !left.is_empty() {
        eprintln!(
            "loopdeck: could not end pids {} (another user's?); the records are left as they are",
            tree::pid_list(&left)
        );
        return EXIT_CANCEL_LEFT;
    }
    let mut code = EXIT_CANCEL_OK;
    for i in &found {
        match crate::driver::reconcile(root, i, last) {
            Ok(()) => eprintln!(
                "loopdeck: recorded the {} {} as interrupted",
                i.record.kind.label(),
                i.record.id
            ),
            Err(e) => {
                eprintln!("loopdeck: {}", crate::sanitize::line(&e));
                code = EXIT_CANCEL_NOT_DONE;
            }
        }
    }
    code
}

/// Runs `kind` (and for `next`, the tests after a good deploy) the way the UI
/// does, printing the output as it streams. Ctrl-C, SIGTERM or SIGHUP
/// cancels the run (its whole process tree, see `runner::tree`) and waits
/// for its record. Returns the exit code.
pub fn run(
    config: &crate::config::Config,
    kind: crate::model::RunKind,
    next: bool,
    json: bool,
) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loopdeck: {e}");
            return EXIT_NOT_STARTED;
        }
    };
    rt.block_on(async {
        let mut records = Vec::new();
        let first = run_one(config, kind, next).await;
        let code = match first {
            Err(reason) => {
                eprintln!(
                    "loopdeck: {} not started: {}",
                    kind.label(),
                    crate::sanitize::line(&reason)
                );
                EXIT_NOT_STARTED
            }
            Ok(record) => {
                let ok = record.succeeded();
                records.push(record);
                if ok && kind == crate::model::RunKind::RerunFailed {
                    eprintln!(
                        "loopdeck: the green of a rerun is provisional: `loopdeck test` runs the full suite to confirm it"
                    );
                }
                if ok && next {
                    match run_one(config, crate::model::RunKind::Test, false).await {
                        Ok(r) => {
                            let ok = r.succeeded();
                            records.push(r);
                            if ok { EXIT_OK } else { EXIT_COMMAND_FAILED }
                        }
                        Err(reason) => {
                            eprintln!(
                                "loopdeck: tests not started: {}",
                                crate::sanitize::line(&reason)
                            );
                            EXIT_NOT_STARTED
                        }
                    }
                } else if ok {
                    EXIT_OK
                } else {
                    EXIT_COMMAND_FAILED
                }
            }
        };
        if json {
            let out = if records.len() == 1 {
                serde_json::to_string(&records[0])
            } else {
                serde_json::to_string(&records)
            };
            println!("{}", out.unwrap_or_default());
        }
        code
    })
}

async fn run_one(
    config: &crate::config::Config,
    kind: crate::model::RunKind,
    next_iteration: bool,
) -> std::result::Result<crate::model::RunRecord, String> {
    use crate::runner::RunEvent;
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The output goes to stdout as the log gets it (loopdeck's own lines
    // included); escape sequences from the command reach a terminal only
    // sanitized. Piped or redirected, stdout gets the log's bytes as they are.
    let echo = if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        crate::runner::Echo::Sanitized
    } else {
        crate::runner::Echo::Raw
    };
    let handle = crate::driver::start(config, kind, next_iteration, echo, tx)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut sighup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(RunEvent::Started { id, pid }) => eprintln!("loopdeck: {} started ({id}, pid {pid})", kind.label()),
                // Printed by the runner (see `echo` above).
                Some(RunEvent::Line(_) | RunEvent::Output { .. }) => {}
                Some(RunEvent::Finished(record)) => {
                    let took = record.duration_secs.map_or(String::new(), |d| format!(" in {}", crate::model::duration_text(d as i64)));
                    eprintln!("loopdeck: {} {}{took}", kind.label(), record.outcome_word());
                    return Ok(*record);
                }
                None => return Err("the runner stopped without a record".into()),
            },
            _ = sigint.recv() => handle.cancel(),
            _ = sigterm.recv() => handle.cancel(),
            _ = sighup.recv() => handle.cancel(),
        }
    }
}
