//! The protocol engine of one WebSocket connection as a pure state machine:
//! each input (a text frame, the init deadline, an operation's end) yields
//! [`Action`]s for the driver. No IO, no runtime: unit-tested directly.

use crate::auth::{bearer_secret, Principal, TokenTable};
use crate::error::{ApiError, ErrorCode};
use crate::server::ws::protocol::{
    parse_client_message, ClientMessage, Close, Protocol, ServerMessage,
};
use async_graphql::ServerError;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The message of an UNAUTHENTICATED error over WebSocket: a browser cannot
/// send an `Authorization` header there; the token goes in `connection_init`
/// (the payload fields [`Session`] accepts).
pub const AUTHENTICATION_REQUIRED: &str = "authentication required: over WebSocket, send the \
     token in connection_init's payload: {\"authorization\": \"Bearer <token>\"} (or {\"token\": \"<token>\"})";

/// Gives UNAUTHENTICATED errors the WebSocket way to authenticate as their message.
pub fn explain_authentication(errors: &mut [ServerError]) {
    let unauthenticated = async_graphql::Value::from(ErrorCode::Unauthenticated.as_str());
    for error in errors {
        let code = error.extensions.as_ref().and_then(|e| e.get("code"));
        if code == Some(&unauthenticated) {
            error.message = AUTHENTICATION_REQUIRED.to_string();
        }
    }
}

/// What the driver must do.
#[derive(Debug)]
pub enum Action {
    /// Send a message.
    Send(ServerMessage),
    /// Start executing an operation; `key` tells its end apart from a later reuse of `id`.
    Start {
        /// The client's operation id.
        id: String,
        /// Unique per connection.
        key: u64,
        /// The GraphQL request.
        request: Box<async_graphql::Request>,
        /// Who runs it (`None` = anonymous).
        principal: Option<Principal>,
    },
    /// Stop the operation started with `key`.
    Stop {
        /// The key given in [`Action::Start`].
        key: u64,
    },
    /// Close the connection.
    Close(Close),
}

/// The state of one connection.
pub struct Session {
    protocol: Protocol,
    tokens: Arc<TokenTable>,
    max_subscriptions: usize,
    init_received: bool,
    principal: Option<Principal>,
    active: HashMap<String, u64>,
    next_key: u64,
}

impl Session {
    /// A fresh connection speaking `protocol`, authenticating against `tokens`.
    pub fn new(protocol: Protocol, tokens: Arc<TokenTable>, max_subscriptions: usize) -> Self {
        Session {
            protocol,
            tokens,
            max_subscriptions,
            init_received: false,
            principal: None,
            active: HashMap::new(),
            next_key: 0,
        }
    }

    /// The protocol spoken.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether `connection_ack` was sent.
    pub fn is_acknowledged(&self) -> bool {
        self.init_received
    }

    /// How many operations are active.
    pub fn active_operations(&self) -> usize {
        self.active.len()
    }

    /// The init deadline passed.
    pub fn on_init_timeout(&self) -> Vec<Action> {
        if self.init_received {
            Vec::new()
        } else {
            vec![Action::Close(Close::INIT_TIMEOUT)]
        }
    }

    /// A binary frame arrived (the protocols are text only).
    pub fn on_binary(&self) -> Vec<Action> {
        vec![Action::Close(Close::invalid_message(
            "binary frames are not supported",
        ))]
    }

    /// A text frame arrived.
    pub fn on_text(&mut self, text: &str) -> Vec<Action> {
        let message = match parse_client_message(self.protocol, text) {
            Ok(message) => message,
            Err(reason) => return vec![Action::Close(Close::invalid_message(reason))],
        };
        match message {
            ClientMessage::ConnectionInit { payload } => self.on_init(payload.as_ref()),
            ClientMessage::Ping { payload } => vec![Action::Send(ServerMessage::Pong { payload })],
            ClientMessage::Pong => Vec::new(),
            ClientMessage::Subscribe { id, request } => self.on_subscribe(id, request),
            ClientMessage::Complete { id } => match self.active.remove(&id) {
                Some(key) => vec![Action::Stop { key }],
                None => Vec::new(),
            },
            ClientMessage::Terminate => vec![Action::Close(Close::NORMAL)],
        }
    }

    /// The operation started with `key` ended by itself (`failed`: it sent an `error`).
    pub fn on_operation_end(&mut self, id: &str, key: u64, failed: bool) -> Vec<Action> {
        if self.active.get(id) != Some(&key) {
            return Vec::new(); // stopped by the client, or the id was reused since
        }
        self.active.remove(id);
        if failed {
            Vec::new()
        } else {
            vec![Action::Send(ServerMessage::Complete { id: id.to_string() })]
        }
    }

