//! One run at a time per results directory, across processes and machines.
//!
//! The lock is `flock(2)` (via [`std::fs::File::try_lock`]) on
//! `.loopdeck.lock` in the results directory. The kernel releases a flock
//! when its holder dies, however it dies, so a crashed loopdeck never leaves
//! the directory locked on a local filesystem.
//!
//! After taking the flock, the holder writes who it is into the file (one
//! JSON object: pid, host, user, since, what), so a refused trigger can say
//! "held by alice@ci-3 (pid 4242) since 10:05: deploy" and `status` can show
//! the holder. A clean release empties the file before unlocking.
//!
//! # Rules
//!
//! * **Held** means: the flock cannot be taken. Nothing else.
//! * **Stale** (the one exception): the flock cannot be taken, but the file
//!   names a process *on this host* (same hostname) that no longer exists
//!   (`kill(pid, 0)` fails with `ESRCH`). Locally that cannot happen (the
//!   kernel dropped the flock when the process died); on NFS, flock is
//!   emulated with server-side locks that can outlive their owner for a lease
//!   period, or be held by another descriptor that inherited it. Such a lock
//!   is taken over:
//!   1. read the file twice, a short moment apart: it must name the same dead
//!      holder both times;
//!   2. rename it aside (`.loopdeck.lock.stale-<pid>-<nanos>`), atomically;
//!   3. read the renamed file: if it still names the dead holder, delete it
//!      and lock a fresh file; if someone else's live record appeared in it
//!      (a racer locked and wrote in between), put it back with a no-replace
//!      `link(2)` and report that holder.
//!
//!   Every acquirer, after locking and writing its record, checks that the
//!   path still names the file it locked (device + inode); if a take-over
//!   moved it, it starts again. Together with step 3 this means two
//!   acquirers never both believe they hold the lock, whatever the
//!   interleaving, on a filesystem with coherent rename and stat.
//! * A holder on **another host** is never declared dead: its pid means
//!   nothing here. If that host crashed, its flock goes with it (NFSv4 lease
//!   expiry); loopdeck does not guess earlier.
//! * A flock held with an empty file (the `flock(1)` command, or a holder in
//!   the instant between locking and writing) is retried for a few
//!   milliseconds, then reported as held by an unknown process.
//!
//! Limits: `host` is the hostname, so two containers with the same hostname
//! but separate pid namespaces sharing one directory over a volume would
//! misjudge each other's pids (give them distinct hostnames). A filesystem
//! whose flock is purely local to each client (NFS `local_lock=flock`) cannot
//! protect across machines at all: the record is still written and shown, but
//! nothing here detects two hosts holding "the" lock at once (that would need
//! a heartbeat in the file).

use std::ffi::CStr;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};

/// Name of the lock file inside the results directory.
pub const LOCK_FILE: &str = ".loopdeck.lock";

/// How often an empty-but-locked file is re-read before reporting an
/// unknown holder (and the pause between reads).
const EMPTY_RETRIES: u32 = 10;
const RETRY_PAUSE: Duration = Duration::from_millis(5);
/// Pause between the two reads that confirm a stale holder.
const STALE_CONFIRM: Duration = Duration::from_millis(30);

/// Who holds the lock. Written into the lock file as one JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub since: DateTime<Utc>,
    /// What the holder is doing ("test", "deploy", "next iteration"...).
    pub what: String,
}

impl LockInfo {
    /// This process, now.
    pub fn current(what: &str) -> LockInfo {
        LockInfo {
            pid: std::process::id(),
            host: hostname(),
            user: username(),
            since: Utc::now(),
            what: what.to_string(),
        }
    }

    /// A flock is held but the file names nobody.
    fn unknown() -> LockInfo {
        LockInfo {
            pid: 0,
            host: String::new(),
            user: String::new(),
            since: Utc::now(),
            what: String::new(),
        }
    }

