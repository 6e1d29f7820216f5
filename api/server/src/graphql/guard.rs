//! The request guard, a schema extension every GraphQL request passes on
//! every transport: HTTP POST, HTTP GET and WebSocket operations all reach
//! the schema's parse hook, which sees the raw query and variables
//! (tests/tests/e2e/hostile_graphql.rs shows it for each). It refuses, with a
//! coded error naming the bound:
//!
//! - a query or variables nested deeper than [`Limits::nesting`], before the
//!   parser sees them (`LIMIT`, see [`super::nesting`]);
//! - introspection (`__schema`, `__type`) in production (`FORBIDDEN`: the
//!   schema is committed as `api/schema.graphql`);
//! - a selection deeper than [`Limits::depth`] (`LIMIT`, before validation,
//!   as async-graphql's own depth limit did); in dev mode an operation
//!   selecting only introspection fields may go to
//!   [`Limits::introspection_depth`], so that GraphiQL and codegen's standard
//!   introspection query (13-15 levels) passes.
//!
//! The walks over the parsed document recurse once per selection set or
//! fragment spread: async-graphql's recursion limit
//! ([`Limits::recursive_depth`]) has bounded that by the time they run.

use crate::error::{ApiError, ErrorCode};
use crate::graphql::nesting::{check_nesting, check_variables_nesting, TooDeep};
use crate::limits::Limits;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{BaseType, ExecutableDocument, Selection, SelectionSet, Type};
use async_graphql::{Pos, Positioned, ServerError, ServerResult, Variables};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The message of the production introspection refusal.
pub const INTROSPECTION_OFF: &str = "introspection is off in production: the schema is \
     committed as api/schema.graphql (or start the server with --dev)";

/// The factory registered on the schema.
#[derive(Clone, Debug)]
pub struct RequestGuard {
    dev: bool,
    nesting: usize,
    depth: usize,
    introspection_depth: usize,
}

impl RequestGuard {
    /// The guard of a schema with `limits`, in dev mode if `dev`.
    pub fn new(limits: &Limits, dev: bool) -> Self {
        RequestGuard {
            dev,
            nesting: limits.nesting,
            depth: limits.depth,
            introspection_depth: limits.introspection_depth,
        }
    }
}

impl ExtensionFactory for RequestGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension {
            policy: self.clone(),
        })
    }
}

struct GuardExtension {
    policy: RequestGuard,
}

/// A refusal with `code`, `message` and an optional location.
fn refusal(code: ErrorCode, message: String, at: Option<Pos>) -> ServerError {
    let mut error = ServerError::new(message, at);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    error
}

/// The type name under a variable type's lists and non-null markers.
fn base_type_name(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => base_type_name(inner),
    }
}

/// A `VALIDATION` error for the first variable whose type the schema does not define.
///
/// Checked before async-graphql's validation: its default-value rule panics ("Type `X`
/// not defined") on a variable of an unknown type with a list default value, e.g.
/// `query ($v: [[Int1]!] = [[0]]) { logHead }` (found by the `graphql_request` fuzz
/// target against async-graphql 7.2.1).
fn unknown_variable_type(
    doc: &ExecutableDocument,
    defined: impl Fn(&str) -> bool,
) -> Option<ServerError> {
    doc.operations.iter().find_map(|(_, operation)| {
        operation.node.variable_definitions.iter().find_map(|var| {
            let name = base_type_name(&var.node.var_type.node);
            (!defined(name)).then(|| {
                refusal(
                    ErrorCode::Validation,
                    format!(
                        "unknown type `{name}` of variable `${}`",
                        var.node.name.node
                    ),
                    Some(var.pos),
                )
            })
        })
    })
}

fn too_deep(err: TooDeep) -> ServerError {
    let at = err.at.map(|(line, column)| Pos { line, column });
    let err = ApiError::limit(err.describe());
    refusal(err.code(), err.message(), at)
}

/// What the root selections of a document's operations select.
#[derive(Debug, Default, PartialEq, Eq)]
struct RootFields {
    /// `__schema` or `__type`.
    introspection: bool,
    /// Any field not starting with `__` (`__typename` is neither).
    data: bool,
}

impl RootFields {
    fn of(doc: &ExecutableDocument) -> Self {
        let mut roots = RootFields::default();
        let mut seen_fragments = HashSet::new();
        for (_, operation) in doc.operations.iter() {
            roots.visit(doc, &operation.node.selection_set, &mut seen_fragments);
        }
        roots
    }

    /// Visits root fields, through fragments (each once: cycles end here,
    /// validation refuses them).
    fn visit<'d>(
        &mut self,
        doc: &'d ExecutableDocument,
        set: &'d Positioned<SelectionSet>,
        seen_fragments: &mut HashSet<&'d str>,
    ) {
        for selection in &set.node.items {
            match &selection.node {
                Selection::Field(field) => match field.node.name.node.as_str() {
                    "__schema" | "__type" => self.introspection = true,
                    name if !name.starts_with("__") => self.data = true,
                    _ => {}
                },
                Selection::InlineFragment(fragment) => {
                    self.visit(doc, &fragment.node.selection_set, seen_fragments)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                        if seen_fragments.insert(name) {
                            self.visit(doc, &fragment.node.selection_set, seen_fragments);
                        }
                    }
                }
            }
        }
    }

    fn introspection_only(&self) -> bool {
        self.introspection && !self.data
    }
}

