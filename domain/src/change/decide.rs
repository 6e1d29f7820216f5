//! The decisions of the change aggregate, one function per command.

use super::command::{ChangeFacts, ChangeWindowFact, RequestChange, ScheduleChange, ServiceFact};
use super::event::*;
use super::risk::{assess, required_approvals};
use super::{ChangeError, ChangeState, ChangeStatus, ChangeType, ValidationResult};
use crate::context::Context;
use crate::ids::ServiceId;
use crate::time::{TimeWindow, Timestamp};
use crate::DomainError;

type Decision = Result<Vec<ChangeEvent>, ChangeError>;

impl ChangeState {
    pub(super) fn request(
        &self,
        cmd: RequestChange,
        facts: &ChangeFacts,
        ctx: &Context,
    ) -> Result<Vec<ChangeEvent>, DomainError> {
        if self.request.is_some() {
            return Err(ChangeError::AlreadyRequested.into());
        }
        DomainError::require_text("title", &cmd.title)?;
        DomainError::require_text("implementation_plan", &cmd.implementation_plan)?;
        DomainError::require_text("rollback_plan", &cmd.rollback_plan)?;
        if !cmd.window.is_valid() {
            return Err(ChangeError::WindowEndsBeforeStart.into());
        }
        let tiers = service_tiers(&cmd.services, &facts.services)?;
        let risk = assess(cmd.change_type, &tiers, facts.recent_failures);
        Ok(vec![ChangeEvent::Requested(ChangeRequested {
            id: cmd.id,
            change_type: cmd.change_type,
            category: cmd.category,
            title: cmd.title,
            description: cmd.description,
            services: cmd.services,
            window: cmd.window,
            implementation_plan: cmd.implementation_plan,
            rollback_plan: cmd.rollback_plan,
            validation_steps: cmd.validation_steps,
            risk: risk.level,
            risk_points: risk.points,
            required_approvals: required_approvals(cmd.change_type, risk.level),
            requested_by: ctx.actor.clone(),
            at: ctx.now,
        })])
    }

    pub(super) fn submit(&self, request: &ChangeRequested, ctx: &Context) -> Decision {
        if self.status != ChangeStatus::Draft {
            return Err(ChangeError::NotDraft(self.status));
        }
        let submitted = ChangeEvent::Submitted(ChangeSubmitted {
            by: ctx.actor.clone(),
            at: ctx.now,
        });
        if request.change_type != ChangeType::Standard {
            return Ok(vec![submitted]);
        }
        let approved = ChangeEvent::Approved(ChangeApproved {
            at: ctx.now,
            approvers: Vec::new(),
            pre_approved: true,
            retroactive: false,
        });
        Ok(vec![submitted, approved])
    }

    pub(super) fn approve(
        &self,
        request: &ChangeRequested,
        comment: String,
        ctx: &Context,
    ) -> Decision {
        self.check_can_decide_approval(request, ctx)?;
        if self.approvers.contains(&ctx.actor) {
            return Err(ChangeError::DuplicateApproval);
        }
        let mut approvers = self.approvers.clone();
        approvers.push(ctx.actor.clone());
        let granted = u8::try_from(approvers.len()).unwrap_or(u8::MAX);
        let mut events = vec![ChangeEvent::ApprovalGranted(ChangeApprovalGranted {
            by: ctx.actor.clone(),
            at: ctx.now,
            comment,
            granted,
            required: request.required_approvals,
        })];
        if granted >= request.required_approvals {
            events.push(ChangeEvent::Approved(ChangeApproved {
                at: ctx.now,
                approvers,
                pre_approved: false,
                retroactive: self.status != ChangeStatus::Submitted,
            }));
        }
        Ok(events)
    }

    pub(super) fn reject(
        &self,
        request: &ChangeRequested,
        reason: String,
        ctx: &Context,
    ) -> Decision {
        self.check_can_decide_approval(request, ctx)?;
        if self.status != ChangeStatus::Submitted {
            return Err(ChangeError::NotAwaitingApproval(self.status));
        }
        Ok(vec![ChangeEvent::Rejected(ChangeRejected {
            by: ctx.actor.clone(),
            at: ctx.now,
            reason,
        })])
    }

    /// Approval decisions: awaiting approval (an emergency also once under
    /// way or closed), and never by the requester.
    fn check_can_decide_approval(
        &self,
        request: &ChangeRequested,
        ctx: &Context,
    ) -> Result<(), ChangeError> {
        let late_emergency = request.change_type == ChangeType::Emergency
            && matches!(
                self.status,
                ChangeStatus::Scheduled
                    | ChangeStatus::InProgress
                    | ChangeStatus::Validating
                    | ChangeStatus::Completed
                    | ChangeStatus::Failed
                    | ChangeStatus::RolledBack
            );
        let awaiting = self.status == ChangeStatus::Submitted || late_emergency;
        if self.approved || !awaiting {
            return Err(ChangeError::NotAwaitingApproval(self.status));
        }
        if request.requested_by == ctx.actor {
            return Err(ChangeError::RequesterCannotApprove);
        }
        Ok(())
    }

