//! Export the log as JSON Lines and import such a file into an empty store.
//!
//! Format 2 (written by this build): a header line
//! `{"format":"opsledger-export","version":2,"from":F,"events":N}`, then one line per event:
//! the whole envelope, the payload bytes (hex, authoritative), the payload rendered as JSON
//! by the caller (informational, checked on import) and both chain hashes. Format 1 (older
//! builds) is the same event lines without the header; import reads both, and the caller's
//! [`RenderPayload`] says how a payload looked in each (format 1 wrote ids as 128-bit JSON
//! integers, format 2 as ULID text). Import reads the file twice: first it validates every
//! line (positions gap-free from 0, `prev_hash` chaining, the hash recomputed over the
//! envelope, the header's event count), refusing the file with the offending line number
//! before anything is written; then it re-appends the records into a staged store that is
//! moved into place only when complete.

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use ulid::Ulid;

use crate::backup::{ensure_empty, CopyReport, StagedLog, TransferError};
use crate::chain::{chain_hash, GENESIS_HASH};
use crate::codec::{encode_envelope_body, HASH_LEN};
use crate::event::RecordedEvent;
use crate::store::EventStore;

/// The `format` value of an export's header line.
pub const FORMAT_NAME: &str = "opsledger-export";

/// The export formats this build reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// No header line (builds before 2026-12-02); payload ids were 128-bit JSON integers.
    V1,
    /// A header line first; payload ids are ULID text, as the API shows them.
    V2,
}

impl ExportFormat {
    /// The format `export` writes.
    pub const CURRENT: ExportFormat = ExportFormat::V2;

    /// Its version number (the header's `version`).
    pub fn version(self) -> u32 {
        match self {
            ExportFormat::V1 => 1,
            ExportFormat::V2 => 2,
        }
    }
}

/// Renders a record's payload as the JSON text an export of `format` holds for it (e.g. by
/// decoding the domain event); `None` if it cannot, and then import does not compare it.
pub trait RenderPayload {
    /// The payload of `event` as JSON text in `format`'s convention.
    fn render(&self, event: &RecordedEvent, format: ExportFormat) -> Option<String>;
}

/// A plain function renders the current format only (older files' payloads go unchecked).
impl<F: Fn(&RecordedEvent) -> Option<String>> RenderPayload for F {
    fn render(&self, event: &RecordedEvent, format: ExportFormat) -> Option<String> {
        (format == ExportFormat::CURRENT)
            .then(|| self(event))
            .flatten()
    }
}

/// How export and import render payloads.
pub type PayloadRenderer<'a> = &'a dyn RenderPayload;

/// The first line of a format-2 export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportHeader {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// The format version (2).
    pub version: u32,
    /// Position of the first event line.
    pub from: u64,
    /// How many event lines follow.
    pub events: u64,
}

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

pub use crate::hex::{hex, unhex};

fn hash_of(text: &str) -> Option<[u8; HASH_LEN]> {
    unhex(text)?.try_into().ok()
}

