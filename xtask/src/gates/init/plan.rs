//! From what was found to what init writes: the settings (each key with why), what it found
//! (each item at its file and line), and the notes the user should act on. Pure: a
//! [`Detected`] in, a [`Plan`] out.

use super::Evidence;
use super::compose::{ComposeFile, HostPort, Kind, Service};
use super::config::{self, EnvScheme};
use super::detect::{COMMENT_WORKFLOW, Detected, PRE_COMMIT, WORKFLOW};

/// Where the workflow init writes restores the merge base's coverage report on a pull request,
/// for the `base-report` setting (the template's path; a test holds them together).
pub const BASE_REPORT: &str = "target/coverage/base/coverage.xml";

/// One key of the settings table, its value as TOML, and why it is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub why: String,
}

/// A table under `[workspace.metadata.xtask]` (`test`, `test.env`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// What init found, one item a line, each with its evidence.
    pub found: Vec<String>,
    /// The settings, tables without entries left out.
    pub tables: Vec<Table>,
    /// What the user should know or do: a port to publish, a file init did not write.
    pub notes: Vec<String>,
}

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|i| toml_string(i)).collect::<Vec<_>>().join(", "))
}

/// A key as TOML writes it: bare when it can be.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare { key.to_owned() } else { toml_string(key) }
}

struct Builder {
    plan: Plan,
}

impl Builder {
    /// Sets a key, unless it is set already (the first evidence wins); whether it was set.
    fn set(&mut self, table: &'static str, key: &str, value: String, why: String) -> bool {
        let entry = Entry { key: toml_key(key), value, why };
        match self.plan.tables.iter_mut().find(|t| t.name == table) {
            Some(t) if t.entries.iter().any(|e| e.key == entry.key) => return false,
            Some(t) => t.entries.push(entry),
            None => self.plan.tables.push(Table { name: table, entries: vec![entry] }),
        }
        true
    }

    fn found(&mut self, line: String) {
        self.plan.found.push(line);
    }

    fn note(&mut self, line: String) {
        self.plan.notes.push(line);
    }
}

/// Words in a variable's name that say its value is a secret.
const SECRET_WORDS: [&str; 5] = ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "_KEY"];

/// The plan for what was found.
pub fn plan(d: &Detected) -> Plan {
    let mut b = Builder { plan: Plan::default() };
    members(d, &mut b);
    let compose = d.compose.as_ref();
    let path = compose.map_or("", |c| c.path.as_str());
    if let Some(c) = compose {
        compose_found(d, c, &mut b);
    }
    let Database { service: db, needed: needs_db } = database(d, compose, &mut b);
    let redis_service = redis(d, compose, &mut b);

    // The services a test run starts, beyond the database: then with it.
    if let Some(r) = redis_service {
        let services: Vec<&Service> = db.filter(|_| needs_db).into_iter().chain([r]).collect();
        let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
        let shown: Vec<String> = services.iter().map(|s| format!("`{}` ({path}:{})", s.name, s.line)).collect();
        let uses = redis_evidence(d);
        b.set(
            "test",
            "services",
            toml_list(&names),
            format!(
                "started for the tests in a throwaway compose project: {}; the app reads Redis ({})",
                shown.join(", "),
                uses.join("; ")
            ),
        );
    }
    sqlx(d, needs_db, &mut b);

    // The app's own variables for the servers the tests get. The database's placeholders are
    // named after its service (`{db.host}`; `db` when no compose service runs it).
    let db_name = db.map_or("db", |s| s.name.as_str());
    env_templates(d, needs_db.then_some(db_name), redis_service, &mut b);

    // The compose table.
    if let Some(c) = compose {
        if let Some(s) = db.filter(|s| needs_db && s.name != "db") {
            b.set(
                "compose",
                "db-service",
                toml_string(&s.name),
                format!("{}:{}: the PostgreSQL service", c.path, s.line),
            );
        }
        if let Some(overlay) = &d.overlay {
            b.set(
                "compose",
                "dev-file",
                toml_string(overlay),
                format!("compose reads {overlay} over {} by default; the tests' services get it too", c.path),
            );
        }
        let started: Vec<&Service> = db.filter(|_| needs_db).into_iter().chain(redis_service).collect();
        compose_env(d, c, &started, &mut b);
        for s in &started {
            publish_note(c, s, &mut b);
        }
    }

    // The patch gate (`coverage --diff`, the pre-push hook) compares with the default branch.
    let branch = branch(d);
    let why = match &d.default_branch {
        Some((_, how)) => format!("{how}: `cargo xtask coverage --diff` (the pre-push hook) compares with it"),
        None => {
            // Said only when the branch goes into a file init writes.
            if !d.has_settings || d.workflow_exists.is_none() || !d.pre_commit_exists {
                b.note(
                    "no default branch found (no origin, and not on main, master or trunk): init assumed `main` \
                     for the coverage `base` and the workflow's branch"
                        .into(),
                );
            }
            "assumed (no default branch found): `cargo xtask coverage --diff` (the pre-push hook) compares with it"
                .into()
        }
    };
    b.set("coverage", "base", toml_string(&format!("origin/{branch}")), why);
    // The indirect changes: the workflow init writes restores the merge base's report there.
    if d.workflow_exists.is_none() {
        let why = format!(
            "{WORKFLOW} restores there, on a pull request, the report its run on {branch} kept of the merge base: \
             `--diff` finds the lines outside the change that lost their coverage"
        );
        b.set("coverage", "base-report", toml_string(BASE_REPORT), why);
    }

    // The security gate reads the members' production code, not the xtask's.
    if !d.members.is_empty() {
        let paths: Vec<String> = d.members.iter().map(|m| m.join("src/**")).collect();
        let names: Vec<String> = d.members.iter().map(|m| m.name.clone()).collect();
        b.set(
            "security",
            "source-paths",
            toml_list(&paths),
            format!("the production code of {}: the default (**/src/**/*.rs) would read xtask/ too", names.join(", ")),
        );
        b.set(
            "security",
            "linked-by",
            toml_list(&names),
            "an unsound crate fails the gate when your packages link it (the xtask's are a warning)".into(),
        );
    }

    files_notes(d, &mut b);
    b.plan
}

