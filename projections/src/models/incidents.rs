//! The incidents read model: current state, public status updates, linked
//! alert groups, changes and reviews; plus the alert-group index (open
//! incident per group, alert counts). The timeline is read from the
//! incident's stream on demand ([`incident_timeline`]), not kept in memory.

use std::collections::BTreeMap;

use opsledger_domain::alert::{AlertGroupEvent, AlertGroupKey};
use opsledger_domain::incident::{
    IncidentEvent, IncidentStatus, ServiceImpact, Severity, Visibility,
};
use opsledger_domain::{Actor, ChangeId, IncidentId, ReviewId, ServiceId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::ApplyError;
use crate::pagination::{paginate, Page, PageRequest};
use crate::projection::EventMeta;
use crate::ProjectionError;

/// One line of an incident's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineItem {
    /// Log position of the event.
    pub position: u64,
    /// When it happened.
    pub at: Timestamp,
    /// Who did it.
    pub actor: String,
    /// The event's type name.
    pub kind: String,
    /// A human summary.
    pub text: String,
}

/// A status update posted on an incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// When it was posted.
    pub at: Timestamp,
    /// Who posted it.
    pub by: Actor,
    /// Internal or public (public ones go to the status page).
    pub visibility: Visibility,
    /// The incident's status when it was posted.
    pub status: IncidentStatus,
    /// The message.
    pub message: String,
}

/// An incident as the read side shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentView {
    /// The incident.
    pub id: IncidentId,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Lifecycle status.
    pub status: IncidentStatus,
    /// Current severity.
    pub severity: Severity,
    /// Impacted services with their current level (first = primary).
    pub impacts: Vec<ServiceImpact>,
    /// Impact start.
    pub started_at: Timestamp,
    /// Detection.
    pub detected_at: Timestamp,
    /// When it was declared (triggered).
    pub triggered_at: Timestamp,
    /// First acknowledgement.
    pub acknowledged_at: Option<Timestamp>,
    /// When it entered monitoring (mitigated), cleared by a reopen.
    pub mitigated_at: Option<Timestamp>,
    /// Resolution, cleared by a reopen.
    pub resolved_at: Option<Timestamp>,
    /// Closure.
    pub closed_at: Option<Timestamp>,
    /// Incident commander.
    pub commander: Option<Actor>,
    /// Responders.
    pub responders: Vec<Actor>,
    /// Escalation level paged last (0 = first level).
    pub escalation_level: u32,
    /// The change named as its cause.
    pub cause_change: Option<ChangeId>,
    /// Linked alert groups (the first is the one that opened it, if any).
    pub alert_groups: Vec<AlertGroupKey>,
    /// The incident it was merged into.
    pub merged_into: Option<IncidentId>,
    /// Duplicates merged into it.
    pub duplicates: Vec<IncidentId>,
    /// Resolution summary.
    pub resolution_summary: Option<String>,
    /// How often it was reopened.
    pub reopen_count: u32,
    /// Post-incident reviews of it.
    pub reviews: Vec<ReviewId>,
    /// Status updates, oldest first.
    pub status_updates: Vec<StatusUpdate>,
    /// Stream version of its last event.
    pub version: u64,
}

impl IncidentView {
    /// Whether it is still being worked (not resolved, closed or merged).
    pub fn is_active(&self) -> bool {
        self.status < IncidentStatus::Resolved && self.merged_into.is_none()
    }

    /// Public status updates, oldest first.
    pub fn public_updates(&self) -> impl Iterator<Item = &StatusUpdate> {
        self.status_updates
            .iter()
            .filter(|u| u.visibility == Visibility::Public)
    }
}

/// An alert group (service + dedup key) with its counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertGroupView {
    /// The group.
    pub key: AlertGroupKey,
    /// The incident its alerts attach to now.
    pub open_incident: Option<IncidentId>,
    /// Whether its last alert was firing.
    pub firing: bool,
    /// Firing alerts received.
    pub received: u64,
    /// Alerts attached to an already open incident (noise suppressed).
    pub suppressed: u64,
    /// Resolved notifications received.
    pub resolved: u64,
    /// Incidents it opened.
    pub incidents_opened: u64,
    /// When its last alert arrived.
    pub last_received_at: Option<Timestamp>,
}