/// The rendered payload as raw JSON (`null` if it could not be rendered or is not JSON).
fn raw_payload(event: &RecordedEvent, render: PayloadRenderer<'_>) -> Box<RawValue> {
    let null = || RawValue::from_string("null".into()).expect("null is JSON");
    render
        .render(event, ExportFormat::CURRENT)
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

/// Write every event from `from` (inclusive) up to the head at call time as JSON Lines in
/// the current format: the header line, then one line per event. Returns how many event
/// lines were written; `progress(done, total)` after each page.
pub async fn export(
    store: &dyn EventStore,
    from: u64,
    out: &mut dyn Write,
    render: PayloadRenderer<'_>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<u64, TransferError> {
    let head = store.head_position();
    let total = head.map_or(0, |h| (h + 1).saturating_sub(from));
    let io = |e: std::io::Error| TransferError::io(Path::new("<export output>"), e);
    let header = ExportHeader {
        format: FORMAT_NAME.into(),
        version: ExportFormat::CURRENT.version(),
        from,
        events: total,
    };
    write_json_line(out, &header).map_err(io)?;
    let mut next = from;
    let mut written = 0;
    while written < total {
        let page = store
            .read_all(next, 8192.min((total - written) as usize))
            .await?;
        if page.is_empty() {
            return Err(TransferError::Mismatch {
                position: next,
                reason: format!(
                    "the log ended before its head at export start ({total} events from {from})"
                ),
            });
        }
        for event in &page {
            write_json_line(out, &ExportLine::of(event, render)).map_err(io)?;
        }
        next += page.len() as u64;
        written += page.len() as u64;
        progress(written, total);
    }
    out.flush().map_err(io)?;
    Ok(written)
}

fn write_json_line(out: &mut dyn Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

/// Only the header's `format` field: tells a format-2 header from a format-1 event line.
#[derive(Deserialize)]
struct FormatProbe {
    format: Option<String>,
}

/// What the first line of an export says: its format and, from format 2 on, the header.
fn read_header(first_line: &str) -> Result<(ExportFormat, Option<ExportHeader>), TransferError> {
    let bad = |reason: String| TransferError::BadLine {
        line: 1,
        position: None,
        reason,
    };
    let probe: FormatProbe = serde_json::from_str(first_line)
        .map_err(|e| bad(format!("neither an export header nor an export line: {e}")))?;
    let Some(format) = probe.format else {
        return Ok((ExportFormat::V1, None));
    };
    if format != FORMAT_NAME {
        return Err(bad(format!(
            "header names format {format:?}, not {FORMAT_NAME:?}"
        )));
    }
    let header: ExportHeader =
        serde_json::from_str(first_line).map_err(|e| bad(format!("bad export header: {e}")))?;
    match header.version {
        2 => {}
        v => {
            return Err(bad(format!(
                "export format version {v} is not one this build reads (1 and 2)"
            )))
        }
    }
    if header.from != 0 {
        return Err(bad(format!(
            "the export starts at position {}; import needs a whole log (exported from 0)",
            header.from
        )));
    }
    Ok((ExportFormat::V2, Some(header)))
}

/// The lines of an export file after its header, numbered from 1 as in the file, with the
/// file's format and header (None in format 1).
struct ExportBody {
    format: ExportFormat,
    header: Option<ExportHeader>,
    first_line: Option<String>,
    lines: Lines<BufReader<std::fs::File>>,
}

fn open_export(file: &Path) -> Result<ExportBody, TransferError> {
    let reader = BufReader::new(std::fs::File::open(file).map_err(|e| TransferError::io(file, e))?);
    let mut lines = reader.lines();
    let Some(first) = lines.next() else {
        return Ok(ExportBody {
            format: ExportFormat::V1,
            header: None,
            first_line: None,
            lines,
        });
    };
    let first = first.map_err(|e| TransferError::io(file, e))?;
    let (format, header) = read_header(&first)?;
    // A format-1 file has no header: its first line is the first event.
    let first_line = header.is_none().then_some(first);
    Ok(ExportBody {
        format,
        header,
        first_line,
        lines,
    })
}

/// Every event line of `file` as a checked record, in order: gap-free from position 0,
/// chained, hashes recomputed, and (if `render` gives one for the file's format) the JSON
/// payload matching the bytes; last, as many events as a format-2 header announces.
fn checked_records<'a>(
    file: &Path,
    render: PayloadRenderer<'a>,
) -> Result<impl Iterator<Item = Result<RecordedEvent, TransferError>> + 'a, TransferError> {
    let body = open_export(file)?;
    let path = file.to_path_buf();
    let format = body.format;
    let line_offset = u64::from(body.header.is_some());
    let announced = body.header.as_ref().map(|h| h.events);
    let mut prev = GENESIS_HASH;
    let mut expected = 0u64;
    let lines = body.first_line.map(Ok).into_iter().chain(body.lines);
    let records = lines.enumerate().map(move |(i, line)| {
        let line_no = i as u64 + 1 + line_offset;
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
        if let Some(rendered) = render.render(&record, format) {
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
    });
    Ok(CountChecked {
        records,
        announced,
        seen: 0,
        done: false,
    })
}

/// Passes records through and, at the end, fails unless there were as many as announced.
struct CountChecked<I> {
    records: I,
    announced: Option<u64>,
    seen: u64,
    done: bool,
}

impl<I: Iterator<Item = Result<RecordedEvent, TransferError>>> Iterator for CountChecked<I> {
    type Item = Result<RecordedEvent, TransferError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.records.next() {
            Some(item) => {
                self.seen += u64::from(item.is_ok());
                Some(item)
            }
            None => {
                self.done = true;
                let announced = self.announced.filter(|&n| n != self.seen)?;
                Some(Err(TransferError::BadLine {
                    line: self.seen.min(announced) + 2,
                    position: None,
                    reason: format!(
                        "the header announces {announced} events but the file holds {} (truncated?)",
                        self.seen
                    ),
                }))
            }
        }
    }
}

