//! `cargo xtask dev` against a stand-in `cargo` whose `run` starts a sleeping child and
//! records both PIDs: a change under app/src restarts it only after the old process group is
//! gone, and SIGINT leaves nothing running.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::Scratch;

/// `run`: records argv and `<its pid> <child pid>`, and writes `overlap` when a process of an
/// earlier run is still alive (not a zombie) at its start.
const CARGO_STANDIN: &str = r#"#!/bin/bash
case "$1" in
  metadata) exec "$REAL_CARGO" metadata --format-version 1 --no-deps --offline --manifest-path "$STANDIN/ws/Cargo.toml" ;;
esac
printf 'cargo %s (in %s)\n' "$*" "$PWD" >> "$STANDIN/log"
if [ -e "$STANDIN/pids" ]; then
  for p in $(<"$STANDIN/pids"); do
    if [ -e "/proc/$p/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$p/stat"; then echo "$p" >> "$STANDIN/overlap"; fi
  done
fi
sleep 300 &
echo "$$ $!" >> "$STANDIN/pids"
wait
"#;

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

fn pid_lines(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("pids"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

fn wait_for_runs(dir: &Path, n: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while pid_lines(dir).len() < n {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("dev exited ({status}) before run {n}");
        }
        assert!(Instant::now() < deadline, "run {n} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_source_change_restarts_the_app_after_its_process_group_is_gone_and_sigint_leaves_nothing() {
    let dir = Scratch::new("dev-standin");
    let cargo = dir.write("bin/cargo", CARGO_STANDIN);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir.write("ws/Cargo.toml", "[package]\nname = \"standin\"\nversion = \"0.0.0\"\nedition = \"2021\"\n[workspace]\n");
    dir.write("ws/src/lib.rs", "");
    dir.write("ws/app/src/main.rs", "fn main() {}\n");
    dir.write("ws/app/Cargo.toml", "");
    let ws = dir.0.join("ws");

    let mut c = support::xtask();
    c.env("CARGO", &cargo)
        .env("REAL_CARGO", std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .env("STANDIN", &dir.0)
        .arg("dev")
        .arg("--root")
        .arg(&ws)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    wait_for_runs(&dir.0, 1, &mut child);
    let first = pid_lines(&dir.0)[0].clone();
    assert!(first.iter().all(|p| alive(p)), "{first:?}");

    // Not watched: no restart.
    dir.write("ws/README.md", "x");
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(pid_lines(&dir.0).len(), 1);

    dir.write("ws/app/src/routes.rs", "// new\n");
    wait_for_runs(&dir.0, 2, &mut child);
    assert!(!dir.0.join("overlap").exists(), "the old run was still alive when the new one started");
    assert!(first.iter().all(|p| !alive(p)), "{first:?}");
    let second = pid_lines(&dir.0)[1].clone();
    assert!(second.iter().all(|p| alive(p)), "{second:?}");

    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    support::assert_ended_by_signal(out.status, 2, &stderr);
    assert!(second.iter().all(|p| !alive(p)), "{second:?}\n{stderr}");
    assert!(stderr.contains("dev: app/src/routes.rs changed; restarting"), "{stderr}");
    let log = std::fs::read_to_string(dir.0.join("log")).unwrap();
    let expected = format!("cargo run -p app -- serve (in {})\n", ws.display());
    assert_eq!(log, expected.repeat(2));
}