    fn on_init(&mut self, payload: Option<&Value>) -> Vec<Action> {
        if self.init_received {
            return vec![Action::Close(Close::TOO_MANY_INIT)];
        }
        match self.authenticate(payload) {
            Ok(principal) => {
                self.init_received = true;
                self.principal = principal;
                let mut actions = vec![Action::Send(ServerMessage::ConnectionAck)];
                if self.protocol == Protocol::LegacyWs {
                    actions.push(Action::Send(ServerMessage::KeepAlive));
                }
                actions
            }
            Err(err) => {
                let mut actions = Vec::new();
                if self.protocol == Protocol::LegacyWs {
                    actions.push(Action::Send(ServerMessage::ConnectionError {
                        message: err.message(),
                    }));
                }
                actions.push(Action::Close(Close::FORBIDDEN));
                actions
            }
        }
    }

    /// The principal of an init payload: none without credentials, an error for a bad token.
    fn authenticate(&self, payload: Option<&Value>) -> Result<Option<Principal>, ApiError> {
        let field = |name: &str| payload.and_then(|p| p.get(name));
        let secret = if let Some(value) = field("authorization").or_else(|| field("Authorization"))
        {
            value.as_str().and_then(bearer_secret)
        } else if let Some(value) = field("token") {
            value.as_str()
        } else {
            return Ok(None);
        };
        secret
            .and_then(|s| self.tokens.authenticate(s))
            .cloned()
            .map(Some)
            .ok_or(ApiError::InvalidToken)
    }

