//! The drill-down of a KPI figure: the population it is computed over
//! (incidents, changes, alerts, impact periods or action items), each with
//! the value it adds, whether it is counted in the figure's numerator or
//! count, and the instants it was measured at with the log positions of the
//! events that recorded them. Uses the same rules as the figures.

use opsledger_domain::change::ChangeCategory;
use opsledger_domain::incident::{ImpactLevel, Severity};
use opsledger_domain::{ActionItemId, ChangeId, IncidentId, ServiceId};

use super::availability::measured_pieces;
use super::figures::Ctx;
use super::rules::{
    ack_sla, ack_sla_ms, breached_rto, dora_failed, resolved_within, restore, review_required,
    seconds, tightest_rto_secs, within,
};
use super::scope::{Scope, ScopeError};
use super::KpiQuery;
use crate::models::kpi_facts::{AlertFactKind, ChangeOutcome, IncidentFact, KpiFacts, Stamp};

/// The figure (or family of figures) to drill into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KpiMetric {
    /// `mttd`: incidents resolved in the window, value = detected - started.
    Mttd,
    /// `mtta`: acknowledged incidents resolved in the window, value = acknowledged - detected.
    Mtta,
    /// `mttr`: incidents resolved in the window, value = resolved - detected.
    Mttr,
    /// `incidentsBySeverity`: incidents declared in the window with their declared severity.
    IncidentsDeclared,
    /// `ackSlaBreaches`: incidents declared in the window; counted = breached.
    AckSla,
    /// `recurringIncidents`: incidents declared in the window; counted = recurring.
    RecurringIncidents,
    /// `rtoBreaches`: incidents resolved in the window; counted = breached.
    RtoBreaches,
    /// `reviewsRequired` / `reviewsPublished`: SEV1/SEV2 resolutions; counted = published.
    Reviews,
    /// Change figures and patch discipline: changes ended in the window; counted = failed (DORA).
    Changes,
    /// Alert figures: alert events in the window; counted = true.
    Alerts,
    /// `availability`: impact periods within the measured window; counted = major outage.
    Availability,
    /// `actionItemsOpen` / `actionItemsOverdue`: items open at `min(to, now)`; counted = overdue.
    ActionItems,
}

/// An instant a figure used, named, with the event that recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamedStamp {
    /// What it is (`detectedAt`, `resolvedAt`, ...).
    pub name: &'static str,
    /// When (UTC ms).
    pub at: i64,
    /// The log position of the event.
    pub position: u64,
}

/// One member of a figure's population.
#[derive(Clone, Debug, PartialEq)]
pub struct Contributor {
    /// The sort key (primary instant, its position, the subject's id): also its cursor.
    pub key: (i64, u64, u128),
    /// The incident, when it is about one.
    pub incident: Option<IncidentId>,
    /// The change, when it is about one.
    pub change: Option<ChangeId>,
    /// The action item, when it is about one.
    pub action_item: Option<ActionItemId>,
    /// The services involved (impacted, touched, alerted).
    pub services: Vec<ServiceId>,
    /// Other incidents involved: the earlier incident of a recurring one, the incidents a change caused.
    pub related_incidents: Vec<IncidentId>,
    /// The severity the rule used.
    pub severity: Option<Severity>,
    /// The change's category.
    pub category: Option<ChangeCategory>,
    /// A kind: change outcome, alert kind or impact level (API enum names).
    pub label: Option<&'static str>,
    /// Whether it counts in the figure's numerator or count.
    pub counted: bool,
    /// The duration it adds, seconds.
    pub seconds: Option<f64>,
    /// The limit it was held against (ack SLA, RTO), seconds.
    pub threshold_seconds: Option<f64>,
    /// The instants used, with their events.
    pub instants: Vec<NamedStamp>,
}

impl Contributor {
    fn new(key: (Stamp, u128)) -> Self {
        Contributor {
            key: (key.0.at, key.0.position, key.1),
            incident: None,
            change: None,
            action_item: None,
            services: Vec::new(),
            related_incidents: Vec::new(),
            severity: None,
            category: None,
            label: None,
            counted: true,
            seconds: None,
            threshold_seconds: None,
            instants: Vec::new(),
        }
    }

    fn instant(mut self, name: &'static str, stamp: Stamp) -> Self {
        self.instants.push(NamedStamp {
            name,
            at: stamp.at,
            position: stamp.position,
        });
        self
    }
}

