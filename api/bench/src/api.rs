//! `opsledger bench api`: end-to-end load against an in-process server on
//! loopback (port 0, temporary data directory), bounded in count and time.
//!
//! - Mutations: each op is `declareIncident` + `acknowledgeIncident` +
//!   `resolveIncident` over HTTP; mutations/s and p50/p99 per mutation at
//!   1, 16 and 64 concurrent clients.
//! - Fan-out: N WebSocket subscribers (graphql-transport-ws) to `statusPage`,
//!   then N to `events`; a mutation is sent and the time until each
//!   subscriber receives its next message is measured (p50/p99/max), plus
//!   RSS delta / N (client and server both live in this process).
//! - Stream length: `addIncidentNote` p50/p99 on incident streams of 10 to 100k
//!   events, with the aggregate cache and without it, in the same run ([`streams`]).

use crate::app::workflow::WorkflowRunner;
use crate::app::{AppService, SystemClock};
use crate::auth::{Principal, TokenTable};
use crate::server::{Readiness, RunningServer, ServerConfig};
use crate::SharedStore;
use futures::{SinkExt, StreamExt};
use opsledger_domain::Role;
use opsledger_projections::{ProjectionRunner, ReadModels, RunnerConfig};
use opsledger_storage::{SledEventStore, StoreConfig};
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// The bench's only token (admin: every mutation and subscription).
const TOKEN: &str = "bench-api-admin-secret";
/// How long one fan-out round may wait for every subscriber.
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);
/// WebSocket connections opened at the same time while subscribing.
const CONNECT_PARALLELISM: usize = 64;

mod streams;

pub use streams::{StreamFigures, StreamLength};

/// One part of the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiBenchSection {
    /// Mutations at each concurrency level.
    Mutations,
    /// Subscription fan-out.
    Fanout,
    /// Command latency by stream length, with and without the aggregate cache.
    Streams,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct ApiBenchOptions {
    /// Run only this part (`None`: every part).
    pub only: Option<ApiBenchSection>,
    /// Concurrent clients of each mutation level.
    pub concurrency: Vec<usize>,
    /// Ops (declare + acknowledge + resolve) per level at most.
    pub ops_per_level: usize,
    /// Time per level at most.
    pub level_time: Duration,
    /// WebSocket subscribers per subscription kind.
    pub subscribers: usize,
    /// Measured mutations per subscription kind.
    pub fanout_rounds: usize,
    /// Events per incident stream of the stream-length part.
    pub stream_lengths: Vec<u64>,
    /// Measured notes per stream length and server (cached, uncached).
    pub stream_samples: usize,
}

impl ApiBenchOptions {
    fn runs(&self, section: ApiBenchSection) -> bool {
        self.only.is_none_or(|only| only == section)
    }
}

impl Default for ApiBenchOptions {
    fn default() -> Self {
        ApiBenchOptions {
            only: None,
            concurrency: vec![1, 16, 64],
            ops_per_level: 2000,
            level_time: Duration::from_secs(10),
            subscribers: 5000,
            fanout_rounds: 5,
            stream_lengths: vec![10, 1_000, 10_000, 100_000],
            stream_samples: 100,
        }
    }
}

/// Why the benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiBenchError {
    /// The in-process server could not be set up.
    #[error("setup: {0}")]
    Setup(String),
    /// A request failed or was refused.
    #[error("request: {0}")]
    Request(String),
    /// A WebSocket subscriber failed.
    #[error("websocket: {0}")]
    WebSocket(String),
}

