//! KPIs (SPEC 2.6) over any window `[from, to)`, globally, per service or
//! per owner team, with optional day or week buckets. Durations are in
//! seconds. Computed from the compact facts in [`crate::models::kpi_facts`].

use std::collections::{BTreeMap, BTreeSet};

use opsledger_domain::alert::AlertGroupKey;
use opsledger_domain::change::ChangeCategory;
use opsledger_domain::incident::{ImpactLevel, Severity};
use opsledger_domain::service::SloTarget;
use opsledger_domain::time::{MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE};
use opsledger_domain::{IncidentId, ServiceId, Timestamp};

use crate::bucket::{buckets, BucketSize};
use crate::interval::{union_length_within, Interval};
use crate::models::kpi_facts::{AlertFactKind, ChangeOutcome, IncidentFact};
use crate::models::ReadModels;
use crate::stats::{ratio, Summary};
use crate::ProjectionError;

/// How far back a resolved incident makes a new one recurring.
pub const RECURRENCE_WINDOW_MS: i64 = 30 * MS_PER_DAY;

/// The acknowledge SLA of a severity (SEV1 5 min, SEV2 15 min, SEV3 1 h, SEV4 4 h), in ms.
pub fn ack_sla_ms(severity: Severity) -> i64 {
    match severity {
        Severity::Sev1 => 5 * MS_PER_MINUTE,
        Severity::Sev2 => 15 * MS_PER_MINUTE,
        Severity::Sev3 => MS_PER_HOUR,
        Severity::Sev4 => 4 * MS_PER_HOUR,
    }
}

/// Which incidents, changes and services a KPI covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KpiScope {
    /// Everything.
    Global,
    /// Incidents impacting, changes touching and alerts of one service.
    Service(ServiceId),
    /// The same for every service an owner team owns.
    Team(String),
}

/// A KPI question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KpiQuery {
    /// Window start (UTC ms, inclusive).
    pub from: Timestamp,
    /// Window end (UTC ms, exclusive).
    pub to: Timestamp,
    /// What it covers.
    pub scope: KpiScope,
    /// Day or week buckets, if wanted.
    pub bucket: Option<BucketSize>,
    /// The current time: ongoing impact ends here, open action items are counted at `min(to, now)`.
    pub now: Timestamp,
}

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

/// Availability of one service over the window.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceAvailability {
    /// The service.
    pub service: ServiceId,
    /// Its name.
    pub name: String,
    /// `1 - major_outage / window`.
    pub availability: f64,
    /// Union of major-outage periods in the window, seconds.
    pub major_outage_seconds: f64,
    /// Union of partial-outage periods in the window, seconds.
    pub partial_outage_seconds: f64,
    /// Union of degraded periods in the window, seconds.
    pub degraded_seconds: f64,
    /// The SLO target, percent.
    pub slo_target_percent: f64,
    /// Downtime the SLO allows over the window, seconds.
    pub error_budget_seconds: f64,
    /// Allowed minus actual downtime, seconds (negative when blown).
    pub error_budget_remaining_seconds: f64,
    /// Remaining budget as a fraction of the budget (`None` for a 100 % SLO).
    pub error_budget_remaining_ratio: Option<f64>,
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

