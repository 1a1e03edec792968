//! The runtime: turns keys, file changes, signals and the clock into messages,
//! feeds them through `app::update`, carries out the effects and draws.
//! The terminal is restored on every way out (quit, error, signal, panic).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use chrono::{Local, Utc};
use color_eyre::eyre::{Result, WrapErr, eyre};
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::app::{Commands, Control, Effect, Msg, State, update};
use crate::config::Config;
use crate::driver;
use crate::model::RunKind;
use crate::reader;
use crate::results::Store;
use crate::runner::{self, RunEvent, RunHandle};
use crate::ui::{self, Theme};

pub struct ViewOptions {
    pub root: PathBuf,
    pub title: String,
    pub goal: Option<usize>,
    pub poll: bool,
    /// Commands to drive the loop with; `Err` says why this is a viewer only.
    pub config: std::result::Result<Config, String>,
}

pub fn run(opts: ViewOptions) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run_async(opts))
}

async fn run_async(opts: ViewOptions) -> Result<()> {
    let store = Store::open(&opts.root)
        .wrap_err_with(|| format!("cannot read results directory {}", opts.root.display()))?;
    let (tx, rx) = unbounded_channel::<Msg>();
    // The watcher lives as long as this function; dropping it ends the reader thread.
    let _watcher = reader::start(&opts.root, store, opts.poll, tx.clone())?;
    drop(tx);

    let mut state = State::new(opts.title, opts.goal, Utc::now());
    state.tz = *Local::now().offset();
    let config = match opts.config {
        Ok(config) => {
            state.control = Control::Enabled(Commands {
                service: config.service.clone(),
                test: config.test.is_some(),
                deploy: config.deploy.is_some(),
                rerun_failed: config.rerun_failed.is_some(),
                auto_max_iterations: config.auto_max_iterations,
            });
            Some(config)
        }
        Err(why) => {
            state.control = Control::ReadOnly(why);
            None
        }
    };
    let theme = Theme::from_env();
    // No terminal (a pipe, cron, CI): say so instead of crashing.
    let mut terminal = ratatui::try_init().map_err(|e| {
        eyre!("loopdeck's screen needs a terminal ({e}); for scripts use `loopdeck status` or `--json`")
    })?;
    let result = event_loop(&mut terminal, &mut state, &theme, config.as_ref(), rx).await;
    // Whatever way the loop ended, no command outlives loopdeck.
    runner::kill_all();
    ratatui::restore();
    result
}

/// The edges `update` reaches through effects: the terminal (clipboard) and
/// the command this loopdeck runs.
struct Edges<'a> {
    terminal: &'a mut ratatui::DefaultTerminal,
    config: Option<&'a Config>,
    run: Option<RunHandle>,
    run_kind: Option<RunKind>,
    run_tx: UnboundedSender<RunEvent>,
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    state: &mut State,
    theme: &Theme,
    config: Option<&Config>,
    mut rx: UnboundedReceiver<Msg>,
) -> Result<()> {
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let (run_tx, mut run_rx) = unbounded_channel::<RunEvent>();
    let mut edges = Edges {
        terminal,
        config,
        run: None,
        run_kind: None,
        run_tx,
    };
    let size = edges.terminal.size()?;
    update(state, Msg::Resize(size.width, size.height));
    let mut dirty = true;
    loop {
        if dirty {
            update(state, Msg::Tick(Utc::now()));
            edges.terminal.draw(|f| ui::draw(f, state, theme))?;
            dirty = false;
        }
        let msg = tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(k))) => Msg::Key(k),
                Some(Ok(Event::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(_)) => continue,
                // The terminal is gone (SSH dropped): leave instead of spinning.
                Some(Err(e)) => return Err(eyre!("terminal input failed: {e}")),
                None => return Ok(()),
            },
            m = rx.recv() => match m {
                Some(m) => m,
                None => return Err(eyre!("the results reader stopped unexpectedly")),
            },
            Some(ev) = run_rx.recv() => run_msg(&mut edges, ev, &mut run_rx),
            _ = tick.tick() => {
                dirty |= state.needs_clock();
                continue;
            }
            // The run handle in `edges` kills its process group when dropped
            // on these returns; no child outlives loopdeck.
            _ = sigterm.recv() => return Ok(()),
            _ = sighup.recv() => return Ok(()),
            _ = sigint.recv() => return Ok(()),
        };
        if apply(&mut edges, state, msg)? {
            return Ok(());
        }
        // Drain whatever else is ready, then draw once.
        while let Ok(m) = rx.try_recv() {
            if apply(&mut edges, state, m)? {
                return Ok(());
            }
        }
        dirty = true;
    }
}

