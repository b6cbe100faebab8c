//! The server's ops scripts (`scripts/backup.sh`, `restore-check.sh`, `demo-reset.sh`,
//! `rollback.sh`, `deploy.sh`), run with bash against the real Docker engine and a real stack,
//! from a scratch deploy folder like the server's /opt/clicknback (a copy of docker-compose.yml
//! and a `.env`), as a compose project of their own: a backup holds a row created through the
//! API, the restore check loads it into a throwaway container (and refuses damaged ones), and
//! the documented restore brings the row back; the demo reset backs up, resets and seeds; a
//! rollback moves the app to an earlier `sha-` tag; a deploy whose app never becomes ready
//! rolls itself back; and a failing step stops a script before it destroys anything. The stack
//! and the image tags are removed afterwards, whatever happens.
//!
//! Deploys and rollbacks are blue/green behind a real Nginx (the test's own, on a loopback port,
//! proxying to the upstream file that the scripts rewrite and reload): a load loop of about 50
//! requests a second runs through it for the whole of a good deploy, a deploy that rolls back
//! and a rollback, and not one answer may be anything but 2xx. Each run prints its count and
//! its duration (`--no-capture`).
//!
//! Without a real engine: the scripts when no engine answers (the real `docker` CLI pointed at a
//! socket nobody listens on), with Compose v1 alone (a stand-in `docker` without `compose`,
//! `support::OPS_DOCKER_STANDIN`), and their argument checks and `--help`, which run no docker.

mod support;

use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use support::standin::StandIn;
use support::{Run, Scratch};

/// The database user and name of the test stacks: not the scripts' defaults, so the tests show
/// that `DB_USER` and `DB_NAME` reach every psql and pg_dump.
const DB_USER: &str = "ops_user";
const DB_NAME: &str = "ops_db";
/// The row created through the API, and its password.
const ROW: &str = "ops-row@example.com";
const ROW_PASSWORD: &str = "ops-row-password";
/// The demo admin that app/seeds/all.sql creates.
const ADMIN: &str = "admin@clicknback.com";
const ADMIN_PASSWORD: &str = "demo1234";
const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";
/// A commit whose app never becomes ready (an invalid setting baked into its image).
const SHA_BROKEN: &str = "ccccccccccccccccccccccccccccccccccccccc3";
/// A commit no image was built for (and that no registry has).
const SHA_MISSING: &str = "0123456789abcdef0123456789abcdef01234567";
const REVISION_LABEL: &str = "org.opencontainers.image.revision";
/// A migration no image knows: a database "from the future" for the rollback's migrations check.
const FUTURE_MIGRATION: i64 = 20990101000000;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The load loop's pace through Nginx during a deploy: about 50 requests a second.
const LOAD_INTERVAL: Duration = Duration::from_millis(20);
/// The old app's drain after the switch in the tests (the scripts' default is 10 s).
const DRAIN_SECONDS: &str = "3";
/// deploy/nginx/clicknback.com.conf's include of the upstream file, and its proxy_pass.
const SITE_INCLUDE: &str = "include /opt/clicknback/nginx/clicknback-upstream.conf;";
const SITE_PROXY_PASS: &str = "proxy_pass http://clicknback_app;";

/// Settings of the scripts and of compose that the test's own environment must not decide.
const INHERITED: [&str; 41] = [
    "DEPLOY_DIR",
    "DEPLOY_TIMEOUT",
    "KEEP_IMAGES",
    "NGINX_UPSTREAM",
    "NGINX_TEST",
    "NGINX_RELOAD",
    "DRAIN_SECONDS",
    "APP_GREEN_PORT",
    "COMPOSE_FILE",
    "COMPOSE_PROJECT_NAME",
    "COMPOSE_PROFILES",
    "COMPOSE_ENV_FILES",
    "BACKUP_DIR",
    "RETENTION_DAYS",
    "KEEP_DAILY",
    "KEEP_WEEKLY",
    "KEEP_MONTHLY",
    "OFFSITE_HOST",
    "OFFSITE_USER",
    "OFFSITE_PORT",
    "OFFSITE_DIR",
    "OFFSITE_IDENTITY",
    "OFFSITE_KNOWN_HOSTS",
    "OFFSITE_TIMEOUT",
    "RESTORE_IMAGE",
    "CHECK_TABLES",
    "DB_USER",
    "DB_NAME",
    "SEED_FILE",
    "IMAGE",
    "APP_IMAGE",
    "APP_PORT",
    "DB_PORT",
    "APP_ENV",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "JWT_SECRET",
    "CORS_ORIGINS",
    "ACCESS_TOKEN_EXPIRE_MINUTES",
    "RUST_LOG",
];

fn script_path(script: &str) -> PathBuf {
    support::workspace_root().join("scripts").join(script)
}

/// `bash scripts/<script> args…` with none of the settings above inherited.
fn script(script: &str, args: &[&str]) -> Command {
    let mut c = Command::new("bash");
    c.arg(script_path(script)).args(args);
    for var in INHERITED {
        c.env_remove(var);
    }
    c
}

/// The sorted names in a folder, hidden files included (none when it does not exist).
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// A file last modified `hours_ago` hours ago.
fn old_file(dir: &Path, name: &str, hours_ago: u64) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, "an old backup").unwrap();
    let when = SystemTime::now() - Duration::from_secs(hours_ago * 3600);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(when).unwrap();
    path
}

fn gunzip(path: &Path) -> String {
    let out = Command::new("gzip").arg("-dc").arg(path).output().expect("gzip runs");
    assert!(out.status.success(), "{} is not a valid gzip file", path.display());
    String::from_utf8(out.stdout).unwrap()
}

/// The one name in `after` that is not in `before`: a backup.sh file name.
fn new_backup(before: &[String], after: &[String]) -> String {
    let new: Vec<&String> = after.iter().filter(|n| !before.contains(n)).collect();
    assert_eq!(new.len(), 1, "one new file: {before:?} → {after:?}");
    let name = new[0].clone();
    let stamp = name.strip_prefix("clicknback-").and_then(|r| r.strip_suffix(".sql.gz")).unwrap_or_default();
    assert!(
        stamp.len() == 15 && stamp.chars().enumerate().all(|(i, c)| if i == 8 { c == '-' } else { c.is_ascii_digit() }),
        "clicknback-YYYYmmdd-HHMMSS.sql.gz: {name}"
    );
    name
}

fn random_hex(bytes: usize) -> String {
    xtask::docker::random_hex(bytes).unwrap()
}

/// Runs a command that must succeed; its stdout.
fn ok(mut c: Command) -> String {
    let out = c.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{c:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ----------------------------------------------------------------------------------------
// A deploy folder and a real stack

/// A scratch deploy folder like the server's: a copy of docker-compose.yml and a `.env` with a
/// random password and secret, free loopback ports and `APP_IMAGE=<image>:latest` (as on the
/// server), a compose project named after the folder, and the Nginx upstream file as the docs
/// install it (deploy/nginx/clicknback-upstream.conf on `app`'s port). Its health checks run
/// every second, as the smoke gate's do: the scripts wait on them, and not on the server's 5 s
/// and 10 s ticks. The scripts test and reload the folder's own Nginx ([`Proxy`]).
struct Deploy {
    dir: Scratch,
    project: String,
    /// The image repository, rollback.sh's `IMAGE`: `xtask-ops-…/clicknback`.
    image: String,
    app_port: u16,
    green_port: u16,
    /// The loopback port the folder's Nginx listens on.
    proxy_port: u16,
}

impl Deploy {
    fn new(name: &str) -> Deploy {
        let dir = Scratch::new(name);
        let project = format!("xtask-{}", dir.0.file_name().unwrap().to_string_lossy());
        let image = format!("{project}/clicknback");
        let mut ports: Vec<u16> = Vec::new();
        while ports.len() < 4 {
            let port = xtask::docker::free_port().unwrap();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let [app_port, green_port, db_port, proxy_port] = <[u16; 4]>::try_from(ports).unwrap();
        std::fs::copy(support::workspace_root().join("docker-compose.yml"), dir.path("docker-compose.yml")).unwrap();
        let env = dir.write(
            ".env",
            format!(
                "APP_ENV=production\nAPP_IMAGE={image}:latest\nAPP_PORT={app_port}\nAPP_GREEN_PORT={green_port}\n\
                 DB_PORT={db_port}\nPOSTGRES_USER={DB_USER}\nPOSTGRES_PASSWORD={}\nPOSTGRES_DB={DB_NAME}\n\
                 JWT_SECRET={}\nDB_HEALTH_INTERVAL=1s\nAPP_HEALTH_INTERVAL=1s\n",
                random_hex(24),
                random_hex(32)
            ),
        );
        std::fs::set_permissions(env, std::fs::Permissions::from_mode(0o600)).unwrap();
        // The upstream file as first installed: the repository's, on APP_PORT.
        let upstream = read_repo("deploy/nginx/clicknback-upstream.conf");
        assert!(upstream.contains("# service: app\n"), "{upstream}");
        let upstream = upstream.replace("server 127.0.0.1:8001;", &format!("server 127.0.0.1:{app_port};"));
        assert!(upstream.contains(&format!("server 127.0.0.1:{app_port};")), "the template names port 8001");
        dir.write("nginx/clicknback-upstream.conf", upstream);
        let deploy = Deploy { dir, project, image, app_port, green_port, proxy_port };
        deploy.write_proxy_config();
        deploy
    }

    /// The folder's Nginx: a prefix of its own (`proxy/`), the site's upstream mechanism as
    /// deploy/nginx/clicknback.com.conf has it (its include of the upstream file, pointed at
    /// this folder's, and its proxy_pass), plain HTTP on `proxy_port`.
    fn write_proxy_config(&self) {
        let site = read_repo("deploy/nginx/clicknback.com.conf");
        assert!(site.contains(SITE_INCLUDE) && site.contains(SITE_PROXY_PASS), "the site's upstream mechanism changed");
        let include = SITE_INCLUDE.replace("/opt/clicknback/", &format!("{}/", self.dir.0.display()));
        let prefix = self.path("proxy");
        std::fs::create_dir_all(prefix.join("tmp")).unwrap();
        // As root, the workers would otherwise run as nobody, which cannot write the scratch folder.
        let user = if rustix::process::geteuid().is_root() { "user root;\n" } else { "" };
        self.dir.write(
            "proxy/nginx.conf",
            format!(
                "{user}worker_processes 1;\npid {0}/nginx.pid;\nerror_log {0}/error.log warn;\nevents {{}}\n\
                 http {{\n    access_log off;\n    client_body_temp_path {0}/tmp/body;\n    \
                 proxy_temp_path {0}/tmp/proxy;\n    fastcgi_temp_path {0}/tmp/fastcgi;\n    \
                 uwsgi_temp_path {0}/tmp/uwsgi;\n    scgi_temp_path {0}/tmp/scgi;\n    {include}\n    \
                 server {{\n        listen 127.0.0.1:{1};\n        location / {{\n            {SITE_PROXY_PASS}\n        \
                 }}\n    }}\n}}\n",
                prefix.display(),
                self.proxy_port
            ),
        );
    }

    /// `nginx -p <prefix> -c <prefix>/nginx.conf -e stderr`, then `extra`, as one line.
    fn nginx_command(&self, extra: &str) -> String {
        let prefix = self.path("proxy");
        format!("{} -p {} -c {}/nginx.conf -e stderr {extra}", nginx_program(), prefix.display(), prefix.display())
    }

    /// The upstream file the scripts rewrite.
    fn upstream(&self) -> String {
        std::fs::read_to_string(self.path("nginx/clicknback-upstream.conf")).unwrap()
    }

    /// The app service the upstream file names: `app` or `app-green`.
    fn live(&self) -> String {
        let upstream = self.upstream();
        let live = upstream.lines().find_map(|l| l.strip_prefix("# service: ")).unwrap_or_default();
        assert!(["app", "app-green"].contains(&live), "{upstream}");
        live.to_owned()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path(name)
    }

    fn compose_file(&self) -> PathBuf {
        self.path("docker-compose.yml")
    }

    fn backups(&self) -> PathBuf {
        self.path("backups")
    }

    /// The deploy folder's settings, as the server's crontab gives them to the scripts.
    fn env<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        for var in INHERITED {
            c.env_remove(var);
        }
        c.env("COMPOSE_PROJECT_NAME", &self.project)
            .env("DEPLOY_DIR", &self.dir.0)
            .env("COMPOSE_FILE", self.compose_file())
            .env("IMAGE", &self.image)
            .env("DB_USER", DB_USER)
            .env("DB_NAME", DB_NAME)
            .env("NGINX_TEST", self.nginx_command("-q -t"))
            .env("NGINX_RELOAD", self.nginx_command("-s reload"))
            .env("DRAIN_SECONDS", DRAIN_SECONDS)
    }

    /// `bash scripts/<name> args…` (from this checkout) for this deploy folder.
    fn script(&self, name: &str, args: &[&str]) -> Command {
        let mut c = script(name, args);
        self.env(&mut c);
        c
    }

    fn run(&self, name: &str, args: &[&str]) -> Run {
        support::run(self.script(name, args))
    }

    fn docker(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.args(args);
        self.env(&mut c);
        c
    }

    /// `docker compose -f <the deploy folder's compose file> args…`
    fn compose(&self, args: &[&str]) -> Command {
        let mut c = self.docker(&["compose", "-f"]);
        c.arg(self.compose_file()).args(args);
        c
    }

    /// [`Deploy::compose`] with app-green's profile, as the scripts run it.
    fn compose_green(&self, args: &[&str]) -> Command {
        let mut c = self.compose(&["--profile", "green"]);
        c.args(args);
        c
    }
}

fn read_repo(path: &str) -> String {
    std::fs::read_to_string(support::workspace_root().join(path)).unwrap()
}

/// The real Nginx (Debian's), else `nginx` from PATH.
fn nginx_program() -> String {
    ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).is_file()).unwrap_or("nginx").to_owned()
}

