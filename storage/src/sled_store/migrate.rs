//! Migration of a layout 2 store to layout 3, at open.
//!
//! Layout 2 kept one `s/` key per event (stream index) and one `c/` key per command id
//! next to the segments; layout 3 keeps the same facts as index chunks (`x/`), a few
//! per group commit (see [`crate::layout`]). The segments, and with them every record
//! and the hash chain, stay as they are. The migration reads every command record,
//! looks up its stream in its first record, writes the index chunks, removes the `s/`
//! and `c/` keys and sets the layout byte, all in one atomic sled batch, then flushes:
//! a crash leaves either the old store or the migrated one.

use crate::codec::{self, CommandRecord, IndexEntry};
use crate::error::StoreError;
use crate::layout;

use super::index;
use super::segments;

/// One layout 2 command with the stream its events went to.
struct OldAppend {
    command_id: String,
    stream_id: String,
    record: CommandRecord,
}

impl OldAppend {
    fn entry(&self) -> IndexEntry<'_> {
        let events = self.record.last_position - self.record.first_position + 1;
        IndexEntry {
            command_id: &self.command_id,
            stream_id: &self.stream_id,
            first_version: self.record.stream_version + 1 - events,
            events: events as u32,
            request_digest: self.record.request_digest,
        }
    }
}

/// Rewrite a layout 2 store's indexes as layout 3 index chunks (see the module docs).
pub(crate) fn from_layout_2(tree: &sled::Db) -> Result<(), StoreError> {
    let mut appends = read_commands(tree)?;
    appends.sort_by_key(|a| a.record.first_position);
    let mut batch = sled::Batch::default();
    let entries: Vec<IndexEntry<'_>> = appends.iter().map(OldAppend::entry).collect();
    for run in index::plan_chunks(&entries) {
        let bytes = codec::encode_index_chunk(&entries[run.clone()])?;
        let first = appends[run.start].record.first_position;
        batch.insert(&layout::index_key(first), bytes);
    }
    for prefix in [
        layout::LAYOUT_2_STREAM_PREFIX,
        layout::LAYOUT_2_COMMAND_PREFIX,
    ] {
        for key in tree.scan_prefix(prefix).keys() {
            batch.remove(key?);
        }
    }
    batch.insert(layout::LAYOUT_KEY, &[layout::LAYOUT_VERSION]);
    tree.apply_batch(batch)?;
    tree.flush()?;
    tracing::info!(
        appends = appends.len(),
        "migrated the event store from storage layout 2 to 3"
    );
    Ok(())
}

/// Every layout 2 command record, with the stream of its first event.
fn read_commands(tree: &sled::Db) -> Result<Vec<OldAppend>, StoreError> {
    let mut appends = Vec::new();
    for stored in tree.scan_prefix(layout::LAYOUT_2_COMMAND_PREFIX) {
        let (key, value) = stored?;
        let malformed = |reason: String| StoreError::Corrupt {
            position: 0,
            reason: format!("layout 2 command key: {reason}"),
        };
        let command_id = std::str::from_utf8(&key[layout::LAYOUT_2_COMMAND_PREFIX.len()..])
            .map_err(|e| malformed(e.to_string()))?
            .to_owned();
        let record = codec::decode_command(&value).map_err(|e| malformed(e.to_string()))?;
        if record.last_position < record.first_position
            || record.last_position - record.first_position > record.stream_version
        {
            return Err(malformed(format!("{command_id} has impossible positions")));
        }
        let position = record.first_position;
        let segment =
            segments::segment_holding(tree, position)?.ok_or_else(|| StoreError::Corrupt {
                position,
                reason: "a layout 2 command's first record is missing".into(),
            })?;
        let first_event = segments::decode_at(position, segment.record(position)?)?;
        appends.push(OldAppend {
            command_id,
            stream_id: first_event.stream_id,
            record,
        });
    }
    Ok(appends)
}
