//! Snapshots of projections in a sled database of their own
//! (`DATA_DIR/projections`): the state, its checkpoint, and the hash of the
//! event at the checkpoint (so a snapshot of another log is never used).
//!
//! Value layout: `[SNAPSHOT_LAYOUT][P::SNAPSHOT_VERSION]` then frames of
//! `[length u64 big-endian][bytes]`: first `codec::encode_payload` of the
//! header (checkpoint hash, checkpoint, skipped events), then each part of
//! [`Projection::encode_parts`] (written to the file one by one). Anything that does not match or
//! decode is discarded with a warning: snapshots are only a cache.
//!
//! The value lives in a file of its own, `values/<P::NAME>.<generation>`,
//! written in place (sled would keep a copy of a large value in memory long
//! after it is written); the sled database keeps, under `P::NAME`, a small
//! pointer record `[POINTER_TAG][generation u64][length u64]` (big-endian).
//! A new snapshot writes and syncs a new file, then points at it and removes
//! the older file, so a crash leaves either snapshot whole.

use std::io::Write;
use std::path::{Path, PathBuf};

use opsledger_storage::codec::{decode_payload, encode_payload};
use opsledger_storage::sled_store::remove_half_written_snapshots;
use opsledger_storage::CodecError;
use serde::{Deserialize, Serialize};

use crate::error::ProjectionError;
use crate::projection::{Checkpointed, Projection};

/// Version of the snapshot value layout (the two header bytes and the body).
pub const SNAPSHOT_LAYOUT: u8 = 2;

/// Cache bound of the snapshot database.
const SNAPSHOT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// First byte of the pointer record under a projection's name.
const POINTER_TAG: u8 = 0xC6;

/// Folder (inside the snapshot directory) of the snapshot value files.
const VALUES_DIR: &str = "values";

/// Which file holds a projection's current snapshot value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pointer {
    generation: u64,
    len: u64,
}

impl Pointer {
    const BYTES: usize = 1 + 8 + 8;

    fn encode(&self) -> [u8; Self::BYTES] {
        let mut out = [0; Self::BYTES];
        out[0] = POINTER_TAG;
        out[1..9].copy_from_slice(&self.generation.to_be_bytes());
        out[9..17].copy_from_slice(&self.len.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; Self::BYTES] = bytes.try_into().ok()?;
        if bytes[0] != POINTER_TAG {
            return None;
        }
        Some(Pointer {
            generation: u64::from_be_bytes(bytes[1..9].try_into().ok()?),
            len: u64::from_be_bytes(bytes[9..17].try_into().ok()?),
        })
    }
}

/// The first frame of a snapshot value.
#[derive(Serialize, Deserialize)]
struct Header {
    checkpoint_hash: [u8; 32],
    checkpoint: Option<u64>,
    skipped_events: u64,
}

/// Writes the framed snapshot value of `state` to `out`.
fn write_snapshot<P: Projection>(
    state: &Checkpointed<P>,
    checkpoint_hash: [u8; 32],
    out: &mut dyn Write,
) -> Result<(), ProjectionError> {
    out.write_all(&[SNAPSHOT_LAYOUT, P::SNAPSHOT_VERSION])?;
    let mut frame = |bytes: &[u8]| -> Result<(), ProjectionError> {
        out.write_all(&(bytes.len() as u64).to_be_bytes())?;
        out.write_all(bytes)?;
        Ok(())
    };
    frame(&encode_payload(&Header {
        checkpoint_hash,
        checkpoint: state.checkpoint,
        skipped_events: state.skipped_events,
    })?)?;
    state.model.encode_parts(&mut frame)
}

/// Splits a framed body into its frames, `None` if a length runs past the end.
fn split_frames(mut body: &[u8]) -> Option<Vec<&[u8]>> {
    let mut frames = Vec::new();
    while !body.is_empty() {
        let (len, rest) = body.split_first_chunk::<8>()?;
        let len = usize::try_from(u64::from_be_bytes(*len)).ok()?;
        if len > rest.len() {
            return None;
        }
        let (frame, rest) = rest.split_at(len);
        frames.push(frame);
        body = rest;
    }
    Some(frames)
}

