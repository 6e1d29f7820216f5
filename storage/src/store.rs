//! The seam: the [`EventStore`] trait every backend implements, and its subscription stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures::Stream;

use crate::error::StoreError;
use crate::event::{AppendOutcome, AppendRequest, Direction, RecordedEvent, VerifyReport};

/// An append-only, hash-chained event log with optimistic concurrency and idempotent appends.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Append the request's events to one stream, atomically, after the expected-version check.
    ///
    /// Returns only once the events are durable (flushed and fdatasync'ed); they get
    /// gap-free global positions and stream versions. A command id seen before (its id
    /// part, see [`crate::command_id`]) returns the first append's outcome and writes
    /// nothing if the append repeats it exactly (same full command id, same events);
    /// otherwise it is [`StoreError::IdempotencyConflict`]. Records and appends
    /// past [`crate::limits`] are refused before anything is written.
    ///
    /// Crash semantics: an append that returned `Ok` survives any crash. An append that
    /// did not return (process killed, connection lost) or returned an infrastructure
    /// error may or may not be in the log after a restart: retry it with the **same
    /// command id**, which makes the retry safe (it either writes the events once or
    /// returns the outcome of the append that did land).
    async fn append(&self, req: AppendRequest) -> Result<AppendOutcome, StoreError>;

    /// Up to `max` events of one stream starting at `from_version` (inclusive) in `direction`.
    /// Backward starts at `min(from_version, last version)`: pass `u64::MAX` to read from the end.
    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        direction: Direction,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Up to `max` committed events of the whole log from `from_position` (inclusive), in order.
    async fn read_all(
        &self,
        from_position: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Every committed event from `from_position` (inclusive): catch-up from disk, then live,
    /// in order, with no gaps and no duplicates, also for subscribers that fall behind.
    fn subscribe(&self, from_position: u64) -> EventSubscription;

    /// Position of the last committed event, `None` if the log is empty.
    fn head_position(&self) -> Option<u64>;

    /// The outcome of an earlier append whose command id has this one's id part (whatever
    /// its request tag), if one is committed. Its events carry the stored command id.
    async fn command_outcome(&self, command_id: &str) -> Result<Option<AppendOutcome>, StoreError>;

    /// Walk the whole log and check positions and the hash chain.
    async fn verify(&self) -> Result<VerifyReport, StoreError>;

    /// Graceful shutdown: commit every queued append, then stop taking writes.
    async fn flush_and_stop(&self) -> Result<(), StoreError>;
}

/// A stream of committed events (catch-up then live) returned by [`EventStore::subscribe`].
///
/// It ends (`None`) when the store is dropped or stopped; an `Err` item is followed by the end.
pub struct EventSubscription {
    inner: Pin<Box<dyn Stream<Item = Result<RecordedEvent, StoreError>> + Send>>,
}

impl EventSubscription {
    /// Wrap any backend's event stream.
    pub fn new(
        stream: impl Stream<Item = Result<RecordedEvent, StoreError>> + Send + 'static,
    ) -> Self {
        EventSubscription {
            inner: Box::pin(stream),
        }
    }
}

impl Stream for EventSubscription {
    type Item = Result<RecordedEvent, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
