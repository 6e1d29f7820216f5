//! Compact per-service, per-incident, per-change, per-alert and per-action
//! item facts kept for KPIs, so a KPI query over any window is a scan of
//! small records that needs nothing else from the read models.
//!
//! Every instant a KPI uses is kept with the log position of the event that
//! recorded it ([`Stamp`]), so each figure can be drilled down to its events.
//!
//! Each collection sits behind its own [`Arc`]: a query takes a
//! [`KpiFacts::clone`] (five reference counts) under the read models' lock
//! and computes outside it. The runner, the only writer, changes a
//! collection through [`Arc::make_mut`], which copies that collection only
//! while a query still holds the previous version. Writes never wait for a
//! KPI computation.

use std::collections::BTreeMap;
use std::sync::Arc;

use opsledger_domain::alert::AlertGroupKey;
use opsledger_domain::change::{ChangeCategory, ChangeEvent};
use opsledger_domain::incident::{ImpactLevel, IncidentEvent, IncidentStatus, Severity};
use opsledger_domain::service::{ServiceEvent, ServiceProfile, SloTarget};
use opsledger_domain::{ActionItemId, ChangeId, IncidentId, ServiceId};
use serde::{Deserialize, Serialize};

/// An instant (UTC ms) and the log position of the event that recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stamp {
    /// When (UTC ms).
    pub at: i64,
    /// The position of the event in the log.
    pub position: u64,
}

impl Stamp {
    /// `at` recorded by the event at `position`.
    pub fn new(at: i64, position: u64) -> Self {
        Stamp { at, position }
    }
}

/// What KPIs need of a service profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceProfileFact {
    /// Display name.
    pub name: String,
    /// The owning team.
    pub owner_team: String,
    /// Availability objective.
    pub slo_target: SloTarget,
    /// Recovery time objective, seconds (0 = none).
    pub rto_secs: u64,
}

impl From<&ServiceProfile> for ServiceProfileFact {
    fn from(p: &ServiceProfile) -> Self {
        ServiceProfileFact {
            name: p.name.clone(),
            owner_team: p.owner_team.clone(),
            slo_target: p.slo_target,
            rto_secs: p.rto_secs,
        }
    }
}

/// A service's life: registration, every profile it had, retirement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFact {
    /// Registration.
    pub registered: Stamp,
    /// Retirement, if retired.
    pub retired: Option<Stamp>,
    /// Every profile with the event that set it, oldest first (never empty:
    /// the first is the registration's).
    pub profiles: Vec<(Stamp, ServiceProfileFact)>,
}

impl ServiceFact {
    /// The profile in force at `t` (the registration's before registration).
    pub fn profile_at(&self, t: i64) -> &ServiceProfileFact {
        let later = self.profiles.partition_point(|(s, _)| s.at <= t);
        &self.profiles[later.saturating_sub(1)].1
    }

    /// The current profile.
    pub fn current(&self) -> &ServiceProfileFact {
        &self.profiles[self.profiles.len() - 1].1
    }

    /// The end of its life (UTC ms, exclusive): retirement, else unbounded.
    pub fn end(&self) -> i64 {
        self.retired
            .map_or(i64::MAX, |r| r.at.max(self.registered.at))
    }

    /// Its life cut at every profile change: `(from, to, profile)`, in
    /// order, without empty spans.
    pub fn spans(&self) -> Vec<(i64, i64, &ServiceProfileFact)> {
        let end = self.end();
        let mut out = Vec::with_capacity(self.profiles.len());
        for (i, (stamp, profile)) in self.profiles.iter().enumerate() {
            let from = stamp.at.max(self.registered.at).min(end);
            let to = self
                .profiles
                .get(i + 1)
                .map_or(end, |(next, _)| next.at.max(from).min(end));
            if to > from {
                out.push((from, to, profile));
            }
        }
        out
    }

    /// The periods `[from, to)` of its life during which `keep(profile)` held.
    pub fn periods_where(&self, keep: impl Fn(&ServiceProfileFact) -> bool) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = Vec::new();
        for (from, to, profile) in self.spans() {
            if !keep(profile) {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 == from => last.1 = to,
                _ => out.push((from, to)),
            }
        }
        out
    }
}

/// A period during which an incident impacted a service at one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImpactSegment {
    /// The impacted service.
    pub service: ServiceId,
    /// The impact level.
    pub level: ImpactLevel,
    /// Start, with the event that started it.
    pub from: Stamp,
    /// End, with the event that ended it; `None` while ongoing.
    pub to: Option<Stamp>,
}