/// Decodes a framed body into the state and the checkpoint's hash.
fn decode_body<P: Projection>(body: &[u8]) -> Result<LoadedSnapshot<P>, CodecError> {
    let frames = split_frames(body)
        .ok_or_else(|| CodecError::Decode("snapshot frame runs past the end".into()))?;
    let Some((header, parts)) = frames.split_first() else {
        return Err(CodecError::Decode("snapshot without a header".into()));
    };
    let header: Header = decode_payload(header)?;
    Ok(LoadedSnapshot {
        state: Checkpointed {
            checkpoint: header.checkpoint,
            skipped_events: header.skipped_events,
            model: P::decode_parts(parts)?,
        },
        checkpoint_hash: header.checkpoint_hash,
    })
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
        let mut value = Vec::new();
        write_snapshot(state, checkpoint_hash, &mut value)?;
        Ok(value)
    }

    /// Stores an encoded snapshot of projection `P` and flushes it to disk.
    pub fn save_encoded<P: Projection>(&self, value: Vec<u8>) -> Result<(), ProjectionError> {
        self.write_value(P::NAME, |out| Ok(out.write_all(&value)?))
    }

    /// Size in bytes of `P`'s stored snapshot, if there is one.
    pub fn stored_bytes<P: Projection>(&self) -> Result<Option<u64>, ProjectionError> {
        Ok(self.pointer(P::NAME)?.map(|p| p.len))
    }

    /// The file of generation `generation` of `name`'s value.
    fn value_file(&self, name: &str, generation: u64) -> PathBuf {
        self.path
            .join(VALUES_DIR)
            .join(format!("{name}.{generation}"))
    }

    /// Writes a value with `write` to a new generation's file, syncs it,
    /// then points `name` at it and removes the older files.
    fn write_value(
        &self,
        name: &str,
        write: impl FnOnce(&mut dyn Write) -> Result<(), ProjectionError>,
    ) -> Result<(), ProjectionError> {
        let generation = self
            .pointer(name)?
            .map_or(0, |p| p.generation.wrapping_add(1));
        std::fs::create_dir_all(self.path.join(VALUES_DIR))?;
        let file_path = self.value_file(name, generation);
        let mut out = CountingWriter {
            inner: std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&file_path)?),
            written: 0,
        };
        write(&mut out)?;
        let file = out.inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        drop(file);
        let pointer = Pointer {
            generation,
            len: out.written,
        };
        self.db.insert(name, &pointer.encode()[..])?;
        self.db.flush()?;
        self.remove_values(name, Some(generation))?;
        Ok(())
    }

    /// The pointer record of `name`, `None` if absent or unreadable.
    fn pointer(&self, name: &str) -> Result<Option<Pointer>, ProjectionError> {
        Ok(self.db.get(name)?.and_then(|v| Pointer::decode(&v)))
    }

    /// Removes every value file of `name` except generation `keep`'s.
    fn remove_values(&self, name: &str, keep: Option<u64>) -> Result<(), ProjectionError> {
        let entries = match std::fs::read_dir(self.path.join(VALUES_DIR)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let prefix = format!("{name}.");
        let kept = keep.map(|g| format!("{name}.{g}"));
        for entry in entries {
            let entry = entry?;
            let file = entry.file_name();
            let file = file.to_string_lossy();
            if file.starts_with(&prefix) && kept.as_deref() != Some(&*file) {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    /// The stored value of `name`, `None` if there is none or its file is
    /// missing or of another length.
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
        let value = match std::fs::read(self.value_file(name, pointer.generation)) {
            Ok(value) => value,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(
                    projection = name,
                    "snapshot file missing: rebuilding from zero"
                );
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
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
        self.write_value(P::NAME, |out| write_snapshot(state, checkpoint_hash, out))
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
        match decode_body::<P>(body) {
            Ok(loaded) => Ok(Some(loaded)),
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
        self.remove_values(P::NAME, None)?;
        self.db.flush()?;
        Ok(())
    }

    /// Stores a raw snapshot value for `P` (tests use it to plant damage).
    pub fn put_raw<P: Projection>(&self, value: &[u8]) -> Result<(), ProjectionError> {
        self.write_value(P::NAME, |out| Ok(out.write_all(value)?))
    }

    /// Flushes everything to disk.
    pub fn flush(&self) -> Result<(), ProjectionError> {
        self.db.flush()?;
        Ok(())
    }
}

/// A writer that counts the bytes written through it.
struct CountingWriter<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
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
    fn a_value_round_trips_and_only_the_newest_generation_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        let first: Vec<u8> = (0..100_007u32).map(|i| (i % 251) as u8).collect();
        store
            .write_value("m", |o| Ok(o.write_all(&first)?))
            .unwrap();
        assert_eq!(store.read_value("m").unwrap(), Some(first));
        let second = vec![9u8; 1001];
        store
            .write_value("m", |o| Ok(o.write_all(&second)?))
            .unwrap();
        assert_eq!(store.read_value("m").unwrap(), Some(second));
        let files = std::fs::read_dir(dir.path().join(VALUES_DIR))
            .unwrap()
            .count();
        assert_eq!(files, 1);
        assert_eq!(
            store.pointer("m").unwrap(),
            Some(Pointer {
                generation: 1,
                len: 1001
            })
        );
    }

    #[test]
    fn a_missing_or_truncated_value_file_makes_the_snapshot_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        store
            .write_value("m", |o| Ok(o.write_all(&[1, 2, 3])?))
            .unwrap();
        std::fs::write(store.value_file("m", 0), [1, 2]).unwrap();
        assert_eq!(store.read_value("m").unwrap(), None);
        std::fs::remove_file(store.value_file("m", 0)).unwrap();
        assert_eq!(store.read_value("m").unwrap(), None);
    }
}
