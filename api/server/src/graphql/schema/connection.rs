//! Relay cursor connections over the projections' pages: page arguments
//! (`first`/`last` clamped to 1..=100 by [`clamp_page`], opaque `after` /
//! `before` cursors) and the conversion of a [`Page`] into a connection with
//! `totalCount`. The read models page forward only, so `last` walks the list
//! forward up to `before` and keeps the tail.

use crate::error::ApiError;
use crate::limits::clamp_page;
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{OutputType, SimpleObject};
use opsledger_projections::pagination::{Edge as PageEdge, Page, PageRequest, MAX_PAGE_SIZE};
use opsledger_projections::ProjectionError;
use std::collections::VecDeque;

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

/// Relay page arguments of a list field.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    /// Items from the start (after `after`).
    pub first: Option<i32>,
    /// Cursor to continue after.
    pub after: Option<String>,
    /// Items from the end (before `before`).
    pub last: Option<i32>,
    /// Cursor to stop before.
    pub before: Option<String>,
}

impl PageArgs {
    /// One page of the list that `list` pages forward.
    pub fn fetch<T>(
        &self,
        list: impl Fn(&PageRequest) -> Result<Page<T>, ProjectionError>,
    ) -> Result<Page<T>, ApiError> {
        let backward = self.last.is_some() || self.before.is_some();
        if backward && (self.first.is_some() || self.after.is_some()) {
            return Err(ApiError::validation(
                "last",
                "use first/after or last/before, not both",
            ));
        }
        if !backward {
            return list(&page_request(self.first, self.after.clone())).map_err(list_error);
        }
        let size = clamp_page(None, self.last);
        tail(list, size, self.before.as_deref())
    }
}

/// The last `size` items before `before` (or the end), walking forward.
fn tail<T>(
    list: impl Fn(&PageRequest) -> Result<Page<T>, ProjectionError>,
    size: usize,
    before: Option<&str>,
) -> Result<Page<T>, ApiError> {
    let mut kept: VecDeque<PageEdge<T>> = VecDeque::with_capacity(size + 1);
    let mut dropped = false;
    let mut request = PageRequest {
        first: Some(MAX_PAGE_SIZE),
        after: None,
    };
    let mut total_count = None;
    loop {
        let page = list(&request).map_err(list_error)?;
        total_count = total_count.or(page.total_count);
        let next = page.has_next_page;
        for edge in page.edges {
            if before == Some(edge.cursor.as_str()) {
                return Ok(tail_page(kept, dropped, true, total_count));
            }
            request.after = Some(edge.cursor.clone());
            kept.push_back(edge);
            if kept.len() > size {
                kept.pop_front();
                dropped = true;
            }
        }
        if !next {
            break;
        }
    }
    match before {
        Some(_) => Err(ApiError::validation("before", "not a cursor of this list")),
        None => Ok(tail_page(kept, dropped, false, total_count)),
    }
}

fn tail_page<T>(
    kept: VecDeque<PageEdge<T>>,
    has_previous_page: bool,
    has_next_page: bool,
    total_count: Option<u64>,
) -> Page<T> {
    Page {
        edges: kept.into(),
        has_next_page,
        has_previous_page,
        total_count,
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

    fn numbers(request: &PageRequest) -> Result<Page<u32>, ProjectionError> {
        let start = request
            .after
            .as_deref()
            .map_or(0, |c| c.parse::<u32>().unwrap_or(0) + 1);
        let end = (start + request.limit() as u32).min(250);
        Ok(Page {
            edges: (start..end)
                .map(|n| PageEdge {
                    cursor: n.to_string(),
                    node: n,
                })
                .collect(),
            has_next_page: end < 250,
            has_previous_page: start > 0,
            total_count: Some(250),
        })
    }

    fn nodes(page: &Page<u32>) -> Vec<u32> {
        page.nodes().copied().collect()
    }

    #[test]
    fn last_takes_the_tail_before_the_cursor_across_pages() {
        let args = PageArgs {
            last: Some(3),
            ..PageArgs::default()
        };
        let page = args.fetch(numbers).map_err(|e| e.code()).unwrap();
        assert_eq!(nodes(&page), vec![247, 248, 249]);
        assert!(page.has_previous_page && !page.has_next_page);
        let args = PageArgs {
            last: Some(2),
            before: Some("3".into()),
            ..PageArgs::default()
        };
        let page = args.fetch(numbers).map_err(|e| e.code()).unwrap();
        assert_eq!(nodes(&page), vec![1, 2]);
        assert!(page.has_previous_page && page.has_next_page);
    }

    #[test]
    fn unknown_before_cursor_and_mixed_directions_are_validation_errors() {
        for args in [
            PageArgs {
                before: Some("x".into()),
                ..PageArgs::default()
            },
            PageArgs {
                first: Some(1),
                last: Some(1),
                ..PageArgs::default()
            },
        ] {
            let code = args.fetch(numbers).err().map(|e| e.code());
            assert_eq!(code, Some(crate::error::ErrorCode::Validation));
        }
    }

    #[test]
    fn foreign_cursor_is_a_validation_error() {
        assert_eq!(
            list_error(ProjectionError::InvalidCursor).code(),
            crate::error::ErrorCode::Validation
        );
    }
}
