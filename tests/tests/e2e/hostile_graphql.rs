//! Hostile GraphQL against a real server: deep nesting, alias and batch
//! amplification, huge strings, invalid enums, oversized bodies and a flood of
//! subscriptions on one connection. Each gets a coded error (or a closed
//! connection), the server stays up (a normal query works afterwards) and its
//! memory stays bounded (the server runs in this process: VmRSS is checked
//! with a generous bound).

use opsledger_storage::EventStore;
use opsledger_tests::{error_code, spawn_app, TestApp, ADMIN_TOKEN, RESPONDER_TOKEN, VIEWER_TOKEN};
use serde_json::{json, Value};

/// How much the process may grow across one hostile request (generous: no flakes).
const RSS_BOUND_KIB: u64 = 512 * 1024;

/// Resident set size of this process (the server runs in it), KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

/// The server still answers a normal query and the process did not balloon.
async fn assert_still_healthy(app: &TestApp, rss_before: u64) {
    let (status, body) = app
        .graphql(Some(VIEWER_TOKEN), "{ logHead }", json!({}))
        .await;
    assert_eq!(status, 200);
    assert!(body["errors"].is_null(), "{body}");
    let grown = rss_kib().saturating_sub(rss_before);
    assert!(grown < RSS_BOUND_KIB, "RSS grew by {grown} KiB");
}

/// POSTs a raw body; returns the status and the JSON body (Null if not JSON).
async fn post_raw(app: &TestApp, body: String) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST /graphql");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn register_service(app: &TestApp) -> String {
    let (_, body) = app
        .graphql(
            Some(ADMIN_TOKEN),
            "mutation($input: ServiceInput!) { registerService(input: $input) { id } }",
            json!({"input": {"name": "edge", "ownerTeam": "core", "tier": 1,
                "sloTargetPercent": 99.9,
                "escalationPolicy": [{"target": "core", "ackTimeoutSecs": 300}]}}),
        )
        .await;
    body["data"]["registerService"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("register: {body}"))
        .to_owned()
}

const DECLARE: &str =
    "mutation($input: DeclareIncidentInput!) { declareIncident(input: $input) { id } }";

#[tokio::test]
async fn ten_thousand_nested_selections_are_refused_with_limit() {
    let app = spawn_app().await;
    let rss = rss_kib();
    let depth = 10_000;
    let query = format!("{{{}{}}}", "logHead { ".repeat(depth), "} ".repeat(depth));
    let (status, body) = app.graphql(Some(VIEWER_TOKEN), &query, json!({})).await;
    assert_eq!(status, 200);
    assert_nesting_limit(&body["errors"]);
    assert!(body["data"].is_null(), "{body}");
    assert_still_healthy(&app, rss).await;
}

#[tokio::test]
async fn deeply_nested_list_literal_is_refused_with_limit() {
    let app = spawn_app().await;
    let rss = rss_kib();
    let depth = 50_000;
    let literal = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let query = format!("{{ events(first: {literal}) {{ totalCount }} }}");
    let (_, body) = app.graphql(Some(VIEWER_TOKEN), &query, json!({})).await;
    assert_nesting_limit(&body["errors"]);
    assert_still_healthy(&app, rss).await;
}

