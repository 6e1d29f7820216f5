//! What a caller asks the application service to do: domain intents (the
//! service gathers the cross-aggregate facts from the projections).

use opsledger_domain::alert::IngestAlert;
use opsledger_domain::change::ChangeCommand;
use opsledger_domain::freeze::FreezeCommand;
use opsledger_domain::incident::IncidentCommand;
use opsledger_domain::review::ReviewCommand;
use opsledger_domain::service::ServiceCommand;
use opsledger_domain::{ChangeId, FreezeId, IncidentId, ReviewId, ServiceId};

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

/// Every command the application service executes: a domain intent and the
/// aggregate it targets (a creating intent names its own id, which must be the
/// target's). The service gathers the facts the intent needs from the read models
/// and checks the principal's role first ([`super::guard::required_role`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppCommand {
    /// A service command.
    Service {
        /// The service.
        id: ServiceId,
        /// What is asked.
        intent: ServiceCommand,
    },
    /// An incident command (not MergeInto, AbsorbDuplicate, UndoDuplicateMerge: see
    /// [`AppCommand::MergeIncident`]).
    Incident {
        /// The incident.
        id: IncidentId,
        /// What is asked.
        intent: IncidentCommand,
    },
    /// Merges `duplicate` into `target`.
    MergeIncident {
        /// The duplicate (ends merged).
        duplicate: IncidentId,
        /// The incident that absorbs it.
        target: IncidentId,
    },
    /// Ingests one alert into its group (may open an incident).
    IngestAlert(IngestAlert),
    /// A change command.
    Change {
        /// The change.
        id: ChangeId,
        /// What is asked.
        intent: ChangeCommand,
    },
    /// A freeze window command.
    Freeze {
        /// The freeze.
        id: FreezeId,
        /// What is asked.
        intent: FreezeCommand,
    },
    /// A review command.
    Review {
        /// The review.
        id: ReviewId,
        /// What is asked.
        intent: ReviewCommand,
    },
}

impl AppCommand {
    /// The operation's name, for a key bound to it without arguments (see [`CommandMeta::request`]).
    pub fn operation(&self) -> &'static str {
        match self {
            AppCommand::Service { intent, .. } => match intent {
                ServiceCommand::Register(_) => "registerService",
                ServiceCommand::Update(_) => "updateService",
                ServiceCommand::Retire(_) => "retireService",
            },
            AppCommand::Incident { intent, .. } => match intent {
                IncidentCommand::Declare(_) => "declareIncident",
                _ => "incidentCommand",
            },
            AppCommand::MergeIncident { .. } => "mergeIncidents",
            AppCommand::IngestAlert(_) => "ingestAlert",
            AppCommand::Change { intent, .. } => match intent {
                ChangeCommand::Request(_) => "requestChange",
                ChangeCommand::Schedule(_) => "scheduleChange",
                _ => "changeCommand",
            },
            AppCommand::Freeze { intent, .. } => match intent {
                FreezeCommand::Create(_) => "createFreeze",
                FreezeCommand::Cancel(_) => "cancelFreeze",
            },
            AppCommand::Review { intent, .. } => match intent {
                ReviewCommand::Create { .. } => "createReview",
                _ => "reviewCommand",
            },
        }
    }
}