/// The PostgreSQL the tests get: the compose service (`db` if there are several), and whether
/// the suite needs one at all.
struct Database<'a> {
    service: Option<&'a Service>,
    needed: bool,
}

fn database<'a>(d: &Detected, compose: Option<&'a ComposeFile>, b: &mut Builder) -> Database<'a> {
    let postgres: Vec<&Service> = compose.map(|c| by_kind(c, Kind::Postgres)).unwrap_or_default();
    let path = compose.map_or("", |c| c.path.as_str());
    let db = postgres.iter().find(|s| s.name == "db").or(postgres.first()).copied();
    let mut why = Vec::new();
    if let Some(s) = db {
        why.push(format!("{path}:{} runs PostgreSQL (`{}`)", s.line, s.name));
        for other in postgres.iter().filter(|o| o.name != s.name) {
            b.note(format!("{path}:{}: `{}` runs PostgreSQL too; the tests get `{}`", other.line, other.name, s.name));
        }
    }
    for u in &d.sqlx {
        let features = if u.features.is_empty() { "default features".to_owned() } else { u.features.join(", ") };
        b.found(format!("{}: `{}` depends on sqlx ({features})", u.at, u.package));
        if u.features.iter().any(|f| f == "postgres") {
            why.push(format!("{}: `{}` uses sqlx with postgres", u.at, u.package));
        }
    }
    if !d.database_url.is_empty() {
        // The first place in each file, at most four files.
        let mut files: Vec<&Evidence> = Vec::new();
        for at in &d.database_url {
            if !files.iter().any(|f| f.file == at.file) {
                files.push(at);
            }
        }
        let more = d.database_url.len() - files.len().min(4);
        let shown: Vec<String> = files.iter().take(4).map(ToString::to_string).collect();
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        b.found(format!("DATABASE_URL, which the app reads: {}{more}", shown.join(", ")));
    }
    let url_postgres = d.database_url_scheme.as_deref().is_some_and(|s| s.starts_with("postgres"));
    if let Some(at) = d.database_url.first().filter(|_| url_postgres && why.is_empty()) {
        why.push(format!("{at}: DATABASE_URL is a postgres:// URL"));
    }
    let needed = !why.is_empty();
    if needed {
        b.set("test", "database", "true".into(), format!("{}: the tests get a PostgreSQL", why.join("; ")));
    }
    Database { service: db, needed }
}

