//! `decide` for the incident aggregate: one small function per command.

use super::command::{DeclareIncident, IncidentCommand};
use super::event::*;
use super::model::{
    DeclarationFacts, ImpactLevel, IncidentStatus, ServiceFacts, ServiceImpact, Severity, Stage,
    Visibility,
};
use super::state::IncidentState;
use super::IncidentError;
use crate::alert_group_key::AlertGroupKey;
use crate::context::{Actor, Context};
use crate::ids::{ChangeId, IncidentId, ServiceId};
use crate::text::BoundedText;

/// The longest accepted title, in characters.
pub use crate::text::MAX_TITLE_CHARS;

/// The longest recorded reason of an undone merge, in characters.
pub const MAX_UNDO_REASON_CHARS: usize = 500;

type Decision = Result<Vec<IncidentEvent>, IncidentError>;

impl IncidentState {
    /// Decides a command (only a declaration reads `facts`).
    pub(super) fn decide_command(
        &self,
        command: IncidentCommand,
        facts: DeclarationFacts,
        ctx: &Context,
    ) -> Decision {
        if let IncidentCommand::Declare(cmd) = command {
            return self.declare(cmd, &facts, ctx);
        }
        if let IncidentCommand::UndoDuplicateMerge { duplicate, reason } = command {
            return self.undo_duplicate_merge(duplicate, reason, ctx);
        }
        self.ensure_open()?;
        match command {
            IncidentCommand::Declare(_) => Err(IncidentError::AlreadyDeclared),
            IncidentCommand::UndoDuplicateMerge { .. } => Err(IncidentError::DuplicateNotMerged),
            IncidentCommand::Acknowledge => self.acknowledge(ctx),
            IncidentCommand::Advance { to } => self.advance(to, ctx),
            IncidentCommand::AssignCommander { commander } => self.assign_commander(commander, ctx),
            IncidentCommand::AddResponder { responder } => self.add_responder(responder, ctx),
            IncidentCommand::RemoveResponder { responder } => self.remove_responder(responder, ctx),
            IncidentCommand::Escalate => self.escalate(ctx),
            IncidentCommand::CheckEscalation => Ok(self.check_escalation(ctx)),
            IncidentCommand::ChangeSeverity { to } => self.change_severity(to, ctx),
            IncidentCommand::UpdateImpact { service, level } => {
                self.update_impact(service, level, ctx)
            }
            IncidentCommand::AddNote { text } => add_note(text.into_string(), ctx),
            IncidentCommand::PostStatusUpdate {
                visibility,
                message,
            } => self.post_status_update(visibility, message.into_string(), ctx),
            IncidentCommand::LinkCauseChange { change } => self.link_cause_change(change, ctx),
            IncidentCommand::LinkAlertGroup { group } => self.link_alert_group(group, ctx),
            IncidentCommand::MergeInto { target } => self.merge_into(target, ctx),
            IncidentCommand::AbsorbDuplicate { duplicate } => self.absorb_duplicate(duplicate, ctx),
            IncidentCommand::Resolve { summary } => self.resolve(summary.into_string(), ctx),
            IncidentCommand::Close => self.close(ctx),
            IncidentCommand::Reopen { reason } => self.reopen(reason.into_string(), ctx),
        }
    }

    /// Declared, not merged, not closed.
    fn ensure_open(&self) -> Result<(), IncidentError> {
        if !self.is_declared() {
            Err(IncidentError::NotDeclared)
        } else if self.merged_into.is_some() {
            Err(IncidentError::Merged)
        } else if self.status == IncidentStatus::Closed {
            Err(IncidentError::Closed)
        } else {
            Ok(())
        }
    }

    /// A forward move to `to`, or [`IncidentError::InvalidTransition`].
    fn ensure_forward(&self, to: IncidentStatus) -> Result<(), IncidentError> {
        if to > self.status {
            Ok(())
        } else {
            Err(IncidentError::InvalidTransition {
                from: self.status,
                to,
            })
        }
    }

