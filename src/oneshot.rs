//! Allocator tuning, measured in the README's performance section; none of
//! it changes what the process computes.
//!
//! [`grow_heaps_in_big_steps`] is for a process that reads a big report
//! once and exits (`loopdeck status`), not for the long-running UI, whose
//! heaps should shrink back after a big report: that is what
//! [`give_back_freed_memory`] is for.

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

/// Returns the heap memory freed after a big read (the parse's buffers, a
/// dropped copy of the tests) to the system. glibc keeps freed memory in
/// its heaps for reuse, so without this the UI would hold a 2.6M-test
/// report's parse garbage (about 250 MB) for as long as it runs. It walks
/// the heaps (milliseconds): call it after big reads, off the UI task.
pub fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only releases free
    // memory at the top and inside glibc's heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}
