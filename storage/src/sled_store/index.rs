//! The stream and command indexes, held in memory and built from the `x/` index chunks.
//!
//! Layout 3 stores no key per event or per command: each group commit writes its
//! appends as a few index chunks next to its segments (see [`crate::layout`]). This
//! module turns those chunks into what the writer and readers ask for:
//! - per stream, the position of every version (a stream read, the stream's head);
//! - per command id, where its append starts (idempotency). Only a 64-bit hash of the
//!   id is kept; a hit is confirmed against the stored chunk, which holds the full id
//!   and the request digest, so a hash collision can never pass for a known command.
//!
//! The index is built once, on the first append, stream read or command look-up after
//! an open (a replay or a subscription never needs it, so projections start without
//! paying for it), and the writer extends it after every durable group. It costs about
//! 12 bytes per event, 16 per append and ~100 per stream in memory (estimated from
//! the data structures; `examples/index_build.rs` measures the RSS it adds).

use std::collections::hash_map::DefaultHasher;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::codec::{self, CommandRecord, IndexEntry};
use crate::command_id;
use crate::error::StoreError;
use crate::event::Direction;
use crate::layout;

use super::segments;

/// A chunk is closed once its entries' strings reach this many bytes (it stays a small
/// inline sled value, like a segment; see [`crate::segment::MAX_SEGMENT_BYTES`]).
const MAX_CHUNK_BYTES: usize = 6 * 1024;
/// Most bytes an entry costs besides its two strings: their varint lengths (up to 9
/// bytes each), version (up to 9), count (up to 5) and digest (32). An upper bound, so a
/// chunk's bytes never pass [`MAX_CHUNK_BYTES`] (see [`crate::limits`]).
const ENTRY_OVERHEAD: usize = 64;

/// The 64-bit hash the index keeps of a command id's id part (stable within one
/// process; a request tag is not part of it, see [`crate::command_id`]).
pub(crate) fn command_hash(command_id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    command_id::id_part(command_id).hash(&mut hasher);
    hasher.finish()
}

/// A committed append found by its command id's id part.
pub(crate) struct KnownCommand {
    /// The command id as stored (with its request tag, if any).
    pub(crate) command_id: String,
    /// Where it landed and its request digest.
    pub(crate) record: CommandRecord,
}

/// One append as an index chunk holds it, owned, with the position of its first event
/// (what the writer stages and what `verify`'s chunk walk reads back).
pub(crate) struct IndexedAppend {
    pub(crate) first_position: u64,
    pub(crate) command_id: String,
    pub(crate) stream_id: String,
    pub(crate) first_version: u64,
    pub(crate) events: u32,
    pub(crate) request_digest: [u8; crate::codec::HASH_LEN],
}

impl IndexedAppend {
    /// The stored append `entry` whose first event is at `first_position`.
    pub(crate) fn from_entry(first_position: u64, entry: &IndexEntry<'_>) -> Self {
        IndexedAppend {
            first_position,
            command_id: entry.command_id.to_owned(),
            stream_id: entry.stream_id.to_owned(),
            first_version: entry.first_version,
            events: entry.events,
            request_digest: entry.request_digest,
        }
    }

    /// As an index chunk stores it.
    pub(crate) fn entry(&self) -> IndexEntry<'_> {
        IndexEntry {
            command_id: &self.command_id,
            stream_id: &self.stream_id,
            first_version: self.first_version,
            events: self.events,
            request_digest: self.request_digest,
        }
    }

    /// What an append with its command id returns again.
    pub(crate) fn command_record(&self) -> CommandRecord {
        self.entry().command_record(self.first_position)
    }

    /// Position after its last event.
    pub(crate) fn end(&self) -> u64 {
        self.first_position + u64::from(self.events)
    }
}

/// The in-memory stream and command indexes of the committed log.
#[derive(Default)]
pub(crate) struct StoreIndex {
    /// Position of every version of every stream (index = version).
    streams: HashMap<Box<str>, Vec<u64>>,
    /// (command id hash, position of its append's first event), sorted: the appends
    /// indexed when it was built or last merged (16 bytes each, no hash table slack).
    sorted_commands: Vec<(u64, u64)>,
    /// Command id hash → first position, for appends added since.
    commands: HashMap<u64, u64>,
    /// Further appends added since whose command id hash was already taken in
    /// `commands` (almost always empty).
    collisions: Vec<(u64, u64)>,
    /// Positions below this are indexed.
    end: u64,
}

