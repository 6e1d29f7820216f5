//! One mutation per domain command. Each checks its role, acts as the
//! authenticated principal, accepts `idempotencyKey` and `expectedVersion`,
//! and returns after the read models include its events, with the changed
//! entity and the log position.

use super::bounded_input::{parse_text, CommandText};
use super::mutations_inputs::{
    parse_ids, parse_impacts, section_content, AlertInputGql, ContributingFactorInput,
    CreateFreezeInput, DeclareIncidentInput, IncidentStage, RequestChangeInput, ReviewSectionKind,
    ServiceInput, ValidationResultInput,
};
use super::types::{
    gid, parse_id, projections, Change, Freeze, ImpactLevel, Incident, Review, Service, Severity,
    Visibility,
};
use crate::app::{
    AlertInput, AppCommand, AppService, ChangeRequestInput, CommandMeta, CommandOutcome,
    DeclareInput,
};
use crate::auth::require_role;
use crate::error::ApiError;
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, Object, SimpleObject, ID};
use opsledger_domain::change::{ChangeCommand, ValidationResult};
use opsledger_domain::freeze::FreezeScope;
use opsledger_domain::incident::IncidentCommand;
use opsledger_domain::review::ReviewCommand;
use opsledger_domain::text::{
    AlertSource, AlertSummary, BoundedText, Comment, DedupKey, Description, IdempotencyKey,
    LabelName, LabelValue, Name, Note, Person, Plan, Reason, StatusMessage, StepName, Summary,
    Title, MAX_LABELS,
};
use opsledger_domain::{
    ActionItemId, Actor, ChangeId, FreezeId, IncidentId, ReviewId, Role, ServiceId,
};
use opsledger_storage::Ulid;
use std::sync::Arc;

/// Every domain mutation.
#[derive(Default)]
pub struct DomainMutation;

/// What a service mutation changed.
#[derive(SimpleObject)]
pub struct ServicePayload {
    /// The service id.
    pub id: ID,
    /// Its stream.
    pub stream_id: String,
    /// Log position of the last event written.
    pub position: u64,
    /// The service as the read models now show it.
    pub service: Option<Service>,
}

/// What an incident mutation changed.
#[derive(SimpleObject)]
pub struct IncidentPayload {
    /// The incident id.
    pub id: ID,
    /// Its stream.
    pub stream_id: String,
    /// Log position of the last event written.
    pub position: u64,
    /// The incident as the read models now show it.
    pub incident: Option<Incident>,
}

/// What an ingested alert did.
#[derive(SimpleObject)]
pub struct AlertPayload {
    /// The alert group's stream.
    pub stream_id: String,
    /// Log position of the last event written.
    pub position: u64,
    /// The incident the alert opened or attached to (none for a resolved alert without one).
    pub incident: Option<Incident>,
}

/// What a change mutation changed.
#[derive(SimpleObject)]
pub struct ChangePayload {
    /// The change id.
    pub id: ID,
    /// Its stream.
    pub stream_id: String,
    /// Log position of the last event written.
    pub position: u64,
    /// The change as the read models now show it.
    pub change: Option<Change>,
}

/// What a freeze mutation changed.
#[derive(SimpleObject)]
pub struct FreezePayload {
    /// The freeze id.
    pub id: ID,
    /// Its stream.
    pub stream_id: String,
    /// Log position of the last event written.
    pub position: u64,
    /// The freeze as the read models now show it.
    pub freeze: Option<Freeze>,
}

/// What a review mutation changed.
#[derive(SimpleObject)]
pub struct ReviewPayload {
    /// The review id.
    pub id: ID,
    /// Its stream.
    pub stream_id: String,
    /// Log position of the last event written.
    pub position: u64,
    /// The review as the read models now show it.
    pub review: Option<Review>,
    /// The action item added by `addActionItem`.
    pub action_item_id: Option<ID>,
}

/// The application service from the schema data.
fn app<'a>(ctx: &Context<'a>) -> Result<&'a Arc<AppService>, ApiError> {
    ctx.data::<Arc<AppService>>()
        .map_err(|_| ApiError::internal("the application service is missing from the schema data"))
}

