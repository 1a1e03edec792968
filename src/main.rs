//! CLI dispatch, error and panic hooks. Everything else lives in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use color_eyre::eyre::{Result, eyre};

use loopdeck::cli::{Cli, Command, DemoSim, ViewArgs};
use loopdeck::config::{self, Config};
use loopdeck::model::RunKind;
use loopdeck::results::Store;
use loopdeck::terminal::{self, ViewOptions};
use loopdeck::{demo, headless, sanitize, status};

fn main() -> ExitCode {
    // Orphans among the runs' descendants (a double-forked daemon) are
    // re-parented to loopdeck, not init: still in reach, and reaped here.
    loopdeck::runner::tree::set_subreaper();
    // color-eyre first: ratatui::init() chains its restoring panic hook in front of it.
    if let Err(e) = color_eyre::install() {
        eprintln!("loopdeck: {e}");
    }
    // On a panic anywhere, no command loopdeck started may outlive it.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        loopdeck::runner::kill_all();
        report(info);
    }));
    let cli = Cli::parse();
    let _log_guard = cli.log_file.as_deref().and_then(init_logging);
    let result = match cli.command {
        Some(Command::Status {
            dir,
            json,
            iteration,
            goal,
        }) => {
            let target = match find_loop(dir, goal, cli.config.as_deref(), true) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("loopdeck: {e:#}");
                    return ExitCode::from(status::EXIT_UNREADABLE as u8);
                }
            };
            return status_command(&target.dir, json, iteration.as_deref(), target.goal);
        }
        Some(Command::Watch { dir, view }) => {
            find_loop(dir, view.goal, cli.config.as_deref(), cli.read_only)
                .and_then(|t| watch(t, view))
        }
        Some(Command::Note {
            iteration,
            issue,
            root_cause,
            fix,
            notes,
            dir,
        }) => {
            let dir = match find_loop(dir, None, cli.config.as_deref(), true) {
                Ok(t) => t.dir,
                Err(e) => {
                    eprintln!("loopdeck: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            let note = headless::Note {
                issue,
                root_cause,
                fix,
                notes,
            };
            headless::note(&dir, iteration.as_deref(), note)
                .map(|path| println!("wrote {}", path.display()))
        }
        Some(Command::Init { force }) => std::env::current_dir()
            .map_err(|e| eyre!("no current directory: {e}"))
            .and_then(|cwd| loopdeck::config::init(&cwd, force).map_err(|e| eyre!(e)))
            .map(|path| {
                println!(
                    "wrote {}: fill in the [test] and [deploy] commands",
                    path.display()
                )
            }),
        Some(Command::Test { failed, json }) => {
            let kind = if failed {
                RunKind::RerunFailed
            } else {
                RunKind::Test
            };
            return headless_run(cli.config.as_deref(), kind, false, json);
        }
        Some(Command::Deploy { json }) => {
            return headless_run(cli.config.as_deref(), RunKind::Deploy, false, json);
        }
        Some(Command::Next { json }) => {
            return headless_run(cli.config.as_deref(), RunKind::Deploy, true, json);
        }
        Some(Command::Cancel) => {
            return match command_config(cli.config.as_deref(), headless::EXIT_CANCEL_NOT_DONE) {
                Ok(config) => ExitCode::from(headless::cancel(&config) as u8),
                Err(code) => code,
            };
        }
        Some(Command::Demo { speed, dir }) => run_demo(speed, dir),
        Some(Command::Completions { shell }) => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&loopdeck::cli::completions(shell))
                .map_err(|e| eyre!("{e}"))
        }
        Some(Command::Man) => loopdeck::cli::man_page()
            .and_then(|page| std::io::Write::write_all(&mut std::io::stdout(), &page))
            .map_err(|e| eyre!("{e}")),
        Some(Command::DemoSim { what, speed }) => {
            let speed = if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            };
            return match what {
                DemoSim::Deploy { iteration } => match demo::sim::deploy(iteration, speed) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(_) => ExitCode::FAILURE,
                },
                DemoSim::Rerun { dir, ids_file } => {
                    match demo::sim::rerun(&dir, &ids_file, speed) {
                        Ok(_) => ExitCode::SUCCESS,
                        Err(e) => {
                            eprintln!("loopdeck demo-sim: {e}");
                            ExitCode::from(2)
                        }
                    }
                }
                DemoSim::Test { dir } => match demo::sim::tests(&dir, speed) {
                    Ok(true) => ExitCode::SUCCESS,
                    Ok(false) => ExitCode::from(1),
                    Err(e) => {
                        eprintln!("loopdeck demo-sim: {e}");
                        ExitCode::from(2)
                    }
                },
            };
        }
        None => match find_loop(
            cli.dir.clone(),
            cli.view.goal,
            cli.config.as_deref(),
            cli.read_only,
        ) {
            Err(e) => Err(e),
            Ok(t) if cli.dir.is_none() && t.config.is_err() => Err(eyre!(
                "no results directory given, and no loopdeck.toml here.\n  loopdeck DIR         watch a results directory\n  loopdeck demo        play the bundled demo loop\n  loopdeck --help      everything else"
            )),
            Ok(t) => watch(t, cli.view),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A user-facing error: the message and its causes, no backtrace
            // (panics still get color-eyre's full report).
            eprintln!("loopdeck: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(path: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) => {
            eprintln!("loopdeck: cannot open log file {}: {e}", path.display());
            return None;
        }
    };
    let (writer, guard) = tracing_appender::non_blocking(file);
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOOPDECK_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    Some(guard)
}

