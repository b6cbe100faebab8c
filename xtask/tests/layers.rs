//! The layering rules of docs/architecture.md, checked on the workspace's own code (tidy-style):
//!
//! - **No module cycle.** Within any crate, the modules that share a parent (a crate root's
//!   modules, the files of one folder module) use one another without a cycle, so each crate
//!   reads top-down. A folder module's `mod.rs` and its own children may use each other.
//! - **One way to start a program.** Outside `xtask/process`, the xtask's crates start
//!   programs through its `Cmd` only: no `std::process::Command` of their own.
//!
//! What a module uses is read from its text (tests, comments and strings left out): `use`
//! trees (`use crate::{a, b::c}`) and paths that start with `crate::`, `super::` or `self::`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module by its path inside its crate (`["gates", "coverage"]`); the root is empty.
type Module = Vec<String>;

#[test]
fn no_crate_has_a_module_cycle() {
    let root = support::workspace_root();
    let crates = members(&root);
    assert!(crates.len() >= 9, "the workspace's members: {crates:?}");
    let mut problems = Vec::new();
    let mut edges_seen = 0;
    for krate in &crates {
        let graph = Graph::of(&root.join(krate).join("src"));
        edges_seen += graph.edges.values().map(BTreeMap::len).sum::<usize>();
        for cycle in graph.cycles() {
            problems.push(format!("{krate}: {}", graph.describe(&cycle)));
        }
    }
    // The reading works: the crates' modules do use one another.
    assert!(edges_seen > 50, "only {edges_seen} uses between sibling modules were found");
    assert!(problems.is_empty(), "module cycles (docs/architecture.md, \"Layers\"):\n{}", problems.join("\n"));
}

#[test]
fn a_cycle_is_found_and_named() {
    let dir = support::Scratch::new("layers-cycle");
    dir.write("src/lib.rs", "mod a;\nmod b;\nmod c;\nmod d;\n");
    dir.write("src/a.rs", "use crate::{b::B, c};\n// crate::d::D in a comment\nfn f() -> c::C { todo!() }\n");
    dir.write("src/b.rs", "pub struct B;\nfn g() { let _ = \"crate::d\"; super::c::h(); }\n");
    dir.write("src/c/mod.rs", "mod inner;\npub struct C;\npub fn h() {}\n");
    dir.write("src/c/inner.rs", "use super::C;\nuse crate::a as _;\n");
    dir.write("src/d.rs", "pub struct D;\n#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n");
    let graph = Graph::of(&dir.path("src"));
    let cycles = graph.cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!(
        graph.describe(&cycles[0]),
        "a → b (a: crate::b::B), a → c (a: crate::c), b → c (b: super::c::h), c → a (c/inner: crate::a)"
    );
    // Neither the comment, nor the string, nor the tests of `d` use `d`; `a` uses `b`.
    assert!(!graph.edges.values().any(|to| to.contains_key(&vec!["d".to_owned()])), "{:?}", graph.edges);
    assert!(graph.edges[&vec!["a".to_owned()]].contains_key(&vec!["b".to_owned()]));
    assert!(graph.edges[&vec!["b".to_owned()]].contains_key(&vec!["c".to_owned()]));
}

#[test]
fn programs_are_started_through_the_process_crate_only() {
    let root = support::workspace_root();
    let mut found = Vec::new();
    for krate in members(&root).into_iter().filter(|k| k.starts_with("xtask") && k != "xtask/process") {
        for (module, file) in rust_files(&root.join(&krate).join("src")) {
            let tokens = tokens(&std::fs::read_to_string(&file).unwrap());
            for pair in tokens.windows(3) {
                if matches!(
                    [pair[0].as_str(), pair[1].as_str(), pair[2].as_str()],
                    ["Command", "::", "new"] | ["process", "::", "Command"]
                ) {
                    found.push(format!("{krate}/src/{}.rs: {}", module.join("/"), pair.concat()));
                }
            }
        }
    }
    assert!(found.is_empty(), "start programs with xtask_process::Cmd (cx.cmd, cx.cargo):\n{}", found.join("\n"));
}

/// The workspace's members, from the root manifest's `members = [...]`.
fn members(root: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let list = manifest.split("members = [").nth(1).and_then(|rest| rest.split(']').next()).expect("members");
    list.split(',').map(|m| m.trim().trim_matches('"').to_owned()).filter(|m| !m.is_empty()).collect()
}

