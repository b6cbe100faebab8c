//! Gate settings: `[workspace.metadata.xtask]` in the root `Cargo.toml`, read through
//! `cargo metadata`. Every caller (a developer, pre-commit, CI) reads the same table;
//! flags may override a value for one run.
//!
//! Each gate's table has a module of its own: the table as written (`Table`, every key with
//! its default, written once in its `Default`), and `validate`, which turns it into the
//! settings the gates read or gives every problem with it. Reading goes key by key
//! (`keys.rs`), so a value of the wrong type names its table and key; every problem of every
//! table is reported at once.

mod compose;
mod coverage;
mod keys;
mod lint;
mod mutants;
mod security;
mod smoke;
mod template;
mod test;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use crate::coverage::Metric;
pub use compose::ComposeSettings;
pub use coverage::{CoverageSettings, PathGate};
pub use lint::{DEFAULT_CORS_PATHS, LintSettings};
pub use mutants::MutantsSettings;
pub use security::SecuritySettings;
pub use smoke::SmokeSettings;
pub use template::{Field, Template};
pub use test::{Migrations, TestInput, TestSettings};

#[derive(Clone, Debug)]
pub struct Settings {
    pub coverage: CoverageSettings,
    pub test: TestSettings,
    pub lint: LintSettings,
    pub security: SecuritySettings,
    pub compose: ComposeSettings,
    pub smoke: SmokeSettings,
    pub mutants: MutantsSettings,
    /// The `[workspace.metadata.xtask]` table as read, as JSON text (`null` when absent): the
    /// verdict cache keys on it, so any change of a setting is a change of the key.
    pub json: String,
    /// The workspace's packages that are the xtask's own (their manifest under `xtask/`), by
    /// name: what a test run leaves out unless `xtask-tests` is on (`test_run::exclusions`).
    pub xtask_packages: Vec<String>,
    /// The workspace's `.sqlx/` folders (sqlx's offline query data): the root's, its members'
    /// ([`sqlx_folders`]); the lint's sqlx check compares them.
    pub sqlx_folders: Vec<PathBuf>,
}

/// The tables of `[workspace.metadata.xtask]`; any other is an error.
const TABLES: [&str; 7] = ["coverage", "test", "lint", "security", "compose", "smoke", "mutants"];

impl Settings {
    /// Parses the `xtask` table of the workspace metadata (`null` when absent).
    pub fn from_metadata(root: &Path, metadata: &Value) -> Result<Settings> {
        let xtask = metadata.get("xtask").cloned().unwrap_or(Value::Null);
        let json = xtask.to_string();
        let mut tables = match xtask {
            Value::Null => Map::new(),
            Value::Object(tables) => tables,
            other => bail!("invalid [workspace.metadata.xtask] in Cargo.toml: expected tables, not {other}"),
        };
        let mut errors: Vec<String> = (tables.keys())
            .filter(|name| !TABLES.contains(&name.as_str()))
            .map(|name| {
                let expected = TABLES.map(|t| format!("`{t}`")).join(", ");
                format!("invalid [workspace.metadata.xtask] in Cargo.toml: unknown field `{name}`, expected one of {expected}")
            })
            .collect();
        let coverage = table(&mut tables, "coverage", &mut errors, |t: coverage::Table| t.validate(root));
        // The test table's `services` and `env` name the database by the compose table's `db-service`.
        let db_service = compose::db_service_as_written(tables.get("compose"));
        let test = table(&mut tables, "test", &mut errors, |t: test::Table| t.validate(&db_service, root));
        let lint = table(&mut tables, "lint", &mut errors, lint::Table::validate);
        let security = table(&mut tables, "security", &mut errors, |t: security::Table| t.validate(root));
        let compose = table(&mut tables, "compose", &mut errors, |t: compose::Table| t.validate(root));
        let smoke = table(&mut tables, "smoke", &mut errors, smoke::Table::validate);
        let mutants = table(&mut tables, "mutants", &mut errors, mutants::Table::validate);
        match (coverage, test, lint, security, compose, smoke, mutants) {
            (Some(coverage), Some(test), Some(lint), Some(security), Some(compose), Some(smoke), Some(mutants))
                if errors.is_empty() =>
            {
                Ok(Settings {
                    coverage,
                    test,
                    lint,
                    security,
                    compose,
                    smoke,
                    mutants,
                    json,
                    xtask_packages: Vec::new(),
                    sqlx_folders: Vec::new(),
                })
            }
            _ => bail!("{}", errors.join("\n")),
        }
    }

