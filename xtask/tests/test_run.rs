//! `cargo xtask test` against a stand-in `cargo` that records its argv: the runner chosen,
//! partitions, exit codes, and the database for the tests. The databases are real: throwaway
//! PostgreSQL clusters and the compose `db` service on the real Docker engine, which the
//! stand-in test command queries with `psql`; each test checks they are gone afterwards. A
//! stand-in `docker` shows only what a real engine cannot: one that is not running, and
//! Compose v1 alone.

mod support;

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Run;
use support::standin::StandIn;

/// Only bash builtins, so it also works with a PATH that holds nothing but the stand-ins.
const CARGO_STANDIN: &str = r#"#!/bin/bash
# Stand-in cargo: records argv (and DATABASE_URL for test runs), answers like cargo would.
printf 'cargo %s\n' "$*" >> "$STANDIN/log"
case "$1" in
  metadata) exec "$REAL_CARGO" metadata --format-version 1 --no-deps --offline --manifest-path "$STANDIN/ws/Cargo.toml" ;;
  nextest) if [ "$2" = --version ]; then
             [ -e "$STANDIN/nextest" ] || { echo "error: no such command: nextest" >&2; exit 101; }
             echo "cargo-nextest 0.9.143"; exit 0
           fi ;;
esac
printf '%s\n' "${DATABASE_URL-<unset>}" >> "$STANDIN/urls"
[ -e "$STANDIN/during.sh" ] && source "$STANDIN/during.sh"
[ -e "$STANDIN/test-exit" ] && exit "$(<"$STANDIN/test-exit")"
exit 0
"#;

/// A workspace whose `[workspace.metadata.xtask.test]` table is `settings`; nextest installed.
fn standin(settings: &str) -> StandIn {
    let s = StandIn::new("test-standin")
        .cargo(CARGO_STANDIN)
        .docker(COMPOSE_SH)
        .gate("test")
        // Without the `metadata` call, and without the first `docker info` when it comes before
        // anything else: the verdict cache's question (is an engine there? the tests on the
        // engine skip themselves without one), part of the test gate's key.
        .log_view(|log| {
            log.retain(|l| !l.starts_with("cargo metadata"));
            if log.first().is_some_and(|l| l == "docker info") {
                log.remove(0);
            }
        });
    s.set("nextest", true);
    test_settings(&s, settings);
    s
}

/// Writes the workspace's `[workspace.metadata.xtask.test]` table.
fn test_settings(s: &StandIn, settings: &str) {
    s.workspace(&format!("[workspace.metadata.xtask.test]\n{settings}\n"));
}

/// `DATABASE_URL` as each test command saw it.
fn urls(s: &StandIn) -> Vec<String> {
    s.lines("urls")
}

fn wait_for_file(path: &Path, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the xtask exited ({status}) before {} appeared", path.display());
        }
        assert!(Instant::now() < deadline, "{} did not appear", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// The runner

#[test]
fn nextest_runs_the_workspace_then_the_doctests_without_a_database() {
    let s = standin("database = false");
    let run = s.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("Tests: passed"), "{run:?}");
    assert_eq!(s.log(), ["cargo nextest --version", "cargo nextest run --workspace", "cargo test --workspace --doc"]);
    assert_eq!(urls(&s), ["<unset>", "<unset>"], "no DATABASE_URL without `database = true`");
}

/// nextest's run retries failing tests (`retries`: 2 in CI, 0 elsewhere, unless set) and gets the
/// tool config that asks for the JUnit report the flaky tests are read from (flaky_run.rs runs
/// the real nextest); `cargo test` gets neither. The other tests' logs leave them out.
#[test]
fn nextest_gets_the_retries_and_the_tool_config_of_the_flaky_record() {
    for (ci, settings, retries) in [(false, "", 0), (true, "", 2), (true, "retries = 1", 1), (false, "retries = 3", 3)]
    {
        let s = standin(settings);
        let mut c = s.command(&[]);
        if ci {
            c.env("CI", "true");
        }
        let run = support::run(c);
        assert_eq!(run.code, 0, "{run:?}");
        // The stand-in's xtask runs for this checkout (its cargo answers `metadata` for ws/).
        let root = support::workspace_root();
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), |d| root.join(d));
        let config = target.join("xtask-tests/nextest-tool.toml");
        assert_eq!(
            s.lines("log").into_iter().find(|l| l.starts_with("cargo nextest run")).unwrap(),
            format!("cargo nextest run --workspace --retries {retries} --tool-config-file xtask:{}", config.display())
        );
        let junit = target.join("xtask-tests/junit.xml");
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains(&format!("[profile.default.junit]\npath = \"{}\"\n", junit.display())), "{text}");
        assert!(run.stderr.contains("note: nextest wrote no JUnit report"), "{run:?}");
    }
    let s = standin("");
    s.set("nextest", false);
    assert_eq!(s.run(&[]).code, 0);
    assert!(s.lines("log").iter().all(|l| !l.contains("--retries")), "{:?}", s.lines("log"));
}

