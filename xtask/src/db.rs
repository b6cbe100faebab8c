//! PostgreSQL for the tests, without manual set-up.
//!
//! A gate whose suite needs a database calls [`provision`], runs the tests with
//! `DATABASE_URL` set to [`Database::url`], then calls [`Database::stop`] (dropping the guard
//! stops it too, on every path out: success, test failure, error, Ctrl-C). The first way
//! that works wins:
//!
//! 1. `DATABASE_URL` is set: it is used when a server answers there (`pg_isready`, else a
//!    TCP connect), and is an error when none does. It is never replaced silently.
//! 2. A Docker engine answers and the workspace has a compose file with the `db` service:
//!    `docker compose up -d --wait db` in a compose project of its own (`xtask-test-…`,
//!    with the variables of `[workspace.metadata.xtask.compose] env`, no `.env`), removed
//!    with its volume afterwards. When it fails (no image, a port taken) the reason is kept
//!    and the next way is tried.
//! 3. The PostgreSQL server binaries are installed: a throwaway cluster in
//!    `target/xtask-pg/<pid>` on a free loopback port, trust authentication, run as
//!    `nobody` when the xtask runs as root (PostgreSQL refuses to run as root), removed
//!    afterwards.
//!
//! When none works, the error lists the three ways to provide one. Passwords are never
//! printed: every URL shown goes through [`redact`].

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Write as _;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::process::{alive, checked, is_executable, text, which};
use crate::settings::TestSettings;
use crate::{Context, docker, interrupt, process, tools};

/// Overrides where the PostgreSQL server binaries are looked for (a folder with `initdb`,
/// `pg_ctl` and `postgres`): for a machine with several versions installed.
pub const PG_BIN_ENV: &str = "XTASK_PG_BIN";
/// The unprivileged account a throwaway cluster runs as when the xtask runs as root.
pub const UNPRIVILEGED_USER: &str = "nobody";
/// Where Debian and Ubuntu install the server binaries (not on `PATH`): `<dir>/<major>/bin`.
const DEBIAN_PG_LIB: &str = "/usr/lib/postgresql";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

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
/// tests' `DATABASE_URL`, and runs under the interrupt guard; the database is stopped
/// afterwards on every way out, then a signal that arrived meanwhile is an error
/// ([`interrupt::Interrupted`]; the gate ends by it with `interrupt::exit_if_received`).
pub fn with_test_database<T>(cx: &Context, wanted: bool, run: impl FnOnce(Option<&str>) -> Result<T>) -> Result<T> {
    interrupt::install()?;
    let db = if wanted { Some(provision(cx)?) } else { None };
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
        check_reachable(&url)?;
        eprintln!("database: DATABASE_URL answers: {}", redact(&url));
        return Ok(Database { url, source: Source::External });
    }
    let mut tried = vec!["DATABASE_URL: not set".to_owned()];

    match compose_db(cx)? {
        Ok(db) => return Ok(db),
        Err(why) => tried.push(format!("Docker: {why}")),
    }
    interrupt::check()?;

    match find_server_bin() {
        Ok(bin) => return start_cluster(cx, settings, bin),
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
         3. install the PostgreSQL server binaries (initdb, pg_ctl, postgres): `sudo apt-get install {}` on \
         Debian/Ubuntu, `brew install postgresql` on macOS; a throwaway cluster is created under target/ and \
         removed afterwards (set {PG_BIN_ENV} to their folder if they are elsewhere)",
        tools::POSTGRES_DEBIAN_PACKAGE
    ));
    msg
}

// ---------------------------------------------------------------------------------------
// URLs

/// The URL with any password replaced by `***` (user info and `password=` parameters).
pub fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let start = scheme_end + 3;
        // The user info ends at the last `@` before the query: a password with an unencoded
        // `/` or `@` is still hidden whole.
        let end = out[start..].find(['?', '#']).map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@') {
            let userinfo = &out[start..start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(start + colon + 1..start + at, "***");
            }
        }
    }
    // `password=` in the query string (URL) or as a keyword (conninfo string).
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.to_ascii_lowercase().find("password=") {
        let value_start = i + "password=".len();
        result.push_str(&rest[..value_start]);
        result.push_str("***");
        let value_len = rest[value_start..].find(['&', ' ', '#']).unwrap_or(rest.len() - value_start);
        rest = &rest[value_start + value_len..];
    }
    result.push_str(rest);
    result
}

