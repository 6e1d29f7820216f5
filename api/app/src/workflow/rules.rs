//! Which events start a workflow on another stream, and the ids of the
//! follow-ups they cause (pure: no I/O).
//!
//! | trigger (stream)                         | follow-up (stream)                          |
//! |------------------------------------------|---------------------------------------------|
//! | `IncidentOpenedForGroup[V2]` (group)     | `DeclareIncident` (the new incident)        |
//! | `IncidentResolved` / `Closed` / `MergedInto` (incident) | `ReleaseGroup` (each of its groups) |
//! | `IncidentDuplicateMerged` (target)       | `MergeInto` (duplicate); if refused, `UndoDuplicateMerge` (target) |
//!
//! A follow-up's command id is derived from the triggering event's id, so the
//! store's idempotency makes it happen at most once however often a policy
//! reacts to the same event (after a crash, a lost checkpoint, or two reactors).

use opsledger_domain::alert::AlertGroupEvent;
use opsledger_domain::incident::{ImpactLevel, IncidentEvent};
use opsledger_domain::{DomainEvent, IncidentId, Timestamp};
use opsledger_storage::{RecordedEvent, Ulid};

/// An event that starts a workflow on another stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A group opened an incident: declare it.
    Declare {
        /// The incident to declare.
        incident: IncidentId,
        /// How the service is affected (`None` in schema-1 openings).
        impact: Option<ImpactLevel>,
        /// When the group opened it.
        at: Timestamp,
    },
    /// An incident ended (resolved, closed, merged): release its alert groups.
    Release {
        /// The incident that ended.
        incident: IncidentId,
        /// When.
        at: Timestamp,
    },
    /// A target recorded a duplicate: mark the duplicate merged into it.
    MarkMerged {
        /// The incident that absorbed the duplicate.
        target: IncidentId,
        /// The duplicate.
        duplicate: IncidentId,
        /// When.
        at: Timestamp,
    },
}

impl Trigger {
    /// When the triggering event happened (the follow-ups are decided at this time).
    pub fn at(&self) -> Timestamp {
        match self {
            Trigger::Declare { at, .. }
            | Trigger::Release { at, .. }
            | Trigger::MarkMerged { at, .. } => *at,
        }
    }
}

/// The stored type names of the events that can start a workflow (the runner
/// decodes only these).
pub const TRIGGER_TYPES: [&str; 6] = [
    "IncidentOpenedForGroupV2",
    "IncidentOpenedForGroup",
    "IncidentResolved",
    "IncidentClosed",
    "IncidentMergedInto",
    "IncidentDuplicateMerged",
];

/// Whether an event of type `type_name` can start a workflow.
pub fn may_trigger(type_name: &str) -> bool {
    TRIGGER_TYPES.contains(&type_name)
}

/// The workflow `event` (recorded as `record`) starts, if any.
pub fn trigger_of(record: &RecordedEvent, event: &DomainEvent) -> Option<Trigger> {
    match event {
        DomainEvent::AlertGroup(AlertGroupEvent::IncidentOpenedV2(e)) => Some(Trigger::Declare {
            incident: e.incident_id,
            impact: Some(e.impact),
            at: e.at,
        }),
        DomainEvent::AlertGroup(AlertGroupEvent::IncidentOpened(e)) => Some(Trigger::Declare {
            incident: e.incident_id,
            impact: None,
            at: e.at,
        }),
        DomainEvent::Incident(e) => {
            let incident = IncidentId::from_stream_id(&record.stream_id)?;
            match e {
                IncidentEvent::Resolved(_)
                | IncidentEvent::Closed(_)
                | IncidentEvent::MergedInto(_) => Some(Trigger::Release {
                    incident,
                    at: e.at(),
                }),
                IncidentEvent::DuplicateMerged(d) => Some(Trigger::MarkMerged {
                    target: incident,
                    duplicate: d.duplicate,
                    at: d.at,
                }),
                _ => None,
            }
        }
        _ => None,
    }
}

/// What a follow-up does (part of its command id and of its crash points).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowUpKind {
    /// Declare the incident a group opened.
    Declare,
    /// Release one alert group of an ended incident.
    Release,
    /// Mark a recorded duplicate merged.
    Merge,
    /// Take a refused duplicate back from the target (the compensation).
    Unmerge,
}

impl FollowUpKind {
    /// The kind's name in command ids and crash points.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpKind::Declare => "declare",
            FollowUpKind::Release => "release",
            FollowUpKind::Merge => "merge",
            FollowUpKind::Unmerge => "unmerge",
        }
    }
}

