//! The `kpis` query: every figure of the projections' KPI report (SPEC 2.6)
//! for a bounded window, globally or for one service or team, optionally in
//! day or week buckets; and `kpiContributors`, the drill-down of a figure to
//! the incidents, changes, alerts, impact periods or action items (with the
//! instants and log positions) that produced it. Durations are seconds;
//! rates are null when 0/0.
//!
//! The KPI facts are cloned under the read models' lock (a few reference
//! counts) and the computation runs on a blocking thread outside it, so a
//! KPI query never holds up a write or the async workers.

use super::connection::{page_request, to_connection, CursorConnection};
use super::types::{dt, gid, now, parse_id, ChangeCategory, Severity};
use crate::app::Operation;
use crate::auth::authorize;
use crate::error::ApiError;
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use opsledger_projections::bucket::BucketSize;
use opsledger_projections::kpi::{
    kpi_contributors, Contributor, KpiFigures, KpiMetric as MetricView, KpiWindow, KpiWindowError,
    PatchDiscipline as PatchView, ScopeError, ServiceAvailability as AvailabilityView,
    SeverityCounts as CountsView, DEFINITIONS_VERSION,
};
use opsledger_projections::models::kpi_facts::KpiFacts;
use opsledger_projections::pagination::paginate;
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

/// Availability and error budget of one service over the part of the window
/// in which it existed (registration to retirement) and, for a team, was
/// owned by the team.
#[derive(SimpleObject, Clone, Debug)]
pub struct ServiceAvailability {
    /// The service's id.
    pub service_id: ID,
    /// Its current name.
    pub name: String,
    /// Whether it is retired now (it is still reported for the windows it existed in).
    pub retired: bool,
    /// The measured part of the window, seconds.
    pub measured_seconds: f64,
    /// `1 - majorOutageSeconds / measuredSeconds`.
    pub availability: f64,
    /// Major outage, seconds.
    pub major_outage_seconds: f64,
    /// Partial outage, seconds.
    pub partial_outage_seconds: f64,
    /// Degraded, seconds.
    pub degraded_seconds: f64,
    /// SLO target in force at the end of the measured part, percent.
    pub slo_target_percent: f64,
    /// Downtime allowed over the measured part by the SLO in force at each moment, seconds.
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
            retired: a.retired,
            measured_seconds: a.measured_seconds,
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

/// Every KPI figure of one window (definitions version 2: README "KPI definitions").
#[derive(SimpleObject, Clone, Debug)]
pub struct Kpis {
    /// Window start.
    pub from: DateTime,
    /// Window end (exclusive).
    pub to: DateTime,
    /// Incidents whose latest resolution is in the window (the MTTx population).
    pub incidents_resolved: u64,
    /// Time to detect: detected - started.
    pub mttd: Summary,
    /// Time to acknowledge: first acknowledgement - detected (acknowledged incidents).
    pub mtta: Summary,
    /// Time to resolve: latest resolution - detected.
    pub mttr: Summary,
    /// Incidents declared in the window by declared severity.
    pub incidents_by_severity: SeverityCounts,
    /// Firing alerts received.
    pub alerts_received: u64,
    /// Alerts attached to an already open incident.
    pub alerts_suppressed: u64,
    /// Incidents opened by alerts.
    pub incidents_opened_from_alerts: u64,
    /// `1 - incidentsOpenedFromAlerts / alertsReceived`.
    pub noise_reduction_ratio: Option<f64>,
    /// Availability per service in scope that existed in the window (retired ones included).
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
    /// `changesCausingIncidents / changesCompleted` (the change failure rate of definitions version 1).
    pub completed_change_incident_rate: Option<f64>,
    /// Failed changes (DORA): failed, rolled back, or completed and named as an incident's cause.
    pub failed_changes: u64,
    /// Change failure rate (DORA): `failedChanges / (completed + failed + rolled back)`.
    pub change_failure_rate: Option<f64>,
    /// Incidents declared in the window whose fingerprint matches an incident first resolved in the 30 days before.
    pub recurring_incidents: u64,
    /// Incidents declared in the window unacknowledged past their SLA (detection to the first of
    /// first acknowledgement, first resolution, now), by declared severity.
    pub ack_sla_breaches: SeverityCounts,
    /// Incidents resolved in the window that were SEV1/SEV2 when resolved.
    pub reviews_required: u64,
    /// Of those, with a published review.
    pub reviews_published: u64,
    /// `reviewsPublished / reviewsRequired`.
    pub review_completion_rate: Option<f64>,
    /// Action items open at min(to, now).
    pub action_items_open: u64,
    /// Of those, past due.
    pub action_items_overdue: u64,
    /// Incidents resolved in the window whose time to restore exceeded an impacted service's RTO (at incident time).
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
            completed_change_incident_rate: f.completed_change_incident_rate,
            failed_changes: f.failed_changes,
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
    /// The version of the KPI definitions the figures follow (README changelog).
    pub definitions_version: u32,
    /// Figures over the whole window.
    pub totals: Kpis,
    /// Figures per bucket (empty without `bucket`).
    pub buckets: Vec<Kpis>,
}

/// The figure (or family of figures) `kpiContributors` drills into.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_projections::kpi::KpiMetric")]
pub enum KpiMetric {
    /// `mttd`: incidents resolved in the window; seconds = detected - started.
    Mttd,
    /// `mtta`: acknowledged incidents resolved in the window; seconds = acknowledged - detected.
    Mtta,
    /// `mttr`: incidents resolved in the window; seconds = resolved - detected.
    Mttr,
    /// `incidentsBySeverity`: incidents declared in the window, with their declared severity.
    IncidentsDeclared,
    /// `ackSlaBreaches`: incidents declared in the window; counted = breached, seconds = unacknowledged time.
    AckSla,
    /// `recurringIncidents`: incidents declared in the window; counted = recurring.
    RecurringIncidents,
    /// `rtoBreaches`: incidents resolved in the window; counted = breached, seconds = time to restore.
    RtoBreaches,
    /// `reviewsRequired` / `reviewsPublished`: SEV1/SEV2 resolutions; counted = review published.
    Reviews,
    /// Change figures and `patchDiscipline`: changes ended in the window; counted = failed (DORA).
    Changes,
    /// Alert figures: alert events in the window; label = RECEIVED, SUPPRESSED or OPENED_INCIDENT.
    Alerts,
    /// `availability`: impact periods in the measured window; counted = major outage, seconds = overlap.
    Availability,
    /// `actionItemsOpen` / `actionItemsOverdue`: items open at min(to, now); counted = overdue.
    ActionItems,
}

/// An instant a figure used, with the log position of the event that recorded it.
#[derive(SimpleObject, Clone, Debug)]
pub struct KpiInstant {
    /// What it is (`detectedAt`, `acknowledgedAt`, `resolvedAt`, `endedAt`, ...).
    pub name: String,
    /// When.
    pub at: DateTime,
    /// The log position of the event (read it with `events` or the audit queries).
    pub position: u64,
}

/// One member of a figure's population.
#[derive(SimpleObject, Clone, Debug)]
pub struct KpiContributor {
    /// The incident, when it is about one.
    pub incident_id: Option<ID>,
    /// The change, when it is about one.
    pub change_id: Option<ID>,
    /// The action item, when it is about one.
    pub action_item_id: Option<ID>,
    /// The services involved (impacted, touched, alerted).
    pub service_ids: Vec<ID>,
    /// Other incidents involved: the earlier incident of a recurring one, the incidents a change caused.
    pub related_incident_ids: Vec<ID>,
    /// The severity the rule used.
    pub severity: Option<Severity>,
    /// The change's category.
    pub category: Option<ChangeCategory>,
    /// A kind: change outcome, alert kind or impact level.
    pub label: Option<String>,
    /// Whether it counts in the figure's numerator or count.
    pub counted: bool,
    /// The duration it adds, seconds.
    pub seconds: Option<f64>,
    /// The limit it was held against (ack SLA, RTO), seconds.
    pub threshold_seconds: Option<f64>,
    /// The instants used, with their events.
    pub instants: Vec<KpiInstant>,
}

impl From<Contributor> for KpiContributor {
    fn from(c: Contributor) -> Self {
        KpiContributor {
            incident_id: c.incident.map(gid),
            change_id: c.change.map(gid),
            action_item_id: c.action_item.map(gid),
            service_ids: c.services.into_iter().map(gid).collect(),
            related_incident_ids: c.related_incidents.into_iter().map(gid).collect(),
            severity: c.severity.map(Into::into),
            category: c.category.map(Into::into),
            label: c.label.map(str::to_owned),
            counted: c.counted,
            seconds: c.seconds,
            threshold_seconds: c.threshold_seconds,
            instants: c
                .instants
                .into_iter()
                .map(|i| KpiInstant {
                    name: i.name.to_owned(),
                    at: dt(opsledger_domain::Timestamp(i.at)),
                    position: i.position,
                })
                .collect(),
        }
    }
}

/// A page of the population behind a KPI figure.
#[derive(SimpleObject)]
pub struct KpiContributors {
    /// The version of the KPI definitions the population follows.
    pub definitions_version: u32,
    /// The metric drilled into.
    pub metric: KpiMetric,
    /// The population, by primary instant (resolution, declaration, end, ...).
    pub contributors: CursorConnection<KpiContributor>,
}

/// The KPI queries.
#[derive(Default)]
pub struct KpiQueryRoot;

#[Object]
impl KpiQueryRoot {
    /// KPIs over [from, to), globally or for one `serviceId` or `team` (not both),
    /// optionally bucketed by DAY or WEEK (role viewer). The window spans at most
    /// 3653 days and 400 buckets (LIMIT); an unknown service or team is NOT_FOUND.
    async fn kpis(
        &self,
        ctx: &Context<'_>,
        from: DateTime,
        to: DateTime,
        service_id: Option<ID>,
        team: Option<String>,
        bucket: Option<KpiBucketSize>,
    ) -> async_graphql::Result<KpiReport> {
        authorize(ctx, Operation::Read)?;
        let query = kpi_query(from, to, service_id, team, bucket.map(BucketSize::from))?;
        let facts = facts_snapshot(ctx)?;
        let report = off_the_runtime(move || kpi_report(&facts, &query))
            .await?
            .map_err(scope_error)?;
        Ok(KpiReport {
            definitions_version: report.definitions_version,
            totals: report.totals.into(),
            buckets: report
                .buckets
                .into_iter()
                .map(|b| b.figures.into())
                .collect(),
        })
    }

