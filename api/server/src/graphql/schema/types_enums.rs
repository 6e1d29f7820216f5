//! GraphQL enums mirroring the domain's and the projections' enums
//! (`remote` derives give `From` both ways, so resolvers convert with `.into()`).

use async_graphql::Enum;

/// Incident severity, SEV1 worst.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::incident::Severity")]
pub enum Severity {
    /// Critical.
    #[graphql(name = "SEV1")]
    Sev1,
    /// High.
    #[graphql(name = "SEV2")]
    Sev2,
    /// Medium.
    #[graphql(name = "SEV3")]
    Sev3,
    /// Low.
    #[graphql(name = "SEV4")]
    Sev4,
}

/// How badly an incident hurts one service.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::incident::ImpactLevel")]
pub enum ImpactLevel {
    /// Degraded performance.
    Degraded,
    /// Partial outage.
    PartialOutage,
    /// Major outage.
    MajorOutage,
}

/// Incident lifecycle status.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::incident::IncidentStatus")]
pub enum IncidentStatus {
    /// Declared, nobody acknowledged yet.
    Triggered,
    /// Acknowledged by a responder.
    Acknowledged,
    /// Cause being investigated.
    Investigating,
    /// Cause identified.
    Identified,
    /// Mitigated, being watched.
    Monitoring,
    /// Resolved.
    Resolved,
    /// Closed (final).
    Closed,
}

/// Who may see a status update.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::incident::Visibility")]
pub enum Visibility {
    /// Responders only.
    Internal,
    /// Shown on the status page.
    Public,
}

/// Kind of change.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::change::ChangeType")]
pub enum ChangeType {
    /// Pre-approved routine change.
    Standard,
    /// Needs approvals by risk.
    Normal,
    /// Urgent; may be approved retroactively.
    Emergency,
}

/// What a change does.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::change::ChangeCategory")]
pub enum ChangeCategory {
    /// Patching.
    Patch,
    /// Software release.
    Release,
    /// Configuration change.
    Configuration,
    /// Infrastructure change.
    Infrastructure,
    /// Anything else.
    Other,
}

/// Change lifecycle status.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::change::ChangeStatus")]
pub enum ChangeStatus {
    /// Being written.
    Draft,
    /// Awaiting approvals.
    Submitted,
    /// Approved.
    Approved,
    /// Rejected (final).
    Rejected,
    /// Scheduled in a window.
    Scheduled,
    /// Being implemented.
    InProgress,
    /// Being validated.
    Validating,
    /// Completed (final).
    Completed,
    /// Failed (final).
    Failed,
    /// Rolled back (final).
    RolledBack,
    /// Cancelled (final).
    Cancelled,
}

/// Assessed risk of a change.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::change::RiskLevel")]
pub enum RiskLevel {
    /// Low risk.
    Low,
    /// Medium risk.
    Medium,
    /// High risk.
    High,
}

/// Post-incident review status.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::review::ReviewStatus")]
pub enum ReviewStatus {
    /// Being written.
    Draft,
    /// Submitted for review.
    InReview,
    /// Published (sections final).
    Published,
}

/// Action item status.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::review::ActionItemStatus")]
pub enum ActionItemStatus {
    /// Still to do.
    Open,
    /// Done.
    Done,
}

/// Category of a contributing factor.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_domain::review::FactorCategory")]
pub enum FactorCategory {
    /// A change.
    Change,
    /// Capacity.
    Capacity,
    /// A dependency.
    Dependency,
    /// Missing monitoring.
    MonitoringGap,
    /// Human error.
    HumanError,
    /// A software bug.
    SoftwareBug,
    /// Hardware.
    Hardware,
    /// Process.
    Process,
    /// Anything else.
    Other,
}

/// A service's health on the status page, mildest first.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "opsledger_projections::ServiceHealth")]
pub enum ServiceHealth {
    /// All good.
    Operational,
    /// A change is being implemented on it.
    UnderMaintenance,
    /// Degraded performance (own impact, or an upstream service is impacted).
    Degraded,
    /// Partial outage.
    PartialOutage,
    /// Major outage.
    MajorOutage,
}