    /// True when the record names a process on this host that is gone.
    pub fn is_dead_local(&self) -> bool {
        self.pid != 0 && self.host == hostname() && !pid_alive(self.pid)
    }

    /// `10:05` today, `Nov 23 10:05` on another day (local time).
    pub fn since_display(&self) -> String {
        let local = self.since.with_timezone(&Local);
        if local.date_naive() == Local::now().date_naive() {
            local.format("%H:%M").to_string()
        } else {
            local.format("%b %d %H:%M").to_string()
        }
    }
}

impl fmt::Display for LockInfo {
    /// `alice@ci-3 (pid 4242) since 10:05: deploy`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pid == 0 && self.host.is_empty() {
            return f.write_str("another process (no holder recorded in the lock file)");
        }
        write!(
            f,
            "{}@{} (pid {}) since {}",
            self.user,
            self.host,
            self.pid,
            self.since_display()
        )?;
        if !self.what.is_empty() {
            write!(f, ": {}", self.what)?;
        }
        Ok(())
    }
}

/// Why [`try_acquire`] failed.
#[derive(Debug)]
pub enum LockError {
    /// Someone else holds the lock.
    Held(LockInfo),
    /// The lock file could not be opened, locked or written.
    Io(io::Error),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Held(info) => write!(f, "held by {info}"),
            LockError::Io(e) => write!(f, "cannot use the lock file {LOCK_FILE}: {e}"),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Held(_) => None,
            LockError::Io(e) => Some(e),
        }
    }
}

impl From<io::Error> for LockError {
    fn from(e: io::Error) -> Self {
        LockError::Io(e)
    }
}

/// The held lock. Dropping it empties the lock file and releases the flock.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    path: PathBuf,
    info: LockInfo,
}

