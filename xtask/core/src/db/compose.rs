//! The second way: the compose `db` service, in a throwaway project of its own.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::url::{percent_encode, redact, wait_ready};
use super::{Database, Source};
use crate::{Context, docker, interrupt, process};

/// How long a just-started server has to answer.
pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The prefix of the test database's compose projects (`docker::throwaway_project`).
pub const COMPOSE_PROJECT_PREFIX: &str = "xtask-test";

/// `Ok(Ok(db))` when the compose service was started; `Ok(Err(why))` when this way does not
/// apply (no Docker engine, no compose file, no such service) or failed (an image that cannot
/// be pulled, a port that is taken): the next way is tried. `Err` only on Ctrl-C.
///
/// The service runs in a compose project of its own, with the variables of
/// `[workspace.metadata.xtask.compose] env` and no `.env`, so it never touches a developer's
/// running stack or their database, and needs no set-up.
pub(super) fn compose_db(cx: &Context) -> Result<Result<Database, String>> {
    let settings = &cx.settings.compose;
    let docker = match docker::docker() {
        Ok(d) => d,
        Err(why) => return Ok(Err(why)),
    };
    let file = match docker::file(&cx.root, settings.file.as_deref()) {
        Ok(f) => f,
        Err(why) => return Ok(Err(format!("a Docker engine answers, but {why}"))),
    };
    let Some(mut compose) = docker::Compose::find(&docker, &file) else {
        return Ok(Err(format!("a Docker engine answers, but Docker Compose is missing: {}", docker::COMPOSE_INSTALL)));
    };
    // The development overlay publishes the database's port, which the tests connect to.
    if let Some(dev) = &settings.dev_file {
        compose = match compose.with_overlay(dev) {
            Ok(c) => c,
            Err(why) => return Ok(Err(format!("a Docker engine answers, but {why}"))),
        };
    }
    let env = docker::render_env(&settings.env, &cx.settings.smoke.image)?;
    let service = settings.db_service.clone();
    // From here on the guard removes the project on every way out.
    let mut db = docker::ThrowawayProject::new(&docker, &compose, COMPOSE_PROJECT_PREFIX, env, "database", false);
    let project = db.project().to_owned();
    match start_compose_db(&db.compose, &service) {
        Ok(url) => {
            eprintln!("database: compose `{service}` service, project {project}: {}", redact(&url));
            Ok(Ok(Database { url, source: Source::Compose(db) }))
        }
        Err(e) if e.is::<interrupt::Interrupted>() => Err(e),
        Err(e) => {
            let why = format!("the compose `{service}` service did not start: {e:#}");
            eprintln!("database: {why}");
            if let Err(cleanup) = db.remove() {
                eprintln!("warning: {cleanup:#}");
            }
            eprintln!("database: trying the next way");
            Ok(Err(why))
        }
    }
}

/// Starts the service, waits until PostgreSQL answers on its published port, and gives the
/// URL (with the password of the service's environment).
fn start_compose_db(compose: &docker::Compose, service: &str) -> Result<String> {
    let config = compose.config()?;
    if config["services"].get(service).is_none() {
        bail!("{} has no `{service}` service", compose.file.display());
    }
    let up = format!("up -d --wait {service}");
    eprintln!("database: $ {}", compose.shown(&up));
    // Captured, and shown only when it fails; a Ctrl-C during a long image pull reaches it.
    let out = interrupt::output(compose.command().args(["up", "-d", "--wait", service]))?;
    interrupt::check()?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}):\n{}",
            compose.shown(&up),
            out.status,
            crate::process::last_lines(&process::text(&out), 10)
        );
    }
    let addr = compose.published(service, 5432).with_context(|| {
        format!(
            "add `ports: [\"127.0.0.1::5432\"]` (or a host port from the environment) to the `{service}` service in {}",
            compose.file.display()
        )
    })?;
    let env = service_env(&config, service);
    let user = env.get("POSTGRES_USER").cloned().unwrap_or_else(|| "postgres".into());
    let db = env.get("POSTGRES_DB").cloned().unwrap_or_else(|| user.clone());
    let password = env.get("POSTGRES_PASSWORD").map(|p| format!(":{}", percent_encode(p))).unwrap_or_default();
    let host = match addr.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let url = format!("postgres://{}{password}@{host}:{}/{}", percent_encode(&user), addr.port(), percent_encode(&db));
    wait_ready(&url, READY_TIMEOUT)?;
    Ok(url)
}

/// The `environment` of one service in `docker compose config --format json` (a map, or a
/// list of `KEY=VALUE`).
fn service_env(config: &serde_json::Value, service: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    match &config["services"][service]["environment"] {
        serde_json::Value::Object(o) => {
            for (k, v) in o {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                map.insert(k.clone(), v);
            }
        }
        serde_json::Value::Array(a) => {
            for item in a.iter().filter_map(|i| i.as_str()) {
                if let Some((k, v)) = item.split_once('=') {
                    map.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        _ => {}
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_environment_as_map_or_list() {
        let map =
            serde_json::json!({"services":{"db":{"environment":{"POSTGRES_USER":"app","POSTGRES_PASSWORD":"x y"}}}});
        let env = service_env(&map, "db");
        assert_eq!(env["POSTGRES_USER"], "app");
        assert_eq!(env["POSTGRES_PASSWORD"], "x y");
        let list = serde_json::json!({"services":{"db":{"environment":["POSTGRES_DB=shop","EMPTY="]}}});
        assert_eq!(service_env(&list, "db")["POSTGRES_DB"], "shop");
        assert!(service_env(&serde_json::json!({"services":{}}), "db").is_empty());
        assert_eq!(percent_encode("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
    }
}
