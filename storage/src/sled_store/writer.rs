//! The single writer: a dedicated thread that group-commits appends.
//!
//! It takes one queued append, drains whatever else is queued (up to a limit),
//! checks idempotency and expected versions against the in-memory index (see
//! `index`) and the appends staged before it in the group, assigns positions,
//! extends the hash chain, writes the group's records as segments and its
//! appends as index chunks with one atomic `apply_batch`, flushes sled once,
//! fsyncs any blob file sled wrote (normally none: see [`crate::limits`]) and
//! fdatasyncs sled's data file once (sled's flush uses `sync_file_range`, which is no power-loss barrier: sled
//! issue 1452), then extends the in-memory index, and only then answers every
//! caller and publishes the group.
//! A failed write, flush or fdatasync is never acknowledged: the writer stops
//! and every later append gets [`StoreError::WritesStopped`] with the reason.
//! Running on its own thread, its blocking sled calls never block the runtime.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::blobs::BlobSync;
use super::digest;
use super::index::{self, command_hash, IndexedAppend, StoreIndex};
use super::stats::Phase;
use super::Shared;
use crate::chain::chain_hash;
use crate::codec::{self, CommandRecord, IndexEntry, HASH_LEN};
use crate::command_id;
use crate::error::StoreError;
use crate::event::{AppendOutcome, AppendRequest, RecordedEvent};
use crate::layout;
use crate::limits;
use crate::segment;

/// Most appends committed in one group.
const MAX_GROUP_APPENDS: usize = 2048;

/// The channel an append's result goes back on.
pub(crate) type AppendReply = oneshot::Sender<Result<AppendOutcome, StoreError>>;

/// What the store sends its writer.
pub(crate) enum WriterMsg {
    /// Append and answer on the channel once durable.
    Append(AppendRequest, AppendReply),
    /// Commit everything queued before this, then stop and answer.
    Stop(oneshot::Sender<Result<(), StoreError>>),
}

/// The writer's own state: the log's tail.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    events_tx: broadcast::Sender<Arc<[RecordedEvent]>>,
    data_file: File,
    fsync_data_file: bool,
    /// sled's blob files, fsync'ed with the data file if any appear.
    blobs: BlobSync,
    next_position: u64,
    last_hash: [u8; HASH_LEN],
}

/// One group being assembled.
#[derive(Default)]
struct Group {
    events: Vec<RecordedEvent>,
    /// The stored bytes of `events`, written as segments at commit.
    records: Vec<Vec<u8>>,
    /// The appends staged so far, written as index chunks at commit.
    appends: Vec<IndexedAppend>,
    /// Id parts of the command ids staged so far (not in the index before the commit):
    /// index into `appends`.
    commands: HashMap<String, usize>,
    /// Heads of the streams appended to so far (ahead of the index until the commit).
    heads: HashMap<String, u64>,
    replies: Vec<(AppendReply, Result<AppendOutcome, StoreError>)>,
}

impl Writer {
    /// A writer continuing the log after `next_position` / `last_hash`.
    pub(crate) fn new(
        shared: Arc<Shared>,
        events_tx: broadcast::Sender<Arc<[RecordedEvent]>>,
        data_file: File,
        fsync_data_file: bool,
        blobs: BlobSync,
        tail: super::Tail,
    ) -> Self {
        let (next_position, last_hash) = tail;
        Writer {
            shared,
            events_tx,
            data_file,
            fsync_data_file,
            blobs,
            next_position,
            last_hash,
        }
    }

