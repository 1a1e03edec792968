//! The runtime: turns keys, file changes, signals and the clock into messages,
//! feeds them through `app::update`, carries out the effects and draws.
//! The terminal is restored on every way out (quit, error, signal, panic).
//!
//! The UI task never waits on the disk or on a command: starting a run
//! (the lock, the iteration folder, the failing ids, the log) happens on
//! tokio's blocking pool and answers with a message; a run's output goes
//! into its log, and the pane follows the log like any other viewer's.
//! Frames are capped: while messages stream, at most one frame every
//! [`FRAME`] (the change that ends a quiet spell draws at once, the rest of
//! a burst at the next frame); a key or a resize always draws at once.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    // Older iterations are kept as summaries; the one on screen is read
    // back when asked for (Effect::Load).
    state.compact_history = true;
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
    let root = opts.root.clone();
    let mut run = None;
    let result = event_loop(
        &mut terminal,
        &mut state,
        &theme,
        config.as_ref(),
        rx,
        root,
        &mut run,
    )
    .await;
    // Whatever way the loop ended (quit, SIGTERM, SIGHUP, an error), no
    // command outlives loopdeck: each run gets SIGTERM, its grace period,
    // then SIGKILL. The terminal is given back first, so the wait is not a
    // frozen screen.
    ratatui::restore();
    if runner::running() > 0 {
        eprintln!(
            "loopdeck: ending the running command (SIGTERM, then SIGKILL after the grace period)"
        );
    }
    runner::kill_all();
    drop(run);
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
    /// A start is under way off the UI task (see [`Started`]).
    starting: bool,
    /// `X` came while the start was under way: cancel as soon as it runs.
    cancel_when_started: bool,
    started_tx: UnboundedSender<Started>,
    /// The results directory, and where an iteration read back for the
    /// screen ([`Effect::Load`]) is answered.
    root: PathBuf,
    loaded_tx: UnboundedSender<Msg>,
}

/// The answer of a start done off the UI task: the run, or why not.
struct Started {
    kind: RunKind,
    result: std::result::Result<RunHandle, String>,
}