/// In a workspace that copied `xtask/`, the xtask's packages (those under `xtask/`) are left
/// out of the run, the doctests included; `xtask-tests = true` (this repository) runs them.
#[test]
fn a_workspace_that_copied_the_xtask_does_not_run_its_tests() {
    let copied = |settings: &str| {
        let s = standin("");
        s.workspace(&format!("members = [\"xtask\", \"xtask/core\"]\n[workspace.metadata.xtask.test]\n{settings}\n"));
        for (dir, name) in [("xtask", "xtask"), ("xtask/core", "xtask-core")] {
            s.write(&format!("ws/{dir}/Cargo.toml"), format!("[package]\nname = \"{name}\"\nversion = \"0.0.0\"\n"));
            s.write(&format!("ws/{dir}/src/lib.rs"), "");
        }
        s
    };
    let s = copied("");
    let run = s.run(&["--", "--no-fail-fast"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        s.log(),
        [
            "cargo nextest --version",
            "cargo nextest run --workspace --exclude xtask --exclude xtask-core --no-fail-fast",
        ]
    );
    let s = copied("");
    assert_eq!(s.run(&[]).code, 0);
    assert_eq!(s.log()[2], "cargo test --workspace --doc --exclude xtask --exclude xtask-core");

    let s = copied("xtask-tests = true");
    assert_eq!(s.run(&[]).code, 0);
    assert_eq!(s.log(), ["cargo nextest --version", "cargo nextest run --workspace", "cargo test --workspace --doc"]);
}

#[test]
fn without_nextest_cargo_test_runs_with_the_extra_arguments() {
    let s = standin("");
    s.set("nextest", false);
    let run = s.run(&["--", "shop::", "--", "--nocapture"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("cargo install --locked cargo-nextest --version 0.9.143"), "{run:?}");
    assert_eq!(s.log(), ["cargo nextest --version", "cargo test --workspace shop:: -- --nocapture"]);
}

#[test]
fn failing_tests_exit_1_and_skip_the_doctests() {
    let s = standin("");
    s.write("test-exit", "100");
    let run = s.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Tests: FAILED"), "{run:?}");
    assert_eq!(s.log(), ["cargo nextest --version", "cargo nextest run --workspace"]);
}

#[test]
fn a_partition_reaches_nextest_and_the_doctests_run_in_the_first_part_only() {
    let s = standin("");
    let run = s.run(&["--partition", "2/3"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(s.log(), ["cargo nextest --version", "cargo nextest run --workspace --partition count:2/3"]);

    let s = standin("");
    let run = s.run(&["--partition", "1/3", "--", "--no-fail-fast"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        s.log(),
        ["cargo nextest --version", "cargo nextest run --workspace --partition count:1/3 --no-fail-fast"]
    );

    let s = standin("");
    let run = s.run(&["--partition=1/2"]);
    assert_eq!(run.code, 0, "{run:?}");
    let expected = [
        "cargo nextest --version",
        "cargo nextest run --workspace --partition count:1/2",
        "cargo test --workspace --doc",
    ];
    assert_eq!(s.log(), expected);
}

#[test]
fn bad_partitions_are_usage_errors() {
    for bad in ["0/3", "4/3", "x", "3", "1/0"] {
        let s = standin("");
        let run = s.run(&["--partition", bad]);
        assert_eq!(run.code, 2, "{bad}: {run:?}");
        assert!(run.stderr.contains("M/N"), "{bad}: {run:?}");
        assert_eq!(s.log(), Vec::<String>::new(), "{bad}: nothing runs");
    }
}

#[test]
fn a_partition_without_nextest_says_how_to_install_it() {
    let s = standin("database = true");
    s.set("nextest", false);
    let run = s.run(&["--partition", "1/2"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--partition needs cargo-nextest"), "{run:?}");
    assert!(run.stderr.contains("cargo install --locked cargo-nextest --version 0.9.143"), "{run:?}");
    assert_eq!(s.log(), ["cargo nextest --version"], "no database is started and nothing runs");
}

// ---------------------------------------------------------------------------------------
// A throwaway cluster of the local PostgreSQL binaries (real)

const CLUSTER_SETTINGS: &str = "database = true\ndatabase-name = \"shop_test\"\ndatabase-user = \"shop\"";

/// Run by the stand-in test command: proves the server answers a real query and records
/// where it lives and who runs it.
const QUERY_DURING_TESTS: &str = r#"
psql -Atc "select current_user || ' ' || current_database() || ' ' || 6 * 7" "$DATABASE_URL" > "$STANDIN/query" 2>&1
data="$(psql -Atc 'show data_directory' "$DATABASE_URL")"
pid="$(head -n 1 "$data/postmaster.pid")"
echo "$data" > "$STANDIN/data"
echo "$pid" > "$STANDIN/pid"
ps -o user=,sid= -p "$pid" > "$STANDIN/ps"
ps -o sid= -p $$ > "$STANDIN/our-sid"
"#;

/// What a test learns about the cluster while it ran.
struct Seen {
    url: String,
    port: u16,
    dir: PathBuf,
    pid: String,
}

fn seen(s: &StandIn) -> Seen {
    let url = urls(s).first().cloned().expect("the test command ran");
    let port = url.rsplit_once(':').unwrap().1.split('/').next().unwrap().parse().unwrap();
    let data = PathBuf::from(std::fs::read_to_string(s.path("data")).unwrap().trim());
    let pid = std::fs::read_to_string(s.path("pid")).unwrap().trim().to_owned();
    Seen { url, port, dir: data.parent().unwrap().to_path_buf(), pid }
}

/// Nothing of the cluster is left: no server on its port, no process, no folder.
fn assert_gone(seen: &Seen) {
    assert!(TcpStream::connect(("127.0.0.1", seen.port)).is_err(), "port {} still answers", seen.port);
    let state = std::fs::read_to_string(format!("/proc/{}/stat", seen.pid)).unwrap_or_default();
    let running = state.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'));
    assert!(!running, "postgres (pid {}) still runs: {state}", seen.pid);
    let pgrep = Command::new("pgrep").arg("-f").arg(&seen.dir).output().unwrap();
    assert!(pgrep.stdout.is_empty(), "processes still use {}: {:?}", seen.dir.display(), pgrep);
    assert!(!seen.dir.exists(), "{} was not removed", seen.dir.display());
}

#[test]
fn a_throwaway_cluster_answers_queries_during_the_run_and_is_gone_after() {
    let s = standin(CLUSTER_SETTINGS);
    s.write("during.sh", QUERY_DURING_TESTS);
    let started = Instant::now();
    let run = s.run(&["--", "shop::"]);
    assert_eq!(run.code, 0, "{run:?}");
    let seen = seen(&s);
    assert!(seen.url.starts_with("postgres://shop@127.0.0.1:"), "{}", seen.url);
    assert!(seen.url.ends_with("/shop_test"), "{}", seen.url);
    assert_eq!(std::fs::read_to_string(s.path("query")).unwrap().trim(), "shop shop_test 42");
    assert!(run.stderr.contains("database: throwaway PostgreSQL"), "{run:?}");

    // It ran as `nobody` when we are root (PostgreSQL refuses root), in a session of its
    // own, so a Ctrl-C in the terminal cannot reach it before the xtask stops it.
    let ps = std::fs::read_to_string(s.path("ps")).unwrap();
    let (user, sid) = ps.split_once(char::is_whitespace).unwrap();
    if rustix::process::geteuid().is_root() {
        assert_eq!(user, "nobody", "{ps}");
        assert!(run.stderr.contains(", as nobody"), "{run:?}");
    }
    assert_ne!(sid.trim(), std::fs::read_to_string(s.path("our-sid")).unwrap().trim(), "{ps}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), |t| root.join(t));
    // In the target folder; in the temporary folder when `nobody` cannot reach the target.
    let parent = seen.dir.parent().unwrap();
    assert!(parent == target.join("xtask-pg") || parent == std::env::temp_dir().join("xtask-pg"), "{parent:?}");

    assert_gone(&seen);
    assert!(run.stderr.contains("database: stopped the throwaway cluster and removed"), "{run:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[test]
fn the_cluster_is_stopped_when_the_tests_fail() {
    let s = standin(CLUSTER_SETTINGS);
    s.write("during.sh", QUERY_DURING_TESTS);
    s.write("test-exit", "101");
    let run = s.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(std::fs::read_to_string(s.path("query")).unwrap().trim(), "shop shop_test 42");
    assert_gone(&seen(&s));
}

/// Starts `cargo xtask test` in a process group of its own (as a shell starts a job), and
/// waits until the stand-in test command is running, then sleeping.
fn start_sleeping_run(s: &StandIn) -> std::process::Child {
    start_sleeping_run_with(s, s.command(&[]))
}

fn start_sleeping_run_with(s: &StandIn, c: Command) -> std::process::Child {
    start_running(s, c, "exec sleep 60")
}

/// The test command runs `rest` once the database answered and `ready` is written.
fn start_running(s: &StandIn, mut c: Command, rest: &str) -> std::process::Child {
    s.write("during.sh", format!("{QUERY_DURING_TESTS}\n: > \"$STANDIN/ready\"\n{rest}\n"));
    c.process_group(0).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    wait_for_file(&s.path("ready"), &mut child);
    child
}

#[test]
fn ctrl_c_in_the_terminal_stops_the_tests_and_the_cluster() {
    let s = standin(CLUSTER_SETTINGS);
    let child = start_sleeping_run(&s);
    let seen = seen(&s);
    let started = Instant::now();
    // A terminal's Ctrl-C: SIGINT to the whole foreground process group.
    let pgid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process_group(pgid, rustix::process::Signal::INT).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    support::assert_ended_by_signal(out.status, 2, &format!("dies of SIGINT after cleaning up: {stderr}"));
    assert!(stderr.contains("cargo xtask: interrupted by SIGINT; what this run had started is stopped"), "{stderr}");
    assert!(stderr.contains("database: stopped the throwaway cluster and removed"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "waited for the sleeping test: {:?}", started.elapsed());
    assert_gone(&seen);
}

#[test]
fn sigterm_to_the_xtask_alone_reaches_the_tests_and_stops_the_cluster() {
    let s = standin(CLUSTER_SETTINGS);
    // The test command notes each SIGTERM it gets and ends a while after the first: it gets the
    // one handed on to it, once (a second one means "stop now" to many tools), and is not killed.
    let on_term = "trap 'echo TERM >> \"$STANDIN/got-term\"' TERM\nsleep 60 &\nwait $!\n\
                   for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do sleep 0.1; done\nexit 143";
    let child = start_running(&s, s.command(&[]), on_term);
    let seen = seen(&s);
    let started = Instant::now();
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::TERM).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    support::assert_ended_by_signal(out.status, 15, &stderr);
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "the test command was not stopped: {:?}", started.elapsed());
    let got = std::fs::read_to_string(s.path("got-term")).unwrap_or_default();
    assert_eq!(got, "TERM\n", "the test command got the SIGTERM once, before any kill: {stderr}");
    assert_gone(&seen);
}

/// A folder under the system's temporary folder (which everyone can reach), removed when dropped.
struct OpenDir(PathBuf);

impl OpenDir {
    fn new(name: &str, mode: u32) -> OpenDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        OpenDir(dir)
    }
}

impl Drop for OpenDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A cluster whose xtask was killed outright (SIGKILL) is stopped and removed by the next run,
/// wherever it was placed: `target` (CARGO_TARGET_DIR) and `tmp` (TMPDIR) are the test's own,
/// so no other test's run reaps it first; `expected` is where the cluster must go.
fn killed_cluster_is_removed_by_the_next_run(target: &Path, tmp: &Path, expected: &Path) {
    let s = standin(CLUSTER_SETTINGS);
    let mut c = s.command(&[]);
    c.env("CARGO_TARGET_DIR", target).env("TMPDIR", tmp);
    let child = start_sleeping_run_with(&s, c);
    let seen = seen(&s);
    assert_eq!(seen.dir.parent().unwrap(), expected);
    // SIGKILL cannot be handled: the xtask and the test command die, the server stays.
    let pgid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(9));
    assert!(TcpStream::connect(("127.0.0.1", seen.port)).is_ok(), "the server outlived the xtask");
    assert!(seen.dir.exists());

    let next = standin("database = false");
    let mut c = next.command(&["--database"]);
    c.env("CARGO_TARGET_DIR", target).env("TMPDIR", tmp);
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("removed a cluster left by an earlier run"), "{run:?}");
    assert_gone(&seen);
    assert_eq!(std::fs::read_dir(expected).unwrap().count(), 0, "the next run's own cluster is gone too");
}

#[test]
fn a_cluster_left_by_a_killed_xtask_is_removed_by_the_next_run() {
    // A target folder everyone can reach: the cluster lives in it.
    let open = OpenDir::new("pg-open", 0o755);
    let target = open.0.join("target");
    let tmp = open.0.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    killed_cluster_is_removed_by_the_next_run(&target, &tmp, &target.join("xtask-pg"));
}

#[test]
fn a_cluster_goes_to_the_temporary_folder_when_nobody_cannot_reach_the_target() {
    // A checkout in a 0700 folder, as `mktemp -d` makes (or /root). As root the cluster runs as
    // `nobody`, who cannot enter it: it goes to $TMPDIR/xtask-pg. Otherwise it runs as us and
    // stays in our target folder.
    let private = OpenDir::new("pg-private", 0o700);
    let target = private.0.join("target");
    let tmp = OpenDir::new("pg-tmp", 0o755);
    let expected = if rustix::process::geteuid().is_root() { tmp.0.join("xtask-pg") } else { target.join("xtask-pg") };
    killed_cluster_is_removed_by_the_next_run(&target, &tmp.0, &expected);
}

// ---------------------------------------------------------------------------------------
// DATABASE_URL

#[test]
fn a_database_url_that_answers_is_used_as_it_is() {
    // The outer run starts a real cluster; inside it, a second `cargo xtask test` (with its
    // own stand-ins) finds DATABASE_URL set, checks it with pg_isready and passes it on.
    let outer = standin(CLUSTER_SETTINGS);
    let inner = standin("database = true");
    outer.write(
        "during.sh",
        format!(
            "{QUERY_DURING_TESTS}\nSTANDIN='{inner}' CARGO='{inner}/bin/cargo' '{xtask}' test > \"$STANDIN/inner.out\" 2>&1\n\
             echo $? > \"$STANDIN/inner.code\"\n",
            inner = inner.0.display(),
            xtask = env!("CARGO_BIN_EXE_xtask"),
        ),
    );
    let run = outer.run(&["--", "one-run"]); // a filter: no doctest run, so the inner run happens once
    assert_eq!(run.code, 0, "{run:?}");
    let inner_out = std::fs::read_to_string(outer.path("inner.out")).unwrap();
    assert_eq!(std::fs::read_to_string(outer.path("inner.code")).unwrap().trim(), "0", "{inner_out}");
    let seen = seen(&outer);
    assert!(inner_out.contains(&format!("database: DATABASE_URL answers: {}", seen.url)), "{inner_out}");
    assert_eq!(urls(&inner), [seen.url.clone(), seen.url.clone()], "passed on as it is, to both runs");
    assert!(!inner_out.contains("throwaway"), "no second database: {inner_out}");
    assert_gone(&seen);
}

#[test]
fn a_database_url_that_answers_over_tcp_without_pg_isready() {
    let s = standin("database = true");
    let url = format!("postgres://app:hunter2@127.0.0.1:{}/app", support::postgres_greeter());
    let mut c = s.command_with_path(&[], s.path("bin"));
    c.env("DATABASE_URL", &url);
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(urls(&s), [url.clone(), url.clone()]);
    assert!(run.stderr.contains("DATABASE_URL answers: postgres://app:***@127.0.0.1:"), "{run:?}");
    assert!(!run.stderr.contains("hunter2") && !run.stdout.contains("hunter2"), "{run:?}");
}

#[test]
fn a_database_url_that_does_not_answer_is_an_error_that_hides_the_password() {
    let port = TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port(); // closed again
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/app?sslmode=disable&password=hunter2");
    let shown = format!("postgres://app:***@127.0.0.1:{port}/app?sslmode=disable&password=***");
    let s = standin("database = true");
    for (how, path) in [
        ("pg_isready", format!("{}:{}", s.path("bin").display(), std::env::var("PATH").unwrap())),
        ("tcp", s.path("bin").display().to_string()),
    ] {
        let mut c = s.command_with_path(&[], &path);
        c.env("DATABASE_URL", &url);
        let run = support::run(c);
        assert_eq!(run.code, 2, "{how}: {run:?}");
        assert!(run.stderr.contains("DATABASE_URL is set but no PostgreSQL answers there"), "{how}: {run:?}");
        assert!(run.stderr.contains(&shown), "{how}: {run:?}");
        assert!(!run.stderr.contains("hunter2") && !run.stdout.contains("hunter2"), "{how}: {run:?}");
    }
    assert!(urls(&s).is_empty(), "no silent fallback: nothing ran");
    // Only the verdict cache's question of the second run (`log` leaves out the first's): no
    // fallback to a compose database, which would ask the engine again.
    let docker: Vec<String> = s.log().into_iter().filter(|l| l.starts_with("docker")).collect();
    assert_eq!(docker, ["docker info"], "{:?}", s.log());
}

#[test]
fn a_database_url_whose_port_accepts_but_speaks_no_postgres_is_an_error_without_pg_isready() {
    // As Docker's proxy does on a published port while nothing listens in the container:
    // every connection accepted, then closed without a word.
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || listener.incoming().for_each(drop));
    let s = standin("database = true");
    let mut c = s.command_with_path(&[], s.path("bin"));
    c.env("DATABASE_URL", format!("postgres://app:hunter2@127.0.0.1:{port}/app"));
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("DATABASE_URL is set but no PostgreSQL answers there"), "{run:?}");
    assert!(run.stderr.contains("the connection closed without an answer"), "{run:?}");
    assert!(urls(&s).is_empty(), "nothing ran: {run:?}");
}

// ---------------------------------------------------------------------------------------
// Docker compose

/// The compose table of this repository's Cargo.toml: the variables of a throwaway stack.
const COMPOSE_ENV: &str = "env = { APP_IMAGE = \"{image}\", APP_PORT = \"{port}\", DB_PORT = \"{port}\", \
                           POSTGRES_USER = \"shop\", POSTGRES_PASSWORD = \"{secret}\", POSTGRES_DB = \"shop_db\", \
                           JWT_SECRET = \"{secret}{secret}\" }";

/// While the tests run: who the database says we are, through DATABASE_URL.
const WHO_AM_I: &str = r#"psql "$DATABASE_URL" -tAc "select current_user || ' ' || current_database()" > "$STANDIN/query" 2>&1
"#;

/// A workspace with this repository's compose file (as `compose_file`, changed by `edit`),
/// the compose table `COMPOSE_ENV`, and a `.env` that would break the stack were it read.
fn with_compose(edit: impl FnOnce(String) -> String) -> StandIn {
    let s = standin("");
    let compose = std::fs::read_to_string(support::workspace_root().join("docker-compose.yml")).unwrap();
    let file = s.write("ws/docker-compose.yml", edit(compose));
    // The development overlay publishes the database's port, which the tests connect to.
    let dev = std::fs::read_to_string(support::workspace_root().join("docker-compose.dev.yml")).unwrap();
    let dev_file = s.write("ws/docker-compose.dev.yml", dev);
    s.write("ws/.env", "POSTGRES_USER=\nPOSTGRES_PASSWORD=\nDB_PORT=1\n");
    test_settings(
        &s,
        &format!(
            "database = true\ndatabase-name = \"cluster_db\"\ndatabase-user = \"cluster\"\n\
         [workspace.metadata.xtask.compose]\nfile = \"{}\"\ndev-file = \"{}\"\n{COMPOSE_ENV}",
            file.display(),
            dev_file.display()
        ),
    );
    s.write("during.sh", WHO_AM_I);
    s
}

/// The compose project a run used, from its `database:` line.
fn compose_project(run: &Run) -> String {
    let line = run.stderr.lines().find(|l| l.contains(", project ")).unwrap_or_else(|| panic!("{run:?}"));
    line.split(", project ").nth(1).unwrap().split(':').next().unwrap().to_owned()
}

#[test]
fn the_compose_db_runs_in_a_project_of_its_own_without_env_and_is_removed_afterwards() {
    if !support::docker_engine("the_compose_db_runs_in_a_project_of_its_own…") {
        return;
    }
    let _engine = support::docker_lock();
    let s = with_compose(|c| c);
    let path = std::env::var("PATH").unwrap();
    for (exit, code) in [(None, 0), (Some("101"), 1)] {
        if let Some(exit) = exit {
            s.write("test-exit", exit);
        }
        let run = support::run(s.command_with_path(&[], &path));
        assert_eq!(run.code, code, "{run:?}");
        let project = compose_project(&run);
        assert!(project.starts_with("xtask-test-"), "{run:?}");
        let url = urls(&s).last().cloned().unwrap();
        assert!(url.starts_with("postgres://shop:") && url.ends_with("/shop_db"), "{url}");
        assert_eq!(std::fs::read_to_string(s.path("query")).unwrap().trim(), "shop shop_db", "{run:?}");
        let secret = url.split(':').nth(2).unwrap().split('@').next().unwrap();
        assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret), "the password is not shown: {run:?}");
        assert!(
            run.stderr.contains(&format!(
                "database: compose `db` service, project {project}: postgres://shop:***@127.0.0.1:"
            )),
            "{run:?}"
        );
        assert!(run.stderr.contains(&format!("database: removed the compose project {project}")), "{run:?}");
        assert_eq!(support::leftovers(&project), Vec::<String>::new(), "{run:?}");
    }
}

#[test]
fn a_compose_project_left_by_a_killed_run_is_removed_by_the_next_run() {
    if !support::docker_engine("a_compose_project_left_by_a_killed_run…") {
        return;
    }
    let _engine = support::docker_lock();
    let s = with_compose(|c| c);
    let path = std::env::var("PATH").unwrap();
    let run = support::run(s.command_with_path(&[], &path));
    assert_eq!(run.code, 0, "{run:?}");
    // What a run killed outright (SIGKILL) leaves: its project, running, under a pid now gone.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let ours = compose_project(&run);
    let stale = format!("{}-{dead_pid}", ours.rsplit_once('-').unwrap().0);
    let up = Command::new("docker")
        .args(["compose", "-f"])
        .arg(s.path("ws/docker-compose.yml"))
        .args(["-p", &stale, "--env-file", "/dev/null", "up", "-d", "db"])
        .envs([("POSTGRES_USER", "x"), ("POSTGRES_PASSWORD", "x"), ("POSTGRES_DB", "x"), ("JWT_SECRET", "x")])
        .env("DB_PORT", xtask::docker::free_port().unwrap().to_string())
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    assert!(!support::leftovers(&stale).is_empty());

    let run = support::run(s.command_with_path(&[], &path));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains(&format!("database: removed the compose project {stale}, left by an earlier run")),
        "{run:?}"
    );
    assert_eq!(support::leftovers(&stale), Vec::<String>::new(), "{run:?}");
}

#[test]
fn a_compose_db_that_cannot_start_falls_through_to_the_local_binaries() {
    if !support::docker_engine("a_compose_db_that_cannot_start_falls_through…") {
        return;
    }
    let _engine = support::docker_lock();
    // No registry has this image: `up` fails as a missing image or a taken port would.
    let s = with_compose(|c| c.replace("image: postgres:16", "image: xtask-test.invalid/no-such-postgres:0"));
    let run = support::run(s.command_with_path(&[], std::env::var("PATH").unwrap()));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("database: the compose `db` service did not start:"), "{run:?}");
    assert!(run.stderr.contains("database: trying the next way"), "{run:?}");
    assert!(run.stderr.contains("database: throwaway PostgreSQL"), "{run:?}");
    assert!(urls(&s)[0].starts_with("postgres://cluster@127.0.0.1:"), "{:?}", urls(&s));
    assert_eq!(std::fs::read_to_string(s.path("query")).unwrap().trim(), "cluster cluster_db", "{run:?}");
    let removed = run.stderr.lines().find_map(|l| l.strip_prefix("database: removed the compose project ")).unwrap();
    let project = removed.split_whitespace().next().unwrap();
    assert!(project.starts_with("xtask-test-"), "{run:?}");
    assert_eq!(support::leftovers(project), Vec::<String>::new(), "{run:?}");
}