/// Where the workspace uses Redis: a client crate, a configuration key, an env file's URL.
fn redis_evidence(d: &Detected) -> Vec<String> {
    let clients = d.redis_clients.iter().map(|u| format!("{}: {}", u.at, u.dependency));
    let keys = (d.config_keys.iter())
        .filter(|k| config::is_redis_url(&k.path))
        .map(|k| format!("{}: {}", k.at, k.path.join(".")));
    let vars = d.url_variables.iter().filter(|v| v.scheme == "redis").map(|v| format!("{}: {}", v.at, v.name));
    clients.chain(keys).chain(vars).collect()
}

/// The compose service that runs Redis for the tests: the first, when the workspace uses Redis.
fn redis<'a>(d: &Detected, compose: Option<&'a ComposeFile>, b: &mut Builder) -> Option<&'a Service> {
    let path = compose.map_or("", |c| c.path.as_str());
    let redis: Vec<&Service> = compose.map(|c| by_kind(c, Kind::Redis)).unwrap_or_default();
    for u in &d.redis_clients {
        b.found(format!("{}: `{}` uses {} (Redis)", u.at, u.package, u.dependency));
    }
    let uses = redis_evidence(d);
    match (redis.first(), uses.is_empty()) {
        (Some(s), true) => b.note(format!(
            "{path}:{}: `{}` runs Redis, but nothing in the workspace reads a Redis URL or uses a Redis client: add it \
             to `services` in [workspace.metadata.xtask.test] if the tests need it",
            s.line, s.name
        )),
        (None, false) => {
            let what =
                if compose.is_some() { "the compose file has no Redis service" } else { "there is no compose file" };
            b.note(format!("the workspace uses Redis ({}), but {what}: the tests get none", uses.join("; ")));
        }
        _ => {}
    }
    redis.first().copied().filter(|_| !uses.is_empty())
}

/// sqlx's migrations (applied before the build) and its offline data.
fn sqlx(d: &Detected, needs_db: bool, b: &mut Builder) {
    if let Some((dir, n)) = d.migrations.first() {
        b.found(format!("{dir}/: {n} migration file(s)"));
        if !d.sqlx.is_empty() {
            let who = d.sqlx.iter().map(|u| format!("`{}`", u.package)).collect::<Vec<_>>().join(", ");
            let why = format!(
                "{dir}/ holds {n} migration file(s) of {who}'s sqlx: applied to the test database before the build"
            );
            b.set("test", "migrations", toml_string(dir), why);
        }
        for (other, _) in &d.migrations[1..] {
            b.note(format!("{other}/ holds migrations too; the test database gets {dir}/ only"));
        }
    } else if needs_db && !d.sqlx.is_empty() {
        b.note(
            "sqlx is used, but there is no migrations/ folder: set `migrations` in [workspace.metadata.xtask.test] \
             if the schema comes from elsewhere"
                .to_owned(),
        );
    }
    for (dir, tracked) in &d.sqlx_data {
        let state = if *tracked { "committed" } else { "not committed" };
        b.found(format!("{dir}/: sqlx's offline query data, {state}"));
        if dir != ".sqlx" {
            b.note(format!(
                "{dir}/ is not at the root: the lint and security gates build offline when the root has .sqlx/ \
                 (`cargo sqlx prepare --workspace` writes it there)"
            ));
        } else if !tracked {
            b.note(".sqlx/ is not committed: CI will not have it (the gates that only build use it offline)".into());
        }
    }
}

/// The branch changes merge into: the one found, else `main`.
pub fn branch(d: &Detected) -> &str {
    d.default_branch.as_ref().map_or("main", |(b, _)| b.as_str())
}

fn members(d: &Detected, b: &mut Builder) {
    let shown: Vec<String> = (d.members.iter())
        .map(|m| if m.dir.is_empty() { format!("{} (the root)", m.name) } else { format!("{} ({}/)", m.name, m.dir) })
        .collect();
    match shown.is_empty() {
        true => b.found("Cargo.toml: no workspace member besides the xtask's".into()),
        false => b.found(format!("Cargo.toml: members {}", shown.join(", "))),
    }
}

fn by_kind(c: &ComposeFile, kind: Kind) -> Vec<&Service> {
    c.services.iter().filter(|s| s.kind == kind).collect()
}