/// The deploy folder's Nginx, in the foreground: stopped when dropped (SIGTERM to the master,
/// which stops its workers; SIGKILL only if it hangs).
struct Proxy(std::process::Child);

impl Proxy {
    fn start(deploy: &Deploy) -> Proxy {
        let prefix = deploy.path("proxy");
        let mut test = Command::new("bash");
        test.args(["-c", &deploy.nginx_command("-q -t")]);
        ok(test);
        let child = Command::new(nginx_program())
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .args(["-e", "stderr", "-g", "daemon off;"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let proxy = Proxy(child);
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", deploy.proxy_port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "nginx did not listen on {}", deploy.proxy_port);
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let master = rustix::process::Pid::from_child(&self.0);
        let _ = rustix::process::kill_process(master, rustix::process::Signal::TERM);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while matches!(self.0.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a load loop saw: the requests sent, and the ones not answered 2xx (the status, or the
/// connection's error), each with its time since the start.
struct Load {
    sent: usize,
    failed: Vec<String>,
    took: Duration,
}

/// Runs `c` while a loop sends `GET /health/ready` through Nginx every [`LOAD_INTERVAL`]
/// (about 50 a second, one connection each), and prints the run's count and duration.
fn under_load(stack: &Stack, what: &str, c: Command) -> (Run, Load) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let addr = stack.addr();
    let looping = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let (mut sent, mut failed, mut next) = (0, Vec::new(), start);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let at = start.elapsed().as_secs_f64();
                match xtask::http::get(addr, "/health/ready", HTTP_TIMEOUT) {
                    Ok(answer) if (200..300).contains(&answer.status) => {}
                    Ok(answer) => failed.push(format!("{at:.2} s: {}", answer.status_line)),
                    Err(e) => failed.push(format!("{at:.2} s: {e:#}")),
                }
                sent += 1;
                next += LOAD_INTERVAL;
                let now = std::time::Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
            (sent, failed)
        })
    };
    let started = std::time::Instant::now();
    let run = support::run(c);
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (sent, failed) = looping.join().unwrap();
    let load = Load { sent, failed, took };
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "{what}: exit {}, {:.1} s, {} requests through Nginx, {} not 2xx",
        run.code,
        took.as_secs_f64(),
        load.sent,
        load.failed.len()
    );
    (run, load)
}

/// Not one request of the loop failed, and it ran at about its pace for the whole run.
fn assert_no_request_dropped(what: &str, run: &Run, load: &Load) {
    assert!(
        load.failed.is_empty(),
        "{what}: {} of {} requests through Nginx were not answered 2xx: {:?}\n{run:?}",
        load.failed.len(),
        load.sent,
        &load.failed[..load.failed.len().min(20)]
    );
    let expected = load.took.as_secs_f64() / LOAD_INTERVAL.as_secs_f64();
    assert!(load.sent as f64 >= expected * 0.5, "{what}: only {} requests in {:?}", load.sent, load.took);
}

/// The deploy folder with the app image built from this checkout (`IMAGE:build`) and, once
/// `up` ran, its stack. Dropping it removes the stack (`down --volumes --remove-orphans`) and
/// every image tag it made, rollback.sh's `latest` included.
struct Stack {
    deploy: Deploy,
    tags: Vec<String>,
    /// Nginx in front, once [`Stack::proxy`] started it.
    proxy: Option<Proxy>,
}

impl std::ops::Deref for Stack {
    type Target = Deploy;
    fn deref(&self) -> &Deploy {
        &self.deploy
    }
}

/// The app container as the engine runs it.
#[derive(Debug, PartialEq)]
struct App {
    container: String,
    /// The image ID, and the reference compose created the container from.
    image_id: String,
    image: String,
    revision: String,
    state: String,
}

impl Stack {
    /// Builds the app image from this checkout with `docker compose build` (the layers are
    /// cached). Not `docker build`: without buildx that is the classic builder, which drops
    /// .dockerignore's `!xtask/*/Cargo.toml` exceptions, so the image's cargo fails.
    fn build(deploy: Deploy) -> Stack {
        let build = format!("{}:build", deploy.image);
        let stack = Stack { deploy, tags: vec![build.clone()], proxy: None };
        let mut c = stack.docker(&["compose", "-f"]);
        c.arg(support::workspace_root().join("docker-compose.yml"))
            .arg("--env-file")
            .arg(stack.path(".env"))
            .args(["build", "app"])
            .env("APP_IMAGE", &build);
        ok(c);
        stack
    }

    /// `IMAGE:<tag>` made from `from`; removed with the stack.
    fn tag(&mut self, from: &str, tag: &str) -> String {
        let to = format!("{}:{tag}", self.image);
        ok(self.docker(&["tag", from, &to]));
        self.tags.push(to.clone());
        to
    }

    /// `IMAGE:sha-<sha>`: the built image labelled with that commit, an image of its own per
    /// commit, as CD pushes them.
    fn revision(&mut self, sha: &str) -> String {
        self.revision_with(sha, "")
    }

    /// [`Stack::revision`] with more Dockerfile lines.
    fn revision_with(&mut self, sha: &str, extra: &str) -> String {
        let to = format!("{}:sha-{sha}", self.image);
        self.tags.push(to.clone());
        let mut c = self.docker(&["build", "--quiet", "--tag", &to, "-"]);
        let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let dockerfile = format!("FROM {}:build\nLABEL {REVISION_LABEL}={sha}\n{extra}", self.image);
        child.stdin.take().unwrap().write_all(dockerfile.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "docker build {to}: {}", String::from_utf8_lossy(&out.stderr));
        to
    }

    fn image_id(&self, reference: &str) -> String {
        ok(self.docker(&["image", "inspect", "--format", "{{.Id}}", reference])).trim().to_owned()
    }

    /// Nginx in front of the stack, as on the server.
    fn proxy(&mut self) {
        self.proxy = Some(Proxy::start(&self.deploy));
    }

    /// `docker compose up -d --no-build --wait`, as the server's first start.
    fn up(&self) {
        ok(self.compose(&["up", "-d", "--no-build", "--wait"]));
    }

    /// psql in the `db` container.
    fn psql(&self, args: &[&str]) -> Command {
        let mut c = self.compose(&["exec", "-T", "db", "psql", "-U", DB_USER, "-d", DB_NAME, "-v", "ON_ERROR_STOP=1"]);
        c.args(args);
        c
    }

    /// The rows of a query, one line each.
    fn sql(&self, query: &str) -> Vec<String> {
        ok(self.psql(&["-A", "-t", "-c", query])).lines().map(str::to_owned).collect()
    }

    fn emails(&self) -> Vec<String> {
        self.sql("SELECT email FROM users ORDER BY email")
    }

    /// The app container that the upstream file names; it is the only app container there is.
    fn app(&self) -> App {
        let live = self.live();
        let container = ok(self.compose_green(&["ps", "--quiet", &live])).trim().to_owned();
        assert!(!container.is_empty(), "no {live} container");
        let all = ok(self.compose_green(&["ps", "--all", "--quiet", "app", "app-green"]));
        assert_eq!(all.split_whitespace().collect::<Vec<_>>(), [container.as_str()], "one app container, {live}'s");
        let format = format!(
            "{{{{.Image}}}}|{{{{.Config.Image}}}}|{{{{index .Config.Labels \"{REVISION_LABEL}\"}}}}|{{{{.State.Status}}}}"
        );
        let inspect = ok(self.docker(&["inspect", "--format", &format, &container]));
        let fields: Vec<String> = inspect.trim().split('|').map(str::to_owned).collect();
        let Ok([image_id, image, revision, state]) = <[String; 4]>::try_from(fields) else {
            panic!("docker inspect: {inspect}");
        };
        App { container, image_id, image, revision, state }
    }

    /// Nginx's address: every request of the tests goes through it, as on the server.
    fn addr(&self) -> SocketAddr {
        assert!(self.proxy.is_some(), "Nginx is not started");
        SocketAddr::from(([127, 0, 0, 1], self.proxy_port))
    }

