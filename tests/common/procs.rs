//! A project whose deploy's processes escape (`tests/scripts/escapees.sh`:
//! a `timeout` child, a `setsid` grandchild, a double-forked daemon, their
//! pids in `pids`), and bounded polls on `/proc` for them.

use std::path::Path;
use std::time::{Duration, Instant};

/// The project: config (deploy = escapees.sh, tests just print, grace 2 s).
pub fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = format!("{}/tests/scripts/escapees.sh", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(
        dir.path().join("loopdeck.toml"),
        format!(
            "results_dir = \"results\"\nservice = \"backend\"\n[test]\ncommand = \"echo tests ran\"\n[deploy]\ncommand = \"sh '{script}' pids\"\n[cancel]\ngrace = \"2s\"\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join(".git"), "").unwrap(); // config lookup stops here
    dir
}

/// Alive and not a zombie (nothing may reap an orphan in a container).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !matches!(
            s.rsplit(')').next().unwrap_or("").split_whitespace().next(),
            Some("Z" | "X")
        )
    })
}

/// Kills the given pids on drop if still alive: a failing test leaves no
/// `sleep 300` behind.
pub struct Cleanup(pub Vec<i32>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if alive(pid) {
                // SAFETY: processes this test started (through loopdeck).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Bounded poll until `done`.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

/// Waits until the deploy's four escapees run; their pids.
pub fn escapees(p: &Path) -> Vec<i32> {
    let read = || -> Vec<i32> {
        std::fs::read_to_string(p.join("pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    wait_for("the escapees' pids", || read().len() == 4);
    let pids = read();
    assert!(pids.iter().all(|&p| alive(p)), "{pids:?}");
    pids
}

/// Each pid dies within the bound.
pub fn all_gone(pids: &[i32]) {
    for &pid in pids {
        wait_for(&format!("pid {pid} to die"), || !alive(pid));
    }
}
