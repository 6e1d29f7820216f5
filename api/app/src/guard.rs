//! Who may do what: the one table from every operation to the role it needs,
//! checked once, by [`authorize`], before anything else happens (the
//! application service for every [`AppCommand`]; the server for the endpoints
//! that are not commands). The domain checks no roles.
//!
//! Role semantics are [`Role::grants`]: admin grants every role and every role
//! grants viewer.

use super::{AppCommand, AppError, Principal};
use opsledger_domain::change::ChangeCommand;
use opsledger_domain::freeze::FreezeCommand;
use opsledger_domain::incident::IncidentCommand;
use opsledger_domain::review::ReviewCommand;
use opsledger_domain::service::ServiceCommand;
use opsledger_domain::Role;

/// Everything a principal may be refused.
#[derive(Clone, Copy, Debug)]
pub enum Operation<'a> {
    /// An application command.
    Command(&'a AppCommand),
    /// An Alertmanager webhook delivery (each of its alerts is then an
    /// [`AppCommand::IngestAlert`], checked again by the application service).
    AlertWebhook,
    /// An online backup of the log (`POST /admin/backup`).
    OnlineBackup,
    /// Any read: every query and subscription but the public status page.
    Read,
    /// Reading the Merkle log: proofs (which carry raw records), leaf hashes and the
    /// checkpoint stream.
    AuditProof,
}

/// The role `command` needs; every operation is listed.
pub fn required_role(command: &AppCommand) -> Role {
    match command {
        AppCommand::Service { intent, .. } => match intent {
            ServiceCommand::Register(_) | ServiceCommand::Update(_) | ServiceCommand::Retire(_) => {
                Role::Admin
            }
        },
        AppCommand::Incident { intent, .. } => match intent {
            IncidentCommand::Declare(_)
            | IncidentCommand::Acknowledge
            | IncidentCommand::Advance { .. }
            | IncidentCommand::AssignCommander { .. }
            | IncidentCommand::AddResponder { .. }
            | IncidentCommand::RemoveResponder { .. }
            | IncidentCommand::Escalate
            | IncidentCommand::CheckEscalation
            | IncidentCommand::ChangeSeverity { .. }
            | IncidentCommand::UpdateImpact { .. }
            | IncidentCommand::AddNote { .. }
            | IncidentCommand::PostStatusUpdate { .. }
            | IncidentCommand::LinkCauseChange { .. }
            | IncidentCommand::LinkAlertGroup { .. }
            | IncidentCommand::MergeInto { .. }
            | IncidentCommand::AbsorbDuplicate { .. }
            | IncidentCommand::Resolve { .. }
            | IncidentCommand::Close
            | IncidentCommand::UndoDuplicateMerge { .. }
            | IncidentCommand::Reopen { .. } => Role::Responder,
        },
        AppCommand::MergeIncident { .. } => Role::Responder,
        AppCommand::IngestAlert(_) => Role::Responder,
        AppCommand::Change { intent, .. } => match intent {
            ChangeCommand::Approve { .. } | ChangeCommand::Reject { .. } => Role::Approver,
            ChangeCommand::Request(_)
            | ChangeCommand::Submit
            | ChangeCommand::Schedule(_)
            | ChangeCommand::Start
            | ChangeCommand::RecordValidation { .. }
            | ChangeCommand::Complete { .. }
            | ChangeCommand::Fail { .. }
            | ChangeCommand::RollBack { .. }
            | ChangeCommand::Cancel { .. } => Role::ChangeManager,
        },
        AppCommand::Freeze { intent, .. } => match intent {
            FreezeCommand::Create(_) | FreezeCommand::Cancel(_) => Role::ChangeManager,
        },
        AppCommand::Review { intent, .. } => match intent {
            ReviewCommand::Create { .. }
            | ReviewCommand::EditSection(_)
            | ReviewCommand::AddActionItem { .. }
            | ReviewCommand::CompleteActionItem { .. }
            | ReviewCommand::Submit
            | ReviewCommand::Publish => Role::Responder,
        },
    }
}

impl Operation<'_> {
    /// The role the operation needs.
    pub fn required_role(self) -> Role {
        match self {
            Operation::Command(command) => required_role(command),
            // What each of its alerts needs (ingestAlert).
            Operation::AlertWebhook => Role::Responder,
            Operation::OnlineBackup => Role::Admin,
            Operation::Read => Role::Viewer,
            Operation::AuditProof => Role::Auditor,
        }
    }
}

/// `Ok` if `who` holds the role `operation` needs, else [`AppError::Forbidden`].
pub fn authorize(who: &Principal, operation: Operation<'_>) -> Result<(), AppError> {
    let role = operation.required_role();
    if who.has_role(role) {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            actor: who.actor.as_str().to_owned(),
            role,
        })
    }
}

#[cfg(test)]
mod tests;