impl StoreIndex {
    /// Positions below this are indexed.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// Add the append `entry` whose first event is at `first_position` (the next position
    /// and the stream's next version, or the index and the log disagree).
    pub(crate) fn add(
        &mut self,
        first_position: u64,
        entry: &IndexEntry<'_>,
        hash: u64,
    ) -> Result<(), String> {
        self.add_versions(first_position, entry)?;
        match self.commands.entry(hash) {
            Entry::Vacant(free) => {
                free.insert(first_position);
            }
            // The first holder stays in the map, the newcomer goes aside.
            Entry::Occupied(_) => self.collisions.push((hash, first_position)),
        }
        self.merge_commands_if_many();
        Ok(())
    }

    /// The stream part of [`StoreIndex::add`]: the positions of the append's versions.
    fn add_versions(&mut self, first_position: u64, entry: &IndexEntry<'_>) -> Result<(), String> {
        if first_position != self.end {
            return Err(format!(
                "index chunk entry at position {first_position}, expected {}",
                self.end
            ));
        }
        let head_len = self.streams.get(entry.stream_id).map_or(0, Vec::len);
        if head_len as u64 != entry.first_version {
            return Err(format!(
                "stream {} continues at version {}, expected {head_len}",
                entry.stream_id, entry.first_version
            ));
        }
        let positions = match self.streams.get_mut(entry.stream_id) {
            Some(positions) => positions,
            None => self.streams.entry(entry.stream_id.into()).or_default(),
        };
        let end = first_position + u64::from(entry.events);
        positions.extend(first_position..end);
        self.end = end;
        Ok(())
    }

    /// Last version of a stream (`None`: no events).
    pub(crate) fn stream_head(&self, stream_id: &str) -> Option<u64> {
        let len = self.streams.get(stream_id)?.len() as u64;
        len.checked_sub(1)
    }

    /// `(version, position)` of up to `max` versions of a stream from `from_version` in
    /// `direction` (backward from `min(from_version, head)`).
    pub(crate) fn stream_positions(
        &self,
        stream_id: &str,
        from_version: u64,
        direction: Direction,
        max: usize,
    ) -> Vec<(u64, u64)> {
        let Some(positions) = self.streams.get(stream_id) else {
            return Vec::new();
        };
        let len = positions.len();
        let from = usize::try_from(from_version).unwrap_or(usize::MAX);
        let at = |version: usize| (version as u64, positions[version]);
        match direction {
            Direction::Forward => {
                let start = from.min(len);
                (start..start.saturating_add(max).min(len))
                    .map(at)
                    .collect()
            }
            Direction::Backward => {
                let end = from.saturating_add(1).min(len);
                (end.saturating_sub(max)..end).rev().map(at).collect()
            }
        }
    }

    /// First positions of the appends whose command id has `hash`.
    fn command_candidates(&self, hash: u64) -> Vec<u64> {
        let start = self.sorted_commands.partition_point(|(h, _)| *h < hash);
        let sorted = self.sorted_commands[start..]
            .iter()
            .take_while(|(h, _)| *h == hash)
            .map(|(_, p)| *p);
        let recent = self.commands.get(&hash).copied();
        let others = self
            .collisions
            .iter()
            .filter(|(h, _)| *h == hash)
            .map(|(_, p)| *p);
        sorted.chain(recent).chain(others).collect()
    }

    /// Move the command ids added since the last merge into the sorted table once they
    /// are many (a hash table costs about twice the memory per entry); the sort is
    /// amortised over at least [`MERGE_AFTER`] appends.
    fn merge_commands_if_many(&mut self) {
        let recent = self.commands.len() + self.collisions.len();
        if recent >= MERGE_AFTER.max(self.sorted_commands.len() / 4) {
            let mut sorted = std::mem::take(&mut self.sorted_commands);
            sorted.reserve_exact(recent);
            sorted.extend(std::mem::take(&mut self.commands));
            sorted.append(&mut std::mem::take(&mut self.collisions));
            self.set_sorted_commands(sorted);
        }
    }

    /// Make `commands` (any order) the sorted table.
    fn set_sorted_commands(&mut self, mut commands: Vec<(u64, u64)>) {
        commands.sort_unstable();
        commands.shrink_to_fit();
        self.sorted_commands = commands;
    }

