//! sqlx's offline query data (`.sqlx/query-<hash>.json`, one file a query of the code) against
//! the data a build just wrote for the same code: what `cargo sqlx prepare --check` compares.
//! The build itself (a database, its migrations, `cargo check` with `SQLX_OFFLINE_DIR`) is the
//! xtask's (`gates/lint/sqlx.rs`); this is the comparison, and `--fix`'s rewrite of `.sqlx/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::Finding;

/// The rule the check prints with its findings, and the fix.
pub const RULE: &str = "`.sqlx/` holds exactly what sqlx's macros get for the code's queries from the migrated \
                        schema: regenerate it with `cargo xtask lint --fix` (or `cargo sqlx prepare --workspace` \
                        with DATABASE_URL set to a migrated database) and commit it";

/// One query data file.
#[derive(Clone, Debug)]
pub struct QueryFile {
    /// As messages name it: `.sqlx/query-<hash>.json`, or under a member (`svc/.sqlx/…`).
    pub shown: String,
    pub path: PathBuf,
    pub json: Value,
}

impl QueryFile {
    /// The first line of its SQL (`"query"`), trimmed.
    pub fn first_line(&self) -> String {
        let query = self.json.get("query").and_then(Value::as_str).unwrap_or("");
        query.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_owned()
    }
}

/// The `query-*.json` files of `dir` by file name (none when it does not exist); `shown` is how
/// messages name the folder (`.sqlx/`).
pub fn read_folder(dir: &Path, shown: &str) -> Result<BTreeMap<String, QueryFile>> {
    let mut files = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(files) };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {shown}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("query-") && name.ends_with(".json")) {
            continue;
        }
        let path = entry.path();
        let shown = format!("{shown}{name}");
        let text = std::fs::read(&path).with_context(|| format!("cannot read {shown}"))?;
        let json = serde_json::from_slice(&text).with_context(|| format!("{shown} is not JSON"))?;
        files.insert(name, QueryFile { shown, path, json });
    }
    Ok(files)
}

/// How a committed `.sqlx/` differs from what the build wrote.
#[derive(Debug, Default)]
pub struct Drift {
    /// Queries of the code with no data in any `.sqlx/` (the build's files).
    pub missing: Vec<QueryFile>,
    /// Data that differs from what the build wrote (committed file, the build's file).
    pub changed: Vec<(QueryFile, QueryFile)>,
    /// Committed data no query of the code uses.
    pub unused: Vec<QueryFile>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.changed.is_empty() && self.unused.is_empty()
    }

    /// One finding a query: at the committed file, or (missing) naming where it belongs.
    pub fn findings(&self, missing_in: &str) -> Vec<Finding> {
        let mut findings = Vec::new();
        for built in &self.missing {
            let name = built.path.file_name().unwrap_or_default().to_string_lossy();
            findings.push(Finding::general(format!(
                "{missing_in}{name} is missing: no query data for `{}`",
                built.first_line()
            )));
        }
        for (committed, _) in &self.changed {
            findings.push(Finding::file(
                &committed.shown,
                format!("out of date: the migrated schema describes `{}` differently", committed.first_line()),
            ));
        }
        for committed in &self.unused {
            findings.push(Finding::file(
                &committed.shown,
                format!("no longer used: no query of the code is `{}`", committed.first_line()),
            ));
        }
        findings
    }
}

/// `built` (what the build wrote) against `committed` (every `.sqlx/` folder's files, the
/// workspace's and its members'), as parsed JSON: formatting does not count, content does.
pub fn compare(built: &BTreeMap<String, QueryFile>, committed: &[BTreeMap<String, QueryFile>]) -> Drift {
    let mut drift = Drift::default();
    for (name, b) in built {
        let found: Vec<&QueryFile> = committed.iter().filter_map(|folder| folder.get(name)).collect();
        if found.is_empty() {
            drift.missing.push(b.clone());
        }
        for c in found.into_iter().filter(|c| c.json != b.json) {
            drift.changed.push((c.clone(), b.clone()));
        }
    }
    for folder in committed {
        drift.unused.extend(folder.iter().filter(|(name, _)| !built.contains_key(*name)).map(|(_, c)| c.clone()));
    }
    drift
}

