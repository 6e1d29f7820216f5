//! Incidents: the incident, its alert groups, timeline, status updates.

use super::*;

/// The impact of an incident on one service.
#[derive(Clone, Debug)]
pub struct ServiceImpact {
    /// The service.
    pub service: ServiceId,
    /// How badly.
    pub level: ImpactLevel,
    /// Where the service resolves.
    pub source: Source,
}

#[Object]
impl ServiceImpact {
    /// The service's id.
    async fn service_id(&self) -> ID {
        gid(self.service)
    }
    /// The service (null if unknown to the read models; as of the same point for an
    /// entity of `incidentAsOf`).
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Service>> {
        Ok(self
            .source
            .read(ctx, |m| Service::load_at(m, self.service, &self.source))?)
    }
    /// How badly it is hit.
    async fn level(&self) -> ImpactLevel {
        self.level
    }
}

impl ServiceImpact {
    /// The impact `i`, its service resolved from `source`.
    pub fn new(i: &opsledger_domain::incident::ServiceImpact, source: &Source) -> Self {
        ServiceImpact {
            service: i.service,
            level: i.level.into(),
            source: source.clone(),
        }
    }
}

/// A status update posted on an incident.
#[derive(SimpleObject, Clone, Debug)]
pub struct StatusUpdate {
    /// When.
    pub at: DateTime,
    /// Who posted it.
    pub by: String,
    /// Internal or public.
    pub visibility: Visibility,
    /// The incident's status when posted.
    pub status: IncidentStatus,
    /// The text.
    pub message: String,
}

/// One entry of an incident's timeline (one event of its stream).
#[derive(SimpleObject, Clone, Debug)]
pub struct TimelineItem {
    /// Log position of the event.
    pub position: u64,
    /// When it happened.
    pub at: DateTime,
    /// Who did it.
    pub actor: String,
    /// The event type, e.g. `IncidentAcknowledged`.
    pub kind: String,
    /// A human summary.
    pub text: String,
}

/// A runbook of a service impacted by an incident.
#[derive(SimpleObject, Clone, Debug)]
pub struct Runbook {
    /// The service's id.
    pub service_id: ID,
    /// The service's name.
    pub service_name: String,
    /// The runbook link.
    pub url: String,
}

/// Identifies an alert group: service and dedup key.
#[derive(SimpleObject, Clone, Debug)]
pub struct AlertGroupKey {
    /// The service's id.
    pub service_id: ID,
    /// The deduplication key.
    pub dedup_key: String,
}

/// Alerts correlated by service and dedup key.
#[derive(SimpleObject, Clone, Debug)]
pub struct AlertGroup {
    /// Its key.
    pub key: AlertGroupKey,
    /// The open incident it feeds, if any.
    pub open_incident_id: Option<ID>,
    /// Whether its last alert was firing.
    pub firing: bool,
    /// Firing alerts received.
    pub received: u64,
    /// Alerts attached to an already open incident.
    pub suppressed: u64,
    /// Resolved alerts received.
    pub resolved: u64,
    /// Incidents opened by it.
    pub incidents_opened: u64,
    /// When the last alert arrived.
    pub last_received_at: Option<DateTime>,
}

impl AlertGroup {
    /// A linked group that has never received an alert (no alert-group stream
    /// yet): its key, no open incident, every counter zero.
    pub fn never_fired(key: &opsledger_domain::alert::AlertGroupKey) -> Self {
        AlertGroup {
            key: AlertGroupKey {
                service_id: gid(key.service),
                dedup_key: key.dedup_key.clone(),
            },
            open_incident_id: None,
            firing: false,
            received: 0,
            suppressed: 0,
            resolved: 0,
            incidents_opened: 0,
            last_received_at: None,
        }
    }
}

impl From<&AlertGroupView> for AlertGroup {
    fn from(g: &AlertGroupView) -> Self {
        AlertGroup {
            key: AlertGroupKey {
                service_id: gid(g.key.service),
                dedup_key: g.key.dedup_key.clone(),
            },
            open_incident_id: g.open_incident.map(gid),
            firing: g.firing,
            received: g.received,
            suppressed: g.suppressed,
            resolved: g.resolved,
            incidents_opened: g.incidents_opened,
            last_received_at: g.last_received_at.map(dt),
        }
    }
}

/// An incident.
#[derive(Clone, Debug)]
pub struct Incident(pub IncidentView, pub Source);

impl Incident {
    /// The incident `id` from the read models.
    pub fn load(m: &ReadModels, id: IncidentId) -> Option<Incident> {
        Incident::load_at(m, id, &Source::Live)
    }

    /// The incident `id` from the read models of `source` (its links resolve there).
    pub fn load_at(m: &ReadModels, id: IncidentId, source: &Source) -> Option<Incident> {
        m.incidents
            .get(id)
            .cloned()
            .map(|v| Incident(v, source.clone()))
    }

    /// The incident `id` from the projections handle.
    pub fn fetch(handle: &Projections, id: IncidentId) -> Option<Incident> {
        handle.read(|m| Incident::load(m, id))
    }
}

impl From<IncidentView> for Incident {
    /// A live incident (links resolve against the current read models).
    fn from(view: IncidentView) -> Self {
        Incident(view, Source::Live)
    }
}

