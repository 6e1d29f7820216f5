//! Media types of GraphQL over HTTP (the GraphQL-over-HTTP spec): a POST body
//! must be `application/json` (a `charset` parameter must say UTF-8); the
//! response is `application/graphql-response+json` when the client's `Accept`
//! prefers it, else `application/json` (also without `Accept`, or for `*/*`).

/// The media type of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMedia {
    /// `application/json` (the default every client understands).
    Json,
    /// `application/graphql-response+json` (asked for explicitly).
    GraphqlResponseJson,
}

impl ResponseMedia {
    /// The `Content-Type` value.
    pub fn content_type(self) -> &'static str {
        match self {
            ResponseMedia::Json => "application/json",
            ResponseMedia::GraphqlResponseJson => "application/graphql-response+json",
        }
    }
}

/// Why a POST body's content type is refused (HTTP 415).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedBody {
    /// What the client sent (`None`: no `Content-Type`).
    pub sent: Option<String>,
}

impl UnsupportedBody {
    /// A description for the BAD_REQUEST error's message.
    pub fn describe(&self) -> String {
        let sent = self
            .sent
            .as_deref()
            .map_or("no Content-Type".to_string(), |s| format!("`{s}`"));
        format!("a POST body must be `Content-Type: application/json` (UTF-8), got {sent}")
    }
}

/// Splits `type/subtype; k=v; ...` into the lower-case essence and its parameters.
fn split_media(value: &str) -> (String, impl Iterator<Item = (String, &str)>) {
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let params = parts.filter_map(|param| {
        let (key, value) = param.split_once('=')?;
        Some((
            key.trim().to_ascii_lowercase(),
            value.trim().trim_matches('"'),
        ))
    });
    (essence, params)
}

/// Checks the `Content-Type` of a POST body: `application/json`, UTF-8 if a charset is given.
pub fn check_body_type(content_type: Option<&str>) -> Result<(), UnsupportedBody> {
    let refused = || UnsupportedBody {
        sent: content_type.map(str::to_string),
    };
    let value = content_type.ok_or_else(refused)?;
    let (essence, mut params) = split_media(value);
    let utf8 = params.all(|(key, value)| {
        key != "charset"
            || value.eq_ignore_ascii_case("utf-8")
            || value.eq_ignore_ascii_case("utf8")
    });
    if essence == "application/json" && utf8 {
        Ok(())
    } else {
        Err(refused())
    }
}

/// How well one `Accept` range matches `media`: `(q in thousandths, specificity)`.
fn range_match(range: &str, media: ResponseMedia) -> Option<(u16, u8)> {
    let (essence, params) = split_media(range);
    let (kind, _) = media.content_type().split_once('/')?;
    let specificity = if essence == media.content_type() {
        2
    } else if essence == format!("{kind}/*") {
        1
    } else if essence == "*/*" {
        0
    } else {
        return None;
    };
    let mut q = 1000;
    for (key, value) in params {
        if key == "q" {
            q = value
                .parse::<f32>()
                .map_or(0, |q| (q.clamp(0.0, 1.0) * 1000.0).round() as u16);
        }
    }
    Some((q, specificity))
}

/// The response media type for an `Accept` header: the supported type with
/// the highest quality, the one named explicitly on a tie, JSON on a full tie
/// (`*/*`), and JSON when nothing acceptable is supported (the spec lets a
/// server answer JSON rather than 406).
pub fn response_media(accept: Option<&str>) -> ResponseMedia {
    let Some(accept) = accept else {
        return ResponseMedia::Json;
    };
    let rank = |media: ResponseMedia| -> (u16, u8, bool) {
        // The most specific range that matches decides the quality (RFC 9110 12.5.1).
        let best = accept
            .split(',')
            .filter_map(|range| range_match(range, media))
            .max_by_key(|&(_, specificity)| specificity);
        match best {
            Some((q, specificity)) => {
                let named = specificity == 2 && media == ResponseMedia::GraphqlResponseJson;
                (q, specificity, named)
            }
            None => (0, 0, false),
        }
    };
    let (json, graphql) = (
        rank(ResponseMedia::Json),
        rank(ResponseMedia::GraphqlResponseJson),
    );
    if graphql.0 > 0 && graphql > json {
        ResponseMedia::GraphqlResponseJson
    } else {
        ResponseMedia::Json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResponseMedia::{GraphqlResponseJson as Gql, Json};

    #[test]
    fn json_bodies_are_accepted_with_or_without_a_utf8_charset() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=\"UTF-8\"",
            "application/json; charset=utf-8; boundary=x",
        ] {
            assert_eq!(check_body_type(Some(ok)), Ok(()), "{ok}");
        }
    }

    #[test]
    fn other_bodies_are_refused_naming_what_was_sent() {
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/xml",
            "multipart/form-data; boundary=x",
            "application/graphql-response+json",
            "application/json; charset=latin1",
            "application/jsonx",
        ] {
            let err = check_body_type(Some(refused)).unwrap_err();
            assert!(err.describe().contains(refused), "{}", err.describe());
        }
        let err = check_body_type(None).unwrap_err();
        assert!(err.describe().ends_with("got no Content-Type"));
    }

    #[test]
    fn the_response_is_json_unless_graphql_response_json_is_preferred() {
        assert_eq!(response_media(None), Json);
        assert_eq!(response_media(Some("*/*")), Json);
        assert_eq!(response_media(Some("application/*")), Json);
        assert_eq!(response_media(Some("application/json")), Json);
        assert_eq!(response_media(Some("text/html")), Json);
        assert_eq!(
            response_media(Some("application/graphql-response+json")),
            Gql
        );
        // graphql-ws / GraphiQL style: both named, the GraphQL type first.
        assert_eq!(
            response_media(Some(
                "application/graphql-response+json, application/json, multipart/mixed"
            )),
            Gql
        );
        assert_eq!(
            response_media(Some(
                "application/json, application/graphql-response+json;q=0.9"
            )),
            Json
        );
        assert_eq!(
            response_media(Some(
                "application/json;q=0.5, application/graphql-response+json"
            )),
            Gql
        );
        assert_eq!(
            response_media(Some("application/graphql-response+json;q=0, */*")),
            Json
        );
        assert_eq!(
            response_media(Some("application/graphql-response+json; q=bad")),
            Json
        );
    }
}
