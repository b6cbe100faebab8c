//! `cargo xtask smoke`: the runbook's Dockerfile and compose smoke tests as one gate, on a
//! real Docker engine. It builds the app image from the working tree, starts the whole stack
//! (db → migrate → app) as a throwaway compose project of its own (its own name, volumes, free
//! host ports and variables; no `.env`), checks it the way the runbook does by hand, and
//! removes every container, network and volume of that project on every way out.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use colored::Colorize;

use crate::cache::{self, Answer, Inputs, Ran};
use crate::docker::{self, Compose, ThrowawayProject};
use crate::output::Level;
use crate::process::Cmd;
use crate::settings::ComposeSettings;
use crate::{Context, Outcome, http, interrupt, process};

mod image;

/// The prefix of the smoke gate's compose projects (`docker::throwaway_project`).
pub const PROJECT_PREFIX: &str = "xtask-smoke";
/// The stack has this long to become healthy (`up --wait-timeout`).
const UP_TIMEOUT: Duration = Duration::from_secs(180);
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Without its database the app must say "not ready" within this long.
const NOT_READY_WITHIN: Duration = Duration::from_secs(6);
const REGISTER_PATH: &str = "/api/v1/users";
const LOGIN_PATH: &str = "/api/v1/auth/login";

/// Flags of `cargo xtask smoke` (its help text is on the subcommand in main.rs).
#[derive(Debug, Default, clap::Args)]
pub struct SmokeArgs {}

/// One check's line: `✓ name — detail`, `✗ name — detail` or `– name: skipped (why)`.
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub verdict: Verdict,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
    /// Could not be checked because an earlier step failed.
    Skipped,
}

