//! End-to-end test harness: [`spawn_app`] starts a real opsledger server on
//! `127.0.0.1:0` over a fresh temporary data directory, with one token per
//! role, and offers one helper per operation (GraphQL over HTTP, WebSocket
//! clients, appending events straight to the store).
//!
//! Set `TEST_LOG=1` to see the server's logs while a test runs.
#![warn(missing_docs)]

pub mod golden_log;
pub mod server_process;

use futures::{SinkExt, StreamExt};
use opsledger_api::app::{AppService, CacheBounds};
use opsledger_api::auth::{Principal, TokenTable};
use opsledger_api::limits::Limits;
use opsledger_api::node::{Node, NodeConfig, TransparencySettings};
use opsledger_api::server::ServerConfig;
use opsledger_domain::Role;
use opsledger_storage::{
    AppendOutcome, AppendRequest, EventStore, ExpectedVersion, NewEvent, SledEventStore, Ulid,
};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod fuzz;

/// Token of `vera`, role viewer.
pub const VIEWER_TOKEN: &str = "test-viewer-secret";
/// Token of `rita`, role responder (which also grants viewer).
pub const RESPONDER_TOKEN: &str = "test-responder-secret";
/// Token of `root`, role admin.
pub const ADMIN_TOKEN: &str = "test-admin-secret";
/// Token of `carl`, role change_manager.
pub const CHANGE_MANAGER_TOKEN: &str = "test-change-manager-secret";
/// Token of `ann`, role approver.
pub const APPROVER_TOKEN: &str = "test-approver-secret";
/// Token of `abe`, role approver.
pub const APPROVER2_TOKEN: &str = "test-approver2-secret";
/// Token of `cora`, roles change_manager and approver (to test segregation of duties).
pub const MANAGER_APPROVER_TOKEN: &str = "test-manager-approver-secret";

/// Token of `nora`, who holds no role at all (authenticated, may read nothing).
pub const NO_ROLE_TOKEN: &str = "test-no-role-secret";

/// How long a helper waits for a message before failing the test.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running server over a temporary data directory.
pub struct TestApp {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// The server's event store (append to it directly to feed subscriptions).
    pub store: Arc<SledEventStore>,
    /// The server's application service (in-process commands and read models).
    pub app: Arc<AppService>,
    /// An HTTP client.
    pub client: reqwest::Client,
    node: Option<Node>,
    /// The data directory (removed on drop).
    pub data_dir: tempfile::TempDir,
}

/// The test tokens: viewer, responder and admin.
pub fn test_tokens() -> TokenTable {
    let mut tokens = TokenTable::new();
    for (secret, actor, roles) in [
        (VIEWER_TOKEN, "vera", vec![Role::Viewer]),
        (RESPONDER_TOKEN, "rita", vec![Role::Responder]),
        (ADMIN_TOKEN, "root", vec![Role::Admin]),
        (NO_ROLE_TOKEN, "nora", vec![]),
        (CHANGE_MANAGER_TOKEN, "carl", vec![Role::ChangeManager]),
        (APPROVER_TOKEN, "ann", vec![Role::Approver]),
        (APPROVER2_TOKEN, "abe", vec![Role::Approver]),
        (
            MANAGER_APPROVER_TOKEN,
            "cora",
            vec![Role::ChangeManager, Role::Approver],
        ),
    ] {
        tokens
            .insert(secret, Principal::new(actor, roles))
            .expect("distinct test tokens");
    }
    tokens
}

/// Production limits, except a short WebSocket init timeout (200 ms) and slow-consumer grace.
pub fn test_limits() -> Limits {
    Limits {
        ws_init_timeout: Duration::from_millis(200),
        ws_slow_consumer_grace: Duration::from_millis(500),
        ..Limits::default()
    }
}

fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_test_writer()
            .try_init();
    }
}

/// Starts a production-mode server with [`test_limits`].
pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServerConfig {
        dev: false,
        limits: test_limits(),
        ..ServerConfig::default()
    })
    .await
}

/// Starts a server with `config`.
pub async fn spawn_app_with(config: ServerConfig) -> TestApp {
    spawn_app_in(tempfile::tempdir().expect("temp dir"), config).await
}

