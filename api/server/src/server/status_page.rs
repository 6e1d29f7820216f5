//! `GET /status`: the public status page, one self-contained HTML file
//! (inline CSS and script, no CDN) embedded in the binary. The page reads
//! `statusPage` over HTTP once, then follows the `statusPage` subscription
//! over `/graphql/ws` (graphql-transport-ws), reconnecting with backoff.

use axum::http::header;
use axum::response::IntoResponse;

/// The page, embedded at compile time.
pub const STATUS_PAGE_HTML: &str = include_str!("../../../assets/status.html");

/// What the page may load: only its own inline style/script and this origin's API.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Serves the status page (public: no token needed).
pub async fn status_page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        STATUS_PAGE_HTML,
    )
}
