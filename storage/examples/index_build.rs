//! What the in-memory stream and command index costs after an open: time to build it
//! from the index chunks and the memory it holds, on a log of N one-event appends
//! spread over many streams (the worst case: one command per event).
//!
//! ```text
//! cargo run --release -p opsledger-storage --example index_build -- [EVENTS] [STREAMS] [DIR]
//! ```
//! (defaults: 1,000,000 events over 50,000 streams, a temporary directory). With DIR, a
//! first run writes the log there and a second run (a fresh process, as after a
//! restart) only opens it and builds the index. Prints one JSON object.

use std::sync::Arc;
use std::time::Instant;

use opsledger_storage::{
    AppendRequest, Direction, EventStore, ExpectedVersion, NewEvent, SledEventStore, StoreConfig,
    Ulid,
};

const WRITERS: u64 = 64;

fn vm_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn request(stream: u64, n: u64) -> AppendRequest {
    AppendRequest {
        stream_id: format!("incident-{:026}", stream),
        expected: ExpectedVersion::Any,
        command_id: Ulid::new().to_string(),
        actor: "bench".into(),
        correlation_id: Ulid::new(),
        causation_id: None,
        recorded_at_ms: n as i64,
        events: vec![NewEvent {
            event_id: Ulid::new(),
            type_name: "IncidentUpdated".into(),
            schema_version: 1,
            payload: vec![7; 200],
        }],
    }
}

/// Fill `root` with `events` one-event appends over `streams` streams from 64 writers;
/// seconds taken.
async fn write_log(
    root: &std::path::Path,
    events: u64,
    streams: u64,
) -> Result<f64, Box<dyn std::error::Error>> {
    let fast = StoreConfig {
        fsync_data_file: false,
        ..StoreConfig::default()
    };
    let store = Arc::new(SledEventStore::open(root, fast).await?);
    let writing = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = writer;
            while n < events {
                store.append(request(n % streams, n)).await?;
                n += WRITERS;
            }
            Ok::<_, opsledger_storage::StoreError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    store.flush_and_stop().await?;
    Ok(writing.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let streams: u64 = args.next().map_or(Ok(50_000), |a| a.parse())?;
    let temporary = tempfile::tempdir()?;
    let root = args
        .next()
        .map_or_else(|| temporary.path().to_path_buf(), Into::into);
    let write_s = if root.join("sled").exists() {
        0.0
    } else {
        write_log(&root, events, streams).await?
    };
    let store = SledEventStore::open(&root, StoreConfig::default()).await?;
    let rss_before = vm_rss_mb();
    let building = Instant::now();
    store.warm_index().await?;
    let build_ms = building.elapsed().as_secs_f64() * 1e3;
    let rss_after = vm_rss_mb();
    let reading = Instant::now();
    let last = store
        .read_stream(&request(0, 0).stream_id, u64::MAX, Direction::Backward, 1)
        .await?;
    let read_us = reading.elapsed().as_secs_f64() * 1e6;
    assert_eq!(last.len(), 1);
    println!(
        "{{\"events\": {events}, \"streams\": {streams}, \"write_s\": {write_s:.1}, \
         \"index_build_ms\": {build_ms:.0}, \"rss_before_mb\": {rss_before:.0}, \
         \"rss_after_mb\": {rss_after:.0}, \"index_rss_mb\": {:.0}, \"stream_read_us\": {read_us:.0}}}",
        rss_after - rss_before
    );
    store.flush_and_stop().await?;
    Ok(())
}
