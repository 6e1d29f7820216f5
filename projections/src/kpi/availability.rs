//! Availability and error budget per service: measured over the part of
//! the window in which the service existed (registration to retirement)
//! and, for a team, was owned by the team, so a retired service is still
//! reported for the windows it ran in, and the budget follows the SLO in
//! force at each moment.

use std::collections::BTreeMap;

use opsledger_domain::incident::ImpactLevel;
use opsledger_domain::service::SloTarget;
use opsledger_domain::ServiceId;

use super::rules::seconds;
use super::scope::Scope;
use crate::interval::{union_length_within, union_within, Interval};
use crate::models::kpi_facts::{KpiFacts, ServiceFact};

/// Availability of one service over the window.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceAvailability {
    /// The service.
    pub service: ServiceId,
    /// Its current name.
    pub name: String,
    /// Whether it is retired now.
    pub retired: bool,
    /// How much of the window it was measured over (existed, and for a team was owned by it), seconds.
    pub measured_seconds: f64,
    /// `1 - major_outage / measured`.
    pub availability: f64,
    /// Union of major-outage periods in the measured part, seconds.
    pub major_outage_seconds: f64,
    /// Union of partial-outage periods in the measured part, seconds.
    pub partial_outage_seconds: f64,
    /// Union of degraded periods in the measured part, seconds.
    pub degraded_seconds: f64,
    /// The SLO target in force at the end of the measured part, percent.
    pub slo_target_percent: f64,
    /// Downtime the SLO (in force at each moment) allows over the measured part, seconds.
    pub error_budget_seconds: f64,
    /// Allowed minus actual downtime, seconds (negative when blown).
    pub error_budget_remaining_seconds: f64,
    /// Remaining budget as a fraction of the budget (`None` for a 100 % SLO).
    pub error_budget_remaining_ratio: Option<f64>,
}

/// The impact periods of every service and level, each merged into a
/// disjoint sorted union (built once per question).
pub(crate) struct ImpactUnions(BTreeMap<(ServiceId, ImpactLevel), Vec<Interval>>);

impl ImpactUnions {
    /// Ongoing impact ends at `now`.
    pub(crate) fn of(facts: &KpiFacts, now: i64) -> Self {
        let mut periods: BTreeMap<(ServiceId, ImpactLevel), Vec<Interval>> = BTreeMap::new();
        for i in facts.incidents.values() {
            for s in &i.segments {
                let end = s.to.map_or(now.max(s.from.at), |t| t.at);
                periods
                    .entry((s.service, s.level))
                    .or_default()
                    .push((s.from.at, end));
            }
        }
        for list in periods.values_mut() {
            *list = union_within(list, (i64::MIN, i64::MAX));
        }
        ImpactUnions(periods)
    }

    fn length_within(&self, service: ServiceId, level: ImpactLevel, pieces: &[Interval]) -> i64 {
        let Some(union) = self.0.get(&(service, level)) else {
            return 0;
        };
        pieces
            .iter()
            .map(|piece| {
                let start = union.partition_point(|(_, end)| *end <= piece.0);
                let relevant: Vec<Interval> = union[start..]
                    .iter()
                    .take_while(|(s, _)| *s < piece.1)
                    .copied()
                    .collect();
                union_length_within(&relevant, *piece)
            })
            .sum()
    }
}

/// The availability of every service the scope covers during `[from, to)`, by name.
pub(crate) fn availability(
    facts: &KpiFacts,
    scope: &Scope<'_>,
    unions: &ImpactUnions,
    from: i64,
    to: i64,
) -> Vec<ServiceAvailability> {
    let mut out: Vec<ServiceAvailability> = facts
        .services
        .iter()
        .filter_map(|(id, s)| service_availability(*id, s, scope, unions, from, to))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.service.cmp(&b.service)));
    out
}

/// The parts of `[from, to)` in which the scope covers the service (empty = not reported).
pub(crate) fn measured_pieces(
    id: ServiceId,
    service: &ServiceFact,
    scope: &Scope<'_>,
    from: i64,
    to: i64,
) -> Vec<Interval> {
    scope
        .presence(id, service)
        .into_iter()
        .map(|(s, e)| (s.max(from), e.min(to)))
        .filter(|(s, e)| e > s)
        .collect()
}

fn service_availability(
    id: ServiceId,
    service: &ServiceFact,
    scope: &Scope<'_>,
    unions: &ImpactUnions,
    from: i64,
    to: i64,
) -> Option<ServiceAvailability> {
    let pieces = measured_pieces(id, service, scope, from, to);
    let measured_ms: i64 = pieces.iter().map(|(s, e)| e - s).sum();
    if measured_ms == 0 {
        return None;
    }
    let (budget_ms, last_slo) = budget(service, &pieces);
    let major = unions.length_within(id, ImpactLevel::MajorOutage, &pieces);
    let remaining_ms = budget_ms - major as f64;
    Some(ServiceAvailability {
        service: id,
        name: service.current().name.clone(),
        retired: service.retired.is_some(),
        measured_seconds: seconds(measured_ms),
        availability: 1.0 - major as f64 / measured_ms as f64,
        major_outage_seconds: seconds(major),
        partial_outage_seconds: seconds(unions.length_within(
            id,
            ImpactLevel::PartialOutage,
            &pieces,
        )),
        degraded_seconds: seconds(unions.length_within(id, ImpactLevel::Degraded, &pieces)),
        slo_target_percent: last_slo.as_percent(),
        error_budget_seconds: budget_ms / 1000.0,
        error_budget_remaining_seconds: remaining_ms / 1000.0,
        error_budget_remaining_ratio: (budget_ms > 0.0).then(|| remaining_ms / budget_ms),
    })
}

/// The downtime allowed over `pieces` by the SLO in force at each moment (ms),
/// and the SLO in force at the end of the last piece.
fn budget(service: &ServiceFact, pieces: &[Interval]) -> (f64, SloTarget) {
    let mut budget = 0.0;
    let mut last = service.current().slo_target;
    for (from, to, profile) in service.spans() {
        for &(s, e) in pieces {
            let overlap = e.min(to) - s.max(from);
            if overlap > 0 {
                let slo = profile.slo_target;
                budget += overlap as f64 * f64::from(SloTarget::FULL.saturating_sub(slo.0))
                    / f64::from(SloTarget::FULL);
                last = slo;
            }
        }
    }
    (budget, last)
}
