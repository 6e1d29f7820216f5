//! Snapshots of projections in a sled database of their own
//! (`DATA_DIR/projections`): the state, its checkpoint, and the hash of the
//! event at the checkpoint (so a snapshot of another log is never used).
//!
//! Value layout: `[SNAPSHOT_LAYOUT][P::SNAPSHOT_VERSION]` then
//! `codec::encode_payload` of the body. Anything that does not match or
//! decode is discarded with a warning: snapshots are only a cache.
//!
//! The value is stored in chunks of [`CHUNK_BYTES`] (so no single huge
//! value sits in sled's memory): under `P::NAME` a small pointer record
//! `[POINTER_TAG][generation u64][chunks u32][length u64]` (big-endian),
//! under `P::NAME \0 generation idx` the chunks. A new snapshot writes a
//! new generation, flushes, then points at it and drops the old one, so a
//! crash leaves either snapshot whole.

use std::path::{Path, PathBuf};

use opsledger_storage::codec::{decode_payload, encode_payload};
use opsledger_storage::sled_store::remove_half_written_snapshots;
use serde::{Deserialize, Serialize};

use crate::error::ProjectionError;
use crate::projection::{Checkpointed, Projection};

/// Version of the snapshot value layout (the two header bytes and the body).
pub const SNAPSHOT_LAYOUT: u8 = 1;

/// Cache bound of the snapshot database.
const SNAPSHOT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// Bytes per stored chunk of a snapshot value.
pub const CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// First byte of the pointer record under a projection's name.
const POINTER_TAG: u8 = 0xC5;

/// Where a projection's current snapshot value lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pointer {
    generation: u64,
    chunks: u32,
    len: u64,
}

impl Pointer {
    const BYTES: usize = 1 + 8 + 4 + 8;

    fn encode(&self) -> [u8; Self::BYTES] {
        let mut out = [0; Self::BYTES];
        out[0] = POINTER_TAG;
        out[1..9].copy_from_slice(&self.generation.to_be_bytes());
        out[9..13].copy_from_slice(&self.chunks.to_be_bytes());
        out[13..21].copy_from_slice(&self.len.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; Self::BYTES] = bytes.try_into().ok()?;
        if bytes[0] != POINTER_TAG {
            return None;
        }
        Some(Pointer {
            generation: u64::from_be_bytes(bytes[1..9].try_into().ok()?),
            chunks: u32::from_be_bytes(bytes[9..13].try_into().ok()?),
            len: u64::from_be_bytes(bytes[13..21].try_into().ok()?),
        })
    }
}

/// Key prefix of every chunk of `name`.
fn chunk_prefix(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 13);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key
}

/// Key of chunk `idx` of generation `generation` of `name`.
fn chunk_key(name: &str, generation: u64, idx: u32) -> Vec<u8> {
    let mut key = chunk_prefix(name);
    key.extend_from_slice(&generation.to_be_bytes());
    key.extend_from_slice(&idx.to_be_bytes());
    key
}

#[derive(Serialize)]
struct BodyRef<'a, P> {
    checkpoint_hash: [u8; 32],
    state: &'a Checkpointed<P>,
}

#[derive(Deserialize)]
struct Body<P> {
    checkpoint_hash: [u8; 32],
    state: Checkpointed<P>,
}

/// A snapshot read back: the state and the hash of the checkpoint's event.
#[derive(Debug)]
pub struct LoadedSnapshot<P> {
    /// The state at the checkpoint.
    pub state: Checkpointed<P>,
    /// Hash of the event at the checkpoint (all zeros for an empty state).
    pub checkpoint_hash: [u8; 32],
}

/// The sled database holding every projection's snapshot.
#[derive(Clone)]
pub struct SnapshotStore {
    db: sled::Db,
    path: PathBuf,
}