    /// Reads the settings of the workspace whose manifest is `root/Cargo.toml`.
    pub fn load(cargo: &str, root: &Path) -> Result<Settings> {
        let metadata = workspace_metadata(cargo, root).context("could not read the workspace settings")?;
        let mut settings = Settings::from_metadata(root, &metadata.workspace_metadata)?;
        let xtask = metadata.workspace_root.join("xtask");
        settings.xtask_packages = metadata
            .workspace_packages()
            .into_iter()
            .filter(|p| p.manifest_path.starts_with(&xtask))
            .map(|p| p.name.to_string())
            .collect();
        settings.sqlx_folders = sqlx_folders(&metadata);
        Ok(settings)
    }
}

/// The `.sqlx/` folders of a workspace: at its root (where `cargo sqlx prepare --workspace`
/// writes), then in its members' folders (where `cargo sqlx prepare` in a member writes).
pub fn sqlx_folders(metadata: &cargo_metadata::Metadata) -> Vec<PathBuf> {
    let root = metadata.workspace_root.as_std_path();
    let members = metadata.workspace_packages().into_iter().filter_map(|p| p.manifest_path.parent());
    let mut folders: Vec<PathBuf> = Vec::new();
    for dir in std::iter::once(root).chain(members.map(|dir| dir.as_std_path())).map(|dir| dir.join(".sqlx")) {
        if dir.is_dir() && !folders.contains(&dir) {
            folders.push(dir);
        }
    }
    folders
}

/// One table, read (its defaults where it is silent) and validated; its problems, if any, go to
/// `errors` as one line under its name.
fn table<T: DeserializeOwned + Default, S>(
    tables: &mut Map<String, Value>,
    name: &str,
    errors: &mut Vec<String>,
    validate: impl FnOnce(T) -> Result<S, Vec<String>>,
) -> Option<S> {
    let raw = match tables.remove(name) {
        Some(table) => keys::read_table(table),
        None => Ok(T::default()),
    };
    match raw.and_then(validate) {
        Ok(settings) => Some(settings),
        Err(problems) => {
            errors.push(format!("[workspace.metadata.xtask.{name}] in Cargo.toml: {}", problems.join("; ")));
            None
        }
    }
}

/// Each of `patterns` a glob the lint's matcher takes (`key`: the setting they come from).
fn check_globs(key: &str, patterns: &[String], errors: &mut Vec<String>) {
    for p in patterns {
        if let Err(e) = crate::repo::glob::check(p) {
            errors.push(format!("`{key}`: {e}"));
        }
    }
}

