#![forbid(unsafe_code)]

use std::process::ExitCode;

/// jemalloc gives freed memory back to the system about a second after a burst (its
/// configuration is in .cargo/config.toml); glibc's allocator keeps large freed blocks in
/// per-thread arenas, so after 16 concurrent 30 MB requests on the blocking pool's threads
/// the archive stayed hundreds of MB above its baseline (scripts/attack.py memory measures
/// both).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    kanta_sim::cli::main()
}