/// Compose v1 alone (a stand-in: no real engine here has it): the same commands through the
/// standalone `docker-compose`, with a warning.
const COMPOSE_SH: &str = r#"while [ $# -gt 0 ]; do case "$1" in -f|-p|--env-file) shift 2 ;; *) break ;; esac; done
case "$1" in
  config) printf '%s\n' "$(<"$STANDIN/config.json")" ;;
  up) : ;;
  port) echo "0.0.0.0:$(<"$STANDIN/port")" ;;
  down) : ;;
  *) exit 1 ;;
esac
exit 0
"#;

const CONFIG_JSON: &str = r#"{"name": "clicknback", "services": {"db": {"image": "postgres:16",
  "environment": {"POSTGRES_USER": "shop", "POSTGRES_PASSWORD": "s3cr3t pa$$", "POSTGRES_DB": "shop_db"},
  "ports": [{"target": 5432, "published": "5432"}]}}}"#;

#[test]
fn without_the_compose_plugin_docker_compose_is_used_with_a_warning() {
    let s = standin("");
    let file = s.write("ws/docker-compose.yml", "services:\n  db:\n    image: postgres:16\n");
    test_settings(&s, &format!("database = true\n[workspace.metadata.xtask.compose]\nfile = \"{}\"", file.display()));
    // A throwaway stack's compose gets none of our environment: the stand-in knows its folder.
    let standin = support::DOCKER_COMPOSE_STANDIN.replacen('\n', &format!("\nSTANDIN='{}'\n", s.0.display()), 1);
    s.write("compose-bin/docker-compose", standin);
    let port = support::postgres_greeter();
    s.write("port", port.to_string());
    s.write("compose.sh", COMPOSE_SH);
    s.write("config.json", CONFIG_JSON);
    s.set("engine", true);
    // Only the stand-ins on PATH (so readiness is checked over TCP, without pg_isready).
    let path = format!("{}:{}", s.path("bin").display(), s.path("compose-bin").display());
    let run = support::run(s.command_with_path(&[], &path));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("warning: the Docker Compose v2 plugin (`docker compose`) is missing"), "{run:?}");
    let log = s.log();
    assert_eq!(log[..3], ["cargo nextest --version", "docker info", "docker compose version"]);
    let project = compose_project(&run);
    let c = format!("docker-compose -f {} -p {project} --env-file /dev/null", file.display());
    assert!(log.contains(&format!("{c} up -d --wait db")), "{log:?}");
    assert_eq!(log.last().unwrap(), &format!("{c} down --volumes --remove-orphans --timeout 10"));
    assert_eq!(urls(&s)[0], format!("postgres://shop:s3cr3t%20pa%24%24@127.0.0.1:{port}/shop_db"));
}