    /// Run until stopped, the store is dropped, or a write fails.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<WriterMsg>) {
        let stop_reply = self.serve(&mut rx);
        let failure = self.shared.stop_reason();
        if failure.is_none() {
            self.shared.set_stopped(super::GRACEFUL_STOP);
        }
        // Closed before the stop is answered, so a message sent after that answer
        // fails to send at once; the ones already queued get their answer here.
        rx.close();
        while let Ok(msg) = rx.try_recv() {
            answer_after_stop(msg, failure.as_deref());
        }
        drop(self);
        if let Some(reply) = stop_reply {
            let _ = reply.send(match failure {
                Some(reason) => Err(StoreError::WritesStopped { reason }),
                None => Ok(()),
            });
        }
    }

    /// Group-commit until a Stop message (returned), channel closed or failure.
    fn serve(
        &mut self,
        rx: &mut mpsc::Receiver<WriterMsg>,
    ) -> Option<oneshot::Sender<Result<(), StoreError>>> {
        loop {
            let waiting = Instant::now();
            let Some(first) = rx.blocking_recv() else {
                break;
            };
            let staging = Instant::now();
            self.shared
                .stats
                .record_phase(Phase::Wait, staging - waiting);
            let mut group = Group::default();
            let mut stop = None;
            let mut msg = Some(first);
            while let Some(m) = msg.take() {
                match m {
                    WriterMsg::Append(req, reply) => {
                        let result = self.stage(&mut group, req);
                        group.replies.push((reply, result));
                    }
                    WriterMsg::Stop(reply) => {
                        stop = Some(reply);
                        break;
                    }
                }
                if group.replies.len() < MAX_GROUP_APPENDS {
                    msg = rx.try_recv().ok();
                }
            }
            self.shared
                .stats
                .record_phase(Phase::Stage, staging.elapsed());
            if !self.commit(group) {
                return stop;
            }
            if stop.is_some() {
                return stop;
            }
        }
        None
    }

    /// Check one append and add its writes to the group; the result is sent after the commit.
    fn stage(
        &mut self,
        group: &mut Group,
        req: AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        validate(&req)?;
        let digest = digest::of_request(&req);
        let (known, actual) = {
            let index = self.shared.index_read()?;
            let known = known_command(group, &index, &self.shared.tree, &req.command_id)?;
            (known, stream_head(group, &index, &req.stream_id))
        };
        if let Some((known_id, known)) = known {
            return if command_id::repeats(
                &known_id,
                &known.request_digest,
                &req.command_id,
                &digest,
            ) {
                Ok(known.outcome())
            } else {
                Err(StoreError::IdempotencyConflict {
                    command_id: req.command_id,
                })
            };
        }
        if !req.expected.accepts(actual) {
            return Err(StoreError::WrongExpectedVersion {
                stream_id: req.stream_id,
                expected: req.expected,
                actual,
            });
        }
        let first_position = self.next_position;
        let first_version = actual.map_or(0, |v| v + 1);
        let mut prev_hash = self.last_hash;
        let mut staged = Vec::with_capacity(req.events.len());
        let mut append_bytes = 0usize;
        for (offset, new) in (0u64..).zip(req.events) {
            let mut event = RecordedEvent {
                position: first_position + offset,
                stream_id: req.stream_id.clone(),
                stream_version: first_version + offset,
                event_id: new.event_id,
                type_name: new.type_name,
                schema_version: new.schema_version,
                recorded_at_ms: req.recorded_at_ms,
                actor: req.actor.clone(),
                command_id: req.command_id.clone(),
                correlation_id: req.correlation_id,
                causation_id: req.causation_id,
                payload: new.payload,
                prev_hash,
                hash: [0; HASH_LEN],
            };
            let mut bytes = codec::encode_envelope_body(&event)?;
            event.hash = chain_hash(&event.prev_hash, &bytes);
            bytes.extend_from_slice(&event.prev_hash);
            bytes.extend_from_slice(&event.hash);
            append_bytes += bytes.len();
            self.check_size(bytes.len(), 0)?;
            prev_hash = event.hash;
            staged.push((event, bytes));
        }
        self.check_size(0, append_bytes)?;
        let count = staged.len() as u64;
        let last_version = first_version + count - 1;
        // Nothing below can fail: the group and the writer's tail change together.
        for (event, bytes) in staged {
            group.records.push(bytes);
            group.events.push(event);
        }
        group.appends.push(IndexedAppend {
            first_position,
            command_id: req.command_id.clone(),
            stream_id: req.stream_id.clone(),
            first_version,
            events: count as u32,
            request_digest: digest,
        });
        let outcome = group
            .appends
            .last()
            .expect("just pushed")
            .command_record()
            .outcome();
        group.commands.insert(
            command_id::id_part(&req.command_id).to_owned(),
            group.appends.len() - 1,
        );
        group.heads.insert(req.stream_id, last_version);
        self.next_position += count;
        self.last_hash = prev_hash;
        Ok(outcome)
    }

    /// Refuse a record's or an append's bytes past the store's bounds ([`limits`]).
    fn check_size(&self, record: usize, append: usize) -> Result<(), StoreError> {
        if self.shared.record_cap_lifted() {
            return Ok(());
        }
        if record > limits::MAX_RECORD_BYTES {
            return Err(StoreError::RecordTooLarge {
                size: record,
                limit: limits::MAX_RECORD_BYTES,
            });
        }
        if append > limits::MAX_APPEND_BYTES {
            return Err(StoreError::AppendTooLarge {
                size: append,
                limit: limits::MAX_APPEND_BYTES,
            });
        }
        Ok(())
    }

    /// Write, flush and fdatasync the group, then answer and publish. False if writes stopped.
    fn commit(&mut self, group: Group) -> bool {
        let Group {
            events,
            records,
            appends,
            replies,
            ..
        } = group;
        if !events.is_empty() {
            let written = self
                .write_durably(&events, &records, &appends)
                .and_then(|()| {
                    self.shared
                        .committed
                        .store(self.next_position, Ordering::Release);
                    self.index_group(&appends)
                });
            if let Err(reason) = written {
                tracing::error!(%reason, "event store write failed; it stops taking writes");
                self.shared.set_stopped(&reason);
                for (reply, _) in replies {
                    let _ = reply.send(Err(StoreError::WritesStopped {
                        reason: reason.clone(),
                    }));
                }
                return false;
            }
        }
        let answering = Instant::now();
        self.shared
            .stats
            .record_group(replies.len() as u64, events.len() as u64);
        for (reply, result) in replies {
            let _ = reply.send(result);
        }
        if !events.is_empty() {
            let _ = self.events_tx.send(Arc::from(events));
        }
        self.shared
            .stats
            .record_phase(Phase::Answer, answering.elapsed());
        true
    }

    /// Add a durable group's appends to the in-memory index.
    fn index_group(&self, appends: &[IndexedAppend]) -> Result<(), String> {
        let mut index = self
            .shared
            .index_write()
            .map_err(|e| format!("the index could not be read: {e}"))?;
        for append in appends {
            let entry = append.entry();
            index
                .add(
                    append.first_position,
                    &entry,
                    command_hash(&append.command_id),
                )
                .map_err(|e| format!("the index disagrees with the log: {e}"))?;
        }
        Ok(())
    }

    /// Segments + index chunks + apply_batch + flush + fdatasync; the error says which step failed.
    fn write_durably(
        &mut self,
        events: &[RecordedEvent],
        records: &[Vec<u8>],
        appends: &[IndexedAppend],
    ) -> Result<(), String> {
        self.shared
            .fault_check()
            .map_err(|e| format!("injected failure: {e}"))?;
        let applying = Instant::now();
        let mut batch = sled::Batch::default();
        add_segments(&mut batch, events, records);
        add_index_chunks(&mut batch, appends)
            .map_err(|e| format!("encoding an index chunk failed: {e}"))?;
        self.shared
            .tree
            .apply_batch(batch)
            .map_err(|e| format!("sled apply_batch failed: {e}"))?;
        let started = Instant::now();
        self.shared
            .stats
            .record_phase(Phase::Apply, started - applying);
        let flushed_bytes = self
            .shared
            .tree
            .flush()
            .map_err(|e| format!("sled flush failed: {e}"))?;
        let flushed = Instant::now();
        if self.fsync_data_file {
            // Blobs first: the data file's log may point into them.
            self.blobs
                .sync_new()
                .map_err(|e| format!("fsync of sled's blob files failed: {e}"))?;
            self.data_file
                .sync_data()
                .map_err(|e| format!("fdatasync of sled's data file failed: {e}"))?;
        }
        self.shared
            .stats
            .record_sync(flushed - started, flushed_bytes, flushed.elapsed());
        Ok(())
    }
}

