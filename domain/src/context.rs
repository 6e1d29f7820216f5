//! Who acts at what time: everything `decide` needs from the outside world
//! besides the command and its facts. [`Role`] is the vocabulary of the
//! tokens' grants; the application checks it, the domain never does.

use crate::time::Timestamp;
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
    /// May read the whole log and its Merkle proofs and checkpoints; writes nothing.
    Auditor,
}

impl Role {
    /// Parses the wire name (`viewer`, `responder`, `approver`, `change_manager`, `admin`,
    /// `auditor`).
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "viewer" => Some(Role::Viewer),
            "responder" => Some(Role::Responder),
            "approver" => Some(Role::Approver),
            "change_manager" => Some(Role::ChangeManager),
            "admin" => Some(Role::Admin),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }

    /// Whether holding this role grants `wanted`: every role grants itself and
    /// [`Role::Viewer`] (every authenticated role may read what a viewer reads),
    /// and [`Role::Admin`] grants every role.
    pub fn grants(self, wanted: Role) -> bool {
        self == wanted || self == Role::Admin || wanted == Role::Viewer
    }

    /// Whether any of `held` grants `wanted` (see [`Role::grants`]).
    pub fn any_grants(held: &[Role], wanted: Role) -> bool {
        held.iter().any(|role| role.grants(wanted))
    }

    /// The wire name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Approver => "approver",
            Role::ChangeManager => "change_manager",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }
}

/// The outside world as plain data: the time and the actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The current time (from an injected clock).
    pub now: Timestamp,
    /// The authenticated actor.
    pub actor: Actor,
}

impl Context {
    /// A context for `actor` at `now`.
    pub fn new(now: Timestamp, actor: impl Into<String>) -> Self {
        Context {
            now,
            actor: Actor(actor.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Responder,
        Role::Approver,
        Role::ChangeManager,
        Role::Admin,
    ];

    #[test]
    fn every_role_grants_viewer() {
        for role in ALL {
            assert!(role.grants(Role::Viewer), "{role:?}");
        }
    }

    #[test]
    fn admin_grants_every_role() {
        for role in ALL {
            assert!(Role::Admin.grants(role), "{role:?}");
        }
    }

    #[test]
    fn other_roles_grant_only_themselves_and_viewer() {
        assert!(!Role::Viewer.grants(Role::Responder));
        assert!(!Role::Responder.grants(Role::Approver));
        assert!(!Role::Approver.grants(Role::ChangeManager));
        assert!(!Role::ChangeManager.grants(Role::Approver));
        assert!(!Role::Responder.grants(Role::Admin));
    }

    #[test]
    fn no_role_grants_nothing() {
        assert!(!Role::any_grants(&[], Role::Viewer));
    }
}