// ---------------------------------------------------------------------------------------
// Compose services beyond the database (`services`, `env`)

/// A workspace of one std-only crate (it builds in seconds) whose test reaches Redis and
/// PostgreSQL where the variables of `env` say, then writes what Redis answered and the
/// database's password to `seen` at the root.
const SERVICES_WORKSPACE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        r#"[workspace]
members = ["svc"]
exclude = ["xtask"]
resolver = "2"

[workspace.metadata.xtask.test]
services = ["db", "redis"]
env = { APP_DATABASE__HOST = "{db.host}", APP_DATABASE__PORT = "{db.port}", APP_DATABASE__USER = "{db.user}", APP_DATABASE__PASSWORD = "{db.password}", APP_DATABASE__NAME = "{db.name}", APP_REDIS_URI = "redis://{redis.host}:{redis.port}" }

[workspace.metadata.xtask.compose]
env = { DB_PASSWORD = "{secret}" }
"#,
    ),
    // Where the xtask finds the workspace root (`CARGO_MANIFEST_DIR` naming a crate called xtask).
    ("xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n"),
    (
        "compose.yaml",
        r#"services:
  db:
    image: postgres:16
    environment:
      POSTGRES_USER: svc
      POSTGRES_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}
      POSTGRES_DB: svc_test
    ports: ["127.0.0.1::5432"]
  redis:
    image: redis:7
    ports: ["127.0.0.1::6379"]
