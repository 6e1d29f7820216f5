//! Every KPI figure of one window, computed from the KPI facts with the
//! rules of [`super::rules`].

use std::collections::BTreeMap;

use opsledger_domain::change::ChangeCategory;
use opsledger_domain::incident::Severity;
use opsledger_domain::{IncidentId, ServiceId, Timestamp};

use super::availability::{availability, ImpactUnions, ServiceAvailability};
use super::rules::{
    ack_sla, breached_rto, dora_failed, resolved_within, review_required, seconds, within,
    Resolutions,
};
use super::scope::Scope;
use crate::models::kpi_facts::{AlertFactKind, ChangeOutcome, IncidentFact, KpiFacts};
use crate::stats::{ratio, Summary};

/// A count per severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeverityCounts {
    /// SEV1.
    pub sev1: u64,
    /// SEV2.
    pub sev2: u64,
    /// SEV3.
    pub sev3: u64,
    /// SEV4.
    pub sev4: u64,
}

impl SeverityCounts {
    fn add(&mut self, severity: Severity) {
        match severity {
            Severity::Sev1 => self.sev1 += 1,
            Severity::Sev2 => self.sev2 += 1,
            Severity::Sev3 => self.sev3 += 1,
            Severity::Sev4 => self.sev4 += 1,
        }
    }

    /// The sum over all severities.
    pub fn total(&self) -> u64 {
        self.sev1 + self.sev2 + self.sev3 + self.sev4
    }
}

/// Patch changes of one service.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchDiscipline {
    /// The service.
    pub service: ServiceId,
    /// Patch changes completed in the window.
    pub completed: u64,
    /// Patch changes that ended in the window (completed, failed or rolled back).
    pub finished: u64,
    /// `completed / finished`.
    pub success_rate: Option<f64>,
}

/// Every KPI figure of one window (definitions: README "KPI definitions").
#[derive(Clone, Debug, PartialEq)]
pub struct KpiFigures {
    /// The window start.
    pub from: Timestamp,
    /// The window end.
    pub to: Timestamp,
    /// Incidents whose latest resolution is in the window (the MTTx population).
    pub incidents_resolved: u64,
    /// Mean time to detect, seconds: `detected - started`.
    pub mttd: Summary,
    /// Mean time to acknowledge, seconds: `first acknowledged - detected` (acknowledged ones).
    pub mtta: Summary,
    /// Mean time to resolve, seconds: `resolved - detected`.
    pub mttr: Summary,
    /// Incidents declared in the window, by declared severity.
    pub incidents_by_severity: SeverityCounts,
    /// Firing alerts received in the window.
    pub alerts_received: u64,
    /// Alerts attached to an already open incident.
    pub alerts_suppressed: u64,
    /// Incidents opened by alerts.
    pub incidents_opened_from_alerts: u64,
    /// `1 - incidents_opened_from_alerts / alerts_received`.
    pub noise_reduction_ratio: Option<f64>,
    /// Availability of every service in scope that existed in the window, by name.
    pub availability: Vec<ServiceAvailability>,
    /// Changes completed in the window.
    pub changes_completed: u64,
    /// Changes failed in the window.
    pub changes_failed: u64,
    /// Changes rolled back in the window.
    pub changes_rolled_back: u64,
    /// `completed / (completed + failed + rolled back)`.
    pub change_success_rate: Option<f64>,
    /// Changes completed in the window that an incident names as its cause.
    pub changes_causing_incidents: u64,
    /// `changes_causing_incidents / changes_completed` (the change failure rate of definitions version 1).
    pub completed_change_incident_rate: Option<f64>,
    /// Failed changes (DORA): failed, rolled back, or completed and named as an incident's cause.
    pub failed_changes: u64,
    /// `failed_changes / (completed + failed + rolled back)` (DORA).
    pub change_failure_rate: Option<f64>,
    /// Incidents declared in the window with the same service and fingerprint
    /// as an incident first resolved in the 30 days before their detection.
    pub recurring_incidents: u64,
    /// Incidents declared in the window left unacknowledged past their SLA, by declared severity.
    pub ack_sla_breaches: SeverityCounts,
    /// Incidents resolved in the window that were SEV1/SEV2 when resolved.
    pub reviews_required: u64,
    /// Of those, the ones with a published review.
    pub reviews_published: u64,
    /// `reviews_published / reviews_required`.
    pub review_completion_rate: Option<f64>,
    /// Action items open at `min(to, now)`.
    pub action_items_open: u64,
    /// Of those, past their due date.
    pub action_items_overdue: u64,
    /// Incidents resolved in the window whose time to restore exceeded an impacted service's RTO.
    pub rto_breaches: u64,
    /// Patch changes per service in scope with patch activity, by service id.
    pub patch_discipline: Vec<PatchDiscipline>,
}

