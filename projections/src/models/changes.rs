//! The changes read model: requests with risk, approvals and conflicts
//! (shown on both changes), freeze windows, the change calendar, and the
//! indexes the application service needs to decide change commands.

use std::collections::{BTreeMap, BTreeSet};

use opsledger_domain::change::{
    ChangeCategory, ChangeConflict, ChangeEvent, ChangeStatus, ChangeType, ChangeWindowFact,
    FailureHistory, RiskLevel, ValidationResult,
};
use opsledger_domain::freeze::{FreezeEvent, FreezeFact, FreezeScope};
use opsledger_domain::time::MS_PER_DAY;
use opsledger_domain::{Actor, ChangeId, FreezeId, IncidentId, ServiceId, TimeWindow, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::ApplyError;
use crate::pagination::{paginate, Page, PageRequest};
use crate::projection::EventMeta;
use crate::ProjectionError;

/// How far back [`ChangesModel::recent_failure_history`] looks.
pub const RECENT_FAILURE_WINDOW_MS: i64 = 90 * MS_PER_DAY;

/// One approval given to a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The approver.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
    /// Their comment.
    pub comment: String,
}

/// A change as the read side shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeView {
    /// The change.
    pub id: ChangeId,
    /// Standard, normal or emergency.
    pub change_type: ChangeType,
    /// Patch, release, ...
    pub category: ChangeCategory,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Services it touches.
    pub services: Vec<ServiceId>,
    /// Its current planned window.
    pub window: TimeWindow,
    /// Implementation plan.
    pub implementation_plan: String,
    /// Rollback plan.
    pub rollback_plan: String,
    /// Validation steps.
    pub validation_steps: Vec<String>,
    /// Risk level computed at request time.
    pub risk: RiskLevel,
    /// Risk points.
    pub risk_points: u8,
    /// Approvals it needs.
    pub required_approvals: u8,
    /// Who requested it.
    pub requested_by: Actor,
    /// When.
    pub requested_at: Timestamp,
    /// Lifecycle status.
    pub status: ChangeStatus,
    /// Approvals granted so far.
    pub approvals: Vec<Approval>,
    /// When it reached its approval threshold.
    pub approved_at: Option<Timestamp>,
    /// Approved at submit (standard change).
    pub pre_approved: bool,
    /// Approved after the fact (emergency change).
    pub retroactive_approval: bool,
    /// Why it was rejected, if it was.
    pub rejection_reason: Option<String>,
    /// When it was (last) scheduled.
    pub scheduled_at: Option<Timestamp>,
    /// Freezes it was scheduled into (emergency).
    pub freezes_overridden: Vec<FreezeId>,
    /// Conflicts reported when it was scheduled (see [`ChangesModel::conflicts_of`] for both sides).
    pub reported_conflicts: Vec<ChangeConflict>,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// Latest validation results.
    pub validation: Vec<ValidationResult>,
    /// When it completed, failed, rolled back or was cancelled.
    pub ended_at: Option<Timestamp>,
    /// The completion summary or failure / rollback / cancellation reason.
    pub outcome_note: Option<String>,
    /// Incidents naming it as their cause.
    pub caused_incidents: Vec<IncidentId>,
    /// Stream version of its last event.
    pub version: u64,
}

impl ChangeView {
    /// Whether it ended as completed, failed or rolled back.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status,
            ChangeStatus::Completed | ChangeStatus::Failed | ChangeStatus::RolledBack
        )
    }

    /// Whether it is being implemented (status page maintenance).
    pub fn is_in_progress(&self) -> bool {
        matches!(
            self.status,
            ChangeStatus::InProgress | ChangeStatus::Validating
        )
    }
}

/// A freeze window as the read side shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeView {
    /// The freeze.
    pub id: FreezeId,
    /// Blackout period.
    pub window: TimeWindow,
    /// Global or per service.
    pub scope: FreezeScope,
    /// Why.
    pub reason: String,
    /// Who created it.
    pub created_by: Actor,
    /// When.
    pub created_at: Timestamp,
    /// When it was cancelled, if it was.
    pub cancelled_at: Option<Timestamp>,
}

