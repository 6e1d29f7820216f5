//! The GraphQL request path up to validation: parse the document, apply the schema's
//! limits and extensions, validate it (with its variables) against the production schema,
//! and stop before anything executes, so no operation (query, mutation, subscription)
//! has side effects and no store is needed.
//!
//! Input: the document, optionally followed by a NUL byte and the variables as JSON,
//! optionally followed by another NUL byte and the operation name.
//!
//! Rule checked: no panic or stack overflow, and every error carries `extensions.code`.

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{Request, Response, Value, Variables};
use opsledger_api::graphql::{builder, ApiSchema, SchemaOptions};
use std::sync::{Arc, OnceLock};

/// Replaces execution by an empty response: what this harness tests ends at validation.
struct StopBeforeExecution;

impl ExtensionFactory for StopBeforeExecution {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(StopBeforeExecution)
    }
}

#[async_trait::async_trait]
impl Extension for StopBeforeExecution {
    async fn execute(
        &self,
        _ctx: &ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: NextExecute<'_>,
    ) -> Response {
        Response::new(Value::Null)
    }
}

/// The production schema (no data: nothing executes) with execution switched off.
fn schema() -> &'static ApiSchema {
    static SCHEMA: OnceLock<ApiSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        builder(&SchemaOptions::default())
            .extension(StopBeforeExecution)
            .finish()
    })
}

/// The request `input` describes, or `None` if it is to be skipped (not UTF-8).
/// Any nesting is fed in: the schema's guard
/// (`opsledger_api::graphql::nesting::check_nesting`, in [`builder`]) must refuse a
/// deep document with `LIMIT` before the parser's recursion can overflow the stack
/// (issue 12.1; the corpus keeps a 2,000-deep list as `bug-12.1-list-nested-2000`).
fn request_of(input: &[u8]) -> Option<Request> {
    let mut parts = input.splitn(3, |b| *b == 0);
    let document = std::str::from_utf8(parts.next()?).ok()?;
    let mut request = Request::new(document);
    if let Some(variables) = parts.next() {
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(variables) {
            request = request.variables(Variables::from_json(json));
        }
    }
    if let Some(name) = parts.next().and_then(|n| std::str::from_utf8(n).ok()) {
        request = request.operation_name(name);
    }
    Some(request)
}

/// The harness of the `graphql_request` target.
pub fn graphql_request(input: &[u8]) {
    let Some(request) = request_of(input) else {
        return;
    };
    let response = futures::executor::block_on(schema().execute(request));
    for error in &response.errors {
        let code = error.extensions.as_ref().and_then(|e| e.get("code"));
        assert!(
            matches!(code, Some(Value::String(_))),
            "an error without extensions.code: {error:?}"
        );
    }
}
