//! GraphQL over HTTP: `POST /graphql` (single or batched), `GET /graphql`
//! (queries only), and GraphiQL in dev mode.

use crate::error::{error_body, ApiError};
use crate::server::AppState;
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, Request};
use async_graphql_axum::{rejection::GraphQLRejection, GraphQLBatchRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;

/// A request refused before execution: its status and a coded GraphQL error body.
fn refuse(status: StatusCode, err: ApiError, state: &AppState) -> Response {
    state.metrics().graphql_error(err.code().as_str());
    (status, Json(error_body(&err))).into_response()
}

/// The refusal of a body async-graphql could not read.
fn rejection(rejected: GraphQLRejection, state: &AppState) -> Response {
    let text = rejected.0.to_string();
    if matches!(
        rejected.0,
        async_graphql::ParseRequestError::PayloadTooLarge
    ) || text.contains("length limit exceeded")
    {
        let err = ApiError::limit(format!(
            "the request body is larger than {} bytes",
            state.config().limits.body_bytes
        ));
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, err, state);
    }
    refuse(
        StatusCode::BAD_REQUEST,
        ApiError::BadRequest { detail: text },
        state,
    )
}

/// Whether executing `request` would run a mutation.
fn selects_mutation(request: &mut Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false; // execution reports the parse error
    };
    document.operations.iter().any(|(op_name, op)| {
        op.node.ty == OperationType::Mutation
            && name
                .as_deref()
                .is_none_or(|wanted| op_name.is_some_and(|n| n.as_str() == wanted))
    })
}

/// The metrics labels of a request: its operation's type and name
/// (`batch` for a batch, `invalid` when the document does not parse or names
/// no operation it holds).
fn operation_labels(batch: &mut BatchRequest) -> (&'static str, Option<String>) {
    let BatchRequest::Single(request) = batch else {
        return ("batch", Some("batch".into()));
    };
    let wanted = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return ("invalid", None);
    };
    let chosen = document.operations.iter().find(|(name, _)| match &wanted {
        Some(wanted) => name.is_some_and(|n| n.as_str() == wanted),
        None => true,
    });
    let Some((name, operation)) = chosen else {
        return ("invalid", None);
    };
    let ty = match operation.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    (ty, name.map(|n| n.to_string()))
}

/// `GET|POST /graphql`.
pub async fn graphql(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    request: Result<GraphQLBatchRequest, GraphQLRejection>,
) -> Response {
    state.metrics().http_request();
    let mut batch = match request {
        Ok(request) => request.into_inner(),
        Err(rejected) => return rejection(rejected, &state),
    };
    let authorization = match headers.get(header::AUTHORIZATION).map(|v| v.to_str()) {
        None => None,
        Some(Ok(value)) => Some(value),
        Some(Err(_)) => return refuse(StatusCode::UNAUTHORIZED, ApiError::InvalidToken, &state),
    };
    let principal = match state.tokens().from_authorization(authorization) {
        Ok(principal) => principal,
        Err(err) => return refuse(StatusCode::UNAUTHORIZED, err, &state),
    };
    let max_batch = state.config().limits.batch;
    if let BatchRequest::Batch(requests) = &batch {
        if requests.len() > max_batch {
            let err = ApiError::limit(format!("at most {max_batch} operations per batch"));
            return refuse(StatusCode::BAD_REQUEST, err, &state);
        }
    }
    if method == Method::GET && batch.iter_mut().any(selects_mutation) {
        let err = ApiError::BadRequest {
            detail: "mutations must be sent with POST".to_string(),
        };
        return refuse(StatusCode::METHOD_NOT_ALLOWED, err, &state);
    }
    let (operation_type, operation_name) = operation_labels(&mut batch);
    let started = std::time::Instant::now();
    let response = state.schema().execute_batch(batch.data(principal)).await;
    state
        .metrics()
        .observe_request(operation_type, operation_name.as_deref(), started.elapsed());
    GraphQLResponse::from(response).into_response()
}

/// `GET /graphiql` (dev mode only).
pub async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}