/// Latency figures in milliseconds.
#[derive(Clone, Debug, Serialize, Default)]
pub struct Latency {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl Latency {
    /// Percentiles of `samples` (sorted here).
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[i].as_secs_f64() * 1000.0
        };
        if samples.is_empty() {
            return Latency::default();
        }
        Latency {
            count: samples.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// One mutation concurrency level.
#[derive(Clone, Debug, Serialize)]
pub struct MutationLevel {
    /// Concurrent clients.
    pub clients: usize,
    /// Ops completed (3 mutations each).
    pub ops: usize,
    /// Mutations per second.
    pub mutations_per_sec: f64,
    /// Per-mutation latency.
    pub latency: Latency,
}

/// One fan-out measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Fanout {
    /// The subscription.
    pub subscription: String,
    /// Subscribers.
    pub subscribers: usize,
    /// Mutation-to-delivery time over every subscriber and round.
    pub latency: Latency,
    /// Deliveries that did not arrive within the round timeout.
    pub missed: usize,
    /// Seconds to open and subscribe every subscriber.
    pub connect_secs: f64,
    /// RSS growth per subscriber (client + server in this process), KiB.
    pub rss_per_subscriber_kib: f64,
}

/// Every figure, under `api`.
#[derive(Clone, Debug, Serialize)]
pub struct ApiFigures {
    /// p99 per mutation at 16 clients.
    pub mutation_p99_ms: f64,
    /// p99 mutation-to-delivery of `statusPage`.
    pub fanout_p99_ms: f64,
    /// Subscribers of each fan-out.
    pub fanout_subscribers: usize,
    /// p99 mutation-to-delivery of `events`.
    pub events_fanout_p99_ms: f64,
    /// RSS per `statusPage` subscriber, KiB.
    pub rss_per_subscriber_kib: f64,
    /// The open-file soft limit the run had.
    pub nofile_limit: u64,
    /// Every mutation level.
    pub mutation_levels: Vec<MutationLevel>,
    /// Every fan-out.
    pub fanouts: Vec<Fanout>,
    /// Command latency by stream length, with and without the aggregate cache.
    pub streams: StreamFigures,
}

/// The report (`{"api": {...}}` as JSON).
#[derive(Clone, Debug, Serialize)]
pub struct ApiBenchReport {
    /// The figures.
    pub api: ApiFigures,
}

impl fmt::Display for ApiBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.api;
        if !a.mutation_levels.is_empty() {
            writeln!(
                f,
                "mutations (op = declare + acknowledge + resolve, over HTTP):"
            )?;
        }
        for l in &a.mutation_levels {
            writeln!(
                f,
                "  {:>3} clients: {:>8.0} mutations/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  ({} ops)",
                l.clients, l.mutations_per_sec, l.latency.p50_ms, l.latency.p99_ms, l.latency.max_ms, l.ops
            )?;
        }
        if !a.fanouts.is_empty() {
            writeln!(f, "fan-out (mutation -> delivery at every subscriber):")?;
        }
        for x in &a.fanouts {
            writeln!(
                f,
                "  {:<11} {:>5} subscribers: p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  missed {}  connect {:.1} s  {:.1} KiB/subscriber",
                x.subscription, x.subscribers, x.latency.p50_ms, x.latency.p99_ms, x.latency.max_ms,
                x.missed, x.connect_secs, x.rss_per_subscriber_kib
            )?;
        }
        if !a.streams.lengths.is_empty() {
            writeln!(
                f,
                "addIncidentNote by stream length (over HTTP; cache = aggregate cache, warm):"
            )?;
            for l in &a.streams.lengths {
                writeln!(
                    f,
                    "  {:>7} events ({:>3} streams): cache p50 {:>8.2} ms  p99 {:>8.2} ms | no cache p50 {:>8.2} ms  p99 {:>8.2} ms | cold p50 {:>8.2} ms  ({} samples each, {} cache misses)",
                    l.events, l.streams, l.cached.p50_ms, l.cached.p99_ms, l.uncached.p50_ms,
                    l.uncached.p99_ms, l.cold.p50_ms, l.cached.count, l.cached_misses
                )?;
            }
            writeln!(
                f,
                "  longest / shortest p50: cache {:.2}x, no cache {:.2}x",
                a.streams.cached_p50_ratio, a.streams.uncached_p50_ratio
            )?;
        }
        write!(f, "open-file limit: {}", a.nofile_limit)
    }
}

