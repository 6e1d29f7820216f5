//! The wire formats of the two GraphQL WebSocket protocols: client messages
//! parsed into one [`ClientMessage`], server messages encoded per protocol,
//! and the close codes of graphql-transport-ws.

use async_graphql::{Response, ServerError};
use serde_json::{json, Value};
use std::borrow::Cow;

/// Which GraphQL-over-WebSocket protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws` (the graphql-ws library; current).
    TransportWs,
    /// `graphql-ws` (legacy subscriptions-transport-ws).
    LegacyWs,
}

impl Protocol {
    /// Sub-protocol names the server accepts, preferred first.
    pub const NAMES: [&'static str; 2] = ["graphql-transport-ws", "graphql-ws"];

    /// The sub-protocols we accept, in the order the client offered them
    /// (`Sec-WebSocket-Protocol` values, comma-separated): RFC 6455 lets the
    /// server choose, and we honour the client's preference, because some clients
    /// (Python gql 4 offers `graphql-ws, graphql-transport-ws`) assume the first
    /// one they offered is chosen.
    pub fn in_client_order<'a>(offered: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
        let mut chosen = Vec::new();
        for name in offered.into_iter().flat_map(|value| value.split(',')) {
            let name = name.trim();
            if let Some(known) = Protocol::NAMES.iter().find(|known| **known == name) {
                if !chosen.contains(known) {
                    chosen.push(*known);
                }
            }
        }
        chosen
    }

    /// The protocol of a negotiated `Sec-WebSocket-Protocol` (none = graphql-transport-ws).
    pub fn from_subprotocol(name: Option<&str>) -> Protocol {
        match name {
            Some("graphql-ws") => Protocol::LegacyWs,
            _ => Protocol::TransportWs,
        }
    }
}

/// A close code and reason sent to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    /// The WebSocket close code.
    pub code: u16,
    /// The human reason.
    pub reason: Cow<'static, str>,
}

impl Close {
    const fn fixed(code: u16, reason: &'static str) -> Close {
        Close {
            code,
            reason: Cow::Borrowed(reason),
        }
    }

    /// 4400: the message is not valid for the protocol.
    pub fn invalid_message(reason: impl Into<Cow<'static, str>>) -> Close {
        Close {
            code: 4400,
            reason: reason.into(),
        }
    }

    /// 4401: an operation was sent before `connection_ack`.
    pub const UNAUTHORIZED: Close = Close::fixed(4401, "Unauthorized");
    /// 4403: the `connection_init` token is not valid.
    pub const FORBIDDEN: Close = Close::fixed(4403, "Forbidden");
    /// 4408: no `connection_init` in time.
    pub const INIT_TIMEOUT: Close = Close::fixed(4408, "Connection initialisation timeout");
    /// 4429: a second `connection_init`.
    pub const TOO_MANY_INIT: Close = Close::fixed(4429, "Too many initialisation requests");
    /// 1013: the client does not read its messages fast enough.
    pub const SLOW_CONSUMER: Close = Close::fixed(1013, "slow consumer");
    /// 1001: the server is shutting down.
    pub const GOING_AWAY: Close = Close::fixed(1001, "server shutting down");
    /// 1009: a frame or message over `max_bytes`.
    pub fn message_too_big(max_bytes: usize) -> Close {
        Close {
            code: 1009,
            reason: Cow::Owned(format!("message too big: at most {max_bytes} bytes")),
        }
    }
    /// 1000: the client asked to end the connection.
    pub const NORMAL: Close = Close::fixed(1000, "Normal Closure");

    /// 4409: a subscription with this id is already active.
    pub fn duplicate_subscriber(id: &str) -> Close {
        Close {
            code: 4409,
            reason: Cow::Owned(format!("Subscriber for {id} already exists")),
        }
    }
}