/// What every window of one question shares: the facts, the scope, `now`
/// and the indexes built once.
pub(crate) struct Ctx<'a> {
    pub facts: &'a KpiFacts,
    pub scope: Scope<'a>,
    pub now: i64,
    pub resolutions: Resolutions<'a>,
    pub unions: ImpactUnions,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(facts: &'a KpiFacts, scope: Scope<'a>, now: i64) -> Self {
        Ctx {
            facts,
            scope,
            now,
            resolutions: Resolutions::of(facts),
            unions: ImpactUnions::of(facts, now),
        }
    }

    /// The unmerged incidents the scope covers, attributed at declaration.
    pub(crate) fn incidents(
        &self,
    ) -> impl Iterator<Item = (&'a IncidentId, &'a IncidentFact)> + '_ {
        self.facts
            .incidents
            .iter()
            .filter(|(_, f)| !f.merged && self.scope.covers_any(&f.services, f.declared.at))
    }

    /// Every figure of `[from, to)`.
    pub(crate) fn figures(&self, from: i64, to: i64) -> KpiFigures {
        let mut f = self.incident_figures(from, to);
        self.alert_figures(from, to, &mut f);
        self.change_figures(from, to, &mut f);
        self.action_item_figures(to, &mut f);
        // Time after `now` has not happened: it is neither uptime nor downtime.
        f.availability = availability(
            self.facts,
            &self.scope,
            &self.unions,
            from,
            to.min(self.now),
        );
        f
    }

    fn incident_figures(&self, from: i64, to: i64) -> KpiFigures {
        let (mut mttd, mut mtta, mut mttr) = (Vec::new(), Vec::new(), Vec::new());
        let mut by_severity = SeverityCounts::default();
        let mut breaches = SeverityCounts::default();
        let (mut recurring, mut rto_breaches) = (0, 0);
        let (mut reviews_required, mut reviews_published) = (0, 0);
        for (id, i) in self.incidents() {
            if let Some(resolved) = resolved_within(i, from, to) {
                mttd.push(seconds(i.detected_at - i.started_at));
                if let Some(ack) = i.acknowledged {
                    mtta.push(seconds(ack.at - i.detected_at));
                }
                mttr.push(seconds(resolved.at - i.detected_at));
                if breached_rto(self.facts, i, resolved) {
                    rto_breaches += 1;
                }
                if review_required(i, resolved) {
                    reviews_required += 1;
                    if i.review_published.is_some() {
                        reviews_published += 1;
                    }
                }
            }
            if within(i.declared.at, from, to) {
                by_severity.add(i.declared_severity());
                let sla = ack_sla(i, self.now);
                if sla.breached {
                    breaches.add(sla.severity);
                }
                if self.resolutions.recurrence_of(*id, i).is_some() {
                    recurring += 1;
                }
            }
        }
        KpiFigures {
            from: Timestamp(from),
            to: Timestamp(to),
            incidents_resolved: mttr.len() as u64,
            mttd: Summary::of(&mttd),
            mtta: Summary::of(&mtta),
            mttr: Summary::of(&mttr),
            incidents_by_severity: by_severity,
            alerts_received: 0,
            alerts_suppressed: 0,
            incidents_opened_from_alerts: 0,
            noise_reduction_ratio: None,
            availability: Vec::new(),
            changes_completed: 0,
            changes_failed: 0,
            changes_rolled_back: 0,
            change_success_rate: None,
            changes_causing_incidents: 0,
            completed_change_incident_rate: None,
            failed_changes: 0,
            change_failure_rate: None,
            recurring_incidents: recurring,
            ack_sla_breaches: breaches,
            reviews_required,
            reviews_published,
            review_completion_rate: ratio(reviews_published, reviews_required),
            action_items_open: 0,
            action_items_overdue: 0,
            rto_breaches,
            patch_discipline: Vec::new(),
        }
    }

    fn alert_figures(&self, from: i64, to: i64, f: &mut KpiFigures) {
        for a in self.facts.alerts.iter() {
            if !within(a.at.at, from, to) || !self.scope.covers(a.service, a.at.at) {
                continue;
            }
            match a.kind {
                AlertFactKind::Received => f.alerts_received += 1,
                AlertFactKind::Suppressed => f.alerts_suppressed += 1,
                AlertFactKind::OpenedIncident => f.incidents_opened_from_alerts += 1,
            }
        }
        f.noise_reduction_ratio =
            ratio(f.incidents_opened_from_alerts, f.alerts_received).map(|r| 1.0 - r);
    }

    fn change_figures(&self, from: i64, to: i64, f: &mut KpiFigures) {
        let mut patches: BTreeMap<ServiceId, (u64, u64)> = BTreeMap::new();
        for c in self.facts.changes.values() {
            let Some((outcome, ended)) = c.ended else {
                continue;
            };
            if !within(ended.at, from, to) || !self.scope.covers_any(&c.services, ended.at) {
                continue;
            }
            match outcome {
                ChangeOutcome::Completed => {
                    f.changes_completed += 1;
                    if !c.caused.is_empty() {
                        f.changes_causing_incidents += 1;
                    }
                }
                ChangeOutcome::Failed => f.changes_failed += 1,
                ChangeOutcome::RolledBack => f.changes_rolled_back += 1,
            }
            if dora_failed(c, outcome) {
                f.failed_changes += 1;
            }
            if c.category == ChangeCategory::Patch {
                for s in c
                    .services
                    .iter()
                    .filter(|s| self.scope.covers(**s, ended.at))
                {
                    let entry = patches.entry(*s).or_default();
                    entry.1 += 1;
                    if outcome == ChangeOutcome::Completed {
                        entry.0 += 1;
                    }
                }
            }
        }
        let ended = f.changes_completed + f.changes_failed + f.changes_rolled_back;
        f.change_success_rate = ratio(f.changes_completed, ended);
        f.change_failure_rate = ratio(f.failed_changes, ended);
        f.completed_change_incident_rate = ratio(f.changes_causing_incidents, f.changes_completed);
        f.patch_discipline = patches
            .into_iter()
            .map(|(service, (completed, finished))| PatchDiscipline {
                service,
                completed,
                finished,
                success_rate: ratio(completed, finished),
            })
            .collect();
    }

    /// Whether an action item's incident is in scope (attributed at its declaration).
    pub(crate) fn covers_incident(&self, incident: &IncidentId) -> bool {
        self.scope.is_global()
            || self
                .facts
                .incidents
                .get(incident)
                .is_some_and(|i| self.scope.covers_any(&i.services, i.declared.at))
    }

    fn action_item_figures(&self, to: i64, f: &mut KpiFigures) {
        let at = to.min(self.now);
        for item in self.facts.action_items.values() {
            if !item.open_at(at) || !self.covers_incident(&item.incident) {
                continue;
            }
            f.action_items_open += 1;
            if item.overdue_at(at) {
                f.action_items_overdue += 1;
            }
        }
    }
}
