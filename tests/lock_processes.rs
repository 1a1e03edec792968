//! The results-directory lock, with real second processes: this test
//! binary re-run as a lock holder, and util-linux `flock(1)`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use chrono::Utc;
use loopdeck::lock::{self, LockError, LockInfo};

const ROLE: &str = "LOOPDECK_LOCK_TEST_ROLE";

/// Helper role: take the lock for `LOOPDECK_LOCK_DIR`, say LOCKED (or
/// REFUSED and why), hold it until stdin closes, release, say RELEASED.
fn hold_role() {
    let dir = std::env::var("LOOPDECK_LOCK_DIR").unwrap();
    let mut out = std::io::stdout();
    match lock::try_acquire(Path::new(&dir), "deploy") {
        Ok(guard) => {
            writeln!(out, "\nLOCKED {}", std::process::id()).unwrap();
            out.flush().unwrap();
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            drop(guard);
            writeln!(out, "\nRELEASED").unwrap();
        }
        Err(e) => writeln!(out, "\nREFUSED {e}").unwrap(),
    }
    out.flush().unwrap();
}

fn is_role() -> bool {
    if std::env::var(ROLE).as_deref() == Ok("hold") {
        hold_role();
        return true;
    }
    false
}

struct Helper {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Helper {
    fn start(dir: &Path) -> Helper {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "helper_role", "--nocapture", "--test-threads=1"])
            .env(ROLE, "hold")
            .env("LOOPDECK_LOCK_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        Helper { child, out }
    }

    /// The next LOCKED/REFUSED/RELEASED line (blocks until it comes or the
    /// helper exits).
    fn said(&mut self) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                self.out.read_line(&mut line).unwrap() > 0,
                "helper exited without a verdict"
            );
            let l = line.trim();
            if ["LOCKED", "REFUSED", "RELEASED"]
                .iter()
                .any(|w| l.starts_with(w))
            {
                return l.to_string();
            }
        }
    }
}

/// The runner for the role: `--exact helper_role` lands here.
#[test]
fn helper_role() {
    // Does nothing unless run as a helper.
    is_role();
}

#[test]
fn same_process_second_acquire_is_refused_and_drop_releases() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(lock::holder(dir.path()), None);
    let guard = lock::try_acquire(dir.path(), "test").unwrap();
    assert_eq!(guard.info().pid, std::process::id());
    assert_eq!(lock::holder(dir.path()).as_ref(), Some(guard.info()));

    // A second open file description is a second flock owner.
    let Err(LockError::Held(info)) = lock::try_acquire(dir.path(), "deploy") else {
        panic!("second acquire succeeded");
    };
    assert_eq!(&info, guard.info());
    let msg = LockError::Held(info.clone()).to_string();
    let want = format!(
        "held by {}@{} (pid {}) since {}: test",
        lock::username(),
        lock::hostname(),
        std::process::id(),
        info.since_display()
    );
    assert_eq!(msg, want);
    assert_eq!(info.since_display().len(), 5, "HH:MM today");

    drop(guard);
    assert_eq!(lock::holder(dir.path()), None);
    assert_eq!(
        std::fs::read(lock::lock_path(dir.path())).unwrap(),
        b"",
        "a clean release empties the record"
    );
    drop(lock::try_acquire(dir.path(), "again").unwrap());
}

#[test]
fn display_names_holder_host_pid_time_and_what() {
    let info = LockInfo {
        pid: 4242,
        host: "ci-3".into(),
        user: "alice".into(),
        since: Utc::now(),
        what: "deploy".into(),
    };
    let s = LockError::Held(info.clone()).to_string();
    assert!(s.starts_with("held by alice@ci-3 (pid 4242) since "), "{s}");
    assert!(
        s.ends_with(&format!("{}: deploy", info.since_display())),
        "{s}"
    );
    let old = LockInfo {
        since: "2020-01-02T03:04:05Z".parse().unwrap(),
        ..info
    };
    assert!(
        old.since_display().starts_with("Jan 0"),
        "another day shows the date"
    );
}

#[test]
fn a_second_process_is_refused_with_the_holder_until_the_holder_dies() {
    let dir = tempfile::tempdir().unwrap();
    let mut helper = Helper::start(dir.path());
    let said = helper.said();
    let pid = helper.child.id();
    assert_eq!(said, format!("LOCKED {pid}"));

    let Err(LockError::Held(info)) = lock::try_acquire(dir.path(), "test") else {
        panic!("acquired a lock another process holds");
    };
    assert_eq!(info.pid, pid);
    assert_eq!(info.host, lock::hostname());
    assert_eq!(info.user, lock::username());
    assert_eq!(info.what, "deploy");
    assert_eq!(lock::holder(dir.path()), Some(info));

    // Killed, not released: the kernel drops the flock, the record stays
    // behind but names a dead process.
    helper.child.kill().unwrap();
    helper.child.wait().unwrap();
    assert!(
        !std::fs::read(lock::lock_path(dir.path()))
            .unwrap()
            .is_empty()
    );
    assert_eq!(lock::holder(dir.path()), None);
    let guard = lock::try_acquire(dir.path(), "test").unwrap();
    assert_eq!(guard.info().pid, std::process::id());
    assert_eq!(lock::holder(dir.path()).unwrap().pid, std::process::id());
}

#[test]
fn a_holder_that_releases_lets_the_next_one_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut helper = Helper::start(dir.path());
    assert!(helper.said().starts_with("LOCKED"));
    assert!(lock::try_acquire(dir.path(), "test").is_err());
    drop(helper.child.stdin.take()); // "release now"
    assert_eq!(helper.said(), "RELEASED");
    assert!(helper.child.wait().unwrap().success());
    assert_eq!(lock::holder(dir.path()), None);
    lock::try_acquire(dir.path(), "test").unwrap();
}

