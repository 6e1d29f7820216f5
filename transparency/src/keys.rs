//! The log's signing key and the verifier keys of signed notes (c2sp.org/signed-note).
//!
//! The key file holds one line, the signed-note private key text
//! `PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ ed25519 seed)>`. It is generated on first
//! start with mode 0600 and refused if group or others may read it. The key name is the
//! log's origin. Signatures are checked with `verify_strict` (RFC 8032 §5.1.7 plus
//! rejecting small-order keys and non-canonical encodings), never the permissive check.

use std::io::Write;
use std::path::Path;

use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use signed_note::{is_key_name_valid, key_id, new_ed25519_verifier_key, StandardSigner, Verifier};

use crate::error::TransparencyError;

/// The signature type byte of ed25519 note signatures.
pub const ALG_ED25519: u8 = 0x01;

/// The log's signing key.
pub struct LogKey {
    signer: StandardSigner,
    origin: String,
    verifier_key: String,
}

impl LogKey {
    /// Parse the private key text `skey`.
    pub fn from_text(skey: &str) -> Result<LogKey, TransparencyError> {
        let skey = skey.trim();
        let parts: Vec<&str> = skey.splitn(5, '+').collect();
        let [_, _, name, _, key64] = parts[..] else {
            return Err(TransparencyError::malformed(
                "log key",
                "not PRIVATE+KEY+name+id+key",
            ));
        };
        let signer = StandardSigner::new(skey)
            .map_err(|e| TransparencyError::malformed("log key", e.to_string()))?;
        let key = BASE64_STANDARD
            .decode(key64)
            .map_err(|e| TransparencyError::malformed("log key", e.to_string()))?;
        let seed: [u8; 32] = key
            .get(1..)
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| TransparencyError::malformed("log key", "not an ed25519 seed"))?;
        let verifying = SigningKey::from_bytes(&seed).verifying_key();
        Ok(LogKey {
            signer,
            origin: name.to_owned(),
            verifier_key: new_ed25519_verifier_key(name, &verifying),
        })
    }

    /// A new random key for the log `origin`; returns the key and its private text.
    pub fn generate(origin: &str) -> Result<(LogKey, String), TransparencyError> {
        check_origin(origin)?;
        let (skey, _) = signed_note::generate_key(&mut rand_core::OsRng, origin);
        Ok((LogKey::from_text(&skey)?, skey))
    }

    /// The key at `path`, generated there (mode 0600) for `origin` if the file does not
    /// exist. An existing file readable by group or others is refused.
    pub fn load_or_generate(path: &Path, origin: &str) -> Result<LogKey, TransparencyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                check_private(path)?;
                LogKey::from_text(&text)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (key, skey) = LogKey::generate(origin)?;
                write_private(path, &format!("{skey}\n"))?;
                Ok(key)
            }
            Err(e) => Err(TransparencyError::io(path, e)),
        }
    }

    /// The key at `path` (which must exist and be private).
    pub fn load(path: &Path) -> Result<LogKey, TransparencyError> {
        let text = std::fs::read_to_string(path).map_err(|e| TransparencyError::io(path, e))?;
        check_private(path)?;
        LogKey::from_text(&text)
    }

    /// The log's origin (the key's name).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The public verifier key text `<name>+<key id>+<base64(0x01 ‖ public key)>`.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    /// The note signer.
    pub fn signer(&self) -> &StandardSigner {
        &self.signer
    }
}

/// Refuse an origin that cannot be a key name (empty, spaces, `+`).
pub fn check_origin(origin: &str) -> Result<(), TransparencyError> {
    if !is_key_name_valid(origin) || origin.len() > 256 {
        return Err(TransparencyError::malformed(
            "origin",
            format!("{origin:?} must be 1-256 characters without spaces or '+'"),
        ));
    }
    Ok(())
}

/// Write `text` to a new file at `path` that only its owner may read.
pub fn write_private(path: &Path, text: &str) -> Result<(), TransparencyError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| TransparencyError::io(dir, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| TransparencyError::io(path, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| TransparencyError::io(path, e))
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), TransparencyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| TransparencyError::io(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(TransparencyError::malformed(
            "log key",
            format!(
                "{} may be read by others (mode {:o}); run chmod 600 on it",
                path.display(),
                mode & 0o777
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), TransparencyError> {
    Ok(())
}

/// A verifier of note signatures by one key, `<name>+<id>+<base64(alg ‖ key)>`, for the
/// signature type `alg`; checks with `verify_strict`.
#[derive(Clone, Debug)]
pub struct VerifierKey {
    name: String,
    id: u32,
    alg: u8,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Parse a verifier key of signature type `alg` (0x01 note signatures, 0x04 cosignatures).
    pub fn parse(vkey: &str, alg: u8) -> Result<VerifierKey, TransparencyError> {
        let bad = |why: &str| TransparencyError::malformed("verifier key", why.to_owned());
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id16), Some(key64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not name+id+key"));
        };
        if !is_key_name_valid(name) || id16.len() != 8 {
            return Err(bad("bad name or key id"));
        }
        let id = u32::from_str_radix(id16, 16).map_err(|_| bad("key id is not hex"))?;
        let raw = BASE64_STANDARD
            .decode(key64)
            .map_err(|_| bad("key is not base64"))?;
        if raw.first() != Some(&alg) {
            return Err(bad(&format!("signature type is not 0x{alg:02x}")));
        }
        if id != key_id(name, &raw) {
            return Err(bad("key id does not match the key"));
        }
        let bytes: [u8; 32] = raw[1..].try_into().map_err(|_| bad("not a 32-byte key"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not an ed25519 point"))?;
        Ok(VerifierKey {
            name: name.to_owned(),
            id,
            alg,
            key,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signature type.
    pub fn alg(&self) -> u8 {
        self.alg
    }

    /// Whether `sig` is a strictly valid ed25519 signature of `msg`.
    pub fn verify_strict(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify_strict(msg, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// Note signatures (type 0x01) checked strictly.
impl Verifier for VerifierKey {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.alg == ALG_ED25519 && self.verify_strict(msg, sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_written_owner_only_and_reloads_to_the_same_verifier_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/log.key");
        let key = LogKey::load_or_generate(&path, "opsledger.test/log").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = LogKey::load_or_generate(&path, "other").unwrap();
        assert_eq!(again.verifier_key(), key.verifier_key());
        assert_eq!(again.origin(), "opsledger.test/log");
        VerifierKey::parse(key.verifier_key(), ALG_ED25519).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        LogKey::load_or_generate(&path, "o").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = LogKey::load(&path).err().unwrap().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn an_origin_with_spaces_or_plus_is_refused() {
        assert!(check_origin("a b").is_err());
        assert!(check_origin("a+b").is_err());
        assert!(check_origin("").is_err());
        assert!(check_origin("example.com/log").is_ok());
    }
}