"#,
    ),
    ("svc/Cargo.toml", "[package]\nname = \"svc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
    ("svc/src/lib.rs", ""),
    (
        "svc/tests/services.rs",
        r#"use std::io::{Read, Write};
use std::net::TcpStream;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

#[test]
fn the_services_answer_where_the_variables_say() {
    // Redis, in its own protocol.
    let uri = var("APP_REDIS_URI");
    let mut redis = TcpStream::connect(uri.strip_prefix("redis://").unwrap()).expect("Redis takes a connection");
    redis.write_all(b"PING\r\n").unwrap();
    let mut pong = [0u8; 7];
    redis.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"+PONG\r\n");
    // PostgreSQL answers an SSLRequest with one byte, `S` or `N`.
    let port: u16 = var("APP_DATABASE__PORT").parse().unwrap();
    let mut db = TcpStream::connect((var("APP_DATABASE__HOST").as_str(), port)).expect("PostgreSQL takes a connection");
    db.write_all(&[0, 0, 0, 8, 4, 210, 22, 47]).unwrap();
    let mut answer = [0u8; 1];
    db.read_exact(&mut answer).unwrap();
    assert!(&answer == b"N" || &answer == b"S", "{answer:?}");
    // DATABASE_URL as ever, and the same database under the app's own names.
    let (user, password, name) = (var("APP_DATABASE__USER"), var("APP_DATABASE__PASSWORD"), var("APP_DATABASE__NAME"));
    assert_eq!(var("DATABASE_URL"), format!("postgres://{user}:{password}@127.0.0.1:{port}/{name}"));
    assert_eq!((user.as_str(), name.as_str()), ("svc", "svc_test"));
    let seen = format!("{}\n{password}\n", String::from_utf8_lossy(&pong).trim());
    std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../seen"), seen).unwrap();
}
"#,
    ),
];