/// While messages stream, at most one frame this often; an isolated change
/// draws at once, and a key or a resize never waits.
pub const FRAME: Duration = Duration::from_millis(33);

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    state: &mut State,
    theme: &Theme,
    config: Option<&Config>,
    mut rx: UnboundedReceiver<Msg>,
    root: PathBuf,
    keep: &mut Option<RunHandle>,
) -> Result<()> {
    let mut keys = EventStream::new();
    let (loaded_tx, mut loaded_rx) = unbounded_channel::<Msg>();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let (run_tx, mut run_rx) = unbounded_channel::<RunEvent>();
    let (started_tx, mut started_rx) = unbounded_channel::<Started>();
    let mut edges = Edges {
        terminal,
        config,
        run: None,
        run_kind: None,
        run_tx,
        starting: false,
        cancel_when_started: false,
        started_tx,
        root,
        loaded_tx,
    };
    let size = edges.terminal.size()?;
    update(state, Msg::Resize(size.width, size.height));
    let mut dirty = true;
    // Draw now, whatever the frame cap (a key, a resize).
    let mut urgent = false;
    let mut frames = Frames::default();
    // Every way out of the loop comes here, so the run (if any) is handed
    // to the caller to be ended gracefully instead of dropped (which kills
    // at once).
    let result: Result<()> = async {
        loop {
            // A change that came too soon after a frame waits for the next one.
            let mut frame_due = None;
            if dirty {
                match frames.due(urgent, Instant::now()) {
                    None => {
                        update(state, Msg::Tick(Utc::now()));
                        edges.terminal.draw(|f| ui::draw(f, state, theme))?;
                        frames.drawn(Instant::now());
                        dirty = false;
                        urgent = false;
                    }
                    later => frame_due = later,
                }
            }
            let msg = tokio::select! {
                // Keys first: they are never delayed by a stream of messages.
                biased;
                ev = keys.next() => match ev {
                    Some(Ok(Event::Key(k))) => {
                        urgent = true;
                        Msg::Key(k)
                    }
                    Some(Ok(Event::Resize(w, h))) => {
                        urgent = true;
                        Msg::Resize(w, h)
                    }
                    Some(Ok(_)) => continue,
                    // The terminal is gone (SSH dropped): leave instead of spinning.
                    Some(Err(e)) => return Err(eyre!("terminal input failed: {e}")),
                    None => return Ok(()),
                },
                // On these returns the runs are ended gracefully (`kill_all`
                // after the loop, before the handle in `edges` is dropped).
                _ = sigterm.recv() => return Ok(()),
                _ = sighup.recv() => return Ok(()),
                _ = sigint.recv() => return Ok(()),
                _ = sleep_until(frame_due), if frame_due.is_some() => continue,
                Some(loaded) = loaded_rx.recv() => loaded,
                Some(started) = started_rx.recv() => match on_started(&mut edges, started) {
                    Some(msg) => msg,
                    None => continue,
                },
                Some(ev) = run_rx.recv() => match run_msg(&mut edges, ev, &mut run_rx) {
                    Some(msg) => msg,
                    None => continue,
                },
                _ = tick.tick() => {
                    dirty |= state.needs_clock();
                    continue;
                }
                // Last: it can stream; the branches above must not starve.
                m = rx.recv() => match m {
                    Some(m) => m,
                    None => return Err(eyre!("the results reader stopped unexpectedly")),
                },
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
    .await;
    *keep = edges.run.take();
    result
}

/// The frame cap: when a change may be drawn.
#[derive(Debug, Default)]
struct Frames {
    last: Option<Instant>,
}

impl Frames {
    /// `None`: draw now (the first change after a quiet spell, or an
    /// urgent one); else the earliest time to draw.
    fn due(&self, urgent: bool, now: Instant) -> Option<Instant> {
        let next = self.last? + FRAME;
        (!urgent && now < next).then_some(next)
    }

    fn drawn(&mut self, at: Instant) {
        self.last = Some(at);
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// A runner event as a message, or none. The output itself is shown from
/// the log file, read back like any other viewer's (see `follow`): the
/// directory is the truth, so `Output` pings need no message.
fn run_msg(edges: &mut Edges, ev: RunEvent, more: &mut UnboundedReceiver<RunEvent>) -> Option<Msg> {
    let kind = edges.run_kind.unwrap_or(RunKind::Test);
    match ev {
        RunEvent::Started { id, .. } => Some(Msg::RunStarted {
            kind,
            id,
            started: Utc::now(),
        }),
        RunEvent::Finished(record) => {
            edges.run = None;
            edges.run_kind = None;
            Some(Msg::RunFinished(*record))
        }
        RunEvent::Line(_) | RunEvent::Output { .. } => {
            while let Ok(ev) = more.try_recv() {
                if !matches!(ev, RunEvent::Line(_) | RunEvent::Output { .. }) {
                    return run_msg(edges, ev, more);
                }
            }
            None
        }
    }
}

/// A start done off the UI task has answered: keep the run (cancelling it
/// at once if `X` came meanwhile), or say why it did not start.
fn on_started(edges: &mut Edges, started: Started) -> Option<Msg> {
    edges.starting = false;
    let cancel = std::mem::take(&mut edges.cancel_when_started);
    match started.result {
        Ok(handle) => {
            if cancel {
                handle.cancel();
            }
            // A quick command may be over already (its `Finished` came first).
            if !handle.is_finished() {
                edges.run = Some(handle);
            }
            None
        }
        Err(reason) => {
            edges.run_kind = None;
            Some(Msg::RunRefused {
                kind: started.kind,
                reason: crate::sanitize::line(&reason),
            })
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
                let Some(config) = edges.config else {
                    let reason = "no loopdeck.toml".to_string();
                    if apply(edges, state, Msg::RunRefused { kind, reason })? {
                        return Ok(true);
                    }
                    continue;
                };
                // Taking the lock and reading the iteration touch the disk:
                // off the UI task, answered with a `Started`.
                let config = config.clone();
                let run_tx = edges.run_tx.clone();
                let answer = edges.started_tx.clone();
                edges.starting = true;
                edges.run_kind = Some(kind);
                tokio::task::spawn_blocking(move || {
                    let result =
                        driver::start(&config, kind, next_iteration, runner::Echo::None, run_tx);
                    // If loopdeck is gone meanwhile, the handle is dropped
                    // here, which kills the run.
                    let _ = answer.send(Started { kind, result });
                });
            }
            // A past iteration's own output: the tail of its newest log,
            // read off the UI task.
            Effect::LoadOutput { key, dir } => {
                let tx = edges.loaded_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let (kind, lines) = crate::follow::newest_log_tail(&dir);
                    let _ = tx.send(Msg::PastOutput { key, kind, lines });
                });
            }
            // An older iteration comes on screen: its tests are read off
            // the UI task, from the directory, and arrive as data.
            Effect::Load(key) => {
                let (root, tx) = (edges.root.clone(), edges.loaded_tx.clone());
                tokio::task::spawn_blocking(move || {
                    let Ok(mut store) = Store::open(&root) else {
                        return;
                    };
                    if store.list().is_ok() {
                        let changes = store.load(&key);
                        let _ = tx.send(Msg::Data {
                            changed: changes.updated,
                            removed: Vec::new(),
                        });
                    }
                });
            }
            Effect::Cancel => {
                if let Some(run) = &edges.run {
                    run.cancel();
                } else if edges.starting {
                    edges.cancel_when_started = true;
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
    use super::{FRAME, Frames, osc52};
    use std::time::{Duration, Instant};

    #[test]
    fn frames_are_capped_but_keys_and_quiet_changes_draw_at_once() {
        let t0 = Instant::now();
        let mut frames = Frames::default();
        assert_eq!(frames.due(false, t0), None, "the first change draws");
        frames.drawn(t0);
        let soon = t0 + Duration::from_millis(5);
        assert_eq!(frames.due(false, soon), Some(t0 + FRAME), "a stream waits");
        assert_eq!(frames.due(true, soon), None, "a key never waits");
        assert_eq!(frames.due(false, t0 + FRAME), None);
        let quiet = t0 + Duration::from_secs(2);
        assert_eq!(frames.due(false, quiet), None, "an isolated change draws");
    }

    #[test]
    fn osc52_carries_base64_and_is_wrapped_for_tmux() {
        assert_eq!(osc52("hi\n", false), "\x1b]52;c;aGkK\x07");
        let wrapped = osc52("hi\n", true);
        assert!(wrapped.starts_with("\x1bPtmux;\x1b\x1b]52;c;aGkK\x07"));
        assert!(wrapped.ends_with("\x1b\\"));
    }
}