/// Starts a server with `config` over the data directory `data_dir` (new or used before).
pub async fn spawn_app_in(data_dir: tempfile::TempDir, config: ServerConfig) -> TestApp {
    start_node(data_dir, test_tokens(), config, None).await
}

/// Starts a server the way `serve --demo` does: the demo fixtures of `cfg`
/// loaded through the real application service, the demo tokens
/// (`demo-responder`, `demo-approver`, `demo-admin`) and dev mode.
pub async fn spawn_demo_app(cfg: opsledger_fixtures::FixtureConfig) -> TestApp {
    let config = ServerConfig {
        dev: true,
        limits: Limits::default(),
        ..ServerConfig::default()
    };
    let data_dir = tempfile::tempdir().expect("temp dir");
    start_node(data_dir, TokenTable::new(), config, Some(cfg)).await
}

/// A node built by the composition root `serve` uses ([`Node::start`]), without the
/// escalation engine (tests drive escalation ticks themselves).
async fn start_node(
    data_dir: tempfile::TempDir,
    tokens: TokenTable,
    config: ServerConfig,
    demo: Option<opsledger_fixtures::FixtureConfig>,
) -> TestApp {
    init_test_logging();
    let node = Node::start(NodeConfig {
        data: data_dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        tokens,
        server: config,
        demo,
        aggregate_cache: CacheBounds::default(),
        escalation_tick: None,
        transparency: test_transparency(),
    })
    .await
    .expect("start the node");
    TestApp {
        addr: node.addr,
        store: node.store.clone(),
        app: node.app.clone(),
        client: reqwest::Client::new(),
        node: Some(node),
        data_dir,
    }
}

/// The Merkle log settings of test nodes: a checkpoint every 20 events or 200 ms, so
/// tests see checkpoints without waiting 10 s.
pub fn test_transparency() -> TransparencySettings {
    TransparencySettings {
        every_events: 20,
        every: std::time::Duration::from_millis(200),
        ..TransparencySettings::default()
    }
}

/// `extensions.code` of the first error of a GraphQL response body.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

impl TestApp {
    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs a GraphQL request; returns the status and the JSON body.
    pub async fn graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST /graphql");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GETs a GraphQL query; returns the status and the JSON body.
    pub async fn graphql_get(&self, token: Option<&str>, query: &str) -> (u16, Value) {
        let mut request = self
            .client
            .get(self.url("/graphql"))
            .query(&[("query", query)]);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("GET /graphql");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Appends `count` events of type `type_name` to `stream` in one append.
    pub async fn append(&self, stream: &str, type_name: &str, count: usize) -> AppendOutcome {
        // One append holds at most `APPEND_CHUNK` events, so a large count stays
        // below the store's per-append cap (MAX_APPEND_BYTES): one outcome over all.
        const APPEND_CHUNK: usize = 1000;
        let mut first_position = None;
        let mut last = None;
        let mut written = 0;
        while written < count || last.is_none() {
            let n = APPEND_CHUNK.min(count - written);
            let events = (written..written + n)
                .map(|i| NewEvent {
                    event_id: Ulid::new(),
                    type_name: type_name.to_string(),
                    schema_version: 1,
                    payload: vec![i as u8],
                })
                .collect();
            let outcome = self
                .store
                .append(AppendRequest {
                    stream_id: stream.to_string(),
                    expected: ExpectedVersion::Any,
                    command_id: Ulid::new().to_string(),
                    actor: "test".to_string(),
                    correlation_id: Ulid::new(),
                    causation_id: None,
                    recorded_at_ms: 1_700_000_000_000,
                    events,
                })
                .await
                .expect("append");
            first_position.get_or_insert(outcome.first_position);
            written += n;
            last = Some(outcome);
        }
        let mut outcome = last.expect("at least one append");
        outcome.first_position = first_position.expect("at least one append");
        // Read-your-writes for raw appends too (the projections skip these test events).
        self.app
            .wait_for(outcome.last_position)
            .await
            .expect("projections reach the append");
        outcome
    }

    /// Opens a WebSocket to `/graphql/ws` offering `subprotocol`.
    pub async fn ws(&self, subprotocol: &str) -> WsClient {
        self.ws_with_receive_buffer(subprotocol, None).await
    }

    /// Opens a WebSocket whose socket receive buffer is `receive_buffer` bytes (if given).
    pub async fn ws_with_receive_buffer(
        &self,
        subprotocol: &str,
        receive_buffer: Option<u32>,
    ) -> WsClient {
        let mut request = format!("ws://{}/graphql/ws", self.addr)
            .into_client_request()
            .expect("ws request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(subprotocol).expect("header"),
        );
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        if let Some(bytes) = receive_buffer {
            socket.set_recv_buffer_size(bytes).expect("receive buffer");
        }
        let tcp = socket.connect(self.addr).await.expect("tcp connect");
        let (stream, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp))
            .await
            .expect("ws handshake");
        WsClient { stream }
    }

