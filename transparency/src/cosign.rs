//! Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 `cosignature/v1`).
//!
//! A cosignature line is `— <witness name> base64(key id ‖ timestamp (u64 BE) ‖ ed25519
//! signature)`, the key id `SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4]`, and the signed
//! message `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint text.
//!
//! The witness key file uses the signed-note private key text with signature type 0x04:
//! `PRIVATE+KEY+<name>+<key id>+<base64(0x04 ‖ ed25519 seed)>` (mode 0600).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::{Signer as _, SigningKey};
use signed_note::{key_id, Note, Signer, Verifier, VerifierList};

use crate::error::TransparencyError;
use crate::keys::{check_origin, write_private, VerifierKey};

/// The signature type byte of Ed25519 cosignatures.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The message a cosignature at `timestamp` signs over the checkpoint text `text`.
pub fn cosigned_message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut msg = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    msg.extend_from_slice(text);
    msg
}

/// A witness's key.
pub struct WitnessKey {
    name: String,
    id: u32,
    key: SigningKey,
    /// The cosignature time; `None`: now.
    at: Option<u64>,
}

impl WitnessKey {
    /// A new random witness key named `name`; returns it and its private text.
    pub fn generate(name: &str) -> Result<(WitnessKey, String), TransparencyError> {
        check_origin(name)?;
        let key = SigningKey::generate(&mut rand_core::OsRng);
        let text = private_text(name, &key);
        Ok((WitnessKey::from_text(&text)?, text))
    }

    /// Parse the private text.
    pub fn from_text(text: &str) -> Result<WitnessKey, TransparencyError> {
        let bad = |why: &str| TransparencyError::malformed("witness key", why.to_owned());
        let parts: Vec<&str> = text.trim().splitn(5, '+').collect();
        let ["PRIVATE", "KEY", name, id16, key64] = parts[..] else {
            return Err(bad("not PRIVATE+KEY+name+id+key"));
        };
        let raw = BASE64_STANDARD
            .decode(key64)
            .map_err(|_| bad("not base64"))?;
        if raw.first() != Some(&ALG_COSIGNATURE_V1) {
            return Err(bad("not a cosignature/v1 (0x04) key"));
        }
        let seed: [u8; 32] = raw[1..].try_into().map_err(|_| bad("not a 32-byte seed"))?;
        let key = SigningKey::from_bytes(&seed);
        let id = cosigner_key_id(name, &key);
        if u32::from_str_radix(id16, 16).ok() != Some(id) {
            return Err(bad("key id does not match the key"));
        }
        Ok(WitnessKey {
            name: name.to_owned(),
            id,
            key,
            at: None,
        })
    }

    /// The key at `path`, generated there (0600) for `name` if the file does not exist.
    pub fn load_or_generate(path: &Path, name: &str) -> Result<WitnessKey, TransparencyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => WitnessKey::from_text(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (key, text) = WitnessKey::generate(name)?;
                write_private(path, &format!("{text}\n"))?;
                Ok(key)
            }
            Err(e) => Err(TransparencyError::io(path, e)),
        }
    }

    /// Sign at this POSIX time instead of now (tests).
    pub fn at(mut self, timestamp: u64) -> Self {
        self.at = Some(timestamp);
        self
    }

    /// The witness's verifier key `<name>+<id>+<base64(0x04 ‖ public key)>`.
    pub fn verifier_key(&self) -> String {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(self.key.verifying_key().as_bytes());
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64_STANDARD.encode(raw)
        )
    }

    /// Add this witness's cosignature to the signed note `note` (replacing an earlier
    /// one by the same key); returns the note.
    pub fn cosign(&self, note: &str) -> Result<String, TransparencyError> {
        let mut parsed = Note::from_bytes(note.as_bytes())
            .map_err(|e| TransparencyError::malformed("signed note", e.to_string()))?;
        parsed
            .add_sigs(&[self])
            .map_err(|e| TransparencyError::malformed("cosignature", e.to_string()))?;
        String::from_utf8(parsed.to_bytes())
            .map_err(|e| TransparencyError::malformed("signed note", e.to_string()))
    }
}

