//! `xtask-dependencies-explained`: every dependency of an xtask crate says in its manifest why
//! it is there. The xtask's cold build is paid by every new clone and CI run and is a measured
//! figure (docs/benchmarks.md); a dependency has to earn its place, and the line that says how
//! is where a reviewer weighs it.

use xtask_repo::files::Tree;

use super::dockerfile::workspace_manifests_of;
use super::{Verdict, read_text, verdict};
use crate::Finding;

/// The folder whose workspace members are the xtask's crates.
const XTASK_DIR: &str = "xtask";

pub(super) fn xtask_dependencies(tree: &Tree) -> Verdict {
    let manifests = match workspace_manifests_of(tree) {
        Ok(m) => m,
        Err(verdict) => return verdict,
    };
    let xtask: Vec<&str> = manifests
        .iter()
        .map(String::as_str)
        .filter(|m| m.strip_prefix(XTASK_DIR).is_some_and(|rest| rest.starts_with('/')))
        .collect();
    if xtask.is_empty() {
        return Verdict::NotApplicable(format!("no workspace member under {XTASK_DIR}/"));
    }
    let mut findings = Vec::new();
    for &path in &xtask {
        match read_text(tree, path) {
            Ok(text) => findings.extend(unexplained(path, &text)),
            Err(f) => findings.push(f),
        }
    }
    verdict(findings, &xtask)
}

/// A dependency entry of a manifest: its name and 1-based line.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    name: String,
    line: usize,
    explained: bool,
}

/// The findings for `path`'s dependencies (`[dependencies]`, `[build-dependencies]` and their
/// `[target.….dependencies]` forms; not `[dev-dependencies]`, which the xtask's build never
/// compiles) that carry no comment, on their line or on the lines right above. Path
/// dependencies are the workspace's own crates and need none.
fn unexplained(path: &str, text: &str) -> Vec<Finding> {
    let manifest: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            let line = e.span().map_or(1, |s| crate::line_of(text.as_bytes(), s.start));
            return vec![Finding::at(path, line, format!("cannot check: not valid TOML: {}", e.message().trim()))];
        }
    };
    let package = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .unwrap_or(path.trim_end_matches("/Cargo.toml"))
        .to_owned();
    let is_path = |table: &[String], name: &str| {
        let deps = table.iter().try_fold(&manifest, |t, key| t.get(key).and_then(toml::Value::as_table));
        deps.and_then(|d| d.get(name)).and_then(toml::Value::as_table).is_some_and(|d| d.contains_key("path"))
    };
    entries(text)
        .into_iter()
        .filter(|(table, e)| !e.explained && !is_path(table, &e.name))
        .map(|(_, e)| {
            Finding::at(
                path,
                e.line,
                format!(
                    "dependency `{}` of {package} does not say why it is here: add a comment on the line above \
                     (what it does for the xtask that std or a crate already in the build does not; the cold \
                     build is a measured figure, docs/benchmarks.md)",
                    e.name
                ),
            )
        })
        .collect()
}

/// The dependency entries of a manifest, with the keys of the table they are in
/// (`["dependencies"]`, `["target", "cfg(unix)", "dependencies"]`). Line-based: an entry is a
/// `key = value` line at the top level of a dependency table, or a `[dependencies.name]`
/// header; it is explained when a comment ends its line or the line above it is a comment.
fn entries(text: &str) -> Vec<(Vec<String>, Entry)> {
    let mut out = Vec::new();
    let mut table: Option<Vec<String>> = None;
    let mut depth = 0i32;
    let mut previous_comment = false;
    for (i, raw) in text.lines().enumerate() {
        let (code, comment) = split_comment(raw);
        let line = code.trim();
        if depth == 0 && line.starts_with('[') {
            let header = line.trim_start_matches('[').trim_end_matches(']').trim();
            let keys = dotted(header);
            table = None;
            if let Some(at) = keys.iter().position(|k| k == "dependencies" || k == "build-dependencies") {
                let in_target = at == 2 && keys[0] == "target";
                if at == 0 || in_target {
                    let name = keys[..=at].to_vec();
                    match keys.get(at + 1) {
                        // `[dependencies.serde]`: the header is the entry.
                        Some(dep) if keys.len() == at + 2 => out.push((
                            name,
                            Entry { name: dep.clone(), line: i + 1, explained: previous_comment || comment },
                        )),
                        Some(_) => {}
                        None => table = Some(name),
                    }
                }
            }
        } else if depth == 0
            && let Some(t) = &table
            && let Some((key, _)) = line.split_once('=')
        {
            let name = dotted(key.trim()).into_iter().next().unwrap_or_default();
            out.push((t.clone(), Entry { name, line: i + 1, explained: previous_comment || comment }));
        }
        // Inside a value that spans lines (an array), lines are not entries.
        depth = (depth + code.matches(['[', '{']).count() as i32 - code.matches([']', '}']).count() as i32).max(0);
        previous_comment = line.is_empty() && comment;
    }
    out
}