/// Which incidents a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Only these statuses (empty = any).
    pub statuses: Vec<IncidentStatus>,
    /// Only these severities (empty = any).
    pub severities: Vec<Severity>,
    /// Only incidents impacting this service.
    pub service: Option<ServiceId>,
    /// Only active incidents (not resolved, closed or merged).
    pub active_only: bool,
    /// Only incidents detected at or after this instant.
    pub detected_from: Option<Timestamp>,
    /// Only incidents detected before this instant.
    pub detected_to: Option<Timestamp>,
}

impl IncidentFilter {
    fn matches(&self, i: &IncidentView) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&i.status))
            && (self.severities.is_empty() || self.severities.contains(&i.severity))
            && self
                .service
                .is_none_or(|s| i.impacts.iter().any(|x| x.service == s))
            && (!self.active_only || i.is_active())
            && self.detected_from.is_none_or(|f| i.detected_at >= f)
            && self.detected_to.is_none_or(|t| i.detected_at < t)
    }
}

/// Every incident and alert group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IncidentsModel {
    by_id: BTreeMap<IncidentId, IncidentView>,
    groups: BTreeMap<String, AlertGroupView>,
    open_by_group: BTreeMap<AlertGroupKey, IncidentId>,
}

fn incident_id(meta: &EventMeta<'_>) -> Result<IncidentId, ApplyError> {
    IncidentId::from_stream_id(meta.stream_id)
        .ok_or_else(|| ApplyError::BadStreamId(meta.stream_id.to_owned()))
}

fn unknown(kind: &'static str, meta: &EventMeta<'_>) -> ApplyError {
    ApplyError::UnknownEntity {
        kind,
        stream_id: meta.stream_id.to_owned(),
    }
}

/// A short human summary of an incident event for the timeline.
pub fn describe(event: &IncidentEvent) -> String {
    use IncidentEvent as E;
    match event {
        E::Declared(e) => format!("declared {}: {}", e.severity.as_str(), e.title),
        E::Acknowledged(_) => "acknowledged".into(),
        E::StatusChanged(e) => format!("status {:?} -> {:?}", e.from, e.to),
        E::CommanderAssigned(e) => format!("commander {}", e.commander),
        E::ResponderAdded(e) => format!("responder {} added", e.responder),
        E::ResponderRemoved(e) => format!("responder {} removed", e.responder),
        E::Escalated(e) => format!("escalated to level {} ({})", e.level, e.target),
        E::SeverityChanged(e) => format!("severity {} -> {}", e.from.as_str(), e.to.as_str()),
        E::ImpactUpdated(e) => format!("impact on {} now {:?}", e.service, e.level),
        E::NoteAdded(e) => e.text.clone(),
        E::StatusUpdatePosted(e) => format!("{:?} update: {}", e.visibility, e.message),
        E::CauseChangeLinked(e) => format!("caused by change {}", e.change),
        E::AlertGroupLinked(e) => format!("alert group {} linked", e.group.dedup_key),
        E::MergedInto(e) => format!("merged into {}", e.target),
        E::DuplicateMerged(e) => format!("absorbed duplicate {}", e.duplicate),
        E::DuplicateMergeUndone(e) => {
            format!("merge of duplicate {} undone: {}", e.duplicate, e.reason)
        }
        E::Resolved(e) => format!("resolved: {}", e.summary),
        E::Closed(_) => "closed".into(),
        E::Reopened(e) => format!("reopened: {}", e.reason),
    }
}