/// `cargo metadata --no-deps --offline` of the workspace at `root`: its settings and packages.
pub fn workspace_metadata(cargo: &str, root: &Path) -> Result<cargo_metadata::Metadata> {
    cargo_metadata::MetadataCommand::new()
        .cargo_path(cargo)
        .manifest_path(root.join("Cargo.toml"))
        .no_deps()
        .other_options(vec!["--offline".to_owned()])
        .exec()
        .context("`cargo metadata` failed")
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::grade::Percent;
    use crate::tools::Tool;
    use serde_json::json;

    /// The error `[workspace.metadata.xtask]` = `xtask` gives, as `main` prints it.
    fn error(xtask: Value) -> String {
        format!("{:#}", Settings::from_metadata(Path::new("/r"), &json!({ "xtask": xtask })).unwrap_err())
    }

    #[test]
    fn missing_table_gives_the_runbook_defaults() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap();
        assert_eq!(s.coverage.threshold, Percent::whole(70));
        assert_eq!(s.coverage.report, Path::new("/r/coverage.xml"));
        assert_eq!(s.coverage.bands.len(), 5);
        assert_eq!(s.coverage.bands[2].label, "Approved");
    }

    #[test]
    fn the_trend_keeps_its_runs_in_a_folder_and_checks_its_lengths() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap();
        assert_eq!(s.coverage.trend, Path::new("/r/target/coverage"));
        assert_eq!((s.coverage.history_runs, s.coverage.trend_runs), (200, 30));
        let meta = json!({"xtask": {"coverage": {"trend": "ci/trend", "history-runs": 5, "trend-runs": 5}}});
        let s = Settings::from_metadata(Path::new("/r"), &meta).unwrap();
        assert_eq!((s.coverage.trend.as_path(), s.coverage.trend_runs), (Path::new("/r/ci/trend"), 5));
        assert_eq!(
            error(json!({"coverage": {"history-runs": 0, "trend-runs": 0}})),
            "[workspace.metadata.xtask.coverage] in Cargo.toml: `history-runs` must be at least 1: the history keeps \
             the last runs; `trend-runs` must be at least 1: the chart draws the last runs"
        );
        assert!(
            error(json!({"coverage": {"history-runs": 10}}))
                .contains("`trend-runs` (30) is more than `history-runs` (10): the history would never hold that many"),
        );
    }

    #[test]
    fn the_base_report_is_one_file_under_the_root_and_unset_by_default() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap();
        assert_eq!(s.coverage.base_report, None, "unset: the indirect changes need --base-report");
        let meta = json!({"xtask": {"coverage": {"base-report": "target/coverage/base/coverage.xml"}}});
        let s = Settings::from_metadata(Path::new("/r"), &meta).unwrap();
        assert_eq!(s.coverage.base_report.as_deref(), Some(Path::new("/r/target/coverage/base/coverage.xml")));
        assert_eq!(
            error(json!({"coverage": {"base-report": "base/*.xml", "history-runs": 0, "trend-runs": 0}})),
            "[workspace.metadata.xtask.coverage] in Cargo.toml: `base-report` (\"base/*.xml\") names one file, not a \
             pattern: the merge base's merged report (several runs or shards: `--base-report` on the command line); \
             `history-runs` must be at least 1: the history keeps the last runs; `trend-runs` must be at least 1: \
             the chart draws the last runs",
            "every problem at once"
        );
        assert!(error(json!({"coverage": {"base-report": " "}})).contains("`base-report` must name a file"));
        assert!(error(json!({"coverage": {"base-report": 3}})).contains("base-report"), "a path, typed");
    }

    #[test]
    fn fractional_threshold_and_custom_bands_are_read() {
        let meta = json!({"xtask": {"coverage": {"threshold": 72.5, "metric": "branches",
            "bands": [{"min": 75, "emoji": "+", "label": "Good"}, {"min": 0, "emoji": "-", "label": "Bad"}]}}});
        let s = Settings::from_metadata(Path::new("/r"), &meta).unwrap();
        assert_eq!(s.coverage.threshold.to_string(), "72.5");
        assert_eq!(s.coverage.metric, Metric::Branches);
        assert_eq!(s.coverage.bands[0].label, "Good");
    }

    #[test]
    fn test_settings_default_to_no_database() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap();
        assert!(!s.test.database);
        assert_eq!((s.test.database_name.as_str(), s.test.database_user.as_str()), ("app_test", "app"));
        assert!(s.test.tools.is_empty() && s.test.inputs.is_empty() && !s.test.build_images);
        let meta = json!({"xtask": {"test": {"database": true, "database-name": "shop_test",
            "database-user": "shop"}}});
        let t = Settings::from_metadata(Path::new("/r"), &meta).unwrap().test;
        assert!(t.database);
        assert_eq!((t.database_name.as_str(), t.database_user.as_str()), ("shop_test", "shop"));
        assert!(t.tools.is_empty());
        assert!(!t.build_images);
        let meta = json!({"xtask": {"test": {"tools": ["schemathesis"], "build-images": true}}});
        let t = Settings::from_metadata(Path::new("/r"), &meta).unwrap().test;
        assert_eq!(t.tools, [Tool::Schemathesis]);
        assert!(t.build_images);
        let not_a_bool = json!({"xtask": {"test": {"build-images": "yes"}}});
        let err = format!("{:#}", Settings::from_metadata(Path::new("/r"), &not_a_bool).unwrap_err());
        assert!(err.contains("invalid type: string \"yes\", expected a boolean"), "{err}");
        let unknown = json!({"xtask": {"test": {"tools": ["cargo-nextest"]}}});
        let err = format!("{:#}", Settings::from_metadata(Path::new("/r"), &unknown).unwrap_err());
        assert!(err.contains("`cargo-nextest` is not a tool the xtask installs for the tests (one of: "), "{err}");
        assert!(err.contains("schemathesis"), "{err}");
    }

    #[test]
    fn retries_default_by_ci_an_explicit_number_wins_and_both_keys_are_checked() {
        let t = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap().test;
        assert_eq!((t.retries(true), t.retries(false)), (2, 0));
        assert_eq!(t.quarantine, Path::new("tests-quarantine.toml"));
        let meta = json!({"xtask": {"test": {"retries": 0, "quarantine": "ci/quarantine.toml"}}});
        let t = Settings::from_metadata(Path::new("/r"), &meta).unwrap().test;
        assert_eq!((t.retries(true), t.retries(false)), (0, 0));
        assert_eq!(t.quarantine, Path::new("ci/quarantine.toml"));
        let t = Settings::from_metadata(Path::new("/r"), &json!({"xtask": {"test": {"retries": 3}}})).unwrap().test;
        assert_eq!((t.retries(true), t.retries(false)), (3, 3));
        let err = error(json!({"test": {"retries": 11, "quarantine": "/etc/q.toml"}}));
        assert!(err.contains("`retries` = 11: use 0 to 10"), "{err}");
        assert!(err.contains("`quarantine` = \"/etc/q.toml\": name a file relative to the workspace root"), "{err}");
        let err = error(json!({"test": {"retries": -1}}));
        assert!(err.contains("`retries` = -1: use 0 to 10"), "{err}");
    }

    /// `compose-file` and `compose-service` moved to the compose table long ago (as `file` and
    /// `db-service`); they are now keys the test table does not have, like any typo.
    #[test]
    fn the_removed_compose_keys_are_unknown_keys() {
        for key in ["compose-file", "compose-service"] {
            let err = error(json!({"test": {key: "x"}}));
            assert!(
                err.starts_with(&format!(
                    "[workspace.metadata.xtask.test] in Cargo.toml: unknown field `{key}`, expected one of `database`, "
                )),
                "{err}"
            );
            assert!(err.contains("`build-images`"), "{err}");
        }
        let typo = error(json!({"test": {"datbase": true}}));
        assert!(typo.contains("unknown field `datbase`, expected one of `database`, `database-name`"), "{typo}");
    }

    #[test]
    fn every_problem_of_every_table_is_reported_at_once() {
        let err = error(json!({
            "coverage": {"base": "-x", "bands": [{"min": 50, "emoji": "x", "label": "a"}]},
            "test": {"database-name": "1st", "tools": ["cargo-nextest"]},
            "lint": {"max-file-size-kb": 0, "exclude": ["/abs"]},
            "security": {"max-db-age-days": 0},
            "compose": {"db-service": "", "app-port": 0, "ready-path": "health"},
            "smoke": {"image": "a b", "max-image-size-mb": 0},
            "smoek": {},
        }));
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 7, "one line a table with problems, the unknown table first: {err}");
        assert!(lines[0].contains("invalid [workspace.metadata.xtask] in Cargo.toml: unknown field `smoek`"), "{err}");
        assert_eq!(
            lines[1],
            "[workspace.metadata.xtask.coverage] in Cargo.toml: `base` must name a git revision, e.g. \"origin/main\"; \
             the last band (`a`) must have min = 0 so every report gets a grade"
        );
        for (line, says) in [
            (2, "[workspace.metadata.xtask.test] in Cargo.toml: `database-name` = \"1st\": use at most 63"),
            (2, "; test `tools`: `cargo-nextest` is not a tool the xtask installs"),
            (3, "[workspace.metadata.xtask.lint] in Cargo.toml: `exclude`: `/abs`: write paths relative to the root"),
            (3, "; `max-file-size-kb` must be at least 1"),
            (4, "[workspace.metadata.xtask.security] in Cargo.toml: `max-db-age-days` must be at least 1"),
            (5, "[workspace.metadata.xtask.compose] in Cargo.toml: `db-service` is empty; `app-port` must be a port"),
            (5, "; `ready-path` = \"health\" is not a URL path"),
            (6, "[workspace.metadata.xtask.smoke] in Cargo.toml: `image` = \"a b\" is not an image name"),
            (6, "; `max-image-size-mb` must be at least 1"),
        ] {
            assert!(lines[line].contains(says), "{says}: {err}");
        }
        // One problem alone reads as it always did.
        assert_eq!(
            error(json!({"lint": {"max-file-size-kb": 0}})),
            "[workspace.metadata.xtask.lint] in Cargo.toml: `max-file-size-kb` must be at least 1"
        );
    }

    #[test]
    fn a_wrong_type_names_its_table_and_key() {
        assert_eq!(
            error(json!({"test": {"build-images": "yes", "database": 1}})),
            "[workspace.metadata.xtask.test] in Cargo.toml: `build-images`: invalid type: string \"yes\", \
             expected a boolean; `database`: invalid type: integer `1`, expected a boolean"
        );
        assert_eq!(
            error(json!({"compose": {"app-port": 70000, "env": {"A": 1}}})),
            "[workspace.metadata.xtask.compose] in Cargo.toml: `app-port`: invalid value: integer `70000`, \
             expected u16; `env.A`: invalid type: integer `1`, expected a string"
        );
        assert_eq!(
            error(
                json!({"coverage": {"paths": [{"glob": "a/**", "threshold": 90}, {"glob": "b/**", "threshold": "x"}]}})
            ),
            "[workspace.metadata.xtask.coverage] in Cargo.toml: `paths[1].threshold`: \"x\" is not a percentage \
             between 0 and 100 (for example 70 or 72.5)"
        );
        assert_eq!(
            error(json!({"coverage": {"bands": [{"min": 0, "label": "a"}]}})),
            "[workspace.metadata.xtask.coverage] in Cargo.toml: `bands[0]`: missing field `emoji`"
        );
        assert_eq!(error(json!({"lint": ["x"]})).lines().count(), 1);
        assert!(error(json!("x")).starts_with("invalid [workspace.metadata.xtask] in Cargo.toml: expected tables"));
    }

    #[test]
    fn percents_are_integers_or_decimals_from_0_to_100_exactly() {
        let coverage = |value: Value| {
            let meta = json!({"xtask": {"coverage": {"threshold": value, "ratchet-tolerance": 0}}});
            Settings::from_metadata(Path::new("/r"), &meta).map(|s| s.coverage).map_err(|e| format!("{e:#}"))
        };
        let c = coverage(json!(75)).unwrap();
        assert_eq!(
            (c.threshold, c.patch_threshold, c.ratchet_tolerance),
            (Percent::whole(75), Percent::whole(75), Percent::ZERO)
        );
        assert_eq!(coverage(json!(69.995)).unwrap().threshold, "69.995".parse().unwrap());
        assert_eq!(coverage(json!("72.5")).unwrap().threshold.to_string(), "72.5");
        assert_eq!(coverage(json!(100)).unwrap().threshold, Percent::whole(100));
        for (value, says) in [
            (json!(100.5), "`threshold`: \"100.5\" is not a percentage between 0 and 100"),
            (json!(170), "`threshold`: \"170\" is not a percentage between 0 and 100"),
            (json!(-1), "`threshold`: \"-1\" is not a percentage between 0 and 100"),
            (json!(true), "`threshold`: invalid type: boolean `true`, expected a percentage between 0 and 100"),
            (json!([70]), "`threshold`: invalid type: sequence, expected a percentage"),
        ] {
            let err = coverage(value).unwrap_err();
            assert!(err.starts_with(&format!("[workspace.metadata.xtask.coverage] in Cargo.toml: {says}")), "{err}");
        }
    }

    #[test]
    fn test_inputs_are_globs_and_filtersets_and_every_problem_is_reported() {
        let meta = json!({"xtask": {"test": {"inputs": [
            {"glob": "Dockerfile", "tests": "binary(smoke_run)"},
            {"glob": ["scripts/**", "deploy/*"], "tests": ["binary(ops)", "test(/x/)"]},
        ]}}});
        let t = Settings::from_metadata(Path::new("/r"), &meta).unwrap().test;
        assert_eq!(
            t.inputs,
            [
                TestInput { globs: vec!["Dockerfile".into()], tests: "binary(smoke_run)".into() },
                TestInput {
                    globs: vec!["scripts/**".into(), "deploy/*".into()],
                    tests: "(binary(ops)) | (test(/x/))".into()
                },
            ]
        );
        let bad = json!({"xtask": {"test": {"inputs": [
            {"glob": "/abs", "tests": "binary(a)"},
            {"glob": "!x", "tests": "binary(a)"},
            {"glob": "ok", "tests": ""},
            {"glob": "ok", "tests": "binary(a"},
            {"glob": [], "tests": "all()"},
        ]}}});
        let err = format!("{:#}", Settings::from_metadata(Path::new("/r"), &bad).unwrap_err());
        for says in [
            "inputs[0] (/abs): `/abs`: write paths relative to the root",
            "inputs[1] (!x): an input's glob cannot be negated",
            "inputs[2] (ok): `tests` must name the tests",
            "inputs[3] (ok): `tests` filterset \"binary(a\" has unbalanced parentheses",
            "inputs[4] (): `glob` must name the files",
        ] {
            assert!(err.contains(says), "{says}: {err}");
        }
        let unknown = json!({"xtask": {"test": {"inputs": [{"glob": "a", "tests": "all()", "test": "x"}]}}});
        assert!(Settings::from_metadata(Path::new("/r"), &unknown).is_err());
        // A parenthesis in quotes is text, not a group: one closes nothing, one opens nothing.
        let quoted = json!({"xtask": {"test": {"inputs": [
            {"glob": "a", "tests": "test(=\")\")"},
            {"glob": "b", "tests": "test(=\"(\")"},
        ]}}});
        assert_eq!(Settings::from_metadata(Path::new("/r"), &quoted).unwrap().test.inputs.len(), 2);
        let open_quote = json!({"xtask": {"test": {"inputs": [{"glob": "a", "tests": "test(=\")"}]}}});
        assert!(Settings::from_metadata(Path::new("/r"), &open_quote).is_err());
    }

    #[test]
    fn test_services_and_their_variables() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap().test;
        assert!(s.services.is_empty() && s.env.is_empty());
        let meta = json!({"xtask": {"test": {"services": ["db", "redis", "my.cache"], "env": {
            "APP_DATABASE__PORT": "{db.port}", "APP_DATABASE__URL": "{db.url}",
            "APP_REDIS_URI": "redis://{redis.host}:{redis.port}", "CACHE": "{my.cache.port.7001}", "PLAIN": "{{x}}"}}}});
        let t = Settings::from_metadata(Path::new("/r"), &meta).unwrap().test;
        assert!(t.database, "naming the db service turns the database on");
        assert_eq!(t.services, ["redis", "my.cache"], "the others, in order");
        assert_eq!(
            t.env.keys().collect::<Vec<_>>(),
            ["APP_DATABASE__PORT", "APP_DATABASE__URL", "APP_REDIS_URI", "CACHE", "PLAIN"]
        );
        let cache: Vec<_> = t.env["CACHE"].placeholders().collect();
        assert_eq!(cache, [("my.cache", Field::Port(Some(7001)))]);
        // The database is the compose table's `db-service`; `database = true` alone is enough for it.
        let meta = json!({"xtask": {"test": {"database": true, "env": {"PGPORT": "{postgres.port}"}},
                          "compose": {"db-service": "postgres"}}});
        let t = Settings::from_metadata(Path::new("/r"), &meta).unwrap().test;
        assert!(t.database && t.services.is_empty());
        let meta = json!({"xtask": {"test": {"services": ["postgres"]}, "compose": {"db-service": "postgres"}}});
        assert!(Settings::from_metadata(Path::new("/r"), &meta).unwrap().test.database);
        // Services without a database.
        let meta = json!({"xtask": {"test": {"services": ["redis"], "env": {"R": "{redis.port}"}}}});
        let t = Settings::from_metadata(Path::new("/r"), &meta).unwrap().test;
        assert!(!t.database);
        assert_eq!(t.services, ["redis"]);
    }

    #[test]
    fn every_problem_of_the_test_services_at_once() {
        let err = error(json!({"test": {"services": ["redis", "-x", "redis", ""], "env": {
            "1BAD": "{redis.port}",
            "A B": "x",
            "BRACES": "{redis.port",
            "CLOSE": "x}",
            "UNKNOWN": "{cache.port}",
            "FIELD": "{redis.user}",
            "NOFIELD": "{redis.prot}",
            "DB": "{db.port}",
            "DBPORT": "{db.port.5432}",
            "SEVERAL": "{nope.host}{redis.password}",
        }}}));
        assert_eq!(err.lines().count(), 1, "one line for the table: {err}");
        let problems: Vec<&str> =
            err.strip_prefix("[workspace.metadata.xtask.test] in Cargo.toml: ").unwrap().split("; ").collect();
        let expected = [
            "`services`: \"-x\" is not a compose service name (letters, digits, `_`, `.` and `-`, starting with a \
             letter or digit)",
            "`services`: `redis` is named twice",
            "`services`: \"\" is not a compose service name (letters, digits, `_`, `.` and `-`, starting with a \
             letter or digit)",
            "`env`: \"1BAD\" is not a variable name (letters, digits and `_`, not starting with a digit)",
            "`env`: \"A B\" is not a variable name (letters, digits and `_`, not starting with a digit)",
            "`env.BRACES`: a `{` without its `}` at byte 0 (write `{{` for a brace)",
            "`env.CLOSE`: a `}` without its `{` at byte 1 (write `}}` for a brace)",
            "`env.DB`: `{db.port}` needs the database, which the tests do not get: set `database = true`, or name \
             `db` in `services`",
            "`env.DBPORT`: `{db.port.5432}` needs the database, which the tests do not get: set `database = true`, \
             or name `db` in `services`",
            "`env.FIELD`: `{redis.user}`: unknown field `user` for `redis` (a service has `host`, `port` and \
             `port.<container port>`, only the database `user`, `password`, `name` and `url`)",
            "`env.NOFIELD`: `{redis.prot}`: unknown field `prot` (one of `host`, `port`, `port.<container port>`, \
             and for the database `user`, `password`, `name`, `url`)",
            "`env.SEVERAL`: `{nope.host}`: `nope` is neither in `services` (`redis`) nor the database (`db`): add \
             it to `services`",
            "`env.SEVERAL`: `{redis.password}`: unknown field `password` for `redis` (a service has `host`, `port` \
             and `port.<container port>`, only the database `user`, `password`, `name` and `url`)",
            "`env.UNKNOWN`: `{cache.port}`: `cache` is neither in `services` (`redis`) nor the database (`db`): \
             add it to `services`",
        ];
        assert_eq!(problems, expected, "{err}");
        // With a database, its port is one port.
        let err = error(json!({"test": {"database": true, "env": {"P": "{db.port.5432}", "Q": "{redis.port}"}}}));
        assert_eq!(
            err,
            "[workspace.metadata.xtask.test] in Cargo.toml: `env.P`: `{db.port.5432}`: the database has one port, \
             `{db.port}` (it may not come from compose); `env.Q`: `{redis.port}`: `redis` is neither in `services` \
             (none) nor the database (`db`): add it to `services`"
        );
        let err = error(json!({"test": {"env": {"A": 1}}}));
        assert_eq!(
            err,
            "[workspace.metadata.xtask.test] in Cargo.toml: `env.A`: invalid type: integer `1`, expected a string"
        );
    }

    #[test]
    fn migrations_are_a_folder_that_exists_or_false_or_a_command() {
        let root = std::env::temp_dir().join(format!("xtask-settings-migrations-{}", std::process::id()));
        std::fs::create_dir_all(root.join("db/migrations")).unwrap();
        let test = |table: Value| Settings::from_metadata(&root, &json!({"xtask": {"test": table}})).map(|s| s.test);
        let migrations = |table: Value| test(table).unwrap().migrations;
        assert_eq!(migrations(json!({})), Migrations::Default);
        assert_eq!(migrations(json!({"migrations": false})), Migrations::Off);
        assert_eq!(migrations(json!({"migrations": "db/migrations"})), Migrations::Folder("db/migrations".into()));
        let command = json!({"migrate-command": ["cargo", "run", "-p", "app", "--", "migrate"]});
        assert_eq!(
            migrations(command),
            Migrations::Command(["cargo", "run", "-p", "app", "--", "migrate"].map(str::to_owned).to_vec())
        );
        let error = |table: Value| format!("{:#}", test(table).unwrap_err());
        assert_eq!(
            error(json!({"migrations": "db/missing", "migrate-command": []})),
            "[workspace.metadata.xtask.test] in Cargo.toml: `migrations` and `migrate-command` are both set: the \
             schema comes from one of them (remove the other)"
        );
        assert!(
            error(json!({"migrations": "db/missing"}))
                .ends_with("`migrations` = \"db/missing\": there is no such folder at the workspace root")
        );
        assert!(error(json!({"migrate-command": []})).contains("`migrate-command` must name a program"));
        assert!(error(json!({"migrate-command": [" "]})).contains("`migrate-command` must name a program"));
        assert!(error(json!({"migrations": ""})).contains("`migrations` is empty"));
        assert!(error(json!({"migrations": true})).ends_with(
            "`migrations`: invalid value: boolean `true`, expected a folder of sqlx migrations (e.g. \"migrations\"), \
             or false"
        ));
        assert!(error(json!({"migrations": 1})).contains("`migrations`: invalid type: integer `1`, expected a folder"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn compose_and_smoke_tables_defaults_and_values() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap();
        assert_eq!((s.compose.file, s.compose.dev_file), (None, None));
        assert_eq!((s.compose.db_service.as_str(), s.compose.app_port), ("db", 8000));
        assert_eq!((s.compose.migrate_service.as_str(), s.compose.app_service.as_str()), ("migrate", "app"));
        assert_eq!((s.compose.live_path.as_str(), s.compose.ready_path.as_str()), ("/health/live", "/health/ready"));
        assert!(s.compose.env.is_empty());
        assert_eq!((s.smoke.image.as_str(), s.smoke.max_image_size_mb), ("xtask-smoke:latest", 500));
        let meta = json!({"xtask": {
            "compose": {"file": "deploy/compose.yaml", "dev-file": "deploy/dev.yaml", "db-service": "postgres",
                        "migrate-service": "m", "app-service": "api", "app-port": 3000,
                        "env": {"PGPASSWORD": "{secret}", "PORT": "{port}", "IMAGE": "{image}", "USER": "u"}},
            "smoke": {"image": "shop:smoke", "max-image-size-mb": 90}}});
        let s = Settings::from_metadata(Path::new("/r"), &meta).unwrap();
        assert_eq!(s.compose.file.as_deref(), Some(Path::new("/r/deploy/compose.yaml")));
        assert_eq!(s.compose.dev_file.as_deref(), Some(Path::new("/r/deploy/dev.yaml")));
        assert_eq!((s.compose.db_service.as_str(), s.compose.migrate_service.as_str()), ("postgres", "m"));
        assert_eq!((s.compose.app_service.as_str(), s.compose.app_port), ("api", 3000));
        assert_eq!(s.compose.env["PGPASSWORD"], "{secret}");
        assert_eq!((s.smoke.image.as_str(), s.smoke.max_image_size_mb), ("shop:smoke", 90));
    }

    #[test]
    fn lint_table_defaults_and_values() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap();
        assert_eq!(s.lint.exclude, lint::XTASK_OWN_EXCLUDES, "the xtask's own test data, always");
        assert_eq!(s.lint.max_file_size_kb, 500);
        assert!(s.lint.cors_paths.contains(&"app/**".to_owned()));
        let meta =
            json!({"xtask": {"lint": {"exclude": ["gen/*.xml"], "max-file-size-kb": 100, "cors-paths": ["srv/**"]}}});
        let s = Settings::from_metadata(Path::new("/r"), &meta).unwrap();
        assert_eq!(s.lint.exclude, ["gen/*.xml", lint::XTASK_OWN_EXCLUDES[0], lint::XTASK_OWN_EXCLUDES[1]]);
        assert_eq!(s.lint.max_file_size_kb, 100);
        assert_eq!(s.lint.cors_paths, ["srv/**"]);
        assert!(s.lint.sqlx_check, "on by default");
        let off = json!({"xtask": {"lint": {"sqlx-check": false}}});
        assert!(!Settings::from_metadata(Path::new("/r"), &off).unwrap().lint.sqlx_check);
    }

    #[test]
    fn security_table_defaults_and_values() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap().security;
        assert_eq!((s.advisory_db, s.max_db_age_days, s.accept_stale_db), (None, 90, false));
        assert_eq!(s.suppressions, Path::new("/r/security.toml"));
        let meta = json!({"xtask": {"security": {"advisory-db": "db", "max-db-age-days": 30, "accept-stale-db": true,
                          "linked-by": ["app"], "source-paths": ["app/src/**"], "suppressions": "sec/s.toml"}}});
        let s = Settings::from_metadata(Path::new("/r"), &meta).unwrap().security;
        assert_eq!(s.advisory_db.as_deref(), Some(Path::new("/r/db")));
        assert_eq!((s.max_db_age_days, s.accept_stale_db), (30, true));
        assert_eq!((s.linked_by, s.source_paths), (vec!["app".to_owned()], vec!["app/src/**".to_owned()]));
        assert_eq!(s.suppressions, Path::new("/r/sec/s.toml"));
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        for meta in [
            json!({"xtask": {"coverage": {"treshold": 70}}}),
            json!({"xtask": {"coverage": {"threshold": 170}}}),
            json!({"xtask": {"coverage": {"threshold": true}}}),
            json!({"xtask": {"coverage": {"bands": [{"min": 50, "emoji": "x", "label": "x"}]}}}),
            json!({"xtask": {"coverage": {"bands": [{"min": 0, "emoji": "x", "label": "a"}, {"min": 50, "emoji": "y", "label": "b"}]}}}),
            json!({"xtask": {"test": {"datbase": true}}}),
            json!({"xtask": {"test": {"database": "yes"}}}),
            json!({"xtask": {"test": {"database-name": "drop table"}}}),
            json!({"xtask": {"test": {"database-user": "1st"}}}),
            json!({"xtask": {"compose": {"db-service": ""}}}),
            json!({"xtask": {"compose": {"app-port": 0}}}),
            json!({"xtask": {"compose": {"ready-path": "health"}}}),
            json!({"xtask": {"compose": {"app-port": 70000}}}),
            json!({"xtask": {"compose": {"env": {"A B": "x"}}}}),
            json!({"xtask": {"compose": {"env": {"A": "{random}"}}}}),
            json!({"xtask": {"compose": {"compse": "x"}}}),
            json!({"xtask": {"smoke": {"max-image-size-mb": 0}}}),
            json!({"xtask": {"smoke": {"image": "a b"}}}),
            json!({"xtask": {"lint": {"exlude": []}}}),
            json!({"xtask": {"lint": {"exclude": ["/abs/path"]}}}),
            json!({"xtask": {"lint": {"cors-paths": ["a**"]}}}),
            json!({"xtask": {"lint": {"max-file-size-kb": 0}}}),
            json!({"xtask": {"lint": {"max-file-size-kb": -5}}}),
            json!({"xtask": {"security": {"max-db-age": 30}}}),
            json!({"xtask": {"security": {"max-db-age-days": 0}}}),
            json!({"xtask": {"security": {"source-paths": ["/abs"]}}}),
            json!({"xtask": {"security": {"accept-stale-db": "yes"}}}),
        ] {
            assert!(Settings::from_metadata(Path::new("/r"), &meta).is_err(), "{meta}");
        }
    }
}
