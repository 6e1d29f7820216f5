//! `opsledger bench peers`: opsledger against PostgreSQL and the raw disk limits, in one
//! run, with the same event shape (~300 bytes) and the same durability (every
//! acknowledged append is on disk).
//!
//! Measured at 1, 8 and 64 concurrent writers, each on its own stream with exact
//! expected versions: opsledger's [`SledEventStore`]; PostgreSQL (a throwaway local
//! cluster, see [`super::postgres`]); a plain append-only file with group commit
//! (writers queue, one fdatasync per group). Plus plain sled with one flush +
//! fdatasync per insert (the one-fsync-per-event floor).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use anyhow::Context;
use opsledger_storage::bench::raw::{raw_file_group_commit, raw_sled_inserts};
use opsledger_storage::bench::{opsledger_appends, AppendFigures};
use opsledger_storage::{EventStore, SledEventStore, StoreConfig};
use serde::Serialize;

use super::postgres::{find_server_bin, postgres_appends, PgCluster};

/// Concurrency levels measured.
const WRITER_LEVELS: [usize; 3] = [1, 8, 64];
/// Most appends timed with a single writer (it runs at one fsync per append).
const MAX_SINGLE_WRITER_EVENTS: u64 = 3_000;
/// Inserts timed for the one-fsync-per-insert floor.
const RAW_FLUSH_EACH_INSERTS: u64 = 2_000;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeersOptions {
    /// Appends per concurrency level and system (a single writer does at most 3000).
    pub events: u64,
}

impl Default for PeersOptions {
    fn default() -> Self {
        PeersOptions { events: 10_000 }
    }
}

/// The comparison's figures; serializes as `{"peers": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeersReport {
    /// All figures.
    pub peers: PeersFigures,
}

/// The figures of `bench peers`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeersFigures {
    /// opsledger durable appends per second at 64 writers.
    pub opsledger_appends_per_s: f64,
    /// PostgreSQL durable appends per second at 64 writers.
    pub postgres_appends_per_s: f64,
    /// Plain file with group commit, appends per second at 64 writers.
    pub raw_file_group_commit_per_s: f64,
    /// Plain sled, flush + fdatasync after every insert, inserts per second.
    pub raw_sled_flush_each_per_s: f64,
    /// opsledger / PostgreSQL at 64 writers.
    pub ratio_opsledger_to_postgres: f64,
    /// opsledger / raw file group commit at 64 writers.
    pub ratio_opsledger_to_raw_file: f64,
    /// opsledger / plain sled with one fsync per insert.
    pub ratio_opsledger_to_flush_each: f64,
    /// opsledger by writers ("1", "8", "64").
    pub opsledger: BTreeMap<String, AppendFigures>,
    /// PostgreSQL by writers.
    pub postgres: BTreeMap<String, AppendFigures>,
    /// Raw file group commit by writers.
    pub raw_file_group_commit: BTreeMap<String, AppendFigures>,
    /// PostgreSQL major version.
    pub postgres_version: String,
    /// Appends per level (single writer: at most 3000).
    pub events: u64,
}

fn level_events(writers: usize, events: u64) -> u64 {
    if writers == 1 {
        events.min(MAX_SINGLE_WRITER_EVENTS)
    } else {
        events
    }
}