    /// The population behind a KPI figure over [from, to) in the same scope as
    /// `kpis` (role viewer; same bounds and errors), with the instants and log
    /// positions each member was measured at, paginated (`first` 1..=100).
    #[allow(clippy::too_many_arguments)]
    async fn kpi_contributors(
        &self,
        ctx: &Context<'_>,
        metric: KpiMetric,
        from: DateTime,
        to: DateTime,
        service_id: Option<ID>,
        team: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<KpiContributors> {
        authorize(ctx, Operation::Read)?;
        let query = kpi_query(from, to, service_id, team, None)?;
        let facts = facts_snapshot(ctx)?;
        let request = page_request(first, after);
        let page = off_the_runtime(move || {
            let all = kpi_contributors(&facts, &query, MetricView::from(metric))?;
            paginate(all, |c| c.key, false, &request).map_err(|_| ContributorsError::Cursor)
        })
        .await?
        .map_err(|e| match e {
            ContributorsError::Scope(e) => scope_error(e),
            ContributorsError::Cursor => ApiError::validation("after", "not a cursor of this list"),
        })?;
        Ok(KpiContributors {
            definitions_version: DEFINITIONS_VERSION,
            metric,
            contributors: to_connection(page, KpiContributor::from),
        })
    }
}

enum ContributorsError {
    Scope(ScopeError),
    Cursor,
}

impl From<ScopeError> for ContributorsError {
    fn from(e: ScopeError) -> Self {
        ContributorsError::Scope(e)
    }
}

/// The question of the arguments: a bounded window (VALIDATION, LIMIT) and a scope.
fn kpi_query(
    from: DateTime,
    to: DateTime,
    service_id: Option<ID>,
    team: Option<String>,
    bucket: Option<BucketSize>,
) -> Result<KpiQuery, ApiError> {
    let scope = match (service_id, team) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "team",
                "give serviceId or team, not both",
            ))
        }
        (Some(id), None) => KpiScope::Service(parse_id("serviceId", &id)?),
        (None, Some(team)) => KpiScope::Team(team),
        (None, None) => KpiScope::Global,
    };
    let window = KpiWindow::new(from.0, to.0, bucket).map_err(|e| match e {
        KpiWindowError::Empty => ApiError::validation("to", "must be after from"),
        KpiWindowError::TooLong { .. } => ApiError::limit(format!("to: {e}")),
        KpiWindowError::TooManyBuckets { .. } => ApiError::limit(format!("bucket: {e}")),
    })?;
    Ok(KpiQuery {
        window,
        scope,
        now: now(),
    })
}

/// The KPI facts as they are now: shared collections, so the read lock is
/// held for a few reference counts, never for the computation.
fn facts_snapshot(ctx: &Context<'_>) -> Result<KpiFacts, ApiError> {
    Ok(super::types::projections(ctx)?.read(|m| m.kpi.clone()))
}

/// Runs a CPU-bound KPI computation on a blocking thread.
async fn off_the_runtime<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)
}

fn scope_error(e: ScopeError) -> ApiError {
    match e {
        ScopeError::UnknownService(id) => ApiError::NotFound {
            what: "service",
            id: id.to_string(),
        },
        ScopeError::UnknownTeam(team) => ApiError::NotFound {
            what: "team",
            id: team,
        },
    }
}
