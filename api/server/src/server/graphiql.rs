//! `GET /graphiql` (dev mode only): async-graphql's GraphiQL page, whose
//! scripts come from the unpkg.com CDN, plus a fallback rendered in the page
//! itself. Until GraphiQL renders over it, the page says what to use instead
//! (the committed schema, a curl example, the WebSocket endpoint), and names
//! the script that failed to load: never a blank "Loading..." page offline.

use async_graphql::http::GraphiQLSource;
use axum::http::{header, HeaderMap};
use axum::response::Html;

/// What GraphiQL's own page shows until it renders (replaced by the fallback).
const GRAPHIQL_PLACEHOLDER: &str = r#"<div id="graphiql">Loading...</div>"#;

/// Marks the fallback's title when a script or stylesheet fails to load.
/// Registered first in `<head>`, in the capture phase (load errors do not bubble).
const LOAD_ERROR_SCRIPT: &str = r#"<script>
      window.addEventListener("error", function (event) {
        var el = event.target;
        if (!el || (el.tagName !== "SCRIPT" && el.tagName !== "LINK")) return;
        var show = function () {
          var title = document.getElementById("graphiql-fallback-title");
          if (title) title.textContent = "GraphiQL could not load " + (el.src || el.href) + " (offline or blocked?)";
        };
        if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", show);
        else show();
      }, true);
    </script>"#;

/// The fallback shown in GraphiQL's place; `HOST` is this server's address.
const FALLBACK: &str = r#"<div id="graphiql"><div id="graphiql-fallback" style="font-family: sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; overflow: auto; height: 90vh">
      <h1 id="graphiql-fallback-title" style="font-size: 1.3rem">Loading GraphiQL (its scripts come from unpkg.com)...</h1>
      <noscript><p><strong>GraphiQL needs JavaScript.</strong></p></noscript>
      <p>If this page stays like this, the browser cannot load GraphiQL from unpkg.com (offline or blocked). The API works without it:</p>
      <ul>
        <li>The schema is committed in the repository as <code>api/schema.graphql</code> (use it for codegen, too).</li>
        <li>Queries and mutations: <code>POST http://HOST/graphql</code> with a JSON body, e.g.
<pre>curl -s http://HOST/graphql \
  -H 'content-type: application/json' \
  -H 'authorization: Bearer &lt;token&gt;' \
  -d '{"query": "{ services(first: 5) { edges { node { id name } } } }"}'</pre></li>
        <li>Subscriptions: <code>ws://HOST/graphql/ws</code> (graphql-transport-ws); send the token in
          <code>connection_init</code>'s payload: <code>{"authorization": "Bearer &lt;token&gt;"}</code>.</li>
      </ul>
    </div></div>"#;

/// `text` with the HTML special characters escaped.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page for a server reached as `host`.
pub fn graphiql_page(host: &str) -> String {
    let page = GraphiQLSource::build()
        .endpoint("/graphql")
        .subscription_endpoint("/graphql/ws")
        .title("opsledger GraphiQL")
        .finish();
    page.replacen("<head>", &format!("<head>\n    {LOAD_ERROR_SCRIPT}"), 1)
        .replacen(
            GRAPHIQL_PLACEHOLDER,
            &FALLBACK.replace("HOST", &escape_html(host)),
            1,
        )
}

/// `GET /graphiql` (dev mode only).
pub async fn graphiql(headers: HeaderMap) -> Html<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    Html(graphiql_page(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_the_offline_fallback_in_place_of_loading() {
        let page = graphiql_page("127.0.0.1:9999");
        assert!(
            !page.contains(GRAPHIQL_PLACEHOLDER),
            "the placeholder was not replaced"
        );
        assert!(page.contains("api/schema.graphql"));
        assert!(page.contains("curl -s http://127.0.0.1:9999/graphql"));
        assert!(page.contains("<noscript>"));
        // The load-error listener comes before the first CDN script.
        let listener = page.find("addEventListener(\"error\"").expect("listener");
        let first_script = page.find("https://unpkg.com").expect("a CDN script");
        assert!(listener < first_script);
    }

    #[test]
    fn the_host_is_escaped() {
        let page = graphiql_page("evil\"><script>x</script>");
        assert!(!page.contains("<script>x</script>"));
        assert!(page.contains("evil&quot;&gt;&lt;script&gt;"));
    }
}
