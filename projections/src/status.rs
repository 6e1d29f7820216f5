//! The public status page, derived on query from the read models: per
//! service health with downstream propagation, active incidents with their
//! public updates, and scheduled maintenance.

use std::collections::BTreeMap;

use opsledger_domain::change::ChangeStatus;
use opsledger_domain::incident::{ImpactLevel, IncidentStatus, ServiceImpact, Severity};
use opsledger_domain::{ChangeId, IncidentId, ServiceId, TimeWindow, Timestamp};

use crate::models::ReadModels;

/// A service's health on the status page, mildest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceHealth {
    /// All good.
    Operational,
    /// A change is being implemented on it.
    UnderMaintenance,
    /// Degraded performance (own impact, or a dependency is impacted).
    Degraded,
    /// Partial outage.
    PartialOutage,
    /// Major outage.
    MajorOutage,
}

impl ServiceHealth {
    fn of_impact(level: ImpactLevel) -> Self {
        match level {
            ImpactLevel::Degraded => ServiceHealth::Degraded,
            ImpactLevel::PartialOutage => ServiceHealth::PartialOutage,
            ImpactLevel::MajorOutage => ServiceHealth::MajorOutage,
        }
    }
}

/// One service's line on the status page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceStatus {
    /// The service.
    pub id: ServiceId,
    /// Its name.
    pub name: String,
    /// What is shown: the worst of its own health and propagated impact.
    pub health: ServiceHealth,
    /// Its own health from incidents and maintenance alone.
    pub own_health: ServiceHealth,
    /// Impacted upstream services it depends on (directly or transitively).
    pub impacted_via: Vec<ServiceId>,
    /// Active incidents impacting it directly.
    pub incidents: Vec<IncidentId>,
    /// Changes in progress on it.
    pub maintenance: Vec<ChangeId>,
}

/// A public update of an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUpdate {
    /// When.
    pub at: Timestamp,
    /// The incident's status then.
    pub status: IncidentStatus,
    /// The message.
    pub message: String,
}

/// An active incident as the public sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicIncident {
    /// The incident.
    pub id: IncidentId,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// Status.
    pub status: IncidentStatus,
    /// Impacted services.
    pub impacts: Vec<ServiceImpact>,
    /// Impact start.
    pub started_at: Timestamp,
    /// Public updates, oldest first.
    pub updates: Vec<PublicUpdate>,
}

/// A scheduled change shown as upcoming maintenance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledMaintenance {
    /// The change.
    pub change: ChangeId,
    /// Its title.
    pub title: String,
    /// Services it touches.
    pub services: Vec<ServiceId>,
    /// Its window.
    pub window: TimeWindow,
}

/// The whole status page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusPage {
    /// The worst health of any service.
    pub overall: ServiceHealth,
    /// Every active service, by name.
    pub services: Vec<ServiceStatus>,
    /// Active incidents, oldest first.
    pub active_incidents: Vec<PublicIncident>,
    /// Scheduled changes, by window start.
    pub scheduled_maintenance: Vec<ScheduledMaintenance>,
}

/// Builds the status page from the read models.
pub fn status_page(models: &ReadModels) -> StatusPage {
    let mut own: BTreeMap<ServiceId, (ServiceHealth, Vec<IncidentId>, Vec<ChangeId>)> =
        BTreeMap::new();
    let mut active: Vec<_> = models.incidents.active().collect();
    active.sort_by_key(|i| (i.started_at, i.id));
    for incident in &active {
        for impact in &incident.impacts {
            let entry = own.entry(impact.service).or_insert((
                ServiceHealth::Operational,
                Vec::new(),
                Vec::new(),
            ));
            entry.0 = entry.0.max(ServiceHealth::of_impact(impact.level));
            entry.1.push(incident.id);
        }
    }
    for change in models.changes.all().filter(|c| c.is_in_progress()) {
        for service in &change.services {
            let entry =
                own.entry(*service)
                    .or_insert((ServiceHealth::Operational, Vec::new(), Vec::new()));
            entry.0 = entry.0.max(ServiceHealth::UnderMaintenance);
            entry.2.push(change.id);
        }
    }
    let impacted_roots = own
        .iter()
        .filter(|(_, (h, _, _))| *h >= ServiceHealth::Degraded)
        .map(|(id, _)| *id);
    let propagated = models.services.graph().propagate(impacted_roots);

    let mut services: Vec<ServiceStatus> = models
        .services
        .all()
        .filter(|s| !s.retired)
        .map(|s| {
            let (own_health, incidents, maintenance) = own.get(&s.id).cloned().unwrap_or((
                ServiceHealth::Operational,
                Vec::new(),
                Vec::new(),
            ));
            let impacted_via: Vec<ServiceId> = propagated
                .get(&s.id)
                .map(|roots| roots.iter().copied().collect())
                .unwrap_or_default();
            let health = if impacted_via.is_empty() {
                own_health
            } else {
                own_health.max(ServiceHealth::Degraded)
            };
            ServiceStatus {
                id: s.id,
                name: s.profile.name.clone(),
                health,
                own_health,
                impacted_via,
                incidents,
                maintenance,
            }
        })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));

    let active_incidents = active
        .iter()
        .map(|i| PublicIncident {
            id: i.id,
            title: i.title.clone(),
            severity: i.severity,
            status: i.status,
            impacts: i.impacts.clone(),
            started_at: i.started_at,
            updates: i
                .public_updates()
                .map(|u| PublicUpdate {
                    at: u.at,
                    status: u.status,
                    message: u.message.clone(),
                })
                .collect(),
        })
        .collect();

    let mut scheduled_maintenance: Vec<ScheduledMaintenance> = models
        .changes
        .all()
        .filter(|c| c.status == ChangeStatus::Scheduled)
        .map(|c| ScheduledMaintenance {
            change: c.id,
            title: c.title.clone(),
            services: c.services.clone(),
            window: c.window,
        })
        .collect();
    scheduled_maintenance.sort_by_key(|m| (m.window.start, m.change));

    StatusPage {
        overall: services
            .iter()
            .map(|s| s.health)
            .max()
            .unwrap_or(ServiceHealth::Operational),
        services,
        active_incidents,
        scheduled_maintenance,
    }
}
