//! Changes: request, approve, schedule, run, validate, end.

use super::*;
use opsledger_domain::change::{RequestChange, ScheduleChange};

/// The change mutations.
#[derive(Default)]
pub struct ChangeMutation;

#[Object]
impl ChangeMutation {
    /// Requests a change (change manager).
    async fn request_change(
        &self,
        ctx: &Context<'_>,
        input: RequestChangeInput,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        let mut text = CommandText::new();
        let id = ChangeId::new(Ulid::new());
        let request = RequestChange {
            id,
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
                crate::graphql::schema::mutations_inputs::MAX_STEPS,
            )?,
        };
        let out = execute(
            ctx,
            idempotency_key,
            expected_version,
            AppCommand::Change {
                id,
                intent: ChangeCommand::Request(request),
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
        change_command(ctx, &id, idempotency_key, expected_version, command).await
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
        change_command(ctx, &id, idempotency_key, expected_version, command).await
    }

    /// Schedules (or reschedules) a change; a freeze blocks non-emergency changes (change manager).
    async fn schedule_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        window: crate::graphql::schema::mutations_inputs::TimeWindowInput,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ChangePayload> {
        let id = parse_id("id", &id)?;
        let out = execute(
            ctx,
            idempotency_key,
            expected_version,
            AppCommand::Change {
                id,
                intent: ChangeCommand::Schedule(ScheduleChange {
                    window: window.into(),
                }),
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
            crate::graphql::schema::mutations_inputs::MAX_STEPS,
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
        change_command(ctx, &id, idempotency_key, expected_version, command).await
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
        change_command(ctx, &id, idempotency_key, expected_version, command).await
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
        change_command(ctx, &id, idempotency_key, expected_version, command).await
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
        change_command(ctx, &id, idempotency_key, expected_version, command).await
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
        change_command(ctx, &id, idempotency_key, expected_version, command).await
    }
}