/// Checks `role`, then executes `command` as the authenticated principal.
async fn execute(
    ctx: &Context<'_>,
    role: Role,
    idempotency_key: Option<String>,
    expected_version: Option<u64>,
    command: AppCommand,
) -> Result<CommandOutcome, ApiError> {
    let who = require_role(ctx, role)?;
    let idempotency_key = idempotency_key
        .map(|key| parse_text::<IdempotencyKey>("idempotencyKey", key))
        .transpose()?
        .map(BoundedText::into_string);
    let meta = CommandMeta {
        idempotency_key,
        expected_version,
        request: Some(crate::graphql::request_fingerprint::of_field(ctx)),
    };
    Ok(app(ctx)?.execute(who, meta, command).await?)
}

/// Parses the one text argument of a command into `T`, as a `String`.
fn one_text<T: BoundedText>(field: &str, value: String) -> Result<String, ApiError> {
    CommandText::new().string::<T>(field, value)
}

/// The id inside a stream id such as `incident-<ulid>`.
fn id_of(stream_id: &str) -> String {
    stream_id
        .split_once('-')
        .map(|(_, id)| id.to_string())
        .unwrap_or_default()
}

fn service_payload(ctx: &Context<'_>, out: CommandOutcome) -> Result<ServicePayload, ApiError> {
    let id: ServiceId = parse_id("id", &ID(id_of(&out.stream_id)))?;
    Ok(ServicePayload {
        id: gid(id),
        service: Service::fetch(projections(ctx)?, id),
        stream_id: out.stream_id,
        position: out.position,
    })
}

fn incident_payload(
    ctx: &Context<'_>,
    id: IncidentId,
    out: CommandOutcome,
) -> Result<IncidentPayload, ApiError> {
    Ok(IncidentPayload {
        id: gid(id),
        incident: Incident::fetch(projections(ctx)?, id),
        stream_id: out.stream_id,
        position: out.position,
    })
}

fn change_payload(ctx: &Context<'_>, out: CommandOutcome) -> Result<ChangePayload, ApiError> {
    let id: ChangeId = parse_id("id", &ID(id_of(&out.stream_id)))?;
    Ok(ChangePayload {
        id: gid(id),
        change: Change::fetch(projections(ctx)?, id),
        stream_id: out.stream_id,
        position: out.position,
    })
}

fn freeze_payload(ctx: &Context<'_>, out: CommandOutcome) -> Result<FreezePayload, ApiError> {
    let id: FreezeId = parse_id("id", &ID(id_of(&out.stream_id)))?;
    Ok(FreezePayload {
        id: gid(id),
        freeze: Freeze::fetch(projections(ctx)?, id),
        stream_id: out.stream_id,
        position: out.position,
    })
}

fn review_payload(
    ctx: &Context<'_>,
    out: CommandOutcome,
    action_item_id: Option<ActionItemId>,
) -> Result<ReviewPayload, ApiError> {
    let id: ReviewId = parse_id("id", &ID(id_of(&out.stream_id)))?;
    Ok(ReviewPayload {
        id: gid(id),
        review: Review::fetch(projections(ctx)?, id),
        stream_id: out.stream_id,
        position: out.position,
        action_item_id: action_item_id.map(gid),
    })
}

/// Runs an incident command on `id` (responder).
async fn incident_command(
    ctx: &Context<'_>,
    id: &ID,
    key: Option<String>,
    expected: Option<u64>,
    command: IncidentCommand,
) -> async_graphql::Result<IncidentPayload> {
    let id: IncidentId = parse_id("id", id)?;
    let out = execute(
        ctx,
        Role::Responder,
        key,
        expected,
        AppCommand::Incident { id, command },
    )
    .await?;
    Ok(incident_payload(ctx, id, out)?)
}

/// Runs a change command on `id` with `role`.
async fn change_command(
    ctx: &Context<'_>,
    role: Role,
    id: &ID,
    key: Option<String>,
    expected: Option<u64>,
    command: ChangeCommand,
) -> async_graphql::Result<ChangePayload> {
    let id: ChangeId = parse_id("id", id)?;
    let out = execute(ctx, role, key, expected, AppCommand::Change { id, command }).await?;
    Ok(change_payload(ctx, out)?)
}

/// Runs a review command on `id` (responder).
async fn review_command(
    ctx: &Context<'_>,
    id: &ID,
    key: Option<String>,
    expected: Option<u64>,
    command: ReviewCommand,
) -> async_graphql::Result<ReviewPayload> {
    let id: ReviewId = parse_id("id", id)?;
    let out = execute(
        ctx,
        Role::Responder,
        key,
        expected,
        AppCommand::Review { id, command },
    )
    .await?;
    Ok(review_payload(ctx, out, None)?)
}

