//! `audit cosign`: a witness. It keeps the last checkpoint it cosigned in its state
//! directory and cosigns a newer one only after a consistency proof from that one.

use anyhow::anyhow;
use opsledger_transparency::cosign::WitnessKey;
use opsledger_transparency::verify_consistency;

use super::verify::checked_checkpoint;
use super::{checkpoint_note, tampered, verifier_key_text, AuditClient, AuditFailure, CosignArgs};

/// `audit cosign`.
pub async fn cosign(args: CosignArgs) -> Result<(), AuditFailure> {
    let key = verifier_key_text(&args.key)?;
    let witness = WitnessKey::load_or_generate(&args.witness_key, &args.witness_name)?;
    let client = AuditClient::optional(&args.remote)?;
    let note = checkpoint_note(args.checkpoint.as_deref(), client.as_ref()).await?;
    let new = checked_checkpoint(&note, &key)?;
    let last_path = args.state.join("checkpoint");
    if last_path.exists() {
        let old = checked_checkpoint(&std::fs::read_to_string(&last_path)?, &key)?;
        if new.head.size < old.head.size {
            return Err(tampered(format!(
                "rollback: this checkpoint covers {} events, the witness cosigned {} before",
                new.head.size, old.head.size
            )));
        }
        if new.head.size > old.head.size || new.head.root != old.head.root {
            let client = client.as_ref().ok_or_else(|| {
                anyhow!(
                    "give --url: the witness needs a consistency proof from its last checkpoint"
                )
            })?;
            let proof = client
                .consistency_proof(old.head.size, new.head.size)
                .await?;
            verify_consistency(&old.head, &new.head, &proof).map_err(tampered)?;
        }
    }
    let cosigned = witness.cosign(&note)?;
    std::fs::create_dir_all(&args.state)?;
    let tmp = args.state.join("checkpoint.tmp");
    std::fs::write(&tmp, &note)?;
    std::fs::rename(&tmp, &last_path)?;
    match &args.out {
        Some(path) => std::fs::write(path, &cosigned)?,
        None => print!("{cosigned}"),
    }
    eprintln!(
        "cosigned {} at {} events as {}",
        new.head.origin,
        new.head.size,
        witness.verifier_key()
    );
    Ok(())
}