    /// Not yet resolved (escalation only makes sense while active).
    fn ensure_active(&self) -> Result<(), IncidentError> {
        if self.status < IncidentStatus::Resolved {
            Ok(())
        } else {
            Err(IncidentError::NotActive)
        }
    }

    fn declare(&self, cmd: DeclareIncident, facts: &DeclarationFacts, ctx: &Context) -> Decision {
        if self.is_declared() {
            return Err(IncidentError::AlreadyDeclared);
        }
        let detected_at = cmd.detected_at.unwrap_or(ctx.now);
        let started_at = cmd.started_at.unwrap_or(detected_at);
        if started_at > detected_at {
            return Err(IncidentError::StartedAfterDetected);
        }
        let impacted = validate_declaration(&cmd, facts)?;
        if detected_at.is_beyond_skew(ctx.now) {
            return Err(IncidentError::DetectedInFuture);
        }
        // Within the tolerated clock skew a future instant is recorded as now,
        // so no duration measured from it (MTTA, MTTR) can come out negative.
        let detected_at = detected_at.min(ctx.now);
        let started_at = started_at.min(detected_at);
        let derived = Severity::derive_worst(impacted.iter().map(|(i, f)| (f.tier, i.level)));
        let escalation_policy = impacted
            .first()
            .map(|(_, f)| f.escalation_policy.clone())
            .unwrap_or_default();
        Ok(vec![IncidentEvent::Declared(IncidentDeclared {
            id: cmd.id,
            title: cmd.title,
            description: cmd.description,
            severity: cmd.severity.unwrap_or(derived),
            severity_derived: cmd.severity.is_none(),
            impacts: cmd.impacts,
            started_at,
            detected_at,
            alert_group: cmd.alert_group,
            escalation_policy,
            by: ctx.actor.clone(),
            at: ctx.now,
        })])
    }

    fn acknowledge(&self, ctx: &Context) -> Decision {
        self.ensure_forward(IncidentStatus::Acknowledged)?;
        Ok(vec![acknowledged(ctx)])
    }

    fn advance(&self, to: Stage, ctx: &Context) -> Decision {
        let to = to.status();
        self.ensure_forward(to)?;
        let mut events = Vec::with_capacity(2);
        let mut from = self.status;
        if from == IncidentStatus::Triggered {
            events.push(acknowledged(ctx));
            from = IncidentStatus::Acknowledged;
        }
        events.push(IncidentEvent::StatusChanged(IncidentStatusChanged {
            from,
            to,
            by: ctx.actor.clone(),
            at: ctx.now,
        }));
        Ok(events)
    }

    fn assign_commander(&self, commander: Actor, ctx: &Context) -> Decision {
        require_actor_name(&commander)?;
        if self.commander.as_ref() == Some(&commander) {
            return Err(IncidentError::AlreadyCommander);
        }
        Ok(vec![IncidentEvent::CommanderAssigned(
            IncidentCommanderAssigned {
                commander,
                previous: self.commander.clone(),
                by: ctx.actor.clone(),
                at: ctx.now,
            },
        )])
    }

    fn add_responder(&self, responder: Actor, ctx: &Context) -> Decision {
        require_actor_name(&responder)?;
        if self.responders.contains(&responder) {
            return Err(IncidentError::AlreadyResponder);
        }
        Ok(vec![IncidentEvent::ResponderAdded(
            IncidentResponderAdded {
                responder,
                by: ctx.actor.clone(),
                at: ctx.now,
            },
        )])
    }

    fn remove_responder(&self, responder: Actor, ctx: &Context) -> Decision {
        if !self.responders.contains(&responder) {
            return Err(IncidentError::NotAResponder);
        }
        Ok(vec![IncidentEvent::ResponderRemoved(
            IncidentResponderRemoved {
                responder,
                by: ctx.actor.clone(),
                at: ctx.now,
            },
        )])
    }