fn compose_found(d: &Detected, c: &ComposeFile, b: &mut Builder) {
    let names: Vec<String> = (c.services.iter())
        .map(|s| match s.kind {
            Kind::Other => format!("`{}`", s.name),
            kind => format!("`{}` ({})", s.name, kind.label()),
        })
        .collect();
    let overlay = d.overlay.as_ref().map(|o| format!(" (with {o} over it)")).unwrap_or_default();
    b.found(format!("{}: compose file{overlay}, services {}", c.path, names.join(", ")));
    for s in c.services.iter().filter(|s| s.kind != Kind::Other) {
        let image = s.image.as_deref().unwrap_or("?");
        let port = match s.container_port() {
            Some(p) => format!("port {p}, {}", publishing(s, p)),
            None => "no port".into(),
        };
        b.found(format!("{}:{}: `{}` runs {} ({image}), {port}", c.path, s.line, s.name, s.kind.label()));
    }
    for other in &d.other_compose {
        b.note(format!(
            "{other} is there too: the gates read {} (set `file` in [workspace.metadata.xtask.compose] \
                        for another)",
            c.path
        ));
    }
}

/// How a service publishes a container port, in words.
fn publishing(s: &Service, port: u16) -> String {
    let Some(p) = s.publishing(port) else { return "not published".into() };
    let on = if p.loopback() { "127.0.0.1" } else { "every interface" };
    match &p.host_port {
        HostPort::Ephemeral => format!("published on {on}, a free host port"),
        HostPort::Fixed(n) => format!("published on {on}, host port {n}"),
        HostPort::Variable { name, .. } => format!("published on {on}, host port ${{{name}}}"),
    }
}

/// What to add when a service the tests start is not published on a free loopback port (the
/// test run connects to the port Docker published).
fn publish_note(c: &ComposeFile, s: &Service, b: &mut Builder) {
    let Some(port) = s.container_port() else { return };
    let fix = format!("\"127.0.0.1::{port}\"");
    match s.publishing(port) {
        None => b.note(format!(
            "{}:{}: `{}` does not publish port {port}, and a test run connects to it there: add `ports: [{fix}]` \
             (loopback, a free host port) to it, in {} or in {}, which compose reads over it",
            c.path,
            s.line,
            s.name,
            c.path,
            overlay_name(c)
        )),
        Some(p) => match &p.host_port {
            HostPort::Fixed(n) => b.note(format!(
                "{}:{}: `{}` publishes {port} on host port {n}: a test run while your stack runs (or two at once) \
                 finds it taken; {fix} lets Docker pick a free one",
                c.path, p.line, s.name
            )),
            _ if !p.loopback() => b.note(format!(
                "{}:{}: `{}` publishes {port} on every interface: {fix} keeps it on this machine",
                c.path, p.line, s.name
            )),
            _ => {}
        },
    }
}

/// The overlay compose reads beside the file, named as the file is.
fn overlay_name(c: &ComposeFile) -> &'static str {
    if c.path.starts_with("docker-compose") { "docker-compose.override.yml" } else { "compose.override.yaml" }
}

/// `[workspace.metadata.xtask.compose.env]`: the values a test run's compose project needs (it
/// reads no `.env`): a free port for a published port's variable, a fresh secret for a
/// password, an env template's value for the rest; else a note.
fn compose_env(d: &Detected, c: &ComposeFile, started: &[&Service], b: &mut Builder) {
    let mut seen: Vec<&str> = Vec::new();
    let wanted = started
        .iter()
        .flat_map(|s| s.variables.iter().map(move |v| (v, s.port_variables.contains(&v.name))))
        .filter(|(v, port)| v.default.is_none() || *port)
        .chain(c.required.iter().map(|v| (v, false)));
    for (v, port) in wanted {
        if seen.contains(&v.name.as_str()) {
            continue;
        }
        seen.push(&v.name);
        let at = format!("{}:{}", c.path, v.line);
        let upper = v.name.to_ascii_uppercase();
        if port {
            b.set("compose.env", &v.name, toml_string("{port}"), format!("{at}: a published host port: a free one"));
        } else if SECRET_WORDS.iter().any(|w| upper.contains(w)) {
            b.set(
                "compose.env",
                &v.name,
                toml_string("{secret}"),
                format!("{at}: a secret, and a test run's compose project reads no .env: a fresh one each run"),
            );
        } else if let Some(t) = d.template_values.iter().find(|t| t.name == v.name && !t.value.is_empty()) {
            b.set(
                "compose.env",
                &v.name,
                toml_string(&t.value),
                format!("{at}: no default, and a test run's compose project reads no .env: {}'s value", t.at),
            );
        } else {
            let needs = if v.required { "compose requires it" } else { "without it compose uses an empty string" };
            b.note(format!(
                "{at}: ${{{}}} has no default, and a test run's compose project reads no .env ({needs}): give it a \
                 value in [workspace.metadata.xtask.compose] env",
                v.name
            ));
        }
    }
}