    fn login(&self, email: &str, password: &str) -> xtask::http::Response {
        let body = format!(r#"{{"email":"{email}","password":"{password}"}}"#);
        xtask::http::post_json(self.addr(), "/api/v1/auth/login", &body, HTTP_TIMEOUT).unwrap()
    }

    fn assert_logs_in(&self, email: &str, password: &str) {
        let answer = self.login(email, password);
        assert_eq!(answer.status, 200, "{email} logs in: {answer:?}");
        assert!(answer.body.contains("\"access_token\""), "{answer:?}");
    }

    /// docs/deployment-plan.md, "Restoring a backup": stop the app, empty the schema, load the
    /// dump with psql, start the app that the upstream file names again.
    fn restore(&self, backup: &Path) {
        let live = self.live();
        ok(self.compose_green(&["stop", "app", "app-green"]));
        ok(self.psql(&["-c", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"]));
        assert_eq!(self.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), ["0"], "an emptied schema");
        let mut c = Command::new("bash");
        c.args([
            "-c",
            r#"set -euo pipefail
               gunzip -c "$1" | docker compose -f "$2" exec -T db psql -U "$3" -d "$4" -v ON_ERROR_STOP=1"#,
            "restore",
        ])
        .arg(backup)
        .arg(self.compose_file())
        .args([DB_USER, DB_NAME]);
        self.env(&mut c);
        ok(c);
        ok(self.compose_green(&["up", "-d", "--no-build", "--wait", &live]));
    }

    /// Removes the stack and the tags now, and checks that nothing of them is left.
    fn remove(self) {
        let (project, tags) = (self.project.clone(), self.tags.clone());
        drop(self);
        assert_eq!(support::leftovers(&project), Vec::<String>::new(), "the compose project {project} is gone");
        for tag in tags {
            let out = Command::new("docker").args(["image", "inspect", &tag]).output().unwrap();
            assert!(!out.status.success(), "the image tag {tag} is removed");
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.proxy = None;
        match self.compose_green(&["down", "--volumes", "--remove-orphans"]).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("docker compose down ({}): {}", self.project, String::from_utf8_lossy(&out.stderr)),
            Err(e) => eprintln!("docker compose down ({}): {e}", self.project),
        }
        // Untagging only: an image that another tag still names stays.
        let mut c = self.docker(&["image", "rm"]);
        c.args(&self.tags);
        if let Ok(out) = c.output()
            && !out.status.success()
        {
            eprintln!("docker image rm {:?}: {}", self.tags, String::from_utf8_lossy(&out.stderr));
        }
    }
}

// ----------------------------------------------------------------------------------------
// Against a real stack

#[test]
fn ops_scripts_against_a_real_stack() {
    if !support::docker_engine("ops_scripts_against_a_real_stack") {
        return;
    }
    let _engine = support::docker_lock();
    // One stack for every scenario (a stack takes ~20 s to come up). Two deployed commits, each
    // an image of its own, B the current one (`latest`, as CD and the server's .env leave it).
    let mut stack = Stack::build(Deploy::new("ops-stack"));
    let a = stack.revision(SHA_A);
    let b = stack.revision(SHA_B);
    stack.tag(&b, "latest");
    assert_ne!(stack.image_id(&a), stack.image_id(&b));
    stack.proxy();
    stack.up();

    backup_and_restore(&stack);
    demo_reset(&stack);
    rollback(&stack, &a, &b);
    // The app refuses WORKER_THREADS=0 at start-up; `app migrate` does not read it.
    let broken = stack.revision_with(SHA_BROKEN, "ENV WORKER_THREADS=0\n");
    // deploy.sh keeps the image it replaces as `previous`: removed with the others.
    let previous = format!("{}:previous", stack.image);
    stack.tags.push(previous);
    deploy(&stack, &a, &b, &broken);
    restore_time(&stack);

    stack.remove();
}

/// backup.sh writes a gzip dump holding a row created through the API (and applies its
/// retention; a failing dump writes and removes nothing); the documented restore into an
/// emptied schema brings the row back.
fn backup_and_restore(stack: &Stack) {
    // A row created through the API.
    let body = format!(r#"{{"email":"{ROW}","password":"{ROW_PASSWORD}","full_name":"Ops Row"}}"#);
    let created = xtask::http::post_json(stack.addr(), "/api/v1/users", &body, HTTP_TIMEOUT).unwrap();
    assert_eq!(created.status, 201, "{created:?}");
    stack.assert_logs_in(ROW, ROW_PASSWORD);

    // backup.sh over older files. The retention goes by the UTC time in the name, never the
    // mtime: the newest-named old backup is the oldest file, the oldest-named one is new.
    let backups = stack.backups();
    let expired = old_file(&backups, "clicknback-20251201-030000.sql.gz", 0);
    let same_day = old_file(&backups, "clicknback-20251226-010000.sql.gz", 0);
    old_file(&backups, "clicknback-20251226-030000.sql.gz", 60 * 24);
    old_file(&backups, "clicknback-manual.sql.gz", 30 * 24);
    old_file(&backups, "other-20251101-030000.sql.gz", 30 * 24);
    old_file(&backups, "clicknback-20251101-030000.sql.gz.keep", 30 * 24);
    let before = names(&backups);

    // First a dump that fails (a database that does not exist): it writes nothing and removes
    // nothing, not even the expired backups.
    let mut c = stack.script("backup.sh", &[]);
    c.env("DB_NAME", "no_such_db");
    let run = support::run(c);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("backup failed: pg_dump of database 'no_such_db'"), "{run:?}");
    assert!(run.stderr.contains("does not exist"), "pg_dump says why: {run:?}");
    assert_eq!(names(&backups), before, "no partial or temporary file; the old backups are kept");

    // Two days' backups kept (no weekly or monthly rule): the new one and the newest of
    // 2025-12-26. An empty RETENTION_DAYS is not set (as the crontab's `RETENTION_DAYS=`).
    let mut c = stack.script("backup.sh", &[]);
    c.env("RETENTION_DAYS", "").env("KEEP_DAILY", "2").env("KEEP_WEEKLY", "0").env("KEEP_MONTHLY", "0");
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    let name = new_backup(&before, &names(&backups));
    let backup = backups.join(&name);
    let dump = gunzip(&backup);
    assert!(dump.contains(ROW), "the row is in the dump:\n{dump}");
    assert!(dump.contains("-- PostgreSQL database dump complete"), "a whole dump:\n{dump}");
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600, "the dump holds hashes");
    assert!(run.stdout.contains(&format!("backup written: {}", backup.display())), "{run:?}");
    assert_eq!(
        run.stdout.matches("off-site copy: not configured (OFFSITE_HOST is not set)").count(),
        1,
        "said once: {run:?}"
    );
    let mut kept = vec![
        "clicknback-20251101-030000.sql.gz.keep".to_owned(),
        "clicknback-20251226-030000.sql.gz".to_owned(),
        name.clone(),
        "clicknback-manual.sql.gz".to_owned(),
        "other-20251101-030000.sql.gz".to_owned(),
    ];
    kept.sort();
    assert_eq!(names(&backups), kept, "only its own backups past the retention are removed, no temporary file left");
    for path in [&expired, &same_day] {
        assert!(
            run.stdout
                .contains(&format!("removed backup {} (retention: 2 daily, 0 weekly, 0 monthly)", path.display())),
            "{run:?}"
        );
    }
    assert_eq!(run.stdout.matches("removed backup ").count(), 2, "{run:?}");
    assert!(run.stdout.contains(&format!("retention: 2 backups kept, 2 removed in {}", backups.display())), "{run:?}");

    restore_check(stack, &backup);

    // The documented restore, into an emptied schema, brings the row back: the user logs in.
    stack.restore(&backup);
    assert_eq!(stack.emails(), [ROW]);
    stack.assert_logs_in(ROW, ROW_PASSWORD);
}

/// restore-check.sh loads the newest backup into a throwaway container and counts its tables;
/// an empty, truncated, incomplete or unloadable backup fails it, and no container is left.
fn restore_check(stack: &Stack, backup: &Path) {
    let containers = || ok(stack.docker(&["ps", "-a", "-q", "--filter", "name=clicknback-restore-check-"]));
    let before = containers();
    let run = stack.run("restore-check.sh", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(&format!("restore check passed: {}", backup.display())), "the newest: {run:?}");
    assert!(run.stdout.contains("  users: 1 rows"), "{run:?}");
    assert!(run.stdout.contains("  merchants: 0 rows"), "{run:?}");
    assert!(!run.stdout.contains("_sqlx_migrations: 0 rows"), "{run:?}");
    let (seconds, size) = restore_figures(&run);
    assert!(seconds > 0.0 && seconds < 60.0, "a restore time in seconds: {run:?}");
    assert!(size.ends_with(" MB") || size.ends_with(" kB"), "the restored database's size: {run:?}");
    let bytes = std::fs::metadata(backup).unwrap().len();
    assert!(run.stdout.contains(&format!("backup size: {bytes} bytes (gzip)")), "{run:?}");

    let dump = gunzip(backup);
    let bad = stack.path("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let gzip = |name: &str, text: &str| {
        let path = bad.join(name);
        let mut child = Command::new("gzip").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        std::fs::write(&path, child.wait_with_output().unwrap().stdout).unwrap();
        path
    };
    let whole = std::fs::read(backup).unwrap();
    let truncated = bad.join("truncated.sql.gz");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let empty = bad.join("empty.sql.gz");
    std::fs::write(&empty, "").unwrap();
    let incomplete = gzip("incomplete.sql.gz", &dump[..dump.len() / 2]);
    let broken = gzip("broken.sql.gz", &dump.replacen("CREATE TABLE", "CREATE TABEL", 1));
    let no_users = gzip("no-users.sql.gz", "-- PostgreSQL database dump complete\n");
    for (path, why) in [
        (&empty, "is empty"),
        (&truncated, "is not a whole gzip file"),
        (&incomplete, "does not end like a whole pg_dump"),
        (&broken, "does not restore"),
        (&no_users, "restores, but has no table _sqlx_migrations"),
    ] {
        let run = stack.run("restore-check.sh", &[path.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{why}: {run:?}");
        assert!(run.stderr.contains(&format!("restore check failed: {} {why}", path.display())), "{run:?}");
    }
    assert!(
        stack.run("restore-check.sh", &[]).stdout.contains(&backup.display().to_string()),
        "the checked files are not backups"
    );
    assert_eq!(containers(), before, "no throwaway container is left");
}

/// The restore time (seconds) and the restored database's size that restore-check.sh printed.
fn restore_figures(run: &Run) -> (f64, String) {
    let line = |prefix: &str| {
        run.stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line: {run:?}"))
            .to_owned()
    };
    let time = line("  restore time: ");
    let seconds =
        time.strip_suffix(" s (psql loading the dump into an empty database)").unwrap_or_else(|| panic!("{time}"));
    let (whole, millis) = seconds.split_once('.').unwrap_or_else(|| panic!("seconds with milliseconds: {seconds}"));
    assert!(millis.len() == 3 && whole.bytes().chain(millis.bytes()).all(|b| b.is_ascii_digit()), "{seconds}");
    let size = line("  database size: ");
    let size = size.split_once(" (restored); ").unwrap_or_else(|| panic!("{size}")).0.to_owned();
    (seconds.parse().unwrap(), size)
}

/// The restore time of a database with many rows: 100,000 users made with SQL, backed up by
/// backup.sh and restored by restore-check.sh, which times psql's load. The figures are
/// printed, and recorded in docs/deployment-plan.md ("Disaster recovery").
fn restore_time(stack: &Stack) {
    const USERS: u32 = 100_000;
    stack.sql(&format!(
        "INSERT INTO users (email, password_hash, full_name) SELECT 'load-' || i || '@example.com', \
         '$argon2id$v=19$m=19456,t=2,p=1$' || md5(i::text) || '$' || md5('hash' || i) || md5('salt' || i), \
         'Load User ' || i FROM generate_series(1, {USERS}) AS i"
    ));
    let timed = stack.path("timed-backups");
    let mut c = stack.script("backup.sh", &[]);
    c.env("BACKUP_DIR", &timed);
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    let mut c = stack.script("restore-check.sh", &[]);
    c.env("BACKUP_DIR", &timed);
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(&format!("  users: {USERS} rows")), "{run:?}");
    let (seconds, size) = restore_figures(&run);
    let backup = run.stdout.lines().find_map(|l| l.strip_prefix("restore check passed: ")).unwrap();
    let bytes = std::fs::metadata(backup).unwrap().len();
    // Straight to stderr, past the harness's capture: the figure the docs record.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "restore time: {seconds:.3} s for {USERS} users, a {size} database, from a {:.1} MB backup (restore-check.sh)",
        bytes as f64 / 1e6
    );
    stack.sql("DELETE FROM users WHERE email LIKE 'load-%@example.com'");
}

/// demo-reset.sh stops before the drop when the backup cannot be written; otherwise it backs
/// up, resets and seeds (from the image, or SEED_FILE): the row is gone, the admin logs in.
fn demo_reset(stack: &Stack) {
    // demo-reset.sh when the backup cannot be written (BACKUP_DIR under a regular file, so
    // mkdir fails even as root) stops before the drop.
    let blocker = stack.dir.write("not-a-folder", "a regular file\n");
    let mut c = stack.script("demo-reset.sh", &[]);
    c.env("BACKUP_DIR", blocker.join("backups"));
    let run = support::run(c);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("backup failed: cannot create"), "{run:?}");
    assert!(run.stderr.contains("the database was NOT reset"), "{run:?}");
    assert!(!run.stdout.contains("2/4"), "nothing after the backup ran: {run:?}");
    assert_eq!(stack.emails(), [ROW], "the row is still there");
    assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "a regular file\n");

