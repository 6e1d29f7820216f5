//! The request guard, a schema extension every GraphQL request passes on
//! every transport: HTTP POST, HTTP GET and WebSocket operations all reach
//! the schema's `prepare_request` hook, which sees the raw query and
//! variables (tests/tests/e2e/hostile_graphql.rs shows it for each). Before
//! async-graphql parses, checks or validates anything, it refuses, with a
//! coded error naming the bound:
//!
//! - a query or variables nested deeper than [`Limits::nesting`], before the
//!   parser sees them (`LIMIT`, see [`super::nesting`]);
//! - a query that does not parse, a variable of an unknown type, or an
//!   `operationName` the document does not hold (or none where it holds
//!   several) (`VALIDATION`);
//! - selection sets nested deeper than [`Limits::recursive_depth`], fragment
//!   spreads counted (`LIMIT`);
//! - a field with more than [`Limits::directives`] directives (`LIMIT`);
//! - introspection (`__schema`, `__type`) in production (`FORBIDDEN`: the
//!   schema is committed as `api/schema.graphql`);
//! - a selection deeper than [`Limits::depth`] (`LIMIT`); in dev mode an
//!   operation selecting only introspection fields may go to
//!   [`Limits::introspection_depth`], so that GraphiQL and codegen's standard
//!   introspection query (13-15 levels) passes;
//! - a query whose complexity exceeds [`Limits::complexity`] (`LIMIT`),
//!   computed as async-graphql computes it (each field weighs 1 plus its
//!   selections, `__typename` nothing, a field with a declared complexity
//!   its weight from [`FIELD_WEIGHTS`]; every operation of the document).
//!
//! The same recursion depth, directive and complexity limits are configured
//! on the schema as a backstop ([`super::builder`]); the guard computes them
//! exactly as async-graphql does, on the same document, before it, so they
//! never fire (`tests::our_complexity_is_async_graphqls` checks the
//! complexity; the rest are the same walks). The document the guard parsed is
//! handed to async-graphql, which does not parse it again.
//!
//! The recursion-depth walk stops at the bound and computes each fragment
//! once, so it is linear in the document and recurses at most
//! [`Limits::recursive_depth`] deep; the later walks run only on documents it
//! passed (no fragment cycles, bounded nesting).

use crate::error::{ApiError, ErrorCode};
use crate::graphql::nesting::{check_nesting, check_variables_nesting, TooDeep};
use crate::limits::Limits;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet, Type,
};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{Pos, Positioned, Request, ServerError, ServerResult};
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
    recursive_depth: usize,
    directives: usize,
    complexity: usize,
}

