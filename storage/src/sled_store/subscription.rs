//! Subscriptions: catch up from disk, then follow the broadcast; on lag, back to disk.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use super::Shared;
use crate::error::StoreError;
use crate::event::RecordedEvent;
use crate::store::EventSubscription;

/// Events read from disk per catch-up page.
const CATCH_UP_PAGE: usize = 1024;

enum Mode {
    /// Reading committed events from sled.
    CatchUp,
    /// Following the writer's broadcast.
    Live,
    /// Ended (after an error or when the store stopped).
    Done,
}

struct SubscriptionState {
    shared: Arc<Shared>,
    next: u64,
    buffer: VecDeque<RecordedEvent>,
    live: Option<broadcast::Receiver<Arc<[RecordedEvent]>>>,
    mode: Mode,
}

/// A subscription from `from_position` (inclusive); `live` was taken before any disk read
/// (`None` once the store stopped: then it only catches up and ends).
pub(crate) fn subscribe(
    shared: Arc<Shared>,
    live: Option<broadcast::Receiver<Arc<[RecordedEvent]>>>,
    from_position: u64,
) -> EventSubscription {
    let state = SubscriptionState {
        shared,
        next: from_position,
        buffer: VecDeque::new(),
        live,
        mode: Mode::CatchUp,
    };
    EventSubscription::new(futures::stream::unfold(state, |mut state| async move {
        let item = state.next_item().await?;
        Some((item, state))
    }))
}

impl SubscriptionState {
    /// The next event in order (None: the stream ends).
    async fn next_item(&mut self) -> Option<Result<RecordedEvent, StoreError>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                if event.position < self.next {
                    continue; // already delivered (disk and broadcast overlap)
                }
                if event.position > self.next {
                    // A gap between what we have and what arrived: fill it from disk.
                    self.buffer.clear();
                    self.mode = Mode::CatchUp;
                    continue;
                }
                self.next += 1;
                return Some(Ok(event));
            }
            match self.mode {
                Mode::Done => return None,
                Mode::CatchUp => {
                    match super::read_all_blocking(self.shared.clone(), self.next, CATCH_UP_PAGE)
                        .await
                    {
                        Ok(page) if page.is_empty() => {
                            self.mode = if self.live.is_some() {
                                Mode::Live
                            } else {
                                Mode::Done
                            };
                        }
                        Ok(page) => self.buffer.extend(page),
                        Err(e) => {
                            self.mode = Mode::Done;
                            return Some(Err(e));
                        }
                    }
                }
                Mode::Live => {
                    let Some(live) = self.live.as_mut() else {
                        self.mode = Mode::CatchUp;
                        continue;
                    };
                    match live.recv().await {
                        Ok(group) => {
                            let next = self.next;
                            self.buffer
                                .extend(group.iter().filter(|e| e.position >= next).cloned());
                        }
                        Err(RecvError::Lagged(_)) => {
                            // Re-subscribe before reading, so nothing committed after the read is missed.
                            self.live = Some(live.resubscribe());
                            self.mode = Mode::CatchUp;
                        }
                        Err(RecvError::Closed) => {
                            // The writer is gone: deliver what is committed, then end.
                            self.live = None;
                            self.mode = Mode::CatchUp;
                        }
                    }
                }
            }
        }
    }
}