    // demo-reset.sh: a backup first (with the retention passed on to backup.sh), then the
    // schema dropped, migrated and seeded from the image: the row is gone, the admin logs in.
    let reset_backups = stack.path("reset-backups");
    old_file(&reset_backups, "clicknback-20251226-030000.sql.gz", 6 * 24);
    old_file(&reset_backups, "clicknback-20251231-030000.sql.gz", 24);
    let before = names(&reset_backups);
    let mut c = stack.script("demo-reset.sh", &[]);
    c.env("BACKUP_DIR", &reset_backups).env("KEEP_DAILY", "2").env("KEEP_WEEKLY", "0").env("KEEP_MONTHLY", "0");
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    let steps: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).collect();
    assert_eq!(steps, ["1/4 backup", "2/4 drop and recreate the public schema", "3/4 migrations", "4/4 seeds"]);
    assert!(run.stdout.contains(&format!("demo reset done: migrated and seeded {DB_NAME}")), "{run:?}");
    let after = names(&reset_backups);
    let reset_backup = new_backup(&before, &after);
    assert!(gunzip(&reset_backups.join(&reset_backup)).contains(ROW), "the backup was taken before the reset");
    assert_eq!(after, ["clicknback-20251231-030000.sql.gz".to_owned(), reset_backup], "the 2-day retention applied");
    assert_eq!(stack.emails(), [ADMIN], "the row is gone, the demo admin is seeded");
    assert_eq!(stack.sql("SELECT count(*) FROM merchants"), ["5"], "the demo merchants are seeded");
    stack.assert_logs_in(ADMIN, ADMIN_PASSWORD);
    assert_eq!(stack.login(ROW, ROW_PASSWORD).status, 401, "the row's user is gone");

    // SEED_FILE: the host's seed file instead of the image's.
    let seeds = stack
        .dir
        .write("seeds/host.sql", "INSERT INTO merchants (name, cashback_percentage) VALUES ('Host Seeds', 4.00);\n");
    let mut c = stack.script("demo-reset.sh", &[]);
    c.env("SEED_FILE", &seeds);
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(stack.sql("SELECT name FROM merchants"), ["Host Seeds"], "{run:?}");
    assert_eq!(stack.emails(), Vec::<String>::new(), "the image's seeds were not loaded: {run:?}");
}

/// rollback.sh to a tag that is neither here nor pullable, and to one whose migrations refuse
/// the schema, stops before the app is touched; to A (two locally built tags, B running in
/// `app`) it starts A's image in app-green, switches Nginx to it and stops B's, without a
/// registry and without dropping one request of the load loop.
fn rollback(stack: &Stack, a: &str, b: &str) {
    let latest = format!("{}:latest", stack.image);
    let (a_id, b_id) = (stack.image_id(a), stack.image_id(b));
    let before = stack.app();
    assert_eq!((before.image_id.as_str(), before.revision.as_str()), (b_id.as_str(), SHA_B), "{before:?}");

    // A tag that is not on the server and cannot be pulled: nothing is touched.
    let run = stack.run("rollback.sh", &[&format!("sha-{SHA_MISSING}")]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("is not on this server: pulling it"), "{run:?}");
    assert!(run.stderr.contains(&format!("rollback failed: cannot pull {}:sha-{SHA_MISSING}", stack.image)), "{run:?}");
    assert!(!run.stdout.contains("2/5"), "it stopped at the pull: {run:?}");
    assert_eq!(stack.app(), before, "the running app is left as it was");
    assert_eq!(stack.image_id(&latest), b_id, "latest still names B");

    // A database with a migration that A does not know: the migrations check stops the
    // rollback before the app is touched, and prints the way back.
    let future = format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ({FUTURE_MIGRATION}, 'from a later release', true, '\\x00', 0)"
    );
    stack.sql(&future);
    let run = stack.run("rollback.sh", &[&format!("sha-{SHA_A}")]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains(&format!("1/5 {a} is on this server: using the local copy (not pulling)")), "{run:?}");
    assert!(
        run.stderr.contains(&format!("migration {FUTURE_MIGRATION} was previously applied but is missing")),
        "{run:?}"
    );
    for step in ["forward-only", "DROP SCHEMA public CASCADE", "gunzip -c", "scripts/backup.sh"] {
        assert!(run.stderr.contains(step), "the restore runbook names {step}: {run:?}");
    }
    assert!(run.stderr.contains(&format!("rollback failed: the migrate service of {a} failed")), "{run:?}");
    assert_eq!(stack.app(), before, "the running app is left as it was");
    assert_eq!(stack.image_id(&latest), b_id, "latest still names B");
    stack.sql(&format!("DELETE FROM _sqlx_migrations WHERE version = {FUTURE_MIGRATION}"));

    // The rollback to A (named by its bare commit), from the local copy: no registry here. The
    // same path as a deploy: A beside B, Nginx switched, B drained and stopped.
    assert_eq!(stack.live(), "app");
    let (run, load) = under_load(stack, "rollback", stack.script("rollback.sh", &[SHA_A]));
    assert_no_request_dropped("rollback", &run, &load);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(&format!("1/5 {a} is on this server: using the local copy (not pulling)")), "{run:?}");
    assert!(run.stdout.contains(&format!("3/5 starting {a} as app-green, beside app")), "{run:?}");
    assert!(run.stdout.contains("4/5 switching Nginx from app to app-green"), "{run:?}");
    assert!(run.stdout.contains(&format!("draining app for {DRAIN_SECONDS} s")), "{run:?}");
    assert!(run.stdout.contains(&format!("rolled back to {a} as app-green\n")), "{run:?}");
    assert_switched_to(stack, "app-green", stack.green_port);
    let after = stack.app();
    assert_eq!(
        (after.image_id.as_str(), after.image.as_str(), after.revision.as_str(), after.state.as_str()),
        (a_id.as_str(), a, SHA_A, "running"),
        "{after:?}"
    );
    assert_ne!(after.container, before.container, "a new app container");
    assert_eq!(stack.image_id(&latest), a_id, "latest names A, for restarts and the nightly reset");
    let ready = xtask::http::get(stack.addr(), "/health/ready", HTTP_TIMEOUT).unwrap();
    assert_eq!(ready.status, 200, "{ready:?}");
    let ps = ok(stack.compose_green(&["ps", "app-green", "--format", "{{.Image}} {{.Status}}"]));
    assert!(ps.starts_with(&format!("{a} Up ")) && ps.contains("(healthy)"), "{ps}");
}

/// The upstream file names `service` on `port`, as the scripts write it, and Nginx (reloaded)
/// sends requests there: the app on that port answers.
fn assert_switched_to(stack: &Stack, service: &str, port: u16) {
    let upstream = stack.upstream();
    assert!(upstream.contains(&format!("\n# service: {service}\n")), "{upstream}");
    assert!(upstream.contains(&format!("\n    server 127.0.0.1:{port};\n")), "{upstream}");
    let other = if port == stack.app_port { stack.green_port } else { stack.app_port };
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", other)).is_err(),
        "the app that served before is stopped: nothing answers on {other}"
    );
    let direct = xtask::http::get(SocketAddr::from(([127, 0, 0, 1], port)), "/health/ready", HTTP_TIMEOUT).unwrap();
    assert_eq!(direct.status, 200, "{direct:?}");
}

