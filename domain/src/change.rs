//! The change aggregate (SPEC 2.4): a request to alter production, its
//! deterministic risk ([`risk`]), approvals with segregation of duties,
//! scheduling against freeze windows and other changes, implementation,
//! validation and outcome.
//!
//! Lifecycle: `draft → submitted → approved | rejected → scheduled →
//! in_progress → validating → completed | failed | rolled_back`;
//! `cancelled` from draft, submitted, approved or scheduled. Standard
//! changes are approved at submit; emergency changes need one approval,
//! which may come after they were scheduled or started (and may be
//! scheduled into a freeze).

mod command;
mod decide;
mod event;
pub mod risk;

pub use command::{
    ChangeCommand, ChangeFacts, ChangeWindowFact, RequestChange, ScheduleChange, ServiceFact,
};
pub use event::*;
pub use risk::{FailureHistory, Risk, RiskLevel};

use crate::context::{Actor, Context};
use crate::ids::{ChangeId, FreezeId, ServiceId};
use crate::time::{TimeWindow, Timestamp};
use crate::{Aggregate, DomainError, DomainEvent};
use serde::{Deserialize, Serialize};

/// How a change is governed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangeType {
    /// Pre-approved, low-risk routine change.
    Standard,
    /// Needs approvals according to its risk.
    #[default]
    Normal,
    /// Expedited: one approval, which may come after it started.
    Emergency,
}

/// What kind of change it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangeCategory {
    /// A patch (security or bug fix).
    Patch,
    /// A software release.
    Release,
    /// A configuration change.
    Configuration,
    /// An infrastructure change.
    Infrastructure,
    /// Anything else.
    #[default]
    Other,
}

/// Where a change is in its lifecycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangeStatus {
    /// Requested, not yet submitted.
    #[default]
    Draft,
    /// Waiting for approvals.
    Submitted,
    /// Approved, not yet scheduled.
    Approved,
    /// Rejected by an approver (terminal).
    Rejected,
    /// Scheduled into a window.
    Scheduled,
    /// Being implemented.
    InProgress,
    /// Being validated.
    Validating,
    /// Completed successfully (terminal).
    Completed,
    /// Failed (terminal).
    Failed,
    /// Rolled back (terminal).
    RolledBack,
    /// Cancelled before it started (terminal).
    Cancelled,
}

/// The result of one validation step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationResult {
    /// The step checked.
    pub step: String,
    /// Whether it passed.
    pub passed: bool,
    /// Observations.
    pub notes: String,
}

/// Rules of the change aggregate that a command can violate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// The change already exists.
    #[error("change already requested")]
    AlreadyRequested,
    /// The change does not exist.
    #[error("change not found")]
    NotFound,
    /// The window does not end after it starts.
    #[error("change window must end after it starts")]
    WindowEndsBeforeStart,
    /// The change names no service.
    #[error("a change needs at least one service")]
    NoServices,
    /// A service is named twice.
    #[error("service {0} named twice")]
    DuplicateService(ServiceId),
    /// No tier fact was passed for a service.
    #[error("no tier known for service {0}")]
    UnknownServiceTier(ServiceId),
    /// Only a draft can be submitted.
    #[error("only a draft can be submitted (status {0:?})")]
    NotDraft(ChangeStatus),
    /// The change is not waiting for an approval decision.
    #[error("change is not awaiting approval (status {0:?})")]
    NotAwaitingApproval(ChangeStatus),
    /// The requester cannot approve or reject their own change.
    #[error("the requester cannot approve or reject their own change")]
    RequesterCannotApprove,
    /// This approver already approved.
    #[error("this approver already approved the change")]
    DuplicateApproval,
    /// The change cannot be scheduled in its status.
    #[error("change cannot be scheduled (status {0:?})")]
    NotSchedulable(ChangeStatus),
    /// A non-emergency change was scheduled into an active freeze.
    #[error("window falls in freeze {0}")]
    ScheduledInFreeze(FreezeId),
    /// Only a scheduled change can start.
    #[error("only a scheduled change can start (status {0:?})")]
    NotScheduled(ChangeStatus),
    /// The change is not in progress or validating.
    #[error("change is not under way (status {0:?})")]
    NotUnderway(ChangeStatus),
    /// Validation needs at least one result.
    #[error("no validation results")]
    NoValidationResults,
    /// Only a validating change can complete.
    #[error("only a validating change can complete (status {0:?})")]
    NotValidating(ChangeStatus),
    /// A recorded validation result failed.
    #[error("a validation step failed")]
    ValidationNotPassed,
    /// The change already started or ended.
    #[error("change cannot be cancelled (status {0:?})")]
    NotCancellable(ChangeStatus),
}

