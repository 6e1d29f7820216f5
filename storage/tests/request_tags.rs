//! Command ids with a request tag (`<id>#<tag>`, `opsledger_storage::command_id`): the id
//! part is the idempotency key, the tag names the request, and the binding survives a
//! restart.

mod support;

use opsledger_storage::command_id::{request_tag, with_request_tag};
use opsledger_storage::{EventStore, ExpectedVersion, StoreError};
use support::{close, open, request_with_command};

#[tokio::test]
async fn a_tagged_command_id_repeated_exactly_returns_the_first_outcome_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = with_request_tag("key-1", "registerService:aa");
    let append = || request_with_command("a", ExpectedVersion::Any, 1, &id);
    let first = store.append(append()).await.unwrap();
    assert_eq!(store.append(append()).await.unwrap(), first);
    // Same tag, other events (the request decided again): the caller must look it up.
    let decided_again = store
        .append(request_with_command("a", ExpectedVersion::Any, 2, &id))
        .await;
    assert!(matches!(
        decided_again,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    close(store).await;

    let store = open(dir.path()).await;
    assert_eq!(store.append(append()).await.unwrap(), first);
    assert_eq!(store.head_position(), Some(0));
    // Looked up by its id part, whatever tag is asked with; the events carry the stored tag.
    let found = store
        .command_outcome(&with_request_tag("key-1", "other:bb"))
        .await
        .unwrap();
    assert_eq!(found, Some(first));
    let stored = store.read_all(0, 1).await.unwrap();
    assert_eq!(
        request_tag(&stored[0].command_id),
        Some("registerService:aa")
    );
    close(store).await;
}

#[tokio::test]
async fn a_command_id_reused_with_another_request_tag_is_a_conflict_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let first = with_request_tag("key-1", "registerService:aa");
    store
        .append(request_with_command("a", ExpectedVersion::Any, 1, &first))
        .await
        .unwrap();
    for other in [
        with_request_tag("key-1", "registerService:bb"),
        with_request_tag("key-1", "declareIncident:aa"),
        "key-1".to_owned(),
    ] {
        let reused = store
            .append(request_with_command("b", ExpectedVersion::Any, 1, &other))
            .await;
        assert!(
            matches!(&reused, Err(StoreError::IdempotencyConflict { command_id }) if *command_id == other),
            "{other}: {reused:?}"
        );
    }
    close(store).await;
    let store = open(dir.path()).await;
    let reused = store
        .append(request_with_command(
            "b",
            ExpectedVersion::Any,
            1,
            &with_request_tag("key-1", "registerService:bb"),
        ))
        .await;
    assert!(matches!(
        reused,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert_eq!(store.head_position(), Some(0));
    assert_eq!(store.verify().await.unwrap().first_bad_position, None);
    close(store).await;
}

#[tokio::test]
async fn appends_of_one_id_part_in_one_group_write_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(open(dir.path()).await);
    let same = with_request_tag("k", "op:1");
    let other = with_request_tag("k", "op:2");
    let (a, b, c) = tokio::join!(
        store.append(request_with_command("s", ExpectedVersion::Any, 1, &same)),
        store.append(request_with_command("s", ExpectedVersion::Any, 1, &same)),
        store.append(request_with_command("s", ExpectedVersion::Any, 1, &other)),
    );
    let outcomes = [a, b, c];
    let written: Vec<_> = outcomes.iter().filter_map(|r| r.as_ref().ok()).collect();
    let conflicts = outcomes
        .iter()
        .filter(|r| matches!(r, Err(StoreError::IdempotencyConflict { .. })))
        .count();
    // Whichever came first owns the id; an exact repeat gets its outcome.
    assert_eq!(written.len() + conflicts, 3);
    assert!(written.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(store.read_all(0, 10).await.unwrap().len(), 1);
}
