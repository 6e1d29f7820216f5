//! Bearer-token authentication: the token table (from a TOML file or the
//! `OPSLEDGER_TOKENS` variable), the authenticated [`Principal`] and the
//! guards resolvers call ([`require_principal`], [`authorize`], which asks the app's one guard).
//!
//! The principal travels in the GraphQL request data as `Option<Principal>`
//! (`None` = anonymous, which public operations such as the status page accept).

use crate::error::ApiError;
use async_graphql::Context as GqlContext;
use opsledger_domain::Role;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The environment variable holding tokens as `SECRET:ACTOR:ROLE+ROLE,...`.
pub const TOKENS_ENV: &str = "OPSLEDGER_TOKENS";

pub use crate::app::principal::Principal;

/// Why the token configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenConfigError {
    /// The token file could not be read.
    #[error("cannot read the token file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The token file is not valid TOML of the expected shape.
    #[error("the token file {path} is not valid (expected [[token]] secret=\"..\" actor=\"..\" roles=[\"viewer\"]): {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error.
        reason: String,
    },
    /// An entry of `OPSLEDGER_TOKENS` is not `SECRET:ACTOR:ROLE+ROLE`.
    #[error("{TOKENS_ENV} entry {index} is not SECRET:ACTOR:ROLE+ROLE")]
    EnvEntry {
        /// 1-based index of the entry.
        index: usize,
    },
    /// A role name is unknown.
    #[error("unknown role `{role}` for actor `{actor}` (known: viewer, responder, approver, change_manager, admin, auditor)")]
    UnknownRole {
        /// The actor of the entry.
        actor: String,
        /// The unknown role.
        role: String,
    },
    /// A secret or actor is empty.
    #[error("a token for actor `{actor}` has an empty secret or actor name")]
    Empty {
        /// The actor of the entry.
        actor: String,
    },
    /// The same secret is configured twice.
    #[error("the secret of actor `{actor}` is configured twice")]
    DuplicateSecret {
        /// The actor of the second entry.
        actor: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    #[serde(default)]
    token: Vec<TokenFileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFileEntry {
    secret: String,
    actor: String,
    roles: Vec<String>,
}

/// The fixed-length digest a secret is compared by: comparing digests in
/// constant time takes the same time whatever the presented secret's length
/// (comparing the secrets themselves returned early on a length mismatch).
type SecretDigest = [u8; blake3::OUT_LEN];

fn secret_digest(secret: &str) -> SecretDigest {
    *blake3::hash(secret.as_bytes()).as_bytes()
}

/// Whether two digests are equal, in time independent of where they differ.
fn digests_match(a: &SecretDigest, b: &SecretDigest) -> bool {
    constant_time_eq::constant_time_eq_32(a, b)
}

struct TokenEntry {
    digest: SecretDigest,
    principal: Principal,
}

/// The configured bearer tokens.
#[derive(Default)]
pub struct TokenTable {
    entries: Vec<TokenEntry>,
}

impl std::fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("TokenTable")
            .field("tokens", &self.entries.len())
            .finish()
    }
}

impl TokenTable {
    /// An empty table (every token is refused; public operations still work).
    pub fn new() -> Self {
        TokenTable::default()
    }

