//! Command latency by stream length: `addIncidentNote` over HTTP on incident streams
//! of 10 to 100k events, with the aggregate cache (the bench's server) and without it
//! (a second server on the same store and read models whose service has
//! [`CacheBounds::disabled`]), sample by sample in one run.
//!
//! Each stream is declared over GraphQL, then filled with `IncidentNoteAdded` events
//! appended straight to the store in chunks (an append holds at most 256 KiB). Every
//! stream then gets one warm-up note from each server (the cached server's is its cold
//! start: it folds the whole stream once, reported as `cold`); then each sample adds
//! one note through each server, alternating which goes first. Short streams are
//! spread over several incidents so the measured notes add at most ~10 % to a stream.

use super::{string_at, ApiBenchError, Latency, Target, TOKEN};
use crate::app::{AppService, CacheBounds, SystemClock};
use crate::auth::{Principal, TokenTable};
use crate::server::{Readiness, RunningServer, ServerConfig};
use crate::SharedStore;
use opsledger_domain::incident::{IncidentEvent, IncidentNoteAdded};
use opsledger_domain::{Actor, DomainEvent, IncidentId, Role, Timestamp};
use opsledger_storage::{
    encode_payload, AppendRequest, EventStore, ExpectedVersion, NewEvent, Ulid,
};
use serde::Serialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events per direct append while building a stream (~250 bytes each stored).
const FILL_CHUNK: u64 = 512;
/// Most incidents one stream length is spread over.
const MAX_STREAMS: u64 = 200;

/// The latency of one stream length.
#[derive(Clone, Debug, Serialize)]
pub struct StreamLength {
    /// Events in each stream before the measured notes.
    pub events: u64,
    /// Incidents of this length the samples went round.
    pub streams: usize,
    /// `addIncidentNote` with the aggregate cache (warm).
    pub cached: Latency,
    /// `addIncidentNote` without it (every command folds the whole stream).
    pub uncached: Latency,
    /// The cached server's first command on each stream (folds the whole stream once).
    pub cold: Latency,
    /// Loads of the cached server that found no remembered state during the measured
    /// samples (0: every measured command folded only its stream's tail).
    pub cached_misses: u64,
}

/// Every stream length, and the longest against the shortest.
#[derive(Clone, Debug, Serialize, Default)]
pub struct StreamFigures {
    /// One entry per length, shortest first.
    pub lengths: Vec<StreamLength>,
    /// p50 at the longest stream / p50 at the shortest, with the cache.
    pub cached_p50_ratio: f64,
    /// p50 at the longest stream / p50 at the shortest, without the cache.
    pub uncached_p50_ratio: f64,
}

/// Measures `samples` notes per server on streams of each of `lengths` events.
pub(super) async fn stream_lengths(
    target: &Target,
    lengths: &[u64],
    samples: usize,
) -> Result<StreamFigures, ApiBenchError> {
    let uncached = UncachedServer::start(target).await?;
    let mut figures = StreamFigures::default();
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for events in sorted {
        let length = one_length(target, uncached.addr, events.max(1), samples).await?;
        figures.lengths.push(length);
    }
    uncached.stop().await;
    if let (Some(short), Some(long)) = (figures.lengths.first(), figures.lengths.last()) {
        let ratio = |a: &Latency, b: &Latency| a.p50_ms / b.p50_ms.max(1e-9);
        figures.cached_p50_ratio = ratio(&long.cached, &short.cached);
        figures.uncached_p50_ratio = ratio(&long.uncached, &short.uncached);
    }
    Ok(figures)
}

/// A second server on the bench's store and read models, without an aggregate cache.
/// It runs no workflow policies of its own (the bench's server does): a note starts no
/// workflow, so its commands never wait for one.
struct UncachedServer {
    addr: SocketAddr,
    server: RunningServer,
}

impl UncachedServer {
    async fn start(target: &Target) -> Result<Self, ApiBenchError> {
        let setup = |e: &dyn std::fmt::Display| ApiBenchError::Setup(e.to_string());
        let shared: SharedStore = target.store.clone();
        let app = AppService::new(
            shared.clone(),
            target.runner.handle(),
            Arc::new(SystemClock),
        )
        .with_aggregate_cache(CacheBounds::disabled());
        let mut tokens = TokenTable::new();
        tokens
            .insert(TOKEN, Principal::new("bench", vec![Role::Admin]))
            .map_err(|e| setup(&e))?;
        let server = RunningServer::start(
            ([127, 0, 0, 1], 0).into(),
            shared,
            Arc::new(app),
            Arc::new(tokens),
            Readiness::with_projections(target.runner.handle().position_receiver()),
            ServerConfig::default(),
        )
        .await
        .map_err(|e| setup(&e))?;
        Ok(UncachedServer {
            addr: server.addr,
            server,
        })
    }