/// Every KPI figure of one window.
#[derive(Clone, Debug, PartialEq)]
pub struct KpiFigures {
    /// The window start.
    pub from: Timestamp,
    /// The window end.
    pub to: Timestamp,
    /// Incidents resolved in the window (the MTTx population).
    pub incidents_resolved: u64,
    /// Mean time to detect, seconds: `detected - started`.
    pub mttd: Summary,
    /// Mean time to acknowledge, seconds: `acknowledged - detected` (acknowledged ones).
    pub mtta: Summary,
    /// Mean time to resolve, seconds: `resolved - detected`.
    pub mttr: Summary,
    /// Incidents declared in the window, by current severity.
    pub incidents_by_severity: SeverityCounts,
    /// Firing alerts received in the window.
    pub alerts_received: u64,
    /// Alerts attached to an already open incident.
    pub alerts_suppressed: u64,
    /// Incidents opened by alerts.
    pub incidents_opened_from_alerts: u64,
    /// `1 - incidents_opened_from_alerts / alerts_received`.
    pub noise_reduction_ratio: Option<f64>,
    /// Availability of every service in scope, by name.
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
    /// `changes_causing_incidents / changes_completed`.
    pub change_failure_rate: Option<f64>,
    /// Incidents declared in the window with the same service and fingerprint
    /// as an incident resolved in the 30 days before their detection.
    pub recurring_incidents: u64,
    /// Incidents declared in the window left unacknowledged past their SLA.
    pub ack_sla_breaches: SeverityCounts,
    /// SEV1/SEV2 incidents resolved in the window.
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

/// One bucket of a KPI report.
#[derive(Clone, Debug, PartialEq)]
pub struct KpiBucket {
    /// The bucket's figures (its `from`/`to` are the bucket bounds).
    pub figures: KpiFigures,
}

/// The answer to a [`KpiQuery`].
#[derive(Clone, Debug, PartialEq)]
pub struct KpiReport {
    /// The figures over the whole window.
    pub totals: KpiFigures,
    /// The figures per bucket (empty without buckets).
    pub buckets: Vec<KpiBucket>,
}

/// Computes the KPIs of `query` from the read models.
pub fn kpi_report(models: &ReadModels, query: &KpiQuery) -> Result<KpiReport, ProjectionError> {
    if query.to <= query.from {
        return Err(ProjectionError::InvalidQuery("`to` must be after `from`"));
    }
    let scope = ScopeSet::resolve(models, &query.scope);
    let ctx = Ctx {
        models,
        scope: &scope,
        now: query.now.millis(),
        resolutions: resolutions_by_fingerprint(models),
    };
    let totals = ctx.figures(query.from.millis(), query.to.millis());
    let buckets = query
        .bucket
        .map(|size| {
            buckets(query.from.millis(), query.to.millis(), size)
                .into_iter()
                .map(|(f, t)| KpiBucket {
                    figures: ctx.figures(f, t),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(KpiReport { totals, buckets })
}

/// The services of a scope (`None` = every service).
struct ScopeSet(Option<BTreeSet<ServiceId>>);

impl ScopeSet {
    fn resolve(models: &ReadModels, scope: &KpiScope) -> Self {
        ScopeSet(match scope {
            KpiScope::Global => None,
            KpiScope::Service(id) => Some(BTreeSet::from([*id])),
            KpiScope::Team(team) => Some(models.services.team_services(team).into_iter().collect()),
        })
    }

    fn contains(&self, service: &ServiceId) -> bool {
        self.0.as_ref().is_none_or(|s| s.contains(service))
    }

    fn any(&self, services: &[ServiceId]) -> bool {
        self.0.is_none() || services.iter().any(|s| self.contains(s))
    }
}

struct Ctx<'a> {
    models: &'a ReadModels,
    scope: &'a ScopeSet,
    now: i64,
    /// Resolution times (sorted) of the incidents of each fingerprint.
    resolutions: BTreeMap<&'a AlertGroupKey, Vec<(i64, IncidentId)>>,
}

fn resolutions_by_fingerprint(
    models: &ReadModels,
) -> BTreeMap<&AlertGroupKey, Vec<(i64, IncidentId)>> {
    let mut out: BTreeMap<&AlertGroupKey, Vec<(i64, IncidentId)>> = BTreeMap::new();
    for (id, i) in &models.kpi.incidents {
        if let (Some(key), Some(resolved), false) = (&i.fingerprint, i.resolved_at, i.merged) {
            out.entry(key).or_default().push((resolved, *id));
        }
    }
    for list in out.values_mut() {
        list.sort_unstable();
    }
    out
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn within(t: i64, from: i64, to: i64) -> bool {
    from <= t && t < to
}

impl Ctx<'_> {
    fn incidents(&self) -> impl Iterator<Item = (&IncidentId, &IncidentFact)> {
        self.models
            .kpi
            .incidents
            .iter()
            .filter(|(_, f)| !f.merged && self.scope.any(&f.services))
    }

    fn figures(&self, from: i64, to: i64) -> KpiFigures {
        let mut f = self.incident_figures(from, to);
        self.alert_figures(from, to, &mut f);
        self.change_figures(from, to, &mut f);
        self.action_item_figures(from, to, &mut f);
        f.availability = self.availability(from, to);
        f
    }

    fn incident_figures(&self, from: i64, to: i64) -> KpiFigures {
        let (mut mttd, mut mtta, mut mttr) = (Vec::new(), Vec::new(), Vec::new());
        let mut by_severity = SeverityCounts::default();
        let mut breaches = SeverityCounts::default();
        let (mut recurring, mut rto_breaches) = (0, 0);
        let (mut reviews_required, mut reviews_published) = (0, 0);
        for (id, i) in self.incidents() {
            if let Some(resolved) = i.resolved_at.filter(|r| within(*r, from, to)) {
                mttd.push(seconds(i.detected_at - i.started_at));
                if let Some(ack) = i.acknowledged_at {
                    mtta.push(seconds(ack - i.detected_at));
                }
                mttr.push(seconds(resolved - i.detected_at));
                if self.breached_rto(i, resolved) {
                    rto_breaches += 1;
                }
                if i.severity <= Severity::Sev2 {
                    reviews_required += 1;
                    if self.models.reviews.has_published_review(*id) {
                        reviews_published += 1;
                    }
                }
            }
            if within(i.triggered_at, from, to) {
                by_severity.add(i.severity);
                let unacked_until = i.acknowledged_at.or(i.resolved_at).unwrap_or(self.now);
                if unacked_until - i.detected_at > ack_sla_ms(i.severity) {
                    breaches.add(i.severity);
                }
                if self.is_recurring(*id, i) {
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

    /// Time to restore (mitigated, else resolved, minus started) above the
    /// RTO of any impacted service that has one (an RTO of 0 means none).
    fn breached_rto(&self, i: &IncidentFact, resolved: i64) -> bool {
        let restore = i.mitigated_at.unwrap_or(resolved) - i.started_at;
        i.services.iter().any(|s| {
            self.models
                .services
                .get(*s)
                .map(|v| v.profile.rto_secs)
                .filter(|rto| *rto > 0)
                .is_some_and(|rto| restore > (rto as i64).saturating_mul(1000))
        })
    }

    fn is_recurring(&self, id: IncidentId, i: &IncidentFact) -> bool {
        let Some(key) = &i.fingerprint else {
            return false;
        };
        let since = i.detected_at - RECURRENCE_WINDOW_MS;
        let Some(list) = self.resolutions.get(key) else {
            return false;
        };
        let start = list.partition_point(|(r, _)| *r < since);
        list[start..]
            .iter()
            .take_while(|(r, _)| *r < i.detected_at)
            .any(|(_, other)| *other != id)
    }

    fn alert_figures(&self, from: i64, to: i64, f: &mut KpiFigures) {
        for a in &self.models.kpi.alerts {
            if !within(a.at, from, to) || !self.scope.contains(&a.service) {
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
        for c in self.models.kpi.changes.values() {
            let Some((outcome, at)) = c.outcome else {
                continue;
            };
            if !within(at, from, to) || !self.scope.any(&c.services) {
                continue;
            }
            match outcome {
                ChangeOutcome::Completed => {
                    f.changes_completed += 1;
                    if c.caused_incidents > 0 {
                        f.changes_causing_incidents += 1;
                    }
                }
                ChangeOutcome::Failed => f.changes_failed += 1,
                ChangeOutcome::RolledBack => f.changes_rolled_back += 1,
            }
            if c.category == ChangeCategory::Patch {
                for s in c.services.iter().filter(|s| self.scope.contains(s)) {
                    let entry = patches.entry(*s).or_default();
                    entry.1 += 1;
                    if outcome == ChangeOutcome::Completed {
                        entry.0 += 1;
                    }
                }
            }
        }
        let finished = f.changes_completed + f.changes_failed + f.changes_rolled_back;
        f.change_success_rate = ratio(f.changes_completed, finished);
        f.change_failure_rate = ratio(f.changes_causing_incidents, f.changes_completed);
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

    fn action_item_figures(&self, _from: i64, to: i64, f: &mut KpiFigures) {
        let at = Timestamp(to.min(self.now));
        for item in self.models.reviews.action_items() {
            let in_scope = self.scope.0.is_none()
                || self
                    .models
                    .kpi
                    .incidents
                    .get(&item.incident)
                    .is_some_and(|i| self.scope.any(&i.services));
            if !in_scope || !item.open_at(at) {
                continue;
            }
            f.action_items_open += 1;
            if item.overdue_at(at) {
                f.action_items_overdue += 1;
            }
        }
    }

    fn availability(&self, from: i64, to: i64) -> Vec<ServiceAvailability> {
        let mut periods: BTreeMap<(ServiceId, ImpactLevel), Vec<Interval>> = BTreeMap::new();
        for (_, i) in self.models.kpi.incidents.iter() {
            for s in &i.segments {
                if self.scope.contains(&s.service) {
                    let end = s.to.unwrap_or(self.now.max(s.from));
                    periods
                        .entry((s.service, s.level))
                        .or_default()
                        .push((s.from, end));
                }
            }
        }
        let window_ms = to - from;
        let union = |service: ServiceId, level: ImpactLevel| {
            periods
                .get(&(service, level))
                .map_or(0, |p| union_length_within(p, (from, to)))
        };
        let mut out: Vec<ServiceAvailability> = self
            .models
            .services
            .all()
            .filter(|s| !s.retired && self.scope.contains(&s.id))
            .map(|s| {
                let major = union(s.id, ImpactLevel::MajorOutage);
                let slo = s.profile.slo_target;
                let budget_ms = window_ms as f64 * f64::from(SloTarget::FULL.saturating_sub(slo.0))
                    / f64::from(SloTarget::FULL);
                let remaining_ms = budget_ms - major as f64;
                ServiceAvailability {
                    service: s.id,
                    name: s.profile.name.clone(),
                    availability: 1.0 - major as f64 / window_ms as f64,
                    major_outage_seconds: seconds(major),
                    partial_outage_seconds: seconds(union(s.id, ImpactLevel::PartialOutage)),
                    degraded_seconds: seconds(union(s.id, ImpactLevel::Degraded)),
                    slo_target_percent: slo.as_percent(),
                    error_budget_seconds: budget_ms / 1000.0,
                    error_budget_remaining_seconds: remaining_ms / 1000.0,
                    error_budget_remaining_ratio: (budget_ms > 0.0)
                        .then(|| remaining_ms / budget_ms),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.service.cmp(&b.service)));
        out
    }
}
