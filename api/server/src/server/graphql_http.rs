//! GraphQL over HTTP: `POST /graphql` (single or batched, `application/json`
//! only), `GET /graphql` (queries only), and GraphiQL in dev mode.

use crate::error::{error_body, ApiError};
use crate::graphql::nesting::check_nesting;
use crate::server::media::{check_body_type, response_media, ResponseMedia};
use crate::server::AppState;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Request};
use async_graphql_axum::{rejection::GraphQLRejection, GraphQLBatchRequest};
use axum::extract::{FromRequest, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// serde_json's recursion limit (its default): deeper JSON bodies are refused.
const JSON_NESTING: usize = 128;

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
    if text.contains("recursion limit exceeded") {
        let err = ApiError::limit(format!(
            "the request body's JSON nests more than {JSON_NESTING} levels deep"
        ));
        return refuse(StatusCode::BAD_REQUEST, err, state);
    }
    refuse(
        StatusCode::BAD_REQUEST,
        ApiError::BadRequest { detail: text },
        state,
    )
}

/// Whether executing `request` would run a mutation.
fn selects_mutation(request: &mut Request, nesting: usize) -> bool {
    if check_nesting(&request.query, nesting).is_err() {
        return false; // too deep to parse here: the schema's guard refuses it
    }
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
fn operation_labels(batch: &mut BatchRequest, nesting: usize) -> (&'static str, Option<String>) {
    let BatchRequest::Single(request) = batch else {
        return ("batch", Some("batch".into()));
    };
    if check_nesting(&request.query, nesting).is_err() {
        return ("invalid", None); // too deep to parse here: the schema's guard refuses it
    }
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
pub async fn graphql(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    state.metrics().http_request();
    let method = request.method().clone();
    let headers = request.headers().clone();
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if method == Method::POST {
        if let Err(unsupported) = check_body_type(header_text(header::CONTENT_TYPE)) {
            let err = ApiError::BadRequest {
                detail: unsupported.describe(),
            };
            return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, err, &state);
        }
    }
    let media = response_media(header_text(header::ACCEPT));
    let mut batch =
        match GraphQLBatchRequest::<GraphQLRejection>::from_request(request, &state).await {
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
    let nesting = state.config().limits.nesting;
    if method == Method::GET && batch.iter_mut().any(|r| selects_mutation(r, nesting)) {
        let err = ApiError::BadRequest {
            detail: "mutations must be sent with POST".to_string(),
        };
        return refuse(StatusCode::METHOD_NOT_ALLOWED, err, &state);
    }
    let (operation_type, operation_name) = operation_labels(&mut batch, nesting);
    let started = std::time::Instant::now();
    let response = state.schema().execute_batch(batch.data(principal)).await;
    state
        .metrics()
        .observe_request(operation_type, operation_name.as_deref(), started.elapsed());
    graphql_response(response, media)
}

/// The HTTP response of an executed batch, as `media`.
fn graphql_response(response: BatchResponse, media: ResponseMedia) -> Response {
    let body = match serde_json::to_string(&response) {
        Ok(body) => body,
        Err(err) => {
            let err = ApiError::internal(err);
            return (StatusCode::INTERNAL_SERVER_ERROR, Json(error_body(&err))).into_response();
        }
    };
    let mut http = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(media.content_type()),
        )],
        body,
    )
        .into_response();
    if response.is_ok() {
        let cache_control = response.cache_control().value();
        if let Some(value) = cache_control.and_then(|v| HeaderValue::from_str(&v).ok()) {
            http.headers_mut().insert(header::CACHE_CONTROL, value);
        }
    }
    http.headers_mut().extend(response.http_headers());
    http
}
