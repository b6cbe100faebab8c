//! PostgreSQL and the other services for the tests, without manual set-up.
//!
//! A gate runs its tests through [`with_test_services`]: the database's URL goes into
//! `DATABASE_URL`, the other compose services of `services` in `[workspace.metadata.xtask.test]`
//! run beside it (`services.rs`), the variables of its `env` map both to the app's own names,
//! and everything is stopped on every way out (success, test failure, error, Ctrl-C; the guards
//! stop it when dropped too). The database comes the first way that works (one module each:
//! `url.rs`, `compose.rs`, `cluster.rs`):
//!
//! 1. `DATABASE_URL` is set: it is used when a server answers there (`pg_isready`, else a
//!    TCP connect), and is an error when none does. It is never replaced silently.
//! 2. A Docker engine answers and the workspace has a compose file with the `db` service:
//!    `docker compose up -d --wait db` in a compose project of its own (`xtask-test-…`,
//!    with the variables of `[workspace.metadata.xtask.compose] env`, no `.env`), removed
//!    with its volume afterwards. When it fails (no image, a port taken) the reason is kept
//!    and the next way is tried.
//! 3. The PostgreSQL server binaries are installed: a throwaway cluster in
//!    `target/xtask-pg/<pid>` (`$TMPDIR/xtask-pg/<pid>` when `nobody` cannot reach the
//!    target folder) on a free loopback port, trust authentication, run as `nobody` when the
//!    xtask runs as root (PostgreSQL refuses to run as root), removed afterwards.
//!
//! When none works, the error lists the three ways to provide one. The other services come
//! from Docker alone: in the database's compose project when it came from compose, else in one
//! of their own; one that cannot be provided is an error that names it, checked before anything
//! starts. Passwords are never printed: every URL shown goes through [`redact`].

mod cluster;
mod compose;
pub mod migrate;
mod services;
mod url;

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};

pub use cluster::{PG_BIN_ENV, UNPRIVILEGED_USER, search_server_bin};
pub use compose::COMPOSE_PROJECT_PREFIX;
pub use url::{Credentials, Endpoint, credentials, endpoint, probe, redact};

use crate::settings::Field;
use crate::{Context, docker, interrupt, tools};
use cluster::Cluster;

/// A database the tests can use; stopped on [`Database::stop`] or when dropped.
pub struct Database {
    url: String,
    source: Source,
}

enum Source {
    /// `DATABASE_URL`: not ours to stop.
    External,
    Compose(docker::ThrowawayProject),
    Cluster(Cluster),
}

impl Database {
    /// The connection URL, with its password: for the tests' environment only, never print it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops what was started (nothing for `DATABASE_URL`) and removes the cluster's files.
    pub fn stop(mut self) -> Result<()> {
        match &mut self.source {
            Source::External => Ok(()),
            Source::Compose(c) => c.remove(),
            Source::Cluster(c) => c.stop(),
        }
    }

    /// The compose project it runs in, when it came from compose.
    fn project(&self) -> Option<&docker::ThrowawayProject> {
        match &self.source {
            Source::Compose(project) => Some(project),
            Source::External | Source::Cluster(_) => None,
        }
    }
}

/// What a test run needs started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    /// PostgreSQL, found or started by [`provision`].
    pub database: bool,
    /// The other services of `services` in `[workspace.metadata.xtask.test]`, and its `env`
    /// (off for a run that runs no test).
    pub services: bool,
}

/// The variables every cargo command of a test run gets: `DATABASE_URL`, then the rendered
/// `env` of `[workspace.metadata.xtask.test]` (which may set `DATABASE_URL` too). The values
/// may hold passwords: never print them.
#[derive(Default)]
pub struct TestEnv {
    database_url: Option<String>,
    vars: BTreeMap<String, String>,
}

impl TestEnv {
    /// Each variable and its value, by name.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The database's URL (with its password), when the run has a database.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }
}

/// The test run both test gates make (`test`, and `coverage` under cargo-llvm-cov): the
/// services the run needs are started (the other services checked first, then the database
/// found or started by [`provision`], then the other services), and `run` gets the variables
/// for the tests ([`TestEnv`]) and runs under the interrupt guard, once the migrations of the
/// settings are applied to the database (`migrate.rs`); everything started is
/// stopped afterwards on every way out, then a signal that arrived meanwhile is an error
/// ([`interrupt::Interrupted`]; the gate ends by it with `interrupt::exit_if_received`).
pub fn with_test_services<T>(cx: &Context, wanted: Wanted, run: impl FnOnce(&TestEnv) -> Result<T>) -> Result<T> {
    interrupt::install()?;
    let others = &cx.settings.test.services;
    // A service that cannot be provided stops the run before anything starts.
    let plan = if wanted.services && !others.is_empty() { Some(services::plan(cx, others)?) } else { None };
    let db = if wanted.database { Some(provision(cx)?) } else { None };
    let started = plan.map(|plan| plan.start(cx, db.as_ref().and_then(Database::project))).transpose()?;
    let env = test_env(cx, wanted, db.as_ref(), started.as_ref());
    // The schema before the build: sqlx's `query!` checks against it while compiling.
    let migrated = match &db {
        Some(db) => {
            let vars: Vec<(String, String)> =
                env.vars().filter(|(k, _)| *k != "DATABASE_URL").map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            migrate::apply(cx, &cx.root, db, &vars)
        }
        None => Ok(()),
    };
    let result = migrated.and_then(|()| run(&env));
    let services_stopped = started.map(services::Started::stop).transpose();
    let db_stopped = db.map(Database::stop).transpose();
    let result = result?;
    services_stopped?;
    db_stopped?;
    interrupt::check()?;
    Ok(result)
}