#[Object]
impl DomainMutation {
    /// Registers a service (admin).
    async fn register_service(
        &self,
        ctx: &Context<'_>,
        input: ServiceInput,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ServicePayload> {
        let profile = input.try_into()?;
        let out = execute(
            ctx,
            Role::Admin,
            idempotency_key,
            expected_version,
            AppCommand::RegisterService { id: None, profile },
        )
        .await?;
        Ok(service_payload(ctx, out)?)
    }

    /// Replaces a service's profile (admin).
    async fn update_service(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ServiceInput,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ServicePayload> {
        let id = parse_id("id", &id)?;
        let profile = input.try_into()?;
        let out = execute(
            ctx,
            Role::Admin,
            idempotency_key,
            expected_version,
            AppCommand::UpdateService { id, profile },
        )
        .await?;
        Ok(service_payload(ctx, out)?)
    }

    /// Retires a service (admin).
    async fn retire_service(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ServicePayload> {
        let id = parse_id("id", &id)?;
        let out = execute(
            ctx,
            Role::Admin,
            idempotency_key,
            expected_version,
            AppCommand::RetireService {
                id,
                reason: one_text::<Reason>("reason", reason)?,
            },
        )
        .await?;
        Ok(service_payload(ctx, out)?)
    }

    /// Declares an incident (responder).
    async fn declare_incident(
        &self,
        ctx: &Context<'_>,
        input: DeclareIncidentInput,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let mut text = CommandText::new();
        let declare = DeclareInput {
            impacts: parse_impacts("input.impacts", &input.impacts)?,
            title: text.string::<Title>("input.title", input.title)?,
            description: text.string::<Description>("input.description", input.description)?,
            severity: input.severity.map(Into::into),
            started_at: input.started_at.map(|t| t.0),
            detected_at: input.detected_at.map(|t| t.0),
        };
        let out = execute(
            ctx,
            Role::Responder,
            idempotency_key,
            expected_version,
            AppCommand::DeclareIncident {
                id: None,
                input: declare,
            },
        )
        .await?;
        let id: IncidentId = parse_id("id", &ID(id_of(&out.stream_id)))?;
        Ok(incident_payload(ctx, id, out)?)
    }

    /// Acknowledges an incident (responder).
    async fn acknowledge_incident(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        incident_command(
            ctx,
            &id,
            idempotency_key,
            expected_version,
            IncidentCommand::Acknowledge,
        )
        .await
    }

    /// Moves an incident forward to investigating / identified / monitoring (responder).
    async fn advance_incident(
        &self,
        ctx: &Context<'_>,
        id: ID,
        to: IncidentStage,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = IncidentCommand::Advance { to: to.into() };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Assigns (or hands off) the incident commander (responder).
    async fn assign_commander(
        &self,
        ctx: &Context<'_>,
        id: ID,
        commander: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = IncidentCommand::AssignCommander {
            commander: Actor(one_text::<Person>("commander", commander)?),
        };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Adds a responder (responder).
    async fn add_responder(
        &self,
        ctx: &Context<'_>,
        id: ID,
        responder: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = IncidentCommand::AddResponder {
            responder: Actor(one_text::<Person>("responder", responder)?),
        };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Removes a responder (responder).
    async fn remove_responder(
        &self,
        ctx: &Context<'_>,
        id: ID,
        responder: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = IncidentCommand::RemoveResponder {
            responder: Actor(one_text::<Person>("responder", responder)?),
        };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Pages the next escalation level by hand (responder).
    async fn escalate_incident(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        incident_command(
            ctx,
            &id,
            idempotency_key,
            expected_version,
            IncidentCommand::Escalate,
        )
        .await
    }

    /// Changes the severity (responder).
    async fn change_severity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        severity: Severity,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = IncidentCommand::ChangeSeverity {
            to: severity.into(),
        };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Sets one service's impact level (responder).
    async fn update_impact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        service: ID,
        level: ImpactLevel,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = IncidentCommand::UpdateImpact {
            service: parse_id("service", &service)?,
            level: level.into(),
        };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Adds a timeline note (responder).
    async fn add_incident_note(
        &self,
        ctx: &Context<'_>,
        id: ID,
        text: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = IncidentCommand::AddNote {
            text: CommandText::new().parse::<Note>("text", text)?,
        };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Posts an internal or public status update (responder).
    async fn post_status_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        visibility: Visibility,
        message: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = IncidentCommand::PostStatusUpdate {
            visibility: visibility.into(),
            message: CommandText::new().parse::<StatusMessage>("message", message)?,
        };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Names the change that caused the incident (responder).
    async fn link_cause_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        change: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = IncidentCommand::LinkCauseChange {
            change: parse_id("change", &change)?,
        };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Links an alert group (service + dedup key) to the incident (responder).
    async fn link_alert(
        &self,
        ctx: &Context<'_>,
        id: ID,
        service: ID,
        dedup_key: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let group = opsledger_domain::alert::AlertGroupKey {
            service: parse_id("service", &service)?,
            dedup_key: one_text::<DedupKey>("dedupKey", dedup_key)?,
        };
        let command = IncidentCommand::LinkAlertGroup { group };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Merges the duplicate `id` into `into` (responder); returns the target.
    async fn merge_incident(
        &self,
        ctx: &Context<'_>,
        id: ID,
        into: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let duplicate = parse_id("id", &id)?;
        let target: IncidentId = parse_id("into", &into)?;
        let out = execute(
            ctx,
            Role::Responder,
            idempotency_key,
            expected_version,
            AppCommand::MergeIncident { duplicate, target },
        )
        .await?;
        Ok(incident_payload(ctx, target, out)?)
    }

    /// Resolves the incident with a summary (responder).
    async fn resolve_incident(
        &self,
        ctx: &Context<'_>,
        id: ID,
        summary: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = IncidentCommand::Resolve {
            summary: CommandText::new().parse::<Summary>("summary", summary)?,
        };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Closes a resolved incident (responder).
    async fn close_incident(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        incident_command(
            ctx,
            &id,
            idempotency_key,
            expected_version,
            IncidentCommand::Close,
        )
        .await
    }

    /// Reopens a resolved incident (responder).
    async fn reopen_incident(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = IncidentCommand::Reopen {
            reason: CommandText::new().parse::<Reason>("reason", reason)?,
        };
        incident_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Ingests one alert: opens an incident for its group or attaches to the open one (responder).
    async fn ingest_alert(
        &self,
        ctx: &Context<'_>,
        input: AlertInputGql,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<AlertPayload> {
        let mut text = CommandText::new();
        let service: ServiceId = match (&input.service, &input.service_name) {
            (Some(id), _) => parse_id("input.service", id)?,
            (None, Some(name)) => projections(ctx)?
                .read(|m| {
                    let name = parse_text::<Name>("input.serviceName", name.as_str()).ok()?;
                    m.services.by_name(name.as_str()).map(|s| s.id)
                })
                .ok_or_else(|| ApiError::NotFound {
                    what: "service",
                    id: name.clone(),
                })?,
            (None, None) => {
                return Err(ApiError::validation(
                    "input.service",
                    "give `service` or `serviceName`",
                ))?
            }
        };
        crate::graphql::schema::bounded_input::check_count(
            "input.labels",
            input.labels.len(),
            MAX_LABELS,
        )?;
        let labels = input
            .labels
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                Ok((
                    text.string::<LabelName>(&format!("input.labels[{i}].name"), l.name)?,
                    text.string::<LabelValue>(&format!("input.labels[{i}].value"), l.value)?,
                ))
            })
            .collect::<Result<_, ApiError>>()?;
        let alert = AlertInput {
            service,
            dedup_key: text.string::<DedupKey>("input.dedupKey", input.dedup_key)?,
            source: text.string::<AlertSource>("input.source", input.source)?,
            summary: text.string::<AlertSummary>("input.summary", input.summary)?,
            severity_hint: input.severity_hint.map(Into::into),
            labels,
            firing: input.firing,
            impact: input
                .impact
                .map(Into::into)
                .unwrap_or(opsledger_domain::incident::ImpactLevel::PartialOutage),
            started_at: input.started_at.map(|t| t.0),
        };
        let out = execute(
            ctx,
            Role::Responder,
            idempotency_key,
            expected_version,
            AppCommand::IngestAlert(alert),
        )
        .await?;
        let handle = projections(ctx)?;
        Ok(AlertPayload {
            incident: out.incident.and_then(|id| Incident::fetch(handle, id)),
            stream_id: out.stream_id,
            position: out.position,
        })
    }

    /// Requests a change (change manager).
    async fn request_change(
        &self,
        ctx: &Context<'_>,
        input: RequestChangeInput,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        let mut text = CommandText::new();
        let request = ChangeRequestInput {
            services: parse_ids("input.services", &input.services)?,
            change_type: input.change_type.into(),
            category: input.category.into(),
            title: text.string::<Title>("input.title", input.title)?,
            description: text.string::<Description>("input.description", input.description)?,
            window: input.window.into(),
            implementation_plan: text
                .string::<Plan>("input.implementationPlan", input.implementation_plan)?,
            rollback_plan: text.string::<Plan>("input.rollbackPlan", input.rollback_plan)?,
            validation_steps: text.list::<StepName>(
                "input.validationSteps",
                input.validation_steps,
                super::mutations_inputs::MAX_STEPS,
            )?,
        };
        let out = execute(
            ctx,
            Role::ChangeManager,
            idempotency_key,
            expected_version,
            AppCommand::RequestChange {
                id: None,
                input: request,
            },
        )
        .await?;
        Ok(change_payload(ctx, out)?)
    }

    /// Submits a draft change for approval (change manager).
    async fn submit_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        change_command(
            ctx,
            Role::ChangeManager,
            &id,
            idempotency_key,
            expected_version,
            ChangeCommand::Submit,
        )
        .await
    }

    /// Approves a change (approver; never the requester).
    async fn approve_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default)] comment: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        let command = ChangeCommand::Approve {
            comment: one_text::<Comment>("comment", comment)?,
        };
        change_command(
            ctx,
            Role::Approver,
            &id,
            idempotency_key,
            expected_version,
            command,
        )
        .await
    }

    /// Rejects a change (approver; never the requester).
    async fn reject_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        let command = ChangeCommand::Reject {
            reason: one_text::<Reason>("reason", reason)?,
        };
        change_command(
            ctx,
            Role::Approver,
            &id,
            idempotency_key,
            expected_version,
            command,
        )
        .await
    }

    /// Schedules (or reschedules) a change; a freeze blocks non-emergency changes (change manager).
    async fn schedule_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        window: super::mutations_inputs::TimeWindowInput,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        let id = parse_id("id", &id)?;
        let out = execute(
            ctx,
            Role::ChangeManager,
            idempotency_key,
            expected_version,
            AppCommand::ScheduleChange {
                id,
                window: window.into(),
            },
        )
        .await?;
        Ok(change_payload(ctx, out)?)
    }

    /// Starts a scheduled change (change manager).
    async fn start_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        change_command(
            ctx,
            Role::ChangeManager,
            &id,
            idempotency_key,
            expected_version,
            ChangeCommand::Start,
        )
        .await
    }

    /// Records validation results (change manager).
    async fn record_validation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        results: Vec<ValidationResultInput>,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        crate::graphql::schema::bounded_input::check_count(
            "results",
            results.len(),
            super::mutations_inputs::MAX_STEPS,
        )?;
        let mut text = CommandText::new();
        let command = ChangeCommand::RecordValidation {
            results: results
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    Ok(ValidationResult {
                        step: text.string::<StepName>(&format!("results[{i}].step"), r.step)?,
                        passed: r.passed,
                        notes: text.string::<Note>(&format!("results[{i}].notes"), r.notes)?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
        };
        change_command(
            ctx,
            Role::ChangeManager,
            &id,
            idempotency_key,
            expected_version,
            command,
        )
        .await
    }

    /// Completes a validated change (change manager).
    async fn complete_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default)] summary: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        let command = ChangeCommand::Complete {
            summary: one_text::<Summary>("summary", summary)?,
        };
        change_command(
            ctx,
            Role::ChangeManager,
            &id,
            idempotency_key,
            expected_version,
            command,
        )
        .await
    }

    /// Marks a change failed (change manager).
    async fn fail_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        let command = ChangeCommand::Fail {
            reason: one_text::<Reason>("reason", reason)?,
        };
        change_command(
            ctx,
            Role::ChangeManager,
            &id,
            idempotency_key,
            expected_version,
            command,
        )
        .await
    }