fn title_for(dir: &Path, name: Option<String>) -> String {
    let name = name.unwrap_or_else(|| {
        let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        abs.file_name().map_or_else(
            || abs.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    });
    sanitize::line(&name)
}

/// The config that lets this loopdeck run commands, or why it is a viewer.
/// A config that exists but is wrong is an error (it names the line and key).
fn load_config(
    explicit: Option<&Path>,
    read_only: bool,
) -> Result<std::result::Result<Config, String>> {
    if read_only {
        return Ok(Err("started with --read-only".into()));
    }
    let cwd = std::env::current_dir()?;
    match config::find(explicit, &cwd) {
        None => Ok(Err(
            "no loopdeck.toml: a read-only viewer (`loopdeck init` writes one)".into(),
        )),
        Some(path) => config::load(&path).map(Ok).map_err(|e| eyre!("{e}")),
    }
}

/// The config for a subcommand that runs or ends commands, or (having said
/// why) the exit code `fail`.
fn command_config(explicit: Option<&Path>, fail: i32) -> std::result::Result<Config, ExitCode> {
    match load_config(explicit, false) {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(why)) => {
            eprintln!("loopdeck: cannot run commands: {why}");
            Err(ExitCode::from(fail as u8))
        }
        Err(e) => {
            eprintln!("loopdeck: {e:#}");
            Err(ExitCode::from(fail as u8))
        }
    }
}

fn headless_run(explicit: Option<&Path>, kind: RunKind, next: bool, json: bool) -> ExitCode {
    match command_config(explicit, headless::EXIT_NOT_STARTED) {
        Ok(config) => ExitCode::from(headless::run(&config, kind, next, json) as u8),
        Err(code) => code,
    }
}

/// Where the loop is, found the same way by every subcommand.
struct Loop {
    /// The results directory.
    dir: PathBuf,
    /// `--goal`, else the config's `goal` when the config drives `dir`.
    goal: Option<usize>,
    /// The config that drives `dir`, or why there is none (a viewer).
    config: std::result::Result<Config, String>,
}

