//! Who acts, with which roles, at what time: everything `decide` needs from
//! the outside world besides the command itself.

use crate::time::Timestamp;
use crate::DomainError;
use serde::{Deserialize, Serialize};

/// The authenticated actor (never a client-supplied name).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Actor(pub String);

impl Actor {
    /// The actor's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role granted to an actor by its token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// May read everything.
    Viewer,
    /// May work incidents and alerts.
    Responder,
    /// May approve or reject changes.
    Approver,
    /// May manage changes and freeze windows.
    ChangeManager,
    /// May do everything, including services and backups.
    Admin,
}

impl Role {
    /// Parses the wire name (`viewer`, `responder`, `approver`, `change_manager`, `admin`).
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "viewer" => Some(Role::Viewer),
            "responder" => Some(Role::Responder),
            "approver" => Some(Role::Approver),
            "change_manager" => Some(Role::ChangeManager),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The wire name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Approver => "approver",
            Role::ChangeManager => "change_manager",
            Role::Admin => "admin",
        }
    }
}

/// The outside world as plain data: the time, the actor and its roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The current time (from an injected clock).
    pub now: Timestamp,
    /// The authenticated actor.
    pub actor: Actor,
    /// The actor's roles.
    pub roles: Vec<Role>,
}

impl Context {
    /// A context for `actor` at `now` with `roles`.
    pub fn new(now: Timestamp, actor: impl Into<String>, roles: Vec<Role>) -> Self {
        Context {
            now,
            actor: Actor(actor.into()),
            roles,
        }
    }

    /// Whether the actor holds `role` (admins hold every role).
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role) || self.roles.contains(&Role::Admin)
    }

    /// `Ok` if the actor holds `role`, else [`DomainError::MissingRole`].
    pub fn require(&self, role: Role) -> Result<(), DomainError> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(DomainError::MissingRole(role))
        }
    }
}
