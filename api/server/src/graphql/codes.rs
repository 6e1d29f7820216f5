//! A schema extension that gives every error a stable `extensions.code`:
//! async-graphql's own parse/validation errors become `VALIDATION`, its
//! complexity/recursion/directive limits become `LIMIT`, and an
//! uncoded execution error (a bug: resolvers return [`crate::ApiError`])
//! becomes `INTERNAL` with its message logged and hidden. Every error is
//! counted in the metrics by code.

use crate::error::ErrorCode;
use crate::metrics::Metrics;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};
use futures::stream::BoxStream;
use futures::StreamExt;
use std::sync::Arc;

/// The factory registered on the schema.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

/// The code of an error async-graphql raised while parsing or validating.
fn classify_pre_execution(message: &str) -> ErrorCode {
    // (The selection depth is the guard's: it codes its own refusal.)
    const LIMIT_MESSAGES: [&str; 3] = [
        "Query is too complex.",
        "The recursion depth of the query cannot be greater than",
        "The number of directives on the field",
    ];
    if LIMIT_MESSAGES.iter().any(|m| message.starts_with(m)) {
        ErrorCode::Limit
    } else {
        ErrorCode::Validation
    }
}

/// Whether an uncoded execution-time error is really about the client's input.
fn is_input_error(message: &str) -> bool {
    message.starts_with("Failed to parse") || message.starts_with("Invalid value for argument")
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

fn tag_pre_execution(mut errors: Vec<ServerError>) -> Vec<ServerError> {
    for error in &mut errors {
        if code_of(error).is_none() {
            let code = classify_pre_execution(&error.message);
            set_code(error, code);
        }
    }
    errors
}

/// Codes the errors left uncoded after execution and counts all of them.
fn finish_response(mut response: Response, metrics: Option<&Metrics>) -> Response {
    for error in &mut response.errors {
        if code_of(error).is_none() {
            if is_input_error(&error.message) {
                set_code(error, ErrorCode::Validation);
            } else {
                tracing::error!(error = %error.message, path = ?error.path, "uncoded resolver error");
                error.message = "internal error".to_string();
                set_code(error, ErrorCode::Internal);
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
        finish_response(response, ctx.data_opt::<Arc<Metrics>>().map(Arc::as_ref))
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let metrics = ctx.data_opt::<Arc<Metrics>>().cloned();
        next.run(ctx, stream)
            .map(move |response| finish_response(response, metrics.as_deref()))
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|e| {
            tag_pre_execution(vec![e])
                .pop()
                .unwrap_or_else(|| ServerError::new("invalid query", None))
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(tag_pre_execution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_limits_are_coded_limit() {
        assert_eq!(
            classify_pre_execution("Query is too complex."),
            ErrorCode::Limit
        );
        assert_eq!(
            classify_pre_execution("The recursion depth of the query cannot be greater than `32`"),
            ErrorCode::Limit
        );
        assert_eq!(
            classify_pre_execution("Unknown field \"nope\" on type \"Query\"."),
            ErrorCode::Validation
        );
    }

    #[test]
    fn uncoded_execution_errors_become_internal_and_hidden() {
        let response =
            Response::from_errors(vec![ServerError::new("Data `X` does not exist.", None)]);
        let response = finish_response(response, None);
        assert_eq!(response.errors[0].message, "internal error");
        assert_eq!(code_of(&response.errors[0]), Some("INTERNAL"));
    }

    #[test]
    fn coded_errors_keep_their_code() {
        let mut error = ServerError::new("nope", None);
        set_code(&mut error, ErrorCode::Forbidden);
        let response = finish_response(Response::from_errors(vec![error]), None);
        assert_eq!(response.errors[0].message, "nope");
        assert_eq!(code_of(&response.errors[0]), Some("FORBIDDEN"));
    }
}
