//! The `opsledger` command line: one subcommand per job. Errors reach a
//! person as one line (what, where, what to do) and a non-zero exit.
//!
//! To add a subcommand: add a variant to [`Command`] with its own `Args`
//! struct and a `match` arm in [`run`] calling a function in its own module.

use crate::app::escalation::DEFAULT_TICK;
use crate::app::CacheBounds;
use crate::auth::{TokenTable, TOKENS_ENV};
use crate::limits::Limits;
use crate::node::{Node, NodeConfig, TransparencySettings};
use crate::server::alert_routing::{AlertRouting, DEFAULT_ALERT_SERVICE_ENV};
use crate::server::ServerConfig;
use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use opsledger_bench::storage::{run_storage_bench, StorageBenchOptions};
use opsledger_fixtures::FixtureConfig;
use opsledger_storage::{EventStore, SledEventStore};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// opsledger: event-sourced incident and change management.
#[derive(Parser, Debug)]
#[command(name = "opsledger", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the GraphQL API over HTTP and WebSocket.
    Serve(ServeArgs),
    /// Check the event log's positions and hash chain.
    Verify(VerifyArgs),
    /// Measure performance.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Load the demo fixtures (a year of a realistic organisation) into an empty store.
    #[command(alias = "load-fixtures")]
    Demo(crate::cli_tools::DemoArgs),
    /// Rebuild the projections from the whole log (server stopped).
    Rebuild(crate::cli_tools::RebuildArgs),
    /// Export the log as JSON Lines with hashes (server stopped).
    Export(crate::cli_tools::ExportArgs),
    /// Import an exported file into an empty store, verifying every line first.
    Import(crate::cli_tools::ImportArgs),
    /// Back up a stopped store's log (consistent as of its last position).
    Backup(crate::cli_tools::BackupArgs),
    /// Restore a backup into an empty data directory.
    Restore(crate::cli_tools::RestoreArgs),
    /// The auditor's tools: verify events, exports and checkpoints of the Merkle log,
    /// monitor it for forks, cosign as a witness.
    #[command(subcommand)]
    Audit(crate::cli_tools::audit::AuditCommand),
}

/// Options of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Data directory (the log lives in DATA/log, projection snapshots in DATA/projections).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// TOML file of bearer tokens (`[[token]] secret actor roles`); also read: $OPSLEDGER_TOKENS.
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// Load the demo fixtures into an empty store (implies --dev).
    #[arg(long)]
    pub demo: bool,
    /// Development mode: GraphiQL at /graphiql, introspection and suggestions on.
    #[arg(long)]
    pub dev: bool,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Service (by name) that receives Alertmanager alerts with a missing or unknown
    /// `service` label; without it such alerts are refused as unrouted (and counted).
    #[arg(long, env = DEFAULT_ALERT_SERVICE_ENV)]
    pub default_alert_service: Option<String>,
    /// Streams whose folded aggregate the service keeps in memory (least recently used
    /// go first; also bounded to 64 MiB of estimated state); 0: every command folds its
    /// whole stream.
    #[arg(long, env = "OPSLEDGER_AGGREGATE_CACHE_ENTRIES", default_value_t = CacheBounds::DEFAULT_MAX_ENTRIES)]
    pub aggregate_cache_entries: usize,
    /// The Merkle log's ed25519 signing key (signed-note private key text, mode 0600);
    /// default DATA/transparency/log.key, generated on first start.
    #[arg(long, env = "OPSLEDGER_LOG_KEY")]
    pub log_key: Option<PathBuf>,
    /// The origin (log name) a newly generated key gets; default opsledger.local/<random id>.
    #[arg(long, env = "OPSLEDGER_LOG_ORIGIN")]
    pub log_origin: Option<String>,
    /// Sign a checkpoint after this many new events (and on shutdown).
    #[arg(long, default_value_t = 1_000)]
    pub checkpoint_every_events: u64,
    /// Sign a checkpoint after this many seconds if the log grew.
    #[arg(long, default_value_t = 10)]
    pub checkpoint_every_secs: u64,
}