    /// Adds a token `secret` for `principal`.
    pub fn insert(&mut self, secret: &str, principal: Principal) -> Result<(), TokenConfigError> {
        if secret.is_empty() || principal.actor.as_str().is_empty() {
            return Err(TokenConfigError::Empty {
                actor: principal.actor.0,
            });
        }
        let digest = secret_digest(secret);
        if self.entries.iter().any(|e| e.digest == digest) {
            return Err(TokenConfigError::DuplicateSecret {
                actor: principal.actor.0,
            });
        }
        self.entries.push(TokenEntry { digest, principal });
        Ok(())
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds the tokens of a TOML document (`[[token]] secret actor roles`); `path` names it in errors.
    pub fn add_toml(&mut self, text: &str, path: &Path) -> Result<(), TokenConfigError> {
        let file: TokenFile = toml::from_str(text).map_err(|e| TokenConfigError::Parse {
            path: path.to_path_buf(),
            reason: e.message().to_string(),
        })?;
        for entry in file.token {
            let roles = parse_roles(&entry.actor, entry.roles.iter().map(String::as_str))?;
            self.insert(&entry.secret, Principal::new(entry.actor, roles))?;
        }
        Ok(())
    }

    /// Adds the tokens of an `OPSLEDGER_TOKENS` value (`SECRET:ACTOR:ROLE+ROLE,...`).
    pub fn add_env_spec(&mut self, spec: &str) -> Result<(), TokenConfigError> {
        for (i, item) in spec.split(',').map(str::trim).enumerate() {
            if item.is_empty() {
                continue;
            }
            let mut parts = item.splitn(3, ':');
            let (Some(secret), Some(actor), Some(roles)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(TokenConfigError::EnvEntry { index: i + 1 });
            };
            let roles = parse_roles(actor, roles.split('+'))?;
            self.insert(secret, Principal::new(actor, roles))?;
        }
        Ok(())
    }

    /// Loads the table from an optional token file plus an optional env spec.
    pub fn load(file: Option<&Path>, env_spec: Option<&str>) -> Result<Self, TokenConfigError> {
        let mut table = TokenTable::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| TokenConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            table.add_toml(&text, path)?;
        }
        if let Some(spec) = env_spec {
            table.add_env_spec(spec)?;
        }
        Ok(table)
    }

    /// The principal of `secret`, comparing its digest against every entry's in constant time.
    pub fn authenticate(&self, secret: &str) -> Option<&Principal> {
        let presented = secret_digest(secret);
        let mut found = None;
        for entry in &self.entries {
            // No early exit: the time taken does not depend on which entry matches.
            if digests_match(&entry.digest, &presented) {
                found = Some(&entry.principal);
            }
        }
        found
    }

    /// The principal of an `Authorization` header value: `Ok(None)` when absent,
    /// [`ApiError::InvalidToken`] when present but not a known bearer token.
    pub fn from_authorization(&self, header: Option<&str>) -> Result<Option<Principal>, ApiError> {
        let Some(value) = header else {
            return Ok(None);
        };
        let secret = bearer_secret(value).ok_or(ApiError::InvalidToken)?;
        self.authenticate(secret)
            .cloned()
            .map(Some)
            .ok_or(ApiError::InvalidToken)
    }
}

/// The secret of `Bearer <secret>` (scheme case-insensitive), if the value has that form.
pub fn bearer_secret(value: &str) -> Option<&str> {
    let (scheme, secret) = value.trim().split_once(' ')?;
    let secret = secret.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !secret.is_empty()).then_some(secret)
}

fn parse_roles<'a>(
    actor: &str,
    names: impl Iterator<Item = &'a str>,
) -> Result<Vec<Role>, TokenConfigError> {
    names
        .map(|name| {
            Role::parse(name.trim()).ok_or_else(|| TokenConfigError::UnknownRole {
                actor: actor.to_string(),
                role: name.to_string(),
            })
        })
        .collect()
}

/// The authenticated principal of the request, if any.
pub fn principal<'a>(ctx: &GqlContext<'a>) -> Option<&'a Principal> {
    ctx.data_opt::<Option<Principal>>().and_then(Option::as_ref)
}

/// The authenticated principal, or [`ApiError::Unauthenticated`].
pub fn require_principal<'a>(ctx: &GqlContext<'a>) -> Result<&'a Principal, ApiError> {
    principal(ctx).ok_or(ApiError::Unauthenticated)
}

