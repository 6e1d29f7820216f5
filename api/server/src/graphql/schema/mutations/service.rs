//! Services: register, update, retire (admin).

use super::*;

/// The service mutations.
#[derive(Default)]
pub struct ServiceMutation;

#[Object]
impl ServiceMutation {
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
}
