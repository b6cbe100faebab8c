//! `[workspace.metadata.xtask.test]`: how `cargo xtask test` runs the suite.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::template::{Field, Template};
use crate::tools::Tool;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestSettings {
    /// The suite needs PostgreSQL: provide one through `DATABASE_URL` (see `db/`). Also on when
    /// `services` names the compose table's `db-service`.
    pub database: bool,
    /// The database the tests get in a throwaway cluster.
    pub database_name: String,
    /// The role the tests connect as in a throwaway cluster.
    pub database_user: String,
    /// Tools the suite runs, installed by the gate and given to the tests by path
    /// (`tools::for_tests`).
    pub tools: Vec<Tool>,
    /// Files that are not Rust which tests read, and which tests: what an impact-aware run
    /// selects when such a file changes (`[[workspace.metadata.xtask.test.inputs]]`).
    pub inputs: Vec<TestInput>,
    /// The suite's container tests build the compose stack's images: a whole run builds them
    /// first, beside the tool installs (`images.rs`).
    pub build_images: bool,
    /// The xtask's own tests run too: on in the repository where the xtask is developed, off
    /// (the default) in a workspace that copied `xtask/`, whose test and coverage gates then
    /// leave the xtask's packages out (`--exclude`).
    pub xtask_tests: bool,
    /// The compose services the tests need besides the database (`services` without the
    /// `db-service`), in the order written: started in a throwaway project (`db/services.rs`).
    pub services: Vec<String>,
    /// The variables the tests (and their build) get, rendered once the services run
    /// (`db::with_test_services`); every placeholder names the database or one of `services`.
    pub env: BTreeMap<String, Template>,
    /// How the test database gets its schema before the tests build (`db/migrate.rs`).
    pub migrations: Migrations,
    /// `retries`: how many times nextest runs a failing test again; `None` when unset (then
    /// [`TestSettings::retries`] gives 2 in CI, 0 elsewhere).
    pub retries: Option<u32>,
    /// `quarantine`: the quarantine file of flaky tests, relative to the root.
    pub quarantine: PathBuf,
}

/// The most retries `retries` may ask for: more hides a test that fails most of the time.
pub const MAX_RETRIES: u32 = 10;

impl TestSettings {
    /// The retries of a run: the setting when written, else 2 in CI and 0 elsewhere.
    pub fn retries(&self, ci: bool) -> u32 {
        self.retries.unwrap_or(if ci { 2 } else { 0 })
    }
}

/// Where the test database's schema comes from: `migrations` and `migrate-command`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Migrations {
    /// Neither is set: the sqlx migrations in `migrations/` at the root, when that folder
    /// holds any (decided where they are applied, for the root being checked).
    Default,
    /// `migrations = false`.
    Off,
    /// `migrations = "FOLDER"`: sqlx migrations, relative to the workspace root.
    Folder(PathBuf),
    /// `migrate-command = ["PROGRAM", "ARG", …]`: the workspace's own command, run at the root.
    Command(Vec<String>),
}

/// One `[[workspace.metadata.xtask.test.inputs]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestInput {
    /// Globs over repository-relative paths (`*`, `?`, `**`); a file matching any is an input.
    pub globs: Vec<String>,
    /// The tests that read the matching files, as a nextest filterset (`binary(smoke_run)`).
    pub tests: String,
}

/// The table as written, every key with its default.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Table {
    database: bool,
    database_name: String,
    database_user: String,
    tools: Vec<String>,
    inputs: Vec<RawInput>,
    build_images: bool,
    xtask_tests: bool,
    services: Vec<String>,
    env: BTreeMap<String, String>,
    migrations: Option<FolderOrOff>,
    migrate_command: Option<Vec<String>>,
    retries: Option<i64>,
    quarantine: String,
}

impl Default for Table {
    fn default() -> Table {
        Table {
            database: false,
            database_name: "app_test".into(),
            database_user: "app".into(),
            tools: Vec::new(),
            inputs: Vec::new(),
            build_images: false,
            xtask_tests: false,
            services: Vec::new(),
            env: BTreeMap::new(),
            migrations: None,
            migrate_command: None,
            retries: None,
            quarantine: "tests-quarantine.toml".into(),
        }
    }
}

/// `migrations`: a folder, or `false`.
enum FolderOrOff {
    Folder(String),
    Off,
}