    /// The committed append whose command id has this one's id part, confirmed against
    /// its stored chunk.
    pub(crate) fn find_command(
        &self,
        tree: &sled::Db,
        command_id: &str,
    ) -> Result<Option<KnownCommand>, StoreError> {
        for first_position in self.command_candidates(command_hash(command_id)) {
            if let Some(record) = stored_command_at(tree, first_position, command_id)? {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }
}

/// The stored append starting at `first_position`, if its command id has `command_id`'s
/// id part.
fn stored_command_at(
    tree: &sled::Db,
    first_position: u64,
    command_id: &str,
) -> Result<Option<KnownCommand>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        position: first_position,
        reason,
    };
    let Some((key, bytes)) = tree
        .range(layout::index_key(0)..=layout::index_key(first_position))
        .next_back()
        .transpose()?
    else {
        return Err(corrupt("indexed append has no index chunk".into()));
    };
    let mut position = layout::position_of_index_key(&key)
        .ok_or_else(|| corrupt("malformed index chunk key".into()))?;
    let entries =
        codec::decode_index_chunk(&bytes).map_err(|e| corrupt(format!("bad index chunk: {e}")))?;
    for entry in &entries {
        if position == first_position {
            let same = command_id::id_part(entry.command_id) == command_id::id_part(command_id);
            return Ok(same.then(|| KnownCommand {
                command_id: entry.command_id.to_owned(),
                record: entry.command_record(position),
            }));
        }
        position += u64::from(entry.events);
    }
    Err(corrupt(
        "indexed append missing from its index chunk".into(),
    ))
}

/// Command ids added one by one are merged into the sorted table after this many.
const MERGE_AFTER: usize = 1 << 16;

/// Build the index of positions `0..committed` from the stored index chunks.
fn build(tree: &sled::Db, committed: u64) -> Result<StoreIndex, StoreError> {
    let mut index = StoreIndex::default();
    let mut commands = Vec::new();
    for (seen, chunk) in (1u64..).zip(tree.scan_prefix(layout::INDEX_PREFIX)) {
        let (key, bytes) = chunk?;
        if seen % segments::SEGMENTS_PER_LEAF == 0 {
            // Chunks are large values like segments: let sled's cache evict as we go.
            segments::let_the_cache_evict(tree, &key)?;
        }
        let corrupt = |position: u64, reason: String| StoreError::Corrupt { position, reason };
        let mut position = layout::position_of_index_key(&key)
            .ok_or_else(|| corrupt(index.end(), "malformed index chunk key".into()))?;
        if position >= committed {
            break;
        }
        let entries = codec::decode_index_chunk(&bytes)
            .map_err(|e| corrupt(position, format!("bad index chunk: {e}")))?;
        for entry in &entries {
            index
                .add_versions(position, entry)
                .map_err(|reason| corrupt(position, reason))?;
            commands.push((command_hash(entry.command_id), position));
            position += u64::from(entry.events);
        }
    }
    index.set_sorted_commands(commands);
    for positions in index.streams.values_mut() {
        positions.shrink_to_fit();
    }
    if index.end() != committed {
        return Err(StoreError::Corrupt {
            position: index.end(),
            reason: format!(
                "the index chunks cover positions below {}, the log ends at {committed}",
                index.end()
            ),
        });
    }
    Ok(index)
}

