//! Memory made resident in one call instead of one page fault per page.
//!
//! The first write to each 4 KB page of fresh memory traps into the kernel;
//! in a VM such a fault costs about 3 µs, and the 100,000 test records of a
//! big report (7 MB) are 1,800 of them. `MADV_POPULATE_WRITE` (Linux 5.14)
//! makes the pages resident in one system call. Elsewhere, or on an older
//! kernel, nothing happens and the faults come as before.

use std::mem::MaybeUninit;

/// Makes the whole pages of `spare` (memory not written yet) resident.
pub(crate) fn prefault<T>(spare: &mut [MaybeUninit<T>]) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sysconf has no preconditions.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            p if p > 0 => p as usize,
            _ => return,
        };
        let start = spare.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(spare);
        let (from, to) = (start.div_ceil(page) * page, end / page * page);
        if to > from {
            // SAFETY: the range lies inside `spare`, memory this process
            // owns and has not initialised; MADV_POPULATE_WRITE only makes
            // its pages resident (zero-filled), it never changes contents
            // that a reader could observe.
            unsafe {
                libc::madvise(
                    from as *mut libc::c_void,
                    to - from,
                    libc::MADV_POPULATE_WRITE,
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = spare;
}

/// For a process that reads a big report once and exits (`loopdeck
/// status`): the allocator grows its heaps 16 MB at a time instead of
/// 128 KB. Each growth is a system call that also splits and merges the
/// process's memory map; reading a 100k-test report took several hundred
/// of them, on both threads (about 4 ms of 40). Pages are still only made
/// resident when written, so the peak memory is the same. Not for the
/// long-running UI: a heap shrinks back only down to this much.
pub fn grow_heaps_in_big_steps() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning parameter of glibc's allocator; it
    // may be called at any time.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
    }
}
