//! What an auditor checks with no access to the data directory: inclusion and
//! consistency proofs against a verified checkpoint (RFC 9162 §2.1.3.2 and §2.1.4.2,
//! by `tlog_tiles::check_record` / `check_tree`, which refuse a proof with any node
//! too many or too few).

use serde::{Deserialize, Serialize};
use tlog_tiles::{check_record, check_tree, Hash, EMPTY_HASH};

use crate::checkpoint::{hex, unhex32, TreeHead};
use crate::error::TransparencyError;
use crate::tree::leaf_hash;

/// An inclusion proof as the API hands it out (hex everywhere).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// The leaf index (the event's log position).
    pub leaf_index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The stored record bytes at that position (hex): the leaf's data.
    pub record: String,
    /// The audit path, from the leaf's sibling up (hex hashes).
    pub audit_path: Vec<String>,
}

/// A consistency proof as the API hands it out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyProof {
    /// The older tree size.
    pub from_size: u64,
    /// The newer tree size.
    pub to_size: u64,
    /// The proof's hashes (hex).
    pub path: Vec<String>,
}

/// Hex hashes from tree hashes.
pub fn hex_path(path: &[Hash]) -> Vec<String> {
    path.iter().map(|h| hex(&h.0)).collect()
}

fn parse_path(path: &[String]) -> Result<Vec<Hash>, TransparencyError> {
    path.iter()
        .map(|h| {
            unhex32(h).map(Hash).ok_or_else(|| {
                TransparencyError::malformed("proof", format!("{h:?} is not a hash"))
            })
        })
        .collect()
}

/// Check that `proof` shows its record at its leaf index in the tree `head` states;
/// returns the record bytes.
pub fn verify_inclusion(
    proof: &InclusionProof,
    head: &TreeHead,
) -> Result<Vec<u8>, TransparencyError> {
    if proof.tree_size != head.size {
        return Err(TransparencyError::verification(format!(
            "the proof is for tree size {}, the checkpoint for {}",
            proof.tree_size, head.size
        )));
    }
    let record = opsledger_storage::hex::unhex(&proof.record)
        .ok_or_else(|| TransparencyError::malformed("proof", "record is not hex"))?;
    let path = parse_path(&proof.audit_path)?;
    check_record(
        &path,
        head.size,
        Hash(head.root),
        proof.leaf_index,
        leaf_hash(&record),
    )
    .map_err(|e| {
        TransparencyError::verification(format!(
            "the inclusion proof of position {} does not lead to the checkpoint's root: {e}",
            proof.leaf_index
        ))
    })?;
    Ok(record)
}

