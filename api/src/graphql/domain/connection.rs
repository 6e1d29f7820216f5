//! Relay cursor connections over the projections' pages: page arguments
//! (`first` clamped to 1..=100 by [`clamp_page`], opaque `after` cursor) and
//! the conversion of a [`Page`] into a connection with `totalCount`.

use crate::error::ApiError;
use crate::limits::clamp_page;
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{OutputType, SimpleObject};
use opsledger_projections::pagination::{Page, PageRequest};
use opsledger_projections::ProjectionError;

/// Extra connection fields.
#[derive(SimpleObject, Clone, Copy, Debug, Default)]
pub struct ConnectionTotals {
    /// How many items the whole filtered list holds, when known.
    pub total_count: Option<u64>,
}

/// A Relay connection with opaque string cursors.
pub type CursorConnection<T> = Connection<String, T, ConnectionTotals, EmptyFields>;

/// The page request for `first` (clamped to 1..=100, default 20) after `after`.
pub fn page_request(first: Option<i32>, after: Option<String>) -> PageRequest {
    PageRequest {
        first: Some(clamp_page(first, None)),
        after,
    }
}

/// A projections list error on the wire: a foreign cursor is VALIDATION on `after`.
pub fn list_error(err: ProjectionError) -> ApiError {
    match err {
        ProjectionError::InvalidCursor => {
            ApiError::validation("after", "not a cursor of this list")
        }
        ProjectionError::InvalidQuery(reason) => ApiError::validation("query", reason),
        other => ApiError::internal(other),
    }
}

/// A page of views as a connection of objects made by `node`.
pub fn to_connection<V, T: OutputType>(
    page: Page<V>,
    mut node: impl FnMut(V) -> T,
) -> CursorConnection<T> {
    let mut connection = Connection::with_additional_fields(
        page.has_previous_page,
        page.has_next_page,
        ConnectionTotals {
            total_count: page.total_count,
        },
    );
    connection.edges.extend(
        page.edges
            .into_iter()
            .map(|e| Edge::new(e.cursor, node(e.node))),
    );
    connection
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_clamped_to_one_hundred() {
        assert_eq!(page_request(Some(1000), None).first, Some(100));
        assert_eq!(page_request(Some(0), None).first, Some(1));
        assert_eq!(
            page_request(None, Some("x".into())).after.as_deref(),
            Some("x")
        );
    }

    #[test]
    fn foreign_cursor_is_a_validation_error() {
        assert_eq!(
            list_error(ProjectionError::InvalidCursor).code(),
            crate::error::ErrorCode::Validation
        );
    }
}
