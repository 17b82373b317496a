//! A test that keeps the top-level modules free of import cycles: each module's uses of
//! `crate::X` (outside comments) must form a graph with no cycle, so a module can be read,
//! changed and tested below the ones that use it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module name → the top-level modules its source names as `crate::X`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("readable source dir")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let first = rel.components().next().expect("a component");
            let top = first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if ["lib", "main", "bin", "layering"].contains(&top.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable source");
            let deps = graph.entry(top.clone()).or_default();
            for line in text.lines() {
                let code = line.split("//").next().unwrap_or_default();
                for use_site in code.split("crate::").skip(1) {
                    add_names(use_site, &top, deps);
                }
            }
        }
    }
    graph
}

/// `X::…` or `{X::…, Y, …}` right after a `crate::`.
fn add_names(after: &str, top: &str, deps: &mut BTreeSet<String>) {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let names: Vec<String> = match after.strip_prefix('{') {
        Some(group) => group
            .split('}')
            .next()
            .unwrap_or_default()
            .split(',')
            .map(ident)
            .collect(),
        None => vec![ident(after)],
    };
    for name in names {
        if !name.is_empty() && name != top && name != "self" {
            deps.insert(name);
        }
    }
}

/// A path `from` → … → `to` in the graph, if there is one.
fn path_between(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().expect("non-empty path");
        for next in graph.get(last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            if next == to {
                return Some(longer);
            }
            if seen.insert(next.clone()) {
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn top_level_modules_have_no_import_cycle() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.len() >= 8, "too few modules found: {graph:?}");
    assert!(
        graph["api"].contains("data_access"),
        "graph misses known edges: {graph:?}"
    );
    for module in graph.keys() {
        if let Some(cycle) = path_between(&graph, module, module) {
            panic!(
                "import cycle between top-level modules: {}",
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn a_cycle_is_found() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        path_between(&graph, "a", "a"),
        Some(vec!["a".to_string(), "b".to_string(), "a".to_string()])
    );
    let mut deps = BTreeSet::new();
    add_names("{config::Mode, metrics, self}", "x", &mut deps);
    assert_eq!(
        deps,
        BTreeSet::from(["config".to_string(), "metrics".to_string()])
    );
}
