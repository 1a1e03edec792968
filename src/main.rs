//! CLI dispatch, error and panic hooks. Everything else lives in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use color_eyre::eyre::{Result, eyre};

use loopdeck::cli::{Cli, Command, ViewArgs};
use loopdeck::results::Store;
use loopdeck::terminal::{self, ViewOptions};
use loopdeck::{demo, headless, sanitize, status};

fn main() -> ExitCode {
    // color-eyre first: ratatui::init() chains its restoring panic hook in front of it.
    if let Err(e) = color_eyre::install() {
        eprintln!("loopdeck: {e}");
    }
    let cli = Cli::parse();
    let _log_guard = cli.log_file.as_deref().and_then(init_logging);
    let result = match cli.command {
        Some(Command::Status {
            dir,
            json,
            iteration,
            goal,
        }) => {
            return status_command(
                &dir.unwrap_or_else(|| PathBuf::from(".")),
                json,
                iteration.as_deref(),
                goal,
            );
        }
        Some(Command::Watch { dir, view }) => watch(dir, view),
        Some(Command::Note {
            iteration,
            issue,
            root_cause,
            fix,
            notes,
            dir,
        }) => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("."));
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
        Some(Command::Test { .. } | Command::Deploy { .. } | Command::Next { .. }) => Err(eyre!(
            "this command needs the runner, which is not in this build yet"
        )),
        Some(Command::Demo { speed, dir }) => run_demo(speed, dir),
        None => match cli.dir {
            Some(dir) => watch(dir, cli.view),
            None => Err(eyre!(
                "no results directory given.\n  loopdeck DIR         watch a results directory\n  loopdeck demo        play the bundled demo loop\n  loopdeck --help      everything else"
            )),
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

fn watch(dir: PathBuf, view: ViewArgs) -> Result<()> {
    tracing::info!(dir = %dir.display(), "watching");
    terminal::run(ViewOptions {
        title: title_for(&dir, view.name),
        root: dir,
        goal: view.goal,
        poll: view.poll,
    })
}

fn run_demo(speed: f64, dir: Option<PathBuf>) -> Result<()> {
    if !(speed.is_finite() && speed > 0.0) {
        return Err(eyre!("--speed must be a positive number, got {speed}"));
    }
    // A temporary directory unless the user asked to keep it.
    let (root, _tmp) = match dir {
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
    let stop = Arc::new(AtomicBool::new(false));
    let player = {
        let (root, stop) = (root.clone(), stop.clone());
        std::thread::Builder::new()
            .name("demo-player".into())
            .spawn(move || demo::play(&root, speed, &stop))?
    };
    let result = terminal::run(ViewOptions {
        root: root.clone(),
        title: "demo · staging e2e".into(),
        goal: Some(60),
        poll: false,
    });
    stop.store(true, Ordering::SeqCst);
    match player.join() {
        Ok(Err(e)) => tracing::warn!("demo player: {e}"),
        Err(_) => return Err(eyre!("the demo player panicked")),
        Ok(Ok(())) => {}
    }
    result
}

fn status_command(
    dir: &Path,
    json: bool,
    iteration: Option<&str>,
    goal: Option<usize>,
) -> ExitCode {
    let mut store = match Store::open(dir) {
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
    let changes = store.refresh_once();
    if let Some(e) = changes.root_error {
        eprintln!(
            "loopdeck: cannot read {}: {e}",
            sanitize::line(&dir.display().to_string())
        );
        return ExitCode::from(status::EXIT_UNREADABLE as u8);
    }
    let iterations = changes.updated;
    let it = match status::select(&iterations, iteration) {
        Ok(it) => it,
        Err(e) => {
            eprintln!("loopdeck: {}", sanitize::line(&e));
            return ExitCode::from(status::EXIT_UNREADABLE as u8);
        }
    };
    let out = if json {
        let mut s = status::json_text(&iterations, it, goal, &[]);
        s.push('\n');
        s
    } else {
        status::to_text(&title_for(dir, None), &iterations, it, goal, &[])
    };
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        // A closed pipe (`| head`) is not worth a panic.
        return ExitCode::from(status::EXIT_UNREADABLE as u8);
    }
    let code = ExitCode::from(status::exit_code(it) as u8);
    // The process ends here: freeing 100k tests one by one would only delay
    // the exit (the operating system takes the memory back at once).
    std::mem::forget(iterations);
    code
}