impl RequestGuard {
    /// The guard of a schema with `limits`, in dev mode if `dev`.
    pub fn new(limits: &Limits, dev: bool) -> Self {
        RequestGuard {
            dev,
            nesting: limits.nesting,
            depth: limits.depth,
            introspection_depth: limits.introspection_depth,
            recursive_depth: limits.recursive_depth,
            directives: limits.directives,
            complexity: limits.complexity,
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

/// The fields whose complexity is declared (`#[graphql(complexity = ...)]`):
/// (type, field, weight). async-graphql's declared complexity replaces the
/// field's `1 + selections`; the guard needs the weight here because the
/// registry holds it only as a function it cannot call outside validation
/// (`tests::every_declared_complexity_has_a_weight` keeps this complete).
pub const FIELD_WEIGHTS: &[(&str, &str, usize)] = &[(
    "Query",
    "verifyLog",
    crate::graphql::log::VERIFY_LOG_COMPLEXITY,
)];

/// A `VALIDATION` error for an `operationName` the document does not hold, or
/// for none given where the document holds several operations (the errors
/// async-graphql would raise between validation and execution, uncoded).
fn unknown_operation(doc: &ExecutableDocument, name: Option<&str>) -> Option<ServerError> {
    let message = match (&doc.operations, name) {
        (DocumentOperations::Single(_), None) => return None,
        (DocumentOperations::Single(_), Some(name)) => {
            format!("operationName `{name}` names no operation of the document (its one operation is anonymous)")
        }
        (DocumentOperations::Multiple(operations), Some(name)) => {
            if operations.keys().any(|op| op.as_str() == name) {
                return None;
            }
            format!("operationName `{name}` names no operation of the document")
        }
        (DocumentOperations::Multiple(operations), None) => {
            if operations.len() == 1 {
                return None;
            }
            format!(
                "the document holds {} operations: name the one to run with operationName",
                operations.len()
            )
        }
    };
    Some(refusal(ErrorCode::Validation, message, None))
}

/// Selection sets nested deeper than the recursion limit (or a fragment cycle,
/// which nests without end).
#[derive(Debug, PartialEq, Eq)]
struct TooRecursive {
    at: Pos,
}

/// Refuses a document whose selection sets nest deeper than `max`, counting
/// fragment spreads and inline fragments as async-graphql's recursion limit
/// does (an operation's selection set is level 0, a fragment's set one level
/// below its spread).
fn check_recursion(doc: &ExecutableDocument, max: usize) -> Result<(), TooRecursive> {
    let mut heights = HashMap::new();
    for (_, operation) in doc.operations.iter() {
        set_height(doc, &operation.node.selection_set, 0, max, &mut heights)?;
    }
    Ok(())
}

/// How many levels of selection sets lie under `set`, which is at `level`;
/// `heights` holds each fragment's (`None` while being computed: a cycle).
fn set_height<'d>(
    doc: &'d ExecutableDocument,
    set: &'d Positioned<SelectionSet>,
    level: usize,
    max: usize,
    heights: &mut HashMap<&'d str, Option<usize>>,
) -> Result<usize, TooRecursive> {
    if level > max {
        return Err(TooRecursive { at: set.pos });
    }
    let mut height = 0;
    for selection in &set.node.items {
        let below = match &selection.node {
            Selection::Field(field) if field.node.selection_set.node.items.is_empty() => continue,
            Selection::Field(field) => {
                set_height(doc, &field.node.selection_set, level + 1, max, heights)?
            }
            Selection::InlineFragment(fragment) => {
                set_height(doc, &fragment.node.selection_set, level + 1, max, heights)?
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let Some(fragment) = doc.fragments.get(name) else {
                    continue; // unknown: validation refuses it
                };
                match heights.get(name.as_str()) {
                    Some(None) => return Err(TooRecursive { at: spread.pos }),
                    Some(Some(known)) if level + 1 + known > max => {
                        return Err(TooRecursive { at: spread.pos })
                    }
                    Some(Some(known)) => *known,
                    None => {
                        heights.insert(name.as_str(), None);
                        let below =
                            set_height(doc, &fragment.node.selection_set, level + 1, max, heights)?;
                        heights.insert(name.as_str(), Some(below));
                        below
                    }
                }
            }
        };
        height = height.max(1 + below);
    }
    Ok(height)
}

/// The first field (through fragments, each once) with more than `max` directives.
fn too_many_directives(doc: &ExecutableDocument, max: usize) -> Option<ServerError> {
    fn visit<'d>(
        doc: &'d ExecutableDocument,
        set: &'d Positioned<SelectionSet>,
        max: usize,
        seen: &mut HashSet<&'d str>,
    ) -> Option<ServerError> {
        set.node
            .items
            .iter()
            .find_map(|selection| match &selection.node {
                Selection::Field(field) => {
                    let count = field.node.directives.len();
                    if count > max {
                        let err = ApiError::limit(format!(
                        "field `{}` has {count} directives, exceeding the limit of {max} per field",
                        field.node.name.node
                    ));
                        return Some(refusal(err.code(), err.message(), Some(field.pos)));
                    }
                    visit(doc, &field.node.selection_set, max, seen)
                }
                Selection::InlineFragment(fragment) => {
                    visit(doc, &fragment.node.selection_set, max, seen)
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    let fragment = doc.fragments.get(name)?;
                    seen.insert(name.as_str())
                        .then(|| visit(doc, &fragment.node.selection_set, max, seen))
                        .flatten()
                }
            })
    }
    let mut seen = HashSet::new();
    doc.operations
        .iter()
        .find_map(|(_, operation)| visit(doc, &operation.node.selection_set, max, &mut seen))
}

/// The complexity of a document as async-graphql's validation computes it:
/// the sum over every operation of its fields' weights, a field weighing
/// 1 plus its selections (its [`FIELD_WEIGHTS`] entry if it declares one, on
/// an object type) and `__typename` nothing; a fragment spread counts its
/// fragment's fields on the type of the spread's position. Each fragment is
/// computed once per type, so a fragment spread many times costs no more time.
fn complexity(doc: &ExecutableDocument, registry: &Registry) -> usize {
    let mut walk = ComplexityWalk {
        doc,
        registry,
        fragments: HashMap::new(),
    };
    doc.operations
        .iter()
        .map(|(_, operation)| {
            let root = match operation.node.ty {
                OperationType::Query => Some(registry.query_type.as_str()),
                OperationType::Mutation => registry.mutation_type.as_deref(),
                OperationType::Subscription => registry.subscription_type.as_deref(),
            };
            let root = root.and_then(|name| registry.types.get(name));
            walk.set(&operation.node.selection_set, root)
        })
        .fold(0, usize::saturating_add)
}

struct ComplexityWalk<'d> {
    doc: &'d ExecutableDocument,
    registry: &'d Registry,
    /// Each fragment's complexity on a type (`None` while being computed).
    fragments: HashMap<(&'d str, Option<&'d str>), Option<usize>>,
}