impl SnapshotStore {
    /// Opens (or creates) the snapshot database in `dir`. A database that
    /// cannot be opened is moved out of the way and recreated empty.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, ProjectionError> {
        let path = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&path)?;
        remove_half_written_snapshots(&path)?;
        let db = match open_db(&path) {
            Ok(db) => db,
            Err(
                e @ (sled::Error::Corruption { .. }
                | sled::Error::Unsupported(_)
                | sled::Error::ReportableBug(_)),
            ) => {
                tracing::warn!(path = %path.display(), error = %e,
                    "snapshot database unreadable: discarding it, projections rebuild from the log");
                std::fs::remove_dir_all(&path)?;
                std::fs::create_dir_all(&path)?;
                open_db(&path)?
            }
            // Io (e.g. the directory is locked by a running server): never discard.
            Err(e) => return Err(e.into()),
        };
        Ok(SnapshotStore { db, path })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Encodes the snapshot value of `state` (done under the models' read lock).
    pub fn encode<P: Projection>(
        state: &Checkpointed<P>,
        checkpoint_hash: [u8; 32],
    ) -> Result<Vec<u8>, ProjectionError> {
        let mut value = encode_payload(&BodyRef {
            checkpoint_hash,
            state,
        })?;
        // In place: no second copy of a large body.
        value.splice(0..0, [SNAPSHOT_LAYOUT, P::SNAPSHOT_VERSION]);
        Ok(value)
    }

    /// Stores an encoded snapshot of projection `P` and flushes it to disk.
    pub fn save_encoded<P: Projection>(&self, value: Vec<u8>) -> Result<(), ProjectionError> {
        self.write_value(P::NAME, &value)
    }

    /// Writes `value` as a new generation of chunks, then points `name` at it
    /// and removes the older chunks.
    fn write_value(&self, name: &str, value: &[u8]) -> Result<(), ProjectionError> {
        let generation = self
            .pointer(name)?
            .map_or(0, |p| p.generation.wrapping_add(1));
        let mut chunks = 0u32;
        for chunk in value.chunks(CHUNK_BYTES) {
            self.db.insert(chunk_key(name, generation, chunks), chunk)?;
            chunks += 1;
        }
        self.db.flush()?;
        let pointer = Pointer {
            generation,
            chunks,
            len: value.len() as u64,
        };
        self.db.insert(name, &pointer.encode()[..])?;
        self.remove_chunks(name, Some(generation))?;
        self.db.flush()?;
        Ok(())
    }

    /// The pointer record of `name`, `None` if absent or unreadable.
    fn pointer(&self, name: &str) -> Result<Option<Pointer>, ProjectionError> {
        Ok(self.db.get(name)?.and_then(|v| Pointer::decode(&v)))
    }

    /// Removes every chunk of `name` except those of generation `keep`.
    fn remove_chunks(&self, name: &str, keep: Option<u64>) -> Result<(), ProjectionError> {
        let prefix = chunk_prefix(name);
        let keep = keep.map(|g| chunk_key(name, g, 0)[..prefix.len() + 8].to_vec());
        for key in self.db.scan_prefix(&prefix).keys() {
            let key = key?;
            if keep.as_ref().is_none_or(|k| !key.starts_with(k)) {
                self.db.remove(key)?;
            }
        }
        Ok(())
    }

    /// The stored value of `name` put back together, `None` if there is
    /// none or a chunk is missing.
    fn read_value(&self, name: &str) -> Result<Option<Vec<u8>>, ProjectionError> {
        let Some(raw) = self.db.get(name)? else {
            return Ok(None);
        };
        let Some(pointer) = Pointer::decode(&raw) else {
            tracing::warn!(
                projection = name,
                "snapshot pointer unreadable: rebuilding from zero"
            );
            return Ok(None);
        };
        let mut value = Vec::new();
        if value.try_reserve_exact(pointer.len as usize).is_err() {
            tracing::warn!(
                projection = name,
                "snapshot too large: rebuilding from zero"
            );
            return Ok(None);
        }
        for idx in 0..pointer.chunks {
            match self.db.get(chunk_key(name, pointer.generation, idx))? {
                Some(chunk) => value.extend_from_slice(&chunk),
                None => {
                    tracing::warn!(
                        projection = name,
                        idx,
                        "snapshot chunk missing: rebuilding from zero"
                    );
                    return Ok(None);
                }
            }
        }
        if value.len() as u64 != pointer.len {
            tracing::warn!(
                projection = name,
                "snapshot length mismatch: rebuilding from zero"
            );
            return Ok(None);
        }
        Ok(Some(value))
    }

    /// Encodes and stores a snapshot of `state`.
    pub fn save<P: Projection>(
        &self,
        state: &Checkpointed<P>,
        checkpoint_hash: [u8; 32],
    ) -> Result<(), ProjectionError> {
        self.save_encoded::<P>(Self::encode(state, checkpoint_hash)?)
    }

    /// The stored snapshot of `P`, or `None` if there is none or it is
    /// unusable (another layout or version, or it does not decode).
    pub fn load<P: Projection>(&self) -> Result<Option<LoadedSnapshot<P>>, ProjectionError> {
        let Some(value) = self.read_value(P::NAME)? else {
            return Ok(None);
        };
        let Some((&[layout, version], body)) = value.split_first_chunk::<2>() else {
            tracing::warn!(
                projection = P::NAME,
                "snapshot too short: rebuilding from zero"
            );
            return Ok(None);
        };
        if layout != SNAPSHOT_LAYOUT || version != P::SNAPSHOT_VERSION {
            tracing::warn!(
                projection = P::NAME,
                layout,
                version,
                "snapshot of another format version: rebuilding from zero"
            );
            return Ok(None);
        }
        match decode_payload::<Body<P>>(body) {
            Ok(b) => Ok(Some(LoadedSnapshot {
                state: b.state,
                checkpoint_hash: b.checkpoint_hash,
            })),
            Err(e) => {
                tracing::warn!(projection = P::NAME, error = %e,
                    "snapshot does not decode: rebuilding from zero");
                Ok(None)
            }
        }
    }

    /// Deletes the snapshot of `P`.
    pub fn clear<P: Projection>(&self) -> Result<(), ProjectionError> {
        self.db.remove(P::NAME)?;
        self.remove_chunks(P::NAME, None)?;
        self.db.flush()?;
        Ok(())
    }

    /// Stores a raw snapshot value for `P` (tests use it to plant damage).
    pub fn put_raw<P: Projection>(&self, value: &[u8]) -> Result<(), ProjectionError> {
        self.write_value(P::NAME, value)
    }

    /// Flushes everything to disk.
    pub fn flush(&self) -> Result<(), ProjectionError> {
        self.db.flush()?;
        Ok(())
    }
}

