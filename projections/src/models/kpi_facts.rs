//! Compact per-incident, per-change and per-alert facts kept for KPIs, so
//! a KPI query over any window is a scan of small records.

use std::collections::BTreeMap;

use opsledger_domain::alert::AlertGroupKey;
use opsledger_domain::change::{ChangeCategory, ChangeEvent};
use opsledger_domain::incident::{ImpactLevel, IncidentEvent, IncidentStatus, Severity};
use opsledger_domain::{ChangeId, IncidentId, ServiceId};
use serde::{Deserialize, Serialize};

/// A period during which an incident impacted a service at one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImpactSegment {
    /// The impacted service.
    pub service: ServiceId,
    /// The impact level.
    pub level: ImpactLevel,
    /// Start (UTC ms).
    pub from: i64,
    /// End (UTC ms), `None` while ongoing.
    pub to: Option<i64>,
}

/// What KPIs need to know about one incident (times in UTC ms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFact {
    /// Current severity.
    pub severity: Severity,
    /// Every service it ever impacted (first = primary).
    pub services: Vec<ServiceId>,
    /// The alert group that opened or was linked first (service + dedup key).
    pub fingerprint: Option<AlertGroupKey>,
    /// Declared (triggered).
    pub triggered_at: i64,
    /// Impact start.
    pub started_at: i64,
    /// Detection.
    pub detected_at: i64,
    /// First acknowledgement.
    pub acknowledged_at: Option<i64>,
    /// Mitigation (entered monitoring), cleared on reopen.
    pub mitigated_at: Option<i64>,
    /// Resolution, cleared on reopen.
    pub resolved_at: Option<i64>,
    /// Merged into another incident (excluded from incident KPIs).
    pub merged: bool,
    /// Current impact level per service (kept while resolved, for reopen).
    pub levels: Vec<(ServiceId, ImpactLevel)>,
    /// Impact periods, per service and level.
    pub segments: Vec<ImpactSegment>,
}

impl IncidentFact {
    fn is_active(&self) -> bool {
        self.resolved_at.is_none() && !self.merged
    }

    fn close_segments(&mut self, at: i64) {
        for s in self.segments.iter_mut().filter(|s| s.to.is_none()) {
            s.to = Some(at.max(s.from));
        }
    }

    fn open_segments(&mut self, at: i64) {
        for &(service, level) in &self.levels {
            self.segments.push(ImpactSegment {
                service,
                level,
                from: at,
                to: None,
            });
        }
    }

    fn set_level(&mut self, service: ServiceId, level: ImpactLevel, at: i64) {
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
                s.to = Some(at.max(s.from));
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
    /// How and when (UTC ms) it ended, once it did.
    pub outcome: Option<(ChangeOutcome, i64)>,
    /// Incidents naming it as their cause.
    pub caused_incidents: u32,
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

/// One alert-group event (UTC ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertFact {
    /// When.
    pub at: i64,
    /// The alert's service.
    pub service: ServiceId,
    /// What it counts as.
    pub kind: AlertFactKind,
}

/// All KPI facts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KpiFacts {
    /// Per incident.
    pub incidents: BTreeMap<IncidentId, IncidentFact>,
    /// Per change.
    pub changes: BTreeMap<ChangeId, ChangeFact>,
    /// Per alert-group event, in log order.
    pub alerts: Vec<AlertFact>,
}

impl KpiFacts {
    /// Folds one incident event of incident `id`.
    pub fn apply_incident(&mut self, id: IncidentId, event: &IncidentEvent) {
        use IncidentEvent as E;
        if let E::Declared(e) = event {
            let mut fact = IncidentFact {
                severity: e.severity,
                services: e.impacts.iter().map(|i| i.service).collect(),
                fingerprint: e.alert_group.clone(),
                triggered_at: e.at.millis(),
                started_at: e.started_at.millis(),
                detected_at: e.detected_at.millis(),
                acknowledged_at: None,
                mitigated_at: None,
                resolved_at: None,
                merged: false,
                levels: e.impacts.iter().map(|i| (i.service, i.level)).collect(),
                segments: Vec::new(),
            };
            fact.open_segments(e.started_at.millis());
            self.incidents.insert(id, fact);
            return;
        }
        let Some(fact) = self.incidents.get_mut(&id) else {
            return;
        };
        let at = event.at().millis();
        match event {
            E::Acknowledged(_) => {
                fact.acknowledged_at.get_or_insert(at);
            }
            E::StatusChanged(e) if e.to == IncidentStatus::Monitoring => {
                fact.mitigated_at.get_or_insert(at);
            }
            E::SeverityChanged(e) => fact.severity = e.to,
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
                fact.resolved_at = Some(at);
            }
            E::Reopened(_) => {
                fact.resolved_at = None;
                fact.mitigated_at = None;
                if !fact.merged {
                    fact.open_segments(at);
                }
            }
            _ => {}
        }
    }

    /// Folds one change event of change `id`.
    pub fn apply_change(&mut self, id: ChangeId, event: &ChangeEvent) {
        if let ChangeEvent::Requested(e) = event {
            self.changes.insert(
                id,
                ChangeFact {
                    services: e.services.clone(),
                    category: e.category,
                    outcome: None,
                    caused_incidents: 0,
                },
            );
            return;
        }
        let Some(fact) = self.changes.get_mut(&id) else {
            return;
        };
        match event {
            ChangeEvent::Completed(e) => {
                fact.outcome = Some((ChangeOutcome::Completed, e.at.millis()))
            }
            ChangeEvent::Failed(e) => fact.outcome = Some((ChangeOutcome::Failed, e.at.millis())),
            ChangeEvent::RolledBack(e) => {
                fact.outcome = Some((ChangeOutcome::RolledBack, e.at.millis()))
            }
            _ => {}
        }
    }

    /// Records that an incident names `change` as its cause (instead of `previous`).
    pub fn link_cause(&mut self, change: ChangeId, previous: Option<ChangeId>) {
        if let Some(prev) = previous.and_then(|p| self.changes.get_mut(&p)) {
            prev.caused_incidents = prev.caused_incidents.saturating_sub(1);
        }
        if let Some(fact) = self.changes.get_mut(&change) {
            fact.caused_incidents += 1;
        }
    }

    /// Records one alert-group fact.
    pub fn record_alert(&mut self, fact: AlertFact) {
        self.alerts.push(fact);
    }
}
