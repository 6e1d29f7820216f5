//! Events of the incident aggregate: named past-tense facts, bincode-friendly.
//! Variants are appended at the end only (bincode encodes the variant index).

use super::model::{ImpactLevel, IncidentStatus, ServiceImpact, Severity, Visibility};
use crate::alert_group_key::AlertGroupKey;
use crate::context::Actor;
use crate::ids::{ChangeId, IncidentId, ServiceId};
use crate::service::EscalationPolicy;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// An incident was declared (status `Triggered`; escalation level 0 is paged).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentDeclared {
    /// The incident.
    pub id: IncidentId,
    /// Short title.
    pub title: String,
    /// Longer description.
    pub description: String,
    /// The severity (given or derived).
    pub severity: Severity,
    /// Whether the severity was derived from tiers and impact.
    pub severity_derived: bool,
    /// Impacted services with their levels; the first is the primary service.
    pub impacts: Vec<ServiceImpact>,
    /// When the impact started.
    pub started_at: Timestamp,
    /// When it was detected.
    pub detected_at: Timestamp,
    /// The alert group that opened it, if any.
    pub alert_group: Option<AlertGroupKey>,
    /// The primary service's escalation policy at declaration.
    pub escalation_policy: EscalationPolicy,
    /// Who declared it.
    pub by: Actor,
    /// When it was declared (triggered).
    pub at: Timestamp,
}

/// The incident was acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentAcknowledged {
    /// Who acknowledged it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// The incident moved to a working stage (investigating, identified, monitoring).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentStatusChanged {
    /// The previous status.
    pub from: IncidentStatus,
    /// The new status (entering `Monitoring` marks the mitigation time).
    pub to: IncidentStatus,
    /// Who moved it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// A commander was assigned (a hand-off when `previous` is set).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentCommanderAssigned {
    /// The new commander.
    pub commander: Actor,
    /// The commander handing off, if any.
    pub previous: Option<Actor>,
    /// Who assigned.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// A responder joined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentResponderAdded {
    /// The responder.
    pub responder: Actor,
    /// Who added them.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// A responder left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentResponderRemoved {
    /// The responder.
    pub responder: Actor,
    /// Who removed them.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// The incident escalated to a level of its escalation policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentEscalated {
    /// The level now paged (index into the policy; level 0 is paged at declaration).
    pub level: u32,
    /// Who is paged.
    pub target: String,
    /// Whether the escalation engine did it (ack timeout) or a person.
    pub automatic: bool,
    /// The actor that issued the command.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// The severity changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentSeverityChanged {
    /// The previous severity.
    pub from: Severity,
    /// The new severity.
    pub to: Severity,
    /// Who changed it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// One service's impact level changed (or the service was added).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentImpactUpdated {
    /// The service.
    pub service: ServiceId,
    /// Its previous level (`None` if newly impacted).
    pub previous: Option<ImpactLevel>,
    /// Its new level.
    pub level: ImpactLevel,
    /// Who changed it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// A timeline note was added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentNoteAdded {
    /// The note.
    pub text: String,
    /// Who wrote it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// A status update was posted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentStatusUpdatePosted {
    /// Internal or public (status page).
    pub visibility: Visibility,
    /// The update.
    pub message: String,
    /// The incident's status when posted.
    pub status: IncidentStatus,
    /// Who posted it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// A change was named as the incident's cause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentCauseChangeLinked {
    /// The change.
    pub change: ChangeId,
    /// The previously linked cause, if replaced.
    pub previous: Option<ChangeId>,
    /// Who linked it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// An alert group was linked to the incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentAlertGroupLinked {
    /// The alert group.
    pub group: AlertGroupKey,
    /// Who linked it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// This incident was merged, as a duplicate, into another (final).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentMergedInto {
    /// The incident that absorbed this one.
    pub target: IncidentId,
    /// Who merged.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// A duplicate incident was merged into this one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentDuplicateMerged {
    /// The duplicate.
    pub duplicate: IncidentId,
    /// Who merged.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// A recorded duplicate was taken back: the duplicate refused its half of
