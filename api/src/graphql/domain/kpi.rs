//! The `kpis` query: every figure of the projections' KPI report (SPEC 2.6)
//! for a window, globally or for one service or team, optionally in day or
//! week buckets. Durations are seconds; rates are null when 0/0.

use super::connection::list_error;
use super::types::{dt, gid, now, parse_id};
use crate::auth::require_role;
use crate::error::ApiError;
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use opsledger_domain::Role;
use opsledger_projections::bucket::BucketSize;
use opsledger_projections::kpi::{
    KpiFigures, PatchDiscipline as PatchView, ServiceAvailability as AvailabilityView,
    SeverityCounts as CountsView,
};
use opsledger_projections::stats::Summary as SummaryView;
use opsledger_projections::{kpi_report, KpiQuery, KpiScope};

/// Bucket size of a KPI report.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(
    name = "KpiBucketSize",
    remote = "opsledger_projections::bucket::BucketSize"
)]
pub enum KpiBucketSize {
    /// Calendar days (00:00 UTC).
    Day,
    /// ISO weeks (Monday 00:00 UTC).
    Week,
}

/// A duration sample summary in seconds.
#[derive(SimpleObject, Clone, Copy, Debug)]
#[graphql(name = "DurationSummary")]
pub struct Summary {
    /// Sample size.
    pub count: u64,
    /// Mean, seconds.
    pub mean: Option<f64>,
    /// Median, seconds.
    pub median: Option<f64>,
    /// 90th percentile (nearest rank), seconds.
    pub p90: Option<f64>,
}

impl From<SummaryView> for Summary {
    fn from(s: SummaryView) -> Self {
        Summary {
            count: s.count,
            mean: s.mean,
            median: s.median,
            p90: s.p90,
        }
    }
}

/// A count per severity.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct SeverityCounts {
    /// SEV1.
    pub sev1: u64,
    /// SEV2.
    pub sev2: u64,
    /// SEV3.
    pub sev3: u64,
    /// SEV4.
    pub sev4: u64,
    /// All severities.
    pub total: u64,
}

impl From<CountsView> for SeverityCounts {
    fn from(c: CountsView) -> Self {
        SeverityCounts {
            sev1: c.sev1,
            sev2: c.sev2,
            sev3: c.sev3,
            sev4: c.sev4,
            total: c.total(),
        }
    }
}

/// Availability and error budget of one service over the window.
#[derive(SimpleObject, Clone, Debug)]
pub struct ServiceAvailability {
    /// The service's id.
    pub service_id: ID,
    /// Its name.
    pub name: String,
    /// `1 - major outage / window`.
    pub availability: f64,
    /// Major outage, seconds.
    pub major_outage_seconds: f64,
    /// Partial outage, seconds.
    pub partial_outage_seconds: f64,
    /// Degraded, seconds.
    pub degraded_seconds: f64,
    /// SLO target, percent.
    pub slo_target_percent: f64,
    /// Downtime allowed over the window, seconds.
    pub error_budget_seconds: f64,
    /// Allowed minus actual downtime, seconds (negative when blown).
    pub error_budget_remaining_seconds: f64,
    /// Remaining budget as a fraction of the budget.
    pub error_budget_remaining_ratio: Option<f64>,
}

impl From<AvailabilityView> for ServiceAvailability {
    fn from(a: AvailabilityView) -> Self {
        ServiceAvailability {
            service_id: gid(a.service),
            name: a.name,
            availability: a.availability,
            major_outage_seconds: a.major_outage_seconds,
            partial_outage_seconds: a.partial_outage_seconds,
            degraded_seconds: a.degraded_seconds,
            slo_target_percent: a.slo_target_percent,
            error_budget_seconds: a.error_budget_seconds,
            error_budget_remaining_seconds: a.error_budget_remaining_seconds,
            error_budget_remaining_ratio: a.error_budget_remaining_ratio,
        }
    }
}

/// Patch changes of one service.
#[derive(SimpleObject, Clone, Debug)]
pub struct PatchDiscipline {
    /// The service's id.
    pub service_id: ID,
    /// Patch changes completed in the window.
    pub completed: u64,
    /// Patch changes that ended in the window.
    pub finished: u64,
    /// `completed / finished`.
    pub success_rate: Option<f64>,
}

impl From<PatchView> for PatchDiscipline {
    fn from(p: PatchView) -> Self {
        PatchDiscipline {
            service_id: gid(p.service),
            completed: p.completed,
            finished: p.finished,
            success_rate: p.success_rate,
        }
    }
}

