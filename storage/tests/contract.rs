//! The contract every `EventStore` backend must pass, written against the trait only.
//! Each backend instantiates it with `contract_suite!(module, async-fn-returning-a-fresh-store)`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use opsledger_storage::{
    AppendOutcome, AppendRequest, Direction, EventStore, ExpectedVersion, StoreConfig, StoreError,
    Ulid,
};

mod support;
use support::request_with_command;

/// An append of `n` events to `stream` with a fresh command id.
fn request(stream: &str, expected: ExpectedVersion, n: usize) -> AppendRequest {
    request_with_command(stream, expected, n, &Ulid::new().to_string())
}

fn positions(events: &[opsledger_storage::RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position).collect()
}

fn versions(events: &[opsledger_storage::RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.stream_version).collect()
}

pub async fn appends_get_gap_free_positions_and_stream_versions<S: EventStore>(store: S) {
    let a = store
        .append(request("a", ExpectedVersion::NoStream, 2))
        .await
        .unwrap();
    let b = store
        .append(request("b", ExpectedVersion::Any, 1))
        .await
        .unwrap();
    let a2 = store
        .append(request("a", ExpectedVersion::Exact(1), 3))
        .await
        .unwrap();
    assert_eq!(
        a,
        AppendOutcome {
            first_position: 0,
            last_position: 1,
            stream_version: 1
        }
    );
    assert_eq!(
        b,
        AppendOutcome {
            first_position: 2,
            last_position: 2,
            stream_version: 0
        }
    );
    assert_eq!(
        a2,
        AppendOutcome {
            first_position: 3,
            last_position: 5,
            stream_version: 4
        }
    );
    assert_eq!(store.head_position(), Some(5));
    let all = store.read_all(0, 100).await.unwrap();
    assert_eq!(positions(&all), vec![0, 1, 2, 3, 4, 5]);
    let stream_a = store
        .read_stream("a", 0, Direction::Forward, 100)
        .await
        .unwrap();
    assert_eq!(versions(&stream_a), vec![0, 1, 2, 3, 4]);
    assert_eq!(positions(&stream_a), vec![0, 1, 3, 4, 5]);
    assert_eq!(stream_a[2].payload, b"a:0".to_vec());
}

pub async fn wrong_expected_version_is_typed_and_writes_nothing<S: EventStore>(store: S) {
    assert_eq!(store.head_position(), None);
    let err = store
        .append(request("s", ExpectedVersion::Exact(0), 1))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::WrongExpectedVersion {
            expected: ExpectedVersion::Exact(0),
            actual: None,
            ..
        }
    ));
    store
        .append(request("s", ExpectedVersion::NoStream, 2))
        .await
        .unwrap();
    let err = store
        .append(request("s", ExpectedVersion::NoStream, 1))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::WrongExpectedVersion {
            expected: ExpectedVersion::NoStream,
            actual: Some(1),
            ..
        }
    ));
    let err = store
        .append(request("s", ExpectedVersion::Exact(0), 1))
        .await
        .unwrap_err();
    match err {
        StoreError::WrongExpectedVersion {
            stream_id,
            expected,
            actual,
        } => {
            assert_eq!(
                (stream_id.as_str(), expected, actual),
                ("s", ExpectedVersion::Exact(0), Some(1))
            );
        }
        other => panic!("expected WrongExpectedVersion, got {other:?}"),
    }
    assert_eq!(store.head_position(), Some(1));
    assert_eq!(store.read_all(0, 100).await.unwrap().len(), 2);
}

pub async fn invalid_appends_are_rejected<S: EventStore>(store: S) {
    let empty = request("s", ExpectedVersion::Any, 0);
    assert!(matches!(
        store.append(empty).await,
        Err(StoreError::InvalidAppend { .. })
    ));
    let nul = request("s\0x", ExpectedVersion::Any, 1);
    assert!(matches!(
        store.append(nul).await,
        Err(StoreError::InvalidAppend { .. })
    ));
    let no_command = request_with_command("s", ExpectedVersion::Any, 1, "");
    assert!(matches!(
        store.append(no_command).await,
        Err(StoreError::InvalidAppend { .. })
    ));
    assert_eq!(store.head_position(), None);
}