/// The state of one change, folded from its events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChangeState {
    /// Events folded so far.
    pub version: u64,
    /// The request as recorded, once the change exists.
    pub request: Option<ChangeRequested>,
    /// The lifecycle status.
    pub status: ChangeStatus,
    /// Distinct approvers so far.
    pub approvers: Vec<Actor>,
    /// Whether the change is approved (an emergency may be approved late).
    pub approved: bool,
    /// The current window (planned, then scheduled).
    pub window: TimeWindow,
    /// Conflicts found at the last scheduling.
    pub conflicts: Vec<ChangeConflict>,
    /// The latest validation results.
    pub validation: Vec<ValidationResult>,
    /// When implementation started.
    pub started_at: Option<Timestamp>,
    /// When it reached a terminal status.
    pub closed_at: Option<Timestamp>,
}

impl ChangeState {
    /// The change's id, once requested.
    pub fn id(&self) -> Option<ChangeId> {
        self.request.as_ref().map(|r| r.id)
    }
}

impl Aggregate for ChangeState {
    type Command = ChangeCommand;
    type Facts = ChangeFacts;
    type Event = ChangeEvent;

    fn decide(
        &self,
        command: ChangeCommand,
        facts: ChangeFacts,
        ctx: &Context,
    ) -> Result<Vec<ChangeEvent>, DomainError> {
        if let ChangeCommand::Request(cmd) = command {
            return self.request(cmd, &facts, ctx);
        }
        let request = self.request.as_ref().ok_or(ChangeError::NotFound)?;
        let events = match command {
            ChangeCommand::Request(_) => Err(ChangeError::AlreadyRequested),
            ChangeCommand::Submit => self.submit(request, ctx),
            ChangeCommand::Approve { comment } => self.approve(request, comment, ctx),
            ChangeCommand::Reject { reason } => self.reject(request, reason, ctx),
            ChangeCommand::Schedule(cmd) => self.schedule(request, cmd, &facts, ctx),
            ChangeCommand::Start => self.start(ctx),
            ChangeCommand::RecordValidation { results } => self.record_validation(results, ctx),
            ChangeCommand::Complete { summary } => self.complete(summary, ctx),
            ChangeCommand::Fail { reason } => self.fail(reason, ctx),
            ChangeCommand::RollBack { reason } => self.roll_back(reason, ctx),
            ChangeCommand::Cancel { reason } => self.cancel(reason, ctx),
        }?;
        Ok(events)
    }

    fn evolve(mut self, event: &ChangeEvent) -> Self {
        self.version += 1;
        match event {
            ChangeEvent::Requested(e) => {
                self.window = e.window;
                self.status = ChangeStatus::Draft;
                self.request = Some(e.clone());
            }
            ChangeEvent::Submitted(_) => self.status = ChangeStatus::Submitted,
            ChangeEvent::ApprovalGranted(e) => {
                if !self.approvers.contains(&e.by) {
                    self.approvers.push(e.by.clone());
                }
            }
            ChangeEvent::Approved(_) => {
                self.approved = true;
                if self.status == ChangeStatus::Submitted {
                    self.status = ChangeStatus::Approved;
                }
            }
            ChangeEvent::Rejected(e) => self.close(ChangeStatus::Rejected, e.at),
            ChangeEvent::Scheduled(e) => {
                self.status = ChangeStatus::Scheduled;
                self.window = e.window;
                self.conflicts = e.conflicts.clone();
            }
            ChangeEvent::Started(e) => {
                self.status = ChangeStatus::InProgress;
                self.started_at = Some(e.at);
            }
            ChangeEvent::ValidationRecorded(e) => {
                self.status = ChangeStatus::Validating;
                self.validation = e.results.clone();
            }
            ChangeEvent::Completed(e) => self.close(ChangeStatus::Completed, e.at),
            ChangeEvent::Failed(e) => self.close(ChangeStatus::Failed, e.at),
            ChangeEvent::RolledBack(e) => self.close(ChangeStatus::RolledBack, e.at),
            ChangeEvent::Cancelled(e) => self.close(ChangeStatus::Cancelled, e.at),
        }
        self
    }

    fn wrap(event: ChangeEvent) -> DomainEvent {
        DomainEvent::Change(event)
    }

    fn unwrap(event: &DomainEvent) -> Option<&ChangeEvent> {
        match event {
            DomainEvent::Change(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
