//! PostgreSQL for the tests, without manual set-up.
//!
//! A gate whose suite needs a database runs its tests through [`with_test_database`]: the
//! URL goes into `DATABASE_URL`, and the database is stopped on every way out (success, test
//! failure, error, Ctrl-C; dropping the [`Database`] guard stops it too). The first way that
//! works wins (one module each: `url.rs`, `compose.rs`, `cluster.rs`):
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
//! When none works, the error lists the three ways to provide one. Passwords are never
//! printed: every URL shown goes through [`redact`].

mod cluster;
mod compose;
pub mod migrate;
mod url;

use anyhow::{Result, anyhow, bail};

pub use cluster::{PG_BIN_ENV, UNPRIVILEGED_USER, search_server_bin};
pub use compose::COMPOSE_PROJECT_PREFIX;
pub use url::{Endpoint, endpoint, probe, redact};

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
}

/// The test run both test gates make (`test`, and `coverage` under cargo-llvm-cov): `run`
/// gets the database's URL (when `wanted`: found or started by [`provision`]) for the
/// tests' `DATABASE_URL`, with the migrations of the settings applied first (`migrate.rs`),
/// and runs under the interrupt guard; the database is stopped
/// afterwards on every way out, then a signal that arrived meanwhile is an error
/// ([`interrupt::Interrupted`]; the gate ends by it with `interrupt::exit_if_received`).
pub fn with_test_database<T>(cx: &Context, wanted: bool, run: impl FnOnce(Option<&str>) -> Result<T>) -> Result<T> {
    interrupt::install()?;
    let db = if wanted { Some(provision(cx)?) } else { None };
    if let Some(db) = &db {
        migrate::apply(cx, &cx.root, db, &[])?;
    }
    let result = run(db.as_ref().map(Database::url));
    let stopped = db.map(Database::stop).transpose();
    let result = result?;
    stopped?;
    interrupt::check()?;
    Ok(result)
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
    fn none_possible_lists_the_three_ways() {
        let msg = none_possible("db", &["DATABASE_URL: not set".into()]);
        assert!(msg.contains("1. set DATABASE_URL="), "{msg}");
        assert!(msg.contains("2. start Docker"), "{msg}");
        assert!(msg.contains("3. install the PostgreSQL server binaries"), "{msg}");
        assert!(msg.contains("apt-get install postgresql"), "{msg}");
    }
}
