//! Memory tuning for a process that reads a big report once and exits
//! (`loopdeck status`). It does not change what the process computes; it
//! is measured in the README's performance section.
//!
//! Not for the long-running UI: its heaps should shrink back after a big
//! report, and it has no start-up time to save.

/// Makes the allocator grow its heaps 16 MB at a time instead of 128 KB.
/// Each growth is a system call that also splits and merges the process's
/// memory map; reading a 100k-test report took several hundred of them, on
/// both threads (about 4 ms of 40). Pages are still only made resident
/// when written, so the peak memory is the same; but a heap shrinks back
/// only down to this much.
pub fn grow_heaps_in_big_steps() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning parameter of glibc's allocator; it
    // may be called at any time.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
    }
}
