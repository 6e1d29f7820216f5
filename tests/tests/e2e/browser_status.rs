//! The public status page in a real browser: a served store, headless
//! Chromium (Debian's `/usr/bin/chromium`, or `$CHROMIUM`) driven by
//! `tests/browser/status_page.mjs` (playwright-core), an incident declared
//! through the API, and the page changing without a reload. The screenshot
//! lands in `target/status-page.png`.
//!
//! Without chromium, node or `tests/browser/node_modules`, the browser test
//! prints a skip notice, except when `CI` is set: then it fails (`.ci/run`
//! installs them).

use opsledger_api::graphql::scalars::format_rfc3339;
use opsledger_tests::{spawn_app, TestApp, ADMIN_TOKEN, RESPONDER_TOKEN};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/browser`, where the script and its node_modules live.
fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Where the screenshot goes: `<target dir>/status-page.png`.
fn screenshot_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    target.join("status-page.png")
}

/// What the browser test needs and is missing (empty = all there).
fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        missing.push(format!(
            "{chromium} (install Debian's chromium: apt-get install chromium)"
        ));
    }
    let node_runs = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !node_runs {
        missing.push("node on PATH (Node.js 18 or newer)".into());
    }
    if !browser_dir()
        .join("node_modules")
        .join("playwright-core")
        .is_dir()
    {
        missing.push("tests/browser/node_modules (run `npm ci` in tests/browser)".into());
    }
    missing
}

/// True if the browser test can run; false (after a notice) if it is skipped.
/// Panics when something is missing and `CI` is set.
fn browser_available() -> bool {
    let missing = missing_prerequisites();
    if missing.is_empty() {
        return true;
    }
    let what = missing.join("; ");
    if std::env::var_os("CI").is_some() {
        panic!("browser test prerequisites missing in CI (.ci/run installs them): {what}");
    }
    eprintln!("SKIPPED browser_status: missing {what}");
    false
}

/// The service the browser test declares its incident on (others depend on it).
const TARGET_SERVICE: &str = "Identity";

/// A GraphQL call that must succeed; returns `data`.
async fn must(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let (status, body) = app.graphql(Some(token), query, variables).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

/// Registers a service through the API; returns its id.
async fn register(app: &TestApp, name: &str, team: &str, tier: i32, deps: &[&str]) -> String {
    let data = must(
        app,
        ADMIN_TOKEN,
        "mutation($input: ServiceInput!) { registerService(input: $input) { id } }",
        json!({ "input": {
            "name": name, "ownerTeam": team, "tier": tier, "dependencies": deps,
            "sloTargetPercent": 99.9,
            "escalationPolicy": [{ "target": team, "ackTimeoutSecs": 300 }],
        }}),
    )
    .await;
    data["registerService"]["id"]
        .as_str()
        .expect("service id")
        .to_owned()
}

/// A standard (pre-approved) change on `service`, scheduled for tomorrow 02:00-03:00 UTC.
async fn schedule_maintenance(app: &TestApp, service: &str, title: &str) {
    const DAY_MS: i64 = 86_400_000;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    let tomorrow = (i64::try_from(now_ms).expect("ms fit i64") / DAY_MS + 1) * DAY_MS;
    let window = json!({
        "start": format_rfc3339(tomorrow + 2 * 3_600_000),
        "end": format_rfc3339(tomorrow + 3 * 3_600_000),
    });
    let requested = must(
        app,
        ADMIN_TOKEN,
        "mutation($input: RequestChangeInput!) { requestChange(input: $input) { id } }",
        json!({ "input": {
            "changeType": "STANDARD", "category": "PATCH", "title": title,
            "services": [service], "window": window,
            "implementationPlan": "Rolling restart with the patched image.",
            "rollbackPlan": "Roll back to the previous image.",
        }}),
    )
    .await;
    let id = requested["requestChange"]["id"].clone();
    must(
        app,
        ADMIN_TOKEN,
        "mutation($id: ID!) { submitChange(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    must(
        app,
        ADMIN_TOKEN,
        "mutation($id: ID!, $window: TimeWindowInput!) { scheduleChange(id: $id, window: $window) { id } }",
        json!({ "id": id, "window": window }),
    )
    .await;
}

/// A small demo store through the API: a catalogue with dependencies, one
/// ongoing incident with a public update and one scheduled maintenance.
async fn seed_demo(app: &TestApp) {
    let identity = register(app, TARGET_SERVICE, "platform", 1, &[]).await;
    let payments = register(app, "Payments API", "payments", 1, &[&identity]).await;
    register(app, "Checkout", "storefront", 1, &[&payments, &identity]).await;
    let search = register(app, "Search", "storefront", 2, &[]).await;
    register(app, "Notifications", "platform", 3, &[]).await;
    let reporting = register(app, "Reporting", "data", 3, &[]).await;
    schedule_maintenance(app, &reporting, "Reporting database patching").await;
    let declared = must(
        app,
        RESPONDER_TOKEN,
        "mutation($input: DeclareIncidentInput!) { declareIncident(input: $input) { id } }",
        json!({ "input": {
            "title": "Slow search results for some customers",
            "severity": "SEV3",
            "impacts": [{ "service": search, "level": "DEGRADED" }],
        }}),
    )
    .await;
    let incident = declared["declareIncident"]["id"].clone();
    must(
        app,
        RESPONDER_TOKEN,
        "mutation($id: ID!, $message: String!) {
           postStatusUpdate(id: $id, visibility: PUBLIC, message: $message) { id }
         }",
        json!({ "id": incident, "message":
            "One search index shard is slow; we are moving its traffic to healthy replicas." }),
    )
    .await;
}

/// Runs the Playwright script against `app`; returns (exit success, stdout + stderr).
async fn run_status_page_script(app: &TestApp) -> (bool, String) {
    let base = app.url("");
    let screenshot = screenshot_path();
    let script = browser_dir().join("status_page.mjs");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(base)
            .arg(RESPONDER_TOKEN)
            .arg(screenshot)
            .arg(TARGET_SERVICE)
            .output()
    })
    .await
    .expect("join the node runner")
    .expect("start node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn status_page_is_public_self_contained_html() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/status"))
        .send()
        .await
        .expect("GET /status");
    assert_eq!(response.status().as_u16(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let csp = header("content-security-policy").expect("a CSP header");
    assert!(csp.contains("connect-src 'self'"), "CSP: {csp}");
    let body = response.text().await.expect("body");
    assert_eq!(body, opsledger_api::server::status_page::STATUS_PAGE_HTML);
    assert!(body.contains("subscription StatusPage"));
    assert!(body.contains("graphql-transport-ws"));
    for external in [
        "<script src",
        "<link rel=\"stylesheet\"",
        "https://",
        "http://",
    ] {
        assert!(!body.contains(external), "the page loads {external}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_shows_a_declared_incident_live_without_reload() {
    if !browser_available() {
        return;
    }
    let app = spawn_app().await;
    seed_demo(&app).await;
    let (ok, output) = run_status_page_script(&app).await;
    assert!(ok, "status page script failed:\n{output}");
    assert!(
        output.contains("status page: ok"),
        "no success line:\n{output}"
    );
    assert!(
        screenshot_path().is_file(),
        "no screenshot at {:?}",
        screenshot_path()
    );
}
