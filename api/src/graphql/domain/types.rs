//! The GraphQL object types of the read side, each a snapshot of one
//! projections read model view (`Incident(IncidentView)`, ...). Scalar fields
//! come from the snapshot; links to other entities (services of an incident,
//! its cause change, reviews, timeline, ...) are resolved on demand from the
//! current read models in the schema data.
//!
//! Build them with `Incident::load(&models, id)` inside `handle.read(..)`, or
//! `Incident::fetch(&handle, id)`.

use crate::error::ApiError;
use crate::graphql::scalars::DateTime;
use crate::SharedStore;
use async_graphql::{Context, Object, SimpleObject, ID};
use opsledger_domain::{
    ChangeId, FreezeId, IncidentId, ReviewId, ServiceId, TimeWindow as DomainWindow, Timestamp,
};
use opsledger_projections::models::changes::{ChangeView, FreezeView};
use opsledger_projections::models::incidents::{AlertGroupView, IncidentView};
use opsledger_projections::models::reviews::{ActionItemView, ReviewView};
use opsledger_projections::models::services::ServiceView;
use opsledger_projections::{ProjectionHandle, ReadModels};

pub use super::types_enums::*;

/// The projections handle as it sits in the schema data.
pub type Projections = ProjectionHandle<ReadModels>;

/// The projections handle from the schema data.
pub fn projections<'a>(ctx: &Context<'a>) -> Result<&'a Projections, ApiError> {
    ctx.data::<Projections>()
        .map_err(|_| ApiError::internal("the projections handle is missing from the schema data"))
}

/// The event store from the schema data.
pub fn store<'a>(ctx: &Context<'a>) -> Result<&'a SharedStore, ApiError> {
    ctx.data::<SharedStore>()
        .map_err(|_| ApiError::internal("the event store is missing from the schema data"))
}

/// A wire instant.
pub fn dt(t: Timestamp) -> DateTime {
    DateTime(t)
}

/// An id on the wire.
pub fn gid(id: impl std::fmt::Display) -> ID {
    ID(id.to_string())
}

/// Parses a wire id into a typed id; a bad one is a VALIDATION error on `field`.
pub fn parse_id<T: std::str::FromStr>(field: &str, id: &ID) -> Result<T, ApiError> {
    id.parse::<T>()
        .map_err(|_| ApiError::validation(field, format!("`{}` is not a valid id", id.as_str())))
}

/// A NOT_FOUND error for `what` with `id`.
pub fn not_found(what: &'static str, id: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound {
        what,
        id: id.to_string(),
    }
}

/// Reads several ids through `load`, skipping the missing ones.
fn load_many<I: Copy, T>(
    ctx: &Context<'_>,
    ids: &[I],
    load: impl Fn(&ReadModels, I) -> Option<T>,
) -> async_graphql::Result<Vec<T>> {
    Ok(projections(ctx)?.read(|m| ids.iter().filter_map(|&id| load(m, id)).collect()))
}

/// A half-open time window `[start, end)`.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct TimeWindow {
    /// Inclusive start.
    pub start: DateTime,
    /// Exclusive end.
    pub end: DateTime,
}

impl From<DomainWindow> for TimeWindow {
    fn from(w: DomainWindow) -> Self {
        TimeWindow {
            start: dt(w.start),
            end: dt(w.end),
        }
    }
}

// ---------------------------------------------------------------- services

/// One level of a service's escalation policy (level 0 is paged at trigger).
#[derive(SimpleObject, Clone, Debug)]
pub struct EscalationLevel {
    /// Who is paged.
    pub target: String,
    /// Seconds without acknowledgement before the next level is paged.
    pub ack_timeout_seconds: u32,
}

/// A service of the catalogue.
#[derive(Clone, Debug)]
pub struct Service(pub ServiceView);

