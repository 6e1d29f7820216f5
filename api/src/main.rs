//! The `opsledger` binary: see `opsledger --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    opsledger_api::cli::main()
}