/// The append (its command id as stored, and its record) whose command id has this one's
/// id part: staged in `group` or already committed (in `index`).
fn known_command(
    group: &Group,
    index: &StoreIndex,
    tree: &sled::Db,
    command_id: &str,
) -> Result<Option<(String, CommandRecord)>, StoreError> {
    match group.commands.get(command_id::id_part(command_id)) {
        Some(&staged) => {
            let append = &group.appends[staged];
            Ok(Some((append.command_id.clone(), append.command_record())))
        }
        None => Ok(index
            .find_command(tree, command_id)?
            .map(|known| (known.command_id, known.record))),
    }
}

/// Last version of a stream: staged in `group`, or committed (in `index`).
fn stream_head(group: &Group, index: &StoreIndex, stream_id: &str) -> Option<u64> {
    group
        .heads
        .get(stream_id)
        .copied()
        .or_else(|| index.stream_head(stream_id))
}

/// Add the group's records to its batch as segments (keys: each segment's first position).
fn add_segments(batch: &mut sled::Batch, events: &[RecordedEvent], records: &[Vec<u8>]) {
    for run in segment::plan(records.iter().map(Vec::len)) {
        let bytes = segment::encode(records[run.clone()].iter().map(Vec::as_slice));
        batch.insert(&layout::segment_key(events[run.start].position), bytes);
    }
}