/// the merge (the merge policy's compensating event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentDuplicateMergeUndone {
    /// The duplicate that refused.
    pub duplicate: IncidentId,
    /// Why it refused (at most 500 characters).
    pub reason: String,
    /// Who merged (the policy acts for the merging actor).
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// The incident was resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentResolved {
    /// The status it was resolved from.
    pub from: IncidentStatus,
    /// The resolution summary.
    pub summary: String,
    /// Who resolved it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// The incident was closed (final).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentClosed {
    /// Who closed it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// A resolved incident was reopened (back to investigating).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentReopened {
    /// Why.
    pub reason: String,
    /// Who reopened it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// Events of the incident aggregate (append new variants at the end only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum IncidentEvent {
    /// See [`IncidentDeclared`].
    Declared(IncidentDeclared),
    /// See [`IncidentAcknowledged`].
    Acknowledged(IncidentAcknowledged),
    /// See [`IncidentStatusChanged`].
    StatusChanged(IncidentStatusChanged),
    /// See [`IncidentCommanderAssigned`].
    CommanderAssigned(IncidentCommanderAssigned),
    /// See [`IncidentResponderAdded`].
    ResponderAdded(IncidentResponderAdded),
    /// See [`IncidentResponderRemoved`].
    ResponderRemoved(IncidentResponderRemoved),
    /// See [`IncidentEscalated`].
    Escalated(IncidentEscalated),
    /// See [`IncidentSeverityChanged`].
    SeverityChanged(IncidentSeverityChanged),
    /// See [`IncidentImpactUpdated`].
    ImpactUpdated(IncidentImpactUpdated),
    /// See [`IncidentNoteAdded`].
    NoteAdded(IncidentNoteAdded),
    /// See [`IncidentStatusUpdatePosted`].
    StatusUpdatePosted(IncidentStatusUpdatePosted),
    /// See [`IncidentCauseChangeLinked`].
    CauseChangeLinked(IncidentCauseChangeLinked),
    /// See [`IncidentAlertGroupLinked`].
    AlertGroupLinked(IncidentAlertGroupLinked),
    /// See [`IncidentMergedInto`].
    MergedInto(IncidentMergedInto),
    /// See [`IncidentDuplicateMerged`].
    DuplicateMerged(IncidentDuplicateMerged),
    /// See [`IncidentResolved`].
    Resolved(IncidentResolved),
    /// See [`IncidentClosed`].
    Closed(IncidentClosed),
    /// See [`IncidentReopened`].
    Reopened(IncidentReopened),
    /// See [`IncidentDuplicateMergeUndone`].
    DuplicateMergeUndone(IncidentDuplicateMergeUndone),
}

impl IncidentEvent {
    /// The stable type name of the event (its struct's name).
    pub fn type_name(&self) -> &'static str {
        match self {
            IncidentEvent::Declared(_) => "IncidentDeclared",
            IncidentEvent::Acknowledged(_) => "IncidentAcknowledged",
            IncidentEvent::StatusChanged(_) => "IncidentStatusChanged",
            IncidentEvent::CommanderAssigned(_) => "IncidentCommanderAssigned",
            IncidentEvent::ResponderAdded(_) => "IncidentResponderAdded",
            IncidentEvent::ResponderRemoved(_) => "IncidentResponderRemoved",
            IncidentEvent::Escalated(_) => "IncidentEscalated",
            IncidentEvent::SeverityChanged(_) => "IncidentSeverityChanged",
            IncidentEvent::ImpactUpdated(_) => "IncidentImpactUpdated",
            IncidentEvent::NoteAdded(_) => "IncidentNoteAdded",
            IncidentEvent::StatusUpdatePosted(_) => "IncidentStatusUpdatePosted",
            IncidentEvent::CauseChangeLinked(_) => "IncidentCauseChangeLinked",
            IncidentEvent::AlertGroupLinked(_) => "IncidentAlertGroupLinked",
            IncidentEvent::MergedInto(_) => "IncidentMergedInto",
            IncidentEvent::DuplicateMerged(_) => "IncidentDuplicateMerged",
            IncidentEvent::Resolved(_) => "IncidentResolved",
            IncidentEvent::Closed(_) => "IncidentClosed",
            IncidentEvent::Reopened(_) => "IncidentReopened",
            IncidentEvent::DuplicateMergeUndone(_) => "IncidentDuplicateMergeUndone",
        }
    }

    /// The schema version of the event's encoding.
    pub fn schema_version(&self) -> u16 {
        1
    }

    /// When the event happened.
    pub fn at(&self) -> Timestamp {
        match self {
            IncidentEvent::Declared(e) => e.at,
            IncidentEvent::Acknowledged(e) => e.at,
            IncidentEvent::StatusChanged(e) => e.at,
            IncidentEvent::CommanderAssigned(e) => e.at,
            IncidentEvent::ResponderAdded(e) => e.at,
            IncidentEvent::ResponderRemoved(e) => e.at,
            IncidentEvent::Escalated(e) => e.at,
            IncidentEvent::SeverityChanged(e) => e.at,
            IncidentEvent::ImpactUpdated(e) => e.at,
            IncidentEvent::NoteAdded(e) => e.at,
            IncidentEvent::StatusUpdatePosted(e) => e.at,
            IncidentEvent::CauseChangeLinked(e) => e.at,
            IncidentEvent::AlertGroupLinked(e) => e.at,
            IncidentEvent::MergedInto(e) => e.at,
            IncidentEvent::DuplicateMerged(e) => e.at,
            IncidentEvent::Resolved(e) => e.at,
            IncidentEvent::Closed(e) => e.at,
            IncidentEvent::Reopened(e) => e.at,
            IncidentEvent::DuplicateMergeUndone(e) => e.at,
        }
    }
}