    fn on_subscribe(&mut self, id: String, request: Box<async_graphql::Request>) -> Vec<Action> {
        if !self.init_received {
            return vec![Action::Close(Close::UNAUTHORIZED)];
        }
        if self.active.contains_key(&id) {
            return vec![Action::Close(Close::duplicate_subscriber(&id))];
        }
        if self.active.len() >= self.max_subscriptions {
            let err = ApiError::limit(format!(
                "at most {} subscriptions per connection",
                self.max_subscriptions
            ));
            let mut error = ServerError::new(err.message(), None);
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", ErrorCode::Limit.as_str());
            return vec![Action::Send(ServerMessage::Error {
                id,
                errors: vec![error],
            })];
        }
        let key = self.next_key;
        self.next_key += 1;
        self.active.insert(id.clone(), key);
        vec![Action::Start {
            id,
            key,
            request,
            principal: self.principal.clone(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::ErrorExtensions;
    use opsledger_domain::Role;

    fn session(protocol: Protocol) -> Session {
        let mut tokens = TokenTable::new();
        tokens
            .insert("good", Principal::new("alice", vec![Role::Viewer]))
            .unwrap();
        Session::new(protocol, Arc::new(tokens), 2)
    }

    fn close_code(actions: &[Action]) -> Option<u16> {
        actions.iter().find_map(|a| match a {
            Action::Close(c) => Some(c.code),
            _ => None,
        })
    }

    const SUB: &str = r#"{"type":"subscribe","id":"ID","payload":{"query":"subscription { events { position } }"}}"#;

    fn subscribe(s: &mut Session, id: &str) -> Vec<Action> {
        s.on_text(&SUB.replace("ID", id))
    }

    #[test]
    fn init_with_a_good_token_acks_and_sets_the_principal() {
        let mut s = session(Protocol::TransportWs);
        let actions =
            s.on_text(r#"{"type":"connection_init","payload":{"authorization":"Bearer good"}}"#);
        assert!(matches!(
            actions[..],
            [Action::Send(ServerMessage::ConnectionAck)]
        ));
        let actions = subscribe(&mut s, "1");
        assert!(
            matches!(&actions[..], [Action::Start { principal: Some(p), key: 0, .. }] if p.actor.as_str() == "alice")
        );
    }

    #[test]
    fn init_with_the_token_field_is_accepted() {
        let mut s = session(Protocol::TransportWs);
        let actions = s.on_text(r#"{"type":"connection_init","payload":{"token":"good"}}"#);
        assert!(matches!(
            actions[..],
            [Action::Send(ServerMessage::ConnectionAck)]
        ));
    }

    #[test]
    fn init_without_credentials_is_anonymous() {
        let mut s = session(Protocol::TransportWs);
        s.on_text(r#"{"type":"connection_init"}"#);
        assert!(matches!(
            &subscribe(&mut s, "1")[..],
            [Action::Start {
                principal: None,
                ..
            }]
        ));
    }

    #[test]
    fn bad_token_closes_4403() {
        let mut s = session(Protocol::TransportWs);
        let actions = s.on_text(r#"{"type":"connection_init","payload":{"token":"bad"}}"#);
        assert_eq!(close_code(&actions), Some(4403));
    }

    #[test]
    fn legacy_bad_token_sends_connection_error_then_closes() {
        let mut s = session(Protocol::LegacyWs);
        let actions = s.on_text(r#"{"type":"connection_init","payload":{"token":"bad"}}"#);
        assert!(matches!(
            actions[0],
            Action::Send(ServerMessage::ConnectionError { .. })
        ));
        assert_eq!(close_code(&actions), Some(4403));
    }

    #[test]
    fn subscribe_before_ack_closes_4401() {
        let mut s = session(Protocol::TransportWs);
        assert_eq!(close_code(&subscribe(&mut s, "1")), Some(4401));
    }

    #[test]
    fn second_init_closes_4429() {
        let mut s = session(Protocol::TransportWs);
        s.on_text(r#"{"type":"connection_init"}"#);
        assert_eq!(
            close_code(&s.on_text(r#"{"type":"connection_init"}"#)),
            Some(4429)
        );
    }

    #[test]
    fn duplicate_id_closes_4409() {
        let mut s = session(Protocol::TransportWs);
        s.on_text(r#"{"type":"connection_init"}"#);
        subscribe(&mut s, "1");
        assert_eq!(close_code(&subscribe(&mut s, "1")), Some(4409));
    }

    #[test]
    fn init_timeout_closes_4408_only_before_ack() {
        let mut s = session(Protocol::TransportWs);
        assert_eq!(close_code(&s.on_init_timeout()), Some(4408));
        s.on_text(r#"{"type":"connection_init"}"#);
        assert!(s.on_init_timeout().is_empty());
    }

    #[test]
    fn subscription_over_the_limit_gets_a_limit_error() {
        let mut s = session(Protocol::TransportWs);
        s.on_text(r#"{"type":"connection_init"}"#);
        subscribe(&mut s, "1");
        subscribe(&mut s, "2");
        let actions = subscribe(&mut s, "3");
        let [Action::Send(ServerMessage::Error { id, errors })] = &actions[..] else {
            panic!("expected an error message, got {actions:?}");
        };
        assert_eq!(id, "3");
        let code = errors[0]
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .cloned();
        assert_eq!(code, Some(async_graphql::Value::from("LIMIT")));
        assert_eq!(s.active_operations(), 2);
    }

    #[test]
    fn complete_stops_and_frees_the_id() {
        let mut s = session(Protocol::TransportWs);
        s.on_text(r#"{"type":"connection_init"}"#);
        subscribe(&mut s, "1");
        let actions = s.on_text(r#"{"type":"complete","id":"1"}"#);
        assert!(matches!(actions[..], [Action::Stop { key: 0 }]));
        // The stopped operation's late end notice neither completes nor frees the reused id.
        assert!(matches!(
            &subscribe(&mut s, "1")[..],
            [Action::Start { key: 1, .. }]
        ));
        assert!(s.on_operation_end("1", 0, false).is_empty());
        assert_eq!(s.active_operations(), 1);
    }

    #[test]
    fn operation_end_sends_complete_unless_it_failed() {
        let mut s = session(Protocol::TransportWs);
        s.on_text(r#"{"type":"connection_init"}"#);
        subscribe(&mut s, "1");
        subscribe(&mut s, "2");
        assert!(
            matches!(&s.on_operation_end("1", 0, false)[..], [Action::Send(ServerMessage::Complete { id })] if id == "1")
        );
        assert!(s.on_operation_end("2", 1, true).is_empty());
        assert_eq!(s.active_operations(), 0);
    }

    #[test]
    fn unauthenticated_errors_name_the_connection_init_payload() {
        let mut errors = vec![
            ApiError::Unauthenticated
                .extend()
                .into_server_error(Default::default()),
            ApiError::limit("x")
                .extend()
                .into_server_error(Default::default()),
        ];
        explain_authentication(&mut errors);
        assert_eq!(errors[0].message, AUTHENTICATION_REQUIRED);
        assert!(AUTHENTICATION_REQUIRED.contains(r#"{"authorization": "Bearer <token>"}"#));
        assert_eq!(errors[1].message, "limit exceeded: x");
        // The payload the message names is the one authenticate accepts.
        let mut s = session(Protocol::TransportWs);
        let actions =
            s.on_text(r#"{"type":"connection_init","payload":{"authorization":"Bearer good"}}"#);
        assert!(matches!(
            actions[..],
            [Action::Send(ServerMessage::ConnectionAck)]
        ));
    }

    #[test]
    fn ping_is_answered_with_pong_and_invalid_json_closes_4400() {
        let mut s = session(Protocol::TransportWs);
        assert!(matches!(
            s.on_text(r#"{"type":"ping"}"#)[..],
            [Action::Send(ServerMessage::Pong { payload: None })]
        ));
        assert_eq!(close_code(&s.on_text("{")), Some(4400));
    }
}