impl<'d> ComplexityWalk<'d> {
    fn set(&mut self, set: &'d Positioned<SelectionSet>, ty: Option<&'d MetaType>) -> usize {
        let mut total = 0usize;
        for selection in &set.node.items {
            let cost = match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if name == "__typename" {
                        continue;
                    }
                    let meta = ty.and_then(|ty| ty.field_by_name(name));
                    let field_ty =
                        meta.and_then(|meta| self.registry.concrete_type_by_name(&meta.ty));
                    let children = self.set(&field.node.selection_set, field_ty);
                    match (ty, meta) {
                        (Some(MetaType::Object { name: owner, .. }), Some(meta))
                            if meta.compute_complexity.is_some() =>
                        {
                            declared_weight(owner, name).unwrap_or(1 + children)
                        }
                        _ => children.saturating_add(1),
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let ty = match &fragment.node.type_condition {
                        Some(condition) => self.registry.types.get(condition.node.on.node.as_str()),
                        None => ty,
                    };
                    self.set(&fragment.node.selection_set, ty)
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    let Some(fragment) = self.doc.fragments.get(name) else {
                        continue;
                    };
                    let key = (name.as_str(), ty.map(MetaType::name));
                    match self.fragments.get(&key) {
                        Some(known) => known.unwrap_or(0),
                        None => {
                            self.fragments.insert(key, None);
                            let cost = self.set(&fragment.node.selection_set, ty);
                            self.fragments.insert(key, Some(cost));
                            cost
                        }
                    }
                }
            };
            total = total.saturating_add(cost);
        }
        total
    }
}

/// The declared complexity of `field` on `owner`, if [`FIELD_WEIGHTS`] has it.
fn declared_weight(owner: &str, field: &str) -> Option<usize> {
    FIELD_WEIGHTS
        .iter()
        .find(|(ty, name, _)| *ty == owner && *name == field)
        .map(|(_, _, weight)| *weight)
}

