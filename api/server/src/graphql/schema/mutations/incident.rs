//! Incidents: declare, respond, merge, resolve, and alert ingestion.

use super::*;
use opsledger_domain::alert::IngestAlert;
use opsledger_domain::incident::DeclareIncident;

/// The incident mutations.
#[derive(Default)]
pub struct IncidentMutation;

#[Object]
impl IncidentMutation {
    /// Declares an incident (responder).
    async fn declare_incident(
        &self,
        ctx: &Context<'_>,
        input: DeclareIncidentInput,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<IncidentPayload> {
        let mut text = CommandText::new();
        let id = IncidentId::new(Ulid::new());
        let declare = DeclareIncident {
            id,
            impacts: parse_impacts("input.impacts", &input.impacts)?,
            title: text.string::<Title>("input.title", input.title)?,
            description: text.string::<Description>("input.description", input.description)?,
            severity: input.severity.map(Into::into),
            started_at: input.started_at.map(|t| t.0),
            detected_at: input.detected_at.map(|t| t.0),
            alert_group: None,
        };
        let out = execute(
            ctx,
            idempotency_key,
            expected_version,
            AppCommand::Incident {
                id,
                intent: IncidentCommand::Declare(declare),
            },
        )
        .await?;
        // A replayed key names the incident of the first call.
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
        let alert = IngestAlert {
            group: opsledger_domain::alert::AlertGroupKey {
                service,
                dedup_key: text.string::<DedupKey>("input.dedupKey", input.dedup_key)?,
            },
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
            new_incident_id: IncidentId::new(Ulid::new()),
        };
        let out = execute(
            ctx,
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
}
