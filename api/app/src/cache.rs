//! The aggregate cache: a bounded in-memory LRU of recently used aggregates, so a
//! command folds only the events after the state it remembers instead of the whole
//! stream.
//!
//! # Rules
//! - An entry is `(last_version, state)` for one stream id: the fold of that stream's
//!   events `0..=last_version`, type-erased (`Box<dyn Any + Send + Sync>`) and checked
//!   against the aggregate type on every read (another type is a miss).
//! - The cache is never trusted alone: a load ([`super::stream::load_cached`]) reads the
//!   stream from the entry's own last version on, checks that event is still there and
//!   folds whatever follows it, so appends by another writer (another node, a tool
//!   appending straight to the store) are always seen.
//! - Only committed facts go in: states folded from events read back from the store,
//!   and, after a successful append, the state before it evolved by exactly the
//!   appended events at the outcome's version (checked against the count; any other
//!   outcome, such as an idempotent replay of an older append, is not remembered). A
//!   refused or conflicting append writes nothing here.
//! - An entry never moves back: a put older than the entry held is ignored.
//!
//! # Bounds ([`CacheBounds`])
//! - At most `max_entries` streams (default [`CacheBounds::DEFAULT_MAX_ENTRIES`], 10,000);
//!   0 disables the cache (every load folds the whole stream, as before it existed).
//! - A state whose estimated size passes `max_entry_bytes` (default 256 KiB) is not kept:
//!   its stream is folded on every load, as without a cache.
//! - The estimated sizes of all entries stay within `max_total_bytes` (default 64 MiB).
//!
//! Past a bound the least recently used entries go first. The size of a state is
//! estimated as `size_of::<A>()` plus the length of its `Debug` rendering, counted
//! without allocating and stopped as soon as it passes `max_entry_bytes` (so a huge
//! state costs at most that much formatting). For these plain-data states the
//! rendering over-estimates the heap they hold (field names, numbers in decimal).
//!
//! Nothing is persisted: after a start each stream is folded once, on its first load.

use opsledger_domain::Aggregate;
use opsledger_storage::AppendOutcome;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::loaded::Loaded;

/// How much the aggregate cache may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheBounds {
    /// Most streams held; 0 disables the cache.
    pub max_entries: usize,
    /// Most estimated bytes of one state; a larger state is not kept.
    pub max_entry_bytes: usize,
    /// Most estimated bytes of all states together.
    pub max_total_bytes: usize,
}

impl CacheBounds {
    /// Streams held by default.
    pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
    /// Estimated bytes of one state held at most by default.
    pub const DEFAULT_MAX_ENTRY_BYTES: usize = 256 * 1024;
    /// Estimated bytes of all states held at most by default.
    pub const DEFAULT_MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;

    /// No cache: every load folds the whole stream.
    pub fn disabled() -> Self {
        CacheBounds {
            max_entries: 0,
            ..CacheBounds::default()
        }
    }

    /// The default byte bounds with at most `max_entries` streams (0: disabled).
    pub fn entries(max_entries: usize) -> Self {
        CacheBounds {
            max_entries,
            ..CacheBounds::default()
        }
    }

    fn enabled(&self) -> bool {
        self.max_entries > 0 && self.max_entry_bytes > 0 && self.max_total_bytes > 0
    }
}

impl Default for CacheBounds {
    fn default() -> Self {
        CacheBounds {
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            max_entry_bytes: Self::DEFAULT_MAX_ENTRY_BYTES,
            max_total_bytes: Self::DEFAULT_MAX_TOTAL_BYTES,
        }
    }
}

/// What the cache holds and how it was used, at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Streams held.
    pub entries: usize,
    /// Estimated bytes of the states held.
    pub estimated_bytes: usize,
    /// Reads that found a state of the asked type.
    pub hits: u64,
    /// Reads that found none (or one of another type).
    pub misses: u64,
}

/// The aggregate cache (see the module docs); shared by every command of one
/// [`super::AppService`].
pub struct AggregateCache {
    bounds: CacheBounds,
    lru: Mutex<Lru>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// One stream's remembered state.
struct Entry {
    last_version: u64,
    state: Box<dyn Any + Send + Sync>,
    bytes: usize,
    /// Its place in [`Lru::order`].
    tick: u64,
}

/// The entries and their use order (oldest tick first).
#[derive(Default)]
struct Lru {
    entries: HashMap<String, Entry>,
    order: BTreeMap<u64, String>,
    next_tick: u64,
    total_bytes: usize,
}

impl Lru {
    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }

