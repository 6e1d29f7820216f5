//! Checkpoints: the signed tree heads of the log, in the C2SP tlog-checkpoint format
//! (`tlog_tiles::Checkpoint`) as signed notes (`signed_note::Note`).
//!
//! ```text
//! <origin>
//! <tree size>
//! <base64 root hash>
//! opsledger-blake3-chain-head <hex BLAKE3 chain hash of the record at size - 1>
//!
//! — <origin> <base64(key id ‖ ed25519 signature of the four lines above)>
//! ```
//! The extension line ties the Merkle tree to the log's own BLAKE3 hash chain (the
//! chain's genesis hash for the empty tree); cosignatures are further signature lines.

use signed_note::{Note, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use crate::error::TransparencyError;
use crate::keys::{LogKey, VerifierKey, ALG_ED25519};

/// The prefix of the extension line that carries the BLAKE3 chain head.
pub const CHAIN_HEAD_EXTENSION: &str = "opsledger-blake3-chain-head ";

/// What a checkpoint states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// The log's origin.
    pub origin: String,
    /// How many records the tree covers (positions `0..size`).
    pub size: u64,
    /// The RFC 9162 root hash of those records.
    pub root: [u8; 32],
    /// The BLAKE3 chain hash of the record at `size - 1` (the genesis hash for 0).
    pub chain_head: [u8; 32],
}

impl TreeHead {
    /// The checkpoint text (the note's body).
    pub fn text(&self) -> Result<Vec<u8>, TransparencyError> {
        let extension = format!("{CHAIN_HEAD_EXTENSION}{}\n", hex(&self.chain_head));
        let checkpoint = Checkpoint::new(&self.origin, self.size, Hash(self.root), &extension)
            .map_err(|_| TransparencyError::malformed("checkpoint", "bad origin or extension"))?;
        Ok(checkpoint.to_bytes())
    }

    /// Sign the checkpoint with `key`: the whole signed note, as text.
    pub fn sign(&self, key: &LogKey) -> Result<String, TransparencyError> {
        let mut note = Note::new(&self.text()?, &[])
            .map_err(|e| TransparencyError::malformed("checkpoint", e.to_string()))?;
        note.add_sigs(&[key.signer()])
            .map_err(|e| TransparencyError::malformed("checkpoint", e.to_string()))?;
        String::from_utf8(note.to_bytes())
            .map_err(|e| TransparencyError::malformed("checkpoint", e.to_string()))
    }

    /// Parse a checkpoint text (no signatures).
    pub fn parse(text: &[u8]) -> Result<TreeHead, TransparencyError> {
        let checkpoint = Checkpoint::from_bytes(text)
            .map_err(|_| TransparencyError::malformed("checkpoint", "not a C2SP checkpoint"))?;
        let chain_head = checkpoint
            .extension()
            .lines()
            .find_map(|line| line.strip_prefix(CHAIN_HEAD_EXTENSION))
            .and_then(unhex32)
            .ok_or_else(|| {
                TransparencyError::malformed("checkpoint", "no opsledger-blake3-chain-head line")
            })?;
        Ok(TreeHead {
            origin: checkpoint.origin().to_owned(),
            size: checkpoint.size(),
            root: checkpoint.hash().0,
            chain_head,
        })
    }
}

/// A checkpoint whose log signature verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// What it states.
    pub head: TreeHead,
    /// The whole signed note.
    pub note: String,
}

/// Check the signed note `note` against the log's verifier key `log_key` (strict
/// ed25519) and pin its origin to the key's name; returns what it states.
pub fn verify_checkpoint(
    note: &str,
    log_key: &str,
) -> Result<VerifiedCheckpoint, TransparencyError> {
    let key = VerifierKey::parse(log_key, ALG_ED25519)?;
    let parsed = Note::from_bytes(note.as_bytes())
        .map_err(|e| TransparencyError::malformed("signed note", e.to_string()))?;
    let known = VerifierList::new(vec![Box::new(key.clone())]);
    parsed.verify(&known).map_err(|e| {
        TransparencyError::verification(format!(
            "the checkpoint is not signed by the log key {}: {e}",
            key.name()
        ))
    })?;
    let head = TreeHead::parse(parsed.text())?;
    if head.origin != key.name() {
        return Err(TransparencyError::verification(format!(
            "the checkpoint's origin {:?} is not the key's log {:?}",
            head.origin,
            key.name()
        )));
    }
    Ok(VerifiedCheckpoint {
        head,
        note: note.to_owned(),
    })
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    opsledger_storage::hex::hex(bytes)
}

/// 32 bytes from 64 hex digits.
pub fn unhex32(text: &str) -> Option<[u8; 32]> {
    opsledger_storage::hex::unhex(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> TreeHead {
        TreeHead {
            origin: "opsledger.test/log".into(),
            size: 42,
            root: [7; 32],
            chain_head: [9; 32],
        }
    }

    #[test]
    fn a_signed_checkpoint_verifies_and_states_what_was_signed() {
        let (key, _) = LogKey::generate("opsledger.test/log").unwrap();
        let note = head().sign(&key).unwrap();
        assert!(note.starts_with("opsledger.test/log\n42\n"), "{note}");
        assert!(note.contains("\n\n— opsledger.test/log "), "{note}");
        let verified = verify_checkpoint(&note, key.verifier_key()).unwrap();
        assert_eq!(verified.head, head());
    }

    #[test]
    fn a_checkpoint_with_a_changed_line_is_refused() {
        let (key, _) = LogKey::generate("opsledger.test/log").unwrap();
        let note = head().sign(&key).unwrap().replacen("\n42\n", "\n43\n", 1);
        assert!(verify_checkpoint(&note, key.verifier_key()).is_err());
    }

    #[test]
    fn a_checkpoint_signed_by_another_key_of_the_same_name_is_refused() {
        let (key, _) = LogKey::generate("opsledger.test/log").unwrap();
        let (other, _) = LogKey::generate("opsledger.test/log").unwrap();
        let note = head().sign(&other).unwrap();
        assert!(verify_checkpoint(&note, key.verifier_key()).is_err());
    }

    #[test]
    fn a_checkpoint_whose_origin_is_not_the_key_name_is_refused() {
        let (key, _) = LogKey::generate("opsledger.test/log").unwrap();
        let mut other = head();
        other.origin = "elsewhere/log".into();
        // Signed by the right key, but claiming another log's origin.
        let note = other.sign(&key).unwrap();
        let err = verify_checkpoint(&note, key.verifier_key()).unwrap_err();
        assert!(err.to_string().contains("origin"), "{err}");
    }
}
