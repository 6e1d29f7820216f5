//! GraphQL over HTTP against a real server: auth, roles, limits, coded
//! errors, the log queries and the operational endpoints.

use opsledger_api::server::ServerConfig;
use opsledger_tests::{
    error_code, spawn_app, spawn_app_with, test_limits, ADMIN_TOKEN, APPROVER_TOKEN,
    CHANGE_MANAGER_TOKEN, NO_ROLE_TOKEN, RESPONDER_TOKEN, VIEWER_TOKEN,
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
    assert_eq!(
        body["errors"][0]["message"],
        "limit exceeded: the query selects fields 24 levels deep, at most 12"
    );
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
async fn introspection_is_refused_in_production_with_forbidden() {
    let app = spawn_app().await;
    for query in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Query\") { name } }",
        "query { ...F } fragment F on Query { __schema { description } }",
        INTROSPECTION_QUERY,
    ] {
        let (status, body) = app.graphql(Some(VIEWER_TOKEN), query, Value::Null).await;
        assert_eq!(status, 200);
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
        assert_eq!(
            body["errors"][0]["message"],
            "introspection is off in production: the schema is committed as \
             api/schema.graphql (or start the server with --dev)"
        );
        assert!(body["data"].is_null());
    }
    // `__typename` is not introspection of the schema.
    let (_, body) = app.graphql(None, "{ __typename }", Value::Null).await;
    assert_eq!(body, json!({"data": {"__typename": "Query"}}));
}

/// graphql-js 16's `getIntrospectionQuery({ descriptions, specifiedByUrl,
/// directiveIsRepeatable, schemaDescription, inputValueDeprecation })`: what
/// GraphiQL and codegen send (15 fields deep through `args { type { ofType ... } }`).
const INTROSPECTION_QUERY: &str = include_str!("fixtures/introspection_graphql_js_16.graphql");

#[tokio::test]
async fn standard_introspection_passes_in_dev_mode() {
    let app = spawn_app_with(ServerConfig {
        dev: true,
        limits: test_limits(),
        ..ServerConfig::default()
    })
    .await;
    let (status, body) = app.graphql(None, INTROSPECTION_QUERY, Value::Null).await;
    assert_eq!(status, 200);
    assert!(body["errors"].is_null(), "{body}");
    let schema = &body["data"]["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    assert_eq!(schema["subscriptionType"]["name"], "Subscription");
    let types = schema["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "DeclareIncidentInput"));
    assert!(schema["directives"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["isRepeatable"].is_boolean()));
    // The exemption is for introspection only: the same depth on data fields is refused.
    let mut query = String::from("{ events { edges { node { position } } } }");
    for level in 0..20 {
        query = format!("{{ a{level} {query} }}");
    }
    let (_, body) = app.graphql(Some(VIEWER_TOKEN), &query, Value::Null).await;
    assert_eq!(error_code(&body), Some("LIMIT"), "{body}");
    // A query mixing data with introspection gets the data depth limit too.
    let deep_mixed = format!("{{ logHead {} }}", &INTROSPECTION_QUERY_ROOT);
    let (_, body) = app
        .graphql(Some(VIEWER_TOKEN), &deep_mixed, Value::Null)
        .await;
    assert_eq!(error_code(&body), Some("LIMIT"), "{body}");
}

/// An introspection selection 14 fields deep.
const INTROSPECTION_QUERY_ROOT: &str = "__schema { types { fields { type { ofType { ofType {
    ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }";

#[tokio::test]
async fn graphiql_shows_what_to_do_when_its_scripts_cannot_load() {
    let app = spawn_app_with(ServerConfig {
        dev: true,
        limits: test_limits(),
        ..ServerConfig::default()
    })
    .await;
    let response = app.client.get(app.url("/graphiql")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    // Rendered in the page itself (no script needed to see it), replaced once GraphiQL renders.
    assert!(!page.contains(">Loading...</div>"), "a bare loading page");
    assert!(page.contains("<noscript>"));
    assert!(page.contains("api/schema.graphql"));
    assert!(page.contains(&format!("curl -s http://{}/graphql", app.addr)));
    assert!(page.contains("-H 'content-type: application/json'"));
}

/// POSTs `{ logHead }` with `content_type` (none if `None`) and `accept`; returns status, Content-Type, body.
async fn post_with(
    app: &opsledger_tests::TestApp,
    content_type: Option<&str>,
    accept: Option<&str>,
) -> (u16, String, Value) {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(VIEWER_TOKEN)
        .body(r#"{"query": "{ logHead }"}"#);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, media, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn post_accepts_only_json_bodies() {
    let app = spawn_app().await;
    let head = json!({"data": {"logHead": null}});
    for ok in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
    ] {
        let (status, media, body) = post_with(&app, Some(ok), None).await;
        assert_eq!((status, media.as_str()), (200, "application/json"), "{ok}");
        assert_eq!(body, head);
    }
    for refused in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/xml"),
        Some("multipart/form-data; boundary=x"),
        Some("application/json; charset=iso-8859-1"),
        None,
    ] {
        let (status, _, body) = post_with(&app, refused, None).await;
        assert_eq!(status, 415, "{refused:?}");
        assert_eq!(error_code(&body), Some("BAD_REQUEST"), "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("application/json"), "{message}");
    }
    // GET still runs queries, whatever the content type.
    let (status, body) = app.graphql_get(Some(VIEWER_TOKEN), "{ logHead }").await;
    assert_eq!((status, body), (200, head));
}

#[tokio::test]
async fn the_response_is_graphql_response_json_when_the_client_asks_for_it() {
    let app = spawn_app().await;
    let json = Some("application/json");
    for (accept, expected) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/json"), "application/json"),
        (
            Some("application/graphql-response+json"),
            "application/graphql-response+json",
        ),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            "application/graphql-response+json",
        ),
        (
            Some("application/graphql-response+json;q=0.5, application/json"),
            "application/json",
        ),
    ] {
        let (status, media, body) = post_with(&app, json, accept).await;
        assert_eq!((status, media.as_str()), (200, expected), "{accept:?}");
        assert_eq!(body, json!({"data": {"logHead": null}}));
    }
    let response = app
        .client
        .get(app.url("/graphql?query=%7BlogHead%7D"))
        .bearer_auth(VIEWER_TOKEN)
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/graphql-response+json"
    );
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
