//! The request digest: what makes two appends with one command id "the same".
//!
//! It covers the stream and, per event, type name, schema version and payload (not
//! event ids or timestamps, which a retry may regenerate). The writer computes it from
//! an append request; `verify` recomputes it from the stored records of each append and
//! compares it with the one its index chunk holds.

use crate::codec::HASH_LEN;
use crate::event::AppendRequest;

/// Builds a request digest field by field (each field length-prefixed).
pub(crate) struct RequestDigest(blake3::Hasher);

impl RequestDigest {
    /// A digest of an append to `stream_id`.
    pub(crate) fn new(stream_id: &str) -> Self {
        let mut digest = RequestDigest(blake3::Hasher::new());
        digest.field(stream_id.as_bytes());
        digest
    }

    fn field(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// Add the next event of the append.
    pub(crate) fn event(&mut self, type_name: &str, schema_version: u16, payload: &[u8]) {
        self.field(type_name.as_bytes());
        self.field(&schema_version.to_le_bytes());
        self.field(payload);
    }

    /// The digest.
    pub(crate) fn finish(&self) -> [u8; HASH_LEN] {
        *self.0.finalize().as_bytes()
    }
}

/// The digest of an append request.
pub(crate) fn of_request(req: &AppendRequest) -> [u8; HASH_LEN] {
    let mut digest = RequestDigest::new(&req.stream_id);
    for event in &req.events {
        digest.event(&event.type_name, event.schema_version, &event.payload);
    }
    digest.finish()
}