/// Which changes a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeFilter {
    /// Only these statuses (empty = any).
    pub statuses: Vec<ChangeStatus>,
    /// Only changes touching this service.
    pub service: Option<ServiceId>,
    /// Only this type.
    pub change_type: Option<ChangeType>,
    /// Only this category.
    pub category: Option<ChangeCategory>,
    /// Only this risk level.
    pub risk: Option<RiskLevel>,
    /// Only changes whose window overlaps this one.
    pub overlapping: Option<TimeWindow>,
}

impl ChangeFilter {
    fn matches(&self, c: &ChangeView) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&c.status))
            && self.service.is_none_or(|s| c.services.contains(&s))
            && self.change_type.is_none_or(|t| c.change_type == t)
            && self.category.is_none_or(|t| c.category == t)
            && self.risk.is_none_or(|r| c.risk == r)
            && self.overlapping.is_none_or(|w| c.window.overlaps(&w))
    }
}

/// Changes and freezes in a time range.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeCalendar {
    /// Changes (not cancelled or rejected) whose window overlaps the range, by start.
    pub changes: Vec<ChangeView>,
    /// Freezes (not cancelled) overlapping the range, by start.
    pub freezes: Vec<FreezeView>,
}

/// Every change and freeze window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangesModel {
    by_id: BTreeMap<ChangeId, ChangeView>,
    freezes: BTreeMap<FreezeId, FreezeView>,
    /// change → the changes that reported a conflict with it.
    conflicted_by: BTreeMap<ChangeId, BTreeSet<ChangeId>>,
}

fn unknown(kind: &'static str, meta: &EventMeta<'_>) -> ApplyError {
    ApplyError::UnknownEntity {
        kind,
        stream_id: meta.stream_id.to_owned(),
    }
}

impl ChangesModel {
    /// Folds one change event.
    pub fn apply(&mut self, meta: &EventMeta<'_>, event: &ChangeEvent) -> Result<(), ApplyError> {
        let id = ChangeId::from_stream_id(meta.stream_id)
            .ok_or_else(|| ApplyError::BadStreamId(meta.stream_id.to_owned()))?;
        if let ChangeEvent::Requested(e) = event {
            self.by_id.insert(
                id,
                ChangeView {
                    id,
                    change_type: e.change_type,
                    category: e.category,
                    title: e.title.clone(),
                    description: e.description.clone(),
                    services: e.services.clone(),
                    window: e.window,
                    implementation_plan: e.implementation_plan.clone(),
                    rollback_plan: e.rollback_plan.clone(),
                    validation_steps: e.validation_steps.clone(),
                    risk: e.risk,
                    risk_points: e.risk_points,
                    required_approvals: e.required_approvals,
                    requested_by: e.requested_by.clone(),
                    requested_at: e.at,
                    status: ChangeStatus::Draft,
                    approvals: Vec::new(),
                    approved_at: None,
                    pre_approved: false,
                    retroactive_approval: false,
                    rejection_reason: None,
                    scheduled_at: None,
                    freezes_overridden: Vec::new(),
                    reported_conflicts: Vec::new(),
                    started_at: None,
                    validation: Vec::new(),
                    ended_at: None,
                    outcome_note: None,
                    caused_incidents: Vec::new(),
                    version: meta.stream_version,
                },
            );
            return Ok(());
        }
        let view = self
            .by_id
            .get_mut(&id)
            .ok_or_else(|| unknown("change", meta))?;
        view.version = meta.stream_version;
        let mut rescheduled: Option<(Vec<ChangeId>, Vec<ChangeId>)> = None;
        match event {
            ChangeEvent::Requested(_) => {}
            ChangeEvent::Submitted(_) => view.status = ChangeStatus::Submitted,
            ChangeEvent::ApprovalGranted(e) => view.approvals.push(Approval {
                by: e.by.clone(),
                at: e.at,
                comment: e.comment.clone(),
            }),
            ChangeEvent::Approved(e) => {
                if view.status == ChangeStatus::Submitted {
                    view.status = ChangeStatus::Approved;
                }
                view.approved_at = Some(e.at);
                view.pre_approved = e.pre_approved;
                view.retroactive_approval = e.retroactive;
            }
            ChangeEvent::Rejected(e) => {
                view.status = ChangeStatus::Rejected;
                view.rejection_reason = Some(e.reason.clone());
                view.ended_at = Some(e.at);
            }
            ChangeEvent::Scheduled(e) => {
                view.status = ChangeStatus::Scheduled;
                view.window = e.window;
                view.scheduled_at = Some(e.at);
                view.freezes_overridden = e.freezes_overridden.clone();
                let old = view.reported_conflicts.iter().map(|c| c.change).collect();
                view.reported_conflicts = e.conflicts.clone();
                let new = e.conflicts.iter().map(|c| c.change).collect();
                rescheduled = Some((old, new));
            }
            ChangeEvent::Started(e) => {
                view.status = ChangeStatus::InProgress;
                view.started_at = Some(e.at);
            }
            ChangeEvent::ValidationRecorded(e) => {
                view.status = ChangeStatus::Validating;
                view.validation = e.results.clone();
            }
            ChangeEvent::Completed(e) => {
                view.status = ChangeStatus::Completed;
                view.ended_at = Some(e.at);
                view.outcome_note = Some(e.summary.clone());
            }
            ChangeEvent::Failed(e) => {
                view.status = ChangeStatus::Failed;
                view.ended_at = Some(e.at);
                view.outcome_note = Some(e.reason.clone());
            }
            ChangeEvent::RolledBack(e) => {
                view.status = ChangeStatus::RolledBack;
                view.ended_at = Some(e.at);
                view.outcome_note = Some(e.reason.clone());
            }
            ChangeEvent::Cancelled(e) => {
                view.status = ChangeStatus::Cancelled;
                view.ended_at = Some(e.at);
                view.outcome_note = Some(e.reason.clone());
            }
        }
        if let Some((old, new)) = rescheduled {
            for other in old {
                if let Some(set) = self.conflicted_by.get_mut(&other) {
                    set.remove(&id);
                }
            }
            for other in new {
                self.conflicted_by.entry(other).or_default().insert(id);
            }
        }
        Ok(())
    }