/// Where a URL points: the first host (a name, an IP or a socket folder) and the port.
#[derive(Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// Parses `postgres[ql]://[user[:password]@][host][:port][/db][?host=…&port=…]`.
pub fn endpoint(url: &str) -> Result<Endpoint> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| anyhow!("it is not a postgres:// or postgresql:// URL"))?;
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    // As in `redact`: the user info ends at the last `@`.
    let after_userinfo = before_query.rsplit_once('@').map_or(before_query, |(_, h)| h);
    let hostlist = after_userinfo.split('/').next().unwrap_or("");
    let first = hostlist.split(',').next().unwrap_or("");
    let (mut host, mut port) = if let Some(v6) = first.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| anyhow!("unclosed `[` in the host"))?;
        (h.to_owned(), after.strip_prefix(':').unwrap_or("").to_owned())
    } else {
        match first.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.to_owned()),
            None => (first.to_owned(), String::new()),
        }
    };
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("host", v)) => host = v.split(',').next().unwrap_or("").to_owned(),
            Some(("port", v)) => port = v.split(',').next().unwrap_or("").to_owned(),
            _ => {}
        }
    }
    let host = percent_decode(&host);
    let port = if port.is_empty() { 5432 } else { port.parse().map_err(|_| anyhow!("the port is not a number"))? };
    Ok(Endpoint { host: if host.is_empty() { "localhost".into() } else { host }, port })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a URL user-info part (user name or password).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether a server accepts connections at `url`, as a one-line reason when not.
