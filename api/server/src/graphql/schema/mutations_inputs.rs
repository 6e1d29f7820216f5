//! GraphQL inputs of the mutations and their conversion into domain values
//! (a failed conversion is a VALIDATION error naming the field).

use super::bounded_input::{check_count, CommandText};
use super::types::{parse_id, ChangeCategory, ChangeType, FactorCategory, ImpactLevel, Severity};
use crate::error::ApiError;
use crate::graphql::scalars::DateTime;
use async_graphql::{Enum, InputObject, ID};
use opsledger_domain::incident::ServiceImpact;
use opsledger_domain::review::{ContributingFactor, SectionContent};
use opsledger_domain::service::{
    EscalationLevel, EscalationPolicy, ServiceProfile, SloTarget, Tier,
};
use opsledger_domain::text::{Description, Name, Note, Person, SectionText, Team, Url};
use opsledger_domain::{ServiceId, TimeWindow};

/// The most escalation levels of one policy.
pub const MAX_ESCALATION_LEVELS: usize = 20;
/// The most ids in one list (dependencies, impacted or changed services, freeze scope).
pub const MAX_IDS: usize = 100;
/// The most validation steps of a change, results in one call, or contributing factors.
pub const MAX_STEPS: usize = 50;

/// Parses a list of ids, naming `field[i]` on failure.
pub fn parse_ids<T: std::str::FromStr>(field: &str, ids: &[ID]) -> Result<Vec<T>, ApiError> {
    check_count(field, ids.len(), MAX_IDS)?;
    ids.iter()
        .enumerate()
        .map(|(i, id)| parse_id(&format!("{field}[{i}]"), id))
        .collect()
}

/// One level of an escalation policy.
#[derive(InputObject, Clone, Debug)]
pub struct EscalationLevelInput {
    /// Who is paged.
    pub target: String,
    /// Seconds to acknowledge before the next level is paged.
    pub ack_timeout_secs: u32,
}

/// A service's whole profile (register and update replace it as a whole).
#[derive(InputObject, Clone, Debug)]
pub struct ServiceInput {
    /// Unique name.
    pub name: String,
    /// Owning team.
    pub owner_team: String,
    /// Tier 1 (most critical) to 3.
    pub tier: i32,
    /// Description.
    #[graphql(default)]
    pub description: String,
    /// Runbook URL.
    pub runbook_url: Option<String>,
    /// Ids of the services it depends on.
    #[graphql(default)]
    pub dependencies: Vec<ID>,
    /// Availability objective in percent (e.g. 99.9).
    pub slo_target_percent: f64,
    /// Recovery time objective, seconds.
    #[graphql(default)]
    pub rto_secs: u64,
    /// Recovery point objective, seconds.
    #[graphql(default)]
    pub rpo_secs: u64,
    /// Escalation levels, level 0 first.
    #[graphql(default)]
    pub escalation_policy: Vec<EscalationLevelInput>,
}

impl TryFrom<ServiceInput> for ServiceProfile {
    type Error = ApiError;

