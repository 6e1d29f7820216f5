//! Post-incident reviews: create, edit, action items, submit, publish.

use super::*;

/// The review mutations.
#[derive(Default)]
pub struct ReviewMutation;

#[Object]
impl ReviewMutation {
    /// Creates the review of a resolved incident (responder).
    async fn create_review(
        &self,
        ctx: &Context<'_>,
        incident: ID,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ReviewPayload> {
        let incident = parse_id("incident", &incident)?;
        let id = ReviewId::new(Ulid::new());
        let out = execute(
            ctx,
            idempotency_key,
            expected_version,
            AppCommand::Review {
                id,
                intent: ReviewCommand::Create { id, incident },
            },
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
            idempotency_key,
            expected_version,
            AppCommand::Review {
                id: review,
                intent: command,
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