/// A client message of either protocol.
#[derive(Debug)]
pub enum ClientMessage {
    /// `connection_init` with its optional payload.
    ConnectionInit {
        /// The payload (`{"authorization": "Bearer X"}` or `{"token": "X"}`).
        payload: Option<Value>,
    },
    /// `ping` (graphql-transport-ws).
    Ping {
        /// Echoed in the pong.
        payload: Option<Value>,
    },
    /// `pong` (graphql-transport-ws).
    Pong,
    /// `subscribe` / legacy `start`.
    Subscribe {
        /// The client's operation id.
        id: String,
        /// The GraphQL request.
        request: Box<async_graphql::Request>,
    },
    /// `complete` / legacy `stop`.
    Complete {
        /// The operation to stop.
        id: String,
    },
    /// Legacy `connection_terminate`.
    Terminate,
}

fn id_of(message: &Value) -> Result<String, Cow<'static, str>> {
    match message.get("id") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        _ => Err("the message needs a non-empty string `id`".into()),
    }
}

/// Parses a text frame; the error is the 4400 close reason.
pub fn parse_client_message(
    protocol: Protocol,
    text: &str,
) -> Result<ClientMessage, Cow<'static, str>> {
    let message: Value = serde_json::from_str(text).map_err(|err| {
        // serde_json refuses JSON nested deeper than its recursion limit (128).
        if err.to_string().starts_with("recursion limit exceeded") {
            Cow::Borrowed("the message nests more than 128 levels deep")
        } else {
            Cow::Borrowed("the message is not JSON")
        }
    })?;
    let kind = message
        .get("type")
        .and_then(Value::as_str)
        .ok_or("the message has no string `type`")?;
    let payload = message.get("payload").filter(|p| !p.is_null()).cloned();
    match (protocol, kind) {
        (_, "connection_init") => Ok(ClientMessage::ConnectionInit { payload }),
        (Protocol::TransportWs, "ping") => Ok(ClientMessage::Ping { payload }),
        (Protocol::TransportWs, "pong") => Ok(ClientMessage::Pong),
        (Protocol::TransportWs, "subscribe") | (Protocol::LegacyWs, "start") => {
            let id = id_of(&message)?;
            let request: async_graphql::Request =
                serde_json::from_value(payload.ok_or("the subscribe message needs a `payload`")?)
                    .map_err(|_| Cow::Borrowed("the payload is not a GraphQL request"))?;
            Ok(ClientMessage::Subscribe {
                id,
                request: Box::new(request),
            })
        }
        (Protocol::TransportWs, "complete") | (Protocol::LegacyWs, "stop") => {
            Ok(ClientMessage::Complete {
                id: id_of(&message)?,
            })
        }
        (Protocol::LegacyWs, "connection_terminate") => Ok(ClientMessage::Terminate),
        (_, other) => Err(Cow::Owned(format!("unknown message type `{other}`"))),
    }
}

/// A server message of either protocol.
#[derive(Debug)]
pub enum ServerMessage {
    /// `connection_ack`.
    ConnectionAck,
    /// `pong` answering a ping.
    Pong {
        /// The ping's payload.
        payload: Option<Value>,
    },
    /// `next` / legacy `data`: one result of an operation.
    Next {
        /// The operation id.
        id: String,
        /// The result.
        payload: Box<Response>,
    },
    /// `error`: the operation failed and ended.
    Error {
        /// The operation id.
        id: String,
        /// Why.
        errors: Vec<ServerError>,
    },
    /// `complete`: the operation ended.
    Complete {
        /// The operation id.
        id: String,
    },
    /// Legacy `ka` keep-alive.
    KeepAlive,
    /// Legacy `connection_error` (sent before closing on a bad init).
    ConnectionError {
        /// Why.
        message: String,
    },
}