impl<'de> Deserialize<'de> for FolderOrOff {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<FolderOrOff, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = FolderOrOff;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a folder of sqlx migrations (e.g. \"migrations\"), or false")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FolderOrOff, E> {
                Ok(FolderOrOff::Folder(v.to_owned()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<FolderOrOff, E> {
                if v { Err(E::invalid_value(serde::de::Unexpected::Bool(true), &self)) } else { Ok(FolderOrOff::Off) }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    /// One glob, or several.
    glob: StringOrList,
    /// One filterset, or several (any of them).
    tests: StringOrList,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn into_vec(self) -> Vec<String> {
        match self {
            StringOrList::One(s) => vec![s],
            StringOrList::Many(v) => v,
        }
    }
}

impl Table {
    /// The settings, or every problem with them. `db_service` is the compose table's
    /// `db-service`: the database, in `services` and in `env`'s placeholders; `root` is where
    /// `migrations` is looked for.
    pub(super) fn validate(self, db_service: &str, root: &Path) -> Result<TestSettings, Vec<String>> {
        let mut errors = Vec::new();
        for (key, value) in [("database-name", &self.database_name), ("database-user", &self.database_user)] {
            if let Err(e) = check_identifier(key, value) {
                errors.push(e);
            }
        }
        let mut tools = Vec::new();
        for name in &self.tools {
            match Tool::project_local(name) {
                Some(tool) => tools.push(tool),
                None => errors.push(format!(
                    "test `tools`: `{name}` is not a tool the xtask installs for the tests (one of: {})",
                    Tool::project_local_names().join(", ")
                )),
            }
        }
        let mut inputs = Vec::new();
        for (i, raw) in self.inputs.into_iter().enumerate() {
            match input(raw) {
                Ok(input) => inputs.push(input),
                Err((globs, problems)) => {
                    let at = format!("inputs[{i}] ({})", globs.join(", "));
                    errors.extend(problems.into_iter().map(|p| format!("{at}: {p}")));
                }
            }
        }
        let database = self.database || self.services.iter().any(|s| s == db_service);
        let services = services(&self.services, db_service, &mut errors);
        let env = env(self.env, db_service, database, &services, &mut errors);
        let migrations = migrations(self.migrations, self.migrate_command, root, &mut errors);
        let retries = match self.retries {
            Some(n) if !(0..=i64::from(MAX_RETRIES)).contains(&n) => {
                errors.push(format!(
                    "`retries` = {n}: use 0 to {MAX_RETRIES} (a test that needs more retries to pass is broken, not \
                     flaky); leave it out for 2 in CI and 0 locally"
                ));
                None
            }
            n => n.map(|n| n as u32),
        };
        let quarantine = self.quarantine.trim();
        if quarantine.is_empty() || Path::new(quarantine).is_absolute() || quarantine.contains("..") {
            errors.push(format!(
                "`quarantine` = {:?}: name a file relative to the workspace root, e.g. \"tests-quarantine.toml\"",
                self.quarantine
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(TestSettings {
            database,
            database_name: self.database_name,
            database_user: self.database_user,
            tools,
            inputs,
            build_images: self.build_images,
            xtask_tests: self.xtask_tests,
            services,
            env,
            migrations,
            retries,
            quarantine: PathBuf::from(quarantine),
        })
    }
}

/// `services` without the database, each named once; a name compose would refuse is an error.
fn services(written: &[String], db_service: &str, errors: &mut Vec<String>) -> Vec<String> {
    let mut services: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for name in written {
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            errors.push(format!(
                "`services`: {name:?} is not a compose service name (letters, digits, `_`, `.` and `-`, starting with \
                 a letter or digit)"
            ));
        } else if !seen.insert(name.as_str()) {
            errors.push(format!("`services`: `{name}` is named twice"));
        } else if name != db_service {
            services.push(name.clone());
        }
    }
    services
}

/// `env`: each name a variable name, each value a template whose placeholders name the
/// database (when the tests get one) or one of `services`, with a field that service has.
fn env(
    written: BTreeMap<String, String>,
    db_service: &str,
    database: bool,
    services: &[String],
    errors: &mut Vec<String>,
) -> BTreeMap<String, Template> {
    let mut env = BTreeMap::new();
    for (key, value) in written {
        let name_ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            errors.push(format!(
                "`env`: {key:?} is not a variable name (letters, digits and `_`, not starting with a digit)"
            ));
        }
        let template = match Template::parse(&value) {
            Ok(t) => t,
            Err(problems) => {
                errors.extend(problems.into_iter().map(|p| format!("`env.{key}`: {p}")));
                continue;
            }
        };
        for (service, field) in template.placeholders() {
            let shown = format!("`{{{service}.{field}}}`");
            if service == db_service {
                if !database {
                    errors.push(format!(
                        "`env.{key}`: {shown} needs the database, which the tests do not get: set `database = true`, \
                         or name `{db_service}` in `services`"
                    ));
                } else if matches!(field, Field::Port(Some(_))) {
                    errors.push(format!(
                        "`env.{key}`: {shown}: the database has one port, `{{{db_service}.port}}` (it may not come \
                         from compose)"
                    ));
                }
            } else if !services.iter().any(|s| s == service) {
                let named = if services.is_empty() {
                    "none".to_owned()
                } else {
                    services.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                };
                errors.push(format!(
                    "`env.{key}`: {shown}: `{service}` is neither in `services` ({named}) nor the database \
                     (`{db_service}`): add it to `services`"
                ));
            } else if !field.of_any_service() {
                errors.push(format!(
                    "`env.{key}`: {shown}: unknown field `{field}` for `{service}` (a service has `host`, `port` and \
                     `port.<container port>`, only the database `user`, `password`, `name` and `url`)"
                ));
            }
        }
        if name_ok {
            env.insert(key, template);
        }
    }
    env
}

/// `migrations` and `migrate-command` as one choice: at most one of them, a folder that exists,
/// a command that names a program.
fn migrations(
    folder: Option<FolderOrOff>,
    command: Option<Vec<String>>,
    root: &Path,
    errors: &mut Vec<String>,
) -> Migrations {
    match (folder, command) {
        (Some(_), Some(_)) => {
            errors.push(
                "`migrations` and `migrate-command` are both set: the schema comes from one of them (remove the other)"
                    .to_owned(),
            );
            Migrations::Off
        }
        (None, Some(command)) if command.first().is_none_or(|p| p.trim().is_empty()) => {
            errors.push(
                "`migrate-command` must name a program, then its arguments: [\"cargo\", \"run\", \"--\", \"migrate\"]"
                    .to_owned(),
            );
            Migrations::Off
        }
        (None, Some(command)) => Migrations::Command(command),
        (Some(FolderOrOff::Off), None) => Migrations::Off,
        (Some(FolderOrOff::Folder(folder)), None) => {
            if folder.trim().is_empty() {
                errors.push("`migrations` is empty: name the folder of sqlx migrations, or write false".to_owned());
            } else if !root.join(&folder).is_dir() {
                errors.push(format!("`migrations` = {folder:?}: there is no such folder at the workspace root"));
            }
            Migrations::Folder(PathBuf::from(folder))
        }
        (None, None) => Migrations::Default,
    }
}

/// One input, or its globs and what is wrong with it.
fn input(raw: RawInput) -> Result<TestInput, (Vec<String>, Vec<String>)> {
    let globs = raw.glob.into_vec();
    let mut problems = Vec::new();
    if globs.is_empty() {
        problems.push("`glob` must name the files the tests read".to_owned());
    }
    for g in &globs {
        if let Err(e) = crate::repo::glob::check(g) {
            problems.push(e);
        } else if g.starts_with('!') {
            problems.push("an input's glob cannot be negated: name the files the tests read".to_owned());
        }
    }
    let filters: Vec<String> = raw.tests.into_vec().into_iter().map(|f| f.trim().to_owned()).collect();
    if filters.is_empty() || filters.iter().any(String::is_empty) {
        problems.push("`tests` must name the tests, as a nextest filterset, e.g. \"binary(smoke_run)\"".to_owned());
    } else if let Some(f) = filters.iter().find(|f| !balanced(f)) {
        problems.push(format!("`tests` filterset {f:?} has unbalanced parentheses"));
    }
    if !problems.is_empty() {
        return Err((globs, problems));
    }
    let tests = if filters.len() == 1 {
        filters[0].clone()
    } else {
        filters.iter().map(|f| format!("({f})")).collect::<Vec<_>>().join(" | ")
    };
    Ok(TestInput { globs, tests })
}

/// Whether the parentheses of a filterset pair up (outside quoted strings).
fn balanced(filter: &str) -> bool {
    let mut depth = 0i32;
    let mut quoted = false;
    for c in filter.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0 && !quoted
}

/// A plain SQL identifier (also safe in a URL): a letter or `_`, then letters, digits, `_`.
fn check_identifier(key: &str, value: &str) -> Result<(), String> {
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || value.len() > 63 {
        return Err(format!("`{key}` = {value:?}: use at most 63 letters, digits and `_`, not starting with a digit"));
    }
    Ok(())
}