    fn try_from(input: ServiceInput) -> Result<Self, ApiError> {
        let tier = u8::try_from(input.tier)
            .ok()
            .and_then(Tier::new)
            .ok_or_else(|| ApiError::validation("input.tier", "must be 1, 2 or 3"))?;
        let slo_target = SloTarget::from_percent(input.slo_target_percent).ok_or_else(|| {
            ApiError::validation("input.sloTargetPercent", "must be a percentage in (0, 100]")
        })?;
        let mut text = CommandText::new();
        check_count(
            "input.escalationPolicy",
            input.escalation_policy.len(),
            MAX_ESCALATION_LEVELS,
        )?;
        let levels = input
            .escalation_policy
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                Ok(EscalationLevel {
                    target: text.string::<Person>(
                        &format!("input.escalationPolicy[{i}].target"),
                        l.target,
                    )?,
                    ack_timeout_secs: l.ack_timeout_secs,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(ServiceProfile {
            name: text.string::<Name>("input.name", input.name)?,
            owner_team: text.string::<Team>("input.ownerTeam", input.owner_team)?,
            tier,
            description: text.string::<Description>("input.description", input.description)?,
            runbook_url: text.optional::<Url>("input.runbookUrl", input.runbook_url)?,
            dependencies: parse_ids::<ServiceId>("input.dependencies", &input.dependencies)?,
            slo_target,
            rto_secs: input.rto_secs,
            rpo_secs: input.rpo_secs,
            escalation_policy: EscalationPolicy { levels },
        })
    }
}

/// A half-open window `[start, end)`.
#[derive(InputObject, Clone, Copy, Debug)]
#[graphql(name = "TimeWindowInput")]
pub struct TimeWindowInput {
    /// Start (inclusive).
    pub start: DateTime,
    /// End (exclusive).
    pub end: DateTime,
}

impl From<TimeWindowInput> for TimeWindow {
    fn from(w: TimeWindowInput) -> Self {
        TimeWindow::new(w.start.0, w.end.0)
    }
}

/// An impacted service and how badly.
#[derive(InputObject, Clone, Debug)]
pub struct ImpactInput {
    /// The service id.
    pub service: ID,
    /// The impact level.
    pub level: ImpactLevel,
}

/// Converts impact inputs, naming `field[i].service` on a bad id.
pub fn parse_impacts(field: &str, impacts: &[ImpactInput]) -> Result<Vec<ServiceImpact>, ApiError> {
    check_count(field, impacts.len(), MAX_IDS)?;
    impacts
        .iter()
        .enumerate()
        .map(|(i, impact)| {
            Ok(ServiceImpact {
                service: parse_id(&format!("{field}[{i}].service"), &impact.service)?,
                level: impact.level.into(),
            })
        })
        .collect()
}

/// A manual incident declaration.
#[derive(InputObject, Clone, Debug)]
pub struct DeclareIncidentInput {
    /// Title.
    pub title: String,
    /// Description.
    #[graphql(default)]
    pub description: String,
    /// Severity (derived from tiers and impacts when absent).
    pub severity: Option<Severity>,
    /// Impacted services; the first is the primary one.
    pub impacts: Vec<ImpactInput>,
    /// Impact start (default: detection).
    pub started_at: Option<DateTime>,
    /// Detection (default: now).
    pub detected_at: Option<DateTime>,
}

/// An incident stage reached by `advanceIncident`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::incident::Stage")]
pub enum IncidentStage {
    /// Investigating.
    Investigating,
    /// Cause identified.
    Identified,
    /// Mitigated, monitoring.
    Monitoring,
}

/// An alert label.
#[derive(InputObject, Clone, Debug)]
pub struct LabelInput {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// One alert for `ingestAlert`.
#[derive(InputObject, Clone, Debug)]
pub struct AlertInputGql {
    /// The service id (or give `serviceName`).
    pub service: Option<ID>,
    /// The service name (or give `service`).
    pub service_name: Option<String>,
    /// Dedup key / fingerprint.
    pub dedup_key: String,
    /// The source system.
    #[graphql(default_with = "String::from(\"api\")")]
    pub source: String,
    /// One-line summary.
    pub summary: String,
    /// Suggested severity.
    pub severity_hint: Option<Severity>,
    /// Labels.
    #[graphql(default)]
    pub labels: Vec<LabelInput>,
    /// Firing (default) or resolved.
    #[graphql(default = true)]
    pub firing: bool,
    /// Impact if it opens an incident (default PARTIAL_OUTAGE).
    pub impact: Option<ImpactLevel>,
    /// When the source says it started.
    pub started_at: Option<DateTime>,
}

/// A change request.
#[derive(InputObject, Clone, Debug)]
pub struct RequestChangeInput {
    /// Standard, normal or emergency.
    pub change_type: ChangeType,
    /// Category.
    pub category: ChangeCategory,
    /// Title.
    pub title: String,
    /// Description.
    #[graphql(default)]
    pub description: String,
    /// Service ids.
    pub services: Vec<ID>,
    /// Planned window.
    pub window: TimeWindowInput,
    /// Implementation plan.
    pub implementation_plan: String,
    /// Rollback plan.
    pub rollback_plan: String,
    /// Validation steps.
    #[graphql(default)]
    pub validation_steps: Vec<String>,
}

/// The result of one validation step.
#[derive(InputObject, Clone, Debug)]
pub struct ValidationResultInput {
    /// The step.
    pub step: String,
    /// Whether it passed.
    pub passed: bool,
    /// Notes.
    #[graphql(default)]
    pub notes: String,
}

/// A freeze window.
#[derive(InputObject, Clone, Debug)]
pub struct CreateFreezeInput {
    /// The blackout period.
    pub window: TimeWindowInput,
    /// The frozen services; absent = a global freeze.
    pub services: Option<Vec<ID>>,
    /// Why.
    pub reason: String,
}

/// Which review section `editReviewSection` writes.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewSectionKind {
    /// Summary.
    Summary,
    /// Customer impact.
    CustomerImpact,
    /// Root cause.
    RootCause,
    /// Contributing factors (give `factors`).
    ContributingFactors,
    /// What went well.
    WhatWentWell,
    /// Lessons learned.
    LessonsLearned,
}

/// A contributing factor.
#[derive(InputObject, Clone, Debug)]
pub struct ContributingFactorInput {
    /// Category.
    pub category: FactorCategory,
    /// Description.
    pub description: String,
}

/// The content of one section: `text` for text sections, `factors` for contributing factors.
pub fn section_content(
    section: ReviewSectionKind,
    text: Option<String>,
    factors: Option<Vec<ContributingFactorInput>>,
) -> Result<SectionContent, ApiError> {
    let mut budget = CommandText::new();
    if section == ReviewSectionKind::ContributingFactors {
        let factors = factors
            .ok_or_else(|| ApiError::validation("factors", "required for CONTRIBUTING_FACTORS"))?;
        check_count("factors", factors.len(), MAX_STEPS)?;
        return Ok(SectionContent::ContributingFactors(
            factors
                .into_iter()
                .enumerate()
                .map(|(i, f)| {
                    Ok(ContributingFactor {
                        category: f.category.into(),
                        description: budget
                            .string::<Note>(&format!("factors[{i}].description"), f.description)?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
        ));
    }
    let text = text.ok_or_else(|| ApiError::validation("text", "required for this section"))?;
    let text = budget.string::<SectionText>("text", text)?;
    Ok(match section {
        ReviewSectionKind::Summary => SectionContent::Summary(text),
        ReviewSectionKind::CustomerImpact => SectionContent::CustomerImpact(text),
        ReviewSectionKind::RootCause => SectionContent::RootCause(text),
        ReviewSectionKind::WhatWentWell => SectionContent::WhatWentWell(text),
        ReviewSectionKind::LessonsLearned => SectionContent::LessonsLearned(text),
        ReviewSectionKind::ContributingFactors => SectionContent::ContributingFactors(Vec::new()),
    })
}