/// One way to find the loop, for every subcommand: a directory given on
/// the command line wins; else the results directory of `loopdeck.toml`
/// (found from the current directory up to the git root, or `--config`);
/// else the current directory. The goal is `--goal`, else the config's
/// (when the config drives that directory). A config that exists but is
/// wrong is an error naming the line and key.
fn find_loop(
    dir: Option<PathBuf>,
    goal: Option<usize>,
    explicit: Option<&Path>,
    read_only: bool,
) -> Result<Loop> {
    let config = load_config(explicit, false)?;
    let dir = match (dir, &config) {
        (Some(d), _) => d,
        (None, Ok(c)) => c.results_dir.clone(),
        (None, Err(_)) => PathBuf::from("."),
    };
    // Commands write into the config's results directory: driving another
    // directory than the one on screen would be confusing, so that is a
    // viewer (and the config's goal is not this loop's either).
    let config = config.and_then(|c| {
        let _ = std::fs::create_dir_all(&c.results_dir);
        let same = std::fs::canonicalize(&c.results_dir).ok() == std::fs::canonicalize(&dir).ok();
        if same {
            Ok(c)
        } else {
            Err(format!(
                "loopdeck.toml drives {}, not this directory",
                c.results_dir.display()
            ))
        }
    });
    let goal = goal.or(config.as_ref().ok().and_then(|c| c.goal));
    let config = match config {
        Ok(_) if read_only => Err("started with --read-only".into()),
        c => c,
    };
    Ok(Loop { dir, goal, config })
}

fn watch(target: Loop, view: ViewArgs) -> Result<()> {
    tracing::info!(dir = %target.dir.display(), "watching");
    terminal::run(ViewOptions {
        config: target.config,
        title: title_for(&target.dir, view.name),
        root: target.dir,
        goal: target.goal,
        poll: view.poll,
    })
}

