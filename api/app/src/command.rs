//! What a caller asks the application service to do: domain intents without the
//! cross-aggregate facts (the service gathers those from the projections).

use opsledger_domain::change::{ChangeCategory, ChangeCommand, ChangeType};
use opsledger_domain::freeze::FreezeScope;
use opsledger_domain::incident::{ImpactLevel, IncidentCommand, ServiceImpact, Severity};
use opsledger_domain::review::ReviewCommand;
use opsledger_domain::service::ServiceProfile;
use opsledger_domain::{
    ChangeId, FreezeId, IncidentId, ReviewId, ServiceId, TimeWindow, Timestamp,
};

use super::request::RequestFingerprint;

/// Idempotency and concurrency options of one command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandMeta {
    /// The client's idempotency key (the log's command id); a ULID is generated if absent.
    pub idempotency_key: Option<String>,
    /// The stream version (0-based, of its last event) the client read; a mismatch is a conflict.
    pub expected_version: Option<u64>,
    /// The request the key is bound to (the GraphQL layer names the mutation and its
    /// arguments); `None`: the command's operation alone, the key naming the rest.
    pub request: Option<RequestFingerprint>,
}

impl CommandMeta {
    /// Options with an idempotency key.
    pub fn keyed(key: impl Into<String>) -> Self {
        CommandMeta {
            idempotency_key: Some(key.into()),
            expected_version: None,
            request: None,
        }
    }
}

/// One alert as received from a source (webhook, `ingestAlert`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertInput {
    /// The service it concerns.
    pub service: ServiceId,
    /// Dedup key / fingerprint (the group is service + key).
    pub dedup_key: String,
    /// The source system (e.g. `alertmanager`).
    pub source: String,
    /// One-line summary.
    pub summary: String,
    /// Severity suggested by the source.
    pub severity_hint: Option<Severity>,
    /// Labels as sent.
    pub labels: Vec<(String, String)>,
    /// Firing (true) or resolved (false).
    pub firing: bool,
    /// Impact to declare if it opens an incident.
    pub impact: ImpactLevel,
    /// When the source says it started.
    pub started_at: Option<Timestamp>,
}

/// A change request, without the facts about its services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRequestInput {
    /// Standard, normal or emergency.
    pub change_type: ChangeType,
    /// Category.
    pub category: ChangeCategory,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Services touched.
    pub services: Vec<ServiceId>,
    /// Planned window.
    pub window: TimeWindow,
    /// Implementation plan.
    pub implementation_plan: String,
    /// Rollback plan.
    pub rollback_plan: String,
    /// Validation steps.
    pub validation_steps: Vec<String>,
}

/// A manual incident declaration, without the facts about its services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclareInput {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Severity (derived when absent).
    pub severity: Option<Severity>,
    /// Impacted services (the first is the primary one).
    pub impacts: Vec<ServiceImpact>,
    /// Impact start (default: detection).
    pub started_at: Option<Timestamp>,
    /// Detection (default: now).
    pub detected_at: Option<Timestamp>,
}

/// Every command the application service executes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppCommand {
    /// Registers a service (`id` generated when absent).
    RegisterService {
        /// The new id, if the caller chose it.
        id: Option<ServiceId>,
        /// The profile.
        profile: ServiceProfile,
    },
    /// Replaces a service's profile.
    UpdateService {
        /// The service.
        id: ServiceId,
        /// The new profile.
        profile: ServiceProfile,
    },
    /// Retires a service.
    RetireService {
        /// The service.
        id: ServiceId,
        /// Why.
        reason: String,
    },
    /// Declares an incident (`id` generated when absent).
    DeclareIncident {
        /// The new id, if the caller chose it.
        id: Option<IncidentId>,
        /// The declaration.
        input: DeclareInput,
    },
    /// Any other incident command (not Declare, MergeInto, AbsorbDuplicate).
    Incident {
        /// The incident.
        id: IncidentId,
        /// The command.
        command: IncidentCommand,
    },
    /// Merges `duplicate` into `target`.
    MergeIncident {
        /// The duplicate (ends merged).
        duplicate: IncidentId,
        /// The incident that absorbs it.
        target: IncidentId,
    },
    /// Ingests one alert into its group (may open an incident).
    IngestAlert(AlertInput),
    /// Requests a change (`id` generated when absent).
    RequestChange {
        /// The new id, if the caller chose it.
        id: Option<ChangeId>,
        /// The request.
        input: ChangeRequestInput,
    },
    /// Schedules (or reschedules) a change.
    ScheduleChange {
        /// The change.
        id: ChangeId,
        /// The window.
        window: TimeWindow,
    },
    /// Any other change command (not Request, Schedule).
    Change {
        /// The change.
        id: ChangeId,
        /// The command.
        command: ChangeCommand,
    },
    /// Creates a freeze window (`id` generated when absent).
    CreateFreeze {
        /// The new id, if the caller chose it.
        id: Option<FreezeId>,
        /// The window.
        window: TimeWindow,
        /// Global or per service.
        scope: FreezeScope,
        /// Why.
        reason: String,
    },
    /// Cancels a freeze window.
    CancelFreeze {
        /// The freeze.
        id: FreezeId,
        /// Why.
        reason: String,
    },
    /// Creates the review of a resolved incident (`id` generated when absent).
    CreateReview {
        /// The new id, if the caller chose it.
        id: Option<ReviewId>,
        /// The incident reviewed.
        incident: IncidentId,
    },
    /// Any other review command (not Create).
    Review {
        /// The review.
        id: ReviewId,
        /// The command.
        command: ReviewCommand,
    },
}

impl AppCommand {
    /// The operation's name, for a key bound to it without arguments (see [`CommandMeta::request`]).
    pub fn operation(&self) -> &'static str {
        match self {
            AppCommand::RegisterService { .. } => "registerService",
            AppCommand::UpdateService { .. } => "updateService",
            AppCommand::RetireService { .. } => "retireService",
            AppCommand::DeclareIncident { .. } => "declareIncident",
            AppCommand::Incident { .. } => "incidentCommand",
            AppCommand::MergeIncident { .. } => "mergeIncidents",
            AppCommand::IngestAlert(_) => "ingestAlert",
            AppCommand::RequestChange { .. } => "requestChange",
            AppCommand::ScheduleChange { .. } => "scheduleChange",
            AppCommand::Change { .. } => "changeCommand",
            AppCommand::CreateFreeze { .. } => "createFreeze",
            AppCommand::CancelFreeze { .. } => "cancelFreeze",
            AppCommand::CreateReview { .. } => "createReview",
            AppCommand::Review { .. } => "reviewCommand",
        }
    }
}
