//! The folded state of one incident stream and its total `evolve`.

use super::event::IncidentEvent;
use super::model::{IncidentStatus, ServiceImpact, Severity};
use crate::alert_group_key::AlertGroupKey;
use crate::context::Actor;
use crate::ids::{ChangeId, IncidentId};
use crate::service::EscalationPolicy;
use crate::time::Timestamp;

/// The folded state of one incident. Before declaration `id` is `None` and
/// the other fields hold their defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncidentState {
    /// Number of events folded.
    pub version: u64,
    /// The incident's id, once declared.
    pub id: Option<IncidentId>,
    /// Short title.
    pub title: String,
    /// Longer description.
    pub description: String,
    /// Lifecycle status.
    pub status: IncidentStatus,
    /// Current severity.
    pub severity: Severity,
    /// Impacted services, in declaration order (the first is the primary).
    pub impacts: Vec<ServiceImpact>,
    /// When the impact started.
    pub started_at: Timestamp,
    /// When it was detected.
    pub detected_at: Timestamp,
    /// When it was declared (triggered).
    pub triggered_at: Timestamp,
    /// When it was first acknowledged.
    pub acknowledged_at: Option<Timestamp>,
    /// When it entered monitoring (cleared on reopen).
    pub mitigated_at: Option<Timestamp>,
    /// When it was resolved (cleared on reopen).
    pub resolved_at: Option<Timestamp>,
    /// When it was closed.
    pub closed_at: Option<Timestamp>,
    /// The incident commander.
    pub commander: Option<Actor>,
    /// Responders, in joining order.
    pub responders: Vec<Actor>,
    /// The primary service's escalation policy.
    pub escalation_policy: EscalationPolicy,
    /// The level currently paged (0 at declaration).
    pub escalation_level: u32,
    /// When the current level was paged (declaration or last escalation).
    pub escalation_level_since: Timestamp,
    /// The change named as the cause.
    pub cause_change: Option<ChangeId>,
    /// Alert groups linked (including the one that opened it).
    pub alert_groups: Vec<AlertGroupKey>,
    /// The incident this one was merged into, as a duplicate.
    pub merged_into: Option<IncidentId>,
    /// Duplicates merged into this one.
    pub duplicates: Vec<IncidentId>,
    /// The resolution summary (cleared on reopen).
    pub resolution_summary: Option<String>,
    /// How many times it was reopened.
    pub reopen_count: u32,
}

impl IncidentState {
    /// Whether the incident was declared.
    pub fn is_declared(&self) -> bool {
        self.id.is_some()
    }

    /// When the escalation engine should next run [`super::IncidentCommand::CheckEscalation`]:
    /// the current level's acknowledge deadline, if the incident is still
    /// triggered, not merged, and a further level exists.
    pub fn escalation_deadline(&self) -> Option<Timestamp> {
        if !self.is_declared()
            || self.status != IncidentStatus::Triggered
            || self.merged_into.is_some()
        {
            return None;
        }
        let level = usize::try_from(self.escalation_level).ok()?;
        let current = self.escalation_policy.levels.get(level)?;
        self.escalation_policy.levels.get(level.checked_add(1)?)?;
        Some(
            self.escalation_level_since
                .plus_secs(i64::from(current.ack_timeout_secs)),
        )
    }

    /// Folds one event. Total: every event applies to any state.
    pub(super) fn apply(mut self, event: &IncidentEvent) -> Self {
        self.version = self.version.saturating_add(1);
        match event {
            IncidentEvent::Declared(e) => {
                self.id = Some(e.id);
                self.title = e.title.clone();
                self.description = e.description.clone();
                self.status = IncidentStatus::Triggered;
                self.severity = e.severity;
                self.impacts = e.impacts.clone();
                self.started_at = e.started_at;
                self.detected_at = e.detected_at;
                self.triggered_at = e.at;
                self.escalation_policy = e.escalation_policy.clone();
                self.escalation_level = 0;
                self.escalation_level_since = e.at;
                self.alert_groups = e.alert_group.iter().cloned().collect();
            }
            IncidentEvent::Acknowledged(e) => {
                self.status = self.status.max(IncidentStatus::Acknowledged);
                self.acknowledged_at.get_or_insert(e.at);
            }
            IncidentEvent::StatusChanged(e) => {
                self.status = e.to;
                if e.to == IncidentStatus::Monitoring {
                    self.mitigated_at = Some(e.at);
                }
            }
            IncidentEvent::CommanderAssigned(e) => self.commander = Some(e.commander.clone()),
            IncidentEvent::ResponderAdded(e) => {
                if !self.responders.contains(&e.responder) {
                    self.responders.push(e.responder.clone());
                }
            }
            IncidentEvent::ResponderRemoved(e) => self.responders.retain(|r| r != &e.responder),
            IncidentEvent::Escalated(e) => {
                self.escalation_level = e.level;
                self.escalation_level_since = e.at;
            }
            IncidentEvent::SeverityChanged(e) => self.severity = e.to,
            IncidentEvent::ImpactUpdated(e) => {
                match self.impacts.iter_mut().find(|i| i.service == e.service) {
                    Some(impact) => impact.level = e.level,
                    None => self.impacts.push(ServiceImpact {
                        service: e.service,
                        level: e.level,
                    }),
                }
            }
            IncidentEvent::NoteAdded(_) | IncidentEvent::StatusUpdatePosted(_) => {}
            IncidentEvent::CauseChangeLinked(e) => self.cause_change = Some(e.change),
            IncidentEvent::AlertGroupLinked(e) => {
                if !self.alert_groups.contains(&e.group) {
                    self.alert_groups.push(e.group.clone());
                }
            }
            IncidentEvent::MergedInto(e) => self.merged_into = Some(e.target),
            IncidentEvent::DuplicateMerged(e) => {
                if !self.duplicates.contains(&e.duplicate) {
                    self.duplicates.push(e.duplicate);
                }
            }
            IncidentEvent::DuplicateMergeUndone(e) => self.duplicates.retain(|d| *d != e.duplicate),
            IncidentEvent::Resolved(e) => {
                self.status = IncidentStatus::Resolved;
                self.resolved_at = Some(e.at);
                self.resolution_summary = Some(e.summary.clone());
            }
            IncidentEvent::Closed(e) => {
                self.status = IncidentStatus::Closed;
                self.closed_at = Some(e.at);
            }
            IncidentEvent::Reopened(_) => {
                self.status = IncidentStatus::Investigating;
                self.mitigated_at = None;
                self.resolved_at = None;
                self.resolution_summary = None;
                self.reopen_count = self.reopen_count.saturating_add(1);
            }
        }
        self
    }
}
