//! What a KPI question covers, decided with the state at the time: a team
//! covers a service only while it owned it, so an incident, change or alert
//! is attributed to the team that owned its service when it happened, and a
//! service counts for the windows in which it existed.

use opsledger_domain::ServiceId;

use crate::models::kpi_facts::{KpiFacts, ServiceFact};

/// Which incidents, changes and services a KPI covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KpiScope {
    /// Everything.
    Global,
    /// Incidents impacting, changes touching and alerts of one service.
    Service(ServiceId),
    /// The same for the services an owner team owned at the time.
    Team(String),
}

/// A scope that names nothing the log knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// No service with this id was ever registered.
    #[error("no service {0} was ever registered")]
    UnknownService(ServiceId),
    /// No service was ever owned by this team.
    #[error("no service was ever owned by team `{0}`")]
    UnknownTeam(String),
}

/// A scope checked against the facts.
pub(crate) struct Scope<'a> {
    facts: &'a KpiFacts,
    scope: &'a KpiScope,
}

impl<'a> Scope<'a> {
    /// Checks that the scope's service or team exists (or existed).
    pub(crate) fn resolve(facts: &'a KpiFacts, scope: &'a KpiScope) -> Result<Self, ScopeError> {
        match scope {
            KpiScope::Global => {}
            KpiScope::Service(id) if !facts.services.contains_key(id) => {
                return Err(ScopeError::UnknownService(*id))
            }
            KpiScope::Service(_) => {}
            KpiScope::Team(team) => {
                let known = facts
                    .services
                    .values()
                    .any(|s| s.profiles.iter().any(|(_, p)| &p.owner_team == team));
                if !known {
                    return Err(ScopeError::UnknownTeam(team.clone()));
                }
            }
        }
        Ok(Scope { facts, scope })
    }

    /// Whether everything is covered.
    pub(crate) fn is_global(&self) -> bool {
        matches!(self.scope, KpiScope::Global)
    }

    /// Whether the scope covers `service` at instant `at` (UTC ms).
    pub(crate) fn covers(&self, service: ServiceId, at: i64) -> bool {
        match self.scope {
            KpiScope::Global => true,
            KpiScope::Service(id) => *id == service,
            KpiScope::Team(team) => self
                .facts
                .services
                .get(&service)
                .is_some_and(|s| &s.profile_at(at).owner_team == team),
        }
    }

    /// Whether the scope covers any of `services` at `at`.
    pub(crate) fn covers_any(&self, services: &[ServiceId], at: i64) -> bool {
        self.is_global() || services.iter().any(|s| self.covers(*s, at))
    }

    /// The periods `[from, to)` of `service`'s life the scope covers.
    pub(crate) fn presence(&self, id: ServiceId, service: &ServiceFact) -> Vec<(i64, i64)> {
        match self.scope {
            KpiScope::Global => service.periods_where(|_| true),
            KpiScope::Service(s) if *s == id => service.periods_where(|_| true),
            KpiScope::Service(_) => Vec::new(),
            KpiScope::Team(team) => service.periods_where(|p| &p.owner_team == team),
        }
    }
}