#[tokio::test]
async fn five_thousand_aliases_are_refused_with_limit() {
    let app = spawn_app().await;
    let rss = rss_kib();
    let fields: String = (0..5000)
        .map(|i| format!("a{i}: verifyLog {{ eventsVerified }} "))
        .collect();
    let (status, body) = app
        .graphql(Some(VIEWER_TOKEN), &format!("{{ {fields} }}"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("LIMIT"), "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert_still_healthy(&app, rss).await;
}

#[tokio::test]
async fn one_query_holds_at_most_one_log_verification() {
    let app = spawn_app().await;
    let one = "{ verifyLog { eventsVerified } }";
    let (_, body) = app.graphql(Some(VIEWER_TOKEN), one, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
    let two = "{ a: verifyLog { eventsVerified } b: verifyLog { eventsVerified } }";
    let (_, body) = app.graphql(Some(VIEWER_TOKEN), two, json!({})).await;
    assert_eq!(error_code(&body), Some("LIMIT"), "{body}");
    assert!(body["data"].is_null(), "{body}");
}

#[tokio::test]
async fn batch_of_a_thousand_operations_is_refused_with_limit() {
    let app = spawn_app().await;
    let rss = rss_kib();
    let batch: Vec<Value> = (0..1000).map(|_| json!({"query": "{ logHead }"})).collect();
    let (status, body) = post_raw(&app, Value::Array(batch).to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), Some("LIMIT"), "{body}");
    assert_still_healthy(&app, rss).await;
}

#[tokio::test]
async fn title_of_512_kib_is_refused_and_not_stored() {
    let app = spawn_app().await;
    let service = register_service(&app).await;
    let head_before = app.store.head_position();
    let rss = rss_kib();
    let title = "x".repeat(512 * 1024);
    let (_, body) = app
        .graphql(
            Some(RESPONDER_TOKEN),
            DECLARE,
            json!({"input": {"title": title, "severity": "SEV2",
                "impacts": [{"service": service, "level": "DEGRADED"}]}}),
        )
        .await;
    // The domain refuses a too long title as RULE_VIOLATION (TitleTooLong); the
    // issue asks for VALIDATION or LIMIT: any of the three is a coded refusal.
    let code = error_code(&body);
    assert!(
        matches!(code, Some("VALIDATION" | "LIMIT" | "RULE_VIOLATION")),
        "{code:?}"
    );
    assert_eq!(app.store.head_position(), head_before, "nothing appended");
    assert_still_healthy(&app, rss).await;
}

#[tokio::test]
async fn invalid_enum_value_is_a_validation_error() {
    let app = spawn_app().await;
    let service = register_service(&app).await;
    let head_before = app.store.head_position();
    let (status, body) = app
        .graphql(
            Some(RESPONDER_TOKEN),
            DECLARE,
            json!({"input": {"title": "t", "severity": "SEV99",
                "impacts": [{"service": service, "level": "MELTED"}]}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
    assert_eq!(app.store.head_position(), head_before, "nothing appended");
    let inline =
        "mutation { declareIncident(input: {title: \"t\", severity: SEV99, impacts: []}) { id } }";
    let (_, body) = app.graphql(Some(RESPONDER_TOKEN), inline, json!({})).await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
}

#[tokio::test]
async fn ten_megabyte_body_is_refused_with_413_limit() {
    let app = spawn_app().await;
    let rss = rss_kib();
    let padding = "y".repeat(10 * 1024 * 1024);
    let body = json!({"query": "{ logHead }", "variables": {"pad": padding}}).to_string();
    let (status, body) = post_raw(&app, body).await;
    // Refused by the body-limit layer before the handler, with the usual coded body.
    assert_eq!(status, 413);
    assert_eq!(error_code(&body), Some("LIMIT"), "{body}");
    assert_still_healthy(&app, rss).await;
}

#[tokio::test]
async fn thousands_of_subscriptions_on_one_connection_get_limit_errors() {
    let app = spawn_app().await;
    let rss = rss_kib();
    let mut ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    let query = "subscription { statusPage { overall } }";
    // The first 20 are accepted (each sends its page); every later one is refused with LIMIT.
    for i in 0..2000 {
        ws.subscribe(&format!("s{i}"), query, json!({})).await;
        let message = ws.next_json().await;
        if i < 20 {
            assert_eq!(message["type"], "next", "{message}");
        } else {
            assert_eq!(message["type"], "error", "{message}");
            assert_eq!(message["id"], format!("s{i}"));
            assert_eq!(message["payload"][0]["extensions"]["code"], "LIMIT");
        }
    }
    assert_still_healthy(&app, rss).await;
    // A fresh connection is still served.
    let mut fresh = app.ws_ready(Some(VIEWER_TOKEN)).await;
    fresh
        .subscribe("one", "subscription { statusPage { overall } }", json!({}))
        .await;
    let first = fresh.next_json().await;
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(
        first["payload"]["data"]["statusPage"]["overall"],
        "OPERATIONAL"
    );
}

/// The bound on brackets in a query (and on nesting in variables).
const NESTING: usize = 64;

/// The longest URI the `http` crate (hyper's and reqwest's) accepts.
const MAX_URI_BYTES: usize = u16::MAX as usize - 1;

/// The status of `GET target` sent over a raw TCP connection (no client-side URI checks).
async fn raw_get_status(app: &TestApp, target: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let head = format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    // hyper may answer before reading the whole head: only its answer matters.
    let _ = tcp.write_all(head.as_bytes()).await;
    let mut response = Vec::new();
    let _ = tcp.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `{ statusPage(x: [[[...]]]) { overall } }` with the list `depth` deep.
fn nested_list_query(depth: usize) -> String {
    format!(
        "{{statusPage(x:{}{}){{overall}}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

/// `{ statusPage(x: {a:{a:...1...}}) { overall } }` with the object `depth` deep.
fn nested_object_query(depth: usize) -> String {
    format!(
        "{{statusPage(x:{}1{}){{overall}}}}",
        "{a:".repeat(depth),
        "}".repeat(depth)
    )
}

/// The error is the nesting LIMIT, naming the bound.
fn assert_nesting_limit(errors: &Value) {
    let error = &errors[0];
    assert_eq!(error["extensions"]["code"], "LIMIT", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("more than {NESTING} levels deep")),
        "{message}"
    );
}

#[tokio::test]
async fn deeply_nested_values_are_refused_with_limit_over_post_get_and_websocket() {
    let app = spawn_app().await;
    let rss = rss_kib();
    // 3,000 levels overflowed a worker's stack and aborted the server. 100,000 take
    // 200 KB over POST and WebSocket, and 600 KB percent-encoded in a GET URL.
    for depth in [3_000, 10_000, 100_000] {
        for query in [nested_list_query(depth), nested_object_query(depth)] {
            let (status, body) = app.graphql(None, &query, json!({})).await;
            assert_eq!(status, 200, "POST {depth}");
            assert_nesting_limit(&body["errors"]);
            assert!(body["data"].is_null());

            // Brackets and braces need no escaping in a URL's query.
            let target = format!("/graphql?query={query}");
            if target.len() <= MAX_URI_BYTES {
                let response = app
                    .client
                    .get(app.url(&target))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("GET {depth}: {}", e.without_url()));
                assert_eq!(response.status().as_u16(), 200, "GET {depth}");
                let body: Value = response.json().await.expect("JSON");
                assert_nesting_limit(&body["errors"]);
            } else {
                // Longer than any URI hyper parses: refused before any handler.
                assert_eq!(raw_get_status(&app, &target).await, 414, "GET {depth}");
            }

            let mut ws = app.ws_ready(None).await;
            ws.subscribe("deep", &query, json!({})).await;
            let message = ws.next_json().await;
            assert_eq!(message["type"], "error", "WS {depth}: {message}");
            assert_nesting_limit(&message["payload"]);
        }
    }
    assert_still_healthy(&app, rss).await;
}

#[tokio::test]
async fn nesting_within_the_bound_still_reaches_validation() {
    let app = spawn_app().await;
    // `{`, `(` and 62 `[`: exactly the bound, so the usual validation answers.
    let (_, body) = app
        .graphql(None, &nested_list_query(NESTING - 2), json!({}))
        .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
    let (_, body) = app
        .graphql(None, &nested_list_query(NESTING - 1), json!({}))
        .await;
    assert_nesting_limit(&body["errors"]);
}

#[tokio::test]
async fn deeply_nested_variables_are_refused_with_limit() {
    let app = spawn_app().await;
    let rss = rss_kib();
    let query = "query($v: [Int]) { statusPage { overall } }";
    let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    // Deeper than serde_json's recursion limit (128): refused while reading the body.
    let body = format!(
        r#"{{"query": "{query}", "variables": {{"v": {}}}}}"#,
        nested(200)
    );
    let (status, body) = post_raw(&app, body).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), Some("LIMIT"), "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("more than 128 levels deep"));
    // Readable JSON but deeper than the nesting bound: refused by the guard.
    let body = format!(
        r#"{{"query": "{query}", "variables": {{"v": {}}}}}"#,
        nested(100)
    );
    let (status, body) = post_raw(&app, body).await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("LIMIT"), "{body}");
    assert_eq!(
        body["errors"][0]["message"],
        format!("limit exceeded: the variables nest more than {NESTING} levels deep")
    );
    // The same over WebSocket (whose message JSON serde_json also bounds).
    let mut ws = app.ws_ready(None).await;
    let variables: Value = serde_json::from_str(&format!(r#"{{"v": {}}}"#, nested(100))).unwrap();
    ws.subscribe("v", query, variables).await;
    let message = ws.next_json().await;
    assert_eq!(
        message["payload"][0]["extensions"]["code"], "LIMIT",
        "{message}"
    );
    assert_still_healthy(&app, rss).await;
}

/// The first error's code and message.
fn first_error(body: &Value) -> (String, String) {
    let error = &body["errors"][0];
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        error["message"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn a_too_complex_query_is_refused_with_limit_naming_the_bound() {
    let app = spawn_app().await;
    let query = "{ a: verifyLog { eventsVerified } b: verifyLog { eventsVerified } }";
    let (status, body) = app.graphql(Some(VIEWER_TOKEN), query, json!({})).await;
    assert_eq!(status, 200);
    let (code, message) = first_error(&body);
    assert_eq!(code, "LIMIT", "{body}");
    assert!(
        message.contains("query complexity 1200 exceeds the limit of 1000"),
        "{message}"
    );
    assert!(body["data"].is_null(), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_too_recursive_query_is_refused_with_limit_naming_the_bound() {
    let app = spawn_app().await;
    // 40 fragments spread one in the next: 40 levels, one field deep.
    let mut query = String::from("{ ...F0 }");
    for i in 0..40 {
        query.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
    }
    query.push_str(" fragment F40 on Query { logHead }");
    let (_, body) = app.graphql(Some(VIEWER_TOKEN), &query, json!({})).await;
    let (code, message) = first_error(&body);
    assert_eq!(code, "LIMIT", "{body}");
    assert!(
        message.contains("recursion depth exceeds the limit of 32"),
        "{message}"
    );
    // A fragment cycle nests without end: the same refusal.
    let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    let (_, body) = app.graphql(Some(VIEWER_TOKEN), cycle, json!({})).await;
    assert_eq!(first_error(&body).0, "LIMIT", "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_field_with_too_many_directives_is_refused_with_limit_naming_the_bound() {
    let app = spawn_app().await;
    let directives = "@include(if: true) ".repeat(9);
    let query = format!("{{ logHead {directives} }}");
    let (_, body) = app.graphql(Some(VIEWER_TOKEN), &query, json!({})).await;
    let (code, message) = first_error(&body);
    assert_eq!(code, "LIMIT", "{body}");
    assert!(
        message.contains("field `logHead` has 9 directives, exceeding the limit of 8"),
        "{message}"
    );
    // Eight is allowed by the limit; validation then refuses the repeated directive.
    let query = format!("{{ logHead {} }}", "@include(if: true) ".repeat(8));
    let (_, body) = app.graphql(Some(VIEWER_TOKEN), &query, json!({})).await;
    assert_eq!(first_error(&body).0, "VALIDATION", "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn an_unknown_field_is_validation() {
    let app = spawn_app().await;
    let (status, body) = app
        .graphql(Some(VIEWER_TOKEN), "{ logHead noSuchField }", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(first_error(&body).0, "VALIDATION", "{body}");
    let (_, body) = app
        .graphql(Some(VIEWER_TOKEN), "{ logHead", json!({}))
        .await;
    assert_eq!(first_error(&body).0, "VALIDATION", "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_bad_variable_value_is_validation() {
    let app = spawn_app().await;
    let events = "query($first: Int) { events(first: $first) { pageInfo { hasNextPage } } }";
    for bad in [json!("ten"), json!(1.5), json!(1_i64 << 40), json!([1])] {
        let (_, body) = app
            .graphql(Some(VIEWER_TOKEN), events, json!({ "first": bad }))
            .await;
        assert_eq!(first_error(&body).0, "VALIDATION", "{bad}: {body}");
    }
    // Parsed only at execution (validation takes any 64-bit integer for Int):
    // located at the argument's value, hence VALIDATION.
    let after = "query($p: Int) { events(afterPosition: $p) { pageInfo { hasNextPage } } }";
    let (_, body) = app
        .graphql(Some(VIEWER_TOKEN), after, json!({ "p": -1 }))
        .await;
    assert_eq!(first_error(&body).0, "VALIDATION", "{body}");
    let (_, body) = app
        .graphql(
            Some(VIEWER_TOKEN),
            "{ events(afterPosition: -1) { pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_error(&body).0, "VALIDATION", "{body}");
    // A DateTime that does not parse fails at execution, coded by the scalar.
    let from = "query($from: DateTime) { events(from: $from) { pageInfo { hasNextPage } } }";
    for bad in [json!("yesterday"), json!(12)] {
        let (_, body) = app
            .graphql(Some(VIEWER_TOKEN), from, json!({ "from": bad }))
            .await;
        assert_eq!(first_error(&body).0, "VALIDATION", "{bad}: {body}");
    }
    // A required variable left out.
    let (_, body) = app
        .graphql(
            Some(VIEWER_TOKEN),
            "query($id: ID!) { incident(id: $id) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(first_error(&body).0, "VALIDATION", "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn an_operation_name_the_document_lacks_is_validation() {
    let app = spawn_app().await;
    let query = "query A { logHead } query B { logHead }";
    for body in [
        json!({ "query": query, "operationName": "C" }),
        json!({ "query": query }),
        json!({ "query": "{ logHead }", "operationName": "A" }),
    ] {
        let (status, response) = post_raw(&app, body.to_string()).await;
        assert_eq!(status, 200, "{response}");
        assert_eq!(first_error(&response).0, "VALIDATION", "{body}: {response}");
    }
    let (_, response) = post_raw(
        &app,
        json!({ "query": query, "operationName": "B" }).to_string(),
    )
    .await;
    assert!(response["errors"].is_null(), "{response}");
    app.shutdown().await;
}