/// What KPIs need to know about one incident (times in UTC ms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFact {
    /// Every severity it had with the event that set it, oldest first (the
    /// first is the declared one).
    pub severities: Vec<(Stamp, Severity)>,
    /// Every service it ever impacted (first = primary).
    pub services: Vec<ServiceId>,
    /// The alert group that opened or was linked first (service + dedup key).
    pub fingerprint: Option<AlertGroupKey>,
    /// Declaration (triggered); its event also carries `started_at` and `detected_at`.
    pub declared: Stamp,
    /// Impact start.
    pub started_at: i64,
    /// Detection.
    pub detected_at: i64,
    /// First acknowledgement.
    pub acknowledged: Option<Stamp>,
    /// First resolution (kept across reopens).
    pub first_resolved: Option<Stamp>,
    /// Mitigation (entered monitoring), cleared on reopen.
    pub mitigated: Option<Stamp>,
    /// Latest resolution, cleared on reopen.
    pub resolved: Option<Stamp>,
    /// Merged into another incident (excluded from incident KPIs).
    pub merged: bool,
    /// First publication of a review of it.
    pub review_published: Option<Stamp>,
    /// Current impact level per service (kept while resolved, for reopen).
    pub levels: Vec<(ServiceId, ImpactLevel)>,
    /// Impact periods, per service and level.
    pub segments: Vec<ImpactSegment>,
}

impl IncidentFact {
    /// The severity in force at `t` (the declared one before any change).
    pub fn severity_at(&self, t: i64) -> Severity {
        let later = self.severities.partition_point(|(s, _)| s.at <= t);
        self.severities[later.saturating_sub(1)].1
    }

    /// The declared severity.
    pub fn declared_severity(&self) -> Severity {
        self.severities[0].1
    }

    fn is_active(&self) -> bool {
        self.resolved.is_none() && !self.merged
    }

    fn close_segments(&mut self, at: Stamp) {
        for s in self.segments.iter_mut().filter(|s| s.to.is_none()) {
            s.to = Some(Stamp::new(at.at.max(s.from.at), at.position));
        }
    }

    fn open_segments(&mut self, at: Stamp) {
        for &(service, level) in &self.levels {
            self.segments.push(ImpactSegment {
                service,
                level,
                from: at,
                to: None,
            });
        }
    }

    fn set_level(&mut self, service: ServiceId, level: ImpactLevel, at: Stamp) {
        match self.levels.iter_mut().find(|(s, _)| *s == service) {
            Some(entry) => entry.1 = level,
            None => self.levels.push((service, level)),
        }
        if !self.services.contains(&service) {
            self.services.push(service);
        }
        if self.is_active() {
            for s in self
                .segments
                .iter_mut()
                .filter(|s| s.service == service && s.to.is_none())
            {
                s.to = Some(Stamp::new(at.at.max(s.from.at), at.position));
            }
            self.segments.push(ImpactSegment {
                service,
                level,
                from: at,
                to: None,
            });
        }
    }
}

/// How a change ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeOutcome {
    /// Completed.
    Completed,
    /// Failed.
    Failed,
    /// Rolled back.
    RolledBack,
}

/// What KPIs need to know about one change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeFact {
    /// Services it touches.
    pub services: Vec<ServiceId>,
    /// Its category (patch discipline).
    pub category: ChangeCategory,
    /// How it ended and the event that ended it, once it did.
    pub ended: Option<(ChangeOutcome, Stamp)>,
    /// The incidents naming it as their cause, with the linking event.
    pub caused: Vec<(IncidentId, Stamp)>,
}

/// What an alert-group event counts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlertFactKind {
    /// A firing alert was received.
    Received,
    /// A firing alert attached to an open incident (suppressed noise).
    Suppressed,
    /// A firing alert opened an incident.
    OpenedIncident,
}

/// One alert-group event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertFact {
    /// When (UTC ms), and the event.
    pub at: Stamp,
    /// The alert's service.
    pub service: ServiceId,
    /// What it counts as.
    pub kind: AlertFactKind,
}

/// One action item of a review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionItemFact {
    /// The incident its review is about.
    pub incident: IncidentId,
    /// When it was added.
    pub added: Stamp,
    /// Due date (UTC ms).
    pub due: i64,
    /// When it was completed.
    pub completed: Option<Stamp>,
}

impl ActionItemFact {
    /// Whether it was open at `t` (added, not yet completed).
    pub fn open_at(&self, t: i64) -> bool {
        self.added.at <= t && self.completed.is_none_or(|c| c.at > t)
    }

    /// Whether it was open and past due at `t`.
    pub fn overdue_at(&self, t: i64) -> bool {
        self.open_at(t) && self.due < t
    }
}

