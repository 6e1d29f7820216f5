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
//! 3. An uncoded error raised after validation passed (execution) is
//!    `INTERNAL`: its message is logged and replaced by `internal error`.
//!    async-graphql tells input errors from others at execution by message
//!    text only, so every input that can fail there codes itself (1).
//!
//! Every error is counted in the metrics by code.

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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
}

/// Where in a request an error was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before execution: preparing, parsing, validating.
    Checking,
    /// After validation passed.
    Executing,
}

impl Phase {
    fn of(validated: &AtomicBool) -> Self {
        if validated.load(Ordering::Acquire) {
            Phase::Executing
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
            match phase {
                Phase::Checking => set_code(error, ErrorCode::Validation),
                Phase::Executing => {
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
        let phase = Phase::of(&self.validated);
        finish_response(response, phase, ctx.data_opt::<Arc<Metrics>>().map(Arc::as_ref))
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let metrics = ctx.data_opt::<Arc<Metrics>>().cloned();
        let validated = self.validated.clone();
        next.run(ctx, stream)
            .map(move |response| {
                finish_response(response, Phase::of(&validated), metrics.as_deref())
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
        next.run(ctx, query, variables).await.map_err(|e| {
            tag_checking(vec![e])
                .pop()
                .unwrap_or_else(|| ServerError::new("invalid query", None))
        })
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
        for text in ["Query is too complex.", "Unknown field \"nope\" on type \"Query\"."] {
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
        let response = finish_response(response, Phase::Executing, None);
        assert_eq!(response.errors[0].message, "internal error");
        assert_eq!(code_of(&response.errors[0]), Some("INTERNAL"));
    }

    #[test]
    fn coded_errors_keep_their_code() {
        let mut error = ServerError::new("nope", None);
        set_code(&mut error, ErrorCode::Forbidden);
        for phase in [Phase::Checking, Phase::Executing] {
            let response =
                finish_response(Response::from_errors(vec![error.clone()]), phase, None);
            assert_eq!(response.errors[0].message, "nope");
            assert_eq!(code_of(&response.errors[0]), Some("FORBIDDEN"));
        }
    }
}