/// The compose project a run's `services:` line names.
fn services_project(run: &Run) -> String {
    let line = run.stderr.lines().find(|l| l.starts_with("services: compose `")).unwrap_or_else(|| panic!("{run:?}"));
    line.split(", project ").nth(1).unwrap().split(':').next().unwrap().to_owned()
}

#[test]
fn compose_services_reach_a_real_test_through_env_and_are_removed_afterwards() {
    if !support::docker_engine("compose_services_reach_a_real_test_through_env…") {
        return;
    }
    let _engine = support::docker_lock();
    let ws = support::Scratch::new("services");
    for (name, text) in SERVICES_WORKSPACE {
        ws.write(name, text);
    }
    let mut c = support::xtask_on(&ws.0);
    c.arg("test");
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    let seen = std::fs::read_to_string(ws.path("seen")).unwrap_or_else(|_| panic!("the test did not run: {run:?}"));
    let (pong, password) = seen.trim().split_once('\n').unwrap();
    assert_eq!(pong, "+PONG", "{run:?}");
    assert_eq!(password.len(), 32, "the compose table's fresh {{secret}}: {seen}");
    assert!(!run.stderr.contains(password) && !run.stdout.contains(password), "no password shown: {run:?}");

    // The database as today, then Redis in the same throwaway project.
    let project = compose_project(&run);
    assert!(project.starts_with("xtask-test-"), "{run:?}");
    for line in [
        format!("database: compose `db` service, project {project}: postgres://svc:***@127.0.0.1:"),
        format!(
            "services: $ docker compose -f {} -p {project} --env-file /dev/null up -d --wait redis",
            ws.path("compose.yaml").display()
        ),
        format!("services: compose `redis` service, project {project}: 127.0.0.1:"),
        "services: the tests get APP_DATABASE__HOST, APP_DATABASE__NAME, APP_DATABASE__PASSWORD, APP_DATABASE__PORT, \
         APP_DATABASE__USER, APP_REDIS_URI"
            .to_owned(),
        format!("database: removed the compose project {project} (containers, networks, volumes)"),
    ] {
        assert!(run.stderr.contains(&line), "{line}: {run:?}");
    }
    assert_eq!(services_project(&run), project);
    assert!(run.stderr.contains("1 test run: 1 passed"), "{run:?}");
    // Nothing of the project is left: no container, volume or network, and compose knows it no more.
    assert_eq!(support::leftovers(&project), Vec::<String>::new(), "{run:?}");
    let ls = Command::new("docker").args(["compose", "ls", "--all", "--quiet"]).output().unwrap();
    let projects = String::from_utf8_lossy(&ls.stdout);
    assert!(!projects.lines().any(|p| p == project), "{projects}");
}

/// While the stand-in tests run: Redis's answer to PING at `APP_REDIS_URI` (bash's /dev/tcp), the
/// database's variables, and who the database says we are through them.
const REDIS_AND_DB_DURING_TESTS: &str = r#"exec 3<>"/dev/tcp/127.0.0.1/${APP_REDIS_URI##*:}"
printf 'PING\r\n' >&3
IFS= read -r pong <&3
exec 3>&-
printf '%s\n' "${pong%$'\r'}" "${APP_DATABASE__USER-<unset>}" "${APP_DATABASE__NAME-<unset>}" > "$STANDIN/seen"
if [ -n "${APP_DATABASE__PORT-}" ]; then
  psql -Atc "select current_user" "postgres://$APP_DATABASE__USER@$APP_DATABASE__HOST:$APP_DATABASE__PORT/$APP_DATABASE__NAME" >> "$STANDIN/seen" 2>&1
