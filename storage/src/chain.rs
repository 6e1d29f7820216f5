//! The hash chain: each record's hash is BLAKE3 over the previous hash and its own bytes.

use crate::codec::{self, HASH_LEN};
use crate::event::RecordedEvent;

/// The `prev_hash` of the record at position 0.
pub const GENESIS_HASH: [u8; HASH_LEN] = [0; HASH_LEN];

/// BLAKE3(`prev_hash` ‖ `body`), where `body` is the record's format byte + envelope body.
pub fn chain_hash(prev_hash: &[u8; HASH_LEN], body: &[u8]) -> [u8; HASH_LEN] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(prev_hash);
    hasher.update(body);
    *hasher.finalize().as_bytes()
}

/// Why a stored record does not belong at `expected_position` after `expected_prev`.
pub fn check_record(
    bytes: &[u8],
    expected_position: u64,
    expected_prev: &[u8; HASH_LEN],
) -> Result<RecordedEvent, String> {
    let parts = codec::split_record(bytes).map_err(|e| e.to_string())?;
    if &parts.prev_hash != expected_prev {
        return Err("prev_hash does not match the previous record's hash".into());
    }
    if chain_hash(&parts.prev_hash, parts.body) != parts.hash {
        return Err("hash does not match the record's bytes".into());
    }
    let event = codec::decode_record(bytes).map_err(|e| e.to_string())?;
    if event.position != expected_position {
        return Err(format!("record says position {}", event.position));
    }
    Ok(event)
}
