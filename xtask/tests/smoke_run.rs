//! `cargo xtask smoke` on the real Docker engine: it passes on this checkout (whatever `.env`
//! and shell variables say), fails naming the check when the image runs as root, when the
//! migrations fail and when readiness ignores the database, and leaves nothing of its project
//! behind on any way out, Ctrl-C included. A stand-in `docker` shows only what a real engine
//! cannot: an engine that is not running, and Compose v1 alone.

mod support;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use support::{Run, Scratch};

/// The check lines of a run, in order, without their details.
fn checks(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .filter(|l| l.starts_with(['✓', '✗', '–']))
        .map(|l| l.split(" — ").next().unwrap().split(": skipped").next().unwrap().to_owned())
        .collect()
}

/// The compose project the run names as its throwaway stack.
fn project(run: &Run) -> String {
    let line = run.stdout.lines().find(|l| l.starts_with("smoke: a throwaway stack")).unwrap_or_default();
    line.split("compose project ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or_default().to_owned()
}

/// A copy of this checkout, with `change` applied, for the xtask to work on.
fn copy(name: &str, change: impl FnOnce(&std::path::Path)) -> Scratch {
    let dir = Scratch::new(name);
    support::copy_checkout(&dir.0);
    change(&dir.0);
    dir
}

fn smoke(root: &std::path::Path) -> Command {
    let mut c = support::xtask();
    // What it keeps of the image goes to the copy's own target/; the SBOM's crate list comes
    // from the audit program this suite built once.
    c.env_remove("CARGO_TARGET_DIR").env("XTASK_AUDIT_BIN", support::audit_bin());
    c.env("CARGO_MANIFEST_DIR", root.join("xtask")).arg("smoke");
    c
}

/// CycloneDX's own validator: cyclonedx-python-lib's strict JSON schema check, at a pinned
/// version, in a Python environment of the suite's own (made on first use, from PyPI).
fn cyclonedx_errors(sbom: &std::path::Path) -> Option<String> {
    const PIN: &str = "cyclonedx-python-lib[json-validation]==11.12.0";
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cyclonedx-11.12.0");
    let python = venv.join("bin/python");
    if !python.exists() {
        let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().unwrap();
        assert!(made.success(), "python3 -m venv");
        let pip = Command::new(&python).args(["-m", "pip", "install", "--quiet", PIN]).output().unwrap();
        assert!(pip.status.success(), "pip install {PIN}: {}", String::from_utf8_lossy(&pip.stderr));
    }
    let check = "import sys\nfrom cyclonedx.schema import SchemaVersion\n\
                 from cyclonedx.validation.json import JsonStrictValidator\n\
                 e = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\n\
                 print(str(e).split(chr(10))[0] if e else '', end='')\n";
    let out = Command::new(&python).args(["-c", check]).arg(sbom).output().unwrap();
    assert!(out.status.success(), "the validator ran: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).into_owned()).filter(|e| !e.is_empty())
}

fn assert_removed(run: &Run) {
    let project = project(run);
    assert!(project.starts_with("xtask-smoke-"), "{run:?}");
    assert!(run.stdout.contains(&format!("smoke: removed the compose project {project}")), "{run:?}");
    assert_eq!(support::leftovers(&project), Vec::<String>::new(), "{run:?}");
}

const ALL_PASSED: [&str; 11] = [
    "✓ image builds",
    "✓ image size",
    "✓ image SBOM",
    "✓ db healthy",
    "✓ migrate exited 0, not restarted",
    "✓ app healthy",
    "✓ app runs as non-root",
    "✓ liveness probe",
    "✓ readiness probe",
    "✓ API round trip",
    "✓ readiness without the database",
];

#[test]
fn smoke_passes_without_reading_env_files_or_the_shell_and_leaves_nothing_behind() {
    if !support::docker_engine("smoke_passes…") {
        return;
    }
    let _engine = support::docker_lock();
    // A developer's .env and shell that would break the stack if they were read.
    let root = copy("smoke-pass", |root| {
        std::fs::write(root.join(".env"), "POSTGRES_PASSWORD=\nAPP_PORT=1\nAPP_ENV=development\nCORS_ORIGINS=*\n")
            .unwrap();
    });
    let mut c = smoke(&root.0);
    c.env("POSTGRES_USER", "intruder").env("COMPOSE_PROJECT_NAME", "clicknback").env("APP_PORT", "1");
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(checks(&run), ALL_PASSED, "{run:?}");
    assert!(run.stdout.contains("✓ app runs as non-root — uid 10001\n"), "{run:?}");
    assert!(run.stdout.contains("✓ readiness probe — GET /health/ready → 200 {\"status\":\"ready\"}\n"), "{run:?}");
    assert!(run.stdout.contains("smoke: passed — 11 checks passed in"), "{run:?}");
    assert_removed(&run);

    // What it kept of the image: the binary that `cargo auditable build` gave its dependency
    // list, and the image's SBOM, which CycloneDX's validator accepts.
    let kept = root.0.join("target/xtask/image");
    let record = xtask::kept_image::KeptImage::load(&kept).unwrap().expect("the record of the image");
    assert_eq!((record.image.as_str(), record.binary_in_image.as_str()), ("clicknback:smoke", "/usr/local/bin/app"));
    assert!(
        run.stdout
            .contains(&format!("✓ image SBOM — {} crates from clicknback:smoke:/usr/local/bin/app", record.crates))
    );
    assert!(record.crates > 100 && record.debian_packages > 20, "{record:?}");
    assert!(kept.join("app").is_file());
    let sbom = std::fs::read_to_string(kept.join("sbom.cdx.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&sbom).unwrap();
    let purls: Vec<&str> = doc["components"].as_array().unwrap().iter().filter_map(|c| c["purl"].as_str()).collect();
    let lock = std::fs::read_to_string(root.0.join("Cargo.lock")).unwrap();
    let axum = lock.split("name = \"axum\"\nversion = \"").nth(1).and_then(|r| r.split('"').next()).unwrap();
    assert!(purls.contains(&format!("pkg:cargo/axum@{axum}").as_str()), "the locked axum: {purls:?}");
    assert!(purls.iter().any(|p| p.starts_with("pkg:deb/debian/libc6@")), "{purls:?}");
    assert!(
        !purls.iter().any(|p| p.starts_with("pkg:cargo/quick-xml@")),
        "the xtask's crates are not in the app: {purls:?}"
    );
    assert_eq!(doc["metadata"]["component"]["hashes"][0]["content"], record.id.trim_start_matches("sha256:"));
    assert_eq!(cyclonedx_errors(&kept.join("sbom.cdx.json")), None);
}

#[test]
fn smoke_fails_when_the_app_image_runs_as_root() {
    if !support::docker_engine("smoke_fails_when_the_app_image_runs_as_root") {
        return;
    }
    let _engine = support::docker_lock();
    let root = copy("smoke-root", |root| support::edit(&root.join("Dockerfile"), "USER 10001:10001\n", ""));
    let before = image("{{.Id}}", "clicknback:smoke");
    let run = support::run(smoke(&root.0));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("✗ app runs as non-root — app run(s) as uid 0 (root): add a non-root USER to the Dockerfile"),
        "{run:?}"
    );
    let passed = checks(&run).iter().filter(|c| c.starts_with('✓')).count();
    assert_eq!(passed, 10, "only the non-root check fails: {run:?}");
    assert!(run.stdout.contains("smoke: FAILED — 1 of 11 checks failed (app runs as non-root)"), "{run:?}");
    assert_removed(&run);
    // The image the tag named before is not left behind untagged.
    if let Some(before) = before.filter(|b| image("{{.Id}}", "clicknback:smoke").as_ref() != Some(b)) {
        let tags = image("{{len .RepoTags}}", &before);
        assert!(tags.as_deref().is_none_or(|n| n != "0"), "{before} was left untagged: {run:?}");
    }
}

/// `docker image inspect --format FORMAT IMAGE`, when the image exists.
fn image(format: &str, image: &str) -> Option<String> {
    let out = Command::new("docker").args(["image", "inspect", "--format", format, image]).output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn smoke_fails_when_the_migrations_exit_non_zero() {
    if !support::docker_engine("smoke_fails_when_the_migrations_exit_non_zero") {
        return;
    }
    let _engine = support::docker_lock();
    let root = copy("smoke-migrate", |root| {
        support::edit(&root.join("docker-compose.yml"), "command: [\"migrate\"]", "command: [\"migrate\", \"--bad\"]")
    });
    let run = support::run(smoke(&root.0));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("✗ migrate exited 0, not restarted — exited 2"), "{run:?}");
    assert!(run.stdout.contains("✗ app healthy"), "the app waits for the migrations: {run:?}");
    assert!(run.stdout.contains("– app runs as non-root: skipped (the app is not running)"), "{run:?}");
    assert!(run.stdout.contains("unexpected argument '--bad'"), "the migrate logs are shown: {run:?}");
    assert!(
        run.stdout.contains("smoke: FAILED — 2 of 11 checks failed (migrate exited 0, not restarted, app healthy)"),
        "{run:?}"
    );
    assert_removed(&run);
}

#[test]
fn smoke_fails_when_readiness_ignores_the_database() {
    if !support::docker_engine("smoke_fails_when_readiness_ignores_the_database") {
        return;
    }
    let _engine = support::docker_lock();
    // The classic mistake: readiness wired to the liveness handler.
    let root = copy("smoke-ready", |root| {
        support::edit(
            &root.join("app/src/routes/health.rs"),
            "async fn ready(State(state): State<AppState>) -> Response {\n",
            "async fn ready(State(state): State<AppState>) -> Response {\n    if true {\n        return live().await;\n    }\n",
        )
    });
    let run = support::run(smoke(&root.0));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "✗ readiness without the database — /health/ready still answers HTTP/1.1 200 OK {\"status\":\"alive\"} 6 s \
             after `db` stopped"
        ),
        "{run:?}"
    );
    assert!(run.stdout.contains("smoke: FAILED — 1 of 11 checks failed (readiness without the database)"), "{run:?}");
    assert_removed(&run);
}

#[test]
fn settings_that_do_not_fit_the_compose_file_are_an_error_before_anything_starts() {
    if !support::docker_engine("settings_that_do_not_fit_the_compose_file…") {
        return;
    }
    let _engine = support::docker_lock();
    let root = copy("smoke-settings", |root| {
        support::edit(&root.join("Cargo.toml"), ", JWT_SECRET = \"{secret}{secret}\"", "")
    });
    let run = support::run(smoke(&root.0));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("required variable JWT_SECRET is missing a value"), "{run:?}");
    assert!(run.stderr.contains("give the variable in `env` of [workspace.metadata.xtask.compose]"), "{run:?}");
    assert!(!run.stdout.contains("building the image"), "nothing was built: {run:?}");

    let root = copy("smoke-service", |root| {
        support::edit(&root.join("Cargo.toml"), "app-service = \"app\"", "app-service = \"api\"")
    });
    let run = support::run(smoke(&root.0));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("docker-compose.yml has no `api` service (`app-service` in [workspace.metadata.xtask.compose])"),
        "{run:?}"
    );
}

