//! glibc's allocator, set for streaming image data.
//!
//! glibc serves a block of 128 KiB or more with its own mapping and unmaps it when freed, but
//! each time such a block is freed it raises that threshold to the block's size (up to 32 MiB).
//! After the first upload batch (256 KiB) was freed, every later batch, and every S3 part
//! gathered from them, came from the heaps of the threads that made them, where freed memory
//! stays resident and fragments: a 1 GiB upload to S3 in 10 MiB parts peaked at 65 MiB of RSS
//! with at most three parts held. Setting the threshold fixes it at 128 KiB (setting it turns
//! the raising off), so each batch goes back to the system when freed, and the resident size
//! follows what an upload holds: 46 MiB for the same upload (docs/performance.md, "Image data
//! on S3"). glibc's own `MALLOC_MMAP_THRESHOLD_` or `GLIBC_TUNABLES`, if set, win.

/// Blocks this large or larger are mapped on their own and unmapped when freed (glibc's
/// default starting threshold).
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// Fix glibc's mmap threshold at `MMAP_THRESHOLD` unless the environment sets it (call it at
/// start). Returns whether it was set here.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn fix_mmap_threshold() -> bool {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var_os("GLIBC_TUNABLES").is_some()
    {
        return false;
    }
    let Ok(threshold) = libc::c_int::try_from(MMAP_THRESHOLD) else {
        return false;
    };
    // SAFETY: mallopt takes no pointers and only sets one of the allocator's parameters, under
    // the allocator's own lock; the value is in the range glibc documents for it.
    let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) };
    if set == 0 {
        log::warn!("could not set glibc's mmap threshold; uploads may hold more memory");
    }
    set != 0
}

/// Other allocators (musl, other systems) keep their own behaviour.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn fix_mmap_threshold() -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #[test]
    fn glibc_takes_the_threshold_unless_the_environment_sets_one() {
        let from_environment = std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
            || std::env::var_os("GLIBC_TUNABLES").is_some();
        assert_eq!(super::fix_mmap_threshold(), !from_environment);
    }
}