/// `--fix`: `dir` (the workspace's `.sqlx/`) made to hold the build's data: a missing or
/// changed query's file written as the build wrote it, unused ones of `dir` removed. The
/// files changed, by how messages name them, with what was done.
pub fn rewrite(dir: &Path, shown: &str, drift: &Drift) -> Result<Vec<(String, &'static str)>> {
    let mut done = Vec::new();
    let in_dir = |f: &QueryFile| f.path.parent() == Some(dir);
    let to_write = drift.missing.iter().chain(drift.changed.iter().filter(|(c, _)| in_dir(c)).map(|(_, b)| b));
    for built in to_write {
        let name = built.path.file_name().unwrap_or_default();
        let target = dir.join(name);
        std::fs::copy(&built.path, &target).with_context(|| format!("--fix: cannot write {}", target.display()))?;
        done.push((format!("{shown}{}", name.to_string_lossy()), "written"));
    }
    for unused in drift.unused.iter().filter(|c| in_dir(c)) {
        std::fs::remove_file(&unused.path).with_context(|| format!("--fix: cannot remove {}", unused.shown))?;
        done.push((unused.shown.clone(), "removed"));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-sqlx-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir
    }

    const A: &str = r#"{"db_name": "PostgreSQL", "query": "\n  SELECT name\n  FROM shops", "describe": {"nullable": [false]}, "hash": "a"}"#;
    const A_REFORMATTED: &str = "{\n  \"hash\": \"a\",\n  \"db_name\": \"PostgreSQL\",\n  \"query\": \"\\n  SELECT name\\n  FROM shops\",\n  \
         \"describe\": {\n    \"nullable\": [\n      false\n    ]\n  }\n}\n";
    const A_NULLABLE: &str = r#"{"db_name": "PostgreSQL", "query": "\n  SELECT name\n  FROM shops", "describe": {"nullable": [true]}, "hash": "a"}"#;
    const B: &str = r#"{"db_name": "PostgreSQL", "query": "DELETE FROM shops", "describe": {}, "hash": "b"}"#;

    #[test]
    fn the_data_is_compared_as_json_and_each_difference_named_with_its_sql() {
        let built = folder("built", &[("query-a.json", A_REFORMATTED), ("query-b.json", B), ("notes.txt", "x")]);
        let current = folder("current", &[("query-a.json", A), ("query-b.json", B)]);
        let built = read_folder(&built, "built/").unwrap();
        let current = read_folder(&current, ".sqlx/").unwrap();
        assert_eq!(built.len(), 2, "query-*.json files only");
        assert!(compare(&built, std::slice::from_ref(&current)).is_empty(), "formatting does not count");

        let stale = folder(
            "stale",
            &[("query-a.json", A_NULLABLE), ("query-c.json", B.replace("DELETE", "TRUNCATE").as_str())],
        );
        let stale = read_folder(&stale, ".sqlx/").unwrap();
        let drift = compare(&built, std::slice::from_ref(&stale));
        let findings: Vec<String> = drift.findings(".sqlx/").iter().map(ToString::to_string).collect();
        assert_eq!(
            findings,
            [
                ".sqlx/query-b.json is missing: no query data for `DELETE FROM shops`",
                ".sqlx/query-a.json: out of date: the migrated schema describes `SELECT name` differently",
                ".sqlx/query-c.json: no longer used: no query of the code is `TRUNCATE FROM shops`",
            ]
        );
        // The data may be in the workspace's folder or a member's: either has it.
        let member = read_folder(&folder("member", &[("query-b.json", B)]), "svc/.sqlx/").unwrap();
        let workspace = read_folder(&folder("workspace", &[("query-a.json", A)]), ".sqlx/").unwrap();
        assert!(compare(&built, &[workspace, member]).is_empty());
        assert!(read_folder(Path::new("/nonexistent"), "x/").unwrap().is_empty());
    }

    #[test]
    fn fix_rewrites_the_workspace_folder_to_the_built_data() {
        let built_dir = folder("fix-built", &[("query-a.json", A_REFORMATTED), ("query-b.json", B)]);
        let dir = folder("fix-sqlx", &[("query-a.json", A_NULLABLE), ("query-c.json", B)]);
        let built = read_folder(&built_dir, "built/").unwrap();
        let drift = compare(&built, &[read_folder(&dir, ".sqlx/").unwrap()]);
        let mut done = rewrite(&dir, ".sqlx/", &drift).unwrap();
        done.sort();
        assert_eq!(
            done,
            [
                (".sqlx/query-a.json".into(), "written"),
                (".sqlx/query-b.json".into(), "written"),
                (".sqlx/query-c.json".into(), "removed")
            ]
        );
        assert!(compare(&built, &[read_folder(&dir, ".sqlx/").unwrap()]).is_empty());
        assert_eq!(std::fs::read_to_string(dir.join("query-a.json")).unwrap(), A_REFORMATTED, "the build's bytes");
    }

    #[test]
    fn a_file_that_is_not_json_is_an_error_naming_it() {
        let dir = folder("bad", &[("query-x.json", "{")]);
        let err = format!("{:#}", read_folder(&dir, ".sqlx/").unwrap_err());
        assert!(err.starts_with(".sqlx/query-x.json is not JSON"), "{err}");
    }
}