impl ServerMessage {
    /// The JSON text of this message in `protocol`.
    pub fn encode(&self, protocol: Protocol) -> String {
        let legacy = protocol == Protocol::LegacyWs;
        let value = match self {
            ServerMessage::ConnectionAck => json!({"type": "connection_ack"}),
            ServerMessage::Pong { payload } => match payload {
                Some(p) => json!({"type": "pong", "payload": p}),
                None => json!({"type": "pong"}),
            },
            ServerMessage::Next { id, payload } => {
                let kind = if legacy { "data" } else { "next" };
                json!({"type": kind, "id": id, "payload": payload})
            }
            ServerMessage::Error { id, errors } => {
                json!({"type": "error", "id": id, "payload": errors})
            }
            ServerMessage::Complete { id } => json!({"type": "complete", "id": id}),
            ServerMessage::KeepAlive => json!({"type": "ka"}),
            ServerMessage::ConnectionError { message } => {
                json!({"type": "connection_error", "payload": {"message": message}})
            }
        };
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subprotocol_follows_the_clients_order_of_preference() {
        assert_eq!(
            Protocol::in_client_order(["graphql-ws, graphql-transport-ws"]),
            ["graphql-ws", "graphql-transport-ws"]
        );
        assert_eq!(
            Protocol::in_client_order(["graphql-transport-ws", "graphql-ws"]),
            ["graphql-transport-ws", "graphql-ws"]
        );
        assert_eq!(
            Protocol::in_client_order(["mqtt, graphql-ws, graphql-ws"]),
            ["graphql-ws"]
        );
        assert!(Protocol::in_client_order(["mqtt"]).is_empty());
    }

    #[test]
    fn subprotocol_selects_the_protocol() {
        assert_eq!(
            Protocol::from_subprotocol(Some("graphql-ws")),
            Protocol::LegacyWs
        );
        assert_eq!(
            Protocol::from_subprotocol(Some("graphql-transport-ws")),
            Protocol::TransportWs
        );
        assert_eq!(Protocol::from_subprotocol(None), Protocol::TransportWs);
    }

    #[test]
    fn legacy_start_and_stop_map_to_subscribe_and_complete() {
        let start = parse_client_message(
            Protocol::LegacyWs,
            r#"{"type":"start","id":"1","payload":{"query":"subscription { x }"}}"#,
        )
        .unwrap();
        assert!(
            matches!(start, ClientMessage::Subscribe { ref id, ref request } if id == "1" && request.query == "subscription { x }")
        );
        let stop = parse_client_message(Protocol::LegacyWs, r#"{"type":"stop","id":"1"}"#).unwrap();
        assert!(matches!(stop, ClientMessage::Complete { ref id } if id == "1"));
    }

    #[test]
    fn invalid_messages_are_refused_with_a_reason() {
        let err = parse_client_message(Protocol::TransportWs, "not json").unwrap_err();
        assert_eq!(err, "the message is not JSON");
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = parse_client_message(Protocol::TransportWs, &deep).unwrap_err();
        assert_eq!(err, "the message nests more than 128 levels deep");
        let err = parse_client_message(Protocol::TransportWs, r#"{"type":"start","id":"1"}"#)
            .unwrap_err();
        assert_eq!(err, "unknown message type `start`");
        let err = parse_client_message(
            Protocol::TransportWs,
            r#"{"type":"subscribe","payload":{"query":"{a}"}}"#,
        )
        .unwrap_err();
        assert_eq!(err, "the message needs a non-empty string `id`");
    }

    #[test]
    fn next_is_data_in_the_legacy_protocol() {
        let msg = ServerMessage::Next {
            id: "7".into(),
            payload: Box::new(Response::new(async_graphql::Value::Null)),
        };
        assert_eq!(
            msg.encode(Protocol::TransportWs),
            r#"{"id":"7","payload":{"data":null},"type":"next"}"#
        );
        assert_eq!(
            msg.encode(Protocol::LegacyWs),
            r#"{"id":"7","payload":{"data":null},"type":"data"}"#
        );
    }
}
