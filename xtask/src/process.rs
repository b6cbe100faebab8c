//! Small process helpers shared by the gates: finding a program on PATH, running a command to
//! completion with its output captured, and asking whether a process is still alive.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context as _, Result, bail};

/// A program on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(|p| is_executable(p))
}

pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs a command to completion, stdin closed, output captured; `Err` with that output
/// when it fails. `shown` is the command as a user would type it.
pub fn checked(cmd: &mut Command, shown: &str) -> Result<Output> {
    let out = cmd.stdin(Stdio::null()).output().with_context(|| format!("cannot run {shown}"))?;
    if !out.status.success() {
        bail!("`{shown}` failed ({}):\n{}", out.status, text(&out));
    }
    Ok(out)
}

/// A command's stdout and stderr, as one trimmed text.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)).trim_end().to_owned()
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

#[cfg(test)]
mod tests {
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
    fn checked_reports_the_output_of_a_failure() {
        let err = checked(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), "sh -c …").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.starts_with("`sh -c …` failed (exit status: 3):\nout\nerr"), "{msg}");
        assert_eq!(text(&checked(Command::new("echo").arg("hi"), "echo").unwrap()), "hi");
    }
}
