//! The Merkle tree over the log (RFC 9162 §2.1, SHA-256): its stored hashes in
//! memory, in the dense order of Go's sumdb/tlog (`tlog_tiles::stored_hash_index`),
//! and the proofs read from them.
//!
//! Leaf `n` is `SHA-256(0x00 ‖ record bytes at position n)`; an interior node is
//! `SHA-256(0x01 ‖ left ‖ right)`. The tree holds about two hashes (64 bytes) per
//! record: 64 MB at a million events.

use tlog_tiles::{
    prove_record, prove_tree, record_hash, stored_hash_count, stored_hash_index,
    stored_hashes_for_record_hash, tree_hash, Hash, HashReader, RecordProof, TreeProof,
};

use crate::error::TransparencyError;

/// The leaf hash of the record bytes `record`.
pub fn leaf_hash(record: &[u8]) -> Hash {
    record_hash(record)
}

/// The stored hashes of a tree of `size` leaves.
#[derive(Clone, Debug, Default)]
pub struct TreeHashes {
    hashes: Vec<Hash>,
    size: u64,
}

impl HashReader for TreeHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.hashes
                    .get(usize::try_from(i).map_err(|_| tlog_tiles::Error::IndexesNotInTree)?)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl TreeHashes {
    /// The empty tree.
    pub fn new() -> Self {
        TreeHashes::default()
    }

    /// The largest complete tree in `hashes` (a stored-hash file, possibly cut short by
    /// a crash): its leaf count, with the hashes past it dropped.
    pub fn from_stored(mut hashes: Vec<Hash>) -> Self {
        let mut size = 0u64;
        while stored_hash_count(size + 1) <= hashes.len() as u64 {
            size += 1;
        }
        hashes.truncate(stored_hash_count(size) as usize);
        TreeHashes { hashes, size }
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Every stored hash, in stored-hash-index order.
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }

    /// Append the leaf with hash `leaf`; returns the stored hashes it added.
    pub fn push_leaf(&mut self, leaf: Hash) -> Result<&[Hash], TransparencyError> {
        let before = self.hashes.len();
        let new = stored_hashes_for_record_hash(self.size, leaf, self)?;
        self.hashes.extend(new);
        self.size += 1;
        Ok(&self.hashes[before..])
    }

    /// The hash of leaf `index`.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        if index >= self.size {
            return None;
        }
        self.hashes
            .get(stored_hash_index(0, index) as usize)
            .copied()
    }

    /// The root hash of the tree's first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, TransparencyError> {
        self.check_size(size)?;
        Ok(tree_hash(size, self)?)
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<RecordProof, TransparencyError> {
        self.check_size(size)?;
        if index >= size {
            return Err(TransparencyError::OutOfRange(format!(
                "position {index} is not in a tree of size {size}"
            )));
        }
        Ok(prove_record(size, index, self)?)
    }

    /// The consistency proof from the tree of `from` leaves to the tree of `to` leaves
    /// (empty when `from` is 0 or equals `to`, per RFC 9162).
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<TreeProof, TransparencyError> {
        self.check_size(to)?;
        if from > to {
            return Err(TransparencyError::OutOfRange(format!(
                "fromSize {from} is larger than toSize {to}"
            )));
        }
        if from == 0 || from == to {
            return Ok(Vec::new());
        }
        Ok(prove_tree(to, from, self)?)
    }

    fn check_size(&self, size: u64) -> Result<(), TransparencyError> {
        if size > self.size {
            return Err(TransparencyError::OutOfRange(format!(
                "tree size {size} is larger than the tree ({} leaves)",
                self.size
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_of(n: u64) -> TreeHashes {
        let mut tree = TreeHashes::new();
        for i in 0..n {
            tree.push_leaf(leaf_hash(format!("leaf-{i}").as_bytes()))
                .unwrap();
        }
        tree
    }

    /// RFC 9162 §2.1.1 written out recursively, independent of tlog's stored hashes.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => tlog_tiles::EMPTY_HASH,
            1 => leaves[0],
            n => {
                // The largest power of two smaller than n.
                let k = n.next_power_of_two() / 2;
                tlog_tiles::node_hash(mth(&leaves[..k]), mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn root_is_rfc9162_mth_of_the_leaf_hashes() {
        for n in 0..40u64 {
            let tree = tree_of(n);
            let leaves: Vec<Hash> = (0..n).map(|i| tree.leaf(i).unwrap()).collect();
            assert_eq!(tree.root(n).unwrap(), mth(&leaves), "size {n}");
        }
    }

    #[test]
    fn leaf_hash_is_sha256_of_zero_byte_and_record() {
        // SHA-256(0x00) for the empty record, per RFC 6962's test vector.
        assert_eq!(
            leaf_hash(b"").to_string(),
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
        );
    }

    #[test]
    fn a_tree_cut_short_by_a_crash_keeps_its_last_complete_size() {
        let tree = tree_of(13);
        let mut stored = tree.stored().to_vec();
        stored.pop();
        let cut = TreeHashes::from_stored(stored);
        assert_eq!(cut.size(), 12);
        assert_eq!(cut.root(12).unwrap(), tree.root(12).unwrap());
    }

    #[test]
    fn proofs_past_the_tree_are_refused() {
        let tree = tree_of(5);
        assert!(tree.inclusion_proof(5, 5).is_err());
        assert!(tree.inclusion_proof(0, 6).is_err());
        assert!(tree.consistency_proof(3, 6).is_err());
        assert!(tree.consistency_proof(4, 3).is_err());
    }
}
