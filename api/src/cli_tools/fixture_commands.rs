//! Translating generated fixture steps into application-service commands: the
//! generator's commands are domain intents, so this is the target id and the
//! intent (the step's facts are the generator's, the service gathers its own).

use opsledger_domain::alert::AlertGroupCommand;
use opsledger_domain::incident::IncidentCommand;
use opsledger_fixtures::FixtureCommand;

use crate::app::AppCommand;

/// The application command for a generated one; `None` for steps the service does by
/// itself (releasing alert groups on resolve, the second half of a merge).
pub fn to_app_command(command: FixtureCommand) -> Option<AppCommand> {
    Some(match command {
        FixtureCommand::Service(id, intent) => AppCommand::Service { id, intent },
        FixtureCommand::AlertGroup(_, AlertGroupCommand::Ingest(intent)) => {
            AppCommand::IngestAlert(intent)
        }
        FixtureCommand::AlertGroup(_, AlertGroupCommand::Release(_)) => return None,
        FixtureCommand::Incident(id, IncidentCommand::AbsorbDuplicate { duplicate }) => {
            AppCommand::MergeIncident {
                duplicate,
                target: id,
            }
        }
        FixtureCommand::Incident(_, IncidentCommand::MergeInto { .. }) => return None,
        FixtureCommand::Incident(id, intent) => AppCommand::Incident { id, intent },
        FixtureCommand::Change(id, intent) => AppCommand::Change { id, intent },
        FixtureCommand::Freeze(id, intent) => AppCommand::Freeze { id, intent },
        FixtureCommand::Review(id, intent) => AppCommand::Review { id, intent },
    })
}
