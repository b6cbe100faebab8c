//! The server's ops scripts (`scripts/backup.sh`, `demo-reset.sh`, `rollback.sh`), run with
//! bash against a stand-in `docker` that records every call (`support::OPS_DOCKER_STANDIN`)
//! and a stand-in `date` that gives a fixed time. They run on a server without Rust, so they
//! are bash; these tests hold them to what the runbook in docs/deployment-plan.md promises.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use support::{Run, Scratch};

const NOW: &str = "20260102-030405";
const DUMP: &str = "-- PostgreSQL database dump\nCREATE TABLE users (id uuid);\n-- done\n";
const SEEDS: &str = "BEGIN;\nINSERT INTO merchants VALUES ('demo');\nCOMMIT;\n";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const IMAGE: &str = "ghcr.io/jerosanchez/clicknback";

/// A scratch deploy folder, the stand-ins on PATH ahead of the real tools.
struct Ops {
    dir: Scratch,
}

impl std::ops::Deref for Ops {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        &self.dir
    }
}

impl Ops {
    fn new() -> Ops {
        let dir = Scratch::new("ops-scripts");
        for (name, body) in
            [("bin/docker", support::OPS_DOCKER_STANDIN), ("bin/date", "#!/bin/bash\ncat \"$STANDIN/now\"\n")]
        {
            let path = dir.write(name, body);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir.write("now", format!("{NOW}\n"));
        dir.write("dump.sql", DUMP);
        dir.write("seeds.sql", SEEDS);
        dir.write("deploy/docker-compose.yml", "services: {}\n");
        Ops { dir }
    }

    fn deploy(&self) -> PathBuf {
        self.path("deploy")
    }

    fn backups(&self) -> PathBuf {
        self.path("deploy/backups")
    }

    fn compose_file(&self) -> String {
        self.path("deploy/docker-compose.yml").display().to_string()
    }

    /// `bash scripts/<script> args…` with DEPLOY_DIR in the scratch folder and none of the
    /// scripts' other settings inherited from the test's environment.
    fn command(&self, script: &str, args: &[&str]) -> Command {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
        let mut c = Command::new("bash");
        c.arg(scripts.join(script)).args(args);
        for var in [
            "COMPOSE_FILE",
            "BACKUP_DIR",
            "RETENTION_DAYS",
            "DB_USER",
            "DB_NAME",
            "POSTGRES_USER",
            "POSTGRES_DB",
            "SEED_FILE",
            "IMAGE",
            "APP_IMAGE",
        ] {
            c.env_remove(var);
        }
        c.env("STANDIN", &self.dir.0)
            .env("DEPLOY_DIR", self.deploy())
            .env("PATH", format!("{}:{}", self.path("bin").display(), std::env::var("PATH").unwrap_or_default()));
        c
    }

    fn run(&self, script: &str, args: &[&str]) -> Run {
        support::run(self.command(script, args))
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("log")).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// `docker compose -f <the scratch compose file> args`
    fn c(&self, args: &str) -> String {
        format!("docker compose -f {} {args}", self.compose_file())
    }

    /// The names in the backup folder, hidden files included, sorted.
    fn backup_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.backups())
            .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// A file in the backup folder last modified `hours_ago` hours ago.
    fn old_file(&self, name: &str, hours_ago: u64) -> PathBuf {
        let path = self.write(&format!("deploy/backups/{name}"), "old backup");
        let when = SystemTime::now() - Duration::from_secs(hours_ago * 3600);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(when).unwrap();
        path
    }
}

fn gunzip(path: &Path) -> String {
    let out = Command::new("gzip").arg("-dc").arg(path).output().expect("gzip runs");
    assert!(out.status.success(), "{} is not a valid gzip file", path.display());
    String::from_utf8(out.stdout).unwrap()
}

fn backup_name() -> String {
    format!("clicknback-{NOW}.sql.gz")
}

// ----------------------------------------------------------------------------------------
// backup.sh

