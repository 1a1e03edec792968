//! Process groups: signalling a run's whole group and telling whether any
//! live member is left. (A run's processes that left its group are found
//! by [`super::tree`].)

use std::io;

/// Sends `sig` to every process in group `pgid`. False when no process was
/// signalled (the group is gone).
pub(crate) fn signal(pgid: i32, sig: i32) -> bool {
    if pgid <= 1 {
        return false; // never signal our own group or everything
    }
    // SAFETY: plain syscall; a negative pid addresses the process group.
    unsafe { libc::kill(-pgid, sig) == 0 }
}

/// True while the kernel still knows a member of the group (zombies
/// included).
fn exists(pgid: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: signal 0 only checks.
    let rc = unsafe { libc::kill(-pgid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// True while a member of the group is alive. Zombies do not count: where
/// pid 1 does not reap orphans (some containers), killed grandchildren stay
/// zombies and `kill(-pgid, 0)` keeps succeeding; on Linux `/proc` tells
/// them apart.
pub(crate) fn has_live_members(pgid: i32) -> bool {
    if !exists(pgid) {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return true;
        };
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{name}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid pgrp ..." - comm may contain anything,
            // so parse after the last ')'.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next().unwrap_or("");
            let pgrp = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
            if pgrp == Some(pgid) && state != "Z" && state != "X" {
                return true;
            }
        }
        false
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

/// `SIGTERM`-style name of a signal number.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}