    /// Marks a change rolled back (change manager).
    async fn roll_back_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        let command = ChangeCommand::RollBack {
            reason: one_text::<Reason>("reason", reason)?,
        };
        change_command(
            ctx,
            Role::ChangeManager,
            &id,
            idempotency_key,
            expected_version,
            command,
        )
        .await
    }

    /// Cancels a change before it starts (change manager).
    async fn cancel_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        let command = ChangeCommand::Cancel {
            reason: one_text::<Reason>("reason", reason)?,
        };
        change_command(
            ctx,
            Role::ChangeManager,
            &id,
            idempotency_key,
            expected_version,
            command,
        )
        .await
    }

    /// Creates a freeze window, global or per service (change manager).
    async fn create_freeze(
        &self,
        ctx: &Context<'_>,
        input: CreateFreezeInput,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<FreezePayload> {
        let scope = match &input.services {
            None => FreezeScope::Global,
            Some(ids) => FreezeScope::Services(parse_ids("input.services", ids)?),
        };
        let out = execute(
            ctx,
            Role::ChangeManager,
            idempotency_key,
            expected_version,
            AppCommand::CreateFreeze {
                id: None,
                window: input.window.into(),
                scope,
                reason: one_text::<Reason>("input.reason", input.reason)?,
            },
        )
        .await?;
        Ok(freeze_payload(ctx, out)?)
    }

    /// Cancels a freeze window (change manager).
    async fn cancel_freeze(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<FreezePayload> {
        let id = parse_id("id", &id)?;
        let out = execute(
            ctx,
            Role::ChangeManager,
            idempotency_key,
            expected_version,
            AppCommand::CancelFreeze {
                id,
                reason: one_text::<Reason>("reason", reason)?,
            },
        )
        .await?;
        Ok(freeze_payload(ctx, out)?)
    }

    /// Creates the review of a resolved incident (responder).
    async fn create_review(
        &self,
        ctx: &Context<'_>,
        incident: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ReviewPayload> {
        let incident = parse_id("incident", &incident)?;
        let out = execute(
            ctx,
            Role::Responder,
            idempotency_key,
            expected_version,
            AppCommand::CreateReview { id: None, incident },
        )
        .await?;
        Ok(review_payload(ctx, out, None)?)
    }

    /// Writes one review section: `text`, or `factors` for CONTRIBUTING_FACTORS (responder).
    #[allow(clippy::too_many_arguments)] // one argument per GraphQL argument
    async fn edit_review_section(
        &self,
        ctx: &Context<'_>,
        id: ID,
        section: ReviewSectionKind,
        text: Option<String>,
        factors: Option<Vec<ContributingFactorInput>>,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ReviewPayload> {
        let command = ReviewCommand::EditSection(section_content(section, text, factors)?);
        review_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Adds an action item (responder); the payload names its id.
    #[allow(clippy::too_many_arguments)] // one argument per GraphQL argument
    async fn add_action_item(
        &self,
        ctx: &Context<'_>,
        id: ID,
        title: String,
        owner: String,
        due: DateTime,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ReviewPayload> {
        let review: ReviewId = parse_id("id", &id)?;
        let item = ActionItemId::new(Ulid::new());
        let mut text = CommandText::new();
        let command = ReviewCommand::AddActionItem {
            id: item,
            title: text.string::<Title>("title", title)?,
            owner: text.string::<Person>("owner", owner)?,
            due: due.0,
        };
        let out = execute(
            ctx,
            Role::Responder,
            idempotency_key,
            expected_version,
            AppCommand::Review {
                id: review,
                command,
            },
        )
        .await?;
        // A replayed key names the item of the first call, which this call cannot know.
        let item = (!out.replayed).then_some(item);
        Ok(review_payload(ctx, out, item)?)
    }

    /// Marks an action item done (responder).
    async fn complete_action_item(
        &self,
        ctx: &Context<'_>,
        id: ID,
        action_item: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ReviewPayload> {
        let command = ReviewCommand::CompleteActionItem {
            id: parse_id("actionItem", &action_item)?,
        };
        review_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Submits a draft review (responder).
    async fn submit_review(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ReviewPayload> {
        review_command(
            ctx,
            &id,
            idempotency_key,
            expected_version,
            ReviewCommand::Submit,
        )
        .await
    }

    /// Publishes a review in review with every section filled (responder).
    async fn publish_review(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ReviewPayload> {
        review_command(
            ctx,
            &id,
            idempotency_key,
            expected_version,
            ReviewCommand::Publish,
        )
        .await
    }
}
