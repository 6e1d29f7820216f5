//! Export the log as JSON Lines and import such a file into an empty store.
//!
//! One line per event: the whole envelope, the payload bytes (hex, authoritative), the
//! payload rendered as JSON by the caller (informational, checked on import) and both
//! chain hashes. Import reads the file twice: first it validates every line (positions
//! gap-free from 0, `prev_hash` chaining, the hash recomputed over the envelope), refusing
//! the file with the offending line number before anything is written; then it re-appends
//! the records into a staged store that is moved into place only when complete.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use ulid::Ulid;

use crate::backup::{ensure_empty, CopyReport, StagedLog, TransferError};
use crate::chain::{chain_hash, GENESIS_HASH};
use crate::codec::{encode_envelope_body, HASH_LEN};
use crate::event::RecordedEvent;
use crate::store::EventStore;

/// Renders a record's payload as JSON text (e.g. by decoding the domain event); `None` if it cannot.
pub type PayloadRenderer<'a> = &'a dyn Fn(&RecordedEvent) -> Option<String>;

/// Records per import batch (appended with group commit).
const BATCH: usize = 4096;

/// One exported event (one JSON line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportLine {
    /// Global position.
    pub position: u64,
    /// Stream id.
    pub stream_id: String,
    /// Version in the stream.
    pub stream_version: u64,
    /// Event id (ULID text).
    pub event_id: String,
    /// Event type name.
    pub type_name: String,
    /// Payload schema version.
    pub schema_version: u16,
    /// Recorded at (UTC ms).
    pub recorded_at_ms: i64,
    /// Who.
    pub actor: String,
    /// Command id.
    pub command_id: String,
    /// Correlation id (ULID text).
    pub correlation_id: String,
    /// Causation id (ULID text), if any.
    pub causation_id: Option<String>,
    /// The payload as JSON, for reading (null if it could not be rendered); kept as the exact
    /// text the renderer produced, so import can compare it byte for byte.
    pub payload: Box<RawValue>,
    /// The payload bytes in hex: what import writes back.
    pub payload_hex: String,
    /// Previous record's hash (hex).
    pub prev_hash: String,
    /// This record's hash (hex).
    pub hash: String,
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Bytes of a lower-case or upper-case hex string.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hash_of(text: &str) -> Option<[u8; HASH_LEN]> {
    unhex(text)?.try_into().ok()
}

/// The rendered payload as raw JSON (`null` if it could not be rendered or is not JSON).
fn raw_payload(event: &RecordedEvent, render: PayloadRenderer<'_>) -> Box<RawValue> {
    let null = || RawValue::from_string("null".into()).expect("null is JSON");
    render(event)
        .and_then(|text| RawValue::from_string(text).ok())
        .unwrap_or_else(null)
}

impl ExportLine {
    /// The line for `event`, with its payload rendered by `render`.
    pub fn of(event: &RecordedEvent, render: PayloadRenderer<'_>) -> Self {
        ExportLine {
            position: event.position,
            stream_id: event.stream_id.clone(),
            stream_version: event.stream_version,
            event_id: event.event_id.to_string(),
            type_name: event.type_name.clone(),
            schema_version: event.schema_version,
            recorded_at_ms: event.recorded_at_ms,
            actor: event.actor.clone(),
            command_id: event.command_id.clone(),
            correlation_id: event.correlation_id.to_string(),
            causation_id: event.causation_id.map(|u| u.to_string()),
            payload: raw_payload(event, render),
            payload_hex: hex(&event.payload),
            prev_hash: hex(&event.prev_hash),
            hash: hex(&event.hash),
        }
    }

    /// The record this line describes (fields parsed, hashes as written; not yet checked).
    pub fn to_record(&self) -> Result<RecordedEvent, String> {
        let ulid = |field: &str, text: &str| {
            Ulid::from_string(text).map_err(|e| format!("bad {field} {text:?}: {e}"))
        };
        Ok(RecordedEvent {
            position: self.position,
            stream_id: self.stream_id.clone(),
            stream_version: self.stream_version,
            event_id: ulid("event_id", &self.event_id)?,
            type_name: self.type_name.clone(),
            schema_version: self.schema_version,
            recorded_at_ms: self.recorded_at_ms,
            actor: self.actor.clone(),
            command_id: self.command_id.clone(),
            correlation_id: ulid("correlation_id", &self.correlation_id)?,
            causation_id: self
                .causation_id
                .as_deref()
                .map(|c| ulid("causation_id", c))
                .transpose()?,
            payload: unhex(&self.payload_hex).ok_or("payload_hex is not hex")?,
            prev_hash: hash_of(&self.prev_hash).ok_or("prev_hash is not a 32-byte hex hash")?,
            hash: hash_of(&self.hash).ok_or("hash is not a 32-byte hex hash")?,
        })
    }
}

