//! `[workspace.metadata.xtask.compose]`: the Docker Compose stack, for `cargo xtask up | down |
//! logs`, the smoke gate and the test database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposeSettings {
    /// The compose file (absolute); `None`: the first of compose.yaml, compose.yml,
    /// docker-compose.yaml, docker-compose.yml at the workspace root.
    pub file: Option<PathBuf>,
    /// A compose file laid over `file` for development (absolute): `cargo xtask up | down |
    /// logs` and the test database use both; the smoke gate runs `file` alone, as production.
    pub dev_file: Option<PathBuf>,
    /// The service that runs PostgreSQL (the test gate starts only this one).
    pub db_service: String,
    /// The one-shot service that applies the migrations.
    pub migrate_service: String,
    /// The service the API runs in.
    pub app_service: String,
    /// The port the app listens on inside its container.
    pub app_port: u16,
    /// The app's probes (the app defines them: `app::routes::health`).
    pub live_path: String,
    pub ready_path: String,
    /// A throwaway stack's whole environment (no `.env` is read): `{secret}`, `{port}` and
    /// `{image}` are filled in on each run (see `docker::render_env`).
    pub env: BTreeMap<String, String>,
}

/// The database's service when the table does not name one (`db-service`).
const DEFAULT_DB_SERVICE: &str = "db";

/// `db-service` as the compose table writes it (as read, before the table is checked), else its
/// default: what the test table's `services` and `env` call the database.
pub(super) fn db_service_as_written(table: Option<&serde_json::Value>) -> String {
    table.and_then(|t| t.get("db-service")).and_then(serde_json::Value::as_str).unwrap_or(DEFAULT_DB_SERVICE).to_owned()
}

/// The table as written, every key with its default.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Table {
    file: Option<PathBuf>,
    dev_file: Option<PathBuf>,
    db_service: String,
    migrate_service: String,
    app_service: String,
    app_port: u16,
    live_path: String,
    ready_path: String,
    env: BTreeMap<String, String>,
}

impl Default for Table {
    fn default() -> Table {
        Table {
            file: None,
            dev_file: None,
            db_service: DEFAULT_DB_SERVICE.into(),
            migrate_service: "migrate".into(),
            app_service: "app".into(),
            app_port: 8000,
            live_path: "/health/live".into(),
            ready_path: "/health/ready".into(),
            env: BTreeMap::new(),
        }
    }
}

impl Table {
    /// The settings, or every problem with them.
    pub(super) fn validate(self, root: &Path) -> Result<ComposeSettings, Vec<String>> {
        let mut errors = Vec::new();
        for (key, name) in [
            ("db-service", &self.db_service),
            ("migrate-service", &self.migrate_service),
            ("app-service", &self.app_service),
        ] {
            if name.is_empty() {
                errors.push(format!("`{key}` is empty"));
            }
        }
        if self.app_port == 0 {
            errors.push("`app-port` must be a port number, 1 to 65535".to_owned());
        }
        for (key, path) in [("live-path", &self.live_path), ("ready-path", &self.ready_path)] {
            if !path.starts_with('/') || path.contains(char::is_whitespace) {
                errors.push(format!("`{key}` = {path:?} is not a URL path (e.g. \"/health/ready\")"));
            }
        }
        for (key, value) in &self.env {
            check_variable(key, value, &mut errors);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ComposeSettings {
            file: self.file.map(|p| root.join(p)),
            dev_file: self.dev_file.map(|p| root.join(p)),
            db_service: self.db_service,
            migrate_service: self.migrate_service,
            app_service: self.app_service,
            app_port: self.app_port,
            live_path: self.live_path,
            ready_path: self.ready_path,
            env: self.env,
        })
    }
}

/// An `env` entry: a variable name, and a value whose `{…}` are the placeholders a run fills in.
fn check_variable(key: &str, value: &str, errors: &mut Vec<String>) {
    let name_ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !name_ok {
        errors.push(format!("`env`: {key:?} is not a variable name (letters, digits and `_`)"));
        return;
    }
    let mut rest = value;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c + 1).unwrap_or(rest.len());
        let word = &rest[open..close];
        if !matches!(word, "{secret}" | "{port}" | "{image}") {
            errors.push(format!("`env.{key}`: unknown placeholder `{word}` (use {{secret}}, {{port}} or {{image}})"));
            return;
        }
        rest = &rest[close..];
    }
}