#[test]
fn backup_writes_the_dump_gzipped_under_its_dated_name() {
    let ops = Ops::new();

    let run = ops.run("backup.sh", &[]);

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(ops.log(), [ops.c("exec -T db pg_dump -U clicknback -d clicknback")]);
    assert_eq!(ops.backup_names(), [backup_name()], "one backup, no temporary file left");
    let file = ops.backups().join(backup_name());
    assert_eq!(gunzip(&file), DUMP);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "the dump holds hashes");
    assert!(run.stdout.contains(&format!("backup written: {}", file.display())), "{run:?}");
}

#[test]
fn backup_takes_folder_compose_file_and_database_from_the_environment() {
    let ops = Ops::new();
    let elsewhere = ops.path("elsewhere");
    let compose = ops.write("other/compose.yaml", "services: {}\n");
    let mut c = ops.command("backup.sh", &[]);
    c.env("BACKUP_DIR", &elsewhere)
        .env("COMPOSE_FILE", &compose)
        .env("POSTGRES_USER", "pg-user")
        .env("DB_NAME", "demo");

    let run = support::run(c);

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(ops.log(), [format!("docker compose -f {} exec -T db pg_dump -U pg-user -d demo", compose.display())]);
    assert_eq!(gunzip(&elsewhere.join(backup_name())), DUMP);
    assert!(!ops.backups().exists(), "nothing written to the default folder");
}

#[test]
fn backup_refuses_to_overwrite_an_existing_backup() {
    let ops = Ops::new();
    let existing = ops.write(&format!("deploy/backups/{}", backup_name()), "the earlier backup");

    let run = ops.run("backup.sh", &[]);

    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("already exists; not overwriting it"), "{run:?}");
    assert_eq!(std::fs::read_to_string(existing).unwrap(), "the earlier backup");
    assert_eq!(ops.backup_names(), [backup_name()]);
    assert!(ops.log().is_empty(), "no dump taken: {:?}", ops.log());
}

#[test]
fn backup_removes_only_its_own_backups_older_than_the_retention() {
    let ops = Ops::new();
    let expired = ops.old_file("clicknback-20251201-030000.sql.gz", 10 * 24);
    // Seven and a half days: past a 7-day retention (`find -mtime +7` would keep it a day more).
    let just_expired = ops.old_file("clicknback-20251225-150000.sql.gz", 7 * 24 + 12);
    ops.old_file("clicknback-20251226-030000.sql.gz", 6 * 24);
    ops.old_file("clicknback-manual.sql.gz", 30 * 24);
    ops.old_file("other-20251101-030000.sql.gz", 30 * 24);
    ops.old_file("clicknback-20251101-030000.sql.gz.keep", 30 * 24);

    let run = ops.run("backup.sh", &[]);

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        ops.backup_names(),
        [
            "clicknback-20251101-030000.sql.gz.keep",
            "clicknback-20251226-030000.sql.gz",
            &backup_name(),
            "clicknback-manual.sql.gz",
            "other-20251101-030000.sql.gz",
        ]
    );
    for path in [expired, just_expired] {
        assert!(run.stdout.contains(&format!("removed backup older than 7 days: {}", path.display())), "{run:?}");
    }
    assert_eq!(run.stdout.matches("removed").count(), 2, "{run:?}");
}

#[test]
fn backup_retention_follows_retention_days() {
    let ops = Ops::new();
    ops.old_file("clicknback-20251226-030000.sql.gz", 6 * 24);
    ops.old_file("clicknback-20251231-030000.sql.gz", 24);
    let mut c = ops.command("backup.sh", &[]);
    c.env("RETENTION_DAYS", "3");

    let run = support::run(c);

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(ops.backup_names(), ["clicknback-20251231-030000.sql.gz", &backup_name()]);
}

#[test]
fn backup_fails_loudly_and_leaves_no_file_when_pg_dump_fails() {
    let ops = Ops::new();
    ops.set("fail-pg_dump", true);
    ops.old_file("clicknback-20251201-030000.sql.gz", 10 * 24);

    let run = ops.run("backup.sh", &[]);

    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("backup failed: pg_dump of database 'clicknback'"), "{run:?}");
    assert!(!run.stdout.contains("backup written"), "{run:?}");
    assert_eq!(
        ops.backup_names(),
        ["clicknback-20251201-030000.sql.gz"],
        "no partial or temporary file, and old backups are kept when the new one failed"
    );
}