/// `DATABASE_URL`, and each `env` variable whose services this run has, rendered. A variable
/// that reads a service the run does not have (the database, with `--no-database`) is left
/// out, and the run says so; the others are named (never their values).
fn test_env(cx: &Context, wanted: Wanted, db: Option<&Database>, started: Option<&services::Started>) -> TestEnv {
    let mut env = TestEnv { database_url: db.map(|db| db.url.clone()), vars: BTreeMap::new() };
    if let Some(url) = &env.database_url {
        env.vars.insert("DATABASE_URL".into(), url.clone());
    }
    if !wanted.services || cx.settings.test.env.is_empty() {
        return env;
    }
    let db_service = cx.settings.compose.db_service.as_str();
    // The URL was checked where it came from (`endpoint`, or made by us).
    let db = db.and_then(|db| Some((db.url.as_str(), endpoint(&db.url).ok()?, credentials(&db.url).ok()?)));
    let mut set = Vec::new();
    for (key, template) in &cx.settings.test.env {
        let value = template.render(|service, field| -> Result<String, String> {
            if service == db_service {
                let Some((url, ep, creds)) = &db else { return Err("no database (`--no-database`)".to_owned()) };
                return Ok(match field {
                    Field::Host => ep.host.clone(),
                    Field::Port(_) => ep.port.to_string(),
                    Field::User => creds.user.clone(),
                    Field::Password => creds.password.clone(),
                    Field::Name => creds.name.clone(),
                    Field::Url => (*url).to_owned(),
                });
            }
            let reached = started.and_then(|s| s.reached.get(service));
            let value = match (reached, field) {
                (Some(r), Field::Host) => Some(r.host.to_string()),
                (Some(r), Field::Port(container)) => r.port(container).map(|p| p.to_string()),
                _ => None,
            };
            value.ok_or_else(|| format!("no `{service}.{field}`"))
        });
        match value {
            Ok(value) => {
                set.push(key.as_str());
                env.vars.insert(key.clone(), value);
            }
            Err(why) => eprintln!("services: {key} is not set for the tests: this run has {why}"),
        }
    }
    if !set.is_empty() {
        eprintln!("services: the tests get {}", set.join(", "));
    }
    env
}

/// Finds or starts PostgreSQL for the tests (see the module documentation for the order).
pub fn provision(cx: &Context) -> Result<Database> {
    interrupt::install()?;
    let settings = &cx.settings.test;
    if let Some(url) = std::env::var_os("DATABASE_URL").filter(|u| !u.is_empty()) {
        let url = url.into_string().map_err(|_| anyhow!("DATABASE_URL is not valid UTF-8"))?;
        url::check_reachable(&url)?;
        eprintln!("database: DATABASE_URL answers: {}", redact(&url));
        return Ok(Database { url, source: Source::External });
    }
    let mut tried = vec!["DATABASE_URL: not set".to_owned()];

    match compose::compose_db(cx)? {
        Ok(db) => return Ok(db),
        Err(why) => tried.push(format!("Docker: {why}")),
    }
    interrupt::check()?;

    match cluster::find_server_bin() {
        Ok(bin) => return cluster::start_cluster(cx, settings, bin),
        Err(why) => tried.push(format!("local PostgreSQL: {why}")),
    }
    bail!("{}", none_possible(&cx.settings.compose.db_service, &tried))
}

fn none_possible(service: &str, tried: &[String]) -> String {
    let mut msg = String::from(
        "the tests need PostgreSQL (`database = true` in [workspace.metadata.xtask.test], or --database) and none \
         could be found or started:\n",
    );
    for line in tried {
        msg.push_str(&format!("  - {line}\n"));
    }
    msg.push_str(&format!(
        "Provide one in any of these three ways:\n  \
         1. set DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DATABASE to a running server;\n  \
         2. start Docker, with a compose file (compose.yaml) whose `{service}` service runs PostgreSQL and \
         publishes port 5432: it is started in a project of its own and removed after the tests;\n  \
         3. install the {}: {}; a throwaway cluster is created under target/ and removed afterwards (set \
         {PG_BIN_ENV} to their folder if they are elsewhere)",
        tools::POSTGRES_SERVER.name,
        tools::POSTGRES_SERVER.install
    ));
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tests_get_the_settings_env_only_in_a_run_with_services() {
        let meta = serde_json::json!({"xtask": {"test": {"database": true, "env": {"APP_DB": "{db.url}"}}}});
        let cx = Context {
            root: "/r".into(),
            cargo: "cargo".into(),
            settings: crate::settings::Settings::from_metadata(std::path::Path::new("/r"), &meta).unwrap(),
            out: crate::output::Output::new(crate::output::ColorChoice::Never, &Default::default()),
            no_cache: false,
        };
        let url = "postgres://app@localhost:5432/app_test";
        let db = Database { url: url.into(), source: Source::External };
        let names = |env: TestEnv| env.vars().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
        let run = test_env(&cx, Wanted { database: true, services: true }, Some(&db), None);
        assert_eq!(names(run), [format!("APP_DB={url}"), format!("DATABASE_URL={url}")]);
        // A run that runs no test starts no service, and renders none of `env`.
        let none = test_env(&cx, Wanted { database: true, services: false }, Some(&db), None);
        assert_eq!(names(none), [format!("DATABASE_URL={url}")]);
    }

    #[test]
    fn none_possible_lists_the_three_ways() {
        let msg = none_possible("db", &["DATABASE_URL: not set".into()]);
        assert!(msg.contains("1. set DATABASE_URL="), "{msg}");
        assert!(msg.contains("2. start Docker"), "{msg}");
        assert!(msg.contains("3. install the PostgreSQL server binaries"), "{msg}");
        assert!(msg.contains("apt-get install postgresql"), "{msg}");
    }
}
