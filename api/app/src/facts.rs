//! The cross-aggregate facts a decision needs, read from the projections (and,
//! for a review, the incident's own stream).

use super::stream::{load, Loaded};
use super::{AppError, AppService};
use opsledger_domain::incident::{IncidentState, ServiceFacts};
use opsledger_domain::review::{IncidentFacts, TimelineEntry};
use opsledger_domain::service::{CatalogFacts, ServiceProfile};
use opsledger_domain::{Actor, IncidentId, ServiceId};

/// Name-uniqueness and dependency facts for registering or updating `id`.
pub(crate) fn catalog_facts(
    app: &AppService,
    id: ServiceId,
    profile: &ServiceProfile,
) -> CatalogFacts {
    app.projections.read(|m| CatalogFacts {
        name_taken: m
            .services
            .by_name(&profile.name)
            .is_some_and(|other| other.id != id),
        dependency_graph: m.services.dependency_graph_without(Some(id)),
    })
}

/// The facts about a service an incident declaration needs.
pub(crate) fn incident_service_facts(
    app: &AppService,
    id: ServiceId,
) -> Result<ServiceFacts, AppError> {
    app.projections
        .read(|m| {
            m.services.get(id).map(|v| ServiceFacts {
                tier: v.profile.tier,
                retired: v.retired,
                escalation_policy: v.profile.escalation_policy.clone(),
            })
        })
        .ok_or_else(|| AppError::not_found("service", id))
}

/// The facts about an incident a review needs (status, severity, generated timeline).
pub(crate) async fn incident_facts(
    app: &AppService,
    id: IncidentId,
) -> Result<IncidentFacts, AppError> {
    let loaded: Loaded<IncidentState> = load(app.store.as_ref(), &id.stream_id()).await?;
    if !loaded.state.is_declared() {
        return Err(AppError::not_found("incident", id));
    }
    let timeline =
        opsledger_projections::models::incidents::incident_timeline(app.store.as_ref(), id)
            .await
            .map_err(AppError::Projection)?
            .into_iter()
            .map(|item| TimelineEntry {
                at: item.at,
                actor: Actor(item.actor),
                kind: item.kind,
                text: item.text,
            })
            .collect();
    Ok(IncidentFacts {
        id,
        status: loaded.state.status,
        severity: loaded.state.severity,
        timeline,
    })
}
