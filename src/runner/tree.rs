//! A run's whole process tree: every process it started, wherever it went.
//!
//! A command can leave the process group loopdeck made for it (`timeout`
//! calls `setpgid`, anything can call `setsid`) and can double-fork so its
//! daemon is re-parented away from it. So a run's processes are found, not
//! assumed:
//!
//! * **By descent:** the run's root (its `sh`, identified by pid *and* start
//!   time, field 22 of `/proc/PID/stat`) and everything below it by the
//!   `ppid` links of `/proc/*/stat`.
//! * **By mark:** every process of a run carries `LOOPDECK_RUN_ID=<run id>`
//!   in its environment (the runner's gate exports it before the command
//!   starts, and children inherit it), so a process re-parented to loopdeck
//!   (its child subreaper, see [`set_subreaper`]) or to init (after loopdeck
//!   itself was killed) is still found by reading `/proc/PID/environ`;
//!   everything below such a process is found by descent again.
//!
//! Only a process that both left the tree (double fork) *and* emptied its
//! environment (`env -i`) is out of reach; its process group, if it kept it,
//! is still signalled by the runner.
//!
//! Signals go through a pidfd opened on the pid whose start time was just
//! checked, so a pid the kernel reused for an unrelated process is never
//! signalled. Zombies count as gone; the runner reaps the zombies among
//! loopdeck's re-parented children that belong to a run, by pid ([`reap`];
//! never `waitpid(-1)`, which would steal the exit status of a child
//! someone else waits for).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The environment variable that marks a run's processes.
pub const RUN_ID_VAR: &str = "LOOPDECK_RUN_ID";

/// How often a tree is looked at while waiting for it to die.
const POLL: Duration = Duration::from_millis(40);

/// Makes this process a child subreaper (Linux): orphans among its
/// descendants are re-parented to it instead of init, so a double-forked
/// daemon of a run stays in reach and its zombie is reaped here. Call once
/// at startup. False where it is not supported.
pub fn set_subreaper() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain prctl on this process.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// One process as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    /// Process group (kept by a zombie too).
    pub pgrp: i32,
    /// Start time in clock ticks since boot (field 22): with the pid, the
    /// process's identity.
    pub start: u64,
    pub zombie: bool,
}

fn parse_stat(pid: i32, stat: &str) -> Option<Proc> {
    // "pid (comm) state ppid pgrp session ... starttime(22) ..." - comm may
    // hold anything, so parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().take(20).collect();
    Some(Proc {
        pid,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
        zombie: matches!(*f.first()?, "Z" | "X"),
    })
}

/// The process `pid` now, if it exists.
pub fn stat(pid: i32) -> Option<Proc> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &text)
}

/// Start time of `pid` (field 22 of `/proc/PID/stat`), if it exists.
pub fn start_time(pid: u32) -> Option<u64> {
    stat(i32::try_from(pid).ok()?).map(|p| p.start)
}

/// Every process on the machine now (what `/proc` lists).
pub fn snapshot() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .collect()
}

fn has_mark(pid: i32, mark: &[u8]) -> bool {
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    env.split(|&b| b == 0).any(|v| v == mark)
}

/// Which run: its id (the mark) and its root `sh` (pid, start time).
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub root: Option<(i32, u64)>,
}

impl Run {
    /// Every process of the run now, zombies included (flagged).
    pub fn members(&self) -> Vec<Proc> {
        self.members_in(&snapshot())
    }

    /// Every process of the run in `procs` (a [`snapshot`]).
    pub fn members_in(&self, procs: &[Proc]) -> Vec<Proc> {
        let me = std::process::id() as i32;
        let mark = format!("{RUN_ID_VAR}={}", self.id).into_bytes();
        let mut children: HashMap<i32, Vec<usize>> = HashMap::new();
        for (i, p) in procs.iter().enumerate() {
            children.entry(p.ppid).or_default().push(i);
        }
        let mut todo: Vec<usize> = Vec::new();
        for (i, p) in procs.iter().enumerate() {
            if p.pid == me || p.pid <= 1 {
                continue;
            }
            let is_root = self.root == Some((p.pid, p.start));
            if is_root || (!p.zombie && has_mark(p.pid, &mark)) {
                todo.push(i);
            }
        }
        let mut seen: HashSet<usize> = HashSet::new();
        while let Some(i) = todo.pop() {
            if !seen.insert(i) {
                continue;
            }
            if let Some(kids) = children.get(&procs[i].pid) {
                todo.extend(kids.iter().copied().filter(|&k| procs[k].pid != me));
            }
        }
        let mut out: Vec<Proc> = seen.into_iter().map(|i| procs[i]).collect();
        out.sort_by_key(|p| p.pid);
        out
    }