impl GuardExtension {
    /// Every check on a request's query and variables, in order.
    fn check(&self, registry: &Registry, request: &mut Request) -> ServerResult<()> {
        let policy = &self.policy;
        check_nesting(&request.query, policy.nesting).map_err(too_deep)?;
        check_variables_nesting(&request.variables, policy.nesting).map_err(too_deep)?;
        let operation_name = request.operation_name.clone();
        let doc = request.parsed_query().map_err(|mut err| {
            err.extensions
                .get_or_insert_with(Default::default)
                .set("code", ErrorCode::Validation.as_str());
            err
        })?;
        if let Some(err) = unknown_variable_type(doc, |name| registry.types.contains_key(name)) {
            return Err(err);
        }
        if let Some(err) = unknown_operation(doc, operation_name.as_deref()) {
            return Err(err);
        }
        if let Err(TooRecursive { at }) = check_recursion(doc, policy.recursive_depth) {
            let err = ApiError::limit(format!(
                "query recursion depth exceeds the limit of {} (selection sets nested, \
                 fragment spreads included)",
                policy.recursive_depth
            ));
            return Err(refusal(err.code(), err.message(), Some(at)));
        }
        if let Some(err) = too_many_directives(doc, policy.directives) {
            return Err(err);
        }
        let roots = RootFields::of(doc);
        if roots.introspection && !policy.dev {
            return Err(refusal(
                ErrorCode::Forbidden,
                INTROSPECTION_OFF.to_string(),
                None,
            ));
        }
        let max = if policy.dev && roots.introspection_only() {
            policy.introspection_depth
        } else {
            policy.depth
        };
        let depth = selection_depth(doc);
        if depth > max {
            let err = ApiError::limit(format!(
                "the query selects fields {depth} levels deep, at most {max}"
            ));
            return Err(refusal(err.code(), err.message(), None));
        }
        let cost = complexity(doc, registry);
        if cost > policy.complexity {
            let err = ApiError::limit(format!(
                "query complexity {cost} exceeds the limit of {}",
                policy.complexity
            ));
            return Err(refusal(err.code(), err.message(), None));
        }
        Ok(())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.check(&ctx.schema_env.registry, &mut request)?;
        next.run(ctx, request).await
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

    fn recursion(query: &str, max: usize) -> Result<(), TooRecursive> {
        check_recursion(&parse_query(query).unwrap(), max)
    }

    #[test]
    fn recursion_depth_counts_selection_sets_and_fragment_spreads() {
        // `{ a { b } }`: the operation's set is level 0, `a`'s is 1.
        assert!(recursion("{ a { b } }", 1).is_ok());
        assert!(recursion("{ a { b { c } } }", 1).is_err());
        // A fragment spread and an inline fragment each add a level.
        assert!(recursion("{ ...F } fragment F on Q { a }", 1).is_ok());
        assert!(recursion("{ ...F } fragment F on Q { a { b } }", 1).is_err());
        assert!(recursion("{ ... on Q { a } }", 1).is_ok());
        assert!(recursion("{ ... on Q { a { b } } }", 1).is_err());
        // A fragment computed once counts at its deepest use too.
        let twice = "{ x { ...F } y { z { ...F } } } fragment F on Q { a { b } }";
        assert!(recursion(twice, 4).is_ok());
        assert!(recursion(twice, 3).is_err());
        // A cycle nests without end; unknown fragments are validation's.
        assert!(recursion("{ ...F } fragment F on Q { a { ...F } }", 32).is_err());
        assert!(recursion("{ ...Missing }", 0).is_ok());
    }

    #[test]
    fn a_long_fragment_chain_is_refused_without_deep_recursion() {
        let n = 100_000;
        let mut query = String::from("{ ...F0 }");
        for i in 0..n {
            query.push_str(&format!(" fragment F{i} on Q {{ ...F{} }}", i + 1));
        }
        query.push_str(&format!(" fragment F{n} on Q {{ a }}"));
        assert!(recursion(&query, 32).is_err());
    }

    #[test]
    fn directives_are_counted_per_field_through_fragments() {
        let doc = parse_query("{ a @x @y { ...F } } fragment F on Q { b @x @y @z }").unwrap();
        assert!(too_many_directives(&doc, 3).is_none());
        let err = too_many_directives(&doc, 2).expect("refused");
        assert_eq!(
            err.message,
            "limit exceeded: field `b` has 3 directives, exceeding the limit of 2 per field"
        );
    }

    #[test]
    fn operation_names_are_checked_against_the_document() {
        let doc = |q| parse_query(q).unwrap();
        assert!(unknown_operation(&doc("{ a }"), None).is_none());
        assert!(unknown_operation(&doc("{ a }"), Some("A")).is_some());
        assert!(unknown_operation(&doc("query A { a }"), None).is_none());
        assert!(unknown_operation(&doc("query A { a } query B { b }"), Some("B")).is_none());
        assert!(unknown_operation(&doc("query A { a } query B { b }"), Some("C")).is_some());
        let err = unknown_operation(&doc("query A { a } query B { b }"), None).expect("refused");
        assert_eq!(code(&err), Some("VALIDATION"));
    }

    fn code(err: &ServerError) -> Option<&str> {
        match err.extensions.as_ref()?.get("code")? {
            async_graphql::Value::String(code) => Some(code.as_str()),
            _ => None,
        }
    }

    /// A schema of our roots without the guard or limits, capturing, per
    /// request, our complexity and the one async-graphql's validation computed.
    mod against_async_graphql {
        use super::super::complexity;
        use crate::graphql::{MutationRoot, QueryRoot, SubscriptionRoot};
        use async_graphql::extensions::{
            Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextValidation,
        };
        use async_graphql::registry::MetaType;
        use async_graphql::{Request, Schema, ServerError, ServerResult, ValidationResult};
        use std::sync::{Arc, Mutex};

        /// Per request: (our complexity, async-graphql's if validation passed).
        type Complexities = Arc<Mutex<Vec<(usize, Option<usize>)>>>;

        #[derive(Clone, Default)]
        pub struct Capture(
            pub Complexities,
            /// The (type, field) of every object field declaring its complexity.
            pub Arc<Mutex<Vec<(String, String)>>>,
        );

        struct CaptureExtension(Capture);

        impl ExtensionFactory for Capture {
            fn create(&self) -> Arc<dyn Extension> {
                Arc::new(CaptureExtension(self.clone()))
            }
        }

        #[async_graphql::async_trait::async_trait]
        impl Extension for CaptureExtension {
            async fn prepare_request(
                &self,
                ctx: &ExtensionContext<'_>,
                mut request: Request,
                next: NextPrepareRequest<'_>,
            ) -> ServerResult<Request> {
                let registry = &ctx.schema_env.registry;
                let ours = complexity(request.parsed_query()?, registry);
                let mut declared = Vec::new();
                for (type_name, ty) in &registry.types {
                    if let (MetaType::Object { .. }, Some(fields)) = (ty, ty.fields()) {
                        for (name, field) in fields {
                            if field.compute_complexity.is_some() {
                                declared.push((type_name.clone(), name.clone()));
                            }
                        }
                    }
                }
                *self.0 .1.lock().unwrap() = declared;
                self.0 .0.lock().unwrap().push((ours, None));
                next.run(ctx, request).await
            }

            async fn validation(
                &self,
                ctx: &ExtensionContext<'_>,
                next: NextValidation<'_>,
            ) -> Result<ValidationResult, Vec<ServerError>> {
                let result = next.run(ctx).await;
                if let Ok(result) = &result {
                    if let Some(last) = self.0 .0.lock().unwrap().last_mut() {
                        last.1 = Some(result.complexity);
                    }
                }
                result
            }
        }

        /// (ours, async-graphql's) complexity of `query`, and the fields declaring one.
        pub async fn both(query: &str) -> ((usize, Option<usize>), Vec<(String, String)>) {
            let capture = Capture::default();
            let schema = Schema::build(
                QueryRoot::default(),
                MutationRoot::default(),
                SubscriptionRoot::default(),
            )
            .extension(capture.clone())
            .finish();
            let mut stream = schema.execute_stream(Request::new(query));
            let _ = futures::StreamExt::next(&mut stream).await;
            let captured = capture.0.lock().unwrap()[0];
            let declared = capture.1.lock().unwrap().clone();
            (captured, declared)
        }
    }

    #[tokio::test]
    async fn our_complexity_is_async_graphqls() {
        let queries = [
            "{ logHead }",
            "{ __typename logHead }",
            "{ verifyLog { eventsVerified } logHead }",
            "{ a: verifyLog { eventsVerified } b: verifyLog { eventsVerified } }",
            "{ events(first: 5) { pageInfo { hasNextPage } edges { cursor node { position type } } } }",
            "{ ...F ... on Query { logHead } ... { events { pageInfo { hasNextPage } } } }
             fragment F on Query { verifyLog { eventsVerified } events { pageInfo { hasNextPage } } }",
            "{ x: events { ...E } y: events { ...E } } fragment E on LogEventConnection { pageInfo { hasNextPage } edges { cursor } }",
            "query A { logHead } query B { verifyLog { eventsVerified } }",
            "{ __schema { types { name fields { name } } } }",
            "subscription { statusPage { __typename } events { position } }",
            "mutation { __typename }",
        ];
        for query in queries {
            let ((ours, theirs), _) = against_async_graphql::both(query).await;
            assert_eq!(Some(ours), theirs, "{query}");
        }
    }

    #[tokio::test]
    async fn every_declared_complexity_has_a_weight() {
        let (_, mut declared) = against_async_graphql::both("{ logHead }").await;
        let mut weighted: Vec<_> = FIELD_WEIGHTS
            .iter()
            .map(|(ty, field, _)| (ty.to_string(), field.to_string()))
            .collect();
        declared.sort();
        weighted.sort();
        assert_eq!(declared, weighted);
    }
}