/// Add the group's appends to its batch as index chunks (keys: each chunk's first position).
fn add_index_chunks(
    batch: &mut sled::Batch,
    appends: &[IndexedAppend],
) -> Result<(), crate::error::CodecError> {
    let entries: Vec<IndexEntry<'_>> = appends.iter().map(IndexedAppend::entry).collect();
    for run in index::plan_chunks(&entries) {
        let bytes = codec::encode_index_chunk(&entries[run.clone()])?;
        batch.insert(&layout::index_key(appends[run.start].first_position), bytes);
    }
    Ok(())
}

/// Answer a message that arrived after the writer stopped: an append is refused;
/// a stop succeeds if the writer stopped gracefully (`failure` is `None`).
fn answer_after_stop(msg: WriterMsg, failure: Option<&str>) {
    let stopped = || StoreError::WritesStopped {
        reason: failure.unwrap_or(super::GRACEFUL_STOP).to_owned(),
    };
    match msg {
        WriterMsg::Append(_, reply) => {
            let _ = reply.send(Err(stopped()));
        }
        WriterMsg::Stop(reply) => {
            let _ = reply.send(failure.map_or(Ok(()), |_| Err(stopped())));
        }
    }
}

/// Reject requests that cannot be stored.
fn validate(req: &AppendRequest) -> Result<(), StoreError> {
    let invalid = |reason: &str| {
        Err(StoreError::InvalidAppend {
            reason: reason.to_owned(),
        })
    };
    if req.events.is_empty() {
        return invalid("an append needs at least one event");
    }
    if req.stream_id.is_empty() || req.stream_id.contains('\0') {
        return invalid("stream id must be non-empty and contain no NUL byte");
    }
    if command_id::id_part(&req.command_id).is_empty() {
        return invalid("command id must be non-empty before its request tag");
    }
    if u32::try_from(req.events.len()).is_err() {
        return invalid("an append holds at most 4,294,967,295 events");
    }
    Ok(())
}