#[test]
fn another_process_is_refused_while_we_hold_it() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = lock::try_acquire(dir.path(), "next iteration").unwrap();
    let mut helper = Helper::start(dir.path());
    let said = helper.said();
    let want = format!(
        "REFUSED held by {}@{} (pid {})",
        lock::username(),
        lock::hostname(),
        std::process::id()
    );
    assert!(said.starts_with(&want), "{said}");
    assert!(said.ends_with(": next iteration"), "{said}");
    assert!(helper.child.wait().unwrap().success());
}

fn have_flock() -> bool {
    let found = Command::new("flock")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("flock(1) (util-linux) not installed: skipping");
    }
    found
}

/// `flock(1)` holding `path` in its own process group; returns once it
/// holds the lock.
fn flock_holder(path: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    // -o: the command does not inherit the lock, so it dies with flock(1).
    let mut child = Command::new("flock")
        .arg("-o")
        .arg(path)
        .args(["sh", "-c", "echo locked; exec sleep 300"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    child
}

fn kill_group(child: &mut Child) {
    // SAFETY: signalling the process group we created.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    child.wait().unwrap();
}

/// A pid that existed and is gone (reaped).
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    assert!(!lock::pid_alive(pid));
    pid
}

fn write_record(path: &Path, info: &LockInfo) {
    std::fs::write(path, serde_json::to_vec(info).unwrap()).unwrap();
}

#[test]
fn a_flock_without_a_record_is_held_by_an_unknown_process() {
    if !have_flock() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = lock::lock_path(dir.path());
    let mut holder = flock_holder(&path);
    let err = lock::try_acquire(dir.path(), "test").unwrap_err();
    let LockError::Held(info) = &err else {
        panic!("{err}")
    };
    assert_eq!(info.pid, 0);
    assert_eq!(
        err.to_string(),
        "held by another process (no holder recorded in the lock file)"
    );
    kill_group(&mut holder);
    lock::try_acquire(dir.path(), "test").unwrap();
}

#[test]
fn a_lock_naming_a_dead_local_process_is_taken_over_even_if_flock_lies() {
    if !have_flock() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = lock::lock_path(dir.path());
    let stale = LockInfo {
        pid: dead_pid(),
        host: lock::hostname(),
        user: "bob".into(),
        since: Utc::now(),
        what: "deploy".into(),
    };
    write_record(&path, &stale);
    // What NFS can do: the flock stays held after its owner is gone.
    let mut liar = flock_holder(&path);
    assert_eq!(
        lock::holder(dir.path()),
        None,
        "a dead local holder is no holder"
    );

    let guard = lock::try_acquire(dir.path(), "test").unwrap();
    assert_eq!(guard.info().pid, std::process::id());
    assert_eq!(lock::holder(dir.path()).unwrap().pid, std::process::id());
    // The stale file was moved aside and removed; only the new one is left.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [lock::LOCK_FILE]);
    // And it really is locked: a second process is refused.
    let mut helper = Helper::start(dir.path());
    assert!(helper.said().starts_with("REFUSED held by"));
    helper.child.wait().unwrap();
    kill_group(&mut liar);
}

#[test]
fn a_lock_naming_another_host_is_never_declared_dead() {
    if !have_flock() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = lock::lock_path(dir.path());
    let remote = LockInfo {
        pid: dead_pid(), // means nothing on another machine
        host: format!("{}-elsewhere", lock::hostname()),
        user: "carol".into(),
        since: Utc::now(),
        what: "deploy".into(),
    };
    write_record(&path, &remote);
    // No flock: the record is what a crashed remote holder left behind.
    assert_eq!(lock::holder(dir.path()), None);
    // With its flock held, it holds the lock whatever its pid.
    let mut remote_flock = flock_holder(&path);
    assert_eq!(lock::holder(dir.path()), Some(remote.clone()));
    let Err(LockError::Held(info)) = lock::try_acquire(dir.path(), "test") else {
        panic!("took over a lock held from another host");
    };
    assert_eq!(info, remote);
    kill_group(&mut remote_flock);
    lock::try_acquire(dir.path(), "test").unwrap();
}

/// Starts `n` helpers at once and returns how many got the lock.
fn race(dir: &Path, n: usize) -> usize {
    let mut helpers: Vec<Helper> = (0..n).map(|_| Helper::start(dir)).collect();
    let verdicts: Vec<String> = helpers.iter_mut().map(Helper::said).collect();
    for h in &mut helpers {
        drop(h.child.stdin.take());
        h.child.wait().unwrap();
    }
    for v in &verdicts {
        assert!(
            v.starts_with("LOCKED") || v.starts_with("REFUSED held by"),
            "{v}"
        );
    }
    verdicts.iter().filter(|v| v.starts_with("LOCKED")).count()
}

#[test]
fn racing_processes_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(race(dir.path(), 6), 1);
}

#[test]
fn racing_take_overs_of_a_stale_lock_exactly_one_wins() {
    if !have_flock() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = lock::lock_path(dir.path());
    write_record(
        &path,
        &LockInfo {
            pid: dead_pid(),
            host: lock::hostname(),
            user: "bob".into(),
            since: Utc::now(),
            what: "deploy".into(),
        },
    );
    let mut liar = flock_holder(&path);
    assert_eq!(race(dir.path(), 6), 1);
    kill_group(&mut liar);
}