fi
"#;

#[test]
fn compose_services_start_in_a_project_of_their_own_beside_a_local_cluster() {
    if !support::docker_engine("compose_services_start_in_a_project_of_their_own…") {
        return;
    }
    let _engine = support::docker_lock();
    let s = standin("");
    // No `db` service: the database falls through to the local binaries, Redis comes from compose.
    let file =
        s.write("ws/compose.yaml", "services:\n  redis:\n    image: redis:7\n    ports: [\"127.0.0.1::6379\"]\n");
    test_settings(
        &s,
        &format!(
            "database = true\ndatabase-name = \"cluster_db\"\ndatabase-user = \"cluster\"\nservices = [\"redis\"]\n\
             env = {{ APP_REDIS_URI = \"redis://{{redis.host}}:{{redis.port}}\", APP_DATABASE__HOST = \"{{db.host}}\", \
             APP_DATABASE__PORT = \"{{db.port}}\", APP_DATABASE__USER = \"{{db.user}}\", \
             APP_DATABASE__NAME = \"{{db.name}}\" }}\n\
             [workspace.metadata.xtask.compose]\nfile = \"{}\"",
            file.display()
        ),
    );
    s.write("during.sh", REDIS_AND_DB_DURING_TESTS);
    let path = std::env::var("PATH").unwrap();
    let run = support::run(s.command_with_path(&[], &path));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("database: the compose `db` service did not start:"), "{run:?}");
    assert!(run.stderr.contains("database: throwaway PostgreSQL"), "{run:?}");
    let project = services_project(&run);
    assert!(project.starts_with("xtask-test-"), "{run:?}");
    assert!(run.stderr.contains(&format!("services: removed the compose project {project}")), "{run:?}");
    assert!(run.stderr.contains("database: stopped the throwaway cluster"), "{run:?}");
    assert_eq!(s.lines("seen"), ["+PONG", "cluster", "cluster_db", "cluster"], "{run:?}");
    assert!(urls(&s)[0].starts_with("postgres://cluster@127.0.0.1:"), "DATABASE_URL as ever: {:?}", urls(&s));
    assert_eq!(support::leftovers(&project), Vec::<String>::new(), "{run:?}");

    // Without the database, its variables are left out (and said so); Redis is still there.
    let run = support::run(s.command_with_path(&["--no-database"], &path));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains(
            "services: APP_DATABASE__HOST is not set for the tests: this run has no database (`--no-database`)"
        ),
        "{run:?}"
    );
    assert!(run.stderr.contains("services: the tests get APP_REDIS_URI\n"), "{run:?}");
    assert!(!run.stderr.contains("database: throwaway"), "{run:?}");
    assert_eq!(s.lines("seen"), ["+PONG", "<unset>", "<unset>"], "{run:?}");
    assert_eq!(support::leftovers(&services_project(&run)), Vec::<String>::new(), "{run:?}");

    // Ctrl-C while the tests run: the services' project and the cluster are removed.
    let mut c = s.command_with_path(&[], &path);
    s.write("during.sh", format!("{REDIS_AND_DB_DURING_TESTS}\n: > \"$STANDIN/ready\"\nexec sleep 60\n"));
    c.process_group(0).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    wait_for_file(&s.path("ready"), &mut child);
    rustix::process::kill_process_group(rustix::process::Pid::from_child(&child), rustix::process::Signal::INT)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    support::assert_ended_by_signal(out.status, 2, &stderr);
    let run = Run { code: -1, stdout: String::new(), stderr };
    let project = services_project(&run);
    assert!(run.stderr.contains(&format!("services: removed the compose project {project}")), "{run:?}");
    assert!(run.stderr.contains("database: stopped the throwaway cluster"), "{run:?}");
    assert_eq!(support::leftovers(&project), Vec::<String>::new(), "{run:?}");
}

#[test]
fn compose_services_that_cannot_be_provided_are_exit_2_naming_each_with_its_fix() {
    if !support::docker_engine("compose_services_that_cannot_be_provided…") {
        return;
    }
    let _engine = support::docker_lock();
    let s = standin("");
    let file = s.write(
        "ws/compose.yaml",
        "services:\n  redis:\n    image: redis:7\n  web:\n    image: redis:7\n    ports: [\"127.0.0.1::8080\"]\n",
    );
    let settings = |services: &str, env: &str| {
        format!(
            "services = [{services}]\nenv = {{ {env} }}\n[workspace.metadata.xtask.compose]\nfile = \"{}\"",
            file.display()
        )
    };
    test_settings(&s, &settings("\"redis\", \"web\", \"queue\"", "W = \"{web.port.9090}\", R = \"{redis.port}\""));
    let path = std::env::var("PATH").unwrap();
    let run = support::run(s.command_with_path(&[], &path));
    assert_eq!(run.code, 2, "{run:?}");
    let f = file.display();
    for says in [
        "the tests need the compose services `redis`, `web`, `queue` (`services` in [workspace.metadata.xtask.test]), \
         which cannot be provided:\n"
            .to_owned(),
        format!(
            "\n  - the `redis` service publishes no port, so the tests cannot reach it: add \
             `ports: [\"127.0.0.1::6379\"]` to it in {f}; the host port is then a free one, on the loopback only\n"
        ),
        format!(
            "\n  - `env.W` reads `{{web.port.9090}}`, but the `web` service does not publish 9090: add \
             `\"127.0.0.1::9090\"` to its `ports` in {f}\n"
        ),
        format!("\n  - {f} has no `queue` service: add it there, or remove `queue` from `services`"),
    ] {
        assert!(run.stderr.contains(&says), "{says}: {run:?}");
    }
    assert!(!run.stderr.contains("services: $"), "nothing was started: {run:?}");
    assert!(urls(&s).is_empty(), "no test ran");

    // An image no registry has: `up` fails, the service is named, its project is removed.
    s.write(
        "ws/compose.yaml",
        "services:\n  redis:\n    image: xtask-test.invalid/no-such-redis:0\n    ports: [\"6379\"]\n",
    );
    test_settings(&s, &settings("\"redis\"", "R = \"{redis.port}\""));
    let run = support::run(s.command_with_path(&[], &path));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("the tests need the compose service `redis` (`services`"), "{run:?}");
    assert!(run.stderr.contains(" up -d --wait redis` failed ("), "{run:?}");
    let removed = run.stderr.lines().find_map(|l| l.strip_prefix("services: removed the compose project ")).unwrap();
    let project = removed.split_whitespace().next().unwrap();
    assert_eq!(support::leftovers(project), Vec::<String>::new(), "{run:?}");
    assert!(urls(&s).is_empty(), "no test ran");
}