/// The in-process server and a client for it.
struct Target {
    workflows: WorkflowRunner,
    addr: SocketAddr,
    client: reqwest::Client,
    service: String,
    server: RunningServer,
    /// The server's application service (its aggregate cache's figures).
    app: Arc<AppService>,
    runner: ProjectionRunner<ReadModels>,
    store: Arc<SledEventStore>,
    _dir: tempfile::TempDir,
}

/// Runs the whole benchmark.
pub async fn run_api_bench(options: ApiBenchOptions) -> Result<ApiBenchReport, ApiBenchError> {
    let nofile_limit = ensure_nofile(2 * options.subscribers as u64 + 512);
    let target = Target::start().await?;
    let mut mutation_levels = Vec::new();
    if options.runs(ApiBenchSection::Mutations) {
        for &clients in &options.concurrency {
            mutation_levels.push(mutation_level(&target, clients, &options).await?);
        }
    }
    let status_query = "subscription { statusPage { overall activeIncidents { id status } } }";
    let events_query = "subscription { events(fromPosition: 1000000000) { position } }";
    let mut fanouts = Vec::new();
    let fanout_queries = if options.runs(ApiBenchSection::Fanout) {
        vec![("statusPage", status_query), ("events", events_query)]
    } else {
        Vec::new()
    };
    for (name, query) in fanout_queries {
        let query = if name == "events" {
            let head = target.store_head() + 1;
            query.replace("1000000000", &head.to_string())
        } else {
            query.to_owned()
        };
        fanouts.push(fanout(&target, name, &query, &options).await?);
    }
    let streams = if options.runs(ApiBenchSection::Streams) && !options.stream_lengths.is_empty() {
        streams::stream_lengths(&target, &options.stream_lengths, options.stream_samples).await?
    } else {
        StreamFigures::default()
    };
    target.stop().await;
    let level16 = mutation_levels
        .iter()
        .find(|l| l.clients == 16)
        .or(mutation_levels.last());
    let status = fanouts.first();
    Ok(ApiBenchReport {
        api: ApiFigures {
            mutation_p99_ms: level16.map_or(0.0, |l| l.latency.p99_ms),
            fanout_p99_ms: status.map_or(0.0, |x| x.latency.p99_ms),
            fanout_subscribers: options.subscribers,
            events_fanout_p99_ms: fanouts.get(1).map_or(0.0, |x| x.latency.p99_ms),
            rss_per_subscriber_kib: status.map_or(0.0, |x| x.rss_per_subscriber_kib),
            nofile_limit,
            mutation_levels,
            fanouts,
            streams,
        },
    })
}

impl Target {
    async fn start() -> Result<Self, ApiBenchError> {
        let setup = |e: &dyn fmt::Display| ApiBenchError::Setup(e.to_string());
        let dir = tempfile::tempdir().map_err(|e| setup(&e))?;
        let store = Arc::new(
            SledEventStore::open(dir.path().join("log"), StoreConfig::default())
                .await
                .map_err(|e| setup(&e))?,
        );
        let shared: SharedStore = store.clone();
        let runner = ProjectionRunner::<ReadModels>::start(
            shared.clone(),
            dir.path().join("projections"),
            RunnerConfig::default(),
        )
        .await
        .map_err(|e| setup(&e))?;
        let app = Arc::new(AppService::new(
            shared.clone(),
            runner.handle(),
            Arc::new(SystemClock),
        ));
        let workflows = WorkflowRunner::start(app.clone(), None);
        let mut tokens = TokenTable::new();
        tokens
            .insert(TOKEN, Principal::new("bench", vec![Role::Admin]))
            .map_err(|e| setup(&e))?;
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let server = RunningServer::start(
            loopback,
            shared,
            app.clone(),
            Arc::new(tokens),
            Readiness::with_projections(runner.handle().position_receiver()),
            ServerConfig::default(),
        )
        .await
        .map_err(|e| setup(&e))?;
        let mut target = Target {
            addr: server.addr,
            client: reqwest::Client::new(),
            service: String::new(),
            server,
            app,
            runner,
            workflows,
            store,
            _dir: dir,
        };
        let data = target
            .graphql(
                "mutation($input: ServiceInput!) { registerService(input: $input) { id } }",
                json!({"input": {"name": "bench-edge", "ownerTeam": "bench", "tier": 1,
                    "sloTargetPercent": 99.9,
                    "escalationPolicy": [{"target": "bench", "ackTimeoutSecs": 3600}]}}),
            )
            .await?;
        target.service = string_at(&data, &["registerService", "id"])?;
        Ok(target)
    }

