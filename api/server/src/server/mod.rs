//! The axum server: shared state, the router (GraphQL over HTTP and
//! WebSocket, GraphiQL in dev, health, readiness, metrics) with its
//! protective layers, and running it with graceful shutdown.

pub mod alert_routing;
pub mod caller;
pub mod graphiql;
pub mod graphql_http;
pub mod media;
pub mod online_backup;
pub mod ops;
pub mod status_page;
pub mod webhook;
pub mod ws;

use crate::app::AppService;
use crate::auth::TokenTable;
use crate::graphql::{build_schema, ApiSchema, SchemaOptions};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::server::ws::connection::WsContext;
use crate::SharedStore;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

pub use ops::Readiness;

/// How the server is configured (beyond the store and tokens).
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// Development mode: GraphiQL, introspection and suggestions on.
    pub dev: bool,
    /// Every limit.
    pub limits: Limits,
    /// Where Alertmanager alerts without a usable `service` label go.
    pub alert_routing: alert_routing::AlertRouting,
    /// The sled store whose size and fsync counters `/metrics` shows (none: not shown).
    pub store_probe: crate::metrics::StoreProbe,
    /// The node's Merkle log, served by the audit fields (none: they answer UNAVAILABLE).
    pub transparency: Option<opsledger_transparency::Transparency>,
}

struct Inner {
    schema: ApiSchema,
    store: SharedStore,
    app: Arc<AppService>,
    tokens: Arc<TokenTable>,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    config: ServerConfig,
    shutdown: watch::Receiver<bool>,
}

/// What every handler shares (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The token table, for the [`caller::Caller`] extractor.
impl axum::extract::FromRef<AppState> for Arc<TokenTable> {
    fn from_ref(state: &AppState) -> Self {
        state.0.tokens.clone()
    }
}

impl AppState {
    /// State serving `store` with `tokens`; `shutdown` turns true when the server stops.
    pub fn new(
        store: SharedStore,
        app: Arc<AppService>,
        tokens: Arc<TokenTable>,
        metrics: Arc<Metrics>,
        readiness: Readiness,
        config: ServerConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let options = SchemaOptions {
            dev: config.dev,
            limits: config.limits.clone(),
            transparency: config.transparency.clone(),
        };
        app.attach_metrics(metrics.clone());
        let schema = build_schema(store.clone(), app.clone(), metrics.clone(), &options);
        AppState(Arc::new(Inner {
            schema,
            store,
            app,
            tokens,
            metrics,
            readiness,
            config,
            shutdown,
        }))
    }

    /// The GraphQL schema.
    pub fn schema(&self) -> &ApiSchema {
        &self.0.schema
    }

    /// The event store.
    pub fn store(&self) -> &SharedStore {
        &self.0.store
    }

    /// The application service.
    pub fn app(&self) -> &Arc<AppService> {
        &self.0.app
    }

    /// The bearer tokens.
    pub fn tokens(&self) -> &TokenTable {
        &self.0.tokens
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The readiness hook.
    pub fn readiness(&self) -> &Readiness {
        &self.0.readiness
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    /// What a WebSocket connection needs.
    pub fn ws_context(&self) -> WsContext {
        WsContext {
            schema: self.0.schema.clone(),
            tokens: self.0.tokens.clone(),
            metrics: self.0.metrics.clone(),
            limits: self.0.config.limits.clone(),
            shutdown: self.0.shutdown.clone(),
        }
    }
}

/// The router with every route and layer.
pub fn router(state: AppState) -> Router {
    let limits = &state.config().limits;
    let mut router = Router::new()
        .route(
            "/graphql",
            get(graphql_http::graphql).post(graphql_http::graphql),
        )
        .route("/graphql/ws", get(crate::server::ws::graphql_ws))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route(
            "/webhooks/alertmanager",
            post(webhook::alertmanager_counted),
        )
        .route("/admin/backup", post(online_backup::admin_backup))
        .route("/status", get(status_page::status_page));
    if state.config().dev {
        router = router.route("/graphiql", get(graphiql::graphiql));
    }
    let body_bytes = limits.body_bytes;
    router
        .layer(RequestBodyLimitLayer::new(limits.body_bytes))
        // Outside the limit layer, so that its bare 413 passes through here.
        .layer(axum::middleware::map_response(
            move |response: Response| async move { coded_body_limit(response, body_bytes) },
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// The body-limit layer refuses a declared-too-long body with a bare 413 before any handler
/// runs: give it the same coded LIMIT body as every other refusal.
fn coded_body_limit(response: Response, body_bytes: usize) -> Response {
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE || is_json {
        return response;
    }
    let err = crate::error::ApiError::limit(format!(
        "the request body is larger than {body_bytes} bytes"
    ));
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        axum::Json(crate::error::error_body(&err)),
    )
        .into_response()
}

/// A panic becomes a coded INTERNAL error; the panic message goes to the log only.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic");
    tracing::error!(panic = detail, "a request handler panicked");
    let body = crate::error::error_body(&crate::error::ApiError::internal("handler panicked"));
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A server running in a background task (used by `serve` and the tests).
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Binds `addr` (port 0 picks a free port) and serves the given parts.
    pub async fn start(
        addr: SocketAddr,
        store: SharedStore,
        app: Arc<AppService>,
        tokens: Arc<TokenTable>,
        readiness: Readiness,
        config: ServerConfig,
    ) -> Result<Self, StartError> {
        let metrics = Arc::new(Metrics::new()?);
        let reasons: Vec<&str> = alert_routing::MisrouteReason::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        metrics.declare_misroute_reasons(&reasons);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let (stop, stopped) = watch::channel(false);
        let state = AppState::new(
            store,
            app,
            tokens,
            metrics,
            readiness,
            config,
            stopped.clone(),
        );
        let mut stopped_for_http = stopped;
        let shutdown = async move {
            // Either a stop request or the sender going away ends the server.
            let _ = stopped_for_http.wait_for(|stop| *stop).await;
        };
        let task = tokio::spawn(serve(listener, router(state), shutdown));
        Ok(RunningServer { addr, stop, task })
    }

    /// Stops accepting, closes WebSockets (1001) and waits for open requests to finish.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.stop.send_replace(true);
        match self.task.await {
            Ok(result) => result,
            Err(join) => Err(std::io::Error::other(join)),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another process using it?)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The metrics could not be registered.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
}