fn cosigner_key_id(name: &str, key: &SigningKey) -> u32 {
    let mut raw = vec![ALG_COSIGNATURE_V1];
    raw.extend_from_slice(key.verifying_key().as_bytes());
    key_id(name, &raw)
}

fn private_text(name: &str, key: &SigningKey) -> String {
    let mut raw = vec![ALG_COSIGNATURE_V1];
    raw.extend_from_slice(key.as_bytes());
    format!(
        "PRIVATE+KEY+{name}+{:08x}+{}",
        cosigner_key_id(name, key),
        BASE64_STANDARD.encode(raw)
    )
}

impl Signer for WitnessKey {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        let timestamp = self.at.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        let signature = self.key.try_sign(&cosigned_message(timestamp, text))?;
        let mut out = timestamp.to_be_bytes().to_vec();
        out.extend_from_slice(&signature.to_bytes());
        Ok(out)
    }
}

/// A cosignature verifier (strict ed25519 over the `cosignature/v1` message).
struct CosignatureVerifier(VerifierKey);

impl Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn key_id(&self) -> u32 {
        Verifier::key_id(&self.0)
    }
    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        if sig.len() != 8 + 64 {
            return false;
        }
        let (ts, signature) = sig.split_at(8);
        let timestamp = u64::from_be_bytes(ts.try_into().expect("8 bytes"));
        timestamp <= i64::MAX as u64
            && self
                .0
                .verify_strict(&cosigned_message(timestamp, text), signature)
    }
}

/// Check that the witness `witness_key` cosigned the checkpoint note `note`; returns the
/// cosignature's timestamp.
pub fn verify_cosignature(note: &str, witness_key: &str) -> Result<u64, TransparencyError> {
    let key = VerifierKey::parse(witness_key, ALG_COSIGNATURE_V1)?;
    let parsed = Note::from_bytes(note.as_bytes())
        .map_err(|e| TransparencyError::malformed("signed note", e.to_string()))?;
    let id = Verifier::key_id(&key);
    let name = key.name().to_owned();
    let known = VerifierList::new(vec![Box::new(CosignatureVerifier(key))]);
    let (verified, _) = parsed.verify(&known).map_err(|e| {
        TransparencyError::verification(format!("no valid cosignature by {name}: {e}"))
    })?;
    let sig = verified
        .iter()
        .find(|s| s.name() == name && s.id() == id)
        .ok_or_else(|| TransparencyError::verification(format!("no cosignature by {name}")))?;
    Ok(u64::from_be_bytes(
        sig.signature()[..8].try_into().expect("checked length"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{verify_checkpoint, TreeHead};
    use crate::keys::LogKey;

    #[test]
    fn a_cosigned_checkpoint_keeps_the_log_signature_and_carries_the_witness_one() {
        let (log, _) = LogKey::generate("opsledger.test/log").unwrap();
        let head = TreeHead {
            origin: "opsledger.test/log".into(),
            size: 3,
            root: [1; 32],
            chain_head: [2; 32],
        };
        let note = head.sign(&log).unwrap();
        let (witness, _) = WitnessKey::generate("witness.test/w1").unwrap();
        let witness = witness.at(1_700_000_000);
        let cosigned = witness.cosign(&note).unwrap();
        verify_checkpoint(&cosigned, log.verifier_key()).unwrap();
        assert_eq!(
            verify_cosignature(&cosigned, &witness.verifier_key()).unwrap(),
            1_700_000_000
        );
        let (stranger, _) = WitnessKey::generate("witness.test/w1").unwrap();
        assert!(verify_cosignature(&cosigned, &stranger.verifier_key()).is_err());
        assert!(verify_cosignature(&note, &witness.verifier_key()).is_err());
    }
}
