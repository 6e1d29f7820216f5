//! The README's "A 5-minute tour", run as written: every GraphQL operation of
//! the section (its fenced ```graphql blocks and inline `{ ... }` /
//! `subscription { ... }` spans) in order, with the `demo-responder` token the
//! tour tells you to set, against a server started like `serve --demo`,
//! substituting `<SERVICE ID>`, `<INCIDENT ID>` and `<DECLARE POSITION>` from earlier answers.
//!
//! The demo is the same generator, seed, services, tokens and loading code path
//! as `serve --demo`, over 30 days instead of 365: measured in a debug build on
//! the 2-core CI machine, the full year took 288 s (54.8k events) and 30 days
//! take 6-18 s (4.5k events); the test prints its load time.

use opsledger_fixtures::FixtureConfig;
use opsledger_tests::spawn_demo_app;
use serde_json::Value;
use std::time::Instant;

const README: &str = include_str!("../../../README.md");

/// The tour section of the README.
fn tour_section() -> &'static str {
    let start = README.find("## A 5-minute tour").expect("the tour section");
    let rest = &README[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// Splits a text of several top-level GraphQL operations at balanced braces.
fn split_operations(text: &str) -> Vec<String> {
    let mut ops = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        if depth == 0 && current.trim().is_empty() && c.is_whitespace() {
            continue;
        }
        current.push(c);
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    ops.push(current.trim().to_string());
                    current.clear();
                }
            }
            _ => {}
        }
    }
    ops
}

/// Every operation of the tour, in order: fenced graphql blocks and inline spans.
fn tour_operations() -> Vec<String> {
    let mut ops = Vec::new();
    let mut in_graphql = false;
    let mut block = String::new();
    for line in tour_section().lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            if in_graphql {
                ops.extend(split_operations(&block));
                block.clear();
            }
            in_graphql = trimmed == "```graphql";
            continue;
        }
        if in_graphql {
            block.push_str(line);
            block.push('\n');
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            let is_code = i % 2 == 1;
            let span = span.trim();
            // `{ field ... }` is a query; `{"Authorization": ...}` is the header to set.
            let query = span.starts_with('{') && !span[1..].trim_start().starts_with('"');
            if is_code && (query || span.starts_with("subscription {")) {
                ops.push(span.to_string());
            }
        }
    }
    ops
}

#[test]
fn the_tour_lists_the_operations_the_readme_shows() {
    let ops = tour_operations();
    assert!(ops.len() >= 10, "{ops:#?}");
    assert!(ops[0].starts_with("{ services("));
    assert!(ops.iter().any(|op| op.contains("declareIncident")));
    assert!(ops.iter().any(|op| op.starts_with("{ events(")));
    assert!(ops.iter().any(|op| op.starts_with("subscription {")));
    assert!(ops.last().unwrap().starts_with("{ transparencyLog"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_tour_runs_without_errors_against_serve_demo() {
    let started = Instant::now();
    let app = spawn_demo_app(FixtureConfig {
        days: 30,
        ..FixtureConfig::default()
    })
    .await;
    eprintln!(
        "demo (30 days) loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let token = tour_section()
        .split("Bearer ")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the tour names a bearer token");
    assert_eq!(token, "demo-responder");

    let mut service_id = None::<String>;
    let mut incident_id = None::<String>;
    let mut declare_position = None::<String>;
    for op in tour_operations() {
        let mut query = op.clone();
        for (placeholder, value) in [
            ("<SERVICE ID>", &service_id),
            ("<INCIDENT ID>", &incident_id),
            ("<DECLARE POSITION>", &declare_position),
        ] {
            if query.contains(placeholder) {
                let value = value
                    .as_ref()
                    .unwrap_or_else(|| panic!("{placeholder} before it is known: {op}"));
                query = query.replace(placeholder, value);
            }
        }
        if query.starts_with("subscription") {
            // The tour's subscriptions take no token.
            let mut ws = app.ws_ready(None).await;
            ws.subscribe("tour", &query, Value::Null).await;
            let message = ws.next_json().await;
            assert_eq!(message["type"], "next", "{query}: {message}");
            assert!(message["payload"]["errors"].is_null(), "{query}: {message}");
            continue;
        }
        let (status, body) = app.graphql(Some(token), &query, Value::Null).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert!(body["errors"].is_null(), "{query}: {body}");
        let data = &body["data"];
        if let Some(first) = data["services"]["edges"][0]["node"]["id"].as_str() {
            service_id.get_or_insert_with(|| first.to_string());
        }
        if let Some(declared) = data["declareIncident"]["incident"]["id"].as_str() {
            incident_id = Some(declared.to_string());
        }
        if let Some(position) = data["declareIncident"]["position"].as_str() {
            declare_position = Some(position.to_string());
        } else if let Some(position) = data["declareIncident"]["position"].as_u64() {
            declare_position = Some(position.to_string());
        }
        if data.get("incidentAsOf").is_some() {
            assert!(
                !data["incidentAsOf"]["entity"].is_null(),
                "{query}: the incident as of its declaration: {body}"
            );
        }
        // Every list the tour shows has something in it (an empty page would
        // hide a wrong filter, e.g. an actor name that is not the recorded one).
        for list in ["services", "incidents", "events"] {
            if let Some(edges) = data[list]["edges"].as_array() {
                assert!(!edges.is_empty(), "{query} answered no {list}: {body}");
            }
        }
    }
    assert!(incident_id.is_some(), "the tour declares an incident");
}
