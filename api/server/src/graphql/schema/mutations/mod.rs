//! One mutation per domain command. Each builds the domain intent, acts as the
//! authenticated principal (the application service checks its role: see
//! `crate::app::guard`), accepts `idempotencyKey` and `expectedVersion`, and
//! returns after the read models include its events, with the changed entity
//! and the log position.

use super::bounded_input::{parse_text, CommandText};
use super::types::{
    gid, parse_id, projections, Change, Freeze, ImpactLevel, Incident, Review, Service, Severity,
    Visibility,
};
use crate::app::{AppCommand, AppService, CommandMeta, CommandOutcome};
use crate::auth::require_principal;
use crate::error::ApiError;
use crate::graphql::scalars::DateTime;
use crate::graphql::schema::mutations_inputs::{
    parse_ids, parse_impacts, section_content, AlertInputGql, ContributingFactorInput,
    CreateFreezeInput, DeclareIncidentInput, IncidentStage, RequestChangeInput, ReviewSectionKind,
    ServiceInput, ValidationResultInput,
};
use async_graphql::{Context, MergedObject, Object, SimpleObject, ID};
use opsledger_domain::change::{ChangeCommand, ValidationResult};
use opsledger_domain::freeze::FreezeScope;
use opsledger_domain::incident::IncidentCommand;
use opsledger_domain::review::ReviewCommand;
use opsledger_domain::text::{
    AlertSource, AlertSummary, BoundedText, Comment, DedupKey, Description, IdempotencyKey,
    LabelName, LabelValue, Name, Note, Person, Plan, Reason, StatusMessage, StepName, Summary,
    Title, MAX_LABELS,
};
use opsledger_domain::{ActionItemId, Actor, ChangeId, FreezeId, IncidentId, ReviewId, ServiceId};
use opsledger_storage::Ulid;
use std::sync::Arc;

mod change;
mod freeze;
mod incident;
mod review;
mod service;

/// Every domain mutation, one object per noun (merged in this order: the SDL's order).
#[derive(MergedObject, Default)]
pub struct DomainMutation(
    service::ServiceMutation,
    incident::IncidentMutation,
    change::ChangeMutation,
    freeze::FreezeMutation,
    review::ReviewMutation,
);

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

/// Executes `command` as the authenticated principal (the service checks its role).
async fn execute(
    ctx: &Context<'_>,
    idempotency_key: Option<String>,
    expected_version: Option<u64>,
    command: AppCommand,
) -> Result<CommandOutcome, ApiError> {
    let who = require_principal(ctx)?;
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

/// Runs an incident command on `id`.
async fn incident_command(
    ctx: &Context<'_>,
    id: &ID,
    key: Option<String>,
    expected: Option<u64>,
    intent: IncidentCommand,
) -> async_graphql::Result<IncidentPayload> {
    let id: IncidentId = parse_id("id", id)?;
    let out = execute(ctx, key, expected, AppCommand::Incident { id, intent }).await?;
    Ok(incident_payload(ctx, id, out)?)
}

/// Runs a change command on `id`.
async fn change_command(
    ctx: &Context<'_>,
    id: &ID,
    key: Option<String>,
    expected: Option<u64>,
    intent: ChangeCommand,
) -> async_graphql::Result<ChangePayload> {
    let id: ChangeId = parse_id("id", id)?;
    let out = execute(ctx, key, expected, AppCommand::Change { id, intent }).await?;
    Ok(change_payload(ctx, out)?)
}

/// Runs a review command on `id`.
async fn review_command(
    ctx: &Context<'_>,
    id: &ID,
    key: Option<String>,
    expected: Option<u64>,
    intent: ReviewCommand,
) -> async_graphql::Result<ReviewPayload> {
    let id: ReviewId = parse_id("id", id)?;
    let out = execute(ctx, key, expected, AppCommand::Review { id, intent }).await?;
    Ok(review_payload(ctx, out, None)?)
}