    /// Folds one freeze event.
    pub fn apply_freeze(
        &mut self,
        meta: &EventMeta<'_>,
        event: &FreezeEvent,
    ) -> Result<(), ApplyError> {
        let id = FreezeId::from_stream_id(meta.stream_id)
            .ok_or_else(|| ApplyError::BadStreamId(meta.stream_id.to_owned()))?;
        match event {
            FreezeEvent::Created(e) => {
                self.freezes.insert(
                    id,
                    FreezeView {
                        id,
                        window: e.window,
                        scope: e.scope.clone(),
                        reason: e.reason.clone(),
                        created_by: e.by.clone(),
                        created_at: e.at,
                        cancelled_at: None,
                    },
                );
            }
            FreezeEvent::Cancelled(e) => {
                let view = self
                    .freezes
                    .get_mut(&id)
                    .ok_or_else(|| unknown("freeze", meta))?;
                view.cancelled_at = Some(e.at);
            }
        }
        Ok(())
    }

    /// Records that `incident` names `change` as its cause (replacing `previous`).
    pub(crate) fn link_cause(
        &mut self,
        incident: IncidentId,
        change: ChangeId,
        previous: Option<ChangeId>,
    ) {
        if let Some(prev) = previous.and_then(|p| self.by_id.get_mut(&p)) {
            prev.caused_incidents.retain(|i| *i != incident);
        }
        if let Some(view) = self.by_id.get_mut(&change) {
            if !view.caused_incidents.contains(&incident) {
                view.caused_incidents.push(incident);
            }
        }
    }

    /// One change.
    pub fn get(&self, id: ChangeId) -> Option<&ChangeView> {
        self.by_id.get(&id)
    }

    /// Every change, by id.
    pub fn all(&self) -> impl Iterator<Item = &ChangeView> {
        self.by_id.values()
    }

    /// One freeze window.
    pub fn freeze(&self, id: FreezeId) -> Option<&FreezeView> {
        self.freezes.get(&id)
    }

    /// Every freeze window, by id.
    pub fn freezes(&self) -> impl Iterator<Item = &FreezeView> {
        self.freezes.values()
    }