fn at_64(figures: &BTreeMap<String, AppendFigures>) -> f64 {
    figures.get("64").map_or(0.0, |f| f.per_s)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// Run the whole comparison (PostgreSQL must be installed; it is started and stopped here).
pub async fn run_peers_bench(opts: PeersOptions) -> anyhow::Result<PeersReport> {
    find_server_bin()?;
    let root = tempfile::Builder::new()
        .prefix("opsledger-peers-")
        .tempdir()?;
    let mut opsledger = BTreeMap::new();
    let mut raw_file = BTreeMap::new();
    for writers in WRITER_LEVELS {
        let events = level_events(writers, opts.events);
        let dir = root.path().join(format!("opsledger-{writers}"));
        let store = Arc::new(SledEventStore::open(&dir, StoreConfig::default()).await?);
        let figures = opsledger_appends(&store, writers, events).await?;
        store.flush_and_stop().await?;
        opsledger.insert(writers.to_string(), figures);
        let dir = root.path().join(format!("raw-file-{writers}"));
        raw_file.insert(
            writers.to_string(),
            raw_file_group_commit(&dir, writers, events).await?,
        );
    }
    let raw_dir = root.path().join("raw-sled");
    let raw_sled_flush_each_per_s =
        tokio::task::spawn_blocking(move || raw_sled_inserts(&raw_dir, RAW_FLUSH_EACH_INSERTS, 1))
            .await??;
    let cluster = tokio::task::spawn_blocking(PgCluster::start)
        .await?
        .context("cannot start the benchmark's PostgreSQL cluster")?;
    let mut postgres = BTreeMap::new();
    for writers in WRITER_LEVELS {
        let events = level_events(writers, opts.events);
        postgres.insert(
            writers.to_string(),
            postgres_appends(&cluster, writers, events).await?,
        );
    }
    let postgres_version = cluster.version.clone();
    tokio::task::spawn_blocking(move || drop(cluster)).await?;
    let ours = at_64(&opsledger);
    Ok(PeersReport {
        peers: PeersFigures {
            opsledger_appends_per_s: ours,
            postgres_appends_per_s: at_64(&postgres),
            raw_file_group_commit_per_s: at_64(&raw_file),
            raw_sled_flush_each_per_s,
            ratio_opsledger_to_postgres: ratio(ours, at_64(&postgres)),
            ratio_opsledger_to_raw_file: ratio(ours, at_64(&raw_file)),
            ratio_opsledger_to_flush_each: ratio(ours, raw_sled_flush_each_per_s),
            opsledger,
            postgres,
            raw_file_group_commit: raw_file,
            postgres_version,
            events: opts.events,
        },
    })
}

impl fmt::Display for PeersReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.peers;
        writeln!(
            f,
            "peers benchmark: {} one-event appends per level (1 writer: at most {}), ~300-byte events, durable",
            p.events, MAX_SINGLE_WRITER_EVENTS
        )?;
        writeln!(
            f,
            "{:<26} {:>8} {:>12} {:>9} {:>9}",
            "system", "writers", "appends/s", "p50 ms", "p99 ms"
        )?;
        let systems = [
            ("opsledger", &p.opsledger),
            ("postgresql", &p.postgres),
            ("raw file group commit", &p.raw_file_group_commit),
        ];
        for (name, figures) in systems {
            for writers in WRITER_LEVELS {
                if let Some(x) = figures.get(&writers.to_string()) {
                    writeln!(
                        f,
                        "{name:<26} {writers:>8} {:>12.0} {:>9.2} {:>9.2}",
                        x.per_s, x.p50_ms, x.p99_ms
                    )?;
                }
            }
        }
        writeln!(
            f,
            "raw sled, flush + fdatasync per insert: {:.0} inserts/s",
            p.raw_sled_flush_each_per_s
        )?;
        write!(
            f,
            "at 64 writers: opsledger = {:.2}x PostgreSQL {}, {:.2}x raw file group commit, {:.1}x one fsync per event",
            p.ratio_opsledger_to_postgres,
            p.postgres_version,
            p.ratio_opsledger_to_raw_file,
            p.ratio_opsledger_to_flush_each
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_serializes_under_peers_with_the_agreed_keys() {
        let report = PeersReport {
            peers: PeersFigures {
                opsledger_appends_per_s: 3.0,
                postgres_appends_per_s: 1.0,
                raw_file_group_commit_per_s: 6.0,
                raw_sled_flush_each_per_s: 0.5,
                ratio_opsledger_to_postgres: 3.0,
                ratio_opsledger_to_raw_file: 0.5,
                ratio_opsledger_to_flush_each: 6.0,
                opsledger: BTreeMap::new(),
                postgres: BTreeMap::new(),
                raw_file_group_commit: BTreeMap::new(),
                postgres_version: "15".into(),
                events: 10,
            },
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["peers"]["opsledger_appends_per_s"], 3.0);
        assert_eq!(json["peers"]["postgres_appends_per_s"], 1.0);
        assert_eq!(json["peers"]["raw_file_group_commit_per_s"], 6.0);
    }

    #[test]
    fn single_writer_runs_are_capped() {
        assert_eq!(level_events(1, 10_000), MAX_SINGLE_WRITER_EVENTS);
        assert_eq!(level_events(64, 10_000), 10_000);
    }
}