/// deploy.sh, with A running in app-green: a failing migration stops before anything starts; an
/// image whose app never becomes ready is started beside A and removed, while Nginx stays on A;
/// a failed `nginx -t` puts the upstream file back and removes the new app; B deploys into
/// `app`, Nginx switches to it, A is drained and stopped, `latest` moves, and the sha- images
/// beyond the newest KEEP_IMAGES are removed, never the running one. The load loop runs through
/// Nginx for the whole of the failed deploy and of B's, and not one request fails.
fn deploy(stack: &Stack, a: &str, b: &str, broken: &str) {
    let latest = format!("{}:latest", stack.image);
    let (a_id, b_id) = (stack.image_id(a), stack.image_id(b));
    let before = stack.app();
    assert_eq!(before.image_id, a_id, "{before:?}");
    assert_eq!(stack.live(), "app-green");

    stack.sql(&format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ({FUTURE_MIGRATION}, 'from a later release', true, '\\x00', 0)"
    ));
    let run = stack.run("deploy.sh", &[&format!("sha-{SHA_B}")]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("1/6 backup") && run.stdout.contains("3/6 migrations of"), "{run:?}");
    assert!(run.stderr.contains(&format!("deploy failed: the migrations of {b} did not succeed")), "{run:?}");
    assert!(!run.stdout.contains("4/6"), "{run:?}");
    assert_eq!(stack.app(), before, "the running app was not touched");
    assert_eq!(stack.image_id(&latest), a_id);
    stack.sql(&format!("DELETE FROM _sqlx_migrations WHERE version = {FUTURE_MIGRATION}"));

    // The new app never becomes ready: removed, and Nginx never leaves A.
    let upstream = stack.upstream();
    let mut c = stack.script("deploy.sh", &[&format!("sha-{SHA_BROKEN}")]);
    c.env("DEPLOY_TIMEOUT", "20");
    let (run, load) = under_load(stack, "failed deploy (rolls back)", c);
    assert_no_request_dropped("failed deploy", &run, &load);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains(&format!("4/6 starting {broken} as app, beside app-green")), "{run:?}");
    assert!(run.stderr.contains("the new app (app) is not healthy"), "{run:?}");
    assert!(run.stderr.contains("WORKER_THREADS"), "the new app's log says why: {run:?}");
    assert!(
        run.stderr.contains(
            "did not become ready within 20 s; rolled back: it was removed, and Nginx still sends every \
             request to app-green"
        ),
        "{run:?}"
    );
    assert!(!run.stdout.contains("5/6"), "{run:?}");
    assert_eq!(stack.upstream(), upstream, "the upstream file is untouched");
    assert_eq!(stack.app(), before, "A serves on, the only app container");
    assert_eq!(stack.image_id(&latest), a_id, "latest still names A");

    // `nginx -t` fails (Nginx's configuration is broken elsewhere): the upstream file is put
    // back as it was, Nginx is not reloaded, and the new app is removed.
    let broken_conf = stack.dir.write("proxy/broken.conf", "events {}\nhttp {\n    gzip onn;\n}\n");
    let mut c = stack.script("deploy.sh", &[SHA_B]);
    c.env("NGINX_TEST", format!("{} -q -t -c {}", stack.nginx_command(""), broken_conf.display()));
    let run = support::run(c);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("5/6 switching Nginx from app-green to app"), "{run:?}");
    assert!(run.stderr.contains("invalid value \"onn\""), "nginx -t says why: {run:?}");
    assert!(run.stderr.contains("the upstream file is put back"), "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "deploy failed: Nginx could not be switched to {b}; the new app was removed, and Nginx still sends \
             every request to app-green"
        )),
        "{run:?}"
    );
    assert_eq!(stack.upstream(), upstream, "the upstream file is as it was");
    assert_eq!(stack.app(), before, "A serves on, the only app container");
    assert_eq!(stack.image_id(&latest), a_id, "latest still names A");
    let names = names(&stack.path("nginx"));
    assert_eq!(names, ["clicknback-upstream.conf"], "no temporary file is left");

    // B, by its bare commit; keep 2 sha- images: the broken one and B are the newest.
    let mut c = stack.script("deploy.sh", &[SHA_B]);
    c.env("KEEP_IMAGES", "2");
    let (run, load) = under_load(stack, "deploy", c);
    assert_no_request_dropped("deploy", &run, &load);
    assert_eq!(run.code, 0, "{run:?}");
    let steps: Vec<&str> = run.stdout.lines().filter(|l| l.chars().nth(1) == Some('/')).collect();
    assert_eq!(steps.len(), 6, "{run:?}");
    assert!(run.stdout.contains(&format!("4/6 starting {b} as app, beside app-green")), "{run:?}");
    assert!(run.stdout.contains(&format!("Nginx sends requests to app (127.0.0.1:{})", stack.app_port)), "{run:?}");
    assert!(run.stdout.contains(&format!("draining app-green for {DRAIN_SECONDS} s")), "{run:?}");
    assert!(run.stdout.contains(&format!("deployed {b} as app in ")), "{run:?}");
    assert_switched_to(stack, "app", stack.app_port);
    let after = stack.app();
    assert_eq!((after.image_id.as_str(), after.revision.as_str()), (b_id.as_str(), SHA_B), "{after:?}");
    assert_eq!(stack.image_id(&latest), b_id, "latest names B");
    assert!(run.stdout.contains(&format!("removed {a}\n")), "A is the oldest: {run:?}");
    let tags = ok(stack.docker(&["image", "ls", &stack.image, "--format", "{{.Tag}}"]));
    assert!(!tags.lines().any(|t| t == format!("sha-{SHA_A}")), "{tags}");
    assert!(
        tags.lines().any(|t| t == format!("sha-{SHA_B}")) && tags.lines().any(|t| t == format!("sha-{SHA_BROKEN}"))
    );

    // What deploy.sh did before, for comparison: the serving app recreated in place
    // (`up --wait` with the new image). The same loop sees the requests that drops, so a
    // deploy that drops requests cannot pass the checks above.
    let mut c = stack.compose_green(&["up", "-d", "--no-build", "--no-deps", "--force-recreate", "--wait", "app"]);
    c.env("APP_IMAGE", b);
    let (run, load) = under_load(stack, "the app recreated in place (the single-container deploy)", c);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        !load.failed.is_empty(),
        "the loop saw no failure while the only app was recreated ({} requests)",
        load.sent
    );
}

// ----------------------------------------------------------------------------------------
// What a real engine cannot show

/// Whether the `docker` CLI is installed (an engine need not answer).
fn docker_cli(test: &str) -> bool {
    if Command::new("docker").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    assert!(!support::in_ci(), "{test}: CI is set, and this test needs the `docker` CLI");
    eprintln!("skipped {test}: the `docker` CLI is not installed");
    false
}