impl LockGuard {
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Updates what the holder is doing (e.g. "deploy" -> "test" during
    /// `next`), keeping the lock.
    pub fn set_what(&mut self, what: &str) -> io::Result<()> {
        self.info.what = what.to_string();
        write_info(&self.file, &self.info)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Empty the record while still holding the flock, so no reader sees
        // our record after we are gone. The flock goes with the descriptor.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// Path of the lock file for `results_dir`.
pub fn lock_path(results_dir: &Path) -> PathBuf {
    results_dir.join(LOCK_FILE)
}

/// Takes the lock for `results_dir` without waiting, recording `what`.
pub fn try_acquire(results_dir: &Path, what: &str) -> Result<LockGuard, LockError> {
    let path = lock_path(results_dir);
    let mut took_over = false;
    let mut empty_reads = 0;
    // Each turn either returns or makes progress (a take-over, a moved file,
    // an empty record still being written); bounded in any case.
    for _ in 0..(EMPTY_RETRIES + 10) {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {
                if !same_file(&file, &path)? {
                    continue; // taken over and replaced between open and lock
                }
                let info = LockInfo::current(what);
                write_info(&file, &info)?;
                if !same_file(&file, &path)? {
                    // A take-over renamed our file away after we locked it.
                    drop(file);
                    continue;
                }
                return Ok(LockGuard { file, path, info });
            }
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        match read_info_from(&file) {
            Some(info) if info.is_dead_local() && !took_over => {
                took_over = true;
                take_over(&path, &info)?;
            }
            Some(info) => return Err(LockError::Held(info)),
            None => {
                empty_reads += 1;
                if empty_reads >= EMPTY_RETRIES {
                    return Err(LockError::Held(LockInfo::unknown()));
                }
                std::thread::sleep(RETRY_PAUSE);
            }
        }
    }
    Err(LockError::Held(
        read_info(&path).unwrap_or_else(LockInfo::unknown),
    ))
}

/// Who holds the lock for `results_dir`, if anyone (for `status` and the
/// UI). Never takes the lock exclusively, so it cannot make a concurrent
/// trigger fail.
///
/// * no file or an empty file: `None`;
/// * a record naming a process on this host that is gone: `None` (a crash
///   leaves the record; the flock is already free);
/// * otherwise `Some` if the flock is held (probed with a shared lock,
///   released at once), `None` if it is free (a record left by a crashed
///   holder on another host, or a reused pid).
pub fn holder(results_dir: &Path) -> Option<LockInfo> {
    let path = lock_path(results_dir);
    let file = File::open(&path).ok()?;
    let info = read_info_from(&file)?;
    if info.is_dead_local() {
        return None;
    }
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(_) => Some(info),
    }
}

/// Reads the record in the lock file at `path`, if any.
pub fn read_info(path: &Path) -> Option<LockInfo> {
    let file = File::open(path).ok()?;
    read_info_from(&file)
}

fn read_info_from(mut file: &File) -> Option<LockInfo> {
    file.seek(SeekFrom::Start(0)).ok()?;
    let mut buf = Vec::new();
    // A lock record is tiny; never read a huge file whole.
    file.take(64 * 1024).read_to_end(&mut buf).ok()?;
    let text = std::str::from_utf8(&buf).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    serde_json::from_str(text).ok()
}

fn write_info(file: &File, info: &LockInfo) -> io::Result<()> {
    let mut buf = serde_json::to_vec(info).map_err(io::Error::other)?;
    buf.push(b'\n');
    file.set_len(0)?;
    file.write_all_at(&buf, 0)?;
    // Visible to other NFS clients once flushed.
    file.sync_data()
}

fn same_file(file: &File, path: &Path) -> io::Result<bool> {
    let a = file.metadata()?;
    match fs::metadata(path) {
        Ok(b) => Ok(a.dev() == b.dev() && a.ino() == b.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Moves a stale lock file (flock held, record naming a dead local pid)
/// out of the way; see the module documentation for the protocol.
fn take_over(path: &Path, stale: &LockInfo) -> Result<(), LockError> {
    std::thread::sleep(STALE_CONFIRM);
    match read_info(path) {
        Some(again) if again == *stale => {}
        // Changed meanwhile: let the caller look again.
        _ => return Ok(()),
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".stale-{}-{nanos}", std::process::id()));
    let aside = PathBuf::from(aside);
    match fs::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LockError::Io(e)),
    }
    match read_info(&aside) {
        Some(info) if info == *stale => {
            let _ = fs::remove_file(&aside);
            Ok(())
        }
        None => {
            // Emptied: the dead holder's file was released after all.
            let _ = fs::remove_file(&aside);
            Ok(())
        }
        Some(live) => {
            // A racer locked this file and wrote its record between our
            // reads: it is the holder. Put its file back (never replacing a
            // newer one) and report it.
            let _ = fs::hard_link(&aside, path);
            let _ = fs::remove_file(&aside);
            Err(LockError::Held(live))
        }
    }
}

/// `kill(pid, 0)`: false only when the process does not exist (`ESRCH`).
/// A process we may not signal (`EPERM`) is alive.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// This machine's hostname (cached).
pub fn hostname() -> String {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes a
        // NUL-terminated name (truncated if longer, hence the last byte).
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).into_owned();
            if !name.is_empty() {
                return name;
            }
        }
        std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into())
    })
    .clone()
}

/// The effective user's login name (cached), from the password database,
/// then `$USER`/`$LOGNAME`, then the numeric uid.
pub fn username() -> String {
    static USER: OnceLock<String> = OnceLock::new();
    USER.get_or_init(|| {
        // SAFETY: geteuid cannot fail.
        let uid = unsafe { libc::geteuid() };
        // SAFETY: all pointers are valid for the call; the name is copied
        // out of `buf` before it goes away.
        unsafe {
            let mut pwd: libc::passwd = std::mem::zeroed();
            let mut buf = vec![0 as libc::c_char; 4096];
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
            if rc == 0 && !result.is_null() && !pwd.pw_name.is_null() {
                let name = CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned();
                if !name.is_empty() {
                    return name;
                }
            }
        }
        std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| uid.to_string())
    })
    .clone()
}