/// The code of a line and whether a comment follows it: `#` outside a string.
fn split_comment(line: &str) -> (&str, bool) {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return (&line[..i], true),
            None => {}
        }
    }
    (line, false)
}

/// The keys of a dotted TOML key, unquoted: `target.'cfg(unix)'.dependencies` → 3 keys.
fn dotted(key: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in key.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '.' => keys.push(std::mem::take(&mut current).trim().to_owned()),
            None => current.push(c),
        }
    }
    keys.push(current.trim().to_owned());
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        unexplained("xtask/Cargo.toml", text).into_iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn a_dependency_needs_a_comment_on_its_line_or_right_above_it() {
        let text = "[package]\nname = \"xtask\"\n\n[dependencies]\n# Errors with context.\nanyhow = \"1\"\n\
                    clap = { version = \"4\", features = [\"derive\"] } # the command line\n\
                    colored = \"3\"\n\n# a comment with a blank line under it\n\nwhich = \"8\"\n\
                    xtask-lint = { path = \"lint\" }\n\n[dev-dependencies]\ntempfile = \"3\"\n";
        let found = found(text);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].starts_with("xtask/Cargo.toml:8: dependency `colored` of xtask does not say why"),
            "{found:#?}"
        );
        assert!(found[1].starts_with("xtask/Cargo.toml:12: dependency `which` of xtask"), "{found:#?}");
    }

    #[test]
    fn every_form_of_dependency_table_is_read() {
        let text = "[package]\nname = \"xtask-x\"\n[build-dependencies]\ncc = \"1\"\n\
                    [target.'cfg(unix)'.dependencies]\nrustix = \"1\"\n[target.\"cfg(windows)\".build-dependencies]\n\
                    # why\nwinres = \"0.1\"\n[dependencies.serde]\nversion = \"1\"\nfeatures = [\n  \"derive\",\n]\n\
                    # table form, explained\n[dependencies.toml]\nversion = \"1\"\n[dependencies]\n\
                    quick-xml = { version = \"0.42\", features = [\n  \"serialize\", # not a comment on an entry\n] }\n\
                    \"quoted\" = \"1\"\nregex.workspace = true\nown = { path = \"../own\" }\n\
                    [dependencies.local]\npath = \"../local\"\n";
        let names: Vec<String> =
            entries(text).into_iter().map(|(t, e)| format!("{}:{}", t.join("."), e.name)).collect();
        assert_eq!(
            names,
            [
                "build-dependencies:cc",
                "target.cfg(unix).dependencies:rustix",
                "target.cfg(windows).build-dependencies:winres",
                "dependencies:serde",
                "dependencies:toml",
                "dependencies:quick-xml",
                "dependencies:quoted",
                "dependencies:regex",
                "dependencies:own",
                "dependencies:local",
            ]
        );
        let at: Vec<String> = found(text).iter().map(|f| f.split(": ").next().unwrap().to_owned()).collect();
        let lines = [4, 6, 10, 19, 22, 23].map(|n| format!("xtask/Cargo.toml:{n}"));
        assert_eq!(at, lines, "cc, rustix, serde, quick-xml, quoted and regex say nothing; path dependencies need not");
    }

    #[test]
    fn a_hash_inside_a_string_is_not_a_comment() {
        assert_eq!(split_comment("a = \"x#y\""), ("a = \"x#y\"", false));
        assert_eq!(split_comment("a = 'x#y' # why"), ("a = 'x#y' ", true));
        assert_eq!(split_comment("a = \"x\\\"#\" # why"), ("a = \"x\\\"#\" ", true));
        assert_eq!(found("[dependencies]\nx = { git = \"https://h/x#frag\" }\n").len(), 1);
    }

    #[test]
    fn a_manifest_that_is_not_toml_is_a_finding_not_a_pass() {
        let found = found("[dependencies]\nx = \n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("xtask/Cargo.toml:2: cannot check: not valid TOML"), "{found:?}");
    }
}