/// A runner event as a message; output lines that are already waiting are
/// batched into one message (one redraw for a burst of output).
fn run_msg(edges: &mut Edges, ev: RunEvent, more: &mut UnboundedReceiver<RunEvent>) -> Msg {
    let kind = edges.run_kind.unwrap_or(RunKind::Test);
    match ev {
        RunEvent::Started { id, .. } => Msg::RunStarted { kind, id },
        RunEvent::Finished(record) => {
            edges.run = None;
            edges.run_kind = None;
            Msg::RunFinished(*record)
        }
        // Output is shown from the log file, read back like any other
        // viewer's (see `follow`): the directory is the truth.
        RunEvent::Line(_) => {
            while let Ok(ev) = more.try_recv() {
                if !matches!(ev, RunEvent::Line(_)) {
                    return run_msg(edges, ev, more);
                }
            }
            Msg::RunOutput(Vec::new())
        }
    }
}

/// Runs one message through `update` and carries out its effects.
/// Returns true when loopdeck should quit.
fn apply(edges: &mut Edges, state: &mut State, msg: Msg) -> Result<bool> {
    for effect in update(state, msg) {
        match effect {
            Effect::Quit => return Ok(true),
            Effect::Start {
                kind,
                next_iteration,
            } => {
                let started = match edges.config {
                    None => Err("no loopdeck.toml".to_string()),
                    Some(config) => {
                        driver::start(config, kind, next_iteration, edges.run_tx.clone())
                    }
                };
                match started {
                    Ok(handle) => {
                        edges.run = Some(handle);
                        edges.run_kind = Some(kind);
                    }
                    Err(reason) => {
                        let reason = crate::sanitize::line(&reason);
                        if apply(edges, state, Msg::RunRefused { kind, reason })? {
                            return Ok(true);
                        }
                    }
                }
            }
            // The runtime does not keep history compact yet.
            Effect::Load(_) => {}
            Effect::Cancel => {
                if let Some(run) = &edges.run {
                    run.cancel();
                }
            }
            Effect::Copy(text) => {
                let seq = osc52(&text, std::env::var_os("TMUX").is_some());
                let out = edges.terminal.backend_mut();
                out.write_all(seq.as_bytes())?;
                out.flush()?;
            }
        }
    }
    Ok(false)
}

/// The OSC 52 "set clipboard" sequence; inside tmux wrapped in a DCS
/// passthrough so it reaches the outer terminal (needs tmux `allow-passthrough`
/// or `set-clipboard on`).
pub fn osc52(text: &str, tmux: bool) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    if tmux {
        format!("\x1bPtmux;\x1b\x1b]52;c;{b64}\x07\x1b\\")
    } else {
        format!("\x1b]52;c;{b64}\x07")
    }
}

#[cfg(test)]
mod tests {
    use super::osc52;

    #[test]
    fn osc52_carries_base64_and_is_wrapped_for_tmux() {
        assert_eq!(osc52("hi\n", false), "\x1b]52;c;aGkK\x07");
        let wrapped = osc52("hi\n", true);
        assert!(wrapped.starts_with("\x1bPtmux;\x1b\x1b]52;c;aGkK\x07"));
        assert!(wrapped.ends_with("\x1b\\"));
    }
}
