//! `rebuild`, `export`, `import`, `backup` and `restore`: whole-log jobs on a stopped store.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use opsledger_projections::{rebuild, ReadModels};
use opsledger_storage::backup::{backup_offline, restore, LOG_DIR};
use opsledger_storage::export::{export, hex, import_file};
use opsledger_storage::{EventStore, RecordedEvent, SledEventStore, StoreConfig};

use super::progress;
use crate::data_dir::{log_dir, projections_dir};
use crate::payload_json::{payload_text, DomainPayloads};
use crate::SharedStore;

/// Renders a record's payload as JSON text in the current export format (ids as ULID
/// text); import with [`DomainPayloads`] to check older formats too.
pub fn render_payload(record: &RecordedEvent) -> Option<String> {
    payload_text(record)
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
    /// Output file (JSON Lines), written only if the whole export succeeds (a temporary
    /// file beside it is renamed over it at the end); standard output if absent.
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

/// `opsledger export`: JSON Lines of every event from `--from` (a header line first).
pub async fn run_export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let store = open_existing(&args.data).await?;
    let result = match &args.out {
        Some(path) => export_to_file(&store, args.from, path).await,
        None => {
            write_export(
                &store,
                args.from,
                &mut BufWriter::new(std::io::stdout().lock()),
            )
            .await
        }
    };
    store
        .flush_and_stop()
        .await
        .context("cannot close the event log")?;
    let written = result?;
    eprintln!("exported {written} events");
    Ok(ExitCode::SUCCESS)
}

/// The export of `store` from `from` into `out`, with a progress bar.
async fn write_export(
    store: &SledEventStore,
    from: u64,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let total = store.head_position().map_or(0, |h| h + 1);
    let bar = progress::bar(total.saturating_sub(from), "export");
    let result = export(
        store,
        from,
        out,
        &DomainPayloads,
        &mut progress::callback(&bar),
    )
    .await;
    bar.finish_and_clear();
    result.context("the export failed")
}

/// The export written to `path` all or nothing: into a temporary file in the same
/// directory, fsynced, then renamed over `path` (and the directory fsynced). A failed
/// export removes the temporary file and leaves whatever was at `path` untouched.
async fn export_to_file(store: &SledEventStore, from: u64, path: &Path) -> anyhow::Result<u64> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("--out {} names no file", path.display()))?;
    let mut partial = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".partial")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let written = write_export(store, from, &mut BufWriter::new(partial.as_file_mut())).await?;
    let sync_error = |what: &Path| format!("cannot fsync {}", what.display());
    partial
        .as_file()
        .sync_all()
        .with_context(|| sync_error(partial.path()))?;
    partial
        .persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot rename the export to {}", path.display()))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| sync_error(dir))?;
    Ok(written)
}

/// `opsledger import`: validate the whole file, then write it into an empty store.
pub async fn run_import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let target = log_dir(&args.data);
    let bar = progress::bar(0, "import");
    let result = import_file(
        &args.file,
        &target,
        &DomainPayloads,
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