/// How logs are written.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Options of `verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Data directory holding the log (DATA/log).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
}

/// The benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Append and read throughput of the event store.
    Storage(BenchStorageArgs),
    /// opsledger against PostgreSQL and the raw disk limits (needs `apt-get install postgresql`).
    Peers(BenchPeersArgs),
    /// End-to-end load on an in-process server: mutations/s, latency, subscription fan-out.
    Api(BenchApiArgs),
    /// Replay of a generated log into every projection: events/s, start-up from a snapshot, peak RSS.
    Projections(BenchProjectionsArgs),
    /// The Merkle tree over the log (issue 17): build time, proof sizes and times,
    /// checkpoint signing and verification, and its cost to durable appends (A/B).
    Transparency(BenchTransparencyArgs),
}

/// Options of `bench transparency`.
#[derive(Args, Debug)]
pub struct BenchTransparencyArgs {
    /// Events in the tree that is built, proved from and signed (in memory and in a sled store).
    #[arg(long, default_value_t = opsledger_bench::transparency::DEFAULT_EVENTS)]
    pub events: u64,
    /// Durable appends per run of the with/without-tree comparison.
    #[arg(long, default_value_t = opsledger_bench::transparency::DEFAULT_APPEND_EVENTS)]
    pub append_events: u64,
    /// Concurrent writers of the comparison (each on its own stream).
    #[arg(long, default_value_t = opsledger_bench::transparency::DEFAULT_WRITERS)]
    pub writers: usize,
    /// Runs with the tree and runs without it, alternating (with, without, with, ...).
    #[arg(long, default_value_t = opsledger_bench::transparency::DEFAULT_ROUNDS)]
    pub rounds: usize,
    /// Proofs, verifications and signatures timed, each.
    #[arg(long, default_value_t = opsledger_bench::transparency::DEFAULT_SAMPLES)]
    pub samples: usize,
    /// Events between the checkpoints of the following log in the comparison (default: a node's).
    #[arg(long, default_value_t = opsledger_bench::transparency::default_checkpoint_every())]
    pub checkpoint_every: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `bench projections`.
#[derive(Args, Debug)]
pub struct BenchProjectionsArgs {
    /// Events in the generated log.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Internal: only generate the log into this directory (the benchmark runs itself
    /// with it as a child process, so the measured process holds none of the generator's memory).
    #[arg(long, hide = true)]
    pub generate_into: Option<PathBuf>,
    /// Internal: only start up from the snapshots in `--snapshots` over this log and print
    /// the figures as JSON (the benchmark measures start-up in a fresh process, like a restart).
    #[arg(long, hide = true, requires = "snapshots")]
    pub startup_from: Option<PathBuf>,
    /// Internal: the snapshot directory for `--startup-from`.
    #[arg(long, hide = true)]
    pub snapshots: Option<PathBuf>,
}

/// Options of `bench api`.
#[derive(Args, Debug)]
pub struct BenchApiArgs {
    /// WebSocket subscribers per fan-out (statusPage, then events).
    #[arg(long, default_value_t = 5000)]
    pub subscribers: usize,
    /// Ops (declare + acknowledge + resolve) per concurrency level at most.
    #[arg(long, default_value_t = 2000)]
    pub ops: usize,
    /// Run only this part (default: every part).
    #[arg(long, value_enum)]
    pub only: Option<crate::bench::api::ApiBenchSection>,
    /// Events per incident stream of the stream-length part (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10,1000,10000,100000")]
    pub stream_lengths: Vec<u64>,
    /// Measured `addIncidentNote` calls per stream length, with and without the cache each.
    #[arg(long, default_value_t = 100)]
    pub stream_samples: usize,
    /// Print the report as JSON (`{"api": {...}}`).
    #[arg(long)]
    pub json: bool,
}

/// Options of `bench peers`.
#[derive(Args, Debug)]
pub struct BenchPeersArgs {
    /// Appends per concurrency level and system (default: the library's, 10000).
    #[arg(long)]
    pub events: Option<u64>,
    /// Print the report as JSON (`{"peers": {...}}`).
    #[arg(long)]
    pub json: bool,
}

/// Options of `bench storage`.
#[derive(Args, Debug)]
pub struct BenchStorageArgs {
    /// Events appended per concurrency level (default: the library's, 20000).
    #[arg(long)]
    pub events: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub use crate::data_dir::{log_dir, projections_dir, workflows_dir};

/// Parses the arguments, runs the command and turns failures into one line on stderr.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Audit(command) => crate::cli_tools::audit::run_audit(command).await,
        Command::Verify(args) => verify(args).await,
        Command::Bench(BenchCommand::Storage(args)) => bench_storage(args).await,
        Command::Demo(args) => crate::cli_tools::run_demo(args).await,
        Command::Rebuild(args) => crate::cli_tools::run_rebuild(args).await,
        Command::Export(args) => crate::cli_tools::run_export(args).await,
        Command::Import(args) => crate::cli_tools::run_import(args).await,
        Command::Backup(args) => crate::cli_tools::run_backup(args).await,
        Command::Restore(args) => crate::cli_tools::run_restore(args).await,
        Command::Bench(BenchCommand::Peers(args)) => bench_peers(args).await,
        Command::Bench(BenchCommand::Api(args)) => bench_api(args).await,
        Command::Bench(BenchCommand::Projections(args)) => bench_projections(args).await,
        Command::Bench(BenchCommand::Transparency(args)) => bench_transparency(args).await,
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn open_store(data: &Path) -> anyhow::Result<SledEventStore> {
    crate::node::open_log(data).await
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);
    let env_tokens = std::env::var(TOKENS_ENV).ok();
    let tokens = TokenTable::load(args.tokens.as_deref(), env_tokens.as_deref())
        .context("fix the token configuration (--tokens FILE or $OPSLEDGER_TOKENS)")?;
    if tokens.is_empty() && !args.demo {
        tracing::warn!("no bearer tokens configured: only public operations will work");
    }
    let dev = args.dev || args.demo;
    let node = Node::start(NodeConfig {
        data: args.data.clone(),
        listen: args.listen,
        tokens,
        server: ServerConfig {
            dev,
            limits: Limits::default(),
            alert_routing: AlertRouting {
                default_service: args.default_alert_service.clone(),
            },
            ..ServerConfig::default()
        },
        demo: args.demo.then(FixtureConfig::default),
        aggregate_cache: CacheBounds::entries(args.aggregate_cache_entries),
        escalation_tick: Some(DEFAULT_TICK),
        transparency: TransparencySettings {
            key_path: args.log_key.clone(),
            origin: args.log_origin.clone(),
            every_events: args.checkpoint_every_events.max(1),
            every: std::time::Duration::from_secs(args.checkpoint_every_secs.max(1)),
        },
    })
    .await?;
    tracing::info!(addr = %node.addr, dev, data = %args.data.display(), "serving");
    wait_for_signal().await;
    tracing::info!("shutting down: no new connections");
    node.shutdown().await?;
    tracing::info!("stopped cleanly");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM.
async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let dir = log_dir(&args.data);
    if !dir.is_dir() {
        anyhow::bail!(
            "no event log at {}: pass --data with the data directory of a server",
            dir.display()
        );
    }
    let store = open_store(&args.data).await?;
    let report = store
        .verify()
        .await
        .with_context(|| format!("cannot read the event log at {}", dir.display()))?;
    let _ = store.flush_and_stop().await;
    match report.first_bad_position {
        None => {
            println!("ok: {} events verified", report.events_verified);
            Ok(ExitCode::SUCCESS)
        }
        Some(position) => {
            eprintln!(
                "error: the event log at {} is damaged at position {position}: {} ({} events before it verified); restore from a backup",
                dir.display(),
                report.reason.as_deref().unwrap_or("unknown reason"),
                report.events_verified
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn bench_storage(args: BenchStorageArgs) -> anyhow::Result<ExitCode> {
    let mut options = StorageBenchOptions::default();
    if let Some(events) = args.events {
        options.events = events;
    }
    let report = run_storage_bench(options)
        .await
        .context("the storage benchmark failed (it needs free space in the temp directory)")?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn bench_transparency(args: BenchTransparencyArgs) -> anyhow::Result<ExitCode> {
    use opsledger_bench::transparency::{run_transparency_bench, TransparencyBenchOptions};
    let options = TransparencyBenchOptions {
        events: args.events,
        append_events: args.append_events,
        writers: args.writers,
        rounds: args.rounds,
        samples: args.samples,
        checkpoint_every: args.checkpoint_every,
    };
    let report = run_transparency_bench(options)
        .await
        .context("the transparency benchmark failed (it needs free space in the temp directory)")?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn bench_projections(args: BenchProjectionsArgs) -> anyhow::Result<ExitCode> {
    use opsledger_bench::projections as bench;
    if let Some(dir) = &args.generate_into {
        bench::generate_bench_log(dir, args.events)
            .await
            .context("generating the benchmark log failed")?;
        return Ok(ExitCode::SUCCESS);
    }
    if let (Some(log), Some(snapshots)) = (&args.startup_from, &args.snapshots) {
        let figures = bench::measure_startup(log, snapshots).await?;
        println!("{}", serde_json::to_string(&figures)?);
        return Ok(ExitCode::SUCCESS);
    }
    let root = tempfile::tempdir().context("cannot create a temporary directory")?;
    let (log, snapshots) = (root.path().join("log"), root.path().join("projections"));
    let events = args.events.to_string();
    let bench_self = || {
        let mut command = std::process::Command::new(std::env::current_exe()?);
        command.args(["bench", "projections", "--events", &events]);
        anyhow::Ok(command)
    };
    let status = bench_self()?.arg("--generate-into").arg(&log).status()?;
    anyhow::ensure!(
        status.success(),
        "generating the benchmark log failed: {status}"
    );
    let replay = bench::measure_replay(&log, &snapshots)
        .await
        .context("the projections benchmark failed (it needs free space in the temp directory)")?;
    let startup = bench_self()?
        .arg("--startup-from")
        .arg(&log)
        .arg("--snapshots")
        .arg(&snapshots)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    anyhow::ensure!(
        startup.status.success(),
        "the start-up measurement failed: {}",
        startup.status
    );
    let startup: bench::StartupFigures = serde_json::from_slice(&startup.stdout)?;
    let report = bench::combine(&replay, &startup);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn bench_api(args: BenchApiArgs) -> anyhow::Result<ExitCode> {
    let options = crate::bench::api::ApiBenchOptions {
        only: args.only,
        subscribers: args.subscribers,
        ops_per_level: args.ops,
        stream_lengths: args.stream_lengths,
        stream_samples: args.stream_samples,
        ..Default::default()
    };
    let report = crate::bench::api::run_api_bench(options)
        .await
        .context("the api benchmark failed")?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn bench_peers(args: BenchPeersArgs) -> anyhow::Result<ExitCode> {
    let mut options = crate::bench::peers::PeersOptions::default();
    if let Some(events) = args.events {
        options.events = events;
    }
    let report = crate::bench::peers::run_peers_bench(options)
        .await
        .context("the peers benchmark failed")?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_defaults_to_data_and_localhost_8080() {
        let cli = Cli::try_parse_from(["opsledger", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve");
        };
        assert_eq!(args.data, PathBuf::from("./data"));
        assert_eq!(args.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
        assert_eq!(args.log_format, LogFormat::Text);
        assert!(!args.dev);
        assert_eq!(args.aggregate_cache_entries, 10_000);
    }

    #[test]
    fn bench_transparency_defaults_to_a_million_events_and_five_rounds() {
        let cli = Cli::try_parse_from(["opsledger", "bench", "transparency"]).unwrap();
        let Command::Bench(BenchCommand::Transparency(args)) = cli.command else {
            panic!("expected bench transparency");
        };
        assert_eq!(args.events, 1_000_000);
        assert_eq!(args.writers, 64);
        assert_eq!(args.rounds, 5);
        assert_eq!(args.samples, 10_000);
        assert_eq!(args.checkpoint_every, 1_000);
        assert!(!args.json);
    }
}