    fn store_head(&self) -> u64 {
        opsledger_storage::EventStore::head_position(self.store.as_ref()).unwrap_or(0)
    }

    /// One GraphQL request; the `data` or a `Request` error naming the error code.
    async fn graphql(&self, query: &str, variables: Value) -> Result<Value, ApiBenchError> {
        self.graphql_at(self.addr, query, variables).await
    }

    /// [`Target::graphql`] to the server at `addr`.
    async fn graphql_at(
        &self,
        addr: SocketAddr,
        query: &str,
        variables: Value,
    ) -> Result<Value, ApiBenchError> {
        let response = self
            .client
            .post(format!("http://{addr}/graphql"))
            .bearer_auth(TOKEN)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .map_err(|e| ApiBenchError::Request(e.to_string()))?;
        let body: Value = response
            .json()
            .await
            .map_err(|e| ApiBenchError::Request(e.to_string()))?;
        if !body["errors"].is_null() {
            return Err(ApiBenchError::Request(body["errors"].to_string()));
        }
        Ok(body["data"].clone())
    }

    /// Declares an incident on the bench service; its id.
    async fn declare(&self, title: &str) -> Result<String, ApiBenchError> {
        let data = self
            .graphql(
                "mutation($input: DeclareIncidentInput!) { declareIncident(input: $input) { id } }",
                json!({"input": {"title": title, "severity": "SEV2",
                    "impacts": [{"service": self.service, "level": "DEGRADED"}]}}),
            )
            .await?;
        string_at(&data, &["declareIncident", "id"])
    }

    async fn acknowledge(&self, id: &str) -> Result<(), ApiBenchError> {
        self.graphql(
            "mutation($id: ID!) { acknowledgeIncident(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await
        .map(drop)
    }

    async fn resolve(&self, id: &str) -> Result<(), ApiBenchError> {
        self.graphql(
            "mutation($id: ID!) { resolveIncident(id: $id, summary: \"bench\") { id } }",
            json!({ "id": id }),
        )
        .await
        .map(drop)
    }

    /// declare + acknowledge + resolve, returning the three latencies.
    async fn op(&self, n: usize) -> Result<[Duration; 3], ApiBenchError> {
        let t0 = Instant::now();
        let id = self.declare(&format!("bench incident {n}")).await?;
        let t1 = Instant::now();
        self.acknowledge(&id).await?;
        let t2 = Instant::now();
        self.resolve(&id).await?;
        Ok([t1 - t0, t2 - t1, t2.elapsed()])
    }

    async fn stop(self) {
        let _ = self.server.shutdown().await;
        self.workflows.shutdown().await;
        let _ = self.runner.shutdown().await;
        let _ = opsledger_storage::EventStore::flush_and_stop(self.store.as_ref()).await;
    }
}

fn string_at(data: &Value, path: &[&str]) -> Result<String, ApiBenchError> {
    let mut at = data;
    for key in path {
        at = &at[*key];
    }
    at.as_str()
        .map(str::to_owned)
        .ok_or_else(|| ApiBenchError::Request(format!("no {} in {data}", path.join("."))))
}

/// `clients` tasks doing ops until `ops_per_level` are done or `level_time` passed.
async fn mutation_level(
    target: &Target,
    clients: usize,
    options: &ApiBenchOptions,
) -> Result<MutationLevel, ApiBenchError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let deadline = started + options.level_time;
    let workers = (0..clients).map(|_| async {
        let mut samples = Vec::new();
        loop {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n >= options.ops_per_level || Instant::now() >= deadline {
                return Ok::<_, ApiBenchError>(samples);
            }
            samples.extend(target.op(n).await?);
        }
    });
    let results = futures::future::join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut samples = Vec::new();
    for result in results {
        samples.extend(result?);
    }
    Ok(MutationLevel {
        clients,
        ops: samples.len() / 3,
        mutations_per_sec: samples.len() as f64 / elapsed.max(1e-9),
        latency: Latency::of(samples),
    })
}