impl SmokeArgs {
    /// The gate, answered from the verdict cache when it can be (cache.rs).
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let answer = self.answer(cx);
        interrupt::exit_if_received();
        Ok(answer?.outcome)
    }

    /// [`SmokeArgs::run`], saying whether the cache answered; the caller ends the process when
    /// a signal arrived (`interrupt::exit_if_received`), once the output is no longer captured.
    pub fn answer(self, cx: &Context) -> Result<Answer> {
        let inputs = self.cache_inputs(cx);
        cache::through(cx, inputs, || Ok(Ran::from(self.run_uncached(cx)?)))
    }

    /// What the verdict depends on besides what every gate reads: the engine's version and the
    /// base images the build and the stack start from (their local ids). Without an engine the
    /// cache is not used: the gate fails (exit 2).
    pub fn cache_inputs(&self, cx: &Context) -> Option<Inputs> {
        // What it keeps of the image (`kept_image`): a replayed verdict needs them still there.
        let kept = crate::kept_image::dir(&cx.root);
        let inputs = Inputs::new("smoke", self)
            .output(kept.join(crate::kept_image::RECORD))
            .output(kept.join(crate::kept_image::SBOM));
        Some(match docker::docker() {
            // The gate fails, saying why.
            Err(_) => inputs.extra("Docker engine", "down").unusable("no Docker engine"),
            Ok(docker) => {
                let server = Cmd::new(&docker)
                    .args(["version", "--format", "{{.Server.Version}}"])
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .map_or_else(|| "unknown".to_owned(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
                let images: Vec<String> = base_images(cx)
                    .into_iter()
                    .map(|image| {
                        let id = docker::image_id(&docker, &image).unwrap_or_else(|| "absent".to_owned());
                        format!("{image} {id}")
                    })
                    .collect();
                inputs.extra("Docker server", server).extra("base images", images.join("\n"))
            }
        })
    }

    fn run_uncached(&self, cx: &Context) -> Result<Outcome> {
        let docker = docker::docker().map_err(|why| anyhow!(why))?;
        let file = docker::file(&cx.root, cx.settings.compose.file.as_deref()).map_err(|why| anyhow!("{why}"))?;
        let compose = Compose::find(&docker, &file)
            .ok_or_else(|| anyhow!("Docker Compose is missing: {}", docker::COMPOSE_INSTALL))?;
        if compose.standalone {
            require_compose_v2(&compose)?;
        }
        interrupt::install()?;
        let env = docker::render_env(&cx.settings.compose.env, &cx.settings.smoke.image)?;
        check_config(cx, &compose.throwaway(PROJECT_PREFIX, env.clone()))?;
        let started = Instant::now();
        let mut project = ThrowawayProject::new(&docker, &compose, PROJECT_PREFIX, env, "smoke", true);
        println!("smoke: a throwaway stack, compose project {} (removed afterwards)", project.project());
        let stack = Stack { compose: project.compose.clone(), docker };
        let checks = run_checks(cx, &stack);
        let removed = project.remove();
        // On a signal the caller ends the process, once the output is no longer captured.
        let checks = checks?;
        removed?;
        finish(cx, &checks, started.elapsed())
    }
}

/// What the checks need of the stack: its compose (a throwaway project) and `docker`.
struct Stack {
    compose: Compose,
    docker: std::path::PathBuf,
}

/// The compose file resolves with the throwaway variables and has the three services: else a
/// settings error (exit 2), before anything is built or started.
fn check_config(cx: &Context, compose: &Compose) -> Result<()> {
    let config = compose.config()?;
    let settings = &cx.settings.compose;
    for (key, service) in [
        ("db-service", &settings.db_service),
        ("migrate-service", &settings.migrate_service),
        ("app-service", &settings.app_service),
    ] {
        if config["services"].get(service).is_none() {
            bail!(
                "{} has no `{service}` service (`{key}` in [workspace.metadata.xtask.compose])",
                compose.file.display()
            );
        }
    }
    Ok(())
}

/// The standalone `docker-compose` must be a v2 binary: v1 has no `up --wait`.
fn require_compose_v2(compose: &Compose) -> Result<()> {
    let out = compose.checked(&["version", "--short"])?;
    let version = String::from_utf8_lossy(&out.stdout).trim().trim_start_matches('v').to_owned();
    let major: u32 = version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 2 {
        bail!(
            "the smoke gate needs Docker Compose v2 (`up --wait`), and only docker-compose {version} is installed: {}",
            docker::COMPOSE_INSTALL
        );
    }
    Ok(())
}

/// Every check, printed as it is decided. `Err` only for Ctrl-C and a compose program that
/// cannot be run at all.
fn run_checks(cx: &Context, stack: &Stack) -> Result<Vec<Check>> {
    let settings = &cx.settings.compose;
    let compose = &stack.compose;
    let mut checks = Vec::new();
    let mut record = |check: Check| {
        print_check(&check);
        checks.push(check);
    };

    // The image, from the working tree.
    println!("smoke: building the image {} (the first build takes minutes)…", cx.settings.smoke.image);
    let t = Instant::now();
    let before = docker::image_id(&stack.docker, &cx.settings.smoke.image);
    let build = interrupt::output(compose.command().arg("build"))?;
    interrupt::check()?;
    if build.status.success() {
        docker::drop_superseded(&stack.docker, before, docker::image_id(&stack.docker, &cx.settings.smoke.image));
    }
    if !build.status.success() {
        let tail = crate::process::last_lines(&process::text(&build), 30);
        record(failed("image builds", format!("`{}` failed ({}):\n{tail}", compose.shown("build"), build.status)));
        skip_after("image builds", "the image did not build", &mut record);
        return Ok(checks);
    }
    record(passed("image builds", format!("{} in {}", cx.settings.smoke.image, duration(t.elapsed()))));
    record(image_size(&stack.docker, &cx.settings.smoke.image, cx.settings.smoke.max_image_size_mb));
    record(image::keep(cx, &stack.docker, &cx.settings.smoke.image));

    // The stack: db → migrate → app.
    let wait = UP_TIMEOUT.as_secs().to_string();
    let up = interrupt::output(compose.command().args(["up", "-d", "--wait", "--wait-timeout", &wait]))?;
    interrupt::check()?;
    let services = compose.ps()?;
    let find = |name: &str| services.iter().find(|s| s.service == name);
    record(healthy("db healthy", find(&settings.db_service)));
    record(migrated(&stack.docker, find(&settings.migrate_service)));
    let app = find(&settings.app_service);
    record(healthy("app healthy", app));
    if !up.status.success() {
        println!("  `{}` failed ({}):", compose.shown("up -d --wait"), up.status);
        println!("{}", indent(&crate::process::last_lines(&process::text(&up), 15)));
        let logs = compose
            .command()
            .args(["logs", "--no-color", "--tail", "20", &settings.migrate_service, &settings.app_service])
            .output();
        if let Ok(logs) = logs {
            println!("  the last log lines of `{}` and `{}`:", settings.migrate_service, settings.app_service);
            println!("{}", indent(&process::text(&logs)));
        }
    }

    let Some(app) = app.filter(|a| a.state == "running") else {
        skip_after("app healthy", "the app is not running", &mut record);
        return Ok(checks);
    };
    record(non_root(&stack.docker, &app.name));
    let addr = match compose.published(&settings.app_service, settings.app_port) {
        Ok(addr) => addr,
        Err(e) => {
            let why = format!("port {} is not published: {e:#}", settings.app_port);
            skip_after("app runs as non-root", &why, &mut record);
            return Ok(checks);
        }
    };
    record(answers("liveness probe", addr, &settings.live_path));
    record(answers("readiness probe", addr, &settings.ready_path));
    record(round_trip(addr));
    interrupt::check()?;
    record(not_ready_without_db(compose, settings, addr)?);
    Ok(checks)
}

/// Every check, in order (for the ones skipped after a failure).
const CHECKS: [&str; 11] = [
    "image builds",
    "image size",
    image::CHECK,
    "db healthy",
    "migrate exited 0, not restarted",
    "app healthy",
    "app runs as non-root",
    "liveness probe",
    "readiness probe",
    "API round trip",
    "readiness without the database",
];

/// Records every check after `last` as skipped, saying why.
fn skip_after(last: &str, why: &str, record: &mut impl FnMut(Check)) {
    for name in CHECKS.iter().skip_while(|c| **c != last).skip(1) {
        record(skipped(name, why));
    }
}

fn passed(name: &'static str, detail: impl Into<String>) -> Check {
    Check { name, verdict: Verdict::Passed, detail: detail.into() }
}

fn failed(name: &'static str, detail: impl Into<String>) -> Check {
    Check { name, verdict: Verdict::Failed, detail: detail.into() }
}

fn skipped(name: &'static str, why: &str) -> Check {
    Check { name, verdict: Verdict::Skipped, detail: why.to_owned() }
}

fn image_size(docker: &std::path::Path, image: &str, budget_mb: u64) -> Check {
    let name = "image size";
    let out = Cmd::new(docker).args(["image", "inspect", "--format", "{{.Size}}", image]).output();
    let bytes = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().ok(),
        _ => None,
    };
    let Some(bytes) = bytes else { return failed(name, format!("`docker image inspect {image}` gave no size")) };
    let detail = format!("{} (budget {budget_mb} MB)", megabytes(bytes));
    if bytes > budget_mb * 1_000_000 {
        failed(name, format!("{detail}: over budget by {}", megabytes(bytes - budget_mb * 1_000_000)))
    } else {
        passed(name, detail)
    }
}