    pub(super) fn schedule(
        &self,
        request: &ChangeRequested,
        cmd: ScheduleChange,
        facts: &ChangeFacts,
        ctx: &Context,
    ) -> Decision {
        let emergency = request.change_type == ChangeType::Emergency;
        let schedulable = matches!(
            self.status,
            ChangeStatus::Approved | ChangeStatus::Scheduled
        ) || (emergency && self.status == ChangeStatus::Submitted);
        if !schedulable {
            return Err(ChangeError::NotSchedulable(self.status));
        }
        if !cmd.window.is_valid() {
            return Err(ChangeError::WindowEndsBeforeStart);
        }
        let freezes: Vec<_> = facts
            .active_freezes
            .iter()
            .filter(|f| f.blocks(&cmd.window, &request.services))
            .map(|f| f.id)
            .collect();
        if let (Some(first), false) = (freezes.first(), emergency) {
            return Err(ChangeError::ScheduledInFreeze(*first));
        }
        Ok(vec![ChangeEvent::Scheduled(ChangeScheduled {
            by: ctx.actor.clone(),
            at: ctx.now,
            window: cmd.window,
            conflicts: conflicts(request, &cmd.window, &facts.overlapping_changes),
            freezes_overridden: freezes,
        })])
    }

    pub(super) fn start(&self, ctx: &Context) -> Decision {
        if self.status != ChangeStatus::Scheduled {
            return Err(ChangeError::NotScheduled(self.status));
        }
        Ok(vec![ChangeEvent::Started(ChangeStarted {
            by: ctx.actor.clone(),
            at: ctx.now,
        })])
    }

    pub(super) fn record_validation(
        &self,
        results: Vec<ValidationResult>,
        ctx: &Context,
    ) -> Decision {
        self.check_underway()?;
        if results.is_empty() {
            return Err(ChangeError::NoValidationResults);
        }
        Ok(vec![ChangeEvent::ValidationRecorded(
            ChangeValidationRecorded {
                by: ctx.actor.clone(),
                at: ctx.now,
                all_passed: results.iter().all(|r| r.passed),
                results,
            },
        )])
    }

    pub(super) fn complete(&self, summary: String, ctx: &Context) -> Decision {
        if self.status != ChangeStatus::Validating {
            return Err(ChangeError::NotValidating(self.status));
        }
        if !self.validation.iter().all(|r| r.passed) {
            return Err(ChangeError::ValidationNotPassed);
        }
        Ok(vec![ChangeEvent::Completed(ChangeCompleted {
            by: ctx.actor.clone(),
            at: ctx.now,
            summary,
        })])
    }

    pub(super) fn fail(&self, reason: String, ctx: &Context) -> Decision {
        self.check_underway()?;
        Ok(vec![ChangeEvent::Failed(ChangeFailed {
            by: ctx.actor.clone(),
            at: ctx.now,
            reason,
        })])
    }

    pub(super) fn roll_back(&self, reason: String, ctx: &Context) -> Decision {
        self.check_underway()?;
        Ok(vec![ChangeEvent::RolledBack(ChangeRolledBack {
            by: ctx.actor.clone(),
            at: ctx.now,
            reason,
        })])
    }

    pub(super) fn cancel(&self, reason: String, ctx: &Context) -> Decision {
        let before_start = matches!(
            self.status,
            ChangeStatus::Draft
                | ChangeStatus::Submitted
                | ChangeStatus::Approved
                | ChangeStatus::Scheduled
        );
        if !before_start {
            return Err(ChangeError::NotCancellable(self.status));
        }
        Ok(vec![ChangeEvent::Cancelled(ChangeCancelled {
            by: ctx.actor.clone(),
            at: ctx.now,
            reason,
            from: self.status,
        })])
    }

    fn check_underway(&self) -> Result<(), ChangeError> {
        match self.status {
            ChangeStatus::InProgress | ChangeStatus::Validating => Ok(()),
            other => Err(ChangeError::NotUnderway(other)),
        }
    }

    /// Moves to a terminal status at `at`.
    pub(super) fn close(&mut self, status: ChangeStatus, at: Timestamp) {
        self.status = status;
        self.closed_at = Some(at);
    }
}

/// The tier of each service, in order; rejects empty, duplicate or unknown services.
fn service_tiers(services: &[ServiceId], facts: &[ServiceFact]) -> Result<Vec<u8>, ChangeError> {
    if services.is_empty() {
        return Err(ChangeError::NoServices);
    }
    let mut tiers = Vec::with_capacity(services.len());
    for (i, service) in services.iter().enumerate() {
        if services[..i].contains(service) {
            return Err(ChangeError::DuplicateService(*service));
        }
        let fact = facts
            .iter()
            .find(|f| f.id == *service)
            .ok_or(ChangeError::UnknownServiceTier(*service))?;
        tiers.push(fact.tier.get());
    }
    Ok(tiers)
}

/// Other changes whose window overlaps `window` on a shared service.
fn conflicts(
    request: &ChangeRequested,
    window: &TimeWindow,
    others: &[ChangeWindowFact],
) -> Vec<ChangeConflict> {
    others
        .iter()
        .filter(|o| o.id != request.id && o.window.overlaps(window))
        .filter_map(|o| {
            let shared: Vec<ServiceId> = o
                .services
                .iter()
                .filter(|s| request.services.contains(s))
                .copied()
                .collect();
            (!shared.is_empty()).then_some(ChangeConflict {
                change: o.id,
                window: o.window,
                services: shared,
            })
        })
        .collect()
}