    fn remove(&mut self, stream_id: &str) -> Option<Entry> {
        let entry = self.entries.remove(stream_id)?;
        self.order.remove(&entry.tick);
        self.total_bytes -= entry.bytes;
        Some(entry)
    }

    fn evict_oldest(&mut self) {
        if let Some((_, stream_id)) = self.order.pop_first() {
            if let Some(entry) = self.entries.remove(&stream_id) {
                self.total_bytes -= entry.bytes;
            }
        }
    }
}

impl AggregateCache {
    /// An empty cache within `bounds`.
    pub fn new(bounds: CacheBounds) -> Self {
        AggregateCache {
            bounds,
            lru: Mutex::new(Lru::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Its bounds.
    pub fn bounds(&self) -> CacheBounds {
        self.bounds
    }

    /// Whether it holds anything at all (a bound of 0 disables it).
    pub fn is_enabled(&self) -> bool {
        self.bounds.enabled()
    }

    /// What it holds now and its hits and misses so far.
    pub fn stats(&self) -> CacheStats {
        let lru = self.lock();
        CacheStats {
            entries: lru.entries.len(),
            estimated_bytes: lru.total_bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// A copy of the state remembered for `stream_id` (if it is an `A`) and the version
    /// of the last event folded into it; marks it most recently used.
    pub fn get<A: Aggregate>(&self, stream_id: &str) -> Option<Loaded<A>> {
        if !self.is_enabled() {
            return None;
        }
        let mut lru = self.lock();
        let found = lru.entries.get(stream_id).and_then(|entry| {
            let state = entry.state.downcast_ref::<A>()?;
            Some((entry.tick, entry.last_version, state.clone()))
        });
        let Some((old_tick, last_version, state)) = found else {
            drop(lru);
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let tick = lru.tick();
        lru.order.remove(&old_tick);
        lru.order.insert(tick, stream_id.to_owned());
        if let Some(entry) = lru.entries.get_mut(stream_id) {
            entry.tick = tick;
        }
        drop(lru);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(Loaded {
            state,
            last_version: Some(last_version),
        })
    }

    /// Remembers `loaded` (a fold of events read from the store) for `stream_id`,
    /// unless the stream is empty, the entry held is newer, or the state is too large.
    pub fn put<A: Aggregate>(&self, stream_id: &str, loaded: &Loaded<A>) {
        if let Some(last_version) = loaded.last_version {
            self.insert(stream_id, last_version, loaded.state.clone());
        }
    }

    /// After a successful append of `events` to `stream_id` decided on `before`:
    /// remembers the state after them at the outcome's version, if the outcome is that
    /// append (its last version and event count match what `before` expected).
    pub fn remember_append<A: Aggregate>(
        &self,
        stream_id: &str,
        before: &Loaded<A>,
        events: &[A::Event],
        outcome: &AppendOutcome,
    ) {
        if !self.is_enabled() || events.is_empty() {
            return;
        }
        let count = events.len() as u64;
        let first_version = before.last_version.map_or(0, |v| v + 1);
        let written = outcome
            .last_position
            .checked_sub(outcome.first_position)
            .map(|d| d + 1);
        if outcome.stream_version != first_version + count - 1 || written != Some(count) {
            return;
        }
        let state = events
            .iter()
            .fold(before.state.clone(), |state, event| state.evolve(event));
        self.insert(stream_id, outcome.stream_version, state);
    }

    /// Forgets `stream_id`.
    pub fn remove(&self, stream_id: &str) {
        self.lock().remove(stream_id);
    }

    fn insert<A: Aggregate>(&self, stream_id: &str, last_version: u64, state: A) {
        if !self.is_enabled() {
            return;
        }
        let cap = self.bounds.max_entry_bytes.min(self.bounds.max_total_bytes);
        let bytes = estimated_bytes(&state, cap);
        let mut lru = self.lock();
        if let Some(held) = lru.entries.get(stream_id) {
            if held.last_version > last_version && held.state.is::<A>() {
                return;
            }
        }
        lru.remove(stream_id);
        let Some(bytes) = bytes else {
            // Too large to keep: the stream is folded on every load, as without a cache.
            return;
        };
        while lru.entries.len() >= self.bounds.max_entries
            || lru.total_bytes + bytes > self.bounds.max_total_bytes
        {
            if lru.entries.is_empty() {
                return;
            }
            lru.evict_oldest();
        }
        let tick = lru.tick();
        lru.order.insert(tick, stream_id.to_owned());
        lru.total_bytes += bytes;
        lru.entries.insert(
            stream_id.to_owned(),
            Entry {
                last_version,
                state: Box::new(state),
                bytes,
                tick,
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        // Every update keeps the maps consistent before anything can panic.
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `size_of::<A>()` plus the length of `state`'s `Debug` rendering, or `None` once
/// that passes `cap` (the rendering stops there).
fn estimated_bytes<A: fmt::Debug>(state: &A, cap: usize) -> Option<usize> {
    struct Counter {
        bytes: usize,
        cap: usize,
    }
    impl fmt::Write for Counter {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.bytes = self.bytes.saturating_add(s.len());
            if self.bytes > self.cap {
                Err(fmt::Error)
            } else {
                Ok(())
            }
        }
    }
    let mut counter = Counter {
        bytes: std::mem::size_of::<A>(),
        cap,
    };
    if counter.bytes > cap {
        return None;
    }
    fmt::write(&mut counter, format_args!("{state:?}"))
        .ok()
        .map(|()| counter.bytes)
}

#[cfg(test)]
mod tests {
    //! The cache's rules, on the real sled store (wrapped only to count the rows its
    //! stream reads return, or to let another writer append just before the service).

    use super::*;
    use crate::principal::Principal;
    use crate::stream::{load, load_cached};
    use crate::{AppCommand, AppError, AppService, CommandMeta, ManualClock};
    use async_trait::async_trait;
    use opsledger_domain::incident::{
        DeclareIncident, ImpactLevel, IncidentAcknowledged, IncidentCommand, IncidentEvent,
        IncidentNoteAdded, IncidentState, IncidentStatus, ServiceImpact,
    };
    use opsledger_domain::service::{
        EscalationLevel, EscalationPolicy, RegisterService, ServiceCommand, ServiceProfile,
        ServiceState, SloTarget, Tier,
    };
    use opsledger_domain::text::{BoundedText, Note};
    use opsledger_domain::{Actor, DomainEvent, IncidentId, Role, ServiceId, Timestamp};
    use opsledger_projections::{ProjectionRunner, ReadModels, RunnerConfig};
    use opsledger_storage::{
        encode_payload, AppendRequest, Direction, EventStore, EventSubscription, ExpectedVersion,
        NewEvent, RecordedEvent, SledEventStore, StoreConfig, StoreError, Ulid, VerifyReport,
    };
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    const T0: i64 = 1_714_564_800_000;

    /// The real store, counting the rows `read_stream` returns; armed with a request,
    /// it appends that one first the next time the service appends to its stream (a
    /// writer on another node winning the race between the service's load and append).
    struct Spy {
        inner: Arc<SledEventStore>,
        rows_read: AtomicUsize,
        cut_in: Mutex<Option<AppendRequest>>,
    }

    impl Spy {
        fn rows_read(&self) -> usize {
            self.rows_read.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl EventStore for Spy {
        async fn append(&self, req: AppendRequest) -> Result<AppendOutcome, StoreError> {
            let first = {
                let mut cut_in = self.cut_in.lock().unwrap();
                match cut_in.as_ref() {
                    Some(other) if other.stream_id == req.stream_id => cut_in.take(),
                    _ => None,
                }
            };
            if let Some(other) = first {
                self.inner.append(other).await?;
            }
            self.inner.append(req).await
        }

        async fn read_stream(
            &self,
            stream_id: &str,
            from_version: u64,
            direction: Direction,
            max: usize,
        ) -> Result<Vec<RecordedEvent>, StoreError> {
            let rows = self
                .inner
                .read_stream(stream_id, from_version, direction, max)
                .await?;
            self.rows_read.fetch_add(rows.len(), Ordering::SeqCst);
            Ok(rows)
        }

        async fn read_all(
            &self,
            from_position: u64,
            max: usize,
        ) -> Result<Vec<RecordedEvent>, StoreError> {
            self.inner.read_all(from_position, max).await
        }

        fn subscribe(&self, from_position: u64) -> EventSubscription {
            self.inner.subscribe(from_position)
        }

        fn head_position(&self) -> Option<u64> {
            self.inner.head_position()
        }

        async fn command_outcome(
            &self,
            command_id: &str,
        ) -> Result<Option<AppendOutcome>, StoreError> {
            self.inner.command_outcome(command_id).await
        }

        async fn verify(&self) -> Result<VerifyReport, StoreError> {
            self.inner.verify().await
        }

        async fn flush_and_stop(&self) -> Result<(), StoreError> {
            self.inner.flush_and_stop().await
        }
    }

    struct Harness {
        app: AppService,
        spy: Arc<Spy>,
        /// The store itself: "another writer", and what a full fold reads.
        store: Arc<SledEventStore>,
        service: ServiceId,
        _runner: ProjectionRunner<ReadModels>,
        _dir: tempfile::TempDir,
    }

    async fn harness(bounds: CacheBounds) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SledEventStore::open(dir.path().join("log"), StoreConfig::default())
                .await
                .unwrap(),
        );
        let spy = Arc::new(Spy {
            inner: store.clone(),
            rows_read: AtomicUsize::new(0),
            cut_in: Mutex::new(None),
        });
        let runner = ProjectionRunner::<ReadModels>::start(
            store.clone(),
            dir.path().join("projections"),
            RunnerConfig::default(),
        )
        .await
        .unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(T0)));
        let app = AppService::new(spy.clone(), runner.handle(), clock).with_aggregate_cache(bounds);
        let mut h = Harness {
            app,
            spy,
            store,
            service: ServiceId::new(Ulid::new()),
            _runner: runner,
            _dir: dir,
        };
        h.service = h.register("api").await;
        h
    }

    fn responder() -> Principal {
        Principal::new("rita", vec![Role::Responder])
    }

    impl Harness {
        async fn register(&self, name: &str) -> ServiceId {
            let profile = ServiceProfile {
                name: name.into(),
                owner_team: "core".into(),
                tier: Tier::ONE,
                description: String::new(),
                runbook_url: None,
                dependencies: vec![],
                slo_target: SloTarget::from_percent(99.9).unwrap(),
                rto_secs: 3600,
                rpo_secs: 0,
                escalation_policy: EscalationPolicy {
                    levels: vec![EscalationLevel {
                        target: "primary".into(),
                        ack_timeout_secs: 300,
                    }],
                },
            };
            let admin = Principal::new("root", vec![Role::Admin]);
            let id = ServiceId::new(Ulid::new());
            let out = self
                .app
                .execute(
                    &admin,
                    CommandMeta::default(),
                    AppCommand::Service {
                        id,
                        intent: ServiceCommand::Register(RegisterService { id, profile }),
                    },
                )
                .await
                .unwrap();
            ServiceId::from_stream_id(&out.stream_id).unwrap()
        }

        async fn declare(&self) -> IncidentId {
            let id = IncidentId::new(Ulid::new());
            let declare = DeclareIncident {
                id,
                title: "checkout slow".into(),
                description: String::new(),
                severity: None,
                impacts: vec![ServiceImpact {
                    service: self.service,
                    level: ImpactLevel::Degraded,
                }],
                started_at: None,
                detected_at: None,
                alert_group: None,
            };
            let out = self
                .app
                .execute(
                    &responder(),
                    CommandMeta::default(),
                    AppCommand::Incident {
                        id,
                        intent: IncidentCommand::Declare(declare),
                    },
                )
                .await
                .unwrap();
            IncidentId::from_stream_id(&out.stream_id).unwrap()
        }

        async fn incident(
            &self,
            id: IncidentId,
            meta: CommandMeta,
            command: IncidentCommand,
        ) -> Result<crate::CommandOutcome, AppError> {
            self.app
                .execute(
                    &responder(),
                    meta,
                    AppCommand::Incident {
                        id,
                        intent: command,
                    },
                )
                .await
        }

        async fn note(&self, id: IncidentId, text: &str) -> crate::CommandOutcome {
            let command = IncidentCommand::AddNote {
                text: Note::parse(text).unwrap(),
            };
            self.incident(id, CommandMeta::default(), command)
                .await
                .unwrap()
        }

        /// What the cache holds for `id`'s stream (without counting a hit).
        fn cached(&self, id: IncidentId) -> Option<(u64, IncidentState)> {
            let lru = self.app.aggregate_cache().lock();
            let entry = lru.entries.get(&id.stream_id())?;
            let state = entry.state.downcast_ref::<IncidentState>()?.clone();
            Some((entry.last_version, state))
        }

        /// The whole stream folded from the store itself.
        async fn full_fold(&self, id: IncidentId) -> Loaded<IncidentState> {
            load(self.store.as_ref(), &id.stream_id()).await.unwrap()
        }
    }

    /// An append of `events` to `id`'s stream by another writer, at `expected`.
    fn other_writer(
        id: IncidentId,
        expected: ExpectedVersion,
        events: Vec<IncidentEvent>,
    ) -> AppendRequest {
        AppendRequest {
            stream_id: id.stream_id(),
            expected,
            command_id: Ulid::new().to_string(),
            actor: "other-node".into(),
            correlation_id: Ulid::new(),
            causation_id: None,
            recorded_at_ms: T0,
            events: events
                .into_iter()
                .map(|event| {
                    let event = DomainEvent::Incident(event);
                    NewEvent {
                        event_id: Ulid::new(),
                        type_name: event.type_name().into(),
                        schema_version: event.schema_version(),
                        payload: encode_payload(&event).unwrap(),
                    }
                })
                .collect(),
        }
    }

    fn note_by_other(n: usize) -> IncidentEvent {
        IncidentEvent::NoteAdded(IncidentNoteAdded {
            text: format!("note {n} from another node"),
            by: Actor("otto".into()),
            at: Timestamp::from_millis(T0),
        })
    }

    fn ack_by_other() -> IncidentEvent {
        IncidentEvent::Acknowledged(IncidentAcknowledged {
            by: Actor("otto".into()),
            at: Timestamp::from_millis(T0),
        })
    }

    #[tokio::test]
    async fn a_cached_aggregate_is_folded_from_its_tail_only() {
        let h = harness(CacheBounds::default()).await;
        let id = h.declare().await;
        for n in 0..40 {
            h.note(id, &format!("note {n}")).await;
        }
        // A command on a warm stream re-reads only the remembered last event.
        let before = h.spy.rows_read();
        let out = h.note(id, "one more").await;
        assert_eq!(out.stream_version, Some(41));
        assert_eq!(h.spy.rows_read() - before, 1);
        // Five events by another writer: the next command reads those five and the
        // remembered one, not the 42 before them.
        let head = ExpectedVersion::Exact(41);
        let notes = (0..5).map(note_by_other).collect();
        h.store.append(other_writer(id, head, notes)).await.unwrap();
        let before = h.spy.rows_read();
        let out = h.note(id, "after the other node").await;
        assert_eq!(out.stream_version, Some(47));
        assert_eq!(h.spy.rows_read() - before, 6);
        // And what the cache holds is what a fold of the whole stream gives.
        let full = h.full_fold(id).await;
        assert_eq!(h.cached(id), Some((47, full.state)));
    }

    #[tokio::test]
    async fn a_cold_load_folds_the_whole_stream_once() {
        let h = harness(CacheBounds::default()).await;
        let id = h.declare().await;
        for n in 0..10 {
            h.note(id, &format!("note {n}")).await;
        }
        // A fresh cache (a restart) folds all 11 events on the first load only.
        let cache = AggregateCache::new(CacheBounds::default());
        let stream = id.stream_id();
        let before = h.spy.rows_read();
        let first: Loaded<IncidentState> =
            load_cached(h.spy.as_ref(), &cache, &stream).await.unwrap();
        assert_eq!(h.spy.rows_read() - before, 11);
        let before = h.spy.rows_read();
        let second: Loaded<IncidentState> =
            load_cached(h.spy.as_ref(), &cache, &stream).await.unwrap();
        assert_eq!(h.spy.rows_read() - before, 1);
        assert_eq!(first.last_version, Some(10));
        assert_eq!(second.state, first.state);
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.hits, stats.misses), (1, 1, 1));
    }

    #[tokio::test]
    async fn a_write_by_another_writer_is_seen_through_the_cache() {
        let h = harness(CacheBounds::default()).await;
        let id = h.declare().await;
        h.note(id, "warm the cache").await;
        assert_eq!(h.cached(id).map(|(v, _)| v), Some(1));
        // Another node acknowledges behind the service's back.
        let ack = other_writer(id, ExpectedVersion::Exact(1), vec![ack_by_other()]);
        h.store.append(ack).await.unwrap();
        // The service sees it: acknowledging again is refused by the domain (a stale
        // state would have decided to acknowledge and lost the append as a conflict).
        let again = h
            .incident(id, CommandMeta::default(), IncidentCommand::Acknowledge)
            .await;
        assert!(matches!(again, Err(AppError::Domain(_))), "{again:?}");
        let (version, state) = h.cached(id).unwrap();
        assert_eq!((version, state.status), (2, IncidentStatus::Acknowledged));
    }

    #[tokio::test]
    async fn a_refused_or_conflicting_append_leaves_the_cache_as_it_was() {
        let h = harness(CacheBounds::default()).await;
        let id = h.declare().await;
        h.note(id, "warm the cache").await;
        let warm = h.cached(id).unwrap();
        // Refused by the domain: nothing is appended.
        h.incident(id, CommandMeta::default(), IncidentCommand::Acknowledge)
            .await
            .unwrap();
        let acked = h.cached(id).unwrap();
        assert_eq!(acked.0, 2);
        let refused = h
            .incident(id, CommandMeta::default(), IncidentCommand::Acknowledge)
            .await;
        assert!(matches!(refused, Err(AppError::Domain(_))), "{refused:?}");
        assert_eq!(h.cached(id).as_ref(), Some(&acked));
        // Refused by the store: a 4,000-character note of 3-byte characters is an
        // event past the store's record bound (decided, then not written).
        let huge = IncidentCommand::AddNote {
            text: Note::parse("€".repeat(4000)).unwrap(),
        };
        let refused = h.incident(id, CommandMeta::default(), huge).await;
        assert!(
            matches!(refused, Err(AppError::TooLarge { .. })),
            "{refused:?}"
        );
        assert_eq!(h.cached(id).as_ref(), Some(&acked));
        // A conflicting append: another writer appends between the service's load and
        // its append, and the client named the version it expects (no retry).
        *h.spy.cut_in.lock().unwrap() = Some(other_writer(
            id,
            ExpectedVersion::Exact(2),
            vec![note_by_other(1)],
        ));
        let meta = CommandMeta {
            expected_version: Some(2),
            ..CommandMeta::default()
        };
        let note = IncidentCommand::AddNote {
            text: Note::parse("lost the race").unwrap(),
        };
        let lost = h.incident(id, meta, note).await;
        assert!(matches!(lost, Err(AppError::Conflict { .. })), "{lost:?}");
        assert_eq!(h.cached(id).as_ref(), Some(&acked));
        assert_ne!(warm, acked);
        // The next command folds the winner's event from the store.
        let out = h.note(id, "after the race").await;
        assert_eq!(out.stream_version, Some(4));
        let full = h.full_fold(id).await;
        assert_eq!(h.cached(id), Some((4, full.state)));
    }

    #[tokio::test]
    async fn a_lost_race_is_redecided_on_the_winners_events() {
        let h = harness(CacheBounds::default()).await;
        let id = h.declare().await;
        h.note(id, "warm the cache").await;
        *h.spy.cut_in.lock().unwrap() = Some(other_writer(
            id,
            ExpectedVersion::Exact(1),
            vec![ack_by_other()],
        ));
        // The service decides on version 1, loses the append, reloads (tail: the
        // other node's acknowledgement) and is refused on it.
        let lost = h
            .incident(id, CommandMeta::default(), IncidentCommand::Acknowledge)
            .await;
        assert!(matches!(lost, Err(AppError::Domain(_))), "{lost:?}");
        let full = h.full_fold(id).await;
        assert_eq!(h.cached(id), Some((2, full.state)));
    }

    #[tokio::test]
    async fn an_entry_the_stream_does_not_hold_is_dropped_and_the_stream_folded_again() {
        let h = harness(CacheBounds::default()).await;
        let id = h.declare().await;
        let stream = id.stream_id();
        // A state claiming version 9 of a one-event stream (a log replaced under the
        // service): the load refolds the stream instead of trusting it.
        let bogus = Loaded {
            state: IncidentState::default(),
            last_version: Some(9),
        };
        h.app.aggregate_cache().put(&stream, &bogus);
        let loaded: Loaded<IncidentState> = h.app.load(&stream).await.unwrap();
        let full = h.full_fold(id).await;
        assert_eq!((loaded.last_version, &loaded.state), (Some(0), &full.state));
        assert_eq!(h.cached(id), Some((0, full.state)));
    }

    #[tokio::test]
    async fn a_state_of_another_aggregate_type_is_a_miss() {
        let h = harness(CacheBounds::default()).await;
        let id = h.declare().await;
        let stream = id.stream_id();
        let _: Loaded<IncidentState> = h.app.load(&stream).await.unwrap();
        assert!(h
            .app
            .aggregate_cache()
            .get::<ServiceState>(&stream)
            .is_none());
        assert!(h
            .app
            .aggregate_cache()
            .get::<IncidentState>(&stream)
            .is_some());
    }

    #[tokio::test]
    async fn a_disabled_cache_holds_nothing_and_every_load_folds_the_whole_stream() {
        let h = harness(CacheBounds::disabled()).await;
        let id = h.declare().await;
        for n in 0..5 {
            h.note(id, &format!("note {n}")).await;
        }
        let before = h.spy.rows_read();
        h.note(id, "one more").await;
        assert_eq!(h.spy.rows_read() - before, 6);
        assert_eq!(h.app.aggregate_cache().stats().entries, 0);
        assert_eq!(h.cached(id), None);
    }

    fn state(title: &str) -> Loaded<IncidentState> {
        Loaded {
            state: IncidentState {
                title: title.into(),
                ..IncidentState::default()
            },
            last_version: Some(0),
        }
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bound() {
        let cache = AggregateCache::new(CacheBounds::entries(3));
        for n in 0..10 {
            cache.put(&format!("incident-{n}"), &state("t"));
            // incident-0 is read before every put: it stays the most recently used.
            assert!(cache.get::<IncidentState>("incident-0").is_some());
            assert!(cache.stats().entries <= 3);
        }
        let held: Vec<bool> = (0..10)
            .map(|n| {
                cache
                    .get::<IncidentState>(&format!("incident-{n}"))
                    .is_some()
            })
            .collect();
        let mut expected = vec![false; 10];
        expected[0] = true;
        expected[8] = true;
        expected[9] = true;
        assert_eq!(held, expected);
    }

    #[test]
    fn the_cache_never_holds_more_estimated_bytes_than_its_bound() {
        let one = estimated_bytes(&state("t").state, usize::MAX).unwrap();
        let bounds = CacheBounds {
            max_entries: 100,
            max_entry_bytes: one + 100,
            max_total_bytes: 3 * one + 50,
        };
        let cache = AggregateCache::new(bounds);
        for n in 0..10 {
            cache.put(&format!("incident-{n}"), &state("t"));
            assert!(cache.stats().estimated_bytes <= bounds.max_total_bytes);
        }
        assert_eq!(cache.stats().entries, 3);
        // A single state past the per-entry bound is not kept (and replaces nothing).
        cache.put("incident-big", &state(&"x".repeat(200)));
        assert!(cache.get::<IncidentState>("incident-big").is_none());
        assert_eq!(cache.stats().entries, 3);
    }

    #[test]
    fn an_older_state_never_replaces_a_newer_one() {
        let cache = AggregateCache::new(CacheBounds::default());
        let mut newer = state("newer");
        newer.last_version = Some(7);
        cache.put("incident-1", &newer);
        let mut older = state("older");
        older.last_version = Some(3);
        cache.put("incident-1", &older);
        let held = cache.get::<IncidentState>("incident-1").unwrap();
        assert_eq!(
            (held.last_version, held.state.title.as_str()),
            (Some(7), "newer")
        );
    }

    #[test]
    fn an_append_outcome_that_is_not_the_decided_append_is_not_remembered() {
        let cache = AggregateCache::new(CacheBounds::default());
        let before = state("t");
        let events = vec![ack_by_other()];
        // An idempotent replay of an older append answers with that append's outcome.
        let replayed = AppendOutcome {
            first_position: 3,
            last_position: 3,
            stream_version: 0,
        };
        cache.remember_append("incident-1", &before, &events, &replayed);
        assert_eq!(cache.stats().entries, 0);
        let appended = AppendOutcome {
            first_position: 9,
            last_position: 9,
            stream_version: 1,
        };
        cache.remember_append("incident-1", &before, &events, &appended);
        let held = cache.get::<IncidentState>("incident-1").unwrap();
        assert_eq!(held.last_version, Some(1));
        assert_eq!(held.state, before.state.evolve(&events[0]));
    }
}