/// The id of the image a tag names, if it exists.
/// The images the smoke gate starts from: the Dockerfiles' `FROM` lines (not their stages,
/// not `scratch`) and the compose file's `image:` lines (not the one it builds, `${…}`).
fn base_images(cx: &Context) -> Vec<String> {
    let mut images = std::collections::BTreeSet::new();
    let files = crate::repo::files::Tree::list(&cx.root, &[]).map(|t| t.files).unwrap_or_default();
    for file in files.iter().filter(|f| crate::repo::files::is_dockerfile(f)) {
        let text = std::fs::read_to_string(cx.root.join(file)).unwrap_or_default();
        let mut stages: Vec<String> = vec!["scratch".to_owned()];
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().filter(|w| !w.starts_with("--")).collect();
            if words.first().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) && words.len() >= 2 {
                if !stages.iter().any(|s| s.eq_ignore_ascii_case(words[1])) {
                    images.insert(words[1].to_owned());
                }
                if words.len() >= 4 && words[2].eq_ignore_ascii_case("AS") {
                    stages.push(words[3].to_owned());
                }
            }
        }
    }
    if let Ok(compose) = docker::file(&cx.root, cx.settings.compose.file.as_deref()) {
        let text = std::fs::read_to_string(compose).unwrap_or_default();
        for line in text.lines() {
            if let Some(image) = line.trim().strip_prefix("image:").map(|i| i.trim().trim_matches(['"', '\'']))
                && !image.is_empty()
                && !image.contains('$')
            {
                images.insert(image.to_owned());
            }
        }
    }
    images.into_iter().collect()
}