/// Every KPI figure of one window (definitions: SPEC 2.6 and the README).
#[derive(SimpleObject, Clone, Debug)]
pub struct Kpis {
    /// Window start.
    pub from: DateTime,
    /// Window end (exclusive).
    pub to: DateTime,
    /// Incidents resolved in the window (the MTTx population).
    pub incidents_resolved: u64,
    /// Time to detect: detected - started.
    pub mttd: Summary,
    /// Time to acknowledge: acknowledged - detected.
    pub mtta: Summary,
    /// Time to resolve: resolved - detected.
    pub mttr: Summary,
    /// Incidents declared in the window by current severity.
    pub incidents_by_severity: SeverityCounts,
    /// Firing alerts received.
    pub alerts_received: u64,
    /// Alerts attached to an already open incident.
    pub alerts_suppressed: u64,
    /// Incidents opened by alerts.
    pub incidents_opened_from_alerts: u64,
    /// `1 - incidentsOpenedFromAlerts / alertsReceived`.
    pub noise_reduction_ratio: Option<f64>,
    /// Availability per service in scope.
    pub availability: Vec<ServiceAvailability>,
    /// Changes completed.
    pub changes_completed: u64,
    /// Changes failed.
    pub changes_failed: u64,
    /// Changes rolled back.
    pub changes_rolled_back: u64,
    /// `completed / (completed + failed + rolled back)`.
    pub change_success_rate: Option<f64>,
    /// Completed changes named as an incident's cause.
    pub changes_causing_incidents: u64,
    /// `changesCausingIncidents / changesCompleted`.
    pub change_failure_rate: Option<f64>,
    /// Recurring incidents.
    pub recurring_incidents: u64,
    /// Acknowledge-SLA breaches by severity.
    pub ack_sla_breaches: SeverityCounts,
    /// SEV1/SEV2 incidents resolved in the window.
    pub reviews_required: u64,
    /// Of those, with a published review.
    pub reviews_published: u64,
    /// `reviewsPublished / reviewsRequired`.
    pub review_completion_rate: Option<f64>,
    /// Action items open at min(to, now).
    pub action_items_open: u64,
    /// Of those, past due.
    pub action_items_overdue: u64,
    /// Incidents whose time to restore exceeded an impacted service's RTO.
    pub rto_breaches: u64,
    /// Patch changes per service.
    pub patch_discipline: Vec<PatchDiscipline>,
}

impl From<KpiFigures> for Kpis {
    fn from(f: KpiFigures) -> Self {
        Kpis {
            from: dt(f.from),
            to: dt(f.to),
            incidents_resolved: f.incidents_resolved,
            mttd: f.mttd.into(),
            mtta: f.mtta.into(),
            mttr: f.mttr.into(),
            incidents_by_severity: f.incidents_by_severity.into(),
            alerts_received: f.alerts_received,
            alerts_suppressed: f.alerts_suppressed,
            incidents_opened_from_alerts: f.incidents_opened_from_alerts,
            noise_reduction_ratio: f.noise_reduction_ratio,
            availability: f.availability.into_iter().map(Into::into).collect(),
            changes_completed: f.changes_completed,
            changes_failed: f.changes_failed,
            changes_rolled_back: f.changes_rolled_back,
            change_success_rate: f.change_success_rate,
            changes_causing_incidents: f.changes_causing_incidents,
            change_failure_rate: f.change_failure_rate,
            recurring_incidents: f.recurring_incidents,
            ack_sla_breaches: f.ack_sla_breaches.into(),
            reviews_required: f.reviews_required,
            reviews_published: f.reviews_published,
            review_completion_rate: f.review_completion_rate,
            action_items_open: f.action_items_open,
            action_items_overdue: f.action_items_overdue,
            rto_breaches: f.rto_breaches,
            patch_discipline: f.patch_discipline.into_iter().map(Into::into).collect(),
        }
    }
}

/// A KPI report: totals over the window and optional buckets.
#[derive(SimpleObject, Clone, Debug)]
pub struct KpiReport {
    /// Figures over the whole window.
    pub totals: Kpis,
    /// Figures per bucket (empty without `bucket`).
    pub buckets: Vec<Kpis>,
}

/// The KPI query.
#[derive(Default)]
pub struct KpiQueryRoot;

#[Object]
impl KpiQueryRoot {
    /// KPIs over [from, to), globally or for one `serviceId` or `team` (not both),
    /// optionally bucketed by DAY or WEEK (role viewer).
    async fn kpis(
        &self,
        ctx: &Context<'_>,
        from: DateTime,
        to: DateTime,
        service_id: Option<ID>,
        team: Option<String>,
        bucket: Option<KpiBucketSize>,
    ) -> async_graphql::Result<KpiReport> {
        require_role(ctx, Role::Viewer)?;
        let scope = match (service_id, team) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation("team", "give serviceId or team, not both").into())
            }
            (Some(id), None) => KpiScope::Service(parse_id("serviceId", &id)?),
            (None, Some(team)) => KpiScope::Team(team),
            (None, None) => KpiScope::Global,
        };
        if to <= from {
            return Err(ApiError::validation("to", "must be after from").into());
        }
        let query = KpiQuery {
            from: from.0,
            to: to.0,
            scope,
            bucket: bucket.map(BucketSize::from),
            now: now(),
        };
        let report = super::types::projections(ctx)?
            .read(|m| kpi_report(m, &query))
            .map_err(list_error)?;
        Ok(KpiReport {
            totals: report.totals.into(),
            buckets: report
                .buckets
                .into_iter()
                .map(|b| b.figures.into())
                .collect(),
        })
    }
}