/// Split a group's appends into index chunks: runs of entries closed once their
/// strings reach [`MAX_CHUNK_BYTES`]. Returns index ranges into `entries`.
pub(crate) fn plan_chunks(entries: &[IndexEntry<'_>]) -> Vec<std::ops::Range<usize>> {
    crate::segment::plan_by_bytes(
        entries
            .iter()
            .map(|e| e.command_id.len() + e.stream_id.len() + ENTRY_OVERHEAD),
        MAX_CHUNK_BYTES,
        usize::MAX,
    )
}

/// The index, built on first use (see the module docs).
#[derive(Default)]
pub(crate) struct LazyIndex {
    built: OnceLock<RwLock<StoreIndex>>,
    building: Mutex<()>,
}

impl LazyIndex {
    /// The index, building it from `tree` first if this is its first use.
    ///
    /// Built only while no group is being committed: the writer needs the index to
    /// stage any append, so it cannot commit events before the index exists.
    fn get(
        &self,
        tree: &sled::Db,
        committed: &AtomicU64,
    ) -> Result<&RwLock<StoreIndex>, StoreError> {
        if let Some(index) = self.built.get() {
            return Ok(index);
        }
        let _building = self.building.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = self.built.get() {
            return Ok(index);
        }
        let index = build(tree, committed.load(Ordering::Acquire))?;
        Ok(self.built.get_or_init(|| RwLock::new(index)))
    }

    /// Read access to the index (built on first use).
    pub(crate) fn read(
        &self,
        tree: &sled::Db,
        committed: &AtomicU64,
    ) -> Result<RwLockReadGuard<'_, StoreIndex>, StoreError> {
        Ok(self
            .get(tree, committed)?
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// Write access to the index (built on first use).
    pub(crate) fn write(
        &self,
        tree: &sled::Db,
        committed: &AtomicU64,
    ) -> Result<RwLockWriteGuard<'_, StoreIndex>, StoreError> {
        Ok(self
            .get(tree, committed)?
            .write()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(
        command_id: &'a str,
        stream_id: &'a str,
        first_version: u64,
        events: u32,
    ) -> IndexEntry<'a> {
        IndexEntry {
            command_id,
            stream_id,
            first_version,
            events,
            request_digest: [1; 32],
        }
    }

    fn positions_of(pairs: Vec<(u64, u64)>) -> Vec<u64> {
        pairs.into_iter().map(|(_, position)| position).collect()
    }

    #[test]
    fn the_index_gives_every_version_its_position_in_both_directions() {
        let mut index = StoreIndex::default();
        index.add(0, &entry("c1", "a", 0, 2), 1).unwrap();
        index.add(2, &entry("c2", "b", 0, 1), 2).unwrap();
        index.add(3, &entry("c3", "a", 2, 3), 3).unwrap();
        assert_eq!(index.stream_head("a"), Some(4));
        assert_eq!(index.stream_head("b"), Some(0));
        assert_eq!(index.stream_head("zz"), None);
        assert_eq!(
            positions_of(index.stream_positions("a", 1, Direction::Forward, 3)),
            vec![1, 3, 4]
        );
        assert_eq!(
            positions_of(index.stream_positions("a", u64::MAX, Direction::Backward, 2)),
            vec![5, 4]
        );
        assert_eq!(
            positions_of(index.stream_positions("a", 1, Direction::Backward, 9)),
            vec![1, 0]
        );
        assert_eq!(
            positions_of(index.stream_positions("a", 9, Direction::Forward, 9)),
            Vec::<u64>::new()
        );
        assert_eq!(
            positions_of(index.stream_positions("zz", 0, Direction::Backward, 9)),
            Vec::<u64>::new()
        );
        assert_eq!(
            index.stream_positions("a", 3, Direction::Backward, 2),
            vec![(3, 4), (2, 3)]
        );
        assert_eq!(index.end(), 6);
    }

    #[test]
    fn an_index_that_disagrees_with_the_log_is_refused() {
        let mut index = StoreIndex::default();
        index.add(0, &entry("c1", "a", 0, 1), 1).unwrap();
        assert!(
            index.add(5, &entry("c2", "b", 0, 1), 2).is_err(),
            "position gap"
        );
        assert!(
            index.add(1, &entry("c2", "a", 3, 1), 2).is_err(),
            "version gap"
        );
        assert!(
            index.add(1, &entry("c2", "new", 1, 1), 2).is_err(),
            "a new stream starts at version 0"
        );
        assert_eq!(index.end(), 1);
        assert_eq!(index.stream_head("a"), Some(0));
        assert!(
            !index.streams.contains_key("new"),
            "a refused append leaves no stream"
        );
        assert_eq!(index.command_candidates(2), Vec::<u64>::new());
    }

    #[test]
    fn command_ids_whose_hashes_collide_are_both_kept() {
        let mut index = StoreIndex::default();
        index.add(0, &entry("c1", "a", 0, 1), 42).unwrap();
        index.add(1, &entry("c2", "b", 0, 1), 42).unwrap();
        assert_eq!(index.command_candidates(42), vec![0, 1]);
        assert_eq!(index.command_candidates(7), Vec::<u64>::new());
    }

    #[test]
    fn command_ids_added_after_a_build_are_merged_into_the_sorted_table_and_still_found() {
        let mut index = StoreIndex::default();
        index.set_sorted_commands(vec![(9, 0), (3, 1), (9, 2)]);
        index.end = 3;
        assert_eq!(index.command_candidates(9), vec![0, 2]);
        let n = MERGE_AFTER as u64 + 5;
        for i in 0..n {
            let id = format!("c{i}");
            index
                .add(3 + i, &entry(&id, "a", i, 1), 1000 + i % 7)
                .unwrap();
        }
        assert!(
            index.sorted_commands.len() > MERGE_AFTER,
            "merged into the sorted table"
        );
        assert_eq!(index.command_candidates(9), vec![0, 2]);
        let with_hash_1003: Vec<u64> = (0..n).filter(|i| i % 7 == 3).map(|i| 3 + i).collect();
        let mut found = index.command_candidates(1003);
        found.sort_unstable();
        assert_eq!(found, with_hash_1003);
    }

    #[test]
    fn chunks_close_by_bytes() {
        let long = "x".repeat(MAX_CHUNK_BYTES);
        let entries = vec![
            entry("c1", "a", 0, 1),
            entry(&long, "b", 0, 1),
            entry("c3", "c", 0, 1),
        ];
        assert_eq!(plan_chunks(&entries), vec![0..1, 1..2, 2..3]);
        let small = vec![entry("c1", "a", 0, 1); 20];
        assert_eq!(plan_chunks(&small), vec![0..20]);
    }
}