#[test]
fn with_no_engine_running_each_script_fails_before_changing_anything() {
    if !docker_cli("with_no_engine_running_each_script_fails_before_changing_anything") {
        return;
    }
    // The real CLI, at a socket where no engine listens.
    let deploy = Deploy::new("ops-no-engine");
    let no_engine = |mut c: Command| {
        c.env("DOCKER_HOST", format!("unix://{}", deploy.path("no-engine.sock").display()))
            .env_remove("DOCKER_CONTEXT");
        support::run(c)
    };
    let old = old_file(&deploy.backups(), "clicknback-20251201-030000.sql.gz", 10 * 24);

    let run = no_engine(deploy.script("backup.sh", &[]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Cannot connect to the Docker daemon"), "{run:?}");
    assert!(run.stderr.contains("backup failed: pg_dump of database 'ops_db'"), "{run:?}");
    assert!(run.stderr.contains("no backup written"), "{run:?}");
    assert_eq!(names(&deploy.backups()), ["clicknback-20251201-030000.sql.gz"], "no partial file; nothing removed");
    assert_eq!(std::fs::read_to_string(&old).unwrap(), "an old backup");

    // A whole backup, to get as far as the engine.
    let backup = deploy.backups().join("clicknback-20251202-030000.sql.gz");
    let mut gz = Command::new("gzip").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    gz.stdin.take().unwrap().write_all(b"SELECT 1;\n-- PostgreSQL database dump complete\n").unwrap();
    std::fs::write(&backup, gz.wait_with_output().unwrap().stdout).unwrap();
    let run = no_engine(deploy.script("restore-check.sh", &[]));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("restore-check.sh: no Docker engine answers"), "{run:?}");
    std::fs::remove_file(&backup).unwrap();

    let run = no_engine(deploy.script("deploy.sh", &[SHA_B]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("deploy failed: the backup did not succeed; nothing was changed"), "{run:?}");
    assert!(!run.stdout.contains("2/6"), "{run:?}");

    let run = no_engine(deploy.script("demo-reset.sh", &[]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("the database was NOT reset"), "{run:?}");
    assert!(!run.stdout.contains("2/4"), "{run:?}");

    let run = no_engine(deploy.script("rollback.sh", &[&format!("sha-{SHA_A}")]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(&format!("rollback failed: cannot look for {}:sha-{SHA_A} on this server: ", deploy.image)),
        "the engine's error, not a pull: {run:?}"
    );
    assert!(run.stderr.contains("Cannot connect to the Docker daemon"), "{run:?}");
    assert!(!run.stdout.contains("pulling") && !run.stdout.contains("2/5"), "{run:?}");
}

/// A deploy folder (`deploy/`) with the stand-in `docker` first on PATH
/// (`support::OPS_DOCKER_STANDIN`), for what needs no engine or a docker that a real engine
/// cannot be; with a stand-in `date` giving `now` (YYYYmmdd-HHMMSS) when set.
fn ops_standin(now: Option<&str>) -> StandIn {
    let mut ops = StandIn::new("ops-standin").program("bin/docker", support::OPS_DOCKER_STANDIN);
    if let Some(now) = now {
        ops = ops.program("bin/date", &format!("#!/bin/bash\necho {now}\n"));
    }
    ops.write("deploy/docker-compose.yml", "services: {}\n");
    ops.write("deploy/nginx/clicknback-upstream.conf", read_repo("deploy/nginx/clicknback-upstream.conf"));
    ops.env_path("DEPLOY_DIR", "deploy")
}

/// `bash scripts/<name> args…` (see [`script`]) on the stand-ins' deploy folder.
fn ops_script(ops: &StandIn, name: &str, args: &[&str]) -> Command {
    let mut c = script(name, args);
    ops.on(&mut c);
    c
}

fn ops_run(ops: &StandIn, name: &str, args: &[&str]) -> Run {
    support::run(ops_script(ops, name, args))
}

/// Where backup.sh writes in the stand-ins' deploy folder.
fn ops_backups(ops: &StandIn) -> PathBuf {
    ops.path("deploy/backups")
}

/// `docker compose -f <the deploy folder's compose file> args`, as the stand-in logs it.
fn logged_compose(ops: &StandIn, args: &str) -> String {
    format!("docker compose -f {} {args}", ops.path("deploy/docker-compose.yml").display())
}

#[test]
fn with_compose_v1_only_each_script_stops_before_changing_anything() {
    // `docker compose` is not a command there; every other docker command works.
    let ops = ops_standin(None);
    ops.set("fail-compose", true);

    let run = ops_run(&ops, "backup.sh", &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("backup failed: pg_dump of database 'clicknback'"), "{run:?}");
    assert_eq!(names(&ops_backups(&ops)), Vec::<String>::new(), "the partial dump is not kept");

    let run = ops_run(&ops, "demo-reset.sh", &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("the database was NOT reset"), "{run:?}");

    let image = format!("ghcr.io/jerosanchez/clicknback:sha-{SHA_A}");
    let run = ops_run(&ops, "rollback.sh", &[&format!("sha-{SHA_A}")]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains(&format!("rollback failed: the migrate service of {image} failed")), "{run:?}");
    assert!(run.stderr.contains("The running app was left as it was."), "{run:?}");
    let pg_dump = logged_compose(&ops, "exec -T db pg_dump -U clicknback -d clicknback");
    assert_eq!(
        ops.log(),
        [
            pg_dump.clone(),
            pg_dump,
            format!("docker image inspect {image}"),
            format!("APP_IMAGE={image} {}", logged_compose(&ops, "--profile green run --rm migrate")),
        ],
        "no drop after the failed backups; no tag and no up after the failed migrations check"
    );
}

// ----------------------------------------------------------------------------------------
// Arguments and --help: no docker runs

#[test]
fn backup_refuses_to_overwrite_an_existing_backup() {
    let ops = ops_standin(Some("20260102-030405"));
    let existing = ops.write("deploy/backups/clicknback-20260102-030405.sql.gz", "the earlier backup");

    let run = ops_run(&ops, "backup.sh", &[]);

    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("already exists; not overwriting it"), "{run:?}");
    assert_eq!(std::fs::read_to_string(existing).unwrap(), "the earlier backup");
    assert_eq!(names(&ops_backups(&ops)), ["clicknback-20260102-030405.sql.gz"]);
    assert!(ops.log().is_empty(), "no dump taken: {:?}", ops.log());
}

#[test]
fn backup_refuses_wrong_retention_settings_and_the_retired_retention_days_before_dumping() {
    let ops = ops_standin(None);
    let old = ops.write("deploy/backups/clicknback-20200101-030000.sql.gz", "an old backup");
    for (var, value, why) in [
        ("KEEP_DAILY", "seven", "KEEP_DAILY must be a whole number"),
        ("KEEP_WEEKLY", "-1", "KEEP_WEEKLY must be a whole number"),
        ("KEEP_MONTHLY", "12m", "KEEP_MONTHLY must be a whole number"),
        ("KEEP_DAILY", "07", "KEEP_DAILY must be a whole number"),
        ("RETENTION_DAYS", "7", "RETENTION_DAYS=7 is no longer read"),
        ("OFFSITE_PORT", "ssh", "OFFSITE_PORT must be a port number"),
        ("OFFSITE_DIR", "backups; rm -rf ~", "OFFSITE_DIR must be a path of letters"),
        ("OFFSITE_IDENTITY", "/no/such/key", "OFFSITE_IDENTITY=/no/such/key is not a readable private key"),
    ] {
        for script in ["backup.sh", "prune-backups.sh"] {
            if var.starts_with("OFFSITE_") && script == "prune-backups.sh" {
                continue;
            }
            let mut c = ops_script(&ops, script, &[]);
            c.env(var, value).env("OFFSITE_HOST", "backup.example.com");

            let run = support::run(c);

            assert_eq!(run.code, 2, "{script} with {var}={value}: {run:?}");
            assert!(run.stderr.contains(&format!("{script}: {why}")), "{script} with {var}={value}: {run:?}");
        }
    }
    let mut c = ops_script(&ops, "backup.sh", &[]);
    c.env("KEEP_DAILY", "0").env("KEEP_WEEKLY", "0").env("KEEP_MONTHLY", "0");
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("are all 0, which would keep no backup at all"), "{run:?}");
    let run = ops_run(&ops, "backup.sh", &[]);
    assert_eq!(run.code, 0, "the same folder, with the defaults: {run:?}");
    let log = ops.log();
    assert_eq!(log.len(), 1, "only the last run dumped: {log:?}");
    assert!(old.exists(), "its only other backup is the oldest, kept while a rule has count left");
}

/// The names of a year and more of backups: one at 03:00 every day from 2025-02-01 to
/// 2026-03-14, except from 2025-06-10 to 2025-07-20, all of August 2025, and 2026-03-10 and 11
/// (the server was down), and more on some days: deploys at 11:42:07 and 17:05:33 on
/// Saturday 2026-03-14 and at 22:10 on Sunday 2026-03-08; then the one just written, Sunday
/// 2026-03-15 03:00, and one from 2024-12-31 23:59:59.
fn a_year_of_backups() -> Vec<String> {
    fn days_in_month(year: u32, month: u32) -> u32 {
        match month {
            2 if year.is_multiple_of(4) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }
    let mut names = Vec::new();
    for (year, month) in (2..=12).map(|m| (2025, m)).chain((1..=3).map(|m| (2026, m))) {
        for day in 1..=days_in_month(year, month) {
            let date = (year, month, day);
            let down = ((2025, 6, 10)..=(2025, 7, 20)).contains(&date)
                || (year, month) == (2025, 8)
                || [(2026, 3, 10), (2026, 3, 11)].contains(&date)
                || date > (2026, 3, 14);
            if !down {
                names.push(format!("clicknback-{year}{month:02}{day:02}-030000.sql.gz"));
            }
        }
    }
    for extra in ["20260314-114207", "20260314-170533", "20260308-221000", "20260315-030000", "20241231-235959"] {
        names.push(format!("clicknback-{extra}.sql.gz"));
    }
    names
}

/// prune-backups.sh over a year and more of backups (made here, all with the mtime of now):
/// restic's `forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12` keeps exactly these, by
/// the UTC time in the names; nothing else in the folder is touched; --dry-run removes nothing.
#[test]
fn retention_keeps_7_daily_4_weekly_12_monthly_over_a_year_of_backups() {
    let dir = Scratch::new("ops-retention");
    let backups = dir.path("backups");
    let all = a_year_of_backups();
    assert_eq!(all.len(), 338);
    for name in &all {
        dir.write(&format!("backups/{name}"), name);
    }
    // Not backups of backup.sh's: never touched. A name whose time is not a real one (30
    // February) is reported and left alone, and so is a folder with a backup's name.
    let foreign = [
        ".clicknback-backup.Ab12Cd",
        "clicknback-20250101-030000.sql.gz.keep",
        "clicknback-20250230-030000.sql.gz",
        "clicknback-manual.sql.gz",
        "notes.txt",
        "other-20250101-030000.sql.gz",
    ];
    for name in foreign {
        dir.write(&format!("backups/{name}"), "not a backup of backup.sh's");
    }
    std::fs::create_dir(backups.join("clicknback-20250102-030000.sql.gz")).unwrap();
    let kept = [
        // The newest backup of each of the last 7 days that have one (not the 10th and 11th):
        "clicknback-20260315-030000.sql.gz", // also the weekly of ISO week 11 and the monthly of March
        "clicknback-20260314-170533.sql.gz", // the newest of three that day
        "clicknback-20260313-030000.sql.gz",
        "clicknback-20260312-030000.sql.gz",
        "clicknback-20260309-030000.sql.gz",
        "clicknback-20260308-221000.sql.gz", // also the weekly of week 10 (Monday 2 to Sunday 8)
        "clicknback-20260307-030000.sql.gz",
        // The newest of each of the last 4 ISO weeks: weeks 11 and 10 above, then 9 and 8.
        "clicknback-20260301-030000.sql.gz",
        "clicknback-20260222-030000.sql.gz",
        // The newest of each of the last 12 months that have one: March 2026 above, then
        // these 11 (August 2025 has none, so the twelfth is March 2025; June's is the 9th).
        "clicknback-20260228-030000.sql.gz",
        "clicknback-20260131-030000.sql.gz",
        "clicknback-20251231-030000.sql.gz",
        "clicknback-20251130-030000.sql.gz",
        "clicknback-20251031-030000.sql.gz",
        "clicknback-20250930-030000.sql.gz",
        "clicknback-20250731-030000.sql.gz",
        "clicknback-20250609-030000.sql.gz",
        "clicknback-20250531-030000.sql.gz",
        "clicknback-20250430-030000.sql.gz",
        "clicknback-20250331-030000.sql.gz",
    ];
    let removed: Vec<&String> = all.iter().filter(|n| !kept.contains(&n.as_str())).collect();
    assert_eq!(removed.len(), 318);
    let mut survivors: Vec<String> = kept.iter().chain(foreign.iter()).map(|n| (*n).to_owned()).collect();
    survivors.push("clicknback-20250102-030000.sql.gz".to_owned());
    survivors.sort();
    let before = names(&backups);

    let run = support::run(script("prune-backups.sh", &["--dry-run", backups.to_str().unwrap()]));

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(names(&backups), before, "a dry run removes nothing");
    for name in &removed {
        assert!(run.stdout.contains(&format!("would remove {}\n", backups.join(name).display())), "{name}: {run:?}");
    }
    assert!(run.stdout.contains(&format!("keep         {} (daily,weekly,monthly)\n", backups.join(kept[0]).display())));
    assert!(run.stdout.contains(&format!("keep         {} (weekly)\n", backups.join(kept[7]).display())));
    assert!(run.stdout.contains(&format!("keep         {} (monthly)\n", backups.join(kept[19]).display())));
    assert_eq!(run.stdout.matches("would remove ").count(), 318, "{run:?}");
    assert!(run.stdout.contains("dry run: 20 backups would be kept and 318 removed in"), "{run:?}");

    let mut c = script("prune-backups.sh", &[]);
    c.env("BACKUP_DIR", &backups);
    let run = support::run(c);

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(names(&backups), survivors, "exactly these survive, and every file that is not a backup");
    for name in &removed {
        let line =
            format!("removed backup {} (retention: 7 daily, 4 weekly, 12 monthly)\n", backups.join(name).display());
        assert!(run.stdout.contains(&line), "each removal is named: {name}: {run:?}");
    }
    assert_eq!(run.stdout.matches("removed backup ").count(), 318, "{run:?}");
    assert!(run.stdout.contains("retention: 20 backups kept, 318 removed in"), "{run:?}");
    assert!(run.stderr.contains("clicknback-20250230-030000.sql.gz does not name a real UTC time; left alone"));
    for name in foreign.iter().filter(|n| **n != "clicknback-20250230-030000.sql.gz") {
        assert_eq!(std::fs::read_to_string(backups.join(name)).unwrap(), "not a backup of backup.sh's", "{name}");
    }

    // Again: nothing more to remove.
    let run = support::run(script("prune-backups.sh", &[backups.to_str().unwrap()]));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("retention: 20 backups kept, 0 removed in"), "{run:?}");
    assert_eq!(names(&backups), survivors);
}

/// While a rule still has count left at the oldest backup, the oldest is kept too (restic
/// 0.17's rule), and a rule of 0 is off.
#[test]
fn retention_keeps_the_oldest_backup_while_a_rule_has_count_left() {
    let dir = Scratch::new("ops-retention-oldest");
    let backups = dir.path("backups");
    for name in ["20260315-030000", "20260315-010000", "20260314-030000", "20260314-010000"] {
        dir.write(&format!("backups/clicknback-{name}.sql.gz"), name);
    }
    let mut c = script("prune-backups.sh", &[backups.to_str().unwrap()]);
    c.env("KEEP_DAILY", "7").env("KEEP_WEEKLY", "0").env("KEEP_MONTHLY", "0");

    let run = support::run(c);

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        names(&backups),
        ["clicknback-20260314-010000.sql.gz", "clicknback-20260314-030000.sql.gz", "clicknback-20260315-030000.sql.gz"],
        "the newest of each day, and the oldest: {run:?}"
    );
    assert!(run.stdout.contains("retention: 3 backups kept, 1 removed in"), "{run:?}");

    // One daily backup: the count is used up by the newest, so the oldest goes.
    let mut c = script("prune-backups.sh", &[backups.to_str().unwrap()]);
    c.env("KEEP_DAILY", "1").env("KEEP_WEEKLY", "0").env("KEEP_MONTHLY", "0");
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(names(&backups), ["clicknback-20260315-030000.sql.gz"], "{run:?}");

    for args in [vec!["--force"], vec!["a", "b"]] {
        let run = support::run(script("prune-backups.sh", &args));
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
    }
    let run = support::run(script("prune-backups.sh", &[dir.path("none").to_str().unwrap()]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("is not a folder"), "{run:?}");
}

#[test]
fn demo_reset_changes_nothing_when_the_seed_file_is_missing() {
    let ops = ops_standin(None);
    let mut c = ops_script(&ops, "demo-reset.sh", &[]);
    c.env("SEED_FILE", ops.path("no/such/all.sql"));

    let run = support::run(c);

    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("cannot be read; nothing was changed"), "{run:?}");
    assert!(ops.log().is_empty(), "{:?}", ops.log());
}

#[test]
fn rollback_rejects_anything_but_a_full_commit_tag() {
    let ops = ops_standin(None);
    let short = format!("sha-{}", &SHA_MISSING[..39]);
    let upper = format!("sha-{}", SHA_MISSING.to_uppercase());
    let long = format!("sha-{SHA_MISSING}0");
    let injected = format!("sha-{SHA_MISSING};reboot");
    for args in [
        vec!["latest"],
        vec!["sha-abc123"],
        vec![short.as_str()],
        vec![upper.as_str()],
        vec![long.as_str()],
        vec![injected.as_str()],
        vec!["sha-"],
        vec![],
        vec![SHA_MISSING, "extra"],
    ] {
        let run = ops_run(&ops, "rollback.sh", &args);

        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains("rollback.sh") || run.stderr.contains("Usage"), "{args:?}: {run:?}");
    }
    assert!(ops.log().is_empty(), "docker never ran: {:?}", ops.log());
}

