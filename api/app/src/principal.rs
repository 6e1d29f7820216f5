//! Who acts: the authenticated actor and its roles (checked by [`crate::guard`]),
//! and the domain context of a command decided on its behalf. The server authenticates (`opsledger_server::auth`);
//! the application core only needs this.

use opsledger_domain::{Actor, Context, Role, Timestamp};

/// An authenticated actor and the roles its token grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Who acts (recorded as the actor of every event it causes).
    pub actor: Actor,
    /// The roles granted by the token.
    pub roles: Vec<Role>,
}

impl Principal {
    /// A principal named `actor` holding `roles`.
    pub fn new(actor: impl Into<String>, roles: Vec<Role>) -> Self {
        Principal {
            actor: Actor(actor.into()),
            roles,
        }
    }

    /// Whether the principal's roles grant `role` (every role grants viewer,
    /// admin grants every role: [`Role::grants`]).
    pub fn has_role(&self, role: Role) -> bool {
        Role::any_grants(&self.roles, role)
    }

    /// The domain context for a command decided at `now` on behalf of this principal.
    pub fn context(&self, now: Timestamp) -> Context {
        Context {
            now,
            actor: self.actor.clone(),
        }
    }
}