#[Object]
impl Incident {
    /// Incident id (ULID).
    async fn id(&self) -> ID {
        gid(self.0.id)
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Description.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Lifecycle status.
    async fn status(&self) -> IncidentStatus {
        self.0.status.into()
    }
    /// Current severity.
    async fn severity(&self) -> Severity {
        self.0.severity.into()
    }
    /// Whether it is still active (not resolved, closed or merged).
    async fn active(&self) -> bool {
        self.0.is_active()
    }
    /// Impacted services (the first is the primary one).
    async fn impacts(&self) -> Vec<ServiceImpact> {
        self.0
            .impacts
            .iter()
            .map(|i| ServiceImpact::new(i, &self.1))
            .collect()
    }
    /// When the problem started.
    async fn started_at(&self) -> DateTime {
        dt(self.0.started_at)
    }
    /// When it was detected.
    async fn detected_at(&self) -> DateTime {
        dt(self.0.detected_at)
    }
    /// When it was declared.
    async fn triggered_at(&self) -> DateTime {
        dt(self.0.triggered_at)
    }
    /// First acknowledgement.
    async fn acknowledged_at(&self) -> Option<DateTime> {
        self.0.acknowledged_at.map(dt)
    }
    /// When it reached monitoring (mitigated).
    async fn mitigated_at(&self) -> Option<DateTime> {
        self.0.mitigated_at.map(dt)
    }
    /// Latest resolution.
    async fn resolved_at(&self) -> Option<DateTime> {
        self.0.resolved_at.map(dt)
    }
    /// When it was closed.
    async fn closed_at(&self) -> Option<DateTime> {
        self.0.closed_at.map(dt)
    }
    /// Incident commander.
    async fn commander(&self) -> Option<&str> {
        self.0.commander.as_ref().map(|a| a.as_str())
    }
    /// Responders.
    async fn responders(&self) -> Vec<&str> {
        self.0.responders.iter().map(|a| a.as_str()).collect()
    }
    /// Current escalation level (0 = first).
    async fn escalation_level(&self) -> u32 {
        self.0.escalation_level
    }
    /// Id of the change named as its cause.
    async fn cause_change_id(&self) -> Option<ID> {
        self.0.cause_change.map(gid)
    }
    /// The change named as its cause (as of the same point for an entity of
    /// `incidentAsOf`).
    async fn cause_change(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Change>> {
        let Some(id) = self.0.cause_change else {
            return Ok(None);
        };
        Ok(self.1.read(ctx, |m| Change::load_at(m, id, &self.1))?)
    }
    /// Linked alert groups in link order (the first is the one that opened it, if
    /// any). A group linked before it ever received an alert is listed
    /// with zero counters. For an entity of `incidentAsOf`: the groups linked then,
    /// with their counters then.
    async fn alert_groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AlertGroup>> {
        Ok(self.1.read(ctx, |m| {
            self.0
                .alert_groups
                .iter()
                .map(|k| {
                    m.incidents
                        .alert_group(k)
                        .map_or_else(|| AlertGroup::never_fired(k), AlertGroup::from)
                })
                .collect()
        })?)
    }
    /// The incident it was merged into.
    async fn merged_into_id(&self) -> Option<ID> {
        self.0.merged_into.map(gid)
    }
    /// Duplicates merged into it.
    async fn duplicate_ids(&self) -> Vec<ID> {
        self.0.duplicates.iter().map(|&i| gid(i)).collect()
    }
    /// Resolution summary.
    async fn resolution_summary(&self) -> Option<&str> {
        self.0.resolution_summary.as_deref()
    }
    /// Times it was reopened.
    async fn reopen_count(&self) -> u32 {
        self.0.reopen_count
    }
    /// Its post-incident reviews, oldest first (for an entity of `incidentAsOf`: the
    /// reviews created by then, each as it was then).
    async fn reviews(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Review>> {
        load_many(ctx, &self.1, &self.0.reviews, Review::load_at)
    }
    /// Every status update, oldest first.
    async fn status_updates(&self) -> Vec<StatusUpdate> {
        self.0
            .status_updates
            .iter()
            .map(|u| StatusUpdate {
                at: dt(u.at),
                by: u.by.0.clone(),
                visibility: u.visibility.into(),
                status: u.status.into(),
                message: u.message.clone(),
            })
            .collect()
    }
    /// Runbooks of the impacted services that have one (as of the same point for an
    /// entity of `incidentAsOf`).
    async fn runbooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Runbook>> {
        Ok(self.1.read(ctx, |m| {
            self.0
                .impacts
                .iter()
                .filter_map(|i| m.services.get(i.service))
                .filter_map(|s| {
                    s.profile.runbook_url.as_ref().map(|url| Runbook {
                        service_id: gid(s.id),
                        service_name: s.profile.name.clone(),
                        url: url.clone(),
                    })
                })
                .collect()
        })?)
    }
    /// Every event of its stream as a timeline, oldest first, read from the log (for an
    /// entity of `incidentAsOf`: only the events at or before that point).
    async fn timeline(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TimelineItem>> {
        let store = store(ctx)?;
        let items =
            opsledger_projections::models::incidents::incident_timeline(store.as_ref(), self.0.id)
                .await
                .map_err(ApiError::internal)?;
        let until = self.1.position().unwrap_or(u64::MAX);
        Ok(items
            .into_iter()
            .take_while(|t| t.position <= until)
            .map(|t| TimelineItem {
                position: t.position,
                at: dt(t.at),
                actor: t.actor,
                kind: t.kind,
                text: t.text,
            })
            .collect())
    }
    /// Stream version of its last event (what `expectedVersion` takes).
    async fn version(&self) -> u64 {
        self.0.version
    }
}