/// Check that the tree `new` extends the tree `old` (same origin, no rollback, and a
/// consistency proof from `old.size` to `new.size` that leads to both roots).
pub fn verify_consistency(
    old: &TreeHead,
    new: &TreeHead,
    proof: &ConsistencyProof,
) -> Result<(), TransparencyError> {
    if old.origin != new.origin {
        return Err(TransparencyError::verification(format!(
            "origin changed from {:?} to {:?}",
            old.origin, new.origin
        )));
    }
    if new.size < old.size {
        return Err(TransparencyError::verification(format!(
            "rollback: the log's tree has {} leaves, fewer than the {} already accepted",
            new.size, old.size
        )));
    }
    if proof.from_size != old.size || proof.to_size != new.size {
        return Err(TransparencyError::verification(format!(
            "the consistency proof is for {} -> {}, not {} -> {}",
            proof.from_size, proof.to_size, old.size, new.size
        )));
    }
    let path = parse_path(&proof.path)?;
    let fork = || {
        TransparencyError::verification(format!(
            "fork: the tree of size {} is not an extension of the accepted tree of size {}",
            new.size, old.size
        ))
    };
    if old.size == 0 {
        // RFC 9162 §2.1.4: any tree extends the empty one; the proof is empty.
        return if path.is_empty() && old.root == EMPTY_HASH.0 {
            Ok(())
        } else {
            Err(fork())
        };
    }
    if old.size == new.size {
        return if path.is_empty() && old.root == new.root {
            Ok(())
        } else {
            Err(fork())
        };
    }
    check_tree(&path, new.size, Hash(new.root), old.size, Hash(old.root)).map_err(|_| fork())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::TreeHashes;
    use proptest::prelude::*;

    fn tree_of(n: u64) -> TreeHashes {
        let mut tree = TreeHashes::new();
        for i in 0..n {
            tree.push_leaf(leaf_hash(&record(i))).unwrap();
        }
        tree
    }

    fn record(i: u64) -> Vec<u8> {
        format!("record-{i}").into_bytes()
    }

    fn head(tree: &TreeHashes, size: u64) -> TreeHead {
        TreeHead {
            origin: "o".into(),
            size,
            root: tree.root(size).unwrap().0,
            chain_head: [0; 32],
        }
    }

    fn inclusion(tree: &TreeHashes, index: u64, size: u64) -> InclusionProof {
        InclusionProof {
            leaf_index: index,
            tree_size: size,
            record: hex(&record(index)),
            audit_path: hex_path(&tree.inclusion_proof(index, size).unwrap()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_inclusion_proof_verifies_and_any_extra_or_missing_node_is_refused(
            size in 1u64..4096, pick in any::<u64>(), at in any::<usize>(),
        ) {
            let tree = tree_of(size);
            let index = pick % size;
            let h = head(&tree, size);
            let proof = inclusion(&tree, index, size);
            prop_assert_eq!(verify_inclusion(&proof, &h).unwrap(), record(index));
            let mut extra = proof.clone();
            extra.audit_path.insert(at % (extra.audit_path.len() + 1), hex(&[3; 32]));
            prop_assert!(verify_inclusion(&extra, &h).is_err());
            if !proof.audit_path.is_empty() {
                let mut missing = proof.clone();
                missing.audit_path.remove(at % proof.audit_path.len());
                prop_assert!(verify_inclusion(&missing, &h).is_err());
            }
            let mut other_index = proof.clone();
            other_index.leaf_index = (index + 1) % size;
            if size > 1 {
                prop_assert!(verify_inclusion(&other_index, &h).is_err());
            }
        }

        #[test]
        fn every_consistency_proof_verifies_and_a_tampered_one_is_refused(
            to in 1u64..4096, pick in any::<u64>(), at in any::<usize>(),
        ) {
            let tree = tree_of(to);
            let from = pick % (to + 1);
            let (old, new) = (head(&tree, from), head(&tree, to));
            let proof = ConsistencyProof {
                from_size: from,
                to_size: to,
                path: hex_path(&tree.consistency_proof(from, to).unwrap()),
            };
            prop_assert!(verify_consistency(&old, &new, &proof).is_ok());
            let mut extra = proof.clone();
            extra.path.insert(at % (extra.path.len() + 1), hex(&[5; 32]));
            prop_assert!(verify_consistency(&old, &new, &extra).is_err());
            if !proof.path.is_empty() {
                let mut missing = proof.clone();
                missing.path.remove(at % proof.path.len());
                prop_assert!(verify_consistency(&old, &new, &missing).is_err());
            }
            prop_assert!(verify_consistency(&new, &old, &proof).is_err() || from == to);
        }
    }

    #[test]
    fn a_proof_for_another_tree_size_is_refused() {
        let tree = tree_of(10);
        let proof = inclusion(&tree, 3, 9);
        let err = verify_inclusion(&proof, &head(&tree, 10)).unwrap_err();
        assert!(err.to_string().contains("tree size 9"), "{err}");
    }

    #[test]
    fn a_different_leaf_at_the_same_index_is_a_fork() {
        let tree = tree_of(8);
        let mut forked = TreeHashes::new();
        for i in 0..8u64 {
            let data = if i == 5 {
                b"forged".to_vec()
            } else {
                record(i)
            };
            forked.push_leaf(leaf_hash(&data)).unwrap();
        }
        let (old, new) = (head(&tree, 6), head(&forked, 8));
        let proof = ConsistencyProof {
            from_size: 6,
            to_size: 8,
            path: hex_path(&forked.consistency_proof(6, 8).unwrap()),
        };
        let err = verify_consistency(&old, &new, &proof).unwrap_err();
        assert!(err.to_string().contains("fork"), "{err}");
    }

    #[test]
    fn a_smaller_tree_than_accepted_is_a_rollback() {
        let tree = tree_of(8);
        let proof = ConsistencyProof {
            from_size: 8,
            to_size: 5,
            path: vec![],
        };
        let err = verify_consistency(&head(&tree, 8), &head(&tree, 5), &proof).unwrap_err();
        assert!(err.to_string().contains("rollback"), "{err}");
    }
}