#[test]
fn backup_rejects_a_retention_that_is_not_a_positive_number_of_days() {
    for days in ["", "0", "seven", "-1", "7d"] {
        let ops = Ops::new();
        let mut c = ops.command("backup.sh", &[]);
        c.env("RETENTION_DAYS", days);

        let run = support::run(c);

        // An empty value means the default, 7.
        if days.is_empty() {
            assert_eq!(run.code, 0, "{run:?}");
            continue;
        }
        assert_eq!(run.code, 1, "RETENTION_DAYS={days}: {run:?}");
        assert!(run.stderr.contains("RETENTION_DAYS must be"), "{run:?}");
        assert!(ops.log().is_empty(), "RETENTION_DAYS={days}: {:?}", ops.log());
    }
}

// ----------------------------------------------------------------------------------------
// demo-reset.sh

const DROP: &str = "DROP SCHEMA public CASCADE; CREATE SCHEMA public;";

#[test]
fn demo_reset_backs_up_then_drops_migrates_and_seeds_in_that_order() {
    let ops = Ops::new();

    let run = ops.run("demo-reset.sh", &[]);

    assert_eq!(run.code, 0, "{run:?}");
    let psql = "exec -T db psql -U clicknback -d clicknback -v ON_ERROR_STOP=1";
    let mut log = ops.log();
    assert_eq!(
        log[..3],
        [
            ops.c("exec -T db pg_dump -U clicknback -d clicknback"),
            ops.c(&format!("{psql} -c {DROP}")),
            ops.c("run --rm migrate")
        ]
    );
    // The seeds go through a pipe, whose two ends start together, in either order.
    log[3..].sort();
    assert_eq!(log[3..], [ops.c(psql), ops.c("run --rm --no-deps -T --entrypoint cat migrate /app/seeds/all.sql")]);
    assert_eq!(std::fs::read_to_string(ops.path("psql-stdin")).unwrap(), SEEDS, "the image's seeds reach psql");
    assert_eq!(gunzip(&ops.backups().join(backup_name())), DUMP);
}

#[test]
fn demo_reset_touches_nothing_when_the_backup_fails() {
    let ops = Ops::new();
    ops.set("fail-pg_dump", true);

    let run = ops.run("demo-reset.sh", &[]);

    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("the database was NOT reset"), "{run:?}");
    let log = ops.log();
    assert_eq!(log.len(), 1, "only the failed dump: {log:?}");
    assert!(log[0].contains(" pg_dump "), "{log:?}");
    for word in ["DROP", "psql", "migrate", "seeds"] {
        assert!(!log.iter().any(|l| l.contains(word)), "{word} ran after a failed backup: {log:?}");
    }
}

#[test]
fn demo_reset_stops_before_seeding_when_the_migrations_fail() {
    let ops = Ops::new();
    ops.set("fail-migrate", true);

    let run = ops.run("demo-reset.sh", &[]);

    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("the migrate service failed"), "{run:?}");
    assert_eq!(ops.log().last().unwrap(), &ops.c("run --rm migrate"));
    assert!(!ops.path("psql-stdin").exists(), "nothing seeded");
}

#[test]
fn demo_reset_loads_seed_file_from_the_host_when_given() {
    let ops = Ops::new();
    let seeds = ops.write("deploy/seeds/all.sql", "-- the host's seeds\n");
    let mut c = ops.command("demo-reset.sh", &[]);
    c.env("SEED_FILE", &seeds);

    let run = support::run(c);

    assert_eq!(run.code, 0, "{run:?}");
    assert!(!ops.log().iter().any(|l| l.contains("--entrypoint cat")), "{:?}", ops.log());
    assert_eq!(std::fs::read_to_string(ops.path("psql-stdin")).unwrap(), "-- the host's seeds\n");
}

#[test]
fn demo_reset_changes_nothing_when_the_seed_file_is_missing() {
    let ops = Ops::new();
    let mut c = ops.command("demo-reset.sh", &[]);
    c.env("SEED_FILE", ops.path("no/such/all.sql"));

    let run = support::run(c);

    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("cannot be read; nothing was changed"), "{run:?}");
    assert!(ops.log().is_empty(), "{:?}", ops.log());
}

// ----------------------------------------------------------------------------------------
// rollback.sh