    fn escalate(&self, ctx: &Context) -> Decision {
        self.ensure_active()?;
        self.next_escalation(false, ctx)
            .map(|e| vec![e])
            .ok_or(IncidentError::NoFurtherEscalationLevel)
    }

    fn check_escalation(&self, ctx: &Context) -> Vec<IncidentEvent> {
        match self.escalation_deadline() {
            Some(deadline) if ctx.now >= deadline => {
                self.next_escalation(true, ctx).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    /// The escalation to the level after the current one, if the policy has one.
    fn next_escalation(&self, automatic: bool, ctx: &Context) -> Option<IncidentEvent> {
        let level = self.escalation_level.checked_add(1)?;
        let next = self
            .escalation_policy
            .levels
            .get(usize::try_from(level).ok()?)?;
        Some(IncidentEvent::Escalated(IncidentEscalated {
            level,
            target: next.target.clone(),
            automatic,
            by: ctx.actor.clone(),
            at: ctx.now,
        }))
    }

    fn change_severity(&self, to: Severity, ctx: &Context) -> Decision {
        if to == self.severity {
            return Err(IncidentError::SameSeverity);
        }
        Ok(vec![IncidentEvent::SeverityChanged(
            IncidentSeverityChanged {
                from: self.severity,
                to,
                by: ctx.actor.clone(),
                at: ctx.now,
            },
        )])
    }

    fn update_impact(&self, service: ServiceId, level: ImpactLevel, ctx: &Context) -> Decision {
        let previous = self
            .impacts
            .iter()
            .find(|i| i.service == service)
            .map(|i| i.level);
        if previous == Some(level) {
            return Err(IncidentError::SameImpact);
        }
        Ok(vec![IncidentEvent::ImpactUpdated(IncidentImpactUpdated {
            service,
            previous,
            level,
            by: ctx.actor.clone(),
            at: ctx.now,
        })])
    }

    fn post_status_update(
        &self,
        visibility: Visibility,
        message: String,
        ctx: &Context,
    ) -> Decision {
        if message.trim().is_empty() {
            return Err(IncidentError::EmptyStatusUpdate);
        }
        Ok(vec![IncidentEvent::StatusUpdatePosted(
            IncidentStatusUpdatePosted {
                visibility,
                message,
                status: self.status,
                by: ctx.actor.clone(),
                at: ctx.now,
            },
        )])
    }

    fn link_cause_change(&self, change: ChangeId, ctx: &Context) -> Decision {
        if self.cause_change == Some(change) {
            return Err(IncidentError::CauseAlreadyLinked);
        }
        Ok(vec![IncidentEvent::CauseChangeLinked(
            IncidentCauseChangeLinked {
                change,
                previous: self.cause_change,
                by: ctx.actor.clone(),
                at: ctx.now,
            },
        )])
    }

    fn link_alert_group(&self, group: AlertGroupKey, ctx: &Context) -> Decision {
        if self.alert_groups.contains(&group) {
            return Err(IncidentError::AlertGroupAlreadyLinked);
        }
        Ok(vec![IncidentEvent::AlertGroupLinked(
            IncidentAlertGroupLinked {
                group,
                by: ctx.actor.clone(),
                at: ctx.now,
            },
        )])
    }

    fn merge_into(&self, target: IncidentId, ctx: &Context) -> Decision {
        if self.id == Some(target) {
            return Err(IncidentError::CannotMergeIntoSelf);
        }
        Ok(vec![IncidentEvent::MergedInto(IncidentMergedInto {
            target,
            by: ctx.actor.clone(),
            at: ctx.now,
        })])
    }

    fn absorb_duplicate(&self, duplicate: IncidentId, ctx: &Context) -> Decision {
        if self.id == Some(duplicate) {
            return Err(IncidentError::CannotMergeIntoSelf);
        }
        if self.duplicates.contains(&duplicate) {
            return Err(IncidentError::DuplicateAlreadyMerged);
        }
        Ok(vec![IncidentEvent::DuplicateMerged(
            IncidentDuplicateMerged {
                duplicate,
                by: ctx.actor.clone(),
                at: ctx.now,
            },
        )])
    }

    fn undo_duplicate_merge(
        &self,
        duplicate: IncidentId,
        reason: String,
        ctx: &Context,
    ) -> Decision {
        if !self.is_declared() {
            return Err(IncidentError::NotDeclared);
        }
        if !self.duplicates.contains(&duplicate) {
            return Err(IncidentError::DuplicateNotMerged);
        }
        Ok(vec![IncidentEvent::DuplicateMergeUndone(
            IncidentDuplicateMergeUndone {
                duplicate,
                reason: reason.chars().take(MAX_UNDO_REASON_CHARS).collect(),
                by: ctx.actor.clone(),
                at: ctx.now,
            },
        )])
    }

    fn resolve(&self, summary: String, ctx: &Context) -> Decision {
        self.ensure_forward(IncidentStatus::Resolved)?;
        if summary.trim().is_empty() {
            return Err(IncidentError::EmptyResolutionSummary);
        }
        Ok(vec![IncidentEvent::Resolved(IncidentResolved {
            from: self.status,
            summary,
            by: ctx.actor.clone(),
            at: ctx.now,
        })])
    }

    fn close(&self, ctx: &Context) -> Decision {
        if self.status != IncidentStatus::Resolved {
            return Err(IncidentError::NotResolved);
        }
        Ok(vec![IncidentEvent::Closed(IncidentClosed {
            by: ctx.actor.clone(),
            at: ctx.now,
        })])
    }

    fn reopen(&self, reason: String, ctx: &Context) -> Decision {
        if self.status != IncidentStatus::Resolved {
            return Err(IncidentError::NotResolved);
        }
        Ok(vec![IncidentEvent::Reopened(IncidentReopened {
            reason,
            by: ctx.actor.clone(),
            at: ctx.now,
        })])
    }
}

fn acknowledged(ctx: &Context) -> IncidentEvent {
    IncidentEvent::Acknowledged(IncidentAcknowledged {
        by: ctx.actor.clone(),
        at: ctx.now,
    })
}

fn add_note(text: String, ctx: &Context) -> Decision {
    if text.trim().is_empty() {
        return Err(IncidentError::EmptyNote);
    }
    Ok(vec![IncidentEvent::NoteAdded(IncidentNoteAdded {
        text,
        by: ctx.actor.clone(),
        at: ctx.now,
    })])
}

fn require_actor_name(actor: &Actor) -> Result<(), IncidentError> {
    if actor.as_str().trim().is_empty() {
        Err(IncidentError::EmptyActorName)
    } else {
        Ok(())
    }
}

/// The declaration's impacts, each with its service's facts.
type Impacted<'a> = Vec<(ServiceImpact, &'a ServiceFacts)>;

fn validate_declaration<'a>(
    cmd: &DeclareIncident,
    facts: &'a DeclarationFacts,
) -> Result<Impacted<'a>, IncidentError> {
    if cmd.title.trim().is_empty() {
        return Err(IncidentError::EmptyTitle);
    }
    if cmd.title.chars().count() > MAX_TITLE_CHARS {
        return Err(IncidentError::TitleTooLong);
    }
    validate_impacts(&cmd.impacts, facts)
}

fn validate_impacts<'a>(
    impacts: &[ServiceImpact],
    facts: &'a DeclarationFacts,
) -> Result<Impacted<'a>, IncidentError> {
    if impacts.is_empty() {
        return Err(IncidentError::NoImpactedServices);
    }
    let mut impacted = Vec::with_capacity(impacts.len());
    for (n, impact) in impacts.iter().enumerate() {
        let service = impact.service;
        if impacts[..n].iter().any(|other| other.service == service) {
            return Err(IncidentError::DuplicateImpactedService { service });
        }
        let known = facts
            .service(service)
            .ok_or(IncidentError::UnknownService { service })?;
        if known.retired {
            return Err(IncidentError::ServiceRetired { service });
        }
        impacted.push((*impact, known));
    }
    Ok(impacted)
}