pub async fn concurrent_exact_appends_take_each_version_exactly_once<S: EventStore>(store: S) {
    const ROUNDS: u64 = 15;
    let store = Arc::new(store);
    store
        .append(request("shared", ExpectedVersion::NoStream, 1))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut results = Vec::new();
                for v in 0..ROUNDS {
                    results.push((
                        v,
                        store
                            .append(request("shared", ExpectedVersion::Exact(v), 1))
                            .await,
                    ));
                }
                results
            })
        })
        .collect();
    let mut won = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        for (v, result) in task.await.unwrap() {
            match result {
                Ok(outcome) => won.push(outcome.stream_version),
                Err(StoreError::WrongExpectedVersion {
                    actual: Some(actual),
                    ..
                }) if actual > v => conflicts += 1,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
    }
    won.sort_unstable();
    assert_eq!(won, (1..=ROUNDS).collect::<Vec<_>>());
    assert_eq!(conflicts, 7 * ROUNDS as usize);
    let stream = store
        .read_stream("shared", 0, Direction::Forward, 1000)
        .await
        .unwrap();
    assert_eq!(versions(&stream), (0..=ROUNDS).collect::<Vec<_>>());
}

pub async fn concurrent_appends_to_different_streams_all_succeed_gap_free<S: EventStore>(store: S) {
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for v in 0..25u64 {
                    let expected = if v == 0 {
                        ExpectedVersion::NoStream
                    } else {
                        ExpectedVersion::Exact(2 * v - 1)
                    };
                    store
                        .append(request(&format!("stream-{t}"), expected, 2))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let all = store.read_all(0, 10_000).await.unwrap();
    assert_eq!(positions(&all), (0..400).collect::<Vec<_>>());
    for t in 0..8 {
        let stream = store
            .read_stream(&format!("stream-{t}"), 0, Direction::Forward, 1000)
            .await
            .unwrap();
        assert_eq!(versions(&stream), (0..50).collect::<Vec<_>>());
    }
    assert_eq!(store.verify().await.unwrap().first_bad_position, None);
}

pub async fn same_command_id_twice_writes_once_and_returns_first_result<S: EventStore>(store: S) {
    let req = request_with_command("s", ExpectedVersion::NoStream, 2, "cmd-1");
    let first = store.append(req.clone()).await.unwrap();
    store
        .append(request("other", ExpectedVersion::Any, 1))
        .await
        .unwrap();
    // Same command, even with an expected version that no longer holds: the first result.
    let again = store.append(req).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(store.head_position(), Some(2));
    assert_eq!(store.command_outcome("cmd-1").await.unwrap(), Some(first));
    assert_eq!(store.command_outcome("never").await.unwrap(), None);
}

pub async fn same_command_id_with_different_events_is_a_conflict_and_writes_nothing<
    S: EventStore,
>(
    store: S,
) {
    store
        .append(request_with_command("s", ExpectedVersion::Any, 1, "cmd-1"))
        .await
        .unwrap();
    let different = request_with_command("s", ExpectedVersion::Any, 2, "cmd-1");
    match store.append(different).await {
        Err(StoreError::IdempotencyConflict { command_id }) => assert_eq!(command_id, "cmd-1"),
        other => panic!("expected IdempotencyConflict, got {other:?}"),
    }
    let other_stream = request_with_command("t", ExpectedVersion::Any, 1, "cmd-1");
    assert!(matches!(
        store.append(other_stream).await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert_eq!(store.head_position(), Some(0));
}

pub async fn concurrent_duplicates_of_one_command_write_once<S: EventStore>(store: S) {
    let store = Arc::new(store);
    let req = request_with_command("s", ExpectedVersion::Any, 3, "dup");
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (store, req) = (store.clone(), req.clone());
            tokio::spawn(async move { store.append(req).await.unwrap() })
        })
        .collect();
    let mut outcomes = BTreeSet::new();
    for task in tasks {
        let o = task.await.unwrap();
        outcomes.insert((o.first_position, o.last_position, o.stream_version));
    }
    assert_eq!(outcomes.into_iter().collect::<Vec<_>>(), vec![(0, 2, 2)]);
    assert_eq!(store.head_position(), Some(2));
}

pub async fn streams_read_forward_and_backward_in_pages<S: EventStore>(store: S) {
    store
        .append(request("s", ExpectedVersion::NoStream, 5))
        .await
        .unwrap();
    store
        .append(request("sx", ExpectedVersion::NoStream, 2))
        .await
        .unwrap();
    store
        .append(request("s", ExpectedVersion::Exact(4), 5))
        .await
        .unwrap();
    let page = store
        .read_stream("s", 3, Direction::Forward, 4)
        .await
        .unwrap();
    assert_eq!(versions(&page), vec![3, 4, 5, 6]);
    assert_eq!(positions(&page), vec![3, 4, 7, 8]);
    let back = store
        .read_stream("s", u64::MAX, Direction::Backward, 3)
        .await
        .unwrap();
    assert_eq!(versions(&back), vec![9, 8, 7]);
    let back = store
        .read_stream("s", 6, Direction::Backward, 100)
        .await
        .unwrap();
    assert_eq!(versions(&back), vec![6, 5, 4, 3, 2, 1, 0]);
    assert!(store
        .read_stream("s", 10, Direction::Forward, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .read_stream("missing", 0, Direction::Forward, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        versions(
            &store
                .read_stream("sx", 0, Direction::Forward, 10)
                .await
                .unwrap()
        ),
        vec![0, 1]
    );
}

pub async fn whole_log_reads_in_pages_from_a_position<S: EventStore>(store: S) {
    store
        .append(request("s", ExpectedVersion::Any, 10))
        .await
        .unwrap();
    assert_eq!(
        positions(&store.read_all(3, 4).await.unwrap()),
        vec![3, 4, 5, 6]
    );
    assert_eq!(
        positions(&store.read_all(8, 100).await.unwrap()),
        vec![8, 9]
    );
    assert!(store.read_all(10, 100).await.unwrap().is_empty());
    assert!(store.read_all(0, 0).await.unwrap().is_empty());
}

pub async fn envelope_fields_are_stored_and_chained<S: EventStore>(store: S) {
    let mut req = request("s", ExpectedVersion::Any, 2);
    req.causation_id = Some(Ulid::from_parts(7, 7));
    store.append(req.clone()).await.unwrap();
    let events = store.read_all(0, 10).await.unwrap();
    for (event, new) in events.iter().zip(&req.events) {
        assert_eq!(event.event_id, new.event_id);
        assert_eq!(event.type_name, new.type_name);
        assert_eq!(event.payload, new.payload);
        assert_eq!(
            (event.actor.as_str(), event.command_id.as_str()),
            ("tester", req.command_id.as_str())
        );
        assert_eq!(
            (event.correlation_id, event.causation_id),
            (req.correlation_id, req.causation_id)
        );
        assert_eq!(event.recorded_at_ms, req.recorded_at_ms);
    }
    assert_eq!(events[0].prev_hash, [0; 32]);
    assert_eq!(events[1].prev_hash, events[0].hash);
    let report = store.verify().await.unwrap();
    assert_eq!(
        (report.events_verified, report.first_bad_position),
        (2, None)
    );
}

pub async fn subscriber_from_zero_sees_every_event_in_order_while_appends_run<S: EventStore>(
    store: S,
) {
    const TASKS: usize = 8;
    const APPENDS: usize = 125;
    const PER_APPEND: usize = 10;
    let total = (TASKS * APPENDS * PER_APPEND) as u64;
    let store = Arc::new(store);
    let subscriber = tokio::spawn(collect_positions(store.subscribe(0), total, Duration::ZERO));
    let writers: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..APPENDS {
                    store
                        .append(request(&format!("w{t}"), ExpectedVersion::Any, PER_APPEND))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(subscriber.await.unwrap(), (0..total).collect::<Vec<_>>());
}

pub async fn slow_subscriber_that_lags_still_sees_every_event<S: EventStore>(store: S) {
    let total = 600u64;
    let store = Arc::new(store);
    let slow = tokio::spawn(collect_positions(
        store.subscribe(0),
        total,
        Duration::from_millis(1),
    ));
    let late = store.subscribe(250);
    for _ in 0..total / 2 {
        store
            .append(request("s", ExpectedVersion::Any, 2))
            .await
            .unwrap();
    }
    assert_eq!(slow.await.unwrap(), (0..total).collect::<Vec<_>>());
    let late = collect_positions(late, total - 250, Duration::ZERO).await;
    assert_eq!(late, (250..total).collect::<Vec<_>>());
}

pub async fn stopped_store_refuses_writes_and_ends_subscriptions<S: EventStore>(store: S) {
    store
        .append(request("s", ExpectedVersion::Any, 3))
        .await
        .unwrap();
    let sub = store.subscribe(1);
    store.flush_and_stop().await.unwrap();
    assert!(matches!(
        store.append(request("s", ExpectedVersion::Any, 1)).await,
        Err(StoreError::WritesStopped { .. })
    ));
    let seen: Vec<u64> = sub.map(|e| e.unwrap().position).collect().await;
    assert_eq!(seen, vec![1, 2]);
    assert_eq!(store.head_position(), Some(2));
}

/// The first `n` positions a subscription yields, pausing `pause` after each of them.
async fn collect_positions(
    mut sub: opsledger_storage::EventSubscription,
    n: u64,
    pause: Duration,
) -> Vec<u64> {
    let mut seen = Vec::with_capacity(n as usize);
    while (seen.len() as u64) < n {
        let event = tokio::time::timeout(Duration::from_secs(60), sub.next())
            .await
            .expect("subscription stalled")
            .expect("subscription ended early")
            .expect("subscription failed");
        seen.push(event.position);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    seen
}

macro_rules! contract_suite {
    ($backend:ident, $open:expr) => {
        mod $backend {
            contract_suite!(@tests $open;
                appends_get_gap_free_positions_and_stream_versions,
                wrong_expected_version_is_typed_and_writes_nothing,
                invalid_appends_are_rejected,
                concurrent_exact_appends_take_each_version_exactly_once,
                concurrent_appends_to_different_streams_all_succeed_gap_free,
                same_command_id_twice_writes_once_and_returns_first_result,
                same_command_id_with_different_events_is_a_conflict_and_writes_nothing,
                concurrent_duplicates_of_one_command_write_once,
                streams_read_forward_and_backward_in_pages,
                whole_log_reads_in_pages_from_a_position,
                envelope_fields_are_stored_and_chained,
                subscriber_from_zero_sees_every_event_in_order_while_appends_run,
                slow_subscriber_that_lags_still_sees_every_event,
                stopped_store_refuses_writes_and_ends_subscriptions,
            );
        }
    };
    (@tests $open:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, _guard) = $open.await;
                super::$check(store).await;
            }
        )*
    };
}

/// A fresh sled store in a temporary directory, with a tiny broadcast buffer so slow
/// subscribers really lag.
async fn fresh_sled_store() -> (opsledger_storage::SledEventStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        broadcast_groups: 4,
        ..StoreConfig::default()
    };
    let store = opsledger_storage::SledEventStore::open(dir.path(), config)
        .await
        .unwrap();
    (store, dir)
}

contract_suite!(sled_backend, super::fresh_sled_store());
