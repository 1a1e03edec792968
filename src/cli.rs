//! Command-line interface (clap derive).

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "loopdeck",
    version,
    about = "A terminal cockpit for the test-deploy loop",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Results directory to watch (same as `loopdeck watch DIR`).
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub view: ViewArgs,
    /// Write logs to this file (loopdeck never logs to the screen).
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// The config file (default: loopdeck.toml in the current directory or
    /// the nearest folder above it, up to the git root). Every subcommand
    /// takes the results directory and goal from it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Never run commands, even with a config: a viewer only.
    #[arg(long, global = true)]
    pub read_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the UI on a results directory and follow it live.
    Watch {
        /// The results directory (iteration folders, or report files
        /// directly; default: loopdeck.toml's results_dir, else the current
        /// directory).
        dir: Option<PathBuf>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Play the bundled demo loop into a temporary directory and watch it.
    Demo {
        /// Play N times faster (the demo takes about a minute at 1).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Write the demo here instead of a temporary directory (kept afterwards).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Write a commented loopdeck.toml in the current directory.
    Init {
        /// Overwrite an existing loopdeck.toml.
        #[arg(long)]
        force: bool,
    },
    /// Run the test command (as `T` does), streaming its output.
    Test {
        /// Rerun only the failing tests of the latest iteration (`rerun_failed` command).
        #[arg(long)]
        failed: bool,
        /// Print the run record as JSON at the end.
        #[arg(long)]
        json: bool,
    },
    /// Run the deploy command (as `D` does), streaming its output.
    Deploy {
        /// Print the run record as JSON at the end.
        #[arg(long)]
        json: bool,
    },
    /// Next iteration: new iteration folder, deploy, then tests if the deploy worked.
    Next {
        /// Print the run records (deploy, then tests) as JSON at the end.
        #[arg(long)]
        json: bool,
    },
    /// End the processes of a run whose loopdeck was killed mid-run.
    ///
    /// Sends them SIGTERM, waits the `[cancel] grace`, then SIGKILL, and
    /// records the run as interrupted (`deploy.json` too). Exit 0: done, or
    /// nothing to do; 1: some processes could not be ended; 2: nothing done
    /// (no config, or a loopdeck is running a run right now: cancel it
    /// there).
    Cancel,
    /// Write what a person or agent says about an iteration into its iteration.json.
    Note {
        /// The iteration (number or folder name; default: the latest).
        #[arg(long, value_name = "N")]
        iteration: Option<String>,
        /// The issue this iteration found ("HTTP 403 on writes").
        #[arg(long)]
        issue: Option<String>,
        /// Why it happened.
        #[arg(long)]
        root_cause: Option<String>,
        /// What was changed to fix it.
        #[arg(long)]
        fix: Option<String>,
        /// Anything else worth keeping with the iteration.
        #[arg(long)]
        notes: Option<String>,
        /// The results directory (default: from loopdeck.toml, else the current directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// The demo's own deploy and test commands (run by `loopdeck demo`).
    #[command(hide = true)]
    DemoSim {
        #[command(subcommand)]
        what: DemoSim,
        #[arg(long, default_value_t = 1.0, global = true)]
        speed: f64,
    },
    /// Print a shell completion script (`loopdeck completions bash > ...`).
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; `loopdeck man | man -l -`).
    Man,
    /// Print the state of the loop without the UI (for scripts and plain SSH).
    Status {
        /// The results directory (default: loopdeck.toml's results_dir, else
        /// the current directory).
        dir: Option<PathBuf>,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Show this iteration (its number, or its folder name) instead of the latest.
        #[arg(long, value_name = "N")]
        iteration: Option<String>,
        /// Total number of tests the loop aims to pass (default: loopdeck.toml's
        /// goal, else the most tests any iteration has).
        #[arg(long, value_name = "N")]
        goal: Option<usize>,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct ViewArgs {
    /// Total number of tests the loop aims to pass (default: loopdeck.toml's
    /// goal, else the most tests seen).
    #[arg(long, value_name = "N")]
    pub goal: Option<usize>,
    /// Name shown in the header (default: the directory name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Poll the directory once a second instead of relying on file events
    /// (network filesystems, some container mounts).
    #[arg(long)]
    pub poll: bool,
}

#[derive(Debug, Subcommand)]
pub enum DemoSim {
    /// Print a deploy's progress and the revision that went live.
    Deploy { iteration: u64 },
    /// Stream a pytest report-log of the demo suite into DIR.
    Test { dir: PathBuf },
    /// Rerun the tests listed in IDS_FILE (one id a line) into DIR/rerun.jsonl.
    Rerun { dir: PathBuf, ids_file: PathBuf },
}

/// The completion script for `shell`, as `loopdeck completions` prints it.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "loopdeck", &mut out);
    out
}

/// The man page (roff), as `loopdeck man` prints it.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(out)
}
