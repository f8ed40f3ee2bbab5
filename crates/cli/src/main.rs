//! The `hoist` binary: parse, run, map the result to an exit code.

/// mimalloc instead of glibc malloc: the proxy allocates a little per
/// request (header maps, bodies), and glibc's arena locking and
/// consolidation showed up as ~5% of the agent's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(hoist::run(std::env::args_os()));
}