/// The authenticated principal if the one guard ([`crate::app::authorize`]) lets it do
/// `operation`, else [`ApiError::Unauthenticated`] / [`ApiError::Forbidden`].
pub fn authorize<'a>(
    ctx: &GqlContext<'a>,
    operation: crate::app::Operation<'_>,
) -> Result<&'a Principal, ApiError> {
    let principal = require_principal(ctx)?;
    crate::app::authorize(principal, operation)?;
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TokenTable {
        let mut t = TokenTable::new();
        t.add_toml(
            r#"
            [[token]]
            secret = "s-alice"
            actor = "alice"
            roles = ["responder", "approver"]
            "#,
            Path::new("tokens.toml"),
        )
        .unwrap();
        t.add_env_spec("s-bob:bob:viewer, s-root:root:admin")
            .unwrap();
        t
    }

    #[test]
    fn toml_and_env_tokens_map_to_actor_and_roles() {
        let t = table();
        assert_eq!(
            t.authenticate("s-alice"),
            Some(&Principal::new(
                "alice",
                vec![Role::Responder, Role::Approver]
            ))
        );
        assert_eq!(
            t.authenticate("s-bob"),
            Some(&Principal::new("bob", vec![Role::Viewer]))
        );
        assert_eq!(t.authenticate("s-nobody"), None);
        assert_eq!(t.authenticate(""), None);
    }

    #[test]
    fn authorization_header_needs_the_bearer_scheme() {
        let t = table();
        assert_eq!(t.from_authorization(None).unwrap(), None);
        assert_eq!(
            t.from_authorization(Some("bearer s-bob")).unwrap(),
            Some(Principal::new("bob", vec![Role::Viewer]))
        );
        assert!(matches!(
            t.from_authorization(Some("Basic s-bob")),
            Err(ApiError::InvalidToken)
        ));
        assert!(matches!(
            t.from_authorization(Some("Bearer wrong")),
            Err(ApiError::InvalidToken)
        ));
    }

    #[test]
    fn secrets_of_any_length_are_compared_as_fixed_length_digests() {
        let long = "s".repeat(10_000);
        let mut t = TokenTable::new();
        t.insert("x", Principal::new("short", vec![Role::Viewer]))
            .unwrap();
        t.insert(&long, Principal::new("long", vec![Role::Viewer]))
            .unwrap();
        // Whatever the length presented, both sides of the compare are one digest long.
        for presented in ["", "x", "xx", "s-wrong", long.as_str(), &long[1..]] {
            assert_eq!(secret_digest(presented).len(), blake3::OUT_LEN);
        }
        assert_eq!(t.authenticate("x").unwrap().actor.as_str(), "short");
        assert_eq!(t.authenticate(&long).unwrap().actor.as_str(), "long");
        // A prefix, an extension or a different length of a secret is no match.
        for wrong in ["", "xx", "X", &long[1..], &format!("{long}s")] {
            assert_eq!(t.authenticate(wrong), None, "{} bytes", wrong.len());
        }
        assert!(digests_match(&secret_digest("x"), &secret_digest("x")));
        assert!(!digests_match(&secret_digest("x"), &secret_digest(&long)));
    }

    #[test]
    fn admin_holds_every_role() {
        let root = Principal::new("root", vec![Role::Admin]);
        assert!(root.has_role(Role::ChangeManager));
        let bob = Principal::new("bob", vec![Role::Viewer]);
        assert!(!bob.has_role(Role::Responder));
    }

    #[test]
    fn every_role_reads_what_a_viewer_reads() {
        let rita = Principal::new("rita", vec![Role::Responder]);
        assert!(rita.has_role(Role::Viewer));
        let ann = Principal::new("ann", vec![Role::Approver]);
        assert!(ann.has_role(Role::Viewer));
        assert!(!ann.has_role(Role::Responder));
        let nobody = Principal::new("nobody", vec![]);
        assert!(!nobody.has_role(Role::Viewer));
    }

    #[test]
    fn unknown_role_is_refused_naming_it() {
        let err = TokenTable::new()
            .add_env_spec("s:carol:viewer+king")
            .unwrap_err();
        assert!(matches!(err, TokenConfigError::UnknownRole { ref role, .. } if role == "king"));
    }

    #[test]
    fn malformed_env_entry_is_refused_with_its_index() {
        let err = TokenTable::new()
            .add_env_spec("a:b:viewer,oops")
            .unwrap_err();
        assert!(matches!(err, TokenConfigError::EnvEntry { index: 2 }));
    }

    #[test]
    fn duplicate_secret_is_refused() {
        let err = TokenTable::new()
            .add_env_spec("a:b:viewer,a:c:admin")
            .unwrap_err();
        assert!(matches!(err, TokenConfigError::DuplicateSecret { ref actor } if actor == "c"));
    }

    #[test]
    fn unknown_toml_key_is_refused() {
        let err = TokenTable::new()
            .add_toml(
                "[[token]]\nsecret='x'\nactor='a'\nroles=[]\nrole='admin'\n",
                Path::new("t.toml"),
            )
            .unwrap_err();
        assert!(matches!(err, TokenConfigError::Parse { .. }));
    }
}
