//! The one table from every API error to its wire form: a stable
//! `extensions.code` and a human message.
//!
//! Resolvers return `async_graphql::Result<T>` and use `?` on [`ApiError`]:
//! the `From<ApiError> for async_graphql::Error` conversion below always
//! attaches the code. [`ApiError`] deliberately does not implement `Display`,
//! so async-graphql's blanket `From<impl Display>` (which would drop the code)
//! can never be picked by accident.

use async_graphql::ErrorExtensions;
use opsledger_domain::Role;
use std::error::Error as StdError;

/// A boxed cause of an internal error (logged, never shown to a client).
pub type InternalCause = Box<dyn StdError + Send + Sync + 'static>;

/// The stable codes a client can branch on (`extensions.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No or an unknown bearer token where one is needed.
    Unauthenticated,
    /// The actor lacks the role the operation needs.
    Forbidden,
    /// The named entity does not exist.
    NotFound,
    /// An input failed to parse or validate (including GraphQL validation).
    Validation,
    /// A concurrency conflict (wrong expected version): re-read and retry.
    Conflict,
    /// The idempotency key was already used by this actor for another operation or other
    /// arguments: send a new key for a new request.
    IdempotencyKeyReused,
    /// A business rule rejected the command.
    RuleViolation,
    /// A protective limit was hit (depth, complexity, batch, body, subscriptions).
    Limit,
    /// The HTTP request itself is malformed or uses the wrong method.
    BadRequest,
    /// The server is not ready or is shutting down: retry later.
    Unavailable,
    /// Something broke on the server; details are in the server log only.
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and metrics.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Validation,
        ErrorCode::Conflict,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::RuleViolation,
        ErrorCode::Limit,
        ErrorCode::BadRequest,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The wire string of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Validation => "VALIDATION",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ErrorCode::RuleViolation => "RULE_VIOLATION",
            ErrorCode::Limit => "LIMIT",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

/// Every error the API layer hands to a client.
#[derive(Debug)]
pub enum ApiError {
    /// No bearer token was presented for an operation that needs one.
    Unauthenticated,
    /// A bearer token was presented but matches no configured token.
    InvalidToken,
    /// The authenticated actor lacks `role`.
    Forbidden {
        /// The actor who asked.
        actor: String,
        /// The role that was needed.
        role: Role,
    },
    /// An entity of kind `what` with id `id` does not exist.
    NotFound {
        /// The kind of entity (`incident`, `change`, ...).
        what: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// The input `field` is invalid for `reason`.
    Validation {
        /// The input field (GraphQL argument path) that failed.
        field: String,
        /// Why it failed.
        reason: String,
    },
    /// The stream moved on since the client read it.
    Conflict {
        /// What the client expected and what was found, for a person.
        detail: String,
    },
    /// The idempotency key was used before for another request.
    IdempotencyKeyReused {
        /// The key.
        key: String,
        /// The operation it was first used for.
        first_operation: String,
    },
    /// A business rule rejected the command.
    RuleViolation(opsledger_domain::DomainError),
    /// A protective limit was exceeded.
    Limit {
        /// Which limit, for a person (e.g. `at most 20 subscriptions per connection`).
        detail: String,
    },
    /// The HTTP request is malformed or uses the wrong method.
    BadRequest {
        /// What is wrong, for a person.
        detail: String,
    },
    /// The server cannot serve the request now (not ready, shutting down).
    Unavailable,
    /// A server-side failure; its cause is logged, never sent.
    Internal(InternalCause),
}

impl ApiError {
    /// An internal error wrapping `cause`.
    pub fn internal(cause: impl Into<InternalCause>) -> Self {
        ApiError::Internal(cause.into())
    }

    /// A limit error with a human description of the limit.
    pub fn limit(detail: impl Into<String>) -> Self {
        ApiError::Limit {
            detail: detail.into(),
        }
    }

