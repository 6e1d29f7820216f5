//! Protective limits of the API (query shape, batch size, body size, time,
//! page size, WebSocket subscriptions and buffers) and the page-size clamp.

use std::time::Duration;

/// The largest page a connection field returns.
pub const MAX_PAGE: usize = 100;
/// The page size when a client gives neither `first` nor `last`.
pub const DEFAULT_PAGE: usize = 20;

/// Every limit the server enforces; [`Limits::default`] is production.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting of brackets (`{`, `[`, `(`) in a query's text, and of
    /// lists/objects in its variables; checked before parsing (the parser and
    /// validation recurse once per level).
    pub nesting: usize,
    /// Maximum selection depth of a query.
    pub depth: usize,
    /// Maximum selection depth of an introspection-only query in dev mode
    /// (graphql-js's standard introspection query needs 13-15).
    pub introspection_depth: usize,
    /// Maximum complexity (fields, weighted) of a query.
    pub complexity: usize,
    /// Maximum nesting of selection sets, counting fragment spreads.
    pub recursive_depth: usize,
    /// Maximum directives on one field.
    pub directives: usize,
    /// Maximum operations in one batched HTTP request.
    pub batch: usize,
    /// Maximum HTTP request body, and WebSocket frame and message, in bytes.
    pub body_bytes: usize,
    /// Maximum time one HTTP request may take.
    pub request_timeout: Duration,
    /// Maximum active subscriptions per WebSocket connection.
    pub ws_subscriptions: usize,
    /// Outgoing messages buffered per WebSocket before the client counts as slow and is dropped.
    pub ws_outgoing_buffer: usize,
    /// How long an operation waits for room in a full outgoing buffer before the client is dropped.
    pub ws_slow_consumer_grace: Duration,
    /// Time a WebSocket client has to send `connection_init`.
    pub ws_init_timeout: Duration,
    /// Interval of legacy graphql-ws keep-alive (`ka`) messages.
    pub ws_keep_alive: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            nesting: 64,
            depth: 12,
            introspection_depth: 20,
            complexity: 1000,
            recursive_depth: 32,
            directives: 8,
            batch: 10,
            body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            ws_subscriptions: 20,
            ws_outgoing_buffer: 256,
            ws_slow_consumer_grace: Duration::from_secs(5),
            ws_init_timeout: Duration::from_secs(10),
            ws_keep_alive: Duration::from_secs(15),
        }
    }
}

/// The page size for `first`/`last` arguments: `first`, else `last`, else
/// [`DEFAULT_PAGE`], clamped to `1..=MAX_PAGE`.
pub fn clamp_page(first: Option<i32>, last: Option<i32>) -> usize {
    let asked = first.or(last).map_or(DEFAULT_PAGE as i64, i64::from);
    asked.clamp(1, MAX_PAGE as i64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_clamped_to_one_through_a_hundred() {
        assert_eq!(clamp_page(Some(0), None), 1);
        assert_eq!(clamp_page(Some(-5), None), 1);
        assert_eq!(clamp_page(Some(50), None), 50);
        assert_eq!(clamp_page(Some(10_000), None), 100);
        assert_eq!(clamp_page(None, Some(7)), 7);
        assert_eq!(clamp_page(None, None), DEFAULT_PAGE);
    }
}