/// The population of `metric` over the query's whole window, sorted by key.
pub fn kpi_contributors(
    facts: &KpiFacts,
    query: &KpiQuery,
    metric: KpiMetric,
) -> Result<Vec<Contributor>, ScopeError> {
    let scope = Scope::resolve(facts, &query.scope)?;
    let ctx = Ctx::new(facts, scope, query.now.millis());
    let (from, to) = (query.window.from(), query.window.to());
    let mut out = match metric {
        KpiMetric::Mttd | KpiMetric::Mtta | KpiMetric::Mttr => resolutions(&ctx, metric, from, to),
        KpiMetric::IncidentsDeclared | KpiMetric::AckSla | KpiMetric::RecurringIncidents => {
            declarations(&ctx, metric, from, to)
        }
        KpiMetric::RtoBreaches | KpiMetric::Reviews => resolutions(&ctx, metric, from, to),
        KpiMetric::Changes => changes(&ctx, from, to),
        KpiMetric::Alerts => alerts(&ctx, from, to),
        KpiMetric::Availability => impact_periods(&ctx, from, to),
        KpiMetric::ActionItems => action_items(&ctx, to),
    };
    out.sort_by_key(|c| c.key);
    Ok(out)
}

fn incident_base(id: &IncidentId, i: &IncidentFact, key: Stamp) -> Contributor {
    let mut c = Contributor::new((key, id.0 .0));
    c.incident = Some(*id);
    c.services = i.services.clone();
    c
}

fn started(i: &IncidentFact) -> Stamp {
    Stamp::new(i.started_at, i.declared.position)
}

fn detected(i: &IncidentFact) -> Stamp {
    Stamp::new(i.detected_at, i.declared.position)
}

/// Incidents whose latest resolution is in the window, per resolution-based metric.
fn resolutions(ctx: &Ctx<'_>, metric: KpiMetric, from: i64, to: i64) -> Vec<Contributor> {
    let mut out = Vec::new();
    for (id, i) in ctx.incidents() {
        let Some(resolved) = resolved_within(i, from, to) else {
            continue;
        };
        let c = incident_base(id, i, resolved);
        let c = match metric {
            KpiMetric::Mttd => {
                let mut c = c
                    .instant("startedAt", started(i))
                    .instant("detectedAt", detected(i));
                c.seconds = Some(seconds(i.detected_at - i.started_at));
                c
            }
            KpiMetric::Mtta => {
                let Some(ack) = i.acknowledged else { continue };
                let mut c = c
                    .instant("detectedAt", detected(i))
                    .instant("acknowledgedAt", ack);
                c.seconds = Some(seconds(ack.at - i.detected_at));
                c
            }
            KpiMetric::Mttr => {
                let mut c = c.instant("detectedAt", detected(i));
                c.seconds = Some(seconds(resolved.at - i.detected_at));
                c
            }
            KpiMetric::RtoBreaches => {
                let (ms, restored) = restore(i, resolved);
                let mut c = c
                    .instant("startedAt", started(i))
                    .instant("restoredAt", restored);
                c.seconds = Some(seconds(ms));
                c.threshold_seconds = tightest_rto_secs(ctx.facts, i).map(|s| s as f64);
                c.counted = breached_rto(ctx.facts, i, resolved);
                c
            }
            KpiMetric::Reviews => {
                if !review_required(i, resolved) {
                    continue;
                }
                let mut c = c;
                c.severity = Some(i.severity_at(resolved.at));
                c.counted = i.review_published.is_some();
                match i.review_published {
                    Some(p) => c.instant("reviewPublishedAt", p),
                    None => c,
                }
            }
            _ => continue,
        };
        out.push(c.instant("resolvedAt", resolved));
    }
    out
}

/// Incidents declared in the window, per declaration-based metric.
fn declarations(ctx: &Ctx<'_>, metric: KpiMetric, from: i64, to: i64) -> Vec<Contributor> {
    let mut out = Vec::new();
    for (id, i) in ctx.incidents() {
        if !within(i.declared.at, from, to) {
            continue;
        }
        let mut c = incident_base(id, i, i.declared).instant("declaredAt", i.declared);
        c.severity = Some(i.declared_severity());
        let c = match metric {
            KpiMetric::IncidentsDeclared => c,
            KpiMetric::AckSla => {
                let sla = ack_sla(i, ctx.now);
                c.seconds = Some(seconds(sla.unacknowledged_ms));
                c.threshold_seconds = Some(seconds(ack_sla_ms(sla.severity)));
                c.counted = sla.breached;
                let c = c.instant("detectedAt", detected(i));
                match sla.until {
                    Some(s) if Some(s) == i.acknowledged => c.instant("acknowledgedAt", s),
                    Some(s) => c.instant("firstResolvedAt", s),
                    None => c,
                }
            }
            KpiMetric::RecurringIncidents => {
                let recurrence = ctx.resolutions.recurrence_of(*id, i);
                c.counted = recurrence.is_some();
                let c = c.instant("detectedAt", detected(i));
                match recurrence {
                    Some((earlier, resolved)) => {
                        let mut c = c.instant("earlierFirstResolvedAt", resolved);
                        c.related_incidents.push(earlier);
                        c
                    }
                    None => c,
                }
            }
            _ => continue,
        };
        out.push(c);
    }
    out
}