    /// A validation error on `field`.
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Unauthenticated | ApiError::InvalidToken => ErrorCode::Unauthenticated,
            ApiError::Forbidden { .. } => ErrorCode::Forbidden,
            ApiError::NotFound { .. } => ErrorCode::NotFound,
            ApiError::Validation { .. } => ErrorCode::Validation,
            ApiError::Conflict { .. } => ErrorCode::Conflict,
            ApiError::IdempotencyKeyReused { .. } => ErrorCode::IdempotencyKeyReused,
            ApiError::RuleViolation(opsledger_domain::DomainError::Invalid { .. }) => {
                ErrorCode::Validation
            }
            // A client instant beyond the clock skew is bad input, not a lifecycle rule.
            ApiError::RuleViolation(
                opsledger_domain::DomainError::Incident(
                    opsledger_domain::incident::IncidentError::DetectedInFuture,
                )
                | opsledger_domain::DomainError::Alert(
                    opsledger_domain::alert::AlertError::StartedInFuture,
                ),
            ) => ErrorCode::Validation,
            ApiError::RuleViolation(_) => ErrorCode::RuleViolation,
            ApiError::Limit { .. } => ErrorCode::Limit,
            ApiError::BadRequest { .. } => ErrorCode::BadRequest,
            ApiError::Unavailable => ErrorCode::Unavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message a client sees (never the cause of an internal error).
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated => {
                "authentication required: send `Authorization: Bearer <token>`".to_string()
            }
            ApiError::InvalidToken => "the bearer token is not valid".to_string(),
            ApiError::Forbidden { actor, role } => {
                format!("actor `{actor}` lacks the role `{}`", role.as_str())
            }
            ApiError::NotFound { what, id } => format!("{what} `{id}` not found"),
            ApiError::Validation { field, reason } => format!("invalid `{field}`: {reason}"),
            ApiError::Conflict { detail } => format!("conflict: {detail}; re-read and retry"),
            ApiError::IdempotencyKeyReused {
                key,
                first_operation,
            } => format!(
                "idempotency key `{key}` was already used for {first_operation} with other arguments; send a new key for a new request"
            ),
            ApiError::RuleViolation(rule) => rule.to_string(),
            ApiError::Limit { detail } => format!("limit exceeded: {detail}"),
            ApiError::BadRequest { detail } => format!("bad request: {detail}"),
            ApiError::Unavailable => "the server is not ready; retry later".to_string(),
            ApiError::Internal(_) => "internal error".to_string(),
        }
    }

    /// Logs an internal error's cause chain (other errors are the client's business).
    fn log_if_internal(&self) {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = %cause_chain(cause.as_ref()), "internal error");
        }
    }
}

/// `cause: source: source ...` on one line, for logs.
pub fn cause_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Builds a GraphQL error with `message` and `extensions.code`.
pub fn coded_error(code: ErrorCode, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code.as_str()))
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        self.log_if_internal();
        coded_error(self.code(), self.message())
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        err.extend()
    }
}

impl From<opsledger_domain::DomainError> for ApiError {
    fn from(err: opsledger_domain::DomainError) -> Self {
        ApiError::RuleViolation(err)
    }
}

impl From<crate::app::AppError> for ApiError {
    fn from(err: crate::app::AppError) -> Self {
        use crate::app::AppError as E;
        match err {
            E::Forbidden { actor, role } => ApiError::Forbidden { actor, role },
            E::Domain(rule) => ApiError::RuleViolation(rule),
            E::NotFound { what, id } => ApiError::NotFound { what, id },
            E::Invalid { field, reason } => ApiError::Validation { field, reason },
            conflict @ (E::Conflict { .. } | E::IdempotencyConflict { .. }) => ApiError::Conflict {
                detail: conflict.to_string(),
            },
            E::IdempotencyKeyReused {
                key,
                first_operation,
            } => ApiError::IdempotencyKeyReused {
                key,
                first_operation,
            },
            E::TooLarge { detail } => ApiError::Limit { detail },
            E::ProjectionLag { .. } | E::WorkflowLag { .. } => ApiError::Unavailable,
            infra @ (E::Store(_) | E::Projection(_) | E::Decode { .. }) => {
                ApiError::internal(infra)
            }
        }
    }
}

