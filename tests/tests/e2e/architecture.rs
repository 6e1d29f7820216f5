//! The architecture's rules, checked on the source tree and the manifests (README,
//! "Architecture"): the application core names no transport crate, the server library
//! links no benchmark-only crate, and no module imports in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The names in a manifest's `[dependencies]` table.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace().join(manifest)).expect("manifest");
    let mut names = BTreeSet::new();
    let mut in_deps = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && !line.is_empty() && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once(['=', '.']) {
                names.insert(name.trim().to_string());
            }
        }
    }
    names
}

#[test]
fn the_application_core_names_no_transport_crate() {
    let deps = dependencies("api/app/Cargo.toml");
    assert!(deps.contains("opsledger-domain"), "parsed: {deps:?}");
    for transport in [
        "axum",
        "async-graphql",
        "async-graphql-axum",
        "tower",
        "tower-http",
        "hyper",
        "reqwest",
        "tokio-tungstenite",
        "serde_json",
    ] {
        assert!(!deps.contains(transport), "api/app depends on {transport}");
    }
}

#[test]
fn the_server_library_links_no_benchmark_or_generator_crate() {
    let deps = dependencies("api/server/Cargo.toml");
    assert!(deps.contains("axum"), "parsed: {deps:?}");
    for bench_only in [
        "opsledger-bench",
        "opsledger-synthetic",
        "opsledger-fixtures",
        "opsledger-api",
        "tokio-postgres",
        "reqwest",
        "clap",
    ] {
        assert!(
            !deps.contains(bench_only),
            "api/server depends on {bench_only}"
        );
    }
    for library in ["api/app", "storage", "projections", "domain"] {
        let deps = dependencies(&format!("{library}/Cargo.toml"));
        for bench_only in ["opsledger-bench", "opsledger-synthetic", "tokio-postgres"] {
            assert!(
                !deps.contains(bench_only),
                "{library} depends on {bench_only}"
            );
        }
    }
}

/// Every `.rs` file under `src`, as its module path (`a::b` for `src/a/b.rs` or `src/a/b/mod.rs`).
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src dir") {
            let path = entry.expect("entry").path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                let mut next = prefix.to_vec();
                next.push(name);
                walk(&path, &next, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut module = prefix.to_vec();
                if !matches!(name.as_str(), "mod" | "lib" | "main") {
                    module.push(name);
                }
                out.insert(module, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// The code of a file that counts as its imports: without comments (doc links are
/// not imports) and without its `#[cfg(test)]` part (tests may drive any module).
fn code_part(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a file names through `crate::` or `super::`.
fn references(module: &[String], text: &str) -> Vec<Vec<String>> {
    let text = &code_part(text);
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        if text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // e.g. `opsledger_crate::` or `$crate::`
        }
        found.push(path_after(&text[at + "crate::".len()..]));
    }
    for (at, _) in text.match_indices("super::") {
        if text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // `super::super::` is counted once, from its first segment
        }
        let mut base = module.to_vec();
        // `super` in `a/b.rs` and in `a/b/mod.rs` (both module a::b) is `a`.
        base.pop();
        let mut rest = &text[at + "super::".len()..];
        while let Some(after) = rest.strip_prefix("super::") {
            base.pop();
            rest = after;
        }
        base.extend(path_after(rest));
        found.push(base);
    }
    found
}

fn path_after(text: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        segments.push(rest[..end].to_string());
        match rest[end..].strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    segments
}

/// The longest prefix of `path` that is a module, cut to `depth` segments.
fn module_of(path: &[String], known: &BTreeSet<Vec<String>>, depth: usize) -> Vec<String> {
    let mut best = Vec::new();
    for len in 1..=path.len() {
        if known.contains(&path[..len].to_vec()) {
            best = path[..len].to_vec();
        }
    }
    best.truncate(depth);
    best
}

/// The import edges between modules cut to `depth`, leaving out a module's use of its
/// ancestors or descendants (a parent declares its children).
fn edges(src: &Path, depth: usize) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files = modules(src);
    let known: BTreeSet<Vec<String>> = files.keys().cloned().collect();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, path) in &files {
        if module
            .iter()
            .any(|segment| segment == "tests" || segment == "testing")
        {
            continue; // test modules (`#[cfg(test)] mod tests;`) and test helpers
        }
        let text = std::fs::read_to_string(path).expect("source");
        let from = module_of(module, &known, depth);
        for reference in references(module, &text) {
            let to = module_of(&reference, &known, depth);
            let related = to.starts_with(&from) || from.starts_with(&to);
            if !related {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

/// A cycle of `graph`, if it has one.
fn find_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<Vec<String>>> {
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_cycle_finder_finds_a_planted_circle() {
    let m = |s: &str| vec![s.to_string()];
    let mut graph = BTreeMap::new();
    graph.insert(m("a"), BTreeSet::from([m("b")]));
    graph.insert(m("b"), BTreeSet::from([m("c")]));
    graph.insert(m("c"), BTreeSet::from([m("a")]));
    assert!(find_cycle(&graph).is_some());
    graph.insert(m("c"), BTreeSet::new());
    assert!(find_cycle(&graph).is_none());
    let refs = references(
        &["server".into(), "ws".into()],
        "use crate::app::AppService; use super::super::limits::Limits; $crate::x",
    );
    assert_eq!(
        refs,
        vec![
            vec!["app".to_string(), "AppService".to_string()],
            vec!["limits".to_string(), "Limits".to_string()]
        ]
    );
}

#[test]
fn no_module_imports_in_a_circle() {
    for crate_src in [
        "api/src",
        "api/app/src",
        "api/server/src",
        "api/bench/src",
        "domain/src",
        "storage/src",
        "projections/src",
    ] {
        let src = workspace().join(crate_src);
        for depth in 1..=3 {
            if let Some(cycle) = find_cycle(&edges(&src, depth)) {
                let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
                panic!(
                    "{crate_src}: modules import in a circle (depth {depth}): {}",
                    names.join(" -> ")
                );
            }
        }
    }
}