/// Write every event from `from` (inclusive) up to the head at call time as JSON Lines.
/// Returns how many lines were written; `progress(done, total)` after each page.
pub async fn export(
    store: &dyn EventStore,
    from: u64,
    out: &mut dyn Write,
    render: PayloadRenderer<'_>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<u64, TransferError> {
    let Some(head) = store.head_position() else {
        return Ok(0);
    };
    let total = (head + 1).saturating_sub(from);
    let mut next = from;
    let mut written = 0;
    let io = |e: std::io::Error| TransferError::io(Path::new("<export output>"), e);
    while next <= head {
        let page = store
            .read_all(next, 8192.min((head - next + 1) as usize))
            .await?;
        if page.is_empty() {
            break;
        }
        for event in &page {
            let line = serde_json::to_string(&ExportLine::of(event, render))
                .map_err(|e| io(std::io::Error::other(e)))?;
            out.write_all(line.as_bytes()).map_err(io)?;
            out.write_all(b"\n").map_err(io)?;
        }
        next += page.len() as u64;
        written += page.len() as u64;
        progress(written, total);
    }
    out.flush().map_err(io)?;
    Ok(written)
}

/// Every line of `file` as a checked record, in order: gap-free from position 0, chained,
/// hashes recomputed, and (if `render` gives one) the JSON payload matching the bytes.
fn checked_records<'a>(
    file: &Path,
    render: PayloadRenderer<'a>,
) -> Result<impl Iterator<Item = Result<RecordedEvent, TransferError>> + 'a, TransferError> {
    let reader = BufReader::new(std::fs::File::open(file).map_err(|e| TransferError::io(file, e))?);
    let path = file.to_path_buf();
    let mut prev = GENESIS_HASH;
    let mut expected = 0u64;
    Ok(reader.lines().enumerate().map(move |(i, line)| {
        let line_no = i as u64 + 1;
        let text = line.map_err(|e| TransferError::io(&path, e))?;
        let bad = |position: Option<u64>, reason: String| TransferError::BadLine {
            line: line_no,
            position,
            reason,
        };
        let parsed: ExportLine = serde_json::from_str(&text)
            .map_err(|e| bad(None, format!("not an export line: {e}")))?;
        let position = Some(parsed.position);
        if parsed.position != expected {
            return Err(bad(
                position,
                format!("expected position {expected} (a gap or reordering)"),
            ));
        }
        let record = parsed.to_record().map_err(|r| bad(position, r))?;
        if record.prev_hash != prev {
            return Err(bad(
                position,
                "prev_hash does not match the previous line's hash".into(),
            ));
        }
        let body = encode_envelope_body(&record).map_err(|e| bad(position, e.to_string()))?;
        if chain_hash(&record.prev_hash, &body) != record.hash {
            return Err(bad(
                position,
                "hash does not match the line's contents (tampered)".into(),
            ));
        }
        if let Some(rendered) = render(&record) {
            if rendered != parsed.payload.get() {
                return Err(bad(
                    position,
                    "payload JSON does not match payload_hex (tampered)".into(),
                ));
            }
        }
        prev = record.hash;
        expected += 1;
        Ok(record)
    }))
}

/// Validate every line of an export file without writing anything; returns the line count.
pub fn validate_file(file: &Path, render: PayloadRenderer<'_>) -> Result<u64, TransferError> {
    let mut n = 0;
    for record in checked_records(file, render)? {
        record?;
        n += 1;
    }
    Ok(n)
}

/// Import an export file into the store directory `target` (absent or empty): validate the
/// whole file first, then re-append its records into a staged store moved into place at the end.
pub async fn import_file(
    file: &Path,
    target: &Path,
    render: PayloadRenderer<'_>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<CopyReport, TransferError> {
    ensure_empty(target)?;
    let total = validate_file(file, render)?;
    let mut staged = StagedLog::create(target).await?;
    let result = import_records(file, render, &mut staged, total, progress).await;
    match result {
        Ok(()) => staged.finish().await,
        Err(e) => {
            staged.abandon().await;
            Err(e)
        }
    }
}

async fn import_records(
    file: &Path,
    render: PayloadRenderer<'_>,
    staged: &mut StagedLog,
    total: u64,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<(), TransferError> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut done = 0u64;
    for record in checked_records(file, render)? {
        batch.push(record?);
        if batch.len() >= BATCH {
            done += batch.len() as u64;
            staged.append_records(std::mem::take(&mut batch)).await?;
            progress(done, total);
        }
    }
    done += batch.len() as u64;
    staged.append_records(batch).await?;
    progress(done, total);
    Ok(())
}
