//! A schema extension that gives every error a stable `extensions.code`,
//! chosen from the error's origin and the request's phase, never from its
//! message text:
//!
//! 1. An error that already carries a code keeps it. Resolvers return
//!    [`crate::ApiError`] (coded by its variant); the [`super::guard`] codes
//!    its refusals, among them every shape limit (`LIMIT`, the message naming
//!    the bound), before async-graphql parses or validates; input types code
//!    their own parse failures (the `DateTime` scalar: `VALIDATION`).
//! 2. An uncoded error raised while async-graphql parses or validates (the
//!    `parse_query` and `validation` hooks) is `VALIDATION`: the guard has
//!    checked every limit first, so what async-graphql still refuses there is
//!    the query or its variable values (a bad variable value fails
//!    validation's argument check).
//! 3. An uncoded error raised after validation passed (execution) that
//!    async-graphql located at an argument's value in the document is
//!    `VALIDATION`: that is where it puts an argument or variable value that
//!    its type failed to parse (an `Int` beyond 32 bits, a negative count;
//!    validation's argument check lets both pass), while an error of a
//!    resolver is located at its field. The positions come from the parsed
//!    document (the `parse_query` hook), not from the message.
//! 4. Any other uncoded error raised after validation passed is `INTERNAL`:
//!    its message is logged and replaced by `internal error`.
//!
//! Every error is counted in the metrics by code.

use crate::error::ErrorCode;
use crate::metrics::Metrics;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{
    Pos, Positioned, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use futures::stream::BoxStream;
use futures::StreamExt;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The factory registered on the schema.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension::default())
    }
}

/// One request's (or subscription stream's) extension.
#[derive(Default)]
struct ErrorCodesExtension {
    /// Validation passed: an uncoded error from now on comes from execution.
    validated: Arc<AtomicBool>,
    /// Where the document's argument values are.
    argument_values: Arc<Mutex<HashSet<Pos>>>,
}

/// The positions of every field argument's value in `doc` (operations and fragments).
fn argument_value_positions(doc: &ExecutableDocument) -> HashSet<Pos> {
    fn visit(set: &Positioned<SelectionSet>, into: &mut HashSet<Pos>) {
        for selection in &set.node.items {
            match &selection.node {
                Selection::Field(field) => {
                    into.extend(field.node.arguments.iter().map(|(_, value)| value.pos));
                    visit(&field.node.selection_set, into);
                }
                Selection::InlineFragment(fragment) => visit(&fragment.node.selection_set, into),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut positions = HashSet::new();
    for (_, operation) in doc.operations.iter() {
        visit(&operation.node.selection_set, &mut positions);
    }
    for fragment in doc.fragments.values() {
        visit(&fragment.node.selection_set, &mut positions);
    }
    positions
}

/// Where in a request an error was raised.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Before execution: preparing, parsing, validating.
    Checking,
    /// After validation passed; where the document's argument values are.
    Executing(HashSet<Pos>),
}

impl Phase {
    fn of(validated: &AtomicBool, argument_values: &Mutex<HashSet<Pos>>) -> Self {
        if validated.load(Ordering::Acquire) {
            let positions = argument_values
                .lock()
                .map(|p| p.clone())
                .unwrap_or_default();
            Phase::Executing(positions)
        } else {
            Phase::Checking
        }
    }
}

fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code.as_str()),
        _ => None,
    }
}

fn set_code(error: &mut ServerError, code: ErrorCode) {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
}

/// Codes the uncoded errors async-graphql raised while parsing or validating.
fn tag_checking(mut errors: Vec<ServerError>) -> Vec<ServerError> {
    for error in &mut errors {
        if code_of(error).is_none() {
            set_code(error, ErrorCode::Validation);
        }
    }
    errors
}