/// A subscriber's message: who, and when it arrived.
type Delivery = (usize, Instant);

/// Opens one graphql-transport-ws subscriber, waits for its first message, then
/// reports the arrival of every later message on `tx` until the socket closes.
async fn subscriber(
    addr: SocketAddr,
    index: usize,
    query: String,
    tx: mpsc::UnboundedSender<Delivery>,
    stop: tokio::sync::watch::Receiver<bool>,
    initial: bool,
) -> Result<tokio::task::JoinHandle<()>, ApiBenchError> {
    let ws_err = |e: &dyn fmt::Display| ApiBenchError::WebSocket(e.to_string());
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .map_err(|e| ws_err(&e))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| ws_err(&e))?;
    let init =
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {TOKEN}")}});
    ws.send(Message::Text(init.to_string().into()))
        .await
        .map_err(|e| ws_err(&e))?;
    let subscribe = json!({"type": "subscribe", "id": "1", "payload": {"query": query}});
    ws.send(Message::Text(subscribe.to_string().into()))
        .await
        .map_err(|e| ws_err(&e))?;
    // connection_ack, then (for statusPage) the page as of now.
    let wanted = if initial { 2 } else { 1 };
    let mut seen = 0;
    while seen < wanted {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                if text.contains("\"error\"") || text.contains("\"complete\"") {
                    return Err(ApiBenchError::WebSocket(text.to_string()));
                }
                seen += 1;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(ws_err(&e)),
            None => return Err(ApiBenchError::WebSocket("closed while subscribing".into())),
        }
    }
    Ok(tokio::spawn(async move {
        let mut stop = stop;
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) if text.contains("\"next\"") => {
                        if tx.send((index, Instant::now())).is_err() {
                            break;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
            }
        }
        let _ = ws.close(None).await;
    }))
}