    /// The conflicts of a change, both the ones it reported and the ones
    /// reported against it (with the other change's current window).
    pub fn conflicts_of(&self, id: ChangeId) -> Vec<ChangeConflict> {
        let Some(view) = self.by_id.get(&id) else {
            return Vec::new();
        };
        let mut out = view.reported_conflicts.clone();
        for other_id in self.conflicted_by.get(&id).into_iter().flatten() {
            if out.iter().any(|c| c.change == *other_id) {
                continue;
            }
            if let Some(other) = self.by_id.get(other_id) {
                out.push(ChangeConflict {
                    change: *other_id,
                    window: other.window,
                    services: other
                        .services
                        .iter()
                        .filter(|s| view.services.contains(s))
                        .copied()
                        .collect(),
                });
            }
        }
        out
    }

    /// Non-cancelled freezes overlapping `window` (pass them to `ScheduleChange`).
    pub fn active_freezes_overlapping(&self, window: TimeWindow) -> Vec<FreezeFact> {
        self.freezes
            .values()
            .filter(|f| f.cancelled_at.is_none() && f.window.overlaps(&window))
            .map(|f| FreezeFact {
                id: f.id,
                window: f.window,
                scope: f.scope.clone(),
            })
            .collect()
    }

    /// Scheduled or underway changes other than `exclude` whose window
    /// overlaps `window` and which share a service with `services`.
    pub fn change_windows_overlapping(
        &self,
        window: TimeWindow,
        services: &[ServiceId],
        exclude: Option<ChangeId>,
    ) -> Vec<ChangeWindowFact> {
        self.by_id
            .values()
            .filter(|c| Some(c.id) != exclude)
            .filter(|c| {
                matches!(
                    c.status,
                    ChangeStatus::Scheduled | ChangeStatus::InProgress | ChangeStatus::Validating
                )
            })
            .filter(|c| c.window.overlaps(&window))
            .filter(|c| c.services.iter().any(|s| services.contains(s)))
            .map(|c| ChangeWindowFact {
                id: c.id,
                services: c.services.clone(),
                window: c.window,
            })
            .collect()
    }

    /// Changes touching any of `services` that finished in the 90 days
    /// before `now`: `total` of them, `failed` = failed, rolled back, or
    /// completed but named as an incident's cause.
    pub fn recent_failure_history(&self, services: &[ServiceId], now: Timestamp) -> FailureHistory {
        let since = now.millis() - RECENT_FAILURE_WINDOW_MS;
        let mut history = FailureHistory::default();
        for c in self.by_id.values() {
            let Some(ended) = c.ended_at else { continue };
            if !c.is_finished()
                || ended.millis() < since
                || ended > now
                || !c.services.iter().any(|s| services.contains(s))
            {
                continue;
            }
            history.total += 1;
            if c.status != ChangeStatus::Completed || !c.caused_incidents.is_empty() {
                history.failed += 1;
            }
        }
        history
    }

    /// A page of changes sorted by window start.
    pub fn list(
        &self,
        filter: &ChangeFilter,
        page: &PageRequest,
    ) -> Result<Page<ChangeView>, ProjectionError> {
        let mut items: Vec<&ChangeView> =
            self.by_id.values().filter(|c| filter.matches(c)).collect();
        items.sort_by_key(|c| (c.window.start, c.id));
        let page = paginate(items, |c| (c.window.start.0, c.id.0 .0), false, page)?;
        Ok(page.map(Clone::clone))
    }

    /// The change calendar of `range`, optionally for one service.
    pub fn calendar(&self, range: TimeWindow, service: Option<ServiceId>) -> ChangeCalendar {
        let mut changes: Vec<ChangeView> = self
            .by_id
            .values()
            .filter(|c| !matches!(c.status, ChangeStatus::Cancelled | ChangeStatus::Rejected))
            .filter(|c| c.window.overlaps(&range))
            .filter(|c| service.is_none_or(|s| c.services.contains(&s)))
            .cloned()
            .collect();
        changes.sort_by_key(|c| (c.window.start, c.id));
        let mut freezes: Vec<FreezeView> = self
            .freezes
            .values()
            .filter(|f| f.cancelled_at.is_none() && f.window.overlaps(&range))
            .filter(|f| service.is_none_or(|s| f.scope.covers_any(&[s])))
            .cloned()
            .collect();
        freezes.sort_by_key(|f| (f.window.start, f.id));
        ChangeCalendar { changes, freezes }
    }
}