/// All KPI facts (each collection shared copy-on-write, see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KpiFacts {
    /// Per service.
    #[serde(with = "shared")]
    pub services: Arc<BTreeMap<ServiceId, ServiceFact>>,
    /// Per incident.
    #[serde(with = "shared")]
    pub incidents: Arc<BTreeMap<IncidentId, IncidentFact>>,
    /// Per change.
    #[serde(with = "shared")]
    pub changes: Arc<BTreeMap<ChangeId, ChangeFact>>,
    /// Per alert-group event, in log order.
    #[serde(with = "shared")]
    pub alerts: Arc<Vec<AlertFact>>,
    /// Per action item.
    #[serde(with = "shared")]
    pub action_items: Arc<BTreeMap<ActionItemId, ActionItemFact>>,
}

/// Serde for an `Arc`'d collection: encoded as its content (serde's own
/// `Arc` support needs its `rc` feature, which would rebuild every crate
/// depending on serde in the workspace).
mod shared {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    pub fn serialize<T: Serialize, S: Serializer>(value: &Arc<T>, s: S) -> Result<S::Ok, S::Error> {
        T::serialize(value, s)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Arc<T>, D::Error> {
        T::deserialize(d).map(Arc::new)
    }
}

impl KpiFacts {
    /// Folds one service event recorded at `position`.
    pub fn apply_service(&mut self, position: u64, event: &ServiceEvent) {
        let services = Arc::make_mut(&mut self.services);
        match event {
            ServiceEvent::Registered(e) => {
                let at = Stamp::new(e.at.millis(), position);
                services.insert(
                    e.id,
                    ServiceFact {
                        registered: at,
                        retired: None,
                        profiles: vec![(at, (&e.profile).into())],
                    },
                );
            }
            ServiceEvent::Updated(e) => {
                if let Some(fact) = services.get_mut(&e.id) {
                    let at = Stamp::new(e.at.millis(), position);
                    fact.profiles.push((at, (&e.profile).into()));
                }
            }
            ServiceEvent::Retired(e) => {
                if let Some(fact) = services.get_mut(&e.id) {
                    fact.retired
                        .get_or_insert(Stamp::new(e.at.millis(), position));
                }
            }
        }
    }

    /// Folds one incident event of incident `id` recorded at `position`.
    pub fn apply_incident(&mut self, id: IncidentId, position: u64, event: &IncidentEvent) {
        use IncidentEvent as E;
        let incidents = Arc::make_mut(&mut self.incidents);
        if let E::Declared(e) = event {
            let declared = Stamp::new(e.at.millis(), position);
            let mut fact = IncidentFact {
                severities: vec![(declared, e.severity)],
                services: e.impacts.iter().map(|i| i.service).collect(),
                fingerprint: e.alert_group.clone(),
                declared,
                started_at: e.started_at.millis(),
                detected_at: e.detected_at.millis(),
                acknowledged: None,
                first_resolved: None,
                mitigated: None,
                resolved: None,
                merged: false,
                review_published: None,
                levels: e.impacts.iter().map(|i| (i.service, i.level)).collect(),
                segments: Vec::new(),
            };
            fact.open_segments(Stamp::new(e.started_at.millis(), position));
            incidents.insert(id, fact);
            return;
        }
        let Some(fact) = incidents.get_mut(&id) else {
            return;
        };
        let at = Stamp::new(event.at().millis(), position);
        match event {
            E::Acknowledged(_) => {
                fact.acknowledged.get_or_insert(at);
            }
            E::StatusChanged(e) if e.to == IncidentStatus::Monitoring => {
                fact.mitigated.get_or_insert(at);
            }
            E::SeverityChanged(e) => fact.severities.push((at, e.to)),
            E::ImpactUpdated(e) => fact.set_level(e.service, e.level, at),
            E::AlertGroupLinked(e) => {
                fact.fingerprint.get_or_insert_with(|| e.group.clone());
            }
            E::MergedInto(_) => {
                fact.close_segments(at);
                fact.merged = true;
            }
            E::Resolved(_) => {
                fact.close_segments(at);
                fact.resolved = Some(at);
                fact.first_resolved.get_or_insert(at);
            }
            E::Reopened(_) => {
                fact.resolved = None;
                fact.mitigated = None;
                if !fact.merged {
                    fact.open_segments(at);
                }
            }
            _ => {}
        }
    }