impl Service {
    /// The service `id` from the read models.
    pub fn load(m: &ReadModels, id: ServiceId) -> Option<Service> {
        m.services.get(id).cloned().map(Service)
    }

    /// The service `id` from the projections handle.
    pub fn fetch(handle: &Projections, id: ServiceId) -> Option<Service> {
        handle.read(|m| Service::load(m, id))
    }
}

#[Object]
impl Service {
    /// Service id (ULID).
    async fn id(&self) -> ID {
        gid(self.0.id)
    }
    /// Unique name.
    async fn name(&self) -> &str {
        &self.0.profile.name
    }
    /// Owning team.
    async fn owner_team(&self) -> &str {
        &self.0.profile.owner_team
    }
    /// Tier 1 (most critical) to 3.
    async fn tier(&self) -> u8 {
        self.0.profile.tier.get()
    }
    /// Free text.
    async fn description(&self) -> &str {
        &self.0.profile.description
    }
    /// Runbook link.
    async fn runbook_url(&self) -> Option<&str> {
        self.0.profile.runbook_url.as_deref()
    }
    /// SLO target in percent (e.g. 99.9).
    async fn slo_target_percent(&self) -> f64 {
        self.0.profile.slo_target.as_percent()
    }
    /// Recovery time objective, seconds (0 = none).
    async fn rto_seconds(&self) -> u64 {
        self.0.profile.rto_secs
    }
    /// Recovery point objective, seconds (0 = none).
    async fn rpo_seconds(&self) -> u64 {
        self.0.profile.rpo_secs
    }
    /// Escalation policy levels in order.
    async fn escalation_policy(&self) -> Vec<EscalationLevel> {
        self.0
            .profile
            .escalation_policy
            .levels
            .iter()
            .map(|l| EscalationLevel {
                target: l.target.clone(),
                ack_timeout_seconds: l.ack_timeout_secs,
            })
            .collect()
    }
    /// Whether it is retired.
    async fn retired(&self) -> bool {
        self.0.retired
    }
    /// When it was registered.
    async fn registered_at(&self) -> DateTime {
        dt(self.0.registered_at)
    }
    /// When its profile last changed.
    async fn updated_at(&self) -> DateTime {
        dt(self.0.updated_at)
    }
    /// When it was retired.
    async fn retired_at(&self) -> Option<DateTime> {
        self.0.retired_at.map(dt)
    }
    /// Stream version of its last event (what `expectedVersion` takes).
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// Ids of the services it depends on.
    async fn dependency_ids(&self) -> Vec<ID> {
        self.0
            .profile
            .dependencies
            .iter()
            .map(|&s| gid(s))
            .collect()
    }
    /// The services it depends on (direct).
    async fn dependencies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Service>> {
        load_many(ctx, &self.0.profile.dependencies, Service::load)
    }
    /// The services depending on it directly.
    async fn dependents(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Service>> {
        let id = self.0.id;
        Ok(projections(ctx)?.read(|m| {
            m.services
                .all()
                .filter(|s| s.profile.dependencies.contains(&id))
                .cloned()
                .map(Service)
                .collect()
        }))
    }
    /// Every service that depends on it, transitively (hit if it fails).
    async fn downstream_impact(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Service>> {
        let id = self.0.id;
        Ok(projections(ctx)?.read(|m| {
            m.services
                .downstream_impact(id)
                .into_iter()
                .filter_map(|s| Service::load(m, s))
                .collect()
        }))
    }
    /// Active incidents impacting it directly.
    async fn active_incidents(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Incident>> {
        let id = self.0.id;
        Ok(projections(ctx)?.read(|m| {
            m.incidents
                .active()
                .filter(|i| i.impacts.iter().any(|x| x.service == id))
                .cloned()
                .map(Incident)
                .collect()
        }))
    }
}

// ---------------------------------------------------------------- incidents

/// The impact of an incident on one service.
#[derive(Clone, Debug)]
pub struct ServiceImpact {
    /// The service.
    pub service: ServiceId,
    /// How badly.
    pub level: ImpactLevel,
}

#[Object]
impl ServiceImpact {
    /// The service's id.
    async fn service_id(&self) -> ID {
        gid(self.service)
    }
    /// The service (null if unknown to the read models).
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Service>> {
        Ok(Service::fetch(projections(ctx)?, self.service))
    }
    /// How badly it is hit.
    async fn level(&self) -> ImpactLevel {
        self.level
    }
}

impl From<&opsledger_domain::incident::ServiceImpact> for ServiceImpact {
    fn from(i: &opsledger_domain::incident::ServiceImpact) -> Self {
        ServiceImpact {
            service: i.service,
            level: i.level.into(),
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
pub struct Incident(pub IncidentView);

impl Incident {
    /// The incident `id` from the read models.
    pub fn load(m: &ReadModels, id: IncidentId) -> Option<Incident> {
        m.incidents.get(id).cloned().map(Incident)
    }

    /// The incident `id` from the projections handle.
    pub fn fetch(handle: &Projections, id: IncidentId) -> Option<Incident> {
        handle.read(|m| Incident::load(m, id))
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
        self.0.impacts.iter().map(ServiceImpact::from).collect()
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
    /// The change named as its cause.
    async fn cause_change(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Change>> {
        let Some(id) = self.0.cause_change else {
            return Ok(None);
        };
        Ok(Change::fetch(projections(ctx)?, id))
    }
    /// Linked alert groups.
    async fn alert_groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AlertGroup>> {
        Ok(projections(ctx)?.read(|m| {
            self.0
                .alert_groups
                .iter()
                .filter_map(|k| m.incidents.alert_group(k).map(AlertGroup::from))
                .collect()
        }))
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
    /// Its post-incident reviews.
    async fn reviews(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Review>> {
        load_many(ctx, &self.0.reviews, Review::load)
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
    /// Runbooks of the impacted services that have one.
    async fn runbooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Runbook>> {
        Ok(projections(ctx)?.read(|m| {
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
        }))
    }
    /// Every event of its stream as a timeline, read from the log.
    async fn timeline(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TimelineItem>> {
        let store = store(ctx)?;
        let items =
            opsledger_projections::models::incidents::incident_timeline(store.as_ref(), self.0.id)
                .await
                .map_err(ApiError::internal)?;
        Ok(items
            .into_iter()
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

// ---------------------------------------------------------------- changes

/// One approval of a change.
#[derive(SimpleObject, Clone, Debug)]
pub struct Approval {
    /// The approver.
    pub by: String,
    /// When.
    pub at: DateTime,
    /// Comment.
    pub comment: String,
}

/// A validation step result.
#[derive(SimpleObject, Clone, Debug)]
pub struct ValidationResult {
    /// The step.
    pub step: String,
    /// Whether it passed.
    pub passed: bool,
    /// Notes.
    pub notes: String,
}

/// Another change overlapping in time on shared services (a warning).
#[derive(Clone, Debug)]
pub struct ChangeConflict(pub opsledger_domain::change::ChangeConflict);

#[Object]
impl ChangeConflict {
    /// The other change's id.
    async fn change_id(&self) -> ID {
        gid(self.0.change)
    }
    /// The other change.
    async fn change(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Change>> {
        Ok(Change::fetch(projections(ctx)?, self.0.change))
    }
    /// Its window.
    async fn window(&self) -> TimeWindow {
        self.0.window.into()
    }
    /// The services both touch.
    async fn service_ids(&self) -> Vec<ID> {
        self.0.services.iter().map(|&s| gid(s)).collect()
    }
}

/// A change request.
#[derive(Clone, Debug)]
pub struct Change(pub ChangeView);

impl Change {
    /// The change `id` from the read models.
    pub fn load(m: &ReadModels, id: ChangeId) -> Option<Change> {
        m.changes.get(id).cloned().map(Change)
    }

    /// The change `id` from the projections handle.
    pub fn fetch(handle: &Projections, id: ChangeId) -> Option<Change> {
        handle.read(|m| Change::load(m, id))
    }
}

#[Object]
impl Change {
    /// Change id (ULID).
    async fn id(&self) -> ID {
        gid(self.0.id)
    }
    /// Standard, normal or emergency.
    async fn change_type(&self) -> ChangeType {
        self.0.change_type.into()
    }
    /// Category.
    async fn category(&self) -> ChangeCategory {
        self.0.category.into()
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Description.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Ids of the services it touches.
    async fn service_ids(&self) -> Vec<ID> {
        self.0.services.iter().map(|&s| gid(s)).collect()
    }
    /// The services it touches.
    async fn services(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Service>> {
        load_many(ctx, &self.0.services, Service::load)
    }
    /// Current window.
    async fn window(&self) -> TimeWindow {
        self.0.window.into()
    }
    /// Implementation plan.
    async fn implementation_plan(&self) -> &str {
        &self.0.implementation_plan
    }
    /// Rollback plan.
    async fn rollback_plan(&self) -> &str {
        &self.0.rollback_plan
    }
    /// Validation steps.
    async fn validation_steps(&self) -> &[String] {
        &self.0.validation_steps
    }
    /// Assessed risk.
    async fn risk(&self) -> RiskLevel {
        self.0.risk.into()
    }
    /// Risk points behind the level.
    async fn risk_points(&self) -> u8 {
        self.0.risk_points
    }
    /// Approvals needed.
    async fn required_approvals(&self) -> u8 {
        self.0.required_approvals
    }
    /// Who requested it.
    async fn requested_by(&self) -> &str {
        self.0.requested_by.as_str()
    }
    /// When it was requested.
    async fn requested_at(&self) -> DateTime {
        dt(self.0.requested_at)
    }
    /// Lifecycle status.
    async fn status(&self) -> ChangeStatus {
        self.0.status.into()
    }
    /// Approvals granted.
    async fn approvals(&self) -> Vec<Approval> {
        self.0
            .approvals
            .iter()
            .map(|a| Approval {
                by: a.by.0.clone(),
                at: dt(a.at),
                comment: a.comment.clone(),
            })
            .collect()
    }
    /// When the approval threshold was reached.
    async fn approved_at(&self) -> Option<DateTime> {
        self.0.approved_at.map(dt)
    }
    /// Pre-approved (standard change).
    async fn pre_approved(&self) -> bool {
        self.0.pre_approved
    }
    /// Approved after it was scheduled or started (emergency).
    async fn retroactive_approval(&self) -> bool {
        self.0.retroactive_approval
    }
    /// Why it was rejected.
    async fn rejection_reason(&self) -> Option<&str> {
        self.0.rejection_reason.as_deref()
    }
    /// When it was (last) scheduled.
    async fn scheduled_at(&self) -> Option<DateTime> {
        self.0.scheduled_at.map(dt)
    }
    /// Freeze windows overridden (emergency).
    async fn freezes_overridden(&self) -> Vec<ID> {
        self.0.freezes_overridden.iter().map(|&f| gid(f)).collect()
    }
    /// Conflicts reported by it and against it.
    async fn conflicts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ChangeConflict>> {
        let id = self.0.id;
        Ok(projections(ctx)?.read(|m| {
            m.changes
                .conflicts_of(id)
                .into_iter()
                .map(ChangeConflict)
                .collect()
        }))
    }
    /// When it started.
    async fn started_at(&self) -> Option<DateTime> {
        self.0.started_at.map(dt)
    }
    /// Latest validation results.
    async fn validation(&self) -> Vec<ValidationResult> {
        self.0
            .validation
            .iter()
            .map(|v| ValidationResult {
                step: v.step.clone(),
                passed: v.passed,
                notes: v.notes.clone(),
            })
            .collect()
    }
    /// When it ended (completed, failed, rolled back, cancelled, rejected).
    async fn ended_at(&self) -> Option<DateTime> {
        self.0.ended_at.map(dt)
    }
    /// Summary or reason given at the end.
    async fn outcome_note(&self) -> Option<&str> {
        self.0.outcome_note.as_deref()
    }
    /// Incidents naming it as their cause.
    async fn caused_incidents(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Incident>> {
        load_many(ctx, &self.0.caused_incidents, Incident::load)
    }
    /// Stream version of its last event (what `expectedVersion` takes).
    async fn version(&self) -> u64 {
        self.0.version
    }
}

/// What a freeze covers.
#[derive(SimpleObject, Clone, Debug)]
pub struct FreezeScope {
    /// Every service.
    pub global: bool,
    /// The services covered when not global.
    pub service_ids: Vec<ID>,
}

/// A change freeze window.
#[derive(Clone, Debug)]
pub struct Freeze(pub FreezeView);

impl Freeze {
    /// The freeze `id` from the read models.
    pub fn load(m: &ReadModels, id: FreezeId) -> Option<Freeze> {
        m.changes.freeze(id).cloned().map(Freeze)
    }

    /// The freeze `id` from the projections handle.
    pub fn fetch(handle: &Projections, id: FreezeId) -> Option<Freeze> {
        handle.read(|m| Freeze::load(m, id))
    }
}

#[Object]
impl Freeze {
    /// Freeze id (ULID).
    async fn id(&self) -> ID {
        gid(self.0.id)
    }
    /// Its window.
    async fn window(&self) -> TimeWindow {
        self.0.window.into()
    }
    /// What it covers.
    async fn scope(&self) -> FreezeScope {
        use opsledger_domain::freeze::FreezeScope as S;
        match &self.0.scope {
            S::Global => FreezeScope {
                global: true,
                service_ids: Vec::new(),
            },
            S::Services(list) => FreezeScope {
                global: false,
                service_ids: list.iter().map(|&s| gid(s)).collect(),
            },
        }
    }
    /// Why.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// Who created it.
    async fn created_by(&self) -> &str {
        self.0.created_by.as_str()
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime {
        dt(self.0.created_at)
    }
    /// When it was cancelled.
    async fn cancelled_at(&self) -> Option<DateTime> {
        self.0.cancelled_at.map(dt)
    }
    /// Not cancelled.
    async fn active(&self) -> bool {
        self.0.cancelled_at.is_none()
    }
}

// ---------------------------------------------------------------- reviews

/// A contributing factor of an incident.
#[derive(SimpleObject, Clone, Debug)]
pub struct ContributingFactor {
    /// Category.
    pub category: FactorCategory,
    /// Description.
    pub description: String,
}

/// The written sections of a review.
#[derive(SimpleObject, Clone, Debug)]
pub struct ReviewSections {
    /// Summary.
    pub summary: String,
    /// Customer impact.
    pub customer_impact: String,
    /// Root cause.
    pub root_cause: String,
    /// Contributing factors.
    pub contributing_factors: Vec<ContributingFactor>,
    /// What went well.
    pub what_went_well: String,
    /// Lessons learned.
    pub lessons_learned: String,
}

/// One entry of a review's generated timeline.
#[derive(SimpleObject, Clone, Debug)]
pub struct ReviewTimelineEntry {
    /// When.
    pub at: DateTime,
    /// Who.
    pub actor: String,
    /// Event kind.
    pub kind: String,
    /// Summary.
    pub text: String,
}

/// An action item of a review.
#[derive(Clone, Debug)]
pub struct ActionItem(pub ActionItemView);

#[Object]
impl ActionItem {
    /// Action item id (ULID).
    async fn id(&self) -> ID {
        gid(self.0.id)
    }
    /// Its review's id.
    async fn review_id(&self) -> ID {
        gid(self.0.review)
    }
    /// The reviewed incident's id.
    async fn incident_id(&self) -> ID {
        gid(self.0.incident)
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Owner.
    async fn owner(&self) -> &str {
        &self.0.owner
    }
    /// Due date.
    async fn due(&self) -> DateTime {
        dt(self.0.due)
    }
    /// Open or done.
    async fn status(&self) -> ActionItemStatus {
        self.0.status.into()
    }
    /// Open and past due now.
    async fn overdue(&self) -> bool {
        self.0.overdue_at(now())
    }
    /// When it was added.
    async fn created_at(&self) -> DateTime {
        dt(self.0.created_at)
    }
    /// When it was completed.
    async fn completed_at(&self) -> Option<DateTime> {
        self.0.completed_at.map(dt)
    }
}

/// The wall clock as a domain timestamp.
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp(ms)
}

/// A post-incident review.
#[derive(Clone, Debug)]
pub struct Review(pub ReviewView);

impl Review {
    /// The review `id` from the read models.
    pub fn load(m: &ReadModels, id: ReviewId) -> Option<Review> {
        m.reviews.get(id).cloned().map(Review)
    }

    /// The review `id` from the projections handle.
    pub fn fetch(handle: &Projections, id: ReviewId) -> Option<Review> {
        handle.read(|m| Review::load(m, id))
    }
}

#[Object]
impl Review {
    /// Review id (ULID).
    async fn id(&self) -> ID {
        gid(self.0.id)
    }
    /// The reviewed incident's id.
    async fn incident_id(&self) -> ID {
        gid(self.0.incident)
    }
    /// The reviewed incident.
    async fn incident(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Incident>> {
        Ok(Incident::fetch(projections(ctx)?, self.0.incident))
    }
    /// The incident's severity when the review was created.
    async fn severity(&self) -> Severity {
        self.0.severity.into()
    }
    /// The incident's status when the review was created.
    async fn incident_status(&self) -> IncidentStatus {
        self.0.incident_status.into()
    }
    /// Draft, in review or published.
    async fn status(&self) -> ReviewStatus {
        self.0.status.into()
    }
    /// The written sections.
    async fn sections(&self) -> ReviewSections {
        let s = &self.0.sections;
        ReviewSections {
            summary: s.summary.clone(),
            customer_impact: s.customer_impact.clone(),
            root_cause: s.root_cause.clone(),
            contributing_factors: s
                .contributing_factors
                .iter()
                .map(|f| ContributingFactor {
                    category: f.category.into(),
                    description: f.description.clone(),
                })
                .collect(),
            what_went_well: s.what_went_well.clone(),
            lessons_learned: s.lessons_learned.clone(),
        }
    }
    /// Action items.
    async fn action_items(&self) -> Vec<ActionItem> {
        self.0
            .action_items
            .iter()
            .cloned()
            .map(ActionItem)
            .collect()
    }
    /// The incident's timeline as generated at creation.
    async fn timeline(&self) -> Vec<ReviewTimelineEntry> {
        self.0
            .timeline
            .iter()
            .map(|t| ReviewTimelineEntry {
                at: dt(t.at),
                actor: t.actor.0.clone(),
                kind: t.kind.clone(),
                text: t.text.clone(),
            })
            .collect()
    }
    /// Who created it.
    async fn created_by(&self) -> &str {
        self.0.created_by.as_str()
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime {
        dt(self.0.created_at)
    }
    /// When it was submitted.
    async fn submitted_at(&self) -> Option<DateTime> {
        self.0.submitted_at.map(dt)
    }
    /// When it was published.
    async fn published_at(&self) -> Option<DateTime> {
        self.0.published_at.map(dt)
    }
    /// Stream version of its last event (what `expectedVersion` takes).
    async fn version(&self) -> u64 {
        self.0.version
    }
}