/// `[workspace.metadata.xtask.test.env]`: the variables the app reads, filled in with the
/// servers the test run gives it.
fn env_templates(d: &Detected, db: Option<&str>, redis: Option<&Service>, b: &mut Builder) {
    let redis_url = redis.map(|s| format!("redis://{{{0}.host}}:{{{0}.port}}", s.name));
    if let Some(scheme) = &d.env_scheme {
        b.found(format!("{}: the config crate reads the environment: {}", scheme.at, describe(scheme)));
    }
    for at in &d.other_schemes {
        b.note(format!("{at}: another environment source with a prefix; init read the first only"));
    }
    let mut unmapped = Vec::new();
    for key in &d.config_keys {
        let value = match key.path.as_slice() {
            [table, k] if config::is_database_table(table) => {
                db.zip(config::database_field(k)).map(|(db, field)| format!("{{{db}.{field}}}"))
            }
            [k] if k.eq_ignore_ascii_case("database_url") => db.map(|db| format!("{{{db}.url}}")),
            path if config::is_redis_url(path) => redis_url.clone(),
            [table, k] if table.eq_ignore_ascii_case("redis") && matches!(k.as_str(), "host" | "port") => {
                redis.map(|s| format!("{{{}.{k}}}", s.name))
            }
            _ => None,
        };
        let Some(value) = value else { continue };
        let variable = d.env_scheme.as_ref().and_then(|s| s.variable(&key.path));
        let Some(variable) = variable else {
            unmapped.push(format!("{} ({})", key.path.join("."), key.at));
            continue;
        };
        let scheme_at = d.env_scheme.as_ref().map(|s| s.at.to_string()).unwrap_or_default();
        let why = format!("{}: {}, set from the environment as {variable} ({scheme_at})", key.at, key.path.join("."));
        if b.set("test.env", &variable, toml_string(&value), why) {
            b.found(format!("{}: {} → {variable}", key.at, key.path.join(".")));
        }
    }
    if !unmapped.is_empty() {
        let why = match &d.env_scheme {
            None => "no `config::Environment` source with a prefix was found".to_owned(),
            Some(s) => format!("{} has no `.separator(…)` for nested keys", s.at),
        };
        b.note(format!(
            "the configuration has {}, but {why}: map them in [workspace.metadata.xtask.test] env by hand",
            unmapped.join(", ")
        ));
    }
    for v in &d.url_variables {
        let value = match v.scheme {
            "postgres" => match db {
                Some(db) => format!("{{{db}.url}}"),
                None => continue,
            },
            "redis" => match &redis_url {
                Some(url) => url.clone(),
                None => continue,
            },
            _ => continue,
        };
        let what = format!("{}: {}, a {}:// URL", v.at, v.name, v.scheme);
        if b.set("test.env", &v.name, toml_string(&value), what.clone()) {
            b.found(what);
        }
    }
}

fn describe(s: &EnvScheme) -> String {
    let nested = match &s.separator {
        Some(sep) => format!("nested keys joined by `{sep}`"),
        None => "no separator for nested keys".to_owned(),
    };
    format!("prefix `{}`, then `{}`, {nested}", s.prefix, s.prefix_separator)
}