/// How many fields deep the document's deepest operation selects, fragments
/// inlined (as async-graphql's depth limit counts). Each fragment's depth is
/// computed once, so the walk is linear in the document; a fragment cycle
/// counts as no depth (validation refuses it).
fn selection_depth(doc: &ExecutableDocument) -> usize {
    let mut fragments = HashMap::new();
    doc.operations
        .iter()
        .map(|(_, operation)| set_depth(doc, &operation.node.selection_set, &mut fragments))
        .max()
        .unwrap_or(0)
}

/// The depth of `set`; `fragments` holds each fragment's depth (`None` while being computed).
fn set_depth<'d>(
    doc: &'d ExecutableDocument,
    set: &'d Positioned<SelectionSet>,
    fragments: &mut HashMap<&'d str, Option<usize>>,
) -> usize {
    let mut deepest = 0;
    for selection in &set.node.items {
        let depth = match &selection.node {
            Selection::Field(field) => 1 + set_depth(doc, &field.node.selection_set, fragments),
            Selection::InlineFragment(fragment) => {
                set_depth(doc, &fragment.node.selection_set, fragments)
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                match (fragments.get(name.as_str()), doc.fragments.get(name)) {
                    (Some(known), _) => known.unwrap_or(0),
                    (None, None) => 0, // unknown: validation refuses it
                    (None, Some(fragment)) => {
                        fragments.insert(name.as_str(), None);
                        let depth = set_depth(doc, &fragment.node.selection_set, fragments);
                        fragments.insert(name.as_str(), Some(depth));
                        depth
                    }
                }
            }
        };
        deepest = deepest.max(depth);
    }
    deepest
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        check_nesting(query, self.policy.nesting).map_err(too_deep)?;
        check_variables_nesting(variables, self.policy.nesting).map_err(too_deep)?;
        let doc = next.run(ctx, query, variables).await?;
        if let Some(err) = unknown_variable_type(&doc, |name| {
            ctx.schema_env.registry.types.contains_key(name)
        }) {
            return Err(err);
        }
        let roots = RootFields::of(&doc);
        if roots.introspection && !self.policy.dev {
            return Err(refusal(
                ErrorCode::Forbidden,
                INTROSPECTION_OFF.to_string(),
                None,
            ));
        }
        let max = if self.policy.dev && roots.introspection_only() {
            self.policy.introspection_depth
        } else {
            self.policy.depth
        };
        let depth = selection_depth(&doc);
        if depth > max {
            let err = ApiError::limit(format!(
                "the query selects fields {depth} levels deep, at most {max}"
            ));
            return Err(refusal(err.code(), err.message(), None));
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    #[test]
    fn a_variable_of_an_unknown_type_is_refused_before_validation() {
        let doc =
            parse_query("query ($v: [[Int1]!] = [[0, ],2 [3]], $s: Stping = \"x\") { logHead }")
                .unwrap();
        let known = |name: &str| ["Int", "String"].contains(&name);
        let err = unknown_variable_type(&doc, known).expect("refused");
        assert_eq!(err.message, "unknown type `Int1` of variable `$v`");
        let fine = parse_query("query ($v: [[Int]!] = [[0]]) { logHead }").unwrap();
        assert!(unknown_variable_type(&fine, known).is_none());
    }

    fn roots(query: &str) -> RootFields {
        RootFields::of(&parse_query(query).unwrap())
    }

    #[test]
    fn root_fields_tell_introspection_from_data() {
        let only = RootFields {
            introspection: true,
            data: false,
        };
        assert_eq!(roots("{ __schema { queryType { name } } }"), only);
        assert_eq!(
            roots("{ __type(name: \"Query\") { name } __typename }"),
            only
        );
        assert!(roots("{ __schema { types { name } } logHead }").data);
        assert_eq!(roots("{ __typename }"), RootFields::default());
        assert_eq!(
            roots("{ logHead }"),
            RootFields {
                introspection: false,
                data: true
            }
        );
    }

    fn depth(query: &str) -> usize {
        selection_depth(&parse_query(query).unwrap())
    }

    #[test]
    fn selection_depth_counts_fields_through_fragments() {
        assert_eq!(depth("{ __typename }"), 1);
        assert_eq!(depth("{ a { b { c } } d }"), 3);
        assert_eq!(
            depth("{ a { ...F } } fragment F on T { b { ... on T { c { d } } } }"),
            4
        );
        // The deepest operation counts; a fragment used twice is walked once.
        assert_eq!(
            depth("query A { a } query B { b { ...F x { ...F } } } fragment F on T { c }"),
            3
        );
        // Cycles and unknown fragments end the walk (validation refuses them).
        assert_eq!(depth("{ a { ...F } } fragment F on T { b { ...F } }"), 2);
        assert_eq!(depth("{ a { ...Missing } }"), 1);
    }

    #[test]
    fn root_fields_are_found_through_fragments_and_cycles_end() {
        let query = "query A { ...F } query B { ... on Query { logHead } }
            fragment F on Query { ...G } fragment G on Query { __schema { description } ...F }";
        assert_eq!(
            roots(query),
            RootFields {
                introspection: true,
                data: true
            }
        );
    }
}
