//! Events of the change aggregate: named past-tense facts carrying what
//! projections need (risk, window, conflicts), so the read side never
//! recomputes decisions.

use super::risk::RiskLevel;
use super::{ChangeCategory, ChangeStatus, ChangeType, ValidationResult};
use crate::context::Actor;
use crate::ids::{ChangeId, FreezeId, ServiceId};
use crate::time::{TimeWindow, Timestamp};
use serde::{Deserialize, Serialize};

/// Events of the change aggregate (append new variants at the end only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ChangeEvent {
    /// A change was requested (as a draft).
    Requested(ChangeRequested),
    /// The draft was submitted for approval.
    Submitted(ChangeSubmitted),
    /// One approver approved.
    ApprovalGranted(ChangeApprovalGranted),
    /// The change reached its required approvals (or is pre-approved).
    Approved(ChangeApproved),
    /// The change was rejected.
    Rejected(ChangeRejected),
    /// The change was scheduled into a window.
    Scheduled(ChangeScheduled),
    /// Implementation started.
    Started(ChangeStarted),
    /// Validation results were recorded.
    ValidationRecorded(ChangeValidationRecorded),
    /// The change completed successfully.
    Completed(ChangeCompleted),
    /// The change failed.
    Failed(ChangeFailed),
    /// The change was rolled back.
    RolledBack(ChangeRolledBack),
    /// The change was cancelled before it started.
    Cancelled(ChangeCancelled),
}

/// A change was requested (status draft).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeRequested {
    /// The change.
    pub id: ChangeId,
    /// Standard, normal or emergency.
    pub change_type: ChangeType,
    /// Its category.
    pub category: ChangeCategory,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Services touched.
    pub services: Vec<ServiceId>,
    /// Planned window.
    pub window: TimeWindow,
    /// Implementation plan.
    pub implementation_plan: String,
    /// Rollback plan.
    pub rollback_plan: String,
    /// Validation steps.
    pub validation_steps: Vec<String>,
    /// Computed risk level.
    pub risk: RiskLevel,
    /// Points behind the risk level.
    pub risk_points: u8,
    /// Approvals needed.
    pub required_approvals: u8,
    /// The requester.
    pub requested_by: Actor,
    /// When.
    pub at: Timestamp,
}

/// The draft was submitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeSubmitted {
    /// Who submitted.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// One approval was granted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeApprovalGranted {
    /// The approver.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
    /// Remark.
    pub comment: String,
    /// Distinct approvals so far, this one included.
    pub granted: u8,
    /// Approvals required.
    pub required: u8,
}

/// The change is approved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeApproved {
    /// When.
    pub at: Timestamp,
    /// Every approver (empty when pre-approved).
    pub approvers: Vec<Actor>,
    /// A standard change, approved at submit.
    pub pre_approved: bool,
    /// An emergency change approved after it was scheduled or started.
    pub retroactive: bool,
}

/// The change was rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeRejected {
    /// The approver.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
    /// Why.
    pub reason: String,
}

/// A conflict: another change on a shared service in an overlapping window (a warning).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeConflict {
    /// The other change.
    pub change: ChangeId,
    /// The other change's window.
    pub window: TimeWindow,
    /// The services both touch.
    pub services: Vec<ServiceId>,
}

/// The change was scheduled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeScheduled {
    /// Who scheduled.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
    /// The scheduled window.
    pub window: TimeWindow,
    /// Overlapping changes on shared services (warnings; report them on both changes).
    pub conflicts: Vec<ChangeConflict>,
    /// Freezes an emergency change was scheduled into anyway.
    pub freezes_overridden: Vec<FreezeId>,
}

/// Implementation started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeStarted {
    /// Who started.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// Validation results were recorded (status validating).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeValidationRecorded {
    /// Who validated.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
    /// The results (replacing earlier ones).
    pub results: Vec<ValidationResult>,
    /// Whether every result passed.
    pub all_passed: bool,
}

/// The change completed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeCompleted {
    /// Who closed it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
    /// Outcome notes.
    pub summary: String,
}

/// The change failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeFailed {
    /// Who closed it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
    /// Why.
    pub reason: String,
}

/// The change was rolled back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeRolledBack {
    /// Who closed it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
    /// Why.
    pub reason: String,
}

/// The change was cancelled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeCancelled {
    /// Who cancelled.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
    /// Why.
    pub reason: String,
    /// The status it was cancelled from.
    pub from: ChangeStatus,
}

impl ChangeEvent {
    /// The stable type name of the event.
    pub fn type_name(&self) -> &'static str {
        match self {
            ChangeEvent::Requested(_) => "ChangeRequested",
            ChangeEvent::Submitted(_) => "ChangeSubmitted",
            ChangeEvent::ApprovalGranted(_) => "ChangeApprovalGranted",
            ChangeEvent::Approved(_) => "ChangeApproved",
            ChangeEvent::Rejected(_) => "ChangeRejected",
            ChangeEvent::Scheduled(_) => "ChangeScheduled",
            ChangeEvent::Started(_) => "ChangeStarted",
            ChangeEvent::ValidationRecorded(_) => "ChangeValidationRecorded",
            ChangeEvent::Completed(_) => "ChangeCompleted",
            ChangeEvent::Failed(_) => "ChangeFailed",
            ChangeEvent::RolledBack(_) => "ChangeRolledBack",
            ChangeEvent::Cancelled(_) => "ChangeCancelled",
        }
    }

    /// The schema version of the event's encoding.
    pub fn schema_version(&self) -> u16 {
        1
    }
}