fn files_notes(d: &Detected, b: &mut Builder) {
    if !d.other_workflows.is_empty() {
        b.note(format!(
            ".github/workflows has other workflows ({}): check that they do not run the gates a second time",
            d.other_workflows.join(", ")
        ));
    }
    if !d.pre_commit_exists {
        b.note(format!(
            "{PRE_COMMIT}: install the hooks once per clone: `pre-commit install --hook-type pre-commit --hook-type \
             pre-push`"
        ));
    }
    if d.workflow_exists.is_none() {
        b.note(format!(
            "{WORKFLOW} runs lint → test → coverage → security; the smoke gate (the app's image and its stack) needs \
             the compose settings of [workspace.metadata.xtask.compose] (app-service, app-port, live-path, \
             ready-path): add its job when they are set"
        ));
        if d.has_settings && d.base_report.is_none() {
            b.note(format!(
                "{WORKFLOW} restores the merge base's coverage report to {BASE_REPORT} on a pull request: add \
                 `base-report = \"{BASE_REPORT}\"` to [workspace.metadata.xtask.coverage] so that `--diff` compares \
                 with it (the indirect changes)"
            ));
        }
    }
    // The comment workflow runs on `workflow_run`, which zizmor reports: the suppressions file
    // accepts it, with the reason (init writes the file when there is none).
    if let (None, (file, Some(text))) = (&d.comment_workflow_exists, &d.suppressions)
        && !text.contains(COMMENT_WORKFLOW)
    {
        b.note(format!(
            "{file} has no entry for {COMMENT_WORKFLOW}: the security gate fails on zizmor's dangerous-triggers \
             finding there (its `workflow_run` trigger) until one accepts it; xtask/templates/security.toml has the \
             entry, with its reason"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::init::compose::ComposeFile;
    use crate::gates::init::config::{ConfigKey, EnvScheme};
    use crate::gates::init::detect::{Member, Uses};

    /// The workspace of issue 22: compose with PostgreSQL and Redis, `app` on sqlx (postgres)
    /// with migrations and `.sqlx/`, the config crate's `APP_` scheme.
    fn issue() -> Detected {
        let compose = "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: \
                       ${POSTGRES_PASSWORD}\n      POSTGRES_USER: ${POSTGRES_USER}\n    ports:\n      - \
                       \"127.0.0.1:${DB_PORT:-5432}:5432\"\n  redis:\n    image: redis:7\n  app:\n    build: .\n";
        let key = |path: &[&str], line| ConfigKey {
            path: path.iter().map(|p| (*p).to_owned()).collect(),
            at: Evidence::at("configuration/base.yaml", line),
        };
        let uses = |dep: &str, features: &[&str], line| Uses {
            package: "app".into(),
            dependency: dep.into(),
            features: features.iter().map(|f| (*f).to_owned()).collect(),
            at: Evidence::at("app/Cargo.toml", line),
        };
        Detected {
            members: vec![Member { name: "app".into(), dir: "app".into() }],
            compose: Some(ComposeFile::parse("compose.yaml", compose).unwrap()),
            sqlx: vec![uses("sqlx", &["postgres", "macros"], 9)],
            redis_clients: vec![uses("actix-session", &["redis-session"], 10)],
            config_crate: vec![uses("config", &[], 8)],
            migrations: vec![("app/migrations".into(), 3)],
            sqlx_data: vec![(".sqlx".into(), true)],
            default_branch: Some(("main".into(), "git: origin/HEAD is origin/main".into())),
            template_values: vec![super::super::detect::TemplateValue {
                name: "POSTGRES_USER".into(),
                value: "app".into(),
                at: Evidence::at(".env.example", 2),
            }],
            env_scheme: EnvScheme::find(
                "app/src/configuration.rs",
                "\n\nEnvironment::with_prefix(\"APP\").prefix_separator(\"_\").separator(\"__\")",
            ),
            config_keys: vec![
                key(&["application", "port"], 2),
                key(&["database", "host"], 4),
                key(&["database", "port"], 5),
                key(&["database", "username"], 6),
                key(&["database", "password"], 7),
                key(&["database", "database_name"], 8),
                key(&["database", "require_ssl"], 9),
                key(&["redis_uri"], 10),
                // Another file of the same configuration: the first evidence is kept.
                ConfigKey {
                    path: vec!["database".into(), "host".into()],
                    at: Evidence::at("configuration/local.yaml", 3),
                },
            ],
            ..Detected::default()
        }
    }

    fn table<'a>(plan: &'a Plan, name: &str) -> Vec<(&'a str, &'a str)> {
        let t = plan.tables.iter().find(|t| t.name == name);
        t.map(|t| t.entries.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect()).unwrap_or_default()
    }

    #[test]
    fn the_issue_s_workspace() {
        let plan = plan(&issue());
        assert_eq!(
            table(&plan, "test"),
            [("database", "true"), ("services", "[\"db\", \"redis\"]"), ("migrations", "\"app/migrations\"")]
        );
        assert_eq!(
            table(&plan, "test.env"),
            [
                ("APP_DATABASE__HOST", "\"{db.host}\""),
                ("APP_DATABASE__PORT", "\"{db.port}\""),
                ("APP_DATABASE__USERNAME", "\"{db.user}\""),
                ("APP_DATABASE__PASSWORD", "\"{db.password}\""),
                ("APP_DATABASE__DATABASE_NAME", "\"{db.name}\""),
                ("APP_REDIS_URI", "\"redis://{redis.host}:{redis.port}\""),
            ]
        );
        assert_eq!(
            table(&plan, "compose.env"),
            [("POSTGRES_PASSWORD", "\"{secret}\""), ("POSTGRES_USER", "\"app\""), ("DB_PORT", "\"{port}\"")]
        );
        assert_eq!(table(&plan, "security"), [("source-paths", "[\"app/src/**\"]"), ("linked-by", "[\"app\"]")]);
        assert!(table(&plan, "compose").is_empty(), "`db` is the default db-service; no overlay");
        // Each entry says why, with its evidence.
        let why = |t: &str, k: &str| {
            let t = plan.tables.iter().find(|x| x.name == t).unwrap();
            t.entries.iter().find(|e| e.key == k).unwrap().why.clone()
        };
        assert!(why("test", "database").contains("compose.yaml:2 runs PostgreSQL (`db`)"), "{plan:#?}");
        assert!(why("test", "database").contains("app/Cargo.toml:9"), "{plan:#?}");
        assert!(why("test.env", "APP_DATABASE__PORT").starts_with("configuration/base.yaml:5: database.port"));
        assert!(why("test.env", "APP_DATABASE__PORT").contains("app/src/configuration.rs:3"));
        assert!(why("compose.env", "POSTGRES_USER").contains(".env.example:2"));
        // Redis is not published: the note says what to add.
        let notes = plan.notes.join("\n");
        assert!(notes.contains("compose.yaml:9: `redis` does not publish port 6379"), "{notes}");
        assert!(notes.contains("add `ports: [\"127.0.0.1::6379\"]`"), "{notes}");
        assert!(!notes.contains("`db` does not publish"), "{notes}");
        let found = plan.found.join("\n");
        assert!(found.contains("compose.yaml:2: `db` runs PostgreSQL (postgres:16), port 5432, published on 127.0.0.1, host port ${DB_PORT}"), "{found}");
        assert!(found.contains("configuration/base.yaml:4: database.host → APP_DATABASE__HOST"), "{found}");
        assert!(found.contains(".sqlx/: sqlx's offline query data, committed"), "{found}");
        assert!(!found.contains("local.yaml"), "one line a variable: {found}");
    }

    #[test]
    fn conservative_without_evidence() {
        // Redis in compose but nothing reads it; PostgreSQL named `postgres`; no config scheme.
        let mut d = issue();
        d.redis_clients.clear();
        d.config_keys.retain(|k| k.path[0] != "redis_uri");
        d.env_scheme = None;
        d.compose = Some(
            ComposeFile::parse(
                "docker-compose.yml",
                "services:\n  postgres:\n    image: postgres:16\n    ports: [\"5432:5432\"]\n  cache:\n    image: \
                 valkey/valkey:8\n",
            )
            .unwrap(),
        );
        let plan = plan(&d);
        assert_eq!(table(&plan, "test"), [("database", "true"), ("migrations", "\"app/migrations\"")]);
        assert!(table(&plan, "test.env").is_empty());
        assert_eq!(table(&plan, "compose"), [("db-service", "\"postgres\"")]);
        // The database's placeholders are named after its service, as the test settings read them.
        let named = Detected { env_scheme: issue().env_scheme, ..d.clone() };
        let env =
            table(&super::plan(&named), "test.env").into_iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>();
        assert_eq!(env[..2], ["APP_DATABASE__HOST = \"{postgres.host}\"", "APP_DATABASE__PORT = \"{postgres.port}\""]);
        let notes = plan.notes.join("\n");
        assert!(notes.contains("docker-compose.yml:5: `cache` runs Redis, but nothing in the workspace"), "{notes}");
        assert!(notes.contains("publishes 5432 on host port 5432"), "{notes}");
        assert!(notes.contains("no `config::Environment` source with a prefix"), "{notes}");

        // DATABASE_URL alone: PostgreSQL when its URL says so.
        let url = Detected {
            database_url: vec![
                Evidence::at(".env.example", 3),
                Evidence::at("src/db.rs", 9),
                Evidence::at("src/db.rs", 12),
            ],
            database_url_scheme: Some("postgresql".into()),
            ..Detected::default()
        };
        let plan = super::plan(&url);
        assert_eq!(table(&plan, "test"), [("database", "true")]);
        let why = &plan.tables[0].entries[0].why;
        assert!(why.starts_with(".env.example:3: DATABASE_URL is a postgres:// URL"), "{why}");
        assert!(
            plan.found.contains(&"DATABASE_URL, which the app reads: .env.example:3, src/db.rs:9 and 1 more".into())
        );
        let sqlite = Detected { database_url_scheme: Some("sqlite".into()), ..url };
        assert!(table(&super::plan(&sqlite), "test").is_empty(), "not a PostgreSQL");

        // Nothing found: only the members' code.
        let bare = Detected { members: vec![Member { name: "svc".into(), dir: String::new() }], ..Detected::default() };
        let plan = super::plan(&bare);
        assert_eq!(plan.tables.iter().map(|t| t.name).collect::<Vec<_>>(), ["coverage", "security"]);
        assert_eq!(
            table(&plan, "coverage"),
            [("base", "\"origin/main\""), ("base-report", "\"target/coverage/base/coverage.xml\"")]
        );
        assert!(plan.notes.join("\n").contains("init assumed `main`"), "{plan:#?}");
        assert_eq!(table(&plan, "security")[0], ("source-paths", "[\"src/**\"]"));
    }

    /// `base-report` comes with the workflow that restores the report there; the comment's
    /// workflow needs its trigger accepted in the suppressions file init does not write.
    #[test]
    fn the_workflows_settings_and_suppression_are_said_when_init_cannot_write_them() {
        let why = |plan: &Plan| {
            let t = plan.tables.iter().find(|t| t.name == "coverage").unwrap();
            t.entries.iter().find(|e| e.key == "base-report").map(|e| e.why.clone())
        };
        let plan = plan(&issue());
        let reason = why(&plan).expect("init writes the workflow");
        assert!(reason.starts_with(".github/workflows/ci.yml restores there, on a pull request"), "{reason}");
        assert!(!plan.notes.join("\n").contains("base-report"), "the setting is written: {plan:#?}");
        let theirs = Detected { workflow_exists: Some(WORKFLOW.into()), ..issue() };
        assert_eq!(why(&super::plan(&theirs)), None, "their workflow restores nothing there");

        // Settings of their own: a note, unless they set it.
        let settings = Detected { has_settings: true, ..issue() };
        let notes = super::plan(&settings).notes.join("\n");
        assert!(
            notes.contains(
                "add `base-report = \"target/coverage/base/coverage.xml\"` to [workspace.metadata.xtask.coverage]"
            ),
            "{notes}"
        );
        let set = Detected { base_report: Some("ci/base.xml".into()), ..settings };
        assert!(!super::plan(&set).notes.join("\n").contains("base-report"));

        // A suppressions file init leaves alone: a note when it lacks the comment workflow's entry.
        let lacking = Detected { suppressions: ("audit.toml".into(), Some("# none\n".into())), ..issue() };
        let notes = super::plan(&lacking).notes.join("\n");
        assert!(
            notes.contains(
                "audit.toml has no entry for .github/workflows/coverage-comment.yml: the security gate fails"
            ),
            "{notes}"
        );
        let accepts = "[[suppress]]\npath = \".github/workflows/coverage-comment.yml\"\n";
        let has = Detected { suppressions: ("audit.toml".into(), Some(accepts.into())), ..issue() };
        assert!(!super::plan(&has).notes.join("\n").contains("audit.toml"));
        let kept = Detected { comment_workflow_exists: Some(COMMENT_WORKFLOW.into()), ..lacking };
        assert!(!super::plan(&kept).notes.join("\n").contains("audit.toml"), "their own workflow: theirs to accept");
        assert!(!plan.notes.join("\n").contains("has no entry"), "no file yet: init writes it");
    }

    #[test]
    fn toml_values() {
        assert_eq!(toml_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(toml_key("APP_X"), "APP_X");
        assert_eq!(toml_key("a.b"), "\"a.b\"");
        assert_eq!(toml_list(&["x".into(), "y".into()]), "[\"x\", \"y\"]");
    }
}
