//! The single writer: a dedicated thread that group-commits appends.
//!
//! It takes one queued append, drains whatever else is queued (up to a limit),
//! checks idempotency and expected versions against sled and its cache of stream
//! heads, assigns positions, extends the hash chain, writes the whole group with
//! one atomic `apply_batch`, flushes sled once, fdatasyncs sled's data file once
//! (sled's flush uses `sync_file_range`, which is no power-loss barrier: sled
//! issue 1452), and only then answers every caller and publishes the group.
//! A failed write, flush or fdatasync is never acknowledged: the writer stops
//! and every later append gets [`StoreError::WritesStopped`] with the reason.
//! Running on its own thread, its blocking sled calls never block the runtime.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::stats::Phase;
use super::Shared;
use crate::chain::chain_hash;
use crate::codec::{self, CommandRecord, HASH_LEN};
use crate::error::StoreError;
use crate::event::{AppendOutcome, AppendRequest, RecordedEvent};
use crate::layout;
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

/// The writer's own state: the log's tail and a cache of stream heads.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    events_tx: broadcast::Sender<Arc<[RecordedEvent]>>,
    data_file: File,
    fsync_data_file: bool,
    next_position: u64,
    last_hash: [u8; HASH_LEN],
    /// Last version of every stream looked up so far (`None`: stream has no events).
    heads: HashMap<String, Option<u64>>,
}

/// One group being assembled.
#[derive(Default)]
struct Group {
    batch: sled::Batch,
    events: Vec<RecordedEvent>,
    /// The stored bytes of `events`, written as segments at commit.
    records: Vec<Vec<u8>>,
    commands: HashMap<String, CommandRecord>,
    replies: Vec<(AppendReply, Result<AppendOutcome, StoreError>)>,
}

impl Writer {
    /// A writer continuing the log after `next_position` / `last_hash`.
    pub(crate) fn new(
        shared: Arc<Shared>,
        events_tx: broadcast::Sender<Arc<[RecordedEvent]>>,
        data_file: File,
        fsync_data_file: bool,
        tail: super::Tail,
    ) -> Self {
        let (next_position, last_hash) = tail;
        Writer {
            shared,
            events_tx,
            data_file,
            fsync_data_file,
            next_position,
            last_hash,
            heads: HashMap::new(),
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
        let digest = request_digest(&req);
        if let Some(known) = self.known_command(group, &req.command_id)? {
            return if known.request_digest == digest {
                Ok(known.outcome())
            } else {
                Err(StoreError::IdempotencyConflict {
                    command_id: req.command_id,
                })
            };
        }
        let actual = self.stream_head(&req.stream_id)?;
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
            prev_hash = event.hash;
            staged.push((event, bytes));
        }
        let count = staged.len() as u64;
        let last_version = first_version + count - 1;
        let record = CommandRecord {
            request_digest: digest,
            first_position,
            last_position: first_position + count - 1,
            stream_version: last_version,
        };
        let command_bytes = codec::encode_command(&record)?;
        // Nothing below can fail: the group and the writer's tail change together.
        for (event, bytes) in staged {
            group.records.push(bytes);
            group.batch.insert(
                layout::stream_key(&event.stream_id, event.stream_version),
                &event.position.to_be_bytes(),
            );
            group.events.push(event);
        }
        group
            .batch
            .insert(layout::command_key(&req.command_id), command_bytes);
        group.commands.insert(req.command_id, record);
        self.heads.insert(req.stream_id, Some(last_version));
        self.next_position += count;
        self.last_hash = prev_hash;
        Ok(record.outcome())
    }

    /// A command id already committed (in sled) or staged in this group.
    fn known_command(
        &self,
        group: &Group,
        command_id: &str,
    ) -> Result<Option<CommandRecord>, StoreError> {
        if let Some(record) = group.commands.get(command_id) {
            return Ok(Some(*record));
        }
        match self.shared.tree.get(layout::command_key(command_id))? {
            Some(bytes) => Ok(Some(codec::decode_command(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Last version of a stream, from the cache or sled.
    fn stream_head(&mut self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        if let Some(head) = self.heads.get(stream_id) {
            return Ok(*head);
        }
        // The stream's last index key holds its head: no separate head key to write.
        let last = self
            .shared
            .tree
            .scan_prefix(layout::stream_prefix(stream_id))
            .keys()
            .next_back();
        let head =
            match last.transpose()? {
                Some(key) => Some(layout::version_of_stream_key(&key).ok_or_else(|| {
                    StoreError::Corrupt {
                        position: self.next_position,
                        reason: format!("malformed index key of stream {stream_id}"),
                    }
                })?),
                None => None,
            };
        self.heads.insert(stream_id.to_owned(), head);
        Ok(head)
    }

    /// Write, flush and fdatasync the group, then answer and publish. False if writes stopped.
    fn commit(&mut self, group: Group) -> bool {
        let Group {
            batch,
            events,
            records,
            replies,
            ..
        } = group;
        if !events.is_empty() {
            if let Err(reason) = self.write_durably(batch, &events, &records) {
                tracing::error!(%reason, "event store write failed; it stops taking writes");
                self.shared.set_stopped(&reason);
                for (reply, _) in replies {
                    let _ = reply.send(Err(StoreError::WritesStopped {
                        reason: reason.clone(),
                    }));
                }
                return false;
            }
            self.shared
                .committed
                .store(self.next_position, Ordering::Release);
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

    /// Segments + apply_batch + flush + fdatasync; the error says which step failed.
    fn write_durably(
        &mut self,
        mut batch: sled::Batch,
        events: &[RecordedEvent],
        records: &[Vec<u8>],
    ) -> Result<(), String> {
        self.shared
            .fault_check()
            .map_err(|e| format!("injected failure: {e}"))?;
        let applying = Instant::now();
        add_segments(&mut batch, events, records);
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

/// Add the group's records to its batch as segments (keys: each segment's first position).
fn add_segments(batch: &mut sled::Batch, events: &[RecordedEvent], records: &[Vec<u8>]) {
    for run in segment::plan(records.iter().map(Vec::len)) {
        let bytes = segment::encode(records[run.clone()].iter().map(Vec::as_slice));
        batch.insert(&layout::segment_key(events[run.start].position), bytes);
    }
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
    if req.command_id.is_empty() {
        return invalid("command id must be non-empty");
    }
    Ok(())
}

/// What makes two appends with one command id "the same": the stream and, per event,
/// type name, schema version and payload (not event ids or timestamps, which a retry
/// may regenerate).
pub(crate) fn request_digest(req: &AppendRequest) -> [u8; HASH_LEN] {
    let mut hasher = blake3::Hasher::new();
    let mut field = |bytes: &[u8]| {
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(req.stream_id.as_bytes());
    for event in &req.events {
        field(event.type_name.as_bytes());
        field(&event.schema_version.to_le_bytes());
        field(&event.payload);
    }
    *hasher.finalize().as_bytes()
}
