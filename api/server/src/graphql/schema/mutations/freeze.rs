//! Change freezes: create, cancel.

use super::*;
use opsledger_domain::freeze::{CancelFreeze, CreateFreeze, FreezeCommand};

/// The freeze mutations.
#[derive(Default)]
pub struct FreezeMutation;

#[Object]
impl FreezeMutation {
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
        let id = FreezeId::new(Ulid::new());
        let out = execute(
            ctx,
            idempotency_key,
            expected_version,
            AppCommand::Freeze {
                id,
                intent: FreezeCommand::Create(CreateFreeze {
                    id,
                    window: input.window.into(),
                    scope,
                    reason: one_text::<Reason>("input.reason", input.reason)?,
                }),
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
            idempotency_key,
            expected_version,
            AppCommand::Freeze {
                id,
                intent: FreezeCommand::Cancel(CancelFreeze {
                    reason: one_text::<Reason>("reason", reason)?,
                }),
            },
        )
        .await?;
        Ok(freeze_payload(ctx, out)?)
    }
}
