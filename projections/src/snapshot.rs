//! Snapshots of projections in a sled database of their own
//! (`DATA_DIR/projections`): the state, its checkpoint, and the hash of the
//! event at the checkpoint (so a snapshot of another log is never used).
//!
//! Value layout: `[SNAPSHOT_LAYOUT][P::SNAPSHOT_VERSION]` then
//! `codec::encode_payload` of the body. Anything that does not match or
//! decode is discarded with a warning: snapshots are only a cache.

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
        let body = encode_payload(&BodyRef {
            checkpoint_hash,
            state,
        })?;
        let mut value = Vec::with_capacity(body.len() + 2);
        value.push(SNAPSHOT_LAYOUT);
        value.push(P::SNAPSHOT_VERSION);
        value.extend_from_slice(&body);
        Ok(value)
    }

    /// Stores an encoded snapshot of projection `P` and flushes it to disk.
    pub fn save_encoded<P: Projection>(&self, value: Vec<u8>) -> Result<(), ProjectionError> {
        self.db.insert(P::NAME, value)?;
        self.db.flush()?;
        Ok(())
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
        let Some(value) = self.db.get(P::NAME)? else {
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
        self.db.flush()?;
        Ok(())
    }

    /// Writes a raw value under `P`'s key (tests use it to plant damage).
    pub fn put_raw<P: Projection>(&self, value: &[u8]) -> Result<(), ProjectionError> {
        self.db.insert(P::NAME, value)?;
        self.db.flush()?;
        Ok(())
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
