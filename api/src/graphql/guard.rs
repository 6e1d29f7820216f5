//! The request guard, a schema extension every GraphQL request passes on
//! every transport: HTTP POST, HTTP GET and WebSocket operations all reach
//! the schema's parse and validation hooks (tests/tests/hostile_graphql.rs
//! shows it for each). It refuses, with a coded error naming the bound:
//!
//! - a query or variables nested deeper than [`Limits::nesting`], before the
//!   parser sees them (`LIMIT`, see [`super::nesting`]);
//! - introspection (`__schema`, `__type`) in production (`FORBIDDEN`: the
//!   schema is committed as `api/schema.graphql`);
//! - a selection deeper than [`Limits::depth`] (`LIMIT`); in dev mode an
//!   operation selecting only introspection fields may go to
//!   [`Limits::introspection_depth`], so that GraphiQL and codegen's standard
//!   introspection query (13-15 levels) passes.

use crate::error::{ApiError, ErrorCode};
use crate::graphql::nesting::{check_nesting, check_variables_nesting, TooDeep};
use crate::limits::Limits;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Pos, Positioned, ServerError, ServerResult, ValidationResult, Variables};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The message of the production introspection refusal.
pub const INTROSPECTION_OFF: &str = "introspection is off in production: the schema is \
     committed as api/schema.graphql (or start the server with --dev)";

/// The factory registered on the schema.
#[derive(Clone, Debug)]
pub struct RequestGuard {
    dev: bool,
    nesting: usize,
    depth: usize,
    introspection_depth: usize,
}

impl RequestGuard {
    /// The guard of a schema with `limits`, in dev mode if `dev`.
    pub fn new(limits: &Limits, dev: bool) -> Self {
        RequestGuard {
            dev,
            nesting: limits.nesting,
            depth: limits.depth,
            introspection_depth: limits.introspection_depth,
        }
    }
}

impl ExtensionFactory for RequestGuard {
    fn create(&self) -> Arc<dyn Extension> {
        // One per request: it remembers what the parse found for the validation.
        Arc::new(GuardExtension {
            policy: self.clone(),
            introspection_only: AtomicBool::new(false),
        })
    }
}

struct GuardExtension {
    policy: RequestGuard,
    introspection_only: AtomicBool,
}

/// A refusal with `code`, `message` and an optional location.
fn refusal(code: ErrorCode, message: String, at: Option<Pos>) -> ServerError {
    let mut error = ServerError::new(message, at);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    error
}

fn too_deep(err: TooDeep) -> ServerError {
    let at = err.at.map(|(line, column)| Pos { line, column });
    let err = ApiError::limit(err.describe());
    refusal(err.code(), err.message(), at)
}

/// What the root selections of a document's operations select.
#[derive(Debug, Default, PartialEq, Eq)]
struct RootFields {
    /// `__schema` or `__type`.
    introspection: bool,
    /// Any field not starting with `__` (`__typename` is neither).
    data: bool,
}

impl RootFields {
    fn of(doc: &ExecutableDocument) -> Self {
        let mut roots = RootFields::default();
        let mut seen_fragments = HashSet::new();
        for (_, operation) in doc.operations.iter() {
            roots.visit(doc, &operation.node.selection_set, &mut seen_fragments);
        }
        roots
    }

    /// Visits root fields, through fragments (each once: cycles end here,
    /// validation refuses them).
    fn visit<'d>(
        &mut self,
        doc: &'d ExecutableDocument,
        set: &'d Positioned<SelectionSet>,
        seen_fragments: &mut HashSet<&'d str>,
    ) {
        for selection in &set.node.items {
            match &selection.node {
                Selection::Field(field) => match field.node.name.node.as_str() {
                    "__schema" | "__type" => self.introspection = true,
                    name if !name.starts_with("__") => self.data = true,
                    _ => {}
                },
                Selection::InlineFragment(fragment) => {
                    self.visit(doc, &fragment.node.selection_set, seen_fragments)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                        if seen_fragments.insert(name) {
                            self.visit(doc, &fragment.node.selection_set, seen_fragments);
                        }
                    }
                }
            }
        }
    }

    fn introspection_only(&self) -> bool {
        self.introspection && !self.data
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        check_nesting(query, self.policy.nesting).map_err(too_deep)?;
        check_variables_nesting(variables, self.policy.nesting).map_err(too_deep)?;
        let doc = next.run(ctx, query, variables).await?;
        let roots = RootFields::of(&doc);
        if roots.introspection && !self.policy.dev {
            return Err(refusal(
                ErrorCode::Forbidden,
                INTROSPECTION_OFF.to_string(),
                None,
            ));
        }
        self.introspection_only
            .store(roots.introspection_only(), Ordering::Relaxed);
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let max = if self.policy.dev && self.introspection_only.load(Ordering::Relaxed) {
            self.policy.introspection_depth
        } else {
            self.policy.depth
        };
        if result.depth > max {
            let err = ApiError::limit(format!(
                "the query selects fields {} levels deep, at most {max}",
                result.depth
            ));
            return Err(vec![refusal(err.code(), err.message(), None)]);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn roots(query: &str) -> RootFields {
        RootFields::of(&parse_query(query).unwrap())
    }

    #[test]
    fn root_fields_tell_introspection_from_data() {
        let only = RootFields {
            introspection: true,
            data: false,
        };
        assert_eq!(roots("{ __schema { queryType { name } } }"), only);
        assert_eq!(
            roots("{ __type(name: \"Query\") { name } __typename }"),
            only
        );
        assert!(roots("{ __schema { types { name } } logHead }").data);
        assert_eq!(roots("{ __typename }"), RootFields::default());
        assert_eq!(
            roots("{ logHead }"),
            RootFields {
                introspection: false,
                data: true
            }
        );
    }

    #[test]
    fn root_fields_are_found_through_fragments_and_cycles_end() {
        let query = "query A { ...F } query B { ... on Query { logHead } }
            fragment F on Query { ...G } fragment G on Query { __schema { description } ...F }";
        assert_eq!(
            roots(query),
            RootFields {
                introspection: true,
                data: true
            }
        );
    }
}