/// Opens `options.subscribers` subscribers of `query`, then measures rounds of one mutation each.
async fn fanout(
    target: &Target,
    name: &str,
    query: &str,
    options: &ApiBenchOptions,
) -> Result<Fanout, ApiBenchError> {
    let n = options.subscribers;
    let rss_before = rss_kib();
    let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let connect_started = Instant::now();
    let initial = name == "statusPage";
    let opened: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            subscriber(
                target.addr,
                i,
                query.to_owned(),
                tx.clone(),
                stop_rx.clone(),
                initial,
            )
        })
        .buffer_unordered(CONNECT_PARALLELISM)
        .collect()
        .await;
    let mut tasks = Vec::with_capacity(n);
    for result in opened {
        tasks.push(result?);
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    let rss_per_subscriber_kib = rss_kib().saturating_sub(rss_before) as f64 / n.max(1) as f64;
    let mut samples = Vec::with_capacity(n * options.fanout_rounds);
    let mut missed = 0;
    for round in 0..options.fanout_rounds {
        // Drain stragglers of the previous round.
        tokio::time::sleep(Duration::from_millis(300)).await;
        while rx.try_recv().is_ok() {}
        let mut got = vec![false; n];
        let mut count = 0;
        let t0 = Instant::now();
        target.declare(&format!("fan-out {name} {round}")).await?;
        let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
        while count < n {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((i, at))) => {
                    if !got[i] {
                        got[i] = true;
                        count += 1;
                        samples.push(at.saturating_duration_since(t0));
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        missed += n - count;
    }
    stop_tx.send_replace(true);
    for task in tasks {
        let _ = task.await;
    }
    Ok(Fanout {
        subscription: name.to_owned(),
        subscribers: n,
        latency: Latency::of(samples),
        missed,
        connect_secs,
        rss_per_subscriber_kib,
    })
}

/// VmRSS of this process, KiB (0 where /proc is missing).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The open-file (soft, hard) limits from /proc/self/limits.
fn nofile_limits() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut numbers = line["Max open files".len()..].split_whitespace();
    let parse = |v: Option<&str>| match v? {
        "unlimited" => Some(u64::MAX),
        v => v.parse().ok(),
    };
    Some((parse(numbers.next())?, parse(numbers.next())?))
}

/// Raises the open-file soft limit to the hard limit when `needed` is above it.
///
/// The crate forbids `unsafe`, so instead of calling setrlimit(2) through libc
/// this runs `prlimit --pid <self>` (util-linux; same user, so allowed).
/// Returns the soft limit in force afterwards.
fn ensure_nofile(needed: u64) -> u64 {
    let Some((soft, hard)) = nofile_limits() else {
        return 0;
    };
    if soft >= needed || soft >= hard {
        return soft;
    }
    let status = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={hard}:{hard}"))
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        tracing::warn!(
            soft,
            needed,
            "could not raise the open-file limit: run `ulimit -n {needed}` first"
        );
    }
    nofile_limits().map_or(soft, |(soft, _)| soft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_percentiles_pick_nearest_rank() {
        let samples = (1..=100).map(Duration::from_millis).collect();
        let l = Latency::of(samples);
        assert_eq!(
            (l.count, l.p50_ms, l.p99_ms, l.max_ms),
            (100, 50.0, 99.0, 100.0)
        );
        assert_eq!(Latency::of(Vec::new()).count, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tiny_run_reports_every_op_and_every_delivery() {
        let options = ApiBenchOptions {
            only: None,
            concurrency: vec![1, 2],
            ops_per_level: 4,
            level_time: Duration::from_secs(30),
            subscribers: 3,
            fanout_rounds: 2,
            stream_lengths: vec![600, 3],
            stream_samples: 3,
        };
        let report = run_api_bench(options).await.expect("bench");
        let levels: Vec<_> = report
            .api
            .mutation_levels
            .iter()
            .map(|l| (l.clients, l.ops))
            .collect();
        assert_eq!(levels, vec![(1, 4), (2, 4)]);
        assert_eq!(report.api.fanout_subscribers, 3);
        for fanout in &report.api.fanouts {
            assert_eq!(
                (fanout.latency.count, fanout.missed),
                (6, 0),
                "{}",
                fanout.subscription
            );
        }
        let lengths: Vec<_> = report
            .api
            .streams
            .lengths
            .iter()
            .map(|l| {
                let counts = (l.cached.count, l.uncached.count, l.cold.count);
                (l.events, counts, l.cached_misses)
            })
            .collect();
        // 3 events: 20 * 3 samples over 3-event streams is 20 streams, each warmed up once.
        assert_eq!(lengths, vec![(3, (3, 3, 20), 0), (600, (3, 3, 1), 0)]);
        let json = serde_json::to_value(&report).expect("json");
        assert!(json["api"]["streams"]["cached_p50_ratio"].is_number());
        assert!(json["api"]["mutation_p99_ms"].is_number());
        assert!(json["api"]["fanout_p99_ms"].is_number());
    }
}