/// The command id of the `kind` follow-up of the event `trigger` (on `stream`
/// when one trigger has several, e.g. one release per alert group).
pub fn follow_up_id(kind: FollowUpKind, trigger: Ulid, stream: Option<&str>) -> String {
    match stream {
        Some(stream) => format!("wf:{}:{trigger}:{stream}", kind.as_str()),
        None => format!("wf:{}:{trigger}", kind.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsledger_domain::alert::{AlertGroupReleased, IncidentOpenedForGroupV2};
    use opsledger_domain::incident::{
        IncidentDuplicateMerged, IncidentNoteAdded, IncidentResolved, IncidentStatus, Severity,
    };
    use opsledger_domain::Actor;

    fn record(stream: &str) -> RecordedEvent {
        RecordedEvent {
            position: 7,
            stream_id: stream.into(),
            stream_version: 1,
            event_id: Ulid::from_parts(1, 2),
            type_name: String::new(),
            schema_version: 1,
            recorded_at_ms: 0,
            actor: "rita".into(),
            command_id: "k".into(),
            correlation_id: Ulid::from_parts(1, 3),
            causation_id: None,
            payload: Vec::new(),
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    fn iid(n: u128) -> IncidentId {
        IncidentId::new(Ulid::from_parts(5, n))
    }

    #[test]
    fn an_opening_triggers_the_declaration_with_its_impact() {
        let event = DomainEvent::AlertGroup(AlertGroupEvent::IncidentOpenedV2(
            IncidentOpenedForGroupV2 {
                incident_id: iid(1),
                severity: Severity::Sev2,
                impact: ImpactLevel::MajorOutage,
                by: Actor("am".into()),
                at: Timestamp(9),
            },
        ));
        assert_eq!(
            trigger_of(&record("alertgroup-x-y"), &event),
            Some(Trigger::Declare {
                incident: iid(1),
                impact: Some(ImpactLevel::MajorOutage),
                at: Timestamp(9)
            })
        );
    }

    #[test]
    fn an_ending_triggers_the_release_and_a_recorded_duplicate_the_merge() {
        let stream = iid(2).stream_id();
        let resolved = DomainEvent::Incident(IncidentEvent::Resolved(IncidentResolved {
            from: IncidentStatus::Investigating,
            summary: "ok".into(),
            by: Actor("rita".into()),
            at: Timestamp(4),
        }));
        assert_eq!(
            trigger_of(&record(&stream), &resolved),
            Some(Trigger::Release {
                incident: iid(2),
                at: Timestamp(4)
            })
        );
        let absorbed =
            DomainEvent::Incident(IncidentEvent::DuplicateMerged(IncidentDuplicateMerged {
                duplicate: iid(3),
                by: Actor("rita".into()),
                at: Timestamp(5),
            }));
        assert_eq!(
            trigger_of(&record(&stream), &absorbed),
            Some(Trigger::MarkMerged {
                target: iid(2),
                duplicate: iid(3),
                at: Timestamp(5)
            })
        );
    }

    #[test]
    fn the_runner_decodes_exactly_the_types_that_trigger() {
        assert_eq!(TRIGGER_TYPES.to_vec(), trigger_type_names());
    }

    /// The type names of the events [`trigger_of`] reacts to, from the events themselves.
    fn trigger_type_names() -> Vec<&'static str> {
        use opsledger_domain::alert::IncidentOpenedForGroup;
        use opsledger_domain::incident::{IncidentClosed, IncidentMergedInto};
        let by = || Actor("a".into());
        vec![
            AlertGroupEvent::IncidentOpenedV2(IncidentOpenedForGroupV2 {
                incident_id: iid(1),
                severity: Severity::Sev1,
                impact: ImpactLevel::Degraded,
                by: by(),
                at: Timestamp(0),
            })
            .type_name(),
            AlertGroupEvent::IncidentOpened(IncidentOpenedForGroup {
                incident_id: iid(1),
                severity: Severity::Sev1,
                by: by(),
                at: Timestamp(0),
            })
            .type_name(),
            IncidentEvent::Resolved(IncidentResolved {
                from: IncidentStatus::Investigating,
                summary: "s".into(),
                by: by(),
                at: Timestamp(0),
            })
            .type_name(),
            IncidentEvent::Closed(IncidentClosed {
                by: by(),
                at: Timestamp(0),
            })
            .type_name(),
            IncidentEvent::MergedInto(IncidentMergedInto {
                target: iid(1),
                by: by(),
                at: Timestamp(0),
            })
            .type_name(),
            IncidentEvent::DuplicateMerged(IncidentDuplicateMerged {
                duplicate: iid(1),
                by: by(),
                at: Timestamp(0),
            })
            .type_name(),
        ]
    }

    #[test]
    fn other_events_trigger_nothing() {
        let note = DomainEvent::Incident(IncidentEvent::NoteAdded(IncidentNoteAdded {
            text: "n".into(),
            by: Actor("rita".into()),
            at: Timestamp(1),
        }));
        assert_eq!(trigger_of(&record(&iid(2).stream_id()), &note), None);
        let released = DomainEvent::AlertGroup(AlertGroupEvent::Released(AlertGroupReleased {
            incident_id: iid(2),
            by: Actor("rita".into()),
            at: Timestamp(1),
        }));
        assert_eq!(trigger_of(&record("alertgroup-x-y"), &released), None);
    }

    #[test]
    fn a_follow_up_id_is_derived_from_its_trigger_alone() {
        let trigger = Ulid::from_parts(1, 2);
        assert_eq!(
            follow_up_id(FollowUpKind::Declare, trigger, None),
            follow_up_id(FollowUpKind::Declare, trigger, None)
        );
        assert_ne!(
            follow_up_id(FollowUpKind::Release, trigger, Some("alertgroup-a")),
            follow_up_id(FollowUpKind::Release, trigger, Some("alertgroup-b"))
        );
        assert!(!follow_up_id(FollowUpKind::Merge, trigger, None).contains('#'));
    }
}
