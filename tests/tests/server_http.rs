//! GraphQL over HTTP against a real server: auth, roles, limits, coded
//! errors, the log queries and the operational endpoints.

use opsledger_tests::{
    error_code, spawn_app, ADMIN_TOKEN, APPROVER_TOKEN, CHANGE_MANAGER_TOKEN, NO_ROLE_TOKEN,
    RESPONDER_TOKEN, VIEWER_TOKEN,
};
use serde_json::{json, Value};

const VERIFY: &str = "{ verifyLog { eventsVerified firstBadPosition reason } }";

#[tokio::test]
async fn missing_token_is_unauthenticated() {
    let app = spawn_app().await;
    let (status, body) = app.graphql(None, VERIFY, Value::Null).await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    assert_eq!(body["data"], Value::Null);
}

#[tokio::test]
async fn unknown_token_is_refused_with_401_unauthenticated() {
    let app = spawn_app().await;
    let (status, body) = app.graphql(Some("not-a-token"), VERIFY, Value::Null).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn a_token_without_any_role_is_forbidden_to_read() {
    let app = spawn_app().await;
    let (_, body) = app.graphql(Some(NO_ROLE_TOKEN), VERIFY, Value::Null).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    assert_eq!(
        body["errors"][0]["message"],
        "actor `nora` lacks the role `viewer`"
    );
}

#[tokio::test]
async fn every_role_reads_what_a_viewer_reads() {
    let app = spawn_app().await;
    for token in [
        VIEWER_TOKEN,
        RESPONDER_TOKEN,
        APPROVER_TOKEN,
        CHANGE_MANAGER_TOKEN,
        ADMIN_TOKEN,
    ] {
        let (status, body) = app.graphql(Some(token), VERIFY, Value::Null).await;
        assert_eq!(status, 200, "{token}");
        assert!(body["errors"].is_null(), "{token}: {body}");
        assert!(body["data"]["verifyLog"]["eventsVerified"].is_number());
    }
}

#[tokio::test]
async fn verify_log_counts_every_event_of_an_intact_log() {
    let app = spawn_app().await;
    app.append("incident-a", "TestHappened", 3).await;
    let (_, body) = app.graphql(Some(VIEWER_TOKEN), VERIFY, Value::Null).await;
    assert_eq!(
        body["data"]["verifyLog"],
        json!({"eventsVerified": 3, "firstBadPosition": null, "reason": null})
    );
    // Admins hold every role.
    let (_, body) = app
        .graphql(Some(ADMIN_TOKEN), "{ logHead }", Value::Null)
        .await;
    assert_eq!(body["data"]["logHead"], 2);
}

#[tokio::test]
async fn events_connection_pages_by_position() {
    let app = spawn_app().await;
    app.append("incident-a", "TestHappened", 5).await;
    let query = "query($after: Int) { events(afterPosition: $after, first: 2) {
        edges { cursor node { position streamId streamVersion type actor recordedAt hash prevHash } }
        pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let (_, body) = app.graphql(Some(VIEWER_TOKEN), query, json!({})).await;
    let page = &body["data"]["events"];
    let positions: Vec<_> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, vec![0, 1]);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
    let first = &page["edges"][0]["node"];
    assert_eq!(first["streamId"], "incident-a");
    assert_eq!(first["type"], "TestHappened");
    assert_eq!(first["recordedAt"], "2023-11-14T22:13:20.000Z");
    assert_eq!(first["prevHash"], "0".repeat(64));
    assert_eq!(first["hash"].as_str().unwrap().len(), 64);
    assert_eq!(page["edges"][1]["node"]["prevHash"], first["hash"]);

    let (_, body) = app
        .graphql(Some(VIEWER_TOKEN), query, json!({"after": 3}))
        .await;
    let page = &body["data"]["events"];
    assert_eq!(page["edges"].as_array().unwrap().len(), 1);
    assert_eq!(page["edges"][0]["node"]["position"], 4);
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn too_deep_query_is_refused_with_limit() {
    let app = spawn_app().await;
    let mut query = String::from("{ events { edges { node { position } } } }");
    for level in 0..20 {
        query = format!("{{ a{level} {query} }}");
    }
    let (_, body) = app.graphql(Some(VIEWER_TOKEN), &query, Value::Null).await;
    assert_eq!(error_code(&body), Some("LIMIT"));
    assert_eq!(body["errors"][0]["message"], "Query is nested too deep.");
}

#[tokio::test]
async fn unknown_field_is_a_validation_error_without_suggestions() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql(Some(VIEWER_TOKEN), "{ logHeed }", Value::Null)
        .await;
    assert_eq!(error_code(&body), Some("VALIDATION"));
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");
}

#[tokio::test]
async fn introspection_is_off_in_production() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql(
            Some(VIEWER_TOKEN),
            "{ __schema { queryType { name } } }",
            Value::Null,
        )
        .await;
    assert_eq!(body["data"]["__schema"], Value::Null);
}

#[tokio::test]
async fn body_over_the_limit_is_refused_with_413() {
    let app = spawn_app().await;
    let padding = " ".repeat(2 * 1024 * 1024);
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(format!("{{\"query\": \"{{ logHead }}{padding}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(opsledger_tests::error_code(&body), Some("LIMIT"), "{body}");
}

#[tokio::test]
async fn mutation_over_get_is_refused() {
    let app = spawn_app().await;
    let (status, body) = app
        .graphql_get(Some(ADMIN_TOKEN), "mutation { anything }")
        .await;
    assert_eq!(status, 405);
    assert_eq!(error_code(&body), Some("BAD_REQUEST"));
    assert_eq!(
        body["errors"][0]["message"],
        "bad request: mutations must be sent with POST"
    );
}

#[tokio::test]
async fn query_over_get_is_answered() {
    let app = spawn_app().await;
    let (status, body) = app.graphql_get(Some(VIEWER_TOKEN), "{ logHead }").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"data": {"logHead": null}}));
}

#[tokio::test]
async fn batch_over_ten_operations_is_refused_with_limit() {
    let app = spawn_app().await;
    let batch: Vec<_> = (0..11).map(|_| json!({"query": "{ logHead }"})).collect();
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(VIEWER_TOKEN)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("LIMIT"));

    let batch: Vec<_> = (0..2).map(|_| json!({"query": "{ logHead }"})).collect();
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(VIEWER_TOKEN)
        .json(&batch)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!([{"data": {"logHead": null}}, {"data": {"logHead": null}}])
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_are_served() {
    let app = spawn_app().await;
    app.append("change-a", "TestHappened", 3).await;
    let get = |path: &'static str| {
        let request = app.client.get(app.url(path));
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await, (200, "ok\n".to_string()));
    assert_eq!(get("/readyz").await, (200, "ready\n".to_string()));
    app.graphql(None, VERIFY, Value::Null).await;
    let (status, metrics) = get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("opsledger_log_position 3"), "{metrics}");
    assert!(metrics.contains("opsledger_graphql_errors_total{code=\"UNAUTHENTICATED\"} 1"));
    assert_eq!(get("/graphiql").await.0, 404);
}

#[tokio::test]
async fn graceful_shutdown_returns_cleanly() {
    let app = spawn_app().await;
    app.append("incident-a", "TestHappened", 1).await;
    app.shutdown().await;
}
