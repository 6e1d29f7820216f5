//! The GraphQL schema: roots merged from one object per area, the production
//! settings (limits and the [`guard`], no introspection or suggestions unless
//! `dev`), and the committed SDL.
//!
//! ## Extending the schema
//! Add an object to the tuple of [`QueryRoot`] / [`SubscriptionRoot`]
//! (`#[derive(MergedObject)]` / `#[derive(MergedSubscription)]`), replace
//! [`MutationRoot`] by a merged object once real mutations exist, put the
//! services they need into the schema data in [`build_schema`], then
//! regenerate `api/schema.graphql` with
//! `UPDATE_SCHEMA=1 cargo test -p opsledger-server schema`.

pub mod codes;
pub mod guard;
pub mod log;
pub mod log_event;
pub mod nesting;
pub mod request_fingerprint;
pub mod scalars;
pub mod schema;

use crate::app::AppService;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::SharedStore;
use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};
use std::sync::Arc;

/// Every query field: one merged object per area.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    log::LogQuery,
    schema::queries::ReadQuery,
    schema::kpi::KpiQueryRoot,
    schema::status::StatusQuery,
    schema::audit::HistoryQuery,
    schema::transparency::TransparencyQuery,
);

/// Every mutation: one per domain command.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(schema::mutations::DomainMutation);

/// Every subscription field: one merged object per area.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(
    log::LogSubscription,
    schema::status::StatusSubscription,
    schema::subscriptions::ReadSubscription,
    schema::transparency::TransparencySubscription,
);

/// The opsledger schema.
pub type ApiSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// How the schema is built.
#[derive(Clone, Debug, Default)]
pub struct SchemaOptions {
    /// Development mode: introspection and field suggestions on.
    pub dev: bool,
    /// Query shape limits.
    pub limits: Limits,
    /// The Merkle log its audit fields serve (none: they answer UNAVAILABLE).
    pub transparency: Option<opsledger_transparency::Transparency>,
}

/// The schema's roots, limits and extensions, without any data (public for the fuzz
/// harness, which validates requests against exactly this schema).
pub fn builder(
    options: &SchemaOptions,
) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    let limits = &options.limits;
    let builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    // The guard refuses every shape limit first, with a coded LIMIT naming the bound,
    // computed as async-graphql computes these three on the same document: they stay
    // set only as a backstop. The selection depth is the guard's alone (it knows
    // introspection in dev).
    .limit_complexity(limits.complexity)
    .limit_recursive_depth(limits.recursive_depth)
    .limit_directives(limits.directives)
    .extension(codes::ErrorCodes)
    .extension(guard::RequestGuard::new(limits, options.dev));
    if options.dev {
        builder
    } else {
        builder.disable_introspection().disable_suggestions()
    }
}

/// The schema serving `store` and the application service `app` (and its read models), recording into `metrics`.
pub fn build_schema(
    store: SharedStore,
    app: Arc<AppService>,
    metrics: Arc<Metrics>,
    options: &SchemaOptions,
) -> ApiSchema {
    let mut builder = builder(options);
    if let Some(log) = &options.transparency {
        builder = builder.data(log.clone());
    }
    builder
        .data(store)
        .data(app.projections().clone())
        .data(schema::status::StatusPageFeed::new(
            app.projections().clone(),
        ))
        .data(app)
        .data(metrics)
        .finish()
}

/// The SDL of the production schema (what `api/schema.graphql` holds).
pub fn production_sdl() -> String {
    builder(&SchemaOptions::default()).finish().sdl()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed SDL is the code's schema; regenerate with `UPDATE_SCHEMA=1`.
    #[test]
    fn schema_sdl_matches_committed_file() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
        let sdl = production_sdl();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &sdl).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == sdl,
            "api/schema.graphql is stale: run `UPDATE_SCHEMA=1 cargo test -p opsledger-server schema`"
        );
    }
}