/// Each `.rs` file under `src` with its module path (`lib.rs`, `main.rs` are the root).
fn rust_files(src: &Path) -> Vec<(Module, PathBuf)> {
    let mut out = Vec::new();
    for entry in walk(src) {
        let rel = entry.strip_prefix(src).unwrap().with_extension("");
        let mut module: Module = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        if module == ["lib"] || module == ["main"] {
            module.clear();
        }
        out.push((module, entry));
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The uses between sibling modules: `edges[a][b]` holds where `a` (or a module inside it)
/// names `b` (or a module inside it), as `module: path`.
struct Graph {
    edges: BTreeMap<Module, BTreeMap<Module, Vec<String>>>,
}

impl Graph {
    fn of(src: &Path) -> Graph {
        let files = rust_files(src);
        let modules: BTreeSet<Module> = files.iter().map(|(m, _)| m.clone()).collect();
        let mut edges: BTreeMap<Module, BTreeMap<Module, Vec<String>>> = BTreeMap::new();
        for (from, file) in &files {
            for path in paths_in(&tokens(&std::fs::read_to_string(file).unwrap())) {
                let Some(to) = resolve(from, &path, &modules) else { continue };
                let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
                if common == from.len() || common == to.len() {
                    continue; // a module and its own ancestor or descendant
                }
                let (a, b) = (from[..=common].to_vec(), to[..=common].to_vec());
                edges.entry(a).or_default().entry(b).or_default().push(format!(
                    "{}: {}",
                    from.join("/"),
                    path.join("::")
                ));
            }
        }
        Graph { edges }
    }

    /// The strongly connected groups of more than one module (Tarjan).
    fn cycles(&self) -> Vec<Vec<Module>> {
        struct State<'a> {
            graph: &'a Graph,
            index: BTreeMap<&'a Module, usize>,
            low: BTreeMap<&'a Module, usize>,
            stack: Vec<&'a Module>,
            found: Vec<Vec<Module>>,
        }
        fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
            let n = s.index.len();
            s.index.insert(v, n);
            s.low.insert(v, n);
            s.stack.push(v);
            for w in s.graph.edges.get(v).into_iter().flat_map(BTreeMap::keys) {
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.stack.contains(&w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
            if s.low[v] == s.index[v] {
                let mut group = Vec::new();
                while let Some(w) = s.stack.pop() {
                    group.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    s.found.push(group);
                }
            }
        }
        let mut s =
            State { graph: self, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
        for v in self.edges.keys() {
            if !s.index.contains_key(v) {
                visit(&mut s, v);
            }
        }
        s.found
    }

    /// The uses inside one cycle, with the first place each is made.
    fn describe(&self, cycle: &[Module]) -> String {
        let mut parts = Vec::new();
        for a in cycle {
            for (b, places) in &self.edges[a] {
                if cycle.contains(b) {
                    parts.push(format!("{} → {} ({})", a.join("/"), b.join("/"), places[0]));
                }
            }
        }
        parts.join(", ")
    }
}

/// The module `path` names from `from`: the longest known module it starts with. `None` for
/// a path into another crate.
fn resolve(from: &Module, path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    let (mut at, rest): (Module, &[String]) = match path.first().map(String::as_str)? {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (from.clone(), &path[1..]),
        "super" => {
            let supers = path.iter().take_while(|p| *p == "super").count();
            (from[..from.len().checked_sub(supers)?].to_vec(), &path[supers..])
        }
        _ => return None,
    };
    for part in rest {
        at.push(part.clone());
        if !modules.contains(&at) {
            at.pop();
            break;
        }
    }
    Some(at)
}

/// Every path a module's code names: each leaf of each `use` tree, and each `crate::…`,
/// `super::…` or `self::…` path elsewhere.
fn paths_in(tokens: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "use" && (i == 0 || [";", "}", "{", "pub", ")", "]"].contains(&tokens[i - 1].as_str())) {
            let end = tokens[i..].iter().position(|t| t == ";").map_or(tokens.len(), |p| i + p);
            expand(&tokens[i + 1..end], &mut Vec::new(), &mut out);
            i = end;
        } else if ["crate", "super", "self"].contains(&tokens[i].as_str())
            && tokens.get(i + 1).is_some_and(|t| t == "::")
        {
            let mut path = vec![tokens[i].clone()];
            let mut j = i + 1;
            while tokens.get(j).is_some_and(|t| t == "::") && tokens.get(j + 1).is_some_and(|t| is_name(t)) {
                path.push(tokens[j + 1].clone());
                j += 2;
            }
            out.push(path);
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// The leaves of a `use` tree: `a::{b, c::{d as e, *}}` → `a::b`, `a::c::d`, `a::c`.
fn expand(tree: &[String], prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut depth = 0;
    let mut start = 0;
    let mut items = Vec::new();
    for (k, t) in tree.iter().enumerate() {
        match t.as_str() {
            "{" => depth += 1,
            "}" => depth -= 1,
            "," if depth == 0 => {
                items.push(&tree[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    items.push(&tree[start..]);
    for item in items.into_iter().filter(|i| !i.is_empty()) {
        let mut path = prefix.clone();
        let mut k = 0;
        while k < item.len() {
            match item[k].as_str() {
                "::" => {}
                "{" => {
                    let close = item.iter().rposition(|t| t == "}").unwrap_or(item.len());
                    expand(&item[k + 1..close], &mut path, out);
                    path.clear();
                    break;
                }
                "as" | "*" => break,
                name if is_name(name) => path.push(name.to_owned()),
                _ => break,
            }
            k += 1;
        }
        if !path.is_empty() {
            out.push(path);
        }
    }
    let _ = prefix;
}

fn is_name(t: &str) -> bool {
    t.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && t.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// A file's tokens, its tests (`#[cfg(test)] mod …` to the end, where this project puts them)
/// left out, with `::` as one token; comments are dropped and a literal is one token.
fn tokens(text: &str) -> Vec<String> {
    let code = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out: Vec<String> = Vec::new();
    for t in xtask::impact::skeleton::lex(code) {
        if t == ":" && out.last().is_some_and(|l| l == ":") {
            out.last_mut().unwrap().push(':');
        } else {
            out.push(t.to_owned());
        }
    }
    out
}