impl IncidentsModel {
    /// Folds one incident event.
    pub fn apply(&mut self, meta: &EventMeta<'_>, event: &IncidentEvent) -> Result<(), ApplyError> {
        let id = incident_id(meta)?;
        if let IncidentEvent::Declared(e) = event {
            self.by_id.insert(
                id,
                IncidentView {
                    id,
                    title: e.title.clone(),
                    description: e.description.clone(),
                    status: IncidentStatus::Triggered,
                    severity: e.severity,
                    impacts: e.impacts.clone(),
                    started_at: e.started_at,
                    detected_at: e.detected_at,
                    triggered_at: e.at,
                    acknowledged_at: None,
                    mitigated_at: None,
                    resolved_at: None,
                    closed_at: None,
                    commander: None,
                    responders: Vec::new(),
                    escalation_level: 0,
                    cause_change: None,
                    alert_groups: e.alert_group.iter().cloned().collect(),
                    merged_into: None,
                    duplicates: Vec::new(),
                    resolution_summary: None,
                    reopen_count: 0,
                    reviews: Vec::new(),
                    status_updates: Vec::new(),
                    version: meta.stream_version,
                },
            );
        }
        let view = self
            .by_id
            .get_mut(&id)
            .ok_or_else(|| unknown("incident", meta))?;
        view.version = meta.stream_version;
        use IncidentEvent as E;
        match event {
            E::Declared(_) => {}
            E::Acknowledged(e) => {
                view.status = IncidentStatus::Acknowledged;
                view.acknowledged_at.get_or_insert(e.at);
            }
            E::StatusChanged(e) => {
                view.status = e.to;
                if e.to == IncidentStatus::Monitoring && view.mitigated_at.is_none() {
                    view.mitigated_at = Some(e.at);
                }
            }
            E::CommanderAssigned(e) => view.commander = Some(e.commander.clone()),
            E::ResponderAdded(e) => view.responders.push(e.responder.clone()),
            E::ResponderRemoved(e) => view.responders.retain(|r| r != &e.responder),
            E::Escalated(e) => view.escalation_level = e.level,
            E::SeverityChanged(e) => view.severity = e.to,
            E::ImpactUpdated(e) => match view.impacts.iter_mut().find(|i| i.service == e.service) {
                Some(i) => i.level = e.level,
                None => view.impacts.push(ServiceImpact {
                    service: e.service,
                    level: e.level,
                }),
            },
            E::NoteAdded(_) => {}
            E::StatusUpdatePosted(e) => view.status_updates.push(StatusUpdate {
                at: e.at,
                by: e.by.clone(),
                visibility: e.visibility,
                status: e.status,
                message: e.message.clone(),
            }),
            E::CauseChangeLinked(e) => view.cause_change = Some(e.change),
            E::AlertGroupLinked(e) => view.alert_groups.push(e.group.clone()),
            E::MergedInto(e) => view.merged_into = Some(e.target),
            E::DuplicateMerged(e) => view.duplicates.push(e.duplicate),
            E::DuplicateMergeUndone(e) => view.duplicates.retain(|d| *d != e.duplicate),
            E::Resolved(e) => {
                view.status = IncidentStatus::Resolved;
                view.resolved_at = Some(e.at);
                view.resolution_summary = Some(e.summary.clone());
            }
            E::Closed(e) => {
                view.status = IncidentStatus::Closed;
                view.closed_at = Some(e.at);
            }
            E::Reopened(_) => {
                view.status = IncidentStatus::Investigating;
                view.resolved_at = None;
                view.mitigated_at = None;
                view.resolution_summary = None;
                view.reopen_count += 1;
            }
        }
        Ok(())
    }