    /// A graphql-transport-ws connection, initialised with `token` and acknowledged.
    pub async fn ws_ready(&self, token: Option<&str>) -> WsClient {
        let ws = self.ws("graphql-transport-ws").await;
        init(ws, token).await
    }

    /// Like [`TestApp::ws_ready`] with a tiny socket receive buffer (to play a slow client).
    pub async fn ws_ready_small_buffer(&self, token: Option<&str>) -> WsClient {
        let ws = self
            .ws_with_receive_buffer("graphql-transport-ws", Some(4096))
            .await;
        init(ws, token).await
    }

    /// The value of an unlabelled metric from `/metrics` (0 when absent).
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .find_map(|value| value.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Stops the server gracefully.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    /// Stops the server gracefully and starts a production-mode one over the same data
    /// directory (the event log and projection snapshots as the first one left them).
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let TestApp {
            store,
            data_dir,
            app,
            client,
            ..
        } = self;
        drop((app, client, store));
        spawn_app_in(
            data_dir,
            ServerConfig {
                dev: false,
                limits: test_limits(),
                ..ServerConfig::default()
            },
        )
        .await
    }

    /// Stops the node in reverse order of its start and flushes the log.
    async fn stop(&mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown().await.expect("clean shutdown");
        }
    }
}

async fn init(mut ws: WsClient, token: Option<&str>) -> WsClient {
    let payload = token.map_or(
        json!({}),
        |t| json!({"authorization": format!("Bearer {t}")}),
    );
    ws.send(json!({"type": "connection_init", "payload": payload}))
        .await;
    assert_eq!(ws.next_json().await["type"], "connection_ack");
    ws
}

/// What a WebSocket client received.
#[derive(Debug, PartialEq)]
pub enum WsEvent {
    /// A JSON text message.
    Json(Value),
    /// A close frame with its code and reason.
    Closed(u16, String),
    /// The connection ended without a close frame.
    Ended,
}

/// A WebSocket test client.
pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Sends a JSON message.
    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("ws send");
    }

    /// Sends a `subscribe` of `query` with `variables` under `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"type": "subscribe", "id": id, "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next message, close or end (skipping pings and legacy `ka`), within [`WAIT`].
    pub async fn next_event(&mut self) -> WsEvent {
        loop {
            let frame = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a WebSocket message in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("JSON message");
                    if value["type"] != "ka" {
                        return WsEvent::Json(value);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return frame.map_or(WsEvent::Closed(1005, String::new()), |f| {
                        WsEvent::Closed(u16::from(f.code), f.reason.to_string())
                    })
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return WsEvent::Ended,
            }
        }
    }

    /// The next JSON message; panics on a close.
    pub async fn next_json(&mut self) -> Value {
        match self.next_event().await {
            WsEvent::Json(value) => value,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Reads until the close frame and returns its code (panics if none comes).
    pub async fn close_code(&mut self) -> u16 {
        loop {
            match self.next_event().await {
                WsEvent::Json(_) => continue,
                WsEvent::Closed(code, _) => return code,
                WsEvent::Ended => panic!("the connection ended without a close frame"),
            }
        }
    }
}