    async fn stop(self) {
        let _ = self.server.shutdown().await;
    }
}

/// Builds the streams of `events` events, warms them up, then measures.
async fn one_length(
    target: &Target,
    uncached: SocketAddr,
    events: u64,
    samples: usize,
) -> Result<StreamLength, ApiBenchError> {
    let count = (20 * samples as u64).div_ceil(events).clamp(1, MAX_STREAMS);
    let mut streams = Vec::new();
    for n in 0..count {
        let id = target
            .declare(&format!("long stream {events} #{n}"))
            .await?;
        fill(target, &id, events - 1).await?;
        streams.push(id);
    }
    let head = target.store_head();
    target
        .runner
        .handle()
        .wait_for(head, Duration::from_secs(300))
        .await
        .map_err(|e| ApiBenchError::Setup(e.to_string()))?;
    let mut cold = Vec::with_capacity(streams.len());
    for id in &streams {
        cold.push(note(target, target.addr, id).await?);
        note(target, uncached, id).await?;
    }
    let misses_before = target.app.aggregate_cache().stats().misses;
    let mut with = Vec::with_capacity(samples);
    let mut without = Vec::with_capacity(samples);
    for i in 0..samples {
        let id = &streams[i % streams.len()];
        if i % 2 == 0 {
            with.push(note(target, target.addr, id).await?);
            without.push(note(target, uncached, id).await?);
        } else {
            without.push(note(target, uncached, id).await?);
            with.push(note(target, target.addr, id).await?);
        }
    }
    let cached_misses = target.app.aggregate_cache().stats().misses - misses_before;
    Ok(StreamLength {
        events,
        streams: streams.len(),
        cached: Latency::of(with),
        uncached: Latency::of(without),
        cold: Latency::of(cold),
        cached_misses,
    })
}

/// Appends `count` notes to incident `id` straight to the store, `FILL_CHUNK` per append.
async fn fill(target: &Target, id: &str, count: u64) -> Result<(), ApiBenchError> {
    let incident: IncidentId = id
        .parse()
        .map_err(|_| ApiBenchError::Setup(format!("`{id}` is not an incident id")))?;
    let stream_id = incident.stream_id();
    let by = Actor("bench-filler".into());
    let at = Timestamp::from_millis(1_700_000_000_000);
    let mut written = 0;
    while written < count {
        let n = FILL_CHUNK.min(count - written);
        let mut events = Vec::with_capacity(n as usize);
        for i in written..written + n {
            let event = DomainEvent::Incident(IncidentEvent::NoteAdded(IncidentNoteAdded {
                text: format!("filler note {i}"),
                by: by.clone(),
                at,
            }));
            let payload =
                encode_payload(&event).map_err(|e| ApiBenchError::Setup(e.to_string()))?;
            events.push(NewEvent {
                event_id: Ulid::new(),
                type_name: event.type_name().into(),
                schema_version: event.schema_version(),
                payload,
            });
        }
        target
            .store
            .append(AppendRequest {
                stream_id: stream_id.clone(),
                expected: ExpectedVersion::Any,
                command_id: Ulid::new().to_string(),
                actor: by.0.clone(),
                correlation_id: Ulid::new(),
                causation_id: None,
                recorded_at_ms: at.millis(),
                events,
            })
            .await
            .map_err(|e| ApiBenchError::Setup(e.to_string()))?;
        written += n;
    }
    Ok(())
}

/// One `addIncidentNote` through the server at `addr`; its latency.
async fn note(target: &Target, addr: SocketAddr, id: &str) -> Result<Duration, ApiBenchError> {
    let started = Instant::now();
    let data = target
        .graphql_at(
            addr,
            "mutation($id: ID!) { addIncidentNote(id: $id, text: \"bench note\") { id } }",
            json!({ "id": id }),
        )
        .await?;
    let elapsed = started.elapsed();
    string_at(&data, &["addIncidentNote", "id"])?;
    Ok(elapsed)
}
