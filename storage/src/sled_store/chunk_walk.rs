//! `verify`'s walk over the index chunks: it visits them in position order alongside the
//! records and checks that the index says of every event what its record says.

use crate::codec;
use crate::event::RecordedEvent;
use crate::layout;

use super::digest::RequestDigest;
use super::index::IndexedAppend;

/// Walks the index chunks in position order alongside the records, so `verify` checks
/// that the index says of every event what its record says (stream, version, command
/// id) and that each append's request digest matches its stored events.
pub(crate) struct ChunkWalk {
    chunks: sled::Iter,
    /// Appends of the current chunk not yet passed, in reverse order (next one last).
    ahead: Vec<IndexedAppend>,
    /// Positions below this are covered by the chunks read so far.
    end: u64,
    /// The digest of the current append's events so far.
    digest: Option<RequestDigest>,
}

impl ChunkWalk {
    /// A walk from position 0.
    pub(crate) fn new(tree: &sled::Db) -> Self {
        ChunkWalk {
            chunks: tree.scan_prefix(layout::INDEX_PREFIX),
            ahead: Vec::new(),
            end: 0,
            digest: None,
        }
    }

    /// Check the record `event` (visited in position order from 0) against the index.
    pub(crate) fn check(&mut self, event: &RecordedEvent) -> Result<(), String> {
        self.advance_to(event.position)?;
        let append = self.ahead.last().expect("advance_to found the append");
        let version = append.first_version + (event.position - append.first_position);
        if append.stream_id != event.stream_id
            || version != event.stream_version
            || append.command_id != event.command_id
        {
            return Err(format!(
                "it lists version {version} of {} by command {}, the record is version {} of {} by command {}",
                append.stream_id,
                append.command_id,
                event.stream_version,
                event.stream_id,
                event.command_id
            ));
        }
        if event.position == append.first_position {
            self.digest = Some(RequestDigest::new(&append.stream_id));
        }
        let digest = self
            .digest
            .as_mut()
            .ok_or("the walk did not start at the append's first event")?;
        digest.event(&event.type_name, event.schema_version, &event.payload);
        if event.position + 1 == append.end() {
            let matches = digest.finish() == append.request_digest;
            self.digest = None;
            if !matches {
                return Err(format!(
                    "the request digest of command {} does not match its events",
                    append.command_id
                ));
            }
        }
        Ok(())
    }

    /// Make the next append of the walk the one holding `position`, reading further
    /// chunks as needed.
    fn advance_to(&mut self, position: u64) -> Result<(), String> {
        while self.ahead.last().is_some_and(|a| a.end() <= position) {
            self.ahead.pop();
        }
        if self.ahead.is_empty() {
            self.read_next_chunk()?;
        }
        match self.ahead.last() {
            Some(append) if append.first_position <= position => Ok(()),
            _ => Err("no append of the index holds this position".into()),
        }
    }

    fn read_next_chunk(&mut self) -> Result<(), String> {
        let Some(chunk) = self.chunks.next() else {
            return Err("no index chunk covers this position".into());
        };
        let (key, bytes) = chunk.map_err(|e| e.to_string())?;
        let mut position =
            layout::position_of_index_key(&key).ok_or("malformed index chunk key")?;
        if position != self.end {
            return Err(format!(
                "the next index chunk starts at {position}, expected {}",
                self.end
            ));
        }
        let entries = codec::decode_index_chunk(&bytes).map_err(|e| e.to_string())?;
        for entry in &entries {
            self.ahead.push(IndexedAppend::from_entry(position, entry));
            position += u64::from(entry.events);
        }
        self.ahead.reverse();
        self.end = position;
        Ok(())
    }
}
