//! Services: register, update, retire (admin).

use super::*;
use opsledger_domain::service::{RegisterService, RetireService, ServiceCommand, UpdateService};

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
        let id = ServiceId::new(Ulid::new());
        let intent = ServiceCommand::Register(RegisterService { id, profile });
        let out = execute(
            ctx,
            idempotency_key,
            expected_version,
            AppCommand::Service { id, intent },
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
        let intent = ServiceCommand::Update(UpdateService { profile });
        let out = execute(
            ctx,
            idempotency_key,
            expected_version,
            AppCommand::Service { id, intent },
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
            idempotency_key,
            expected_version,
            AppCommand::Service {
                id,
                intent: ServiceCommand::Retire(RetireService {
                    reason: one_text::<Reason>("reason", reason)?,
                }),
            },
        )
        .await?;
        Ok(service_payload(ctx, out)?)
    }
}