fn megabytes(bytes: u64) -> String {
    format!("{}.{} MB", bytes / 1_000_000, bytes % 1_000_000 / 100_000)
}

fn healthy(name: &'static str, service: Option<&docker::ServiceState>) -> Check {
    match service {
        None => failed(name, "no container: the service was not created"),
        Some(s) if s.state == "running" && s.health == "healthy" => passed(name, ""),
        Some(s) if s.state == "running" && s.health.is_empty() => {
            failed(name, "running, but it has no healthcheck, so nothing says it works")
        }
        Some(s) => failed(name, format!("{} ({})", s.status, s.state)),
    }
}

fn migrated(docker: &std::path::Path, service: Option<&docker::ServiceState>) -> Check {
    let name = "migrate exited 0, not restarted";
    let Some(s) = service else { return failed(name, "no container: the service was not created") };
    let restarts = Cmd::new(docker)
        .args(["inspect", "--format", "{{.RestartCount}}", &s.name])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().ok());
    match (s.state.as_str(), s.exit_code, restarts) {
        (_, _, Some(n)) if n > 0 => {
            failed(name, format!("restarted {n} time(s) (a failed migration must not be retried): {}", s.status))
        }
        ("exited", 0, Some(0)) => passed(name, ""),
        ("exited", code, _) => failed(name, format!("exited {code}: {}", s.status)),
        (_, _, None) => failed(name, format!("cannot read its restart count ({})", s.status)),
        _ => failed(name, format!("{} ({}): it should have run once and exited 0", s.status, s.state)),
    }
}

/// The uids of the app container's processes (`docker top`), none of which may be 0.
fn non_root(docker: &std::path::Path, container: &str) -> Check {
    let name = "app runs as non-root";
    let out = match Cmd::new(docker)
        .args(["top", container, "-eo", "uid,pid,comm"])
        .shown(format!("docker top {container}"))
        .run()
    {
        Ok(out) => out,
        Err(e) => return failed(name, format!("{e:#}")),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let processes: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let uid = words.next()?.to_owned();
            let command = words.nth(1).unwrap_or("").to_owned();
            Some((uid, command))
        })
        .collect();
    if processes.is_empty() {
        return failed(name, "`docker top` listed no process");
    }
    let root: Vec<String> =
        processes.iter().filter(|(uid, _)| uid == "0" || uid == "root").map(|(_, c)| c.clone()).collect();
    if root.is_empty() {
        let mut uids: Vec<&str> = processes.iter().map(|(u, _)| u.as_str()).collect();
        uids.dedup();
        passed(name, format!("uid {}", uids.join(", ")))
    } else {
        failed(name, format!("{} run(s) as uid 0 (root): add a non-root USER to the Dockerfile", root.join(", ")))
    }
}