pub fn probe(url: &str, timeout: Duration) -> Result<(), String> {
    if let Some(pg_isready) = which("pg_isready") {
        let secs = timeout.as_secs().max(1).to_string();
        let out = Command::new(pg_isready)
            .args(["-q", "-t", &secs, "-d", url])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        return match out.map(|s| s.code()) {
            Ok(Some(0)) => Ok(()),
            Ok(Some(1)) => Err("the server rejects connections (it is starting up or shutting down)".into()),
            Ok(Some(2)) => Err("no server answers (pg_isready)".into()),
            Ok(Some(3)) => Err("pg_isready rejects the connection parameters".into()),
            Ok(_) => Err("pg_isready was killed".into()),
            Err(e) => Err(format!("cannot run pg_isready: {e}")),
        };
    }
    let ep = endpoint(url).map_err(|e| e.to_string())?;
    if ep.host.starts_with('/') {
        let socket = Path::new(&ep.host).join(format!(".s.PGSQL.{}", ep.port));
        return std::os::unix::net::UnixStream::connect(&socket)
            .map(drop)
            .map_err(|e| format!("cannot connect to {}: {e}", socket.display()));
    }
    let addrs: Vec<_> = (ep.host.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", ep.host))?
        .collect();
    let mut last = format!("{} has no address", ep.host);
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

fn check_reachable(url: &str) -> Result<()> {
    let shown = redact(url);
    endpoint(url).with_context(|| format!("DATABASE_URL ({shown}) is not usable"))?;
    if let Err(why) = probe(url, Duration::from_secs(3)) {
        bail!(
            "DATABASE_URL is set but no PostgreSQL answers there: {shown}: {why}\n\
             Start that server, or unset DATABASE_URL to let `cargo xtask test` start a throwaway one."
        );
    }
    Ok(())
}

/// Polls until a server answers at `url` (a server that was just started), up to `timeout`.
fn wait_ready(url: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        interrupt::check()?;
        match probe(url, Duration::from_secs(1)) {
            Ok(()) => return Ok(()),
            Err(why) if Instant::now() >= deadline => {
                bail!("no PostgreSQL answers at {} after {} s: {why}", redact(url), timeout.as_secs())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Docker compose

/// The prefix of the test database's compose projects (`docker::throwaway_project`).
pub const COMPOSE_PROJECT_PREFIX: &str = "xtask-test";

/// `Ok(Ok(db))` when the compose service was started; `Ok(Err(why))` when this way does not
/// apply (no Docker engine, no compose file, no such service) or failed (an image that cannot
/// be pulled, a port that is taken): the next way is tried. `Err` only on Ctrl-C.
///
/// The service runs in a compose project of its own, with the variables of
/// `[workspace.metadata.xtask.compose] env` and no `.env`, so it never touches a developer's
/// running stack or their database, and needs no set-up.
fn compose_db(cx: &Context) -> Result<Result<Database, String>> {
    let settings = &cx.settings.compose;
    let docker = match docker::docker() {
        Ok(d) => d,
        Err(why) => return Ok(Err(why)),
    };
    let file = match docker::file(&cx.root, settings.file.as_deref()) {
        Ok(f) => f,
        Err(why) => return Ok(Err(format!("a Docker engine answers, but {why}"))),
    };
    let Some(compose) = docker::Compose::find(&docker, &file) else {
        return Ok(Err(format!("a Docker engine answers, but Docker Compose is missing: {}", docker::COMPOSE_INSTALL)));
    };
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
            crate::lint::last_lines(&process::text(&out), 10)
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

// ---------------------------------------------------------------------------------------
// A throwaway cluster from the local server binaries

/// The account a cluster runs as when we are root, and how to switch to it.
#[derive(Clone, Debug)]
struct RunAs {
    uid: u32,
    gid: u32,
    /// `setpriv …` or `runuser …`, up to the program to run.
    prefix: Vec<OsString>,
}

struct Cluster {
    dir: PathBuf,
    /// `dir` for messages: relative to the current folder when inside it.
    shown: String,
    bin: PathBuf,
    run_as: Option<RunAs>,
    /// `pg_ctl start` was called: stop it on the way out.
    started: bool,
    done: bool,
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A server program, run as the cluster's owner, in its own process group (a Ctrl-C in
    /// the terminal does not cut a step in half; we stop the cluster ourselves), from the
    /// cluster's folder, without the caller's PG* variables.
    fn admin(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        let mut c = match &self.run_as {
            Some(r) => {
                let mut c = Command::new(&r.prefix[0]);
                c.args(&r.prefix[1..]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        c.current_dir(&self.dir).process_group(0).stdin(Stdio::null()).env("LC_ALL", "C");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                c.env_remove(key);
            }
        }
        c
    }

    fn stop(&mut self) -> Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        let mut problem = None;
        if self.started && self.data().join("postmaster.pid").exists() {
            let data = self.data();
            let postmaster = postmaster_pid(&data);
            let fast =
                self.admin("pg_ctl").arg("stop").arg("-D").arg(&data).args(["-m", "fast", "-w", "-t", "20"]).output();
            if !fast.as_ref().is_ok_and(|o| o.status.success()) {
                let _ = self
                    .admin("pg_ctl")
                    .arg("stop")
                    .arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "-t", "10"])
                    .output();
            }
            // pg_ctl returns once the pid file is gone; the process ends a moment later.
            if let Some(pid) = postmaster {
                let deadline = Instant::now() + Duration::from_secs(5);
                while alive(pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if alive(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    problem = Some(format!("PostgreSQL (pid {}) did not stop and was killed", pid.as_raw_nonzero()));
                }
            }
        }
        let removed = std::fs::remove_dir_all(&self.dir);
        if let Err(e) = removed.as_ref()
            && e.kind() != std::io::ErrorKind::NotFound
        {
            bail!("the test database stopped, but {} could not be removed: {e}", self.shown);
        }
        if let Some(problem) = problem {
            eprintln!("warning: {problem}");
        }
        eprintln!("database: stopped the throwaway cluster and removed {}", self.shown);
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("warning: {e:#}");
        }
    }
}

fn postmaster_pid(data: &Path) -> Option<rustix::process::Pid> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    rustix::process::Pid::from_raw(text.lines().next()?.trim().parse().ok()?)
}

/// The folder with `initdb`, `pg_ctl` and `postgres`: `$XTASK_PG_BIN`, else the folder of
/// `initdb` on PATH, else the newest `/usr/lib/postgresql/<major>/bin` (Debian, Ubuntu).
fn find_server_bin() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(PG_BIN_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server_bins(&dir) {
            Ok(dir)
        } else {
            Err(format!("{PG_BIN_ENV}={} has no initdb, pg_ctl and postgres", dir.display()))
        };
    }
    search_server_bin(std::env::var_os("PATH").as_deref(), Path::new(DEBIAN_PG_LIB))
        .ok_or_else(|| format!("initdb, pg_ctl and postgres are not on PATH, nor in {DEBIAN_PG_LIB}/<version>/bin"))
}

/// The search behind [`find_server_bin`], with its inputs given (for tests).
pub fn search_server_bin(path: Option<&OsStr>, debian_lib: &Path) -> Option<PathBuf> {
    for dir in std::env::split_paths(path.unwrap_or_default()) {
        let initdb = dir.join("initdb");
        if is_executable(&initdb) {
            // The folder it really lives in, so pg_ctl and postgres are of the same version.
            let real = std::fs::canonicalize(&initdb).ok().and_then(|p| p.parent().map(Path::to_path_buf));
            if let Some(real) = real.filter(|r| has_server_bins(r)) {
                return Some(real);
            }
            if has_server_bins(&dir) {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(debian_lib)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| has_server_bins(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn has_server_bins(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"].iter().all(|p| is_executable(&dir.join(p)))
}

/// When we are root: `nobody`, and `setpriv` (or `runuser`) to become it.
fn unprivileged() -> Result<Option<RunAs>> {
    if !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    let (uid, gid) = lookup_user(UNPRIVILEGED_USER).ok_or_else(|| {
        anyhow!("running as root, and PostgreSQL refuses to run as root, but there is no `{UNPRIVILEGED_USER}` user")
    })?;
    let standard = |p: &str| {
        which(p).or_else(|| {
            ["/usr/bin", "/usr/sbin", "/bin", "/sbin"].iter().map(|d| Path::new(d).join(p)).find(|p| is_executable(p))
        })
    };
    let prefix: Vec<OsString> = if let Some(setpriv) = standard("setpriv") {
        vec![
            setpriv.into(),
            format!("--reuid={uid}").into(),
            format!("--regid={gid}").into(),
            "--clear-groups".into(),
            "--".into(),
        ]
    } else if let Some(runuser) = standard("runuser") {
        vec![runuser.into(), "-u".into(), UNPRIVILEGED_USER.into(), "--".into()]
    } else {
        bail!(
            "running as root, and PostgreSQL refuses to run as root: `setpriv` or `runuser` (util-linux) is needed \
             to run it as `{UNPRIVILEGED_USER}`"
        );
    };
    Ok(Some(RunAs { uid, gid, prefix }))
}

/// uid and gid of a user, from /etc/passwd, else `getent passwd`.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let parse = |text: &str| {
        text.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() >= 4 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?))).flatten()
        })
    };
    if let Some(found) = std::fs::read_to_string("/etc/passwd").ok().as_deref().and_then(parse) {
        return Some(found);
    }
    let out = Command::new("getent").args(["passwd", name]).output().ok()?;
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// Whether `user` can reach `path` (search permission on it and every parent).
fn traversable(path: &Path, uid: u32, gid: u32) -> bool {
    path.ancestors().filter(|a| !a.as_os_str().is_empty()).all(|a| match std::fs::metadata(a) {
        Ok(m) if m.uid() == uid => m.mode() & 0o100 != 0,
        Ok(m) if m.gid() == gid => m.mode() & 0o010 != 0,
        Ok(m) => m.mode() & 0o001 != 0,
        Err(_) => false,
    })
}

/// `target/xtask-pg` (or `$CARGO_TARGET_DIR/xtask-pg`); when the cluster runs as another
/// user who cannot reach it (a home folder with mode 700), `$TMPDIR/xtask-pg`.
fn cluster_parent(root: &Path, run_as: Option<&RunAs>) -> Result<PathBuf> {
    let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    let candidates = [target.join("xtask-pg"), std::env::temp_dir().join("xtask-pg")];
    for parent in candidates {
        std::fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot set the permissions of {}", parent.display()))?;
        match run_as {
            Some(r) if !traversable(&parent, r.uid, r.gid) => continue,
            _ => return Ok(parent),
        }
    }
    bail!("`{UNPRIVILEGED_USER}` can reach neither the target folder nor the temporary folder for the test database")
}

/// Removes clusters left by an xtask that was killed outright (SIGKILL, power loss).
fn reap_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.filter_map(|e| e.ok()) {
        let Some(owner) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Some(owner) = rustix::process::Pid::from_raw(owner) else { continue };
        if owner == rustix::process::getpid() || alive(owner) {
            continue;
        }
        let data = entry.path().join("data");
        if let Some(pm) = postmaster_pid(&data).filter(|&p| alive(p) && runs_in(p, &data)) {
            let _ = rustix::process::kill_process(pm, rustix::process::Signal::QUIT);
            let deadline = Instant::now() + Duration::from_secs(5);
            while alive(pm) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = rustix::process::kill_process(pm, rustix::process::Signal::KILL);
        }
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            eprintln!("database: removed a cluster left by an earlier run ({})", entry.path().display());
        }
    }
}