#[test]
fn rollback_rejects_anything_but_a_full_commit_tag() {
    let ops = Ops::new();
    let short = format!("sha-{}", &SHA[..39]);
    let upper = format!("sha-{}", SHA.to_uppercase());
    let long = format!("sha-{SHA}0");
    let injected = format!("sha-{SHA};reboot");
    for args in [
        vec!["latest"],
        vec!["sha-abc123"],
        vec![short.as_str()],
        vec![upper.as_str()],
        vec![long.as_str()],
        vec![injected.as_str()],
        vec!["sha-"],
        vec![],
        vec![SHA, "extra"],
    ] {
        let run = ops.run("rollback.sh", &args);

        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains("rollback.sh") || run.stderr.contains("Usage"), "{args:?}: {run:?}");
    }
    assert!(ops.log().is_empty(), "docker never ran: {:?}", ops.log());
}

#[test]
fn rollback_pulls_checks_migrations_and_redeploys_the_tag() {
    let ops = Ops::new();
    let tag = format!("sha-{SHA}");

    let run = ops.run("rollback.sh", &[&tag]);

    assert_eq!(run.code, 0, "{run:?}");
    let image = format!("{IMAGE}:{tag}");
    assert_eq!(
        ops.log(),
        [
            format!("docker pull {image}"),
            format!("APP_IMAGE={image} {}", ops.c("run --rm migrate")),
            format!("docker tag {image} {IMAGE}:latest"),
            format!("APP_IMAGE={image} {}", ops.c("up -d --no-build --remove-orphans --wait")),
            ops.c("exec -T app app healthcheck"),
        ]
    );
    assert!(run.stdout.contains(&format!("rolled back to {image}")), "{run:?}");
}

#[test]
fn rollback_accepts_a_bare_commit_and_another_image() {
    let ops = Ops::new();
    let mut c = ops.command("rollback.sh", &[SHA]);
    c.env("IMAGE", "registry.example/team/app");

    let run = support::run(c);

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(ops.log()[0], format!("docker pull registry.example/team/app:sha-{SHA}"));
}

#[test]
fn rollback_stops_before_the_app_when_the_image_refuses_the_schema() {
    let ops = Ops::new();
    ops.set("fail-run", true);

    let run = ops.run("rollback.sh", &[&format!("sha-{SHA}")]);

    assert_eq!(run.code, 1, "{run:?}");
    let log = ops.log();
    assert_eq!(log.len(), 2, "pull and the migrate check only: {log:?}");
    assert!(!log.iter().any(|l| l.contains(" up ") || l.contains("docker tag")), "{log:?}");
    for step in ["forward-only", "DROP SCHEMA public CASCADE", "gunzip -c", "scripts/backup.sh"] {
        assert!(run.stderr.contains(step), "the restore runbook names {step}: {run:?}");
    }
}

#[test]
fn rollback_fails_when_the_image_cannot_be_pulled() {
    let ops = Ops::new();
    ops.set("fail-pull", true);

    let run = ops.run("rollback.sh", &[&format!("sha-{SHA}")]);

    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("cannot pull"), "{run:?}");
    assert_eq!(ops.log().len(), 1, "{:?}", ops.log());
}

#[test]
fn rollback_fails_when_the_app_is_not_ready() {
    let ops = Ops::new();
    ops.set("fail-healthcheck", true);

    let run = ops.run("rollback.sh", &[&format!("sha-{SHA}")]);

    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("not ready"), "{run:?}");
}

// ----------------------------------------------------------------------------------------
// All of them

#[test]
fn every_script_is_executable_strict_bash_with_help() {
    let ops = Ops::new();
    for script in ["backup.sh", "demo-reset.sh", "rollback.sh"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(script);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{script} is executable");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("#!/usr/bin/env bash\n"), "{script}");
        assert!(text.contains("\nset -euo pipefail\n"), "{script}");

        let run = ops.run(script, &["--help"]);

        assert_eq!(run.code, 0, "{script}: {run:?}");
        assert!(run.stdout.starts_with(&format!("Usage: {script}")), "{script}: {run:?}");
    }
    assert!(ops.log().is_empty(), "--help runs nothing: {:?}", ops.log());
}