fn answers(name: &'static str, addr: SocketAddr, path: &str) -> Check {
    match http::get(addr, path, HTTP_TIMEOUT) {
        Ok(r) if r.status == 200 => passed(name, format!("GET {path} → 200 {}", r.body.trim())),
        Ok(r) => failed(name, format!("GET {path} → {} {}", r.status_line, r.body.trim())),
        Err(e) => failed(name, format!("GET {path}: no answer on {addr}: {e:#}")),
    }
}

/// Registers a fresh user and logs in as it: the API, its database and the token signing work.
fn round_trip(addr: SocketAddr) -> Check {
    let name = "API round trip";
    let (email, password) = match (docker::random_hex(6), docker::random_hex(12)) {
        (Ok(id), Ok(pw)) => (format!("smoke-{id}@example.com"), pw),
        (Err(e), _) | (_, Err(e)) => return failed(name, format!("{e:#}")),
    };
    let user = format!(r#"{{"email":"{email}","password":"{password}","full_name":"Smoke Test"}}"#);
    let register = match http::post_json(addr, REGISTER_PATH, &user, HTTP_TIMEOUT) {
        Ok(r) if r.status == 201 => r,
        Ok(r) => return failed(name, format!("POST {REGISTER_PATH} → {} {}", r.status_line, r.body.trim())),
        Err(e) => return failed(name, format!("POST {REGISTER_PATH}: {e:#}")),
    };
    let credentials = format!(r#"{{"email":"{email}","password":"{password}"}}"#);
    match http::post_json(addr, LOGIN_PATH, &credentials, HTTP_TIMEOUT) {
        Ok(r) if r.status == 200 && r.body.contains("\"access_token\"") => {
            passed(name, format!("POST {REGISTER_PATH} {}, POST {LOGIN_PATH} 200 with a token", register.status))
        }
        Ok(r) => failed(name, format!("POST {LOGIN_PATH} → {} (no access_token)", r.status_line)),
        Err(e) => failed(name, format!("POST {LOGIN_PATH}: {e:#}")),
    }
}

/// Stops the database, then polls readiness until it answers 503; liveness must stay 200.
fn not_ready_without_db(compose: &Compose, settings: &ComposeSettings, addr: SocketAddr) -> Result<Check> {
    let name = "readiness without the database";
    let (db, live_path, ready_path) = (&settings.db_service, &settings.live_path, &settings.ready_path);
    if let Err(e) = compose.checked(&["stop", "--timeout", "10", db]) {
        return Ok(failed(name, format!("{e:#}")));
    }
    let t = Instant::now();
    let mut last = String::from("no answer");
    let not_ready = loop {
        interrupt::check()?;
        match http::get(addr, ready_path, HTTP_TIMEOUT) {
            Ok(r) if r.status == 503 => break Some(t.elapsed()),
            Ok(r) => last = format!("{} {}", r.status_line, r.body.trim()),
            Err(e) => last = format!("no answer: {e:#}"),
        }
        if t.elapsed() >= NOT_READY_WITHIN {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let live = http::get(addr, live_path, HTTP_TIMEOUT);
    let within = NOT_READY_WITHIN.as_secs();
    Ok(match (not_ready, live) {
        (Some(after), Ok(l)) if l.status == 200 => {
            passed(name, format!("{ready_path} 503 after {:.1} s, {live_path} still 200", after.as_secs_f64()))
        }
        (None, _) => failed(name, format!("{ready_path} still answers {last} {within} s after `{db}` stopped")),
        (Some(_), Ok(l)) => failed(name, format!("{live_path} answers {} without the database", l.status_line)),
        (Some(_), Err(e)) => failed(name, format!("{live_path} does not answer without the database: {e:#}")),
    })
}

fn print_check(check: &Check) {
    let detail = |sep: &str| if check.detail.is_empty() { String::new() } else { format!("{sep}{}", check.detail) };
    match check.verdict {
        Verdict::Passed => println!("{} {}{}", "✓".green(), check.name, detail(" — ")),
        Verdict::Failed => {
            let mut lines = check.detail.lines();
            let first = lines.next().unwrap_or("");
            println!("{} {} — {}", "✗".red().bold(), check.name, first.red().bold());
            for l in lines {
                println!("  {l}");
            }
        }
        Verdict::Skipped => println!("{} {}: skipped ({})", "–".dimmed(), check.name, check.detail),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 { format!("{}m {:02}s", s / 60, s % 60) } else { format!("{:.1} s", d.as_secs_f64()) }
}

fn finish(cx: &Context, checks: &[Check], took: Duration) -> Result<Outcome> {
    let failed: Vec<&Check> = checks.iter().filter(|c| c.verdict == Verdict::Failed).collect();
    let took = duration(took);
    let verdict = if failed.is_empty() {
        let n = checks.iter().filter(|c| c.verdict == Verdict::Passed).count();
        format!("smoke: passed — {n} checks passed in {took}").green().bold().to_string()
    } else {
        let names: Vec<&str> = failed.iter().map(|c| c.name).collect();
        format!("smoke: FAILED — {} of {} checks failed ({}) in {took}", failed.len(), checks.len(), names.join(", "))
            .red()
            .bold()
            .to_string()
    };
    println!("{verdict}");
    for c in &failed {
        let title = format!("smoke: {}", c.name);
        cx.out.annotate(Level::Error, None, &title, c.detail.lines().next().unwrap_or(""));
    }
    cx.out.step_summary(&markdown(checks))?;
    Ok(if failed.is_empty() { Outcome::Passed } else { Outcome::Failed })
}

fn markdown(checks: &[Check]) -> String {
    let mut out = String::from("### Smoke test\n\n| Check | Result |\n| --- | --- |\n");
    for c in checks {
        let icon = match c.verdict {
            Verdict::Passed => "✅",
            Verdict::Failed => "❌",
            Verdict::Skipped => "⏭️",
        };
        let detail = c.detail.lines().next().unwrap_or("").replace('|', "\\|");
        out.push_str(&format!("| {} | {icon} {detail} |\n", c.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(state: &str, health: &str, exit_code: i64) -> docker::ServiceState {
        docker::ServiceState {
            service: "s".into(),
            name: "p-s-1".into(),
            state: state.into(),
            health: health.into(),
            status: format!("{state} ({exit_code})"),
            exit_code,
        }
    }

    #[test]
    fn healthy_means_running_with_a_passing_healthcheck() {
        assert_eq!(healthy("x", Some(&state("running", "healthy", 0))).verdict, Verdict::Passed);
        assert_eq!(healthy("x", Some(&state("running", "starting", 0))).verdict, Verdict::Failed);
        assert!(healthy("x", Some(&state("running", "", 0))).detail.contains("no healthcheck"));
        assert_eq!(healthy("x", Some(&state("exited", "", 1))).verdict, Verdict::Failed);
        assert!(healthy("x", None).detail.contains("not created"));
    }

    #[test]
    fn sizes_are_shown_in_decimal_megabytes() {
        assert_eq!(megabytes(128_307_578), "128.3 MB");
        assert_eq!(megabytes(999_999), "0.9 MB");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(duration(Duration::from_secs(102)), "1m 42s");
    }

    #[test]
    fn the_summary_table_escapes_pipes() {
        let md = markdown(&[passed("a", "x | y"), failed("b", "first\nsecond"), skipped("c", "why")]);
        assert!(md.contains("| a | ✅ x \\| y |"), "{md}");
        assert!(md.contains("| b | ❌ first |"), "{md}");
        assert!(md.contains("| c | ⏭️ why |"), "{md}");
    }
}