/// Whether process `pid` is a postgres serving `data` (guards against a recycled pid).
fn runs_in(pid: rustix::process::Pid, data: &Path) -> bool {
    match std::fs::read(format!("/proc/{}/cmdline", pid.as_raw_nonzero())) {
        Ok(cmdline) => {
            let needle = data.as_os_str().as_encoded_bytes();
            cmdline.windows(needle.len()).any(|w| w == needle)
        }
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

fn start_cluster(cx: &Context, settings: &TestSettings, bin: PathBuf) -> Result<Database> {
    let run_as = unprivileged()?;
    let parent = cluster_parent(&cx.root, run_as.as_ref())?;
    reap_stale(&parent);
    let dir = parent.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // From here on the guard removes the folder (and stops the server) on every way out.
    let cwd = std::env::current_dir().unwrap_or_default();
    let shown = dir.strip_prefix(&cwd).unwrap_or(&dir).display().to_string();
    let mut cluster = Cluster { dir: dir.clone(), shown, bin, run_as, started: false, done: false };
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    if let Some(r) = &cluster.run_as {
        std::os::unix::fs::chown(&dir, Some(r.uid), Some(r.gid))
            .with_context(|| format!("cannot hand {} to `{UNPRIVILEGED_USER}`", dir.display()))?;
    }
    let (user, name) = (&settings.database_user, &settings.database_name);
    let data = cluster.data();

    checked(
        cluster.admin("initdb").arg("-D").arg(&data).args([
            "-U",
            user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]),
        "initdb",
    )?;
    interrupt::check()?;
    // Loopback only, no Unix socket (its path could exceed the 107-byte limit, and the
    // default folder is not writable by `nobody`), no durability: it is thrown away.
    let mut conf = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf"))?;
    writeln!(
        conf,
        "\n# cargo xtask test: a throwaway cluster\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n\
         fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
    )?;
    drop(conf);

    // The tests' database, created in single-user mode: needs no client program.
    let mut single = cluster.admin("postgres");
    single.arg("--single").arg("-D").arg(&data).args(["-c", "exit_on_error=true", "postgres"]);
    single.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = single.spawn().context("cannot run postgres --single")?;
    child.stdin.take().expect("piped").write_all(format!("CREATE DATABASE \"{name}\";\n").as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("creating the database `{name}` failed:\n{}", text(&out));
    }
    interrupt::check()?;

    let log = cluster.dir.join("postgres.log");
    let mut attempt = 0;
    let port = loop {
        let port = docker::free_port()?;
        cluster.started = true;
        let out = cluster
            .admin("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "30", "-o", &format!("-p {port}")])
            .output()
            .context("cannot run pg_ctl")?;
        interrupt::check()?;
        if out.status.success() {
            break port;
        }
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        attempt += 1;
        // Another program can take the free port between our check and the server's bind.
        if attempt < 3 && log_text.contains("could not bind") {
            continue;
        }
        bail!(
            "the throwaway PostgreSQL did not start (`pg_ctl start`):\n{}\n--- {}\n{}",
            text(&out),
            log.display(),
            crate::lint::last_lines(&log_text, 15)
        );
    };
    let url = format!("postgres://{user}@127.0.0.1:{port}/{name}");
    let version = Command::new(cluster.bin.join("postgres")).arg("--version").output().ok();
    let version = version
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().trim_start_matches("postgres (PostgreSQL) ").to_owned())
        .unwrap_or_default();
    let who = if cluster.run_as.is_some() { format!(", as {UNPRIVILEGED_USER}") } else { String::new() };
    eprintln!("database: throwaway PostgreSQL {version} in {}{who}: {url}", cluster.shown);
    Ok(Database { url, source: Source::Cluster(cluster) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(redact("postgres://app:s3cr%40t@db:5432/app"), "postgres://app:***@db:5432/app");
        assert_eq!(redact("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(
            redact("postgresql://db/app?user=a&password=x&sslmode=off"),
            "postgresql://db/app?user=a&password=***&sslmode=off"
        );
        assert_eq!(redact("host=db password=x user=a"), "host=db password=*** user=a");
        assert_eq!(redact("postgres://u:p@a@b/c"), "postgres://u:***@b/c");
        assert_eq!(redact("postgres://u:p/a@b/c?x=1"), "postgres://u:***@b/c?x=1");
    }

    #[test]
    fn endpoints() {
        let ep = |u| endpoint(u).unwrap();
        assert_eq!(ep("postgres://u:p@db.example:6543/x"), Endpoint { host: "db.example".into(), port: 6543 });
        assert_eq!(ep("postgresql://localhost/x"), Endpoint { host: "localhost".into(), port: 5432 });
        assert_eq!(ep("postgres://[::1]:5433/x"), Endpoint { host: "::1".into(), port: 5433 });
        assert_eq!(
            ep("postgres:///x?host=/var/run/postgresql"),
            Endpoint { host: "/var/run/postgresql".into(), port: 5432 }
        );
        assert_eq!(ep("postgres://%2Ftmp:5555/x"), Endpoint { host: "/tmp".into(), port: 5555 });
        assert_eq!(ep("postgres://a:1,b:2/x"), Endpoint { host: "a".into(), port: 1 });
        assert_eq!(ep("postgres://u:p/w@h:7/x"), Endpoint { host: "h".into(), port: 7 });
        assert!(endpoint("mysql://a/b").is_err());
        assert!(endpoint("postgres://a:port/b").is_err());
    }

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

    #[test]
    fn server_binaries_are_found_on_path_then_in_the_debian_layout() {
        let tmp = std::env::temp_dir().join(format!("xtask-pgbin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let mk = |dir: &Path, names: &[&str]| {
            std::fs::create_dir_all(dir).unwrap();
            for n in names {
                std::fs::write(dir.join(n), "").unwrap();
                std::fs::set_permissions(dir.join(n), std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        };
        let all = ["initdb", "pg_ctl", "postgres"];
        mk(&tmp.join("lib/13/bin"), &all);
        mk(&tmp.join("lib/16/bin"), &all);
        mk(&tmp.join("lib/17/bin"), &["initdb"]); // incomplete: skipped
        mk(&tmp.join("path"), &all);
        mk(&tmp.join("partial"), &["initdb"]);
        let lib = tmp.join("lib");
        let path = std::env::join_paths([tmp.join("partial"), tmp.join("path")]).unwrap();
        assert_eq!(search_server_bin(Some(&path), &lib), Some(std::fs::canonicalize(tmp.join("path")).unwrap()));
        assert_eq!(search_server_bin(Some(OsStr::new("/nonexistent")), &lib), Some(lib.join("16/bin")));
        assert_eq!(search_server_bin(None, &tmp.join("nothing")), None);
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn a_folder_closed_to_others_is_not_traversable_for_nobody() {
        let tmp = std::env::temp_dir().join(format!("xtask-traverse-{}", std::process::id()));
        std::fs::create_dir_all(tmp.join("inner")).unwrap();
        let nobody = (65534, 65534);
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(traversable(&tmp.join("inner"), nobody.0, nobody.1));
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(!traversable(&tmp.join("inner"), nobody.0, nobody.1));
        assert!(!traversable(&tmp.join("missing"), nobody.0, nobody.1));
        std::fs::remove_dir_all(&tmp).unwrap();
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
