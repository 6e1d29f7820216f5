//! `POST /admin/backup`: an admin-only online backup of a running server while it takes writes.

use opsledger_storage::backup::LOG_DIR;
use opsledger_storage::{EventStore, SledEventStore, StoreConfig};
use opsledger_tests::{spawn_app, ADMIN_TOKEN, RESPONDER_TOKEN};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_backup_is_admin_only_consistent_and_refuses_a_non_empty_target() {
    let app = spawn_app().await;
    app.append("test-a", "TestEvent", 50).await;
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("b1");
    let post = |token: &'static str, dir: std::path::PathBuf| {
        app.client
            .post(app.url("/admin/backup"))
            .bearer_auth(token)
            .json(&json!({ "outDir": dir }))
            .send()
    };

    let forbidden = post(RESPONDER_TOKEN, target.clone()).await.unwrap();
    assert_eq!(forbidden.status().as_u16(), 403);
    assert!(!target.exists());

    let writer = {
        let store = app.store.clone();
        tokio::spawn(async move {
            for i in 0..100 {
                let _ = store
                    .append(opsledger_storage::AppendRequest {
                        stream_id: "test-b".into(),
                        expected: opsledger_storage::ExpectedVersion::Any,
                        command_id: format!("b-{i}"),
                        actor: "tester".into(),
                        correlation_id: opsledger_storage::Ulid::new(),
                        causation_id: None,
                        recorded_at_ms: 1_700_000_000_000,
                        events: vec![opsledger_storage::NewEvent {
                            event_id: opsledger_storage::Ulid::new(),
                            type_name: "TestEvent".into(),
                            schema_version: 1,
                            payload: vec![1; 32],
                        }],
                    })
                    .await;
            }
        })
    };
    let response = post(ADMIN_TOKEN, target.clone()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    writer.await.unwrap();
    let last = body["lastPosition"].as_u64().unwrap();
    assert!(last >= 49);
    assert_eq!(body["events"].as_u64().unwrap(), last + 1);

    let copy = SledEventStore::open(target.join(LOG_DIR), StoreConfig::default())
        .await
        .unwrap();
    let report = copy.verify().await.unwrap();
    assert_eq!(
        (report.events_verified, report.first_bad_position),
        (last + 1, None)
    );
    assert_eq!(
        copy.read_all(0, usize::MAX).await.unwrap(),
        app.store.read_all(0, (last + 1) as usize).await.unwrap()
    );
    copy.flush_and_stop().await.unwrap();

    let conflict = post(ADMIN_TOKEN, target.clone()).await.unwrap();
    assert_eq!(conflict.status().as_u16(), 409);
    let body: Value = conflict.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
}
