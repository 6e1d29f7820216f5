//! Changes and freezes: the change request, approvals, validations, freezes.

use super::*;

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
pub struct ChangeConflict(pub opsledger_domain::change::ChangeConflict, pub Source);

#[Object]
impl ChangeConflict {
    /// The other change's id.
    async fn change_id(&self) -> ID {
        gid(self.0.change)
    }
    /// The other change (as of the same point when reached from `changeAsOf`).
    async fn change(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Change>> {
        Ok(self
            .1
            .read(ctx, |m| Change::load_at(m, self.0.change, &self.1))?)
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
pub struct Change(pub ChangeView, pub Source);

impl Change {
    /// The change `id` from the read models.
    pub fn load(m: &ReadModels, id: ChangeId) -> Option<Change> {
        Change::load_at(m, id, &Source::Live)
    }

    /// The change `id` from the read models of `source` (its links resolve there).
    pub fn load_at(m: &ReadModels, id: ChangeId, source: &Source) -> Option<Change> {
        m.changes
            .get(id)
            .cloned()
            .map(|v| Change(v, source.clone()))
    }

    /// The change `id` from the projections handle.
    pub fn fetch(handle: &Projections, id: ChangeId) -> Option<Change> {
        handle.read(|m| Change::load(m, id))
    }
}

impl From<ChangeView> for Change {
    /// A live change (links resolve against the current read models).
    fn from(view: ChangeView) -> Self {
        Change(view, Source::Live)
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
    /// The services it touches (as of the same point for an entity of `changeAsOf`).
    async fn services(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Service>> {
        load_many(ctx, &self.1, &self.0.services, Service::load_at)
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
    /// Conflicts reported by it and against it (for an entity of `changeAsOf`: those
    /// reported by then).
    async fn conflicts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ChangeConflict>> {
        let id = self.0.id;
        Ok(self.1.read(ctx, |m| {
            m.changes
                .conflicts_of(id)
                .into_iter()
                .map(|c| ChangeConflict(c, self.1.clone()))
                .collect()
        })?)
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
    /// Incidents naming it as their cause, in link order (for an entity of `changeAsOf`:
    /// the incidents that existed and named it as their cause at that point, each as
    /// it was then).
    async fn caused_incidents(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Incident>> {
        load_many(ctx, &self.1, &self.0.caused_incidents, Incident::load_at)
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
