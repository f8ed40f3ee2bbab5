//! The `hoist` binary: parse, run, map the result to an exit code.

fn main() {
    std::process::exit(hoist::run(std::env::args_os()));
}