/// The `{"errors": [...]}` body of a request refused before GraphQL execution.
pub fn error_body(err: &ApiError) -> serde_json::Value {
    err.log_if_internal();
    serde_json::json!({
        "errors": [{ "message": err.message(), "extensions": { "code": err.code().as_str() } }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(err: &async_graphql::Error) -> Option<String> {
        let ext = err.extensions.as_ref()?;
        match ext.get("code")? {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    #[test]
    fn question_mark_in_a_resolver_keeps_the_code() {
        fn resolver() -> async_graphql::Result<()> {
            Err(ApiError::Forbidden {
                actor: "alice".into(),
                role: Role::Admin,
            })?;
            Ok(())
        }
        let err = resolver().unwrap_err();
        assert_eq!(code_of(&err).as_deref(), Some("FORBIDDEN"));
        assert_eq!(err.message, "actor `alice` lacks the role `admin`");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err: async_graphql::Error =
            ApiError::internal(std::io::Error::other("disk on fire")).into();
        assert_eq!(err.message, "internal error");
        assert_eq!(code_of(&err).as_deref(), Some("INTERNAL"));
    }

    #[test]
    fn every_code_has_a_distinct_wire_string() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn cause_chain_joins_sources() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("append failed")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let err = Outer(std::io::Error::other("no space left"));
        assert_eq!(cause_chain(&err), "append failed: no space left");
    }
}

/// Every `AppError` has its wire code (the one table is `From<AppError> for ApiError`).
#[cfg(test)]
mod app_error_codes {
    use crate::app::AppError;
    use crate::error::{ApiError, ErrorCode};
    use opsledger_domain::DomainError;
    use opsledger_domain::Role;
    use opsledger_storage::ExpectedVersion;
    use opsledger_storage::StoreError;

    fn code(err: AppError) -> ErrorCode {
        ApiError::from(err).code()
    }

    #[test]
    fn wrong_expected_version_and_reused_keys_are_conflicts() {
        let wrong = StoreError::WrongExpectedVersion {
            stream_id: "incident-x".into(),
            expected: ExpectedVersion::Exact(3),
            actual: Some(5),
        };
        let app = AppError::from(wrong);
        assert!(matches!(
            &app,
            AppError::Conflict {
                expected: Some(3),
                actual: Some(5),
                ..
            }
        ));
        assert_eq!(code(app), ErrorCode::Conflict);
        let reused = StoreError::IdempotencyConflict {
            command_id: "k".into(),
        };
        assert_eq!(code(AppError::from(reused)), ErrorCode::Conflict);
    }

    #[test]
    fn domain_errors_map_to_rule_violation_or_validation() {
        let rule = opsledger_domain::incident::IncidentError::NotResolved;
        assert_eq!(
            code(AppError::Domain(rule.into())),
            ErrorCode::RuleViolation
        );
        let invalid = DomainError::Invalid {
            field: "title",
            reason: "must not be empty",
        };
        assert_eq!(code(AppError::Domain(invalid)), ErrorCode::Validation);
    }

    #[test]
    fn a_missing_role_is_forbidden_with_the_actor_and_role_named() {
        let err = ApiError::from(AppError::Forbidden {
            actor: "vic".into(),
            role: Role::Approver,
        });
        assert_eq!(err.code(), ErrorCode::Forbidden);
        assert_eq!(err.message(), "actor `vic` lacks the role `approver`");
    }

    #[test]
    fn missing_entities_lag_and_infrastructure_have_their_codes() {
        assert_eq!(
            code(AppError::not_found("incident", "x")),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(AppError::ProjectionLag { position: 9 }),
            ErrorCode::Unavailable
        );
        assert_eq!(
            code(AppError::WorkflowLag { position: 9 }),
            ErrorCode::Unavailable
        );
        let io = StoreError::WritesStopped {
            reason: "disk".into(),
        };
        assert_eq!(code(AppError::from(io)), ErrorCode::Internal);
    }
}