    /// The live (not zombie) processes of the run.
    pub fn alive(&self) -> Vec<Proc> {
        self.members().into_iter().filter(|p| !p.zombie).collect()
    }
}

/// Sends `sig` to `p` if it is still the process that was seen (same pid
/// and start time). True when sent.
pub fn send(p: &Proc, sig: i32) -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: pidfd_open on a pid; the descriptor is closed below.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, p.pid, 0) } as i32;
        if fd >= 0 {
            // The pidfd pins the process: if its start time still matches,
            // the signal reaches that very process, never a reused pid.
            let same = stat(p.pid).is_some_and(|now| now.start == p.start);
            // SAFETY: signalling through the pidfd we own, then closing it.
            let sent = same
                && unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd,
                        sig,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                } == 0;
            unsafe { libc::close(fd) };
            return sent;
        }
    }
    if stat(p.pid).is_some_and(|now| now.start == p.start) {
        // SAFETY: plain kill on a pid just checked.
        return unsafe { libc::kill(p.pid, sig) } == 0;
    }
    false
}

/// Sends `sig` to every live process in `procs`; returns how many.
pub fn send_all(procs: &[Proc], sig: i32) -> usize {
    procs
        .iter()
        .filter(|p| !p.zombie)
        .filter(|p| send(p, sig))
        .count()
}

/// Reaps the zombies among `procs` that are loopdeck's children (orphans
/// re-parented to it), except `keep` (a run's root: tokio waits for it).
pub fn reap(procs: &[Proc], keep: Option<i32>) {
    let me = std::process::id() as i32;
    for p in procs {
        if p.zombie && p.ppid == me && Some(p.pid) != keep {
            // Re-check right before: the pid is a zombie child of ours with
            // the start time seen, so this reaps exactly that process.
            if stat(p.pid).is_some_and(|now| now.zombie && now.start == p.start) {
                // SAFETY: waitpid on one of our own zombie children.
                unsafe { libc::waitpid(p.pid, std::ptr::null_mut(), libc::WNOHANG) };
            }
        }
    }
}

/// TERM to every live process of the runs (unless `term_sent`: the caller
/// just did), up to `grace` for them to go, then KILL to what is left (new
/// processes forked meanwhile included), and up to a second for the kernel
/// to finish them. Blocking (for loopdeck's exit path, the panic hook and
/// `loopdeck cancel`). Returns the last signal sent (None when nothing was
/// alive) and the processes still alive after all that (normally none).
pub fn terminate_blocking(
    runs: &[Run],
    grace: Duration,
    term_sent: bool,
) -> (Option<i32>, Vec<Proc>) {
    let alive = |runs: &[Run]| -> Vec<Proc> { runs.iter().flat_map(Run::alive).collect() };
    let first = alive(runs);
    if first.is_empty() {
        return (term_sent.then_some(libc::SIGTERM), Vec::new());
    }
    if !term_sent {
        send_all(&first, libc::SIGTERM);
    }
    let mut last = libc::SIGTERM;
    let deadline = Instant::now() + grace;
    let mut left = first;
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
        left = alive(runs);
    }
    if !left.is_empty() {
        last = libc::SIGKILL;
        let end = Instant::now() + Duration::from_secs(1);
        while !left.is_empty() && Instant::now() < end {
            send_all(&left, libc::SIGKILL);
            std::thread::sleep(POLL);
            left = alive(runs);
        }
    }
    (Some(last), left)
}

/// Pids as "123, 456".
pub fn pid_list(procs: &[Proc]) -> String {
    procs
        .iter()
        .map(|p| p.pid.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parses_after_the_last_paren() {
        let line =
            "4242 (a) b) (c) S 17 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        let p = parse_stat(4242, line).unwrap();
        assert_eq!(
            (p.ppid, p.pgrp, p.start, p.zombie),
            (17, 4242, 987654, false)
        );
        let z = "7 (sh) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0";
        assert!(parse_stat(7, z).unwrap().zombie);
    }

    #[test]
    fn our_own_start_time_is_stable_and_others_are_not_ours() {
        let me = std::process::id();
        assert_eq!(start_time(me), start_time(me));
        assert!(start_time(me).is_some());
        // A process with a made-up start time is never signalled.
        let fake = Proc {
            pid: me as i32,
            ppid: 0,
            pgrp: 0,
            start: start_time(me).unwrap() + 1,
            zombie: false,
        };
        assert!(!send(&fake, 0));
    }
}
