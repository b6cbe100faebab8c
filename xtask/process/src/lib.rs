//! Running external programs, for every gate and engine of `cargo xtask`: [`Cmd`], the one
//! way they start one (run with its output captured, a failure showing the last lines of that
//! output; with a time limit; in a process group of its own); finding a program on PATH; and
//! asking whether a process, or a process group, is still alive.

mod cmd;

pub use cmd::{Cmd, coverage_run_leftovers, drain};

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// A program on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(|p| is_executable(p))
}

pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How many lines of a failed program's output an error shows.
pub const SHOWN_LINES: usize = 15;

/// Why a program could not be started, in words ("was not found" rather than an errno).
pub fn cannot_run(cmd: &Command, shown: &str, e: &std::io::Error) -> anyhow::Error {
    let program = Path::new(cmd.get_program()).file_name().unwrap_or_default().to_string_lossy();
    match e.kind() {
        std::io::ErrorKind::NotFound if shown == program => anyhow::anyhow!("`{program}` was not found"),
        std::io::ErrorKind::NotFound => anyhow::anyhow!("cannot run `{shown}`: `{program}` was not found"),
        _ => anyhow::anyhow!("cannot run `{shown}`: {e}"),
    }
}

/// "`shown` failed (exit status: N):" and the last [`SHOWN_LINES`] lines of its output.
pub fn failure(shown: &str, out: &Output) -> String {
    format!("`{shown}` failed ({}):\n{}", out.status, last_lines(&text(out), SHOWN_LINES))
}

/// A command's stdout and stderr, as one trimmed text.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)).trim_end().to_owned()
}

/// The last `n` lines of a program's output (trailing blank lines dropped).
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Whether a process exists and has not exited (a zombie waiting to be reaped has).
pub fn alive(pid: rustix::process::Pid) -> bool {
    let exists = match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    };
    // `/proc/PID/stat` is `PID (COMMAND) STATE …`.
    exists
        && std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero()))
            .map_or(true, |stat| stat.rsplit_once(')').is_none_or(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

/// Whether any process of the group `pgid` has not exited yet.
pub fn group_alive(pgid: rustix::process::Pid) -> bool {
    if rustix::process::test_kill_process_group(pgid).is_err() {
        return false;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else { return true };
    let pgid = pgid.as_raw_nonzero().get();
    procs.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { return false };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else { return false };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2].parse() == Ok(pgid)
    })
}

/// How [`stop_group`] ended a process group.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Every process left on SIGTERM within the grace period.
    OnTerm,
    /// SIGKILL ended what SIGTERM did not.
    Killed,
    /// Something was still alive a grace period after SIGKILL (a process stuck in the kernel).
    Stuck,
}

/// SIGTERM to the group `pgid` (led by `child`), then SIGKILL once `grace` has passed; returns
/// once no process of the group is left (or a grace period after SIGKILL), with `child` reaped.
pub fn stop_group(pgid: rustix::process::Pid, child: &mut Child, grace: Duration) -> Stopped {
    use rustix::process::{Signal, kill_process_group};
    let _ = kill_process_group(pgid, Signal::TERM);
    let stopped = if group_gone_within(pgid, child, grace) {
        Stopped::OnTerm
    } else {
        let _ = kill_process_group(pgid, Signal::KILL);
        if group_gone_within(pgid, child, grace) { Stopped::Killed } else { Stopped::Stuck }
    };
    let _ = child.wait();
    stopped
}

/// Polls (reaping `child` as it goes) until no process of the group is alive or `grace` passed.
fn group_gone_within(pgid: rustix::process::Pid, child: &mut Child, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    loop {
        let _ = child.try_wait();
        if !group_alive(pgid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use std::process::Stdio;

    use super::*;

    #[test]
    fn a_finished_child_is_not_alive_and_we_are() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = rustix::process::Pid::from_child(&child);
        child.wait().unwrap();
        assert!(!alive(pid));
        assert!(alive(rustix::process::getpid()));
    }

    #[test]
    fn a_failure_shows_the_last_lines_of_its_output() {
        let long = Cmd::new("seq").arg("40").run().map(|o| text(&o)).unwrap();
        assert_eq!(last_lines(&long, 3), "38\n39\n40");
        let err = Cmd::new("sh").args(["-c", "seq 40; exit 1"]).shown("seq").run().unwrap_err().to_string();
        assert!(err.starts_with("`seq` failed (exit status: 1):\n26\n"), "{err}");
        assert!(err.ends_with("\n38\n39\n40") && !err.contains("\n25\n"), "{err}");
    }

    #[test]
    fn a_group_is_alive_while_a_member_runs() {
        use std::os::unix::process::CommandExt as _;
        let mut child = Command::new("sleep").arg("30").process_group(0).spawn().unwrap();
        let pgid = rustix::process::Pid::from_child(&child);
        assert!(group_alive(pgid));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!group_alive(pgid));
    }

    #[test]
    fn stopping_a_group_kills_what_ignores_sigterm() {
        use std::os::unix::process::CommandExt as _;
        // Returns once the script has said "ready": its traps are set and its sleep started.
        let spawn = |script: &str| {
            let script = format!("{script}; sleep 30 & echo ready; wait");
            let mut child =
                Command::new("sh").args(["-c", &script]).process_group(0).stdout(Stdio::piped()).spawn().unwrap();
            let mut ready = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut ready)
                .unwrap();
            assert_eq!(ready, "ready\n");
            (rustix::process::Pid::from_child(&child), child)
        };
        let (pgid, mut child) = spawn("true");
        assert_eq!(stop_group(pgid, &mut child, Duration::from_secs(30)), Stopped::OnTerm);
        assert!(!group_alive(pgid));

        // Ignored signals stay ignored across exec: neither the shell nor its sleep leaves on TERM.
        let (pgid, mut child) = spawn("trap '' TERM");
        let started = Instant::now();
        assert_eq!(stop_group(pgid, &mut child, Duration::from_millis(300)), Stopped::Killed);
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(!group_alive(pgid));
    }
}
