//! Opening files of an untrusted directory without being fooled by it.
//!
//! Every report, `iteration.json` and `deploy.json` is opened through
//! [`open_inside`]: the path is walked one component at a time from the
//! results root with `openat(O_NOFOLLOW)`, so no symlink (at any level, even
//! one swapped in between our listing and our open) can lead outside the
//! root; the file is opened with `O_NONBLOCK` so a FIFO cannot block, and is
//! then checked with `fstat` to be a regular file.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Component, Path};

/// Why a file was not opened. The text is shown after the file's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not a regular file (FIFO, socket, device, directory).
    NotRegular(&'static str),
    /// A symlink somewhere on the way (only reachable through a race or a
    /// symlink we chose not to follow).
    Symlink,
    /// A symlink that leads outside the results directory (or nowhere).
    Outside,
    /// The file vanished between the listing and the open: not a problem,
    /// the next listing will not name it.
    Gone,
    /// The file could not be opened (permissions, I/O error).
    Io(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotRegular(kind) => write!(f, "not a regular file ({kind}); not read"),
            Refusal::Symlink => write!(f, "symbolic link on the way; not followed"),
            Refusal::Outside => write!(
                f,
                "symbolic link to outside the results directory (or to nothing); not followed"
            ),
            Refusal::Gone => write!(f, "deleted while being read"),
            Refusal::Io(e) => write!(f, "cannot open: {e}"),
        }
    }
}

/// Identity, size and change times of an open file, from `fstat`. Two
/// stats compare equal only if none of these changed: a file rewritten in
/// place with the same size differs in mtime (and ctime); one replaced by
/// another differs in inode; a chmod differs in ctime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Status change time in nanoseconds since the epoch.
    pub ctime_ns: i128,
}

impl Stat {
    pub fn of(meta: &std::fs::Metadata) -> Stat {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Stat {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// `fstat` of an open file.
    pub fn of_file(file: &File) -> io::Result<Stat> {
        file.metadata().map(|m| Stat::of(&m))
    }

    pub fn mtime(&self) -> std::time::SystemTime {
        let epoch = std::time::UNIX_EPOCH;
        if self.mtime_ns >= 0 {
            epoch + std::time::Duration::from_nanos(self.mtime_ns as u64)
        } else {
            epoch - std::time::Duration::from_nanos((-self.mtime_ns) as u64)
        }
    }
}

/// Names a file type for a refusal message.
pub(crate) fn kind_name(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "device"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symlink"
    } else {
        "special file"
    }
}

fn cstr(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

fn openat(dir: Option<&OwnedFd>, name: &[u8], flags: libc::c_int) -> io::Result<OwnedFd> {
    let name = cstr(name)?;
    let dirfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: `name` is a valid NUL-terminated string and `dirfd` is either
    // AT_FDCWD or an open descriptor we own for the duration of the call.
    let fd = unsafe { libc::openat(dirfd, name.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by openat and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens `root/rel` for reading, refusing anything but a regular file that
/// lies inside `root` without passing through a symlink. `rel` must be made
/// of plain components only. The root itself may be a symlink (the operator
/// chose it).
pub(crate) fn open_inside(root: &Path, rel: &Path) -> Result<(File, Stat), Refusal> {
    let mut names = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => names.push(n.as_bytes()),
            Component::CurDir => {}
            _ => return Err(Refusal::Io("path leaves the results directory".into())),
        }
    }
    let Some((last, dirs)) = names.split_last() else {
        return Err(Refusal::Io("empty path".into()));
    };
    let io_err = |e: io::Error| match e.raw_os_error() {
        Some(libc::ELOOP | libc::ENOTDIR) => Refusal::Symlink,
        Some(libc::ENOENT) => Refusal::Gone,
        _ => Refusal::Io(e.to_string()),
    };
    let mut dir = openat(
        None,
        root.as_os_str().as_bytes(),
        libc::O_RDONLY | libc::O_DIRECTORY,
    )
    .map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => Refusal::Gone,
        _ => Refusal::Io(e.to_string()),
    })?;
    for name in dirs {
        dir = openat(
            Some(&dir),
            name,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        )
        .map_err(io_err)?;
    }
    let fd = openat(
        Some(&dir),
        last,
        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY,
    )
    .map_err(io_err)?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| Refusal::Io(e.to_string()))?;
    if !meta.file_type().is_file() {
        return Err(Refusal::NotRegular(kind_name(meta.file_type())));
    }
    Ok((file, Stat::of(&meta)))
}

/// Reads up to `max` bytes at `offset` (fewer at the end of the file).
pub(crate) fn read_at(file: &File, offset: u64, max: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; max];
    let mut filled = 0;
    while filled < max {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Reads from `offset` to the end of the file, at most `max` bytes, appending
/// to `out`. Returns how many bytes were read.
pub(crate) fn read_rest(file: &File, offset: u64, max: u64, out: &mut Vec<u8>) -> io::Result<u64> {
    let mut f = file;
    io::Seek::seek(&mut f, io::SeekFrom::Start(offset))?;
    let n = f.take(max).read_to_end(out)?;
    Ok(n as u64)
}