    /// Folds one alert-group event.
    pub fn apply_alert(
        &mut self,
        meta: &EventMeta<'_>,
        event: &AlertGroupEvent,
    ) -> Result<(), ApplyError> {
        if let AlertGroupEvent::Received(e) = event {
            self.groups
                .entry(meta.stream_id.to_owned())
                .or_insert_with(|| AlertGroupView {
                    key: e.alert.group.clone(),
                    open_incident: None,
                    firing: false,
                    received: 0,
                    suppressed: 0,
                    resolved: 0,
                    incidents_opened: 0,
                    last_received_at: None,
                });
        }
        let group = self
            .groups
            .get_mut(meta.stream_id)
            .ok_or_else(|| unknown("alert group", meta))?;
        match event {
            AlertGroupEvent::Received(e) => {
                group.received += 1;
                group.firing = true;
                group.last_received_at = Some(e.alert.received_at);
            }
            AlertGroupEvent::IncidentOpened(_) | AlertGroupEvent::IncidentOpenedV2(_) => {
                if let Some(incident_id) = event.opened_incident() {
                    group.incidents_opened += 1;
                    group.open_incident = Some(incident_id);
                    self.open_by_group.insert(group.key.clone(), incident_id);
                }
            }
            AlertGroupEvent::Attached(e) => {
                if e.suppressed {
                    group.suppressed += 1;
                }
            }
            AlertGroupEvent::Resolved(_) => {
                group.resolved += 1;
                group.firing = false;
            }
            AlertGroupEvent::Released(_) => {
                group.open_incident = None;
                self.open_by_group.remove(&group.key);
            }
        }
        Ok(())
    }

    /// Records that review `review` is about `incident`.
    pub(crate) fn link_review(&mut self, incident: IncidentId, review: ReviewId) {
        if let Some(view) = self.by_id.get_mut(&incident) {
            view.reviews.push(review);
        }
    }

    /// One incident.
    pub fn get(&self, id: IncidentId) -> Option<&IncidentView> {
        self.by_id.get(&id)
    }

    /// Every incident, by id.
    pub fn all(&self) -> impl Iterator<Item = &IncidentView> {
        self.by_id.values()
    }

    /// Active incidents (not resolved, closed or merged), by id.
    pub fn active(&self) -> impl Iterator<Item = &IncidentView> {
        self.by_id.values().filter(|i| i.is_active())
    }

    /// The open incident of an alert group (the correlation index).
    pub fn open_incident_for_group(&self, key: &AlertGroupKey) -> Option<IncidentId> {
        self.open_by_group.get(key).copied()
    }

    /// One alert group by its key.
    pub fn alert_group(&self, key: &AlertGroupKey) -> Option<&AlertGroupView> {
        self.groups.get(&key.stream_id())
    }

    /// One alert group by its stream id.
    pub fn alert_groups_by_stream(&self, stream_id: &str) -> Option<&AlertGroupView> {
        self.groups.get(stream_id)
    }

    /// Every alert group, by stream id.
    pub fn alert_groups(&self) -> impl Iterator<Item = &AlertGroupView> {
        self.groups.values()
    }

    /// A page of incidents, newest detection first.
    pub fn list(
        &self,
        filter: &IncidentFilter,
        page: &PageRequest,
    ) -> Result<Page<IncidentView>, ProjectionError> {
        let mut items: Vec<&IncidentView> =
            self.by_id.values().filter(|i| filter.matches(i)).collect();
        items.sort_by_key(|i| std::cmp::Reverse((i.detected_at, i.id)));
        let page = paginate(items, |i| (i.detected_at.0, i.id.0 .0), true, page)?;
        Ok(page.map(Clone::clone))
    }
}

/// The timeline of an incident: every event of its stream, oldest first,
/// with a human summary (read from the store, so it costs no memory here).
pub async fn incident_timeline(
    store: &dyn opsledger_storage::EventStore,
    id: IncidentId,
) -> Result<Vec<TimelineItem>, ProjectionError> {
    use opsledger_domain::DomainEvent;
    const PAGE: usize = 1024;
    let stream_id = id.stream_id();
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let page = store
            .read_stream(
                &stream_id,
                from,
                opsledger_storage::Direction::Forward,
                PAGE,
            )
            .await?;
        for e in &page {
            let decoded = opsledger_storage::codec::decode_payload::<DomainEvent>(&e.payload);
            let (at, text) = match &decoded {
                Ok(DomainEvent::Incident(ev)) => (ev.at(), describe(ev)),
                _ => (Timestamp(e.recorded_at_ms), String::new()),
            };
            out.push(TimelineItem {
                position: e.position,
                at,
                actor: e.actor.clone(),
                kind: e.type_name.clone(),
                text,
            });
        }
        match page.last() {
            Some(last) if page.len() == PAGE => from = last.stream_version + 1,
            _ => return Ok(out),
        }
    }
}
