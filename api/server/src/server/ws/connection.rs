//! The async driver of one WebSocket connection: reads frames into the
//! [`Session`], runs each operation in its own task, and writes through a
//! bounded outbox. A client whose outbox stays full for the grace period is
//! closed with 1013 "slow consumer"; other connections are never slowed.
//! Control replies have room of their own, so a keep-alive ping during a
//! catch-up is answered instead of counting as overflow. A frame or message
//! over [`Limits::body_bytes`] closes the connection with 1009.

use crate::auth::TokenTable;
use crate::graphql::ApiSchema;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::server::ws::protocol::{Close, Protocol, ServerMessage};
use crate::server::ws::session::{explain_authentication, Action, Session};
use async_graphql::Value;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::task::AbortHandle;

/// How long the writer tries to deliver the close frame to a blocked client.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What every connection shares.
#[derive(Clone)]
pub struct WsContext {
    /// The schema operations run on.
    pub schema: ApiSchema,
    /// The bearer tokens.
    pub tokens: Arc<TokenTable>,
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
    /// The limits (subscriptions, buffer, timeouts).
    pub limits: Limits,
    /// Turns `true` when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
}

/// Control replies (pong, connection_ack, complete, refusals) that may wait
/// unsent at once. They never compete with data for room; a client that
/// leaves this many unread for the grace period is a slow consumer.
const CONTROL_BACKLOG: usize = 64;

enum Outgoing {
    /// A message and the room it takes until written.
    Message(ServerMessage, OwnedSemaphorePermit),
    Close(Close),
}

/// The sending side of a connection, shared by the reader and every operation:
/// one FIFO queue (a `complete` never overtakes its operation's results),
/// with separate room for operation results and for the reader's control replies.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::UnboundedSender<Outgoing>,
    data_room: Arc<Semaphore>,
    control_room: Arc<Semaphore>,
    kill: Arc<watch::Sender<Option<Close>>>,
    grace: Duration,
}

impl Outbox {
    fn new(
        limits: &Limits,
        kill: watch::Sender<Option<Close>>,
    ) -> (Self, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let outbox = Outbox {
            tx,
            data_room: Arc::new(Semaphore::new(limits.ws_outgoing_buffer.max(1))),
            control_room: Arc::new(Semaphore::new(CONTROL_BACKLOG)),
            kill: Arc::new(kill),
            grace: limits.ws_slow_consumer_grace,
        };
        (outbox, rx)
    }

    /// Ends the connection now, skipping queued messages.
    fn kill(&self, close: Close) {
        self.kill.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some(close);
            }
            first
        });
    }

    /// Queues `message` once `room` has space, waiting up to the grace period;
    /// `false` if the connection is gone or the client is slow (then it is killed).
    async fn send_in(&self, room: &Arc<Semaphore>, message: ServerMessage) -> bool {
        let permit = match room.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => return false,
            Err(TryAcquireError::NoPermits) => {
                match tokio::time::timeout(self.grace, room.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_closed)) => return false,
                    Err(_elapsed) => {
                        self.kill(Close::SLOW_CONSUMER);
                        return false;
                    }
                }
            }
        };
        self.tx.send(Outgoing::Message(message, permit)).is_ok()
    }

    /// Queues an operation's result (waits while the client is behind).
    async fn send(&self, message: ServerMessage) -> bool {
        self.send_in(&self.data_room, message).await
    }

    /// Queues a control reply of the reader: never refused for lack of data room.
    async fn reply(&self, message: ServerMessage) -> bool {
        self.send_in(&self.control_room, message).await
    }

    /// Queues a close after the messages already queued (or kills if the client is behind).
    fn close(&self, close: Close) {
        if self.data_room.available_permits() == 0 {
            self.kill(close);
        } else if let Err(err) = self.tx.send(Outgoing::Close(close)) {
            if let Outgoing::Close(close) = err.0 {
                self.kill(close);
            }
        }
    }
}

/// Whether a read failed because the client's frame or message is over the size limit.
fn is_too_big(err: &axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
    std::error::Error::source(err)
        .and_then(|inner| inner.downcast_ref::<WsError>())
        .is_some_and(|e| matches!(e, WsError::Capacity(CapacityError::MessageTooLong { .. })))
}