#[test]
fn ctrl_c_removes_the_stack() {
    if !support::docker_engine("ctrl_c_removes_the_stack") {
        return;
    }
    let _engine = support::docker_lock();
    let root = copy("smoke-sigint", |_| {});
    let mut child = smoke(&root.0).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.starts_with("✓ db healthy") {
            break;
        }
    }
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    seen.extend(lines.map(Result::unwrap));
    let status = child.wait().unwrap();
    let run = Run { code: status.code().unwrap_or(-1), stdout: seen.join("\n") + "\n", stderr: String::new() };
    support::assert_ended_by_signal(status, 2, &format!("ends by SIGINT, after cleaning up: {run:?}"));
    assert_removed(&run);
}

// ---------------------------------------------------------------------------------------
// What a real engine cannot show (stand-in docker)

/// `docker` and `docker-compose` stand-ins; the real cargo (for the settings) by its path. A
/// throwaway stack's compose gets none of our environment, so the stand-ins carry their folder.
fn standin(engine: bool, compose_v2: bool) -> (Scratch, Command) {
    let dir = Scratch::new("smoke-standin");
    let carry = |body: &str| body.replacen('\n', &format!("\nSTANDIN='{}'\n", dir.0.display()), 1);
    for (name, body) in
        [("bin/docker", carry(support::DOCKER_STANDIN)), ("bin/docker-compose", carry(support::DOCKER_COMPOSE_STANDIN))]
    {
        let path = dir.write(name, body);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir.write("compose.sh", STANDIN_COMPOSE);
    dir.set("engine", engine);
    dir.set("compose-v2", compose_v2);
    let mut c = support::xtask();
    c.env("STANDIN", &dir.0).env("PATH", dir.path("bin")).arg("smoke");
    (dir, c)
}

/// Compose v1 for `version --short`; a config with the three services; `ps` fails when
/// `$STANDIN/ps-fails` exists; the rest succeeds silently.
const STANDIN_COMPOSE: &str = r#"while [ $# -gt 0 ]; do case "$1" in -f|-p|--env-file) shift 2 ;; *) break ;; esac; done
[ "$*" = 'version --short' ] && echo 1.29.2
[ "$1" = config ] && echo '{"services": {"db": {}, "migrate": {}, "app": {}}}'
[ "$1" = ps ] && [ -e "$STANDIN/ps-fails" ] && { echo "Error response from daemon: i/o timeout" >&2; exit 1; }
exit 0
"#;

#[test]
fn an_error_midway_still_removes_the_stack() {
    let (dir, c) = standin(true, true);
    dir.set("ps-fails", true);
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("ps --all --format json` failed"), "{run:?}");
    assert!(run.stderr.contains("i/o timeout"), "{run:?}");
    let project = project(&run);
    let log = std::fs::read_to_string(dir.path("log")).unwrap();
    let down = format!("-p {project} --env-file /dev/null down --volumes --remove-orphans");
    assert!(log.lines().last().is_some_and(|l| l.contains(&down)), "removed last: {log}");
}

#[test]
fn without_a_running_engine_smoke_is_an_error_naming_the_fix() {
    let (dir, c) = standin(false, true);
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("error: no Docker engine answers (`docker info`: Cannot connect to the Docker daemon"),
        "{run:?}"
    );
    assert!(run.stderr.contains("start it with `sudo systemctl start docker`"), "{run:?}");
    std::fs::remove_file(dir.path("bin/docker")).unwrap();
    let mut c = support::xtask();
    c.env("PATH", dir.path("bin")).arg("smoke");
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("`docker` is not on PATH: install Docker Engine"), "{run:?}");
}

#[test]
fn with_compose_v1_alone_smoke_is_an_error_naming_the_fix() {
    let (dir, c) = standin(true, false);
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("the smoke gate needs Docker Compose v2 (`up --wait`), and only docker-compose 1.29.2"),
        "{run:?}"
    );
    assert!(run.stderr.contains("docker-compose-plugin"), "{run:?}");
    let log = std::fs::read_to_string(dir.path("log")).unwrap();
    assert!(!log.contains(" up") && !log.contains(" build"), "nothing was started: {log}");
}
