//! The offline tools of the `opsledger` command line: `demo` (load the fixtures through the
//! application service), `rebuild` (projections), `export` / `import` (JSON Lines with
//! verified hashes), `backup` / `restore` (consistent copies of the log).
//!
//! Each `run_*` function takes its clap `Args` struct and returns the process exit code;
//! errors are `anyhow` errors with one line of context for a person.

pub mod audit;
pub mod demo;
pub mod fixture_commands;
mod progress;
pub mod transfer;

pub use demo::{
    load_fixtures, load_with_bar, print_report, run_demo, DemoArgs, DemoReport, DEMO_TOKENS,
};
pub use transfer::{
    render_payload, run_backup, run_export, run_import, run_rebuild, run_restore, BackupArgs,
    ExportArgs, ImportArgs, RebuildArgs, RestoreArgs,
};