/// deploy.sh and rollback.sh need the upstream file, naming the app that serves, to switch
/// Nginx: without it (or with settings that cannot work) they stop before anything runs, with
/// exit 2 and the fix.
#[test]
fn deploy_and_rollback_refuse_to_start_without_a_way_to_switch_nginx() {
    let ops = ops_standin(None);
    let upstream = ops.path("deploy/nginx/clicknback-upstream.conf");
    let template = std::fs::read_to_string(&upstream).unwrap();
    for name in ["deploy.sh", "rollback.sh"] {
        let mut c = ops_script(&ops, name, &[SHA_A]);
        c.env("DRAIN_SECONDS", "ten");
        let run = support::run(c);
        assert_eq!(run.code, 2, "{name}: {run:?}");
        assert!(run.stderr.contains(&format!("{name}: DRAIN_SECONDS must be whole seconds, not 'ten'")), "{run:?}");

        let mut c = ops_script(&ops, name, &[SHA_A]);
        c.env("NGINX_UPSTREAM", ops.path("deploy/nginx/missing.conf"));
        let run = support::run(c);
        assert_eq!(run.code, 2, "{name}: {run:?}");
        assert!(
            run.stderr.contains("missing.conf cannot be read: install deploy/nginx/clicknback-upstream.conf"),
            "{run:?}"
        );

        std::fs::write(&upstream, template.replace("# service: app\n", "# service: blue\n")).unwrap();
        let run = ops_run(&ops, name, &[SHA_A]);
        assert_eq!(run.code, 2, "{name}: {run:?}");
        assert!(run.stderr.contains("does not say which app serves"), "{run:?}");
        std::fs::write(&upstream, &template).unwrap();
    }
    assert!(ops.log().is_empty(), "docker never ran: {:?}", ops.log());
}

#[test]
fn every_script_is_executable_strict_bash_with_help() {
    let ops = ops_standin(None);
    for name in [
        "backup.sh",
        "demo-reset.sh",
        "rollback.sh",
        "restore-check.sh",
        "deploy.sh",
        "prune-backups.sh",
        "offsite-copy.sh",
        "offsite-fetch.sh",
    ] {
        let path = script_path(name);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{name} is executable");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("#!/usr/bin/env bash\n"), "{name}");
        assert!(text.contains("\nset -euo pipefail\n"), "{name}");

        let run = ops_run(&ops, name, &["--help"]);

        assert_eq!(run.code, 0, "{name}: {run:?}");
        assert!(run.stdout.starts_with(&format!("Usage: {name}")), "{name}: {run:?}");
    }
    let help = ops_run(&ops, "rollback.sh", &["--help"]).stdout;
    assert!(help.contains("the copy on this server if there is one"), "{help}");
    assert!(ops.log().is_empty(), "--help runs nothing: {:?}", ops.log());
}

/// One cron time field: `*`, or a comma list of values and ranges (`a-b`), each with an
/// optional `/step`, within `min..=max`.
fn cron_field_ok(field: &str, min: u32, max: u32) -> bool {
    field.split(',').all(|part| {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0).map(|_| ())),
            None => (part, Some(())),
        };
        let in_range = |v: &str| v.parse::<u32>().is_ok_and(|v| (min..=max).contains(&v));
        step.is_some()
            && (range == "*"
                || in_range(range)
                || range
                    .split_once('-')
                    .is_some_and(|(a, b)| in_range(a) && in_range(b) && a.parse::<u32>().ok() <= b.parse().ok()))
    })
}

/// deploy/crontab, as `crontab deploy/crontab` installs it: valid lines, scripts that exist
/// here and are executable, every output appended to ops.log, the restore check run after
/// the job that writes the backup, whether or not that job succeeded, and once a month on the
/// off-site copy.
#[test]
fn the_crontab_runs_these_scripts_and_checks_each_backup_it_writes() {
    assert!(cron_field_ok("*/15", 0, 59) && cron_field_ok("1-5", 0, 7) && cron_field_ok("0,30", 0, 59));
    assert!(!cron_field_ok("60", 0, 59) && !cron_field_ok("5-1", 0, 7) && !cron_field_ok("*/0", 0, 59));
    let text = std::fs::read_to_string(support::workspace_root().join("deploy/crontab")).unwrap();
    let mut jobs = Vec::new();
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((name, _)) = line.split_once('=')
            && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.len() > 5, "deploy/crontab:{n}: five time fields and a command: {line}");
        for (field, (min, max)) in fields[..5].iter().zip([(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]) {
            assert!(cron_field_ok(field, min, max), "deploy/crontab:{n}: `{field}` is not a valid time field");
        }
        jobs.push((n, fields[..5].join(" "), line.split_whitespace().skip(5).collect::<Vec<_>>().join(" ")));
    }
    assert!(!jobs.is_empty());
    let mut writes_backup_then_checks = false;
    let mut checks_offsite_monthly = false;
    for (n, when, command) in &jobs {
        let steps: Vec<&str> = command.split(';').map(str::trim).collect();
        let mut wrote_backup = false;
        for step in &steps {
            let script = step.split_whitespace().next().unwrap();
            let name = script
                .strip_prefix("/opt/clicknback/scripts/")
                .unwrap_or_else(|| panic!("deploy/crontab:{n}: `{script}` is not one of the deployed scripts"));
            let mode = std::fs::metadata(script_path(name)).map(|m| m.permissions().mode());
            assert!(mode.is_ok_and(|m| m & 0o111 != 0), "deploy/crontab:{n}: scripts/{name} is not an executable here");
            assert!(
                step.ends_with(">>/opt/clicknback/ops.log 2>&1"),
                "deploy/crontab:{n}: `{step}` must append to ops.log"
            );
            if name == "restore-check.sh" && step.split_whitespace().nth(1) == Some("--offsite") {
                // Once a month, every month: a minute, an hour and one day of the month.
                let when: Vec<&str> = when.split(' ').collect();
                let day = when[2].parse::<u32>().unwrap_or(0);
                assert!(
                    when[0].parse::<u32>().is_ok() && when[1].parse::<u32>().is_ok() && (1..=28).contains(&day),
                    "deploy/crontab:{n}: the off-site restore test runs on one day of every month"
                );
                assert_eq!(&when[3..], ["*", "*"], "deploy/crontab:{n}: every month, whatever the weekday");
                checks_offsite_monthly = true;
            } else if name == "restore-check.sh" {
                assert!(wrote_backup, "deploy/crontab:{n}: the restore check runs after the job that writes a backup");
                writes_backup_then_checks = true;
            }
            wrote_backup |= ["backup.sh", "demo-reset.sh"].contains(&name);
        }
    }
    assert!(writes_backup_then_checks, "the nightly backup is followed by the restore check");
    assert!(checks_offsite_monthly, "a monthly restore test of the off-site copy");
}

// ----------------------------------------------------------------------------------------
// Off-site copies, against a real sshd

/// The off-site host of the tests: Debian's openssh-server and rsync, login by key only for
/// the user `offsite`, the host key and the authorized key the test made. A `sha256sum` in
/// /usr/local/bin (first on sshd's PATH) first appends a byte to each `.incoming-*` file it is
/// given while /tmp/corrupt exists: a copy damaged on the host's disk, which the real
/// sha256sum then reads.
const SSHD_DOCKERFILE: &str = r#"FROM debian:trixie-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-server rsync \
 && rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_* \
 && useradd --create-home --shell /bin/bash --password '*' offsite \
 && mkdir -p /run/sshd /home/offsite/.ssh
COPY offsite.conf /etc/ssh/sshd_config.d/offsite.conf
COPY ssh_host_ed25519_key ssh_host_ed25519_key.pub /etc/ssh/
COPY authorized_keys /home/offsite/.ssh/authorized_keys
COPY sha256sum /usr/local/bin/sha256sum
RUN chmod 600 /etc/ssh/ssh_host_ed25519_key && chmod 755 /usr/local/bin/sha256sum \
 && chown -R offsite:offsite /home/offsite/.ssh && chmod 700 /home/offsite/.ssh \
 && chmod 600 /home/offsite/.ssh/authorized_keys
EXPOSE 22
CMD ["/usr/sbin/sshd", "-D", "-e"]
"#;

/// Key logins only, for `offsite` only, with the test's host key.
const SSHD_CONFIG: &str = "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\n\
                           KbdInteractiveAuthentication no\nPermitRootLogin no\nAllowUsers offsite\n";

const SHA256SUM_CORRUPTING: &str = r#"#!/bin/sh
if [ -e /tmp/corrupt ]; then
  for f in "$@"; do
    case "$f" in */.incoming-*) printf 'x' >> "$f" ;; esac
  done
fi
exec /usr/bin/sha256sum "$@"
"#;

/// The off-site folder there (OFFSITE_DIR's default, under the user's home).
const OFFSITE_FOLDER: &str = "/home/offsite/backups/clicknback";