/// Validate every line of an export file without writing anything; returns the event count.
pub fn validate_file(file: &Path, render: PayloadRenderer<'_>) -> Result<u64, TransferError> {
    let mut n = 0;
    for record in checked_records(file, render)? {
        record?;
        n += 1;
    }
    Ok(n)
}

/// The format of an export file, read from its first line.
pub fn file_format(file: &Path) -> Result<ExportFormat, TransferError> {
    Ok(open_export(file)?.format)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn header_line(version: u32, from: u64) -> String {
        format!(r#"{{"format":"opsledger-export","version":{version},"from":{from},"events":3}}"#)
    }

    #[test]
    fn a_first_line_without_format_is_a_format_1_event_line() {
        let line = r#"{"position":0,"stream_id":"incident-a","payload":null}"#;
        assert_eq!(read_header(line).unwrap(), (ExportFormat::V1, None));
    }

    #[test]
    fn a_format_2_header_is_read_with_its_event_count() {
        let (format, header) = read_header(&header_line(2, 0)).unwrap();
        assert_eq!(format, ExportFormat::V2);
        assert_eq!(header.map(|h| h.events), Some(3));
    }

    #[test]
    fn headers_of_other_formats_versions_or_partial_exports_are_refused_on_line_1() {
        for (line, says) in [
            (header_line(3, 0), "version 3 is not one this build reads"),
            (header_line(2, 5), "starts at position 5"),
            (
                r#"{"format":"csv","version":2,"from":0,"events":0}"#.to_string(),
                "not \"opsledger-export\"",
            ),
            (
                r#"{"format":"opsledger-export","version":"2"}"#.to_string(),
                "bad export header",
            ),
            ("[1,2]".to_string(), "neither an export header"),
        ] {
            let err = read_header(&line).unwrap_err();
            assert!(
                matches!(&err, TransferError::BadLine { line: 1, reason, .. } if reason.contains(says)),
                "{line}: {err}"
            );
        }
    }

    #[test]
    fn a_plain_function_renders_only_the_current_format() {
        let render = |_: &RecordedEvent| Some("{}".to_string());
        let event = RecordedEvent {
            position: 0,
            stream_id: "s".into(),
            stream_version: 0,
            event_id: Ulid::nil(),
            type_name: "T".into(),
            schema_version: 1,
            recorded_at_ms: 0,
            actor: "a".into(),
            command_id: "c".into(),
            correlation_id: Ulid::nil(),
            causation_id: None,
            payload: vec![],
            prev_hash: GENESIS_HASH,
            hash: GENESIS_HASH,
        };
        assert_eq!(
            render.render(&event, ExportFormat::V2).as_deref(),
            Some("{}")
        );
        assert_eq!(render.render(&event, ExportFormat::V1), None);
    }
}
