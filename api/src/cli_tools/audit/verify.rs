//! `audit key`, `audit verify-event`, `audit verify-export`.

use std::io::BufRead;

use anyhow::{anyhow, Context as _};
use opsledger_storage::codec::{decode_record, encode_record};
use opsledger_storage::export::{validate_file, ExportLine};
use opsledger_transparency::checkpoint::hex;
use opsledger_transparency::keys::LogKey;
use opsledger_transparency::service::transparency_dir;
use opsledger_transparency::tree::{leaf_hash, TreeHashes};
use opsledger_transparency::{
    verify_checkpoint, verify_inclusion, InclusionProof, VerifiedCheckpoint,
};
use serde_json::Value;

use super::{
    checkpoint_note, tampered, verifier_key_text, AuditClient, AuditFailure, KeyArgs,
    VerifyEventArgs, VerifyExportArgs,
};
use crate::cli_tools::render_payload;

/// `audit key`.
pub fn key(args: KeyArgs) -> Result<(), AuditFailure> {
    let path = args
        .log_key
        .unwrap_or_else(|| transparency_dir(&args.data).join("log.key"));
    let origin = args.log_origin.unwrap_or_else(|| {
        format!(
            "opsledger.local/{}",
            opsledger_storage::Ulid::new().to_string().to_lowercase()
        )
    });
    let existed = path.exists();
    let key = LogKey::load_or_generate(&path, &origin)?;
    if !existed {
        eprintln!("generated a new key at {}", path.display());
    }
    println!("origin: {}", key.origin());
    println!("key: {}", key.verifier_key());
    Ok(())
}

/// Check a signed note against the pinned key; a bad signature is tampering.
pub fn checked_checkpoint(note: &str, key: &str) -> Result<VerifiedCheckpoint, AuditFailure> {
    verify_checkpoint(note, key).map_err(tampered)
}

fn read_proof(path: &std::path::Path) -> anyhow::Result<InclusionProof> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let proof = value
        .pointer("/data/inclusionProof")
        .cloned()
        .unwrap_or(value);
    serde_json::from_value(proof)
        .with_context(|| format!("{} is not an inclusion proof", path.display()))
}

/// `audit verify-event`.
pub async fn verify_event(args: VerifyEventArgs) -> Result<(), AuditFailure> {
    let key = verifier_key_text(&args.key)?;
    let client = AuditClient::optional(&args.remote)?;
    let note = checkpoint_note(args.checkpoint.as_deref(), client.as_ref()).await?;
    let checkpoint = checked_checkpoint(&note, &key)?;
    let proof = match (&args.proof, &client, args.position) {
        (Some(path), _, _) => read_proof(path)?,
        (None, Some(client), Some(position)) => {
            client
                .inclusion_proof(position, checkpoint.head.size)
                .await?
        }
        _ => return Err(anyhow!("give --proof FILE, or --url and --position").into()),
    };
    let record = verify_inclusion(&proof, &checkpoint.head).map_err(tampered)?;
    let event = decode_record(&record)
        .map_err(|e| tampered(format!("the proven record does not decode: {e}")))?;
    if event.position != proof.leaf_index {
        return Err(tampered(format!(
            "the record at leaf {} says it is position {}",
            proof.leaf_index, event.position
        )));
    }
    let line = ExportLine::of(&event, &render_payload);
    println!(
        "{}",
        serde_json::to_string_pretty(&line).map_err(anyhow::Error::from)?
    );
    eprintln!(
        "verified: event {} ({}) is in the log {} of {} events (root {})",
        event.position,
        event.type_name,
        checkpoint.head.origin,
        checkpoint.head.size,
        hex(&checkpoint.head.root)
    );
    Ok(())
}

/// `audit verify-export`.
pub fn verify_export(args: VerifyExportArgs) -> Result<(), AuditFailure> {
    let key = verifier_key_text(&args.key)?;
    let note = std::fs::read_to_string(&args.checkpoint)
        .with_context(|| format!("cannot read {}", args.checkpoint.display()))?;
    let checkpoint = checked_checkpoint(&note, &key)?;
    // Every line's hash and the chain, as import checks them.
    validate_file(&args.file, &render_payload)
        .map_err(|e| tampered(format!("the export does not verify: {e}")))?;
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut tree = TreeHashes::new();
    let mut last_hash = opsledger_storage::chain::GENESIS_HASH;
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if tree.size() >= checkpoint.head.size {
            break;
        }
        let value: Value = serde_json::from_str(&line).map_err(anyhow::Error::from)?;
        if value.get("format").is_some() {
            if value["from"].as_u64() != Some(0) {
                return Err(
                    anyhow!("the export must start at position 0 (export --from 0)").into(),
                );
            }
            continue;
        }
        let line: ExportLine = serde_json::from_value(value).map_err(anyhow::Error::from)?;
        let record = line.to_record().map_err(|e| anyhow!(e))?;
        if record.position != tree.size() {
            return Err(anyhow!("the export must start at position 0 and have no gap").into());
        }
        tree.push_leaf(leaf_hash(
            &encode_record(&record).map_err(anyhow::Error::from)?,
        ))?;
        last_hash = record.hash;
    }
    if tree.size() < checkpoint.head.size {
        return Err(anyhow!(
            "the export holds {} events, the checkpoint covers {}",
            tree.size(),
            checkpoint.head.size
        )
        .into());
    }
    let root = tree.root(checkpoint.head.size)?;
    if root.0 != checkpoint.head.root {
        return Err(tampered(format!(
            "the export's first {} events give root {}, the signed checkpoint says {}",
            checkpoint.head.size,
            hex(&root.0),
            hex(&checkpoint.head.root)
        )));
    }
    if last_hash != checkpoint.head.chain_head {
        return Err(tampered(
            "the export's BLAKE3 chain head differs from the checkpoint's",
        ));
    }
    println!(
        "verified: the export's first {} events are the log {} (root {})",
        checkpoint.head.size,
        checkpoint.head.origin,
        hex(&root.0)
    );
    Ok(())
}
