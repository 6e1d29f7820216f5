//! `rebuild`, `export`, `import`, `backup` and `restore`: whole-log jobs on a stopped store.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use opsledger_domain::DomainEvent;
use opsledger_projections::{rebuild, ReadModels};
use opsledger_storage::backup::{backup_offline, restore, LOG_DIR};
use opsledger_storage::export::{export, hex, import_file};
use opsledger_storage::{decode_payload, EventStore, RecordedEvent, SledEventStore, StoreConfig};

use super::progress;
use crate::cli::{log_dir, projections_dir};
use crate::SharedStore;

/// Renders a record's payload as JSON text by decoding it as a [`DomainEvent`]
/// (ids are ULIDs as u128 numbers, exact in the text).
pub fn render_payload(record: &RecordedEvent) -> Option<String> {
    let event: DomainEvent = decode_payload(&record.payload).ok()?;
    serde_json::to_string(&event).ok()
}

/// Options of `rebuild`.
#[derive(Args, Debug)]
pub struct RebuildArgs {
    /// Data directory (the server must be stopped).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
}

/// Options of `export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Data directory (the server must be stopped).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// First log position to export (import needs a file that starts at 0).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Output file (JSON Lines); standard output if absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Options of `import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Data directory whose log must be empty or absent.
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// The JSON Lines file written by `export`.
    pub file: PathBuf,
}

/// Options of `backup`.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Data directory (the server must be stopped; for a running server use POST /admin/backup).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// Backup directory to create (must be absent or empty).
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `restore`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Backup directory written by `backup`.
    #[arg(long)]
    pub from: PathBuf,
    /// Data directory to restore into (its log must be empty or absent).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
}

async fn open_existing(data: &std::path::Path) -> anyhow::Result<SledEventStore> {
    let dir = log_dir(data);
    anyhow::ensure!(
        dir.exists(),
        "no event log at {} (wrong --data?)",
        dir.display()
    );
    SledEventStore::open(&dir, StoreConfig::default())
        .await
        .with_context(|| {
            format!(
                "cannot open the event log at {} (is a server running on it?)",
                dir.display()
            )
        })
}

/// `opsledger rebuild`: replay the whole log into fresh projections and snapshot them.
pub async fn run_rebuild(args: RebuildArgs) -> anyhow::Result<ExitCode> {
    let store: SharedStore = Arc::new(open_existing(&args.data).await?);
    let total = store.head_position().map_or(0, |h| h + 1);
    let bar = progress::bar(total, "rebuild");
    let result = rebuild::<ReadModels>(
        &store,
        projections_dir(&args.data),
        8192,
        progress::callback(&bar),
    )
    .await;
    bar.finish_and_clear();
    store
        .flush_and_stop()
        .await
        .context("cannot close the event log")?;
    let (_, report) = result.context("the rebuild failed")?;
    println!(
        "rebuilt the projections from {} events (checkpoint {:?}, {} skipped)",
        report.events, report.checkpoint, report.skipped_events
    );
    Ok(ExitCode::SUCCESS)
}

/// `opsledger export`: JSON Lines of every event from `--from`.
pub async fn run_export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let store = open_existing(&args.data).await?;
    let total = store.head_position().map_or(0, |h| h + 1);
    let bar = progress::bar(total.saturating_sub(args.from), "export");
    let result = export(
        &store,
        args.from,
        &mut out,
        &render_payload,
        &mut progress::callback(&bar),
    )
    .await;
    bar.finish_and_clear();
    store
        .flush_and_stop()
        .await
        .context("cannot close the event log")?;
    let written = result.context("the export failed")?;
    eprintln!("exported {written} events");
    Ok(ExitCode::SUCCESS)
}

/// `opsledger import`: validate the whole file, then write it into an empty store.
pub async fn run_import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let target = log_dir(&args.data);
    let bar = progress::bar(0, "import");
    let result = import_file(
        &args.file,
        &target,
        &render_payload,
        &mut progress::callback(&bar),
    )
    .await;
    bar.finish_and_clear();
    let report = result.with_context(|| format!("refused to import {}", args.file.display()))?;
    println!(
        "imported {} events into {}; last hash {}",
        report.events,
        target.display(),
        hex(&report.last_hash)
    );
    Ok(ExitCode::SUCCESS)
}

/// `opsledger backup`: a consistent copy of a stopped store's log (projections rebuild).
pub async fn run_backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let source = log_dir(&args.data);
    anyhow::ensure!(
        source.exists(),
        "no event log at {} (wrong --data?)",
        source.display()
    );
    let bar = progress::bar(0, "backup");
    let result = backup_offline(&source, &args.out, &mut progress::callback(&bar)).await;
    bar.finish_and_clear();
    let report = result.with_context(|| format!("the backup of {} failed", source.display()))?;
    println!(
        "backed up {} events (as of position {}) into {}",
        report.events,
        report
            .last_position
            .map_or("none".into(), |p| p.to_string()),
        args.out.join(LOG_DIR).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `opsledger restore`: verify a backup and copy it into an empty data directory.
pub async fn run_restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let target = log_dir(&args.data);
    let bar = progress::bar(0, "restore");
    let result = restore(&args.from, &target, &mut progress::callback(&bar)).await;
    bar.finish_and_clear();
    let report = result.with_context(|| format!("cannot restore {}", args.from.display()))?;
    println!(
        "restored {} events into {}; projections rebuild on the next start (or run `opsledger rebuild`)",
        report.events,
        target.display()
    );
    Ok(ExitCode::SUCCESS)
}
