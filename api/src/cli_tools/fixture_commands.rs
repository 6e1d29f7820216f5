//! Translating generated fixture steps into application-service commands.
//!
//! The application service gathers cross-aggregate facts from the read models itself, so
//! the facts the generator put into its commands are dropped here. Alert ingests open
//! incidents under ids the service chooses: [`IncidentIds`] maps the generator's planned
//! ids to the real ones.

use std::collections::HashMap;

use opsledger_domain::alert::AlertGroupCommand;
use opsledger_domain::change::ChangeCommand;
use opsledger_domain::freeze::FreezeCommand;
use opsledger_domain::incident::IncidentCommand;
use opsledger_domain::review::ReviewCommand;
use opsledger_domain::service::ServiceCommand;
use opsledger_domain::IncidentId;
use opsledger_fixtures::FixtureCommand;

use crate::app::{AlertInput, AppCommand, ChangeRequestInput, DeclareInput};

/// Planned incident id (from the generator) → the id the application service used.
#[derive(Debug, Default)]
pub struct IncidentIds(HashMap<IncidentId, IncidentId>);

impl IncidentIds {
    /// The real id of a planned one (itself when it was declared under its planned id).
    pub fn real(&self, planned: IncidentId) -> IncidentId {
        self.0.get(&planned).copied().unwrap_or(planned)
    }

    /// Remember that `planned` became `real`.
    pub fn learn(&mut self, planned: IncidentId, real: IncidentId) {
        if planned != real {
            self.0.insert(planned, real);
        }
    }
}

/// The application command for a generated one; `None` for steps the service does by
/// itself (releasing alert groups on resolve, the second half of a merge).
pub fn to_app_command(command: FixtureCommand, ids: &IncidentIds) -> Option<AppCommand> {
    Some(match command {
        FixtureCommand::Service(id, ServiceCommand::Register(r)) => AppCommand::RegisterService {
            id: Some(id),
            profile: r.profile,
        },
        FixtureCommand::Service(id, ServiceCommand::Update(u)) => AppCommand::UpdateService {
            id,
            profile: u.profile,
        },
        FixtureCommand::Service(id, ServiceCommand::Retire(r)) => AppCommand::RetireService {
            id,
            reason: r.reason,
        },
        FixtureCommand::AlertGroup(_, AlertGroupCommand::Ingest(i)) => {
            AppCommand::IngestAlert(AlertInput {
                service: i.alert.group.service,
                dedup_key: i.alert.group.dedup_key,
                source: i.alert.source,
                summary: i.alert.summary,
                severity_hint: i.alert.severity_hint,
                labels: i.alert.labels,
                firing: i.firing,
                impact: i.impact,
                started_at: i.alert.started_at,
            })
        }
        FixtureCommand::AlertGroup(_, AlertGroupCommand::Release(_)) => return None,
        FixtureCommand::Incident(id, IncidentCommand::Declare(d)) => AppCommand::DeclareIncident {
            id: Some(id),
            input: DeclareInput {
                title: d.title,
                description: d.description,
                severity: d.severity,
                impacts: d.impacts.into_iter().map(|i| i.impact).collect(),
                started_at: Some(d.started_at),
                detected_at: Some(d.detected_at),
            },
        },
        FixtureCommand::Incident(id, IncidentCommand::AbsorbDuplicate { duplicate }) => {
            AppCommand::MergeIncident {
                duplicate: ids.real(duplicate),
                target: ids.real(id),
            }
        }
        FixtureCommand::Incident(_, IncidentCommand::MergeInto { .. }) => return None,
        FixtureCommand::Incident(id, command) => AppCommand::Incident {
            id: ids.real(id),
            command,
        },
        FixtureCommand::Change(id, ChangeCommand::Request(r)) => AppCommand::RequestChange {
            id: Some(id),
            input: ChangeRequestInput {
                change_type: r.change_type,
                category: r.category,
                title: r.title,
                description: r.description,
                services: r.services,
                window: r.window,
                implementation_plan: r.implementation_plan,
                rollback_plan: r.rollback_plan,
                validation_steps: r.validation_steps,
            },
        },
        FixtureCommand::Change(id, ChangeCommand::Schedule(s)) => AppCommand::ScheduleChange {
            id,
            window: s.window,
        },
        FixtureCommand::Change(id, command) => AppCommand::Change { id, command },
        FixtureCommand::Freeze(id, FreezeCommand::Create(c)) => AppCommand::CreateFreeze {
            id: Some(id),
            window: c.window,
            scope: c.scope,
            reason: c.reason,
        },
        FixtureCommand::Freeze(id, FreezeCommand::Cancel(c)) => AppCommand::CancelFreeze {
            id,
            reason: c.reason,
        },
        FixtureCommand::Review(id, ReviewCommand::Create { incident, .. }) => {
            AppCommand::CreateReview {
                id: Some(id),
                incident: ids.real(incident.id),
            }
        }
        FixtureCommand::Review(id, command) => AppCommand::Review { id, command },
    })
}
