//! `opsledger demo`: run the fixture generator through the application service, with the
//! generator's clock, so every event in the demo store is one the domain decided.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use opsledger_domain::time::MS_PER_DAY;
use opsledger_fixtures::{generate, FixtureConfig};
use opsledger_projections::{ProjectionHandle, ProjectionRunner, ReadModels, RunnerConfig};
use opsledger_storage::{SledEventStore, StoreConfig};

use super::fixture_commands::to_app_command;
use super::progress;
use crate::app::workflow::WorkflowRunner;
use crate::app::{AppError, AppService, CommandMeta, ManualClock};
use crate::auth::Principal;
use crate::data_dir::{log_dir, projections_dir};
use crate::SharedStore;

/// Options of `demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Data directory (must hold no events yet).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// Seed of the generator (same seed, same organisation).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of services.
    #[arg(long, default_value_t = 40)]
    pub services: usize,
    /// Days of history.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Volume multiplier (alerts, incidents and changes per day).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
}

impl DemoArgs {
    /// The generator configuration these options describe.
    pub fn config(&self) -> FixtureConfig {
        FixtureConfig {
            seed: self.seed,
            services: self.services,
            days: self.days,
            scale: self.scale,
            ..FixtureConfig::default()
        }
    }
}

/// What loading the fixtures did.
#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    /// Steps generated.
    pub steps: u64,
    /// Steps the application service accepted (some decide no events).
    pub accepted: u64,
    /// Steps the service does by itself (group release, the second half of a merge).
    pub skipped: u64,
    /// Refused steps by reason (the service's facts can differ from the generator's).
    pub rejected: BTreeMap<String, u64>,
    /// Events written.
    pub events: u64,
    /// Log position after loading.
    pub last_position: Option<u64>,
    /// Wall-clock time taken.
    pub elapsed: Duration,
}