    /// Folds one change event of change `id` recorded at `position`.
    pub fn apply_change(&mut self, id: ChangeId, position: u64, event: &ChangeEvent) {
        let changes = Arc::make_mut(&mut self.changes);
        if let ChangeEvent::Requested(e) = event {
            changes.insert(
                id,
                ChangeFact {
                    services: e.services.clone(),
                    category: e.category,
                    ended: None,
                    caused: Vec::new(),
                },
            );
            return;
        }
        let Some(fact) = changes.get_mut(&id) else {
            return;
        };
        let ended = match event {
            ChangeEvent::Completed(e) => Some((ChangeOutcome::Completed, e.at)),
            ChangeEvent::Failed(e) => Some((ChangeOutcome::Failed, e.at)),
            ChangeEvent::RolledBack(e) => Some((ChangeOutcome::RolledBack, e.at)),
            _ => None,
        };
        if let Some((outcome, at)) = ended {
            fact.ended = Some((outcome, Stamp::new(at.millis(), position)));
        }
    }

    /// Records that `incident` names `change` as its cause (instead of `previous`).
    pub fn link_cause(
        &mut self,
        incident: IncidentId,
        change: ChangeId,
        previous: Option<ChangeId>,
        at: Stamp,
    ) {
        let changes = Arc::make_mut(&mut self.changes);
        if let Some(prev) = previous.and_then(|p| changes.get_mut(&p)) {
            prev.caused.retain(|(i, _)| *i != incident);
        }
        if let Some(fact) = changes.get_mut(&change) {
            fact.caused.retain(|(i, _)| *i != incident);
            fact.caused.push((incident, at));
        }
    }

    /// Records one alert-group fact.
    pub fn record_alert(&mut self, fact: AlertFact) {
        Arc::make_mut(&mut self.alerts).push(fact);
    }

    /// Records the publication of a review of `incident` (the first one counts).
    pub fn review_published(&mut self, incident: IncidentId, at: Stamp) {
        if let Some(fact) = Arc::make_mut(&mut self.incidents).get_mut(&incident) {
            fact.review_published.get_or_insert(at);
        }
    }

    /// Records a new action item of a review of `incident`.
    pub fn action_item_added(
        &mut self,
        id: ActionItemId,
        incident: IncidentId,
        due: i64,
        at: Stamp,
    ) {
        Arc::make_mut(&mut self.action_items).insert(
            id,
            ActionItemFact {
                incident,
                added: at,
                due,
                completed: None,
            },
        );
    }

    /// Records the completion of an action item.
    pub fn action_item_completed(&mut self, id: ActionItemId, at: Stamp) {
        if let Some(item) = Arc::make_mut(&mut self.action_items).get_mut(&id) {
            item.completed.get_or_insert(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(team: &str) -> ServiceProfileFact {
        ServiceProfileFact {
            name: "svc".into(),
            owner_team: team.into(),
            slo_target: SloTarget(999_000),
            rto_secs: 0,
        }
    }

    fn service(changes: &[(i64, &str)], retired: Option<i64>) -> ServiceFact {
        ServiceFact {
            registered: Stamp::new(changes[0].0, 0),
            retired: retired.map(|r| Stamp::new(r, 9)),
            profiles: changes
                .iter()
                .enumerate()
                .map(|(i, (at, team))| (Stamp::new(*at, i as u64), profile(team)))
                .collect(),
        }
    }

    #[test]
    fn the_profile_in_force_is_the_last_one_set_at_or_before_the_instant() {
        let s = service(&[(10, "a"), (20, "b")], None);
        assert_eq!(s.profile_at(5).owner_team, "a");
        assert_eq!(s.profile_at(19).owner_team, "a");
        assert_eq!(s.profile_at(20).owner_team, "b");
    }

    #[test]
    fn ownership_periods_are_clipped_to_the_service_life() {
        let s = service(&[(10, "a"), (20, "b"), (30, "a")], Some(40));
        assert_eq!(
            s.periods_where(|p| p.owner_team == "a"),
            vec![(10, 20), (30, 40)]
        );
        assert_eq!(s.periods_where(|p| p.owner_team == "b"), vec![(20, 30)]);
        assert_eq!(s.periods_where(|_| true), vec![(10, 40)]);
    }

    #[test]
    fn a_query_snapshot_is_untouched_by_later_writes() {
        let mut facts = KpiFacts::default();
        facts.record_alert(AlertFact {
            at: Stamp::new(1, 1),
            service: ServiceId::new(ulid::Ulid::from_parts(1, 1)),
            kind: AlertFactKind::Received,
        });
        let snapshot = facts.clone();
        facts.record_alert(AlertFact {
            at: Stamp::new(2, 2),
            service: ServiceId::new(ulid::Ulid::from_parts(1, 1)),
            kind: AlertFactKind::Received,
        });
        assert_eq!(snapshot.alerts.len(), 1);
        assert_eq!(facts.alerts.len(), 2);
    }
}