fn open_db(path: &Path) -> Result<sled::Db, sled::Error> {
    sled::Config::new()
        .path(path)
        .cache_capacity(SNAPSHOT_CACHE_BYTES)
        .open()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_larger_than_a_chunk_round_trips_and_only_the_newest_generation_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        let first: Vec<u8> = (0..CHUNK_BYTES * 2 + 7).map(|i| (i % 251) as u8).collect();
        store.write_value("m", &first).unwrap();
        assert_eq!(store.read_value("m").unwrap(), Some(first));
        let second = vec![9u8; CHUNK_BYTES + 1];
        store.write_value("m", &second).unwrap();
        assert_eq!(store.read_value("m").unwrap(), Some(second));
        let chunk_keys = store.db.scan_prefix(chunk_prefix("m")).keys().count();
        assert_eq!(chunk_keys, 2);
        assert_eq!(
            store
                .pointer("m")
                .unwrap()
                .map(|p| (p.generation, p.chunks)),
            Some((1, 2))
        );
    }

    #[test]
    fn a_missing_chunk_makes_the_snapshot_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        store.write_value("m", &[1, 2, 3]).unwrap();
        store.db.remove(chunk_key("m", 0, 0)).unwrap();
        assert_eq!(store.read_value("m").unwrap(), None);
    }
}