impl DemoReport {
    /// Total refused steps.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// A short name for a refusal: the error's variant path without its fields.
fn refusal_kind(err: &AppError) -> String {
    let debug = format!("{err:?}");
    debug
        .split(['{', ' '])
        .next()
        .unwrap_or("")
        .replace(['(', ')'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("::")
}

/// Whether `err` is a refusal of one command (go on) rather than an infrastructure failure (stop).
fn is_refusal(err: &AppError) -> bool {
    matches!(
        err,
        AppError::Domain(_)
            | AppError::NotFound { .. }
            | AppError::Invalid { .. }
            | AppError::Conflict { .. }
    )
}

/// Run the generator for `cfg` through a fresh application service over `store` and
/// `projections`, moving a manual clock to each step's time. `progress(day, days)` reports.
pub async fn load_fixtures(
    store: SharedStore,
    projections: ProjectionHandle<ReadModels>,
    cfg: FixtureConfig,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DemoReport, AppError> {
    let started = Instant::now();
    let clock = Arc::new(ManualClock::new(cfg.start));
    let app = Arc::new(AppService::new(store.clone(), projections, clock.clone()));
    let workflows = WorkflowRunner::start(app.clone(), None);
    let loaded = load_steps(&app, &clock, cfg, started, progress).await;
    workflows.shutdown().await;
    loaded
}

/// The steps of [`load_fixtures`], through `app` (whose workflow policies run).
async fn load_steps(
    app: &AppService,
    clock: &ManualClock,
    cfg: FixtureConfig,
    started: Instant,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DemoReport, AppError> {
    let store = app.store().clone();
    let mut report = DemoReport::default();
    let first = store.head_position().map_or(0, |h| h + 1);
    let days = u64::from(cfg.days);
    for step in generate(cfg) {
        report.steps += 1;
        let Some(command) = to_app_command(step.command) else {
            report.skipped += 1;
            continue;
        };
        clock.set(step.at);
        let who = Principal::new(step.actor, step.roles);
        let meta = CommandMeta::keyed(format!("fixture-{}-{}", cfg.seed, report.steps));
        match app.execute(&who, meta, command).await {
            Ok(_) => report.accepted += 1,
            Err(err) if is_refusal(&err) => {
                *report.rejected.entry(refusal_kind(&err)).or_default() += 1;
            }
            Err(err) => return Err(err),
        }
        if report.steps % 256 == 0 {
            let day = (step.at.millis() - cfg.start.millis()) / MS_PER_DAY;
            progress(day.max(0) as u64, days);
        }
    }
    progress(days, days);
    report.last_position = store.head_position();
    report.events = report.last_position.map_or(0, |h| h + 1) - first;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Load the fixtures with a progress bar (used by `demo` and `serve --demo`).
pub async fn load_with_bar(
    store: SharedStore,
    projections: ProjectionHandle<ReadModels>,
    cfg: FixtureConfig,
) -> anyhow::Result<DemoReport> {
    let bar = progress::bar(u64::from(cfg.days), "days");
    let report = load_fixtures(store, projections, cfg, &mut progress::callback(&bar))
        .await
        .map_err(|e| anyhow::anyhow!("loading the fixtures failed: {e}"))?;
    bar.finish_and_clear();
    Ok(report)
}

/// Print what a load did.
pub fn print_report(report: &DemoReport) {
    println!(
        "loaded {} steps ({} accepted, {} done by the service itself, {} refused) as {} events in {:.1} s ({:.0} events/s); log head {}",
        report.steps,
        report.accepted,
        report.skipped,
        report.rejected_total(),
        report.events,
        report.elapsed.as_secs_f64(),
        report.events as f64 / report.elapsed.as_secs_f64().max(1e-9),
        report.last_position.map_or("none".into(), |p| p.to_string()),
    );
    for (kind, n) in &report.rejected {
        println!("  refused {n} x {kind}");
    }
}

/// `opsledger demo`.
pub async fn run_demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = log_dir(&args.data);
    let store: SharedStore = Arc::new(
        SledEventStore::open(&dir, StoreConfig::default())
            .await
            .with_context(|| format!("cannot open the event log at {}", dir.display()))?,
    );
    if let Some(head) = store.head_position() {
        store
            .flush_and_stop()
            .await
            .context("cannot close the event log")?;
        anyhow::bail!(
            "the store at {} already holds {} events: demo loads into an empty data directory",
            dir.display(),
            head + 1
        );
    }
    let runner = ProjectionRunner::<ReadModels>::start(
        store.clone(),
        projections_dir(&args.data),
        RunnerConfig::default(),
    )
    .await
    .context("cannot start the projections")?;
    let report = load_with_bar(store.clone(), runner.handle(), args.config()).await;
    runner
        .shutdown()
        .await
        .context("cannot snapshot the projections")?;
    store
        .flush_and_stop()
        .await
        .context("cannot flush the event log")?;
    print_report(&report?);
    Ok(ExitCode::SUCCESS)
}

/// The fixed tokens `serve --demo` adds (development mode only): (secret, actor, role).
/// Every role also grants `viewer`, so each token can run the README tour's queries.
pub const DEMO_TOKENS: &[(&str, &str, &str)] = &[
    ("demo-responder", "rita.responder", "responder"),
    ("demo-approver", "cab.alvarez", "approver"),
    ("demo-admin", "platform.admin", "admin"),
    ("demo-auditor", "ada.auditor", "auditor"),
];

/// `serve --demo`: load the fixtures if the store is empty, then add and print the demo tokens.
pub async fn serve_demo(
    store: &SharedStore,
    projections: &ProjectionHandle<ReadModels>,
    tokens: &mut crate::auth::TokenTable,
) -> anyhow::Result<()> {
    serve_demo_with(store, projections, tokens, FixtureConfig::default()).await
}

/// [`serve_demo`] with the generator configuration `cfg` (tests load a shorter history).
pub async fn serve_demo_with(
    store: &SharedStore,
    projections: &ProjectionHandle<ReadModels>,
    tokens: &mut crate::auth::TokenTable,
    cfg: FixtureConfig,
) -> anyhow::Result<()> {
    if store.head_position().is_none() {
        eprintln!(
            "--demo: loading {} days of fixtures for {} services...",
            cfg.days, cfg.services
        );
        let report = load_with_bar(store.clone(), projections.clone(), cfg).await?;
        print_report(&report);
    } else {
        eprintln!("--demo: the store already holds events; not loading the fixtures again");
    }
    for (secret, actor, role) in DEMO_TOKENS {
        let roles = opsledger_domain::Role::parse(role).into_iter().collect();
        tokens
            .insert(secret, Principal::new(*actor, roles))
            .map_err(|e| anyhow::anyhow!("cannot add the demo token for {actor}: {e}"))?;
        eprintln!("--demo token: Authorization: Bearer {secret}   ({actor}, {role})");
    }
    Ok(())
}