/// An ed25519 key pair made by ssh-keygen, without a passphrase: the private key's path and
/// the public key (`type key`).
fn ssh_key(dir: &Scratch, name: &str) -> (PathBuf, String) {
    let path = dir.path(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut c = Command::new("ssh-keygen");
    c.args(["-q", "-t", "ed25519", "-N", "", "-C", "xtask-offsite-test", "-f"]).arg(&path);
    ok(c);
    let public = std::fs::read_to_string(format!("{}.pub", path.display())).unwrap();
    let public = public.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    (path, public)
}

/// An sshd container on the engine, published on a loopback port, with a known_hosts file
/// that pins its host key and a key that logs in. Dropping it removes the container and the
/// image.
struct Sshd {
    dir: Scratch,
    name: String,
    image: String,
    port: u16,
    identity: PathBuf,
    known_hosts: PathBuf,
}

impl Sshd {
    fn start() -> Sshd {
        let dir = Scratch::new("ops-sshd");
        let name = format!("xtask-{}", dir.0.file_name().unwrap().to_string_lossy());
        let (identity, client_key) = ssh_key(&dir, "client_key");
        let (_, host_key) = ssh_key(&dir, "context/ssh_host_ed25519_key");
        dir.write("context/authorized_keys", format!("{client_key}\n"));
        dir.write("context/offsite.conf", SSHD_CONFIG);
        dir.write("context/sha256sum", SHA256SUM_CORRUPTING);
        dir.write("context/Dockerfile", SSHD_DOCKERFILE);
        let known_hosts = dir.path("known_hosts");
        let mut sshd = Sshd { image: format!("{name}:sshd"), name, port: 0, identity, known_hosts, dir };
        let mut c = Command::new("docker");
        c.args(["build", "--quiet", "--tag", &sshd.image]).arg(sshd.dir.path("context"));
        ok(c);
        let mut c = Command::new("docker");
        c.args(["run", "--detach", "--name", &sshd.name, "--publish", "127.0.0.1::22", &sshd.image]);
        ok(c);
        let mut c = Command::new("docker");
        c.args(["port", &sshd.name, "22/tcp"]);
        let published = ok(c);
        sshd.port = published.lines().find_map(|l| l.strip_prefix("127.0.0.1:")).and_then(|p| p.parse().ok()).unwrap();
        sshd.dir.write("known_hosts", format!("[127.0.0.1]:{} {host_key}\n", sshd.port));
        sshd.wait_for_login();
        sshd
    }

    /// Until the key logs in, with the host key checked (at most 30 s).
    fn wait_for_login(&self) {
        for _ in 0..60 {
            let mut c = Command::new("ssh");
            c.args(["-F", "/dev/null", "-p", &self.port.to_string(), "-i"])
                .arg(&self.identity)
                .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o"])
                .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
                .args(["offsite@127.0.0.1", "true"]);
            if c.output().is_ok_and(|o| o.status.success()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let mut c = Command::new("docker");
        c.args(["logs", &self.name]);
        panic!("the key never logged in to the sshd container; its log:\n{}", ok(c));
    }

    /// The off-site settings of the scripts for this host (OFFSITE_DIR: the default).
    fn env<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        c.env("OFFSITE_HOST", "127.0.0.1")
            .env("OFFSITE_USER", "offsite")
            .env("OFFSITE_PORT", self.port.to_string())
            .env("OFFSITE_IDENTITY", &self.identity)
            .env("OFFSITE_KNOWN_HOSTS", &self.known_hosts)
    }

    /// A command in the container, as `offsite`; its stdout.
    fn exec(&self, script: &str) -> String {
        let mut c = Command::new("docker");
        c.args(["exec", "--user", "offsite", &self.name, "bash", "-c", script]);
        ok(c)
    }

    /// The names in the off-site folder, hidden ones included.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.exec(&format!("ls -1A {OFFSITE_FOLDER}")).lines().map(str::to_owned).collect();
        names.sort();
        names
    }

    fn sha256(&self, name: &str) -> String {
        self.exec(&format!("sha256sum {OFFSITE_FOLDER}/{name}")).split_whitespace().next().unwrap().to_owned()
    }

    /// Removes the container and the image now, and checks that they are gone.
    fn remove(self) {
        let (name, image) = (self.name.clone(), self.image.clone());
        drop(self);
        for (kind, what) in [("container", name), ("image", image)] {
            let out = Command::new("docker").args([kind, "inspect", &what]).output().unwrap();
            assert!(!out.status.success(), "the {kind} {what} is removed");
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        for args in
            [["rm", "--force", "--volumes", self.name.as_str()], ["image", "rm", "--force", self.image.as_str()]]
        {
            if let Ok(out) = Command::new("docker").args(args).output()
                && !out.status.success()
            {
                eprintln!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}

fn local_sha256(path: &Path) -> String {
    let mut c = Command::new("sha256sum");
    c.arg(path);
    ok(c).split_whitespace().next().unwrap().to_owned()
}

/// A file named like a backup, of random bytes.
fn random_backup(dir: &Scratch, name: &str) -> PathBuf {
    dir.write(&format!("local/{name}"), random_hex(64 * 1024))
}

/// offsite-copy.sh, backup.sh, offsite-fetch.sh and restore-check.sh --offsite against a real
/// sshd in a container: a copy lands under its name with the same SHA-256 and the retention
/// prunes there; the newest copy is fetched and restored; a changed host key, an unknown one
/// and a copy damaged there fail, and so does a host that is down, each keeping the local
/// backup. The container and its image are removed afterwards.
#[test]
fn offsite_copies_to_a_real_sshd() {
    if !support::docker_engine("offsite_copies_to_a_real_sshd") {
        return;
    }
    let _engine = support::docker_lock();
    let sshd = Sshd::start();
    let host = format!("offsite@127.0.0.1:{}:backups/clicknback", sshd.port);
    let offsite_run = |script_name: &str, args: &[&str], keep_daily: &str| {
        let mut c = script(script_name, args);
        sshd.env(&mut c).env("KEEP_DAILY", keep_daily).env("KEEP_WEEKLY", "0").env("KEEP_MONTHLY", "0");
        support::run(c)
    };

    // Backups there already, and files that are not backups.
    sshd.exec(&format!(
        "mkdir -p {OFFSITE_FOLDER} && cd {OFFSITE_FOLDER} && for d in 01 02 03 04 05 06 07 08 09 10; do \
         echo old > clicknback-202603$d-030000.sql.gz; done && echo notes > README.txt && \
         echo manual > clicknback-manual.sql.gz"
    ));
    let local = Scratch::new("ops-offsite-local");
    let backup = random_backup(&local, "clicknback-20260311-030000.sql.gz");
    let sum = local_sha256(&backup);

    // A good copy: under its name, the same checksum, mode 600; three daily backups kept there.
    let run = offsite_run("offsite-copy.sh", &[backup.to_str().unwrap()], "3");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(&format!("verified on offsite@127.0.0.1 (sha256 {sum})")), "{run:?}");
    assert_eq!(sshd.sha256("clicknback-20260311-030000.sql.gz"), sum);
    assert_eq!(sshd.exec(&format!("stat -c %a {OFFSITE_FOLDER}/clicknback-20260311-030000.sql.gz")).trim(), "600");
    assert_eq!(
        sshd.names(),
        [
            "README.txt",
            "clicknback-20260309-030000.sql.gz",
            "clicknback-20260310-030000.sql.gz",
            "clicknback-20260311-030000.sql.gz",
            "clicknback-manual.sql.gz"
        ],
        "the retention there, on backups only; no temporary file left: {run:?}"
    );
    for day in 1..=8 {
        let line = format!(
            "removed off-site backup offsite@127.0.0.1:backups/clicknback/clicknback-202603{day:02}-030000.sql.gz"
        );
        assert!(run.stdout.contains(&line), "{line}: {run:?}");
    }
    assert!(run.stdout.contains("off-site retention: 3 backups kept, 8 removed"), "{run:?}");
    assert_eq!(local_sha256(&backup), sum, "the local backup is untouched");
    // Again: it is there already.
    let run = offsite_run("offsite-copy.sh", &[backup.to_str().unwrap()], "3");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("was there already, with the same checksum"), "{run:?}");

    // backup.sh copies each backup it writes (a stand-in docker's dump: a real, small one).
    let ops = ops_standin(Some("20260312-030000"));
    ops.write(
        "dump.sql",
        "CREATE TABLE offsite_probe (id integer PRIMARY KEY, note text);\n\
         INSERT INTO offsite_probe VALUES (1, 'copied off-site');\n-- PostgreSQL database dump complete\n",
    );
    let backup_run = |now: &str, keep_daily: &str| {
        ops.write("bin/date", format!("#!/bin/bash\necho {now}\n"));
        let mut c = ops_script(&ops, "backup.sh", &[]);
        sshd.env(&mut c).env("KEEP_DAILY", keep_daily).env("KEEP_WEEKLY", "0").env("KEEP_MONTHLY", "0");
        support::run(c)
    };
    let run = backup_run("20260312-030000", "3");
    assert_eq!(run.code, 0, "{run:?}");
    let written = ops_backups(&ops).join("clicknback-20260312-030000.sql.gz");
    assert!(run.stdout.contains("verified on offsite@127.0.0.1"), "{run:?}");
    assert!(!run.stdout.contains("not configured"), "{run:?}");
    assert_eq!(sshd.sha256("clicknback-20260312-030000.sql.gz"), local_sha256(&written));
    assert!(!sshd.names().contains(&"clicknback-20260309-030000.sql.gz".to_owned()), "pruned there: {run:?}");

    // The newest off-site backup, fetched and verified; then restored by the monthly test.
    let fetched = local.path("fetched");
    let run = offsite_run("offsite-fetch.sh", &[fetched.to_str().unwrap()], "3");
    assert_eq!(run.code, 0, "{run:?}");
    let copy = fetched.join("clicknback-20260312-030000.sql.gz");
    assert_eq!(run.stdout.lines().last(), Some(copy.to_str().unwrap()), "{run:?}");
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&written).unwrap());
    assert_eq!(names(&fetched), ["clicknback-20260312-030000.sql.gz"], "no temporary file left");
    let mut c = script("restore-check.sh", &["--offsite"]);
    sshd.env(&mut c).env("CHECK_TABLES", "offsite_probe").env("TMPDIR", &local.0);
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("  offsite_probe: 1 rows"), "{run:?}");
    assert!(run.stdout.contains("  restore time: "), "{run:?}");
    let restored = run.stdout.lines().find_map(|l| l.strip_prefix("restore check passed: ")).unwrap();
    assert!(restored.ends_with("/clicknback-20260312-030000.sql.gz"), "{run:?}");
    assert!(!Path::new(restored).parent().unwrap().exists(), "the fetched copy is removed afterwards");

    // A changed host key, and an unknown host: refused before anything is copied.
    let before = sshd.names();
    let other = Scratch::new("ops-offsite-other-key");
    let (_, other_key) = ssh_key(&other, "host_key");
    let changed = other.write("changed_known_hosts", format!("[127.0.0.1]:{} {other_key}\n", sshd.port));
    let unknown = other.write("empty_known_hosts", "");
    let late = random_backup(&local, "clicknback-20260313-030000.sql.gz");
    for (known_hosts, says) in
        [(&changed, "REMOTE HOST IDENTIFICATION HAS CHANGED"), (&unknown, "No ED25519 host key is known")]
    {
        let mut c = script("offsite-copy.sh", &[late.to_str().unwrap()]);
        sshd.env(&mut c).env("OFFSITE_KNOWN_HOSTS", known_hosts);
        let run = support::run(c);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stderr.contains(says) && run.stderr.contains("Host key verification failed"), "{run:?}");
        assert!(run.stderr.contains("off-site copy failed: cannot log in to offsite@127.0.0.1 or create"), "{run:?}");
        assert!(run.stderr.contains(&format!("({host}, ssh said above)")), "{run:?}");
        assert!(run.stderr.contains(&format!("{} is kept here", late.display())), "{run:?}");
        assert_eq!(sshd.names(), before, "nothing copied");
        assert!(late.exists());
    }

    // A copy damaged on the host's disk: its checksum there differs, so it is removed there.
    sshd.exec("touch /tmp/corrupt");
    let run = offsite_run("offsite-copy.sh", &[late.to_str().unwrap()], "3");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains(&format!("not {}: removed there", local_sha256(&late))), "{run:?}");
    assert!(run.stderr.contains(&format!("{} is kept here", late.display())), "{run:?}");
    assert_eq!(sshd.names(), before, "no damaged copy and no temporary file left there");
    sshd.exec("rm /tmp/corrupt");

    // The host down: backup.sh writes the backup, fails naming the host, and removes nothing
    // (one daily backup would leave only the new one).
    let mut c = Command::new("docker");
    c.args(["stop", "--time", "1", &sshd.name]);
    ok(c);
    let run = backup_run("20260314-030000", "1");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Connection refused"), "{run:?}");
    assert!(run.stderr.contains(&format!("({host}, ssh said above). Check that 127.0.0.1 is up")), "{run:?}");
    let kept = ops_backups(&ops).join("clicknback-20260314-030000.sql.gz");
    assert!(
        run.stderr.contains(&format!(
            "backup failed: the off-site copy to {host} did not succeed (see above); the backup {} is kept here, and no \
             old backup was removed",
            kept.display()
        )),
        "{run:?}"
    );
    assert_eq!(
        names(&ops_backups(&ops)),
        ["clicknback-20260312-030000.sql.gz", "clicknback-20260314-030000.sql.gz"],
        "the new backup is kept, and nothing removed"
    );
    let run = offsite_run("offsite-fetch.sh", &[local.path("fetched-down").to_str().unwrap()], "3");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("off-site fetch failed: cannot list backups/clicknback on offsite@127.0.0.1"),
        "{run:?}"
    );
    let mut c = script("restore-check.sh", &["--offsite"]);
    sshd.env(&mut c).env("TMPDIR", &local.0);
    let run = support::run(c);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("restore check failed: the newest off-site backup could not be fetched"), "{run:?}");

    sshd.remove();
}