fn run_demo(speed: f64, dir: Option<PathBuf>) -> Result<()> {
    if !(speed.is_finite() && speed > 0.0) {
        return Err(eyre!("--speed must be a positive number, got {speed}"));
    }
    // A temporary project folder unless the user asked to keep it.
    let (project, _tmp) = match dir {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            (d, None)
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("loopdeck-demo-")
                .tempdir()?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    let results = project.join("loop-results");
    std::fs::create_dir_all(&results)?;
    let config_path = demo_config(&project, speed)?;
    let config = config::load(&config_path).map_err(|e| eyre!("{e}"))?;

    let stop = Arc::new(AtomicBool::new(false));
    let player = {
        let (results, stop) = (results.clone(), stop.clone());
        std::thread::Builder::new()
            .name("demo-player".into())
            .spawn(move || {
                // The story holds the loop's lock while it plays, as a real run
                // would: pressing T meanwhile shows who holds it.
                let _lock = loopdeck::lock::try_acquire(&results, "demo story playing");
                demo::play(&results, speed, &stop)
            })?
    };
    let result = terminal::run(ViewOptions {
        config: Ok(config),
        root: results,
        title: "demo · staging e2e".into(),
        goal: Some(60),
        poll: false,
    });
    stop.store(true, Ordering::SeqCst);
    player.thread().unpark();
    match player.join() {
        Ok(Err(e)) => tracing::warn!("demo player: {e}"),
        Err(_) => return Err(eyre!("the demo player panicked")),
        Ok(Ok(())) => {}
    }
    result
}

/// The demo's loopdeck.toml: its deploy and test commands are this very
/// binary in its simulation mode, so D, T and N run real processes.
fn demo_config(project: &Path, speed: f64) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let exe = shlex::try_quote(
        exe.to_str()
            .ok_or_else(|| eyre!("loopdeck's path is not UTF-8"))?,
    )
    .map_err(|e| eyre!("{e}"))?
    .into_owned();
    let toml_str = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let text = format!(
        "# Written by `loopdeck demo`: the demo's own commands.\n\
         results_dir = \"loop-results\"\ngoal = 60\nservice = \"backend\"\n\
         [test]\ncommand = {}\ntimeout = \"10m\"\n\
         [deploy]\ncommand = {}\ntimeout = \"10m\"\nrevision_pattern = 'revision (\\S+) is live'\n\
         [rerun_failed]\ncommand = {}\ntimeout = \"10m\"\n\
         [auto]\nmax_iterations = 3\n[cancel]\ngrace = \"2s\"\n",
        toml_str(&format!(
            "{exe} demo-sim --speed {speed} test {{iteration_dir}}"
        )),
        toml_str(&format!(
            "{exe} demo-sim --speed {speed} deploy {{iteration}}"
        )),
        toml_str(&format!(
            "{exe} demo-sim --speed {speed} rerun {{iteration_dir}} {{failed_ids_file}}"
        )),
    );
    let path = project.join("loopdeck.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

fn status_command(
    dir: &Path,
    json: bool,
    iteration: Option<&str>,
    goal: Option<usize>,
) -> ExitCode {
    loopdeck::oneshot::grow_heaps_in_big_steps();
    // `status` prints no tracebacks nor captured output: the parsers leave
    // them out (megabytes of a 100k-test report) and keep what the counts,
    // modules and failure groups are made of.
    let formats = loopdeck::results::Ingest {
        keep: loopdeck::ingest::Keep::Summary,
    };
    let mut store = match Store::open_with(dir, std::sync::Arc::new(formats)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "loopdeck: cannot read {}: {e}",
                sanitize::line(&dir.display().to_string())
            );
            return ExitCode::from(status::EXIT_UNREADABLE as u8);
        }
    };
    // One look, no "being written" grace period: a broken file is a warning now.
    store.set_settle(std::time::Duration::ZERO);
    let unreadable = |e: &str| {
        eprintln!(
            "loopdeck: cannot read {}: {e}",
            sanitize::line(&dir.display().to_string())
        );
        ExitCode::from(status::EXIT_UNREADABLE as u8)
    };
    // Only the iteration printed is read: the rest of the history is
    // listed, and read (or its test count taken from the cache) only for
    // the default goal.
    let listing = match store.list() {
        Ok(l) => l,
        Err(e) => return unreadable(&e),
    };
    let key = match status::select_key(&listing, iteration) {
        Ok(k) => k.map(str::to_string),
        Err(e) => {
            eprintln!("loopdeck: {}", sanitize::line(&e));
            return ExitCode::from(status::EXIT_UNREADABLE as u8);
        }
    };
    let mut history = status::History {
        iterations: listing.len(),
        most_tests: 0,
    };
    if goal.is_none() {
        let mut counts = loopdeck::results::counts::Counts::open(store.root());
        for (k, _) in listing.iter().filter(|(k, _)| Some(k) != key.as_ref()) {
            let n = store.test_count(k, &mut counts).unwrap_or(0);
            history.most_tests = history.most_tests.max(n);
        }
        let keep: Vec<&str> = listing.iter().map(|(k, _)| k.as_str()).collect();
        counts.save(&keep);
    }
    let shown = key.as_deref().and_then(|k| store.take(k));
    if let Some(it) = &shown {
        history.most_tests = history.most_tests.max(it.tests.len());
    }
    let it = shown.as_ref();
    let activity = status::Activity::read(dir, it);
    use std::io::Write;
    let stdout = std::io::stdout().lock();
    let written = if json {
        let out = std::io::BufWriter::with_capacity(64 * 1024, stdout);
        status::write_json(out, history, it, goal, &[], &activity)
    } else {
        let text = status::to_text(&title_for(dir, None), history, it, goal, &[])
            + &status::activity_text(&activity, it);
        let mut stdout = stdout;
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
    };
    if written.is_err() {
        // A closed pipe (`| head`) is not worth a panic.
        return ExitCode::from(status::EXIT_UNREADABLE as u8);
    }
    let code = ExitCode::from(status::exit_code(it, &activity.runs) as u8);
    // The process ends here: freeing 100k tests one by one would only delay
    // the exit (the operating system takes the memory back at once).
    std::mem::forget(shown);
    code
}
