//! What an idempotency key is bound to: the actor who sent it and the request it was
//! first sent with (Stripe's rule).
//!
//! A key is scoped to the actor (the token's identity): the command id is a digest of
//! actor and key, so another actor's identical key is another command. The request is
//! named by a [`RequestFingerprint`] (operation + a digest of its normalized arguments),
//! stored as the command id's request tag (`opsledger_storage::command_id`) in every
//! event the command writes, so the binding survives restarts and export/import.

use opsledger_storage::command_id;

/// Hex digits of the actor-and-key digest in a command id (128 bits).
const SCOPE_HEX: usize = 32;
/// Hex digits of the arguments digest in a request tag (128 bits).
const ARGS_HEX: usize = 32;

/// The request an idempotency key was used for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestFingerprint {
    /// The operation (the GraphQL mutation field, e.g. `registerService`).
    operation: String,
    /// Hex digest of the normalized arguments; `None` when the caller's key itself
    /// identifies the arguments (in-process callers such as the alert webhook).
    arguments: Option<String>,
}

impl RequestFingerprint {
    /// `operation` with arguments whose normalized encoding is `normalized`.
    pub fn new(operation: &str, normalized: &[u8]) -> Self {
        let digest = blake3::hash(normalized).to_hex();
        RequestFingerprint {
            operation: clean_operation(operation),
            arguments: Some(digest[..ARGS_HEX].to_owned()),
        }
    }

    /// `operation` alone: the key identifies the arguments (a webhook delivery's key).
    pub fn operation_only(operation: &str) -> Self {
        RequestFingerprint {
            operation: clean_operation(operation),
            arguments: None,
        }
    }

    /// The operation.
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// As a command id's request tag: `operation` or `operation:digest`.
    pub fn tag(&self) -> String {
        match &self.arguments {
            Some(digest) => format!("{}:{digest}", self.operation),
            None => self.operation.clone(),
        }
    }
}

/// Operation names are identifiers; anything else is dropped so a tag always parses.
fn clean_operation(operation: &str) -> String {
    operation
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

/// The operation named by a stored command id's request tag (`None`: untagged, written
/// before keys were bound to requests).
pub fn operation_of(stored_command_id: &str) -> Option<&str> {
    let tag = command_id::request_tag(stored_command_id)?;
    Some(tag.split_once(':').map_or(tag, |(operation, _)| operation))
}

/// The command id of `key` sent by `actor` for `request`: `k<digest of actor and key>#<tag>`.
pub fn command_id_for(actor: &str, key: &str, request: &RequestFingerprint) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in [actor, key] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let scope = format!("k{}", &hasher.finalize().to_hex()[..SCOPE_HEX]);
    command_id::with_request_tag(&scope, &request.tag())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_scoped_to_its_actor_and_tagged_with_its_request() {
        let register = RequestFingerprint::new("registerService", b"{\"name\":\"a\"}");
        let alice = command_id_for("alice", "k1", &register);
        assert_eq!(command_id::id_part(&alice).len(), 1 + SCOPE_HEX);
        assert_ne!(
            command_id::id_part(&alice),
            command_id::id_part(&command_id_for("erin", "k1", &register))
        );
        // Length-prefixed: ("ab", "c") and ("a", "bc") are different scopes.
        assert_ne!(
            command_id::id_part(&command_id_for("ab", "c", &register)),
            command_id::id_part(&command_id_for("a", "bc", &register))
        );
        let other_args = RequestFingerprint::new("registerService", b"{\"name\":\"b\"}");
        let reused = command_id_for("alice", "k1", &other_args);
        assert_eq!(command_id::id_part(&reused), command_id::id_part(&alice));
        assert_ne!(
            command_id::request_tag(&reused),
            command_id::request_tag(&alice)
        );
        assert_eq!(operation_of(&alice), Some("registerService"));
        assert_eq!(operation_of("legacy-key"), None);
    }

    #[test]
    fn operation_only_tags_name_the_operation() {
        let webhook = RequestFingerprint::operation_only("ingestAlert");
        assert_eq!(webhook.tag(), "ingestAlert");
        assert_eq!(
            operation_of(&command_id_for("am", "k", &webhook)),
            Some("ingestAlert")
        );
        assert_eq!(
            RequestFingerprint::operation_only("a#b:c").operation(),
            "abc"
        );
    }
}
