//! `audit monitor`: the tamper alarm. Its state directory holds `checkpoint` (the last
//! accepted signed note) and `leaves` (the 32-byte leaf hashes of that tree, verified
//! against its root), so a fork is located at its first differing position.

use std::path::Path;

use anyhow::Context as _;
use opsledger_transparency::checkpoint::hex;
use opsledger_transparency::tree::TreeHashes;
use opsledger_transparency::verify_consistency;
use tlog_tiles::Hash;

use super::verify::checked_checkpoint;
use super::{tampered, verifier_key_text, AuditClient, AuditFailure, MonitorArgs};

fn tree_of(leaves: &[[u8; 32]]) -> Result<TreeHashes, AuditFailure> {
    let mut tree = TreeHashes::new();
    for leaf in leaves {
        tree.push_leaf(Hash(*leaf))?;
    }
    Ok(tree)
}

fn read_leaves(path: &Path) -> anyhow::Result<Vec<[u8; 32]>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(bytes
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect())
}

fn save(state: &Path, note: &str, leaves: &[[u8; 32]]) -> anyhow::Result<()> {
    std::fs::create_dir_all(state)?;
    let bytes: Vec<u8> = leaves.iter().flatten().copied().collect();
    // Leaves first, then the checkpoint (each written whole, then renamed).
    for (name, data) in [
        ("leaves", bytes.as_slice()),
        ("checkpoint", note.as_bytes()),
    ] {
        let tmp = state.join(format!("{name}.tmp"));
        std::fs::write(&tmp, data)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, state.join(name))?;
    }
    Ok(())
}

/// `audit monitor`.
pub async fn monitor(args: MonitorArgs) -> Result<(), AuditFailure> {
    let key = verifier_key_text(&args.key)?;
    let client = AuditClient::new(&args.remote)?;
    let newest = checked_checkpoint(&client.checkpoint(None).await?, &key)?;
    let old_path = args.state.join("checkpoint");
    if !old_path.exists() {
        // Trust on first use: fetch every leaf hash and check it against the signed root.
        let leaves = client.leaf_hashes(0, newest.head.size).await?;
        let tree = tree_of(&leaves)?;
        if tree.root(newest.head.size)?.0 != newest.head.root {
            return Err(tampered(
                "the server's leaf hashes do not give its signed root",
            ));
        }
        save(&args.state, &newest.note, &leaves)?;
        println!(
            "accepted the first checkpoint of {}: {} events, root {} (state in {})",
            newest.head.origin,
            newest.head.size,
            hex(&newest.head.root),
            args.state.display()
        );
        return Ok(());
    }
    let old_note = std::fs::read_to_string(&old_path)?;
    let old = checked_checkpoint(&old_note, &key)?;
    let mut leaves = read_leaves(&args.state.join("leaves"))?;
    if newest.head.size < old.head.size {
        return Err(tampered(format!(
            "rollback: the newest checkpoint covers {} events, {} were accepted before",
            newest.head.size, old.head.size
        )));
    }
    let proof = client
        .consistency_proof(old.head.size, newest.head.size)
        .await?;
    if let Err(e) = verify_consistency(&old.head, &newest.head, &proof) {
        let current = client
            .leaf_hashes(0, old.head.size.min(newest.head.size))
            .await
            .unwrap_or_default();
        let first = leaves
            .iter()
            .zip(&current)
            .position(|(a, b)| a != b)
            .map_or_else(|| "unknown".to_owned(), |p| p.to_string());
        return Err(tampered(format!(
            "{e}; first differing position: {first} (accepted checkpoint: {} events, root {}; newest: {} events, root {})",
            old.head.size,
            hex(&old.head.root),
            newest.head.size,
            hex(&newest.head.root)
        )));
    }
    let fresh = client.leaf_hashes(old.head.size, newest.head.size).await?;
    leaves.extend(fresh);
    let tree = tree_of(&leaves)?;
    if tree.root(newest.head.size)?.0 != newest.head.root {
        return Err(tampered(
            "the server's new leaf hashes do not give its signed root",
        ));
    }
    save(&args.state, &newest.note, &leaves)?;
    println!(
        "consistent: {} grew from {} to {} events (root {})",
        newest.head.origin,
        old.head.size,
        newest.head.size,
        hex(&newest.head.root)
    );
    Ok(())
}
