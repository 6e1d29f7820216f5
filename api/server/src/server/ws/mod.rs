//! GraphQL over WebSocket at `/graphql/ws`: graphql-transport-ws and the
//! legacy graphql-ws, selected by `Sec-WebSocket-Protocol`.
//!
//! - [`protocol`]: wire messages and close codes.
//! - [`session`]: the pure protocol engine (unit-tested).
//! - [`connection`]: the async driver (tasks, bounded outbox, slow consumers).

pub mod connection;
pub mod protocol;
pub mod session;

use crate::server::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use connection::run_connection;
use protocol::Protocol;

/// Upgrades `GET /graphql/ws` and serves the connection.
pub async fn graphql_ws(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let max_bytes = state.config().limits.body_bytes;
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok());
    let upgrade = upgrade
        .protocols(Protocol::in_client_order(offered))
        .max_frame_size(max_bytes)
        .max_message_size(max_bytes);
    let protocol = Protocol::from_subprotocol(
        upgrade
            .selected_protocol()
            .and_then(|value| value.to_str().ok()),
    );
    let ctx = state.ws_context();
    upgrade.on_upgrade(move |socket| run_connection(socket, protocol, ctx))
}