fn outcome_name(outcome: ChangeOutcome) -> &'static str {
    match outcome {
        ChangeOutcome::Completed => "COMPLETED",
        ChangeOutcome::Failed => "FAILED",
        ChangeOutcome::RolledBack => "ROLLED_BACK",
    }
}

fn changes(ctx: &Ctx<'_>, from: i64, to: i64) -> Vec<Contributor> {
    let mut out = Vec::new();
    for (id, c) in ctx.facts.changes.iter() {
        let Some((outcome, ended)) = c.ended else {
            continue;
        };
        if !within(ended.at, from, to) || !ctx.scope.covers_any(&c.services, ended.at) {
            continue;
        }
        let mut row = Contributor::new((ended, id.0 .0)).instant("endedAt", ended);
        row.change = Some(*id);
        row.services = c.services.clone();
        row.category = Some(c.category);
        row.label = Some(outcome_name(outcome));
        row.counted = dora_failed(c, outcome);
        for (incident, linked) in &c.caused {
            row.related_incidents.push(*incident);
            row = row.instant("causeLinkedAt", *linked);
        }
        out.push(row);
    }
    out
}

fn alerts(ctx: &Ctx<'_>, from: i64, to: i64) -> Vec<Contributor> {
    ctx.facts
        .alerts
        .iter()
        .filter(|a| within(a.at.at, from, to) && ctx.scope.covers(a.service, a.at.at))
        .map(|a| {
            let mut c = Contributor::new((a.at, a.service.0 .0)).instant("at", a.at);
            c.services = vec![a.service];
            c.label = Some(match a.kind {
                AlertFactKind::Received => "RECEIVED",
                AlertFactKind::Suppressed => "SUPPRESSED",
                AlertFactKind::OpenedIncident => "OPENED_INCIDENT",
            });
            c
        })
        .collect()
}

fn level_name(level: ImpactLevel) -> &'static str {
    match level {
        ImpactLevel::MajorOutage => "MAJOR_OUTAGE",
        ImpactLevel::PartialOutage => "PARTIAL_OUTAGE",
        ImpactLevel::Degraded => "DEGRADED",
    }
}

/// Every impact period overlapping the part of the window in which its
/// service is measured; `seconds` is the overlap (the figure is their union).
fn impact_periods(ctx: &Ctx<'_>, from: i64, to: i64) -> Vec<Contributor> {
    let mut out = Vec::new();
    for (id, i) in ctx.facts.incidents.iter() {
        for s in &i.segments {
            let Some(service) = ctx.facts.services.get(&s.service) else {
                continue;
            };
            let end = s.to.map_or(ctx.now.max(s.from.at), |t| t.at);
            let overlap: i64 = measured_pieces(s.service, service, &ctx.scope, from, to)
                .iter()
                .map(|(p, q)| (end.min(*q) - s.from.at.max(*p)).max(0))
                .sum();
            if overlap == 0 {
                continue;
            }
            let mut c = Contributor::new((s.from, s.service.0 .0)).instant("impactFrom", s.from);
            if let Some(t) = s.to {
                c = c.instant("impactTo", t);
            }
            c.incident = Some(*id);
            c.services = vec![s.service];
            c.label = Some(level_name(s.level));
            c.counted = s.level == ImpactLevel::MajorOutage;
            c.seconds = Some(seconds(overlap));
            out.push(c);
        }
    }
    out
}

fn action_items(ctx: &Ctx<'_>, to: i64) -> Vec<Contributor> {
    let at = to.min(ctx.now);
    ctx.facts
        .action_items
        .iter()
        .filter(|(_, item)| item.open_at(at) && ctx.covers_incident(&item.incident))
        .map(|(id, item)| {
            let mut c = Contributor::new((item.added, id.0 .0))
                .instant("addedAt", item.added)
                .instant("dueAt", Stamp::new(item.due, item.added.position));
            c.action_item = Some(*id);
            c.incident = Some(item.incident);
            c.counted = item.overdue_at(at);
            c
        })
        .collect()
}
