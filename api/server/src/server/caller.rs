//! The caller of an HTTP request, extracted once by [`Caller`] from its
//! `Authorization: Bearer <token>` header for every route that needs to know
//! who asks (GraphQL over HTTP, the Alertmanager webhook, the online backup).
//! A request without the header is anonymous (`Caller(None)`); a header that is
//! not valid UTF-8, not a bearer token or an unknown token is refused with
//! `401` and `UNAUTHENTICATED` ([`CallerRejection`]).
//!
//! The token becomes a principal in one place, [`TokenTable::authenticate`]:
//! [`TokenTable::from_authorization`] calls it for the header here, and the
//! WebSocket `connection_init` (which carries its token in the payload, not
//! a header) calls it too.

use crate::app::{authorize, Operation};
use crate::auth::{Principal, TokenTable};
use crate::error::{error_body, ApiError};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

/// Who sent the request: the principal of its bearer token, `None` if it sent none.
#[derive(Clone, Debug)]
pub struct Caller(pub Option<Principal>);

/// A request whose `Authorization` header names no known bearer token.
#[derive(Debug)]
pub struct CallerRejection(pub ApiError);

impl IntoResponse for CallerRejection {
    fn into_response(self) -> Response {
        (StatusCode::UNAUTHORIZED, Json(error_body(&self.0))).into_response()
    }
}

/// The principal of `headers`' `Authorization` value (`Ok(None)` when absent).
pub fn caller_of(tokens: &TokenTable, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().map_err(|_| ApiError::InvalidToken))
        .transpose()?;
    tokens.from_authorization(value)
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Arc<TokenTable>: FromRef<S>,
{
    type Rejection = CallerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let tokens = Arc::<TokenTable>::from_ref(state);
        caller_of(&tokens, &parts.headers)
            .map(Caller)
            .map_err(CallerRejection)
    }
}

impl Caller {
    /// The caller if the one guard ([`crate::app::authorize`]) lets it do `operation`:
    /// else `401` (anonymous) or `403` (lacking the operation's role).
    pub fn authorize(self, operation: Operation) -> Result<Principal, (StatusCode, ApiError)> {
        let Some(who) = self.0 else {
            return Err((StatusCode::UNAUTHORIZED, ApiError::Unauthenticated));
        };
        match authorize(&who, operation) {
            Ok(()) => Ok(who),
            Err(refused) => Err((StatusCode::FORBIDDEN, ApiError::from(refused))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use opsledger_domain::Role;

    fn tokens() -> TokenTable {
        let mut tokens = TokenTable::new();
        tokens
            .insert("good", Principal::new("alice", vec![Role::Viewer]))
            .unwrap();
        tokens
    }

    fn headers(value: Option<HeaderValue>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    #[test]
    fn the_caller_is_anonymous_without_a_header_and_refused_with_a_bad_one() {
        let tokens = tokens();
        assert!(caller_of(&tokens, &headers(None)).unwrap().is_none());
        let good = headers(Some(HeaderValue::from_static("Bearer good")));
        assert_eq!(caller_of(&tokens, &good).unwrap().unwrap().actor.0, "alice");
        for bad in [
            HeaderValue::from_static("Bearer nope"),
            HeaderValue::from_static("Basic good"),
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        ] {
            assert!(matches!(
                caller_of(&tokens, &headers(Some(bad))),
                Err(ApiError::InvalidToken)
            ));
        }
    }

    #[test]
    fn authorize_tells_anonymous_from_lacking_the_operations_role() {
        let alice = Principal::new("alice", vec![Role::Viewer]);
        let admin = Principal::new("root", vec![Role::Admin]);
        let anonymous = Caller(None).authorize(Operation::OnlineBackup);
        assert_eq!(anonymous.unwrap_err().0, 401);
        let viewer = Caller(Some(alice)).authorize(Operation::OnlineBackup);
        assert_eq!(viewer.unwrap_err().0, 403);
        assert!(Caller(Some(admin))
            .authorize(Operation::OnlineBackup)
            .is_ok());
    }
}
