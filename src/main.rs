#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    kanta_sim::cli::main()
}
