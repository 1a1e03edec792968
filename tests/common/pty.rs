//! A real pseudo-terminal running the real binary, read back through a
//! vt100 parser. Waiting is on the terminal's output (each chunk re-checks
//! the screen), bounded by a deadline; never a sleep.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

pub const WAIT: Duration = Duration::from_secs(20);

pub struct Tui {
    pub parser: vt100::Parser,
    pub raw: Vec<u8>,
    pub output: Receiver<Vec<u8>>,
    pub writer: Box<dyn Write + Send>,
    pub child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
}

impl Tui {
    pub fn start(args: &[&str], cols: u16, rows: u16) -> Tui {
        Tui::start_in(None, args, cols, rows)
    }

    pub fn start_in(cwd: Option<&Path>, args: &[&str], cols: u16, rows: u16) -> Tui {
        Tui::start_via(cwd, &[], args, cols, rows)
    }

    /// Runs loopdeck through `wrapper` (e.g. `["unshare", "-U", "--"]`): the
    /// wrapper's arguments, then loopdeck's path, then `args`.
    pub fn start_via(
        cwd: Option<&Path>,
        wrapper: &[&str],
        args: &[&str],
        cols: u16,
        rows: u16,
    ) -> Tui {
        // Set for integration tests only (not for examples, which name the
        // binary themselves).
        let Some(bin) = option_env!("CARGO_BIN_EXE_loopdeck") else {
            panic!("start_via is for integration tests; elsewhere use start_program")
        };
        Tui::start_program(Path::new(bin), cwd, wrapper, args, cols, rows)
    }

    /// [`Tui::start_via`] with the binary to run.
    pub fn start_program(
        bin: &Path,
        cwd: Option<&Path>,
        wrapper: &[&str],
        args: &[&str],
        cols: u16,
        rows: u16,
    ) -> Tui {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = CommandBuilder::new(program);
                cmd.args(rest);
                cmd.arg(bin);
                cmd
            }
            None => CommandBuilder::new(bin),
        };
        cmd.args(args);
        if let Some(dir) = cwd {
            cmd.cwd(dir);
        }
        cmd.env("TERM", "xterm-256color");
        cmd.env("LANG", "C.UTF-8");
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("TMUX");
        let child = pair.slave.spawn_command(cmd).expect("spawn loopdeck");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Tui {
            parser: vt100::Parser::new(rows, cols, 0),
            raw: Vec::new(),
            output: rx,
            writer,
            child,
            _master: pair.master,
        }
    }

    pub fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// Reads terminal output until `cond` holds on the screen, or panics at the deadline.
    pub fn wait_for(&mut self, what: &str, cond: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            if cond(&self.screen()) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => {
                    self.parser.process(&bytes);
                    self.raw.extend_from_slice(&bytes);
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("timed out waiting for {what}; screen:\n{}", self.screen())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "loopdeck exited while waiting for {what}; screen:\n{}",
                        self.screen()
                    )
                }
            }
        }
    }

    /// Waits for the next chunk of terminal output (bounded by `WAIT`) and
    /// feeds it to the screen; false when loopdeck has exited.
    pub fn read_some(&mut self) -> bool {
        match self.output.recv_timeout(WAIT) {
            Ok(bytes) => {
                self.parser.process(&bytes);
                self.raw.extend_from_slice(&bytes);
                true
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "no terminal output for {WAIT:?}; screen:\n{}",
                    self.screen()
                )
            }
            Err(RecvTimeoutError::Disconnected) => false,
        }
    }

    pub fn wait_text(&mut self, text: &str) {
        let t = text.to_string();
        self.wait_for(text, move |s| s.contains(&t));
    }

    pub fn press(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits for the process to exit (bounded) and for its last output.
    pub fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Drain what it wrote before leaving (the terminal restore).
                while let Ok(bytes) = self.output.recv_timeout(Duration::from_millis(500)) {
                    self.parser.process(&bytes);
                    self.raw.extend_from_slice(&bytes);
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "loopdeck did not exit; screen:\n{}",
                self.screen()
            );
            if let Ok(bytes) = self.output.recv_timeout(Duration::from_millis(50)) {
                self.parser.process(&bytes);
                self.raw.extend_from_slice(&bytes);
            }
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