#[test]
fn without_docker_other_services_are_exit_2_and_the_database_falls_back_to_the_cluster() {
    let s = standin("");
    let file =
        s.write("ws/compose.yaml", "services:\n  redis:\n    image: redis:7\n    ports: [\"127.0.0.1::6379\"]\n");
    let path = std::env::var("PATH").unwrap();
    let run_with = |services: &str| {
        test_settings(
            &s,
            &format!("services = [{services}]\n[workspace.metadata.xtask.compose]\nfile = \"{}\"", file.display()),
        );
        let mut c = s.command_with_path(&[], &path);
        c.env("DOCKER_HOST", "unix:///nonexistent.sock");
        support::run(c)
    };
    for services in ["\"redis\"", "\"db\", \"redis\""] {
        let run = run_with(services);
        assert_eq!(run.code, 2, "{services}: {run:?}");
        assert!(
            run.stderr.contains(
                "the tests need the compose service `redis` (`services` in [workspace.metadata.xtask.test]), which \
                 cannot be provided:\n  - no Docker engine answers (`docker info`: "
            ),
            "{services}: {run:?}"
        );
        assert!(run.stderr.contains("(only Docker provides services other than PostgreSQL)"), "{run:?}");
        assert!(!run.stderr.contains("database:"), "checked before the database starts: {run:?}");
        assert!(urls(&s).is_empty(), "no test ran");
    }
    // The database alone still comes from the local binaries.
    let run = run_with("\"db\"");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("database: throwaway PostgreSQL"), "{run:?}");
    assert!(urls(&s)[0].starts_with("postgres://app@127.0.0.1:"), "{:?}", urls(&s));
}

// ---------------------------------------------------------------------------------------
// None possible

#[test]
fn with_no_way_to_provide_postgres_the_error_lists_the_three_ways() {
    let s = standin("database = true");
    let empty = s.write("no-postgres/README", "");
    let mut c = s.command_with_path(&[], s.path("bin"));
    c.env("XTASK_PG_BIN", empty.parent().unwrap());
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    for expected in [
        "the tests need PostgreSQL",
        "DATABASE_URL: not set",
        "Docker: no Docker engine answers (`docker info`: Cannot connect to the Docker daemon",
        "local PostgreSQL: XTASK_PG_BIN=",
        "1. set DATABASE_URL=",
        "2. start Docker",
        "3. install the PostgreSQL server binaries",
        "sudo apt-get install postgresql",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {run:?}");
    }
    assert!(urls(&s).is_empty(), "nothing ran");

    // Docker answers but there is no compose file: said so, then the local binaries. (The
    // repository itself has a compose file, so point the setting at one that does not exist.)
    let missing = s.path("missing/docker-compose.yml");
    test_settings(
        &s,
        &format!("database = true\n[workspace.metadata.xtask.compose]\nfile = \"{}\"", missing.display()),
    );
    s.set("engine", true);
    let mut c = s.command_with_path(&[], s.path("bin"));
    c.env("XTASK_PG_BIN", empty.parent().unwrap());
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    let expected = format!("a Docker engine answers, but {} does not exist", missing.display());
    assert!(run.stderr.contains(&expected), "{run:?}");
}

#[test]
fn no_database_flag_skips_provisioning() {
    let s = standin("database = true");
    let run = support::run(s.command_with_path(&["--no-database"], s.path("bin")));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(urls(&s), ["<unset>", "<unset>"]);
}

/// A workspace whose compose file builds one image from `dockerfile`, with `build-images = true`
/// and the smoke gate's tag `image`; no database.
fn with_an_image_to_build(image: &str, dockerfile: &str) -> StandIn {
    let s = standin("");
    s.write("ws/Dockerfile", dockerfile);
    let file = s.write(
        "ws/docker-compose.yml",
        "services:\n  app:\n    image: ${APP_IMAGE:?}\n    build:\n      context: .\n    command: [\"true\"]\n",
    );
    test_settings(
        &s,
        &format!(
            "build-images = true\n[workspace.metadata.xtask.compose]\nfile = \"{}\"\napp-service = \"app\"\n\
         env = {{ APP_IMAGE = \"{{image}}\" }}\n[workspace.metadata.xtask.smoke]\nimage = \"{image}\"",
            file.display()
        ),
    );
    // While the tests run: whether the image is there already.
    s.write("during.sh", format!("docker image inspect --format '{{{{.Id}}}}' {image} > \"$STANDIN/seen\" 2>&1\n"));
    s
}

#[test]
fn a_whole_run_builds_the_compose_images_first_and_a_failed_build_is_a_warning() {
    if !support::docker_engine("a_whole_run_builds_the_compose_images_first…") {
        return;
    }
    let _engine = support::docker_lock();
    let image = support::TestImage::new("xtask-images-test");
    let image = &image.0;
    let marker = format!("built-{}", std::process::id());
    let s = with_an_image_to_build(image, &format!("FROM debian:trixie-slim\nRUN echo {marker} > /built\n"));
    let path = std::env::var("PATH").unwrap();

    // A whole run: the image is built before the tests start, tagged as the smoke gate's.
    let run = support::run(s.command_with_path(&["--no-cache"], &path));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains(&format!("images: building {image} for the container tests")), "{run:?}");
    assert!(run.stderr.contains(&format!("images: {image} built in ")), "{run:?}");
    let seen = std::fs::read_to_string(s.path("seen")).unwrap();
    assert!(seen.starts_with("sha256:"), "the tests saw no image: {seen}");
    let cat = Command::new("docker").args(["run", "--rm", image, "cat", "/built"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&cat.stdout).trim(), marker);

    // A run narrowed by extra arguments builds nothing.
    std::fs::remove_file(s.path("seen")).unwrap();
    let run = support::run(s.command_with_path(&["--no-cache", "--", "some_test"], &path));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stderr.contains("images:"), "{run:?}");

    // A build that fails is a warning: the tests still run, and decide the gate.
    std::fs::remove_file(s.path("seen")).unwrap();
    s.write("ws/Dockerfile", "FROM debian:trixie-slim\nRUN echo the-build-broke && exit 3\n");
    let run = support::run(s.command_with_path(&["--no-cache"], &path));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("warning: images: `docker compose -f "), "{run:?}");
    assert!(run.stderr.contains("the-build-broke"), "the log's last lines: {run:?}");
    assert!(s.path("seen").exists(), "the tests ran: {run:?}");
}
