//! The request a mutation's idempotency key is bound to: the mutation field's name and
//! its arguments as the client sent them (variables resolved), normalized.
//!
//! Normalized: object keys sorted, `null` and omitted arguments the same, the
//! `idempotencyKey` argument itself left out. Nothing the server generates or gathers
//! (ids, timestamps, facts from the read models) is part of it, so a retry of the same
//! request has the same fingerprint.

use crate::app::RequestFingerprint;
use async_graphql::{Context, Name, Value};
use std::collections::BTreeMap;

/// The argument that is the key, not part of the request.
const KEY_ARGUMENT: &str = "idempotencyKey";

/// The fingerprint of the mutation field being resolved.
pub fn of_field(ctx: &Context<'_>) -> RequestFingerprint {
    let field = ctx.field();
    let arguments = field.arguments().unwrap_or_default();
    RequestFingerprint::new(field.name(), normalized(arguments).as_bytes())
}

/// The arguments as canonical JSON (sorted keys, no nulls, no key argument).
fn normalized(arguments: Vec<(Name, Value)>) -> String {
    let object: BTreeMap<String, serde_json::Value> = arguments
        .into_iter()
        .filter(|(name, _)| name.as_str() != KEY_ARGUMENT)
        .filter_map(|(name, value)| canonical(value).map(|v| (name.to_string(), v)))
        .collect();
    serde_json::to_string(&object).unwrap_or_default()
}

/// A GraphQL value as canonical JSON (`None` for null).
fn canonical(value: Value) -> Option<serde_json::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Object(fields) => serde_json::Value::Object(
            fields
                .into_iter()
                .filter_map(|(name, v)| canonical(v).map(|v| (name.to_string(), v)))
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .collect(),
        ),
        Value::List(items) => serde_json::Value::Array(
            items
                .into_iter()
                .map(|v| canonical(v).unwrap_or(serde_json::Value::Null))
                .collect(),
        ),
        Value::Enum(name) => serde_json::Value::String(name.to_string()),
        other => other.into_json().unwrap_or(serde_json::Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::indexmap::IndexMap;

    fn object(fields: &[(&str, Value)]) -> Value {
        let map: IndexMap<Name, Value> = fields
            .iter()
            .map(|(k, v)| (Name::new(k), v.clone()))
            .collect();
        Value::Object(map)
    }

    #[test]
    fn key_order_nulls_and_the_key_argument_do_not_change_the_request() {
        let a = vec![
            (
                Name::new("input"),
                object(&[
                    ("name", Value::from("a")),
                    ("tier", Value::Enum(Name::new("T1"))),
                ]),
            ),
            (Name::new("idempotencyKey"), Value::from("k1")),
        ];
        let b = vec![
            (
                Name::new("input"),
                object(&[
                    ("tier", Value::Enum(Name::new("T1"))),
                    ("owner", Value::Null),
                    ("name", Value::from("a")),
                ]),
            ),
            (Name::new("idempotencyKey"), Value::from("k2")),
            (Name::new("expectedVersion"), Value::Null),
        ];
        assert_eq!(normalized(a), normalized(b));
    }

    #[test]
    fn another_value_is_another_request() {
        let a = vec![(Name::new("name"), Value::from("a"))];
        let b = vec![(Name::new("name"), Value::from("b"))];
        assert_ne!(normalized(a), normalized(b));
    }
}