/// Codes the errors left uncoded, raised in `phase`, and counts all of them.
fn finish_response(mut response: Response, phase: Phase, metrics: Option<&Metrics>) -> Response {
    for error in &mut response.errors {
        if code_of(error).is_none() {
            match &phase {
                Phase::Checking => set_code(error, ErrorCode::Validation),
                Phase::Executing(arguments)
                    if !error.locations.is_empty()
                        && error.locations.iter().all(|at| arguments.contains(at)) =>
                {
                    set_code(error, ErrorCode::Validation)
                }
                Phase::Executing(_) => {
                    tracing::error!(error = %error.message, path = ?error.path, "uncoded execution error");
                    error.message = "internal error".to_string();
                    set_code(error, ErrorCode::Internal);
                }
            }
        }
        if let Some(metrics) = metrics {
            metrics.graphql_error(code_of(error).unwrap_or(ErrorCode::Internal.as_str()));
        }
    }
    response
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let response = next.run(ctx).await;
        let phase = Phase::of(&self.validated, &self.argument_values);
        finish_response(
            response,
            phase,
            ctx.data_opt::<Arc<Metrics>>().map(Arc::as_ref),
        )
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let metrics = ctx.data_opt::<Arc<Metrics>>().cloned();
        let validated = self.validated.clone();
        let arguments = self.argument_values.clone();
        next.run(ctx, stream)
            .map(move |response| {
                let phase = if response.errors.is_empty() {
                    Phase::Checking // nothing to code
                } else {
                    Phase::of(&validated, &arguments)
                };
                finish_response(response, phase, metrics.as_deref())
            })
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await.map_err(|e| {
            tag_checking(vec![e])
                .pop()
                .unwrap_or_else(|| ServerError::new("invalid query", None))
        })?;
        if let Ok(mut positions) = self.argument_values.lock() {
            *positions = argument_value_positions(&doc);
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(tag_checking);
        if result.is_ok() {
            self.validated.store(true, Ordering::Release);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncoded_errors_before_execution_are_validation_whatever_their_text() {
        for text in [
            "Query is too complex.",
            "Unknown field \"nope\" on type \"Query\".",
        ] {
            let response = Response::from_errors(vec![ServerError::new(text, None)]);
            let response = finish_response(response, Phase::Checking, None);
            assert_eq!(response.errors[0].message, text);
            assert_eq!(code_of(&response.errors[0]), Some("VALIDATION"));
        }
    }

    #[test]
    fn uncoded_execution_errors_become_internal_and_hidden() {
        let response =
            Response::from_errors(vec![ServerError::new("Data `X` does not exist.", None)]);
        let response = finish_response(response, Phase::Executing(HashSet::new()), None);
        assert_eq!(response.errors[0].message, "internal error");
        assert_eq!(code_of(&response.errors[0]), Some("INTERNAL"));
    }

    #[test]
    fn coded_errors_keep_their_code() {
        let mut error = ServerError::new("nope", None);
        set_code(&mut error, ErrorCode::Forbidden);
        for phase in [Phase::Checking, Phase::Executing(HashSet::new())] {
            let response = finish_response(Response::from_errors(vec![error.clone()]), phase, None);
            assert_eq!(response.errors[0].message, "nope");
            assert_eq!(code_of(&response.errors[0]), Some("FORBIDDEN"));
        }
    }

    #[test]
    fn uncoded_execution_errors_at_an_argument_value_are_validation() {
        let doc = async_graphql::parser::parse_query(
            "query($n: Int) { events(first: $n) { pageInfo { hasNextPage } } ...F }
             fragment F on Query { events(after: \"x\") { pageInfo { hasNextPage } } }",
        )
        .unwrap();
        let positions = argument_value_positions(&doc);
        assert_eq!(positions.len(), 2);
        let at_value = *positions.iter().next().unwrap();
        let field = Pos {
            line: 1,
            column: 18,
        };
        let response = Response::from_errors(vec![
            ServerError::new("Failed to parse", Some(at_value)),
            ServerError::new("Data `X` does not exist.", Some(field)),
        ]);
        let response = finish_response(response, Phase::Executing(positions), None);
        assert_eq!(code_of(&response.errors[0]), Some("VALIDATION"));
        assert_eq!(response.errors[0].message, "Failed to parse");
        assert_eq!(code_of(&response.errors[1]), Some("INTERNAL"));
    }
}
