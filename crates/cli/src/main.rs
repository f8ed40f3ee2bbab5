//! The `hoist` binary: parse, run, map the result to an exit code.

/// mimalloc instead of glibc malloc: the proxy allocates a little per
/// request (header maps, bodies), and glibc's arena locking and
/// consolidation showed up as ~5% of the agent's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (mimalloc.h; the
/// same in v2 and v3); libmimalloc-sys does not name it.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Milliseconds before freed memory goes back to the OS. mimalloc v3's
/// default, 1000, is checked only when the allocator is next called after
/// it: an agent left idle after a burst of 10,000 connections kept ~100 MB
/// it no longer used. At 10 (mimalloc v2's default) the pages go back
/// while the burst's connections are still closing.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

extern "C" {
    /// mimalloc's option setter (compiled in by libmimalloc-sys).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

fn main() {
    // `MIMALLOC_PURGE_DELAY` in the environment still has the last word.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        #[allow(unsafe_code)]
        // SAFETY: mi_option_set only stores a value in mimalloc's option
        // table (a valid index, a value in range); no other thread exists yet.
        unsafe {
            mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS)
        };
    }
    std::process::exit(hoist::run(std::env::args_os()));
}