/// Serves one upgraded connection speaking `protocol` until it closes.
pub async fn run_connection(socket: WebSocket, protocol: Protocol, ctx: WsContext) {
    let _connection = ctx.metrics.ws_connection();
    let (sink, mut stream) = socket.split();
    let (kill_tx, kill_rx) = watch::channel(None);
    let (outbox, rx) = Outbox::new(&ctx.limits, kill_tx);
    let mut writer = tokio::spawn(write_loop(sink, rx, kill_rx, protocol, ctx.metrics.clone()));
    let mut session = Session::new(protocol, ctx.tokens.clone(), ctx.limits.ws_subscriptions);
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel::<(String, u64, bool)>();
    let mut operations: HashMap<u64, AbortHandle> = HashMap::new();
    let init_deadline = tokio::time::sleep(ctx.limits.ws_init_timeout);
    tokio::pin!(init_deadline);
    let mut keep_alive = tokio::time::interval(ctx.limits.ws_keep_alive);
    let mut shutdown = ctx.shutdown.clone();
    let mut writer_done = false;

    loop {
        let actions = tokio::select! {
            _ = &mut init_deadline, if !session.is_acknowledged() => session.on_init_timeout(),
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => session.on_text(text.as_str()),
                Some(Ok(Message::Binary(_))) => session.on_binary(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => Vec::new(),
                Some(Err(err)) if is_too_big(&err) => {
                    vec![Action::Close(Close::message_too_big(ctx.limits.body_bytes))]
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            Some((id, key, failed)) = ended_rx.recv() => {
                operations.remove(&key);
                session.on_operation_end(&id, key, failed)
            }
            _ = keep_alive.tick(), if protocol == Protocol::LegacyWs && session.is_acknowledged() => {
                vec![Action::Send(ServerMessage::KeepAlive)]
            }
            _ = shutdown.changed() => vec![Action::Close(Close::GOING_AWAY)],
            _ = &mut writer => { writer_done = true; break }
        };
        let mut closing = false;
        for action in actions {
            match action {
                Action::Send(message) => {
                    outbox.reply(message).await;
                }
                Action::Start {
                    id,
                    key,
                    request,
                    principal,
                } => {
                    let task = tokio::spawn(run_operation(
                        ctx.clone(),
                        *request,
                        principal,
                        id,
                        key,
                        outbox.clone(),
                        ended_tx.clone(),
                    ));
                    operations.insert(key, task.abort_handle());
                }
                Action::Stop { key } => {
                    if let Some(task) = operations.remove(&key) {
                        task.abort();
                    }
                }
                Action::Close(close) => {
                    outbox.close(close);
                    closing = true;
                }
            }
        }
        if closing {
            break;
        }
    }

    for task in operations.values() {
        task.abort();
    }
    drop(outbox);
    if !writer_done {
        // The writer ends once it sent the close (or every outbox clone is gone).
        if tokio::time::timeout(CLOSE_GRACE * 2, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
    }
}

/// Runs one operation, forwarding its results as `next` (or one `error`).
async fn run_operation(
    ctx: WsContext,
    request: async_graphql::Request,
    principal: Option<crate::auth::Principal>,
    id: String,
    key: u64,
    outbox: Outbox,
    ended: mpsc::UnboundedSender<(String, u64, bool)>,
) {
    let _subscription = ctx.metrics.ws_subscription();
    let mut results = ctx.schema.execute_stream(request.data(principal));
    let mut failed = false;
    while let Some(mut response) = results.next().await {
        explain_authentication(&mut response.errors);
        let message = if response.data == Value::Null && !response.errors.is_empty() {
            failed = true;
            ServerMessage::Error {
                id: id.clone(),
                errors: response.errors,
            }
        } else {
            ServerMessage::Next {
                id: id.clone(),
                payload: Box::new(response),
            }
        };
        if !outbox.send(message).await {
            return;
        }
        if failed {
            break;
        }
    }
    // The reader may be gone already; then nobody needs to know.
    let _ = ended.send((id, key, failed));
}

/// Writes queued messages until a close (queued or killed) or the end of the outbox.
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    mut kill: watch::Receiver<Option<Close>>,
    protocol: Protocol,
    metrics: Arc<Metrics>,
) {
    let close = loop {
        let next = tokio::select! {
            biased;
            // `Err` means every outbox is gone: not a kill, drain the queue.
            Ok(()) = kill.changed() => None,
            next = rx.recv() => next,
        };
        match next {
            None => break kill.borrow().clone(),
            Some(Outgoing::Close(close)) => break Some(close),
            Some(Outgoing::Message(message, room)) => {
                let frame = Message::Text(message.encode(protocol).into());
                tokio::select! {
                    biased;
                    Ok(()) = kill.changed() => break kill.borrow().clone(),
                    sent = sink.send(frame) => if sent.is_err() { return },
                }
                drop(room); // written: its room is free again
            }
        }
    };
    if let Some(close) = close {
        if close == Close::SLOW_CONSUMER {
            tracing::warn!("dropping a slow WebSocket consumer");
            metrics.ws_slow_consumer_dropped();
        }
        let frame = Message::Close(Some(CloseFrame {
            code: close.code,
            reason: close.reason.into_owned().into(),
        }));
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(frame)).await;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
}
