//! [`Cmd`], the one way the xtask and its engines start a program.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// A program to run, built up and then run in one of the ways below. It is a
/// [`std::process::Command`] that knows how a user would type it (for messages: "`cargo
/// llvm-cov report` failed …") and that never hands on an enclosing coverage run's private
/// variables ([`coverage_run_leftovers`]). In the xtask, `Context::cargo` and `Context::cmd`
/// give one rooted at the workspace.
///
/// Built by value (`Cmd::new("git").args(["status"]).current_dir(root)`), run by reference:
/// [`run`](Cmd::run) (checked, output captured), [`output`](Cmd::output) (captured, any exit
/// status), [`output_within`](Cmd::output_within) (captured, with a time limit),
/// [`status`](Cmd::status) (output shown) and [`spawn`](Cmd::spawn).
pub struct Cmd {
    inner: Command,
    /// Set by [`Cmd::shown`]; else the program's file name and the arguments.
    shown: Option<String>,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        let mut inner = Command::new(program);
        for name in coverage_run_leftovers() {
            inner.env_remove(name);
        }
        Cmd { inner, shown: None }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.inner.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        self.inner.args(args);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.inner.current_dir(dir);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.inner.env(key, value);
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Cmd
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Cmd {
        self.inner.env_remove(key);
        self
    }

    /// No variable of ours reaches the program, only those set afterwards.
    pub fn env_clear(mut self) -> Cmd {
        self.inner.env_clear();
        self
    }

    pub fn stdin(mut self, cfg: impl Into<Stdio>) -> Cmd {
        self.inner.stdin(cfg);
        self
    }

    pub fn stdout(mut self, cfg: impl Into<Stdio>) -> Cmd {
        self.inner.stdout(cfg);
        self
    }

    pub fn stderr(mut self, cfg: impl Into<Stdio>) -> Cmd {
        self.inner.stderr(cfg);
        self
    }

    /// A process group of its own, led by the program: [`crate::stop_group`] then ends it with
    /// everything it started, and a terminal's Ctrl-C does not reach it.
    pub fn process_group(mut self) -> Cmd {
        self.inner.process_group(0);
        self
    }

    /// How messages name the command, when its arguments would say too much or too little
    /// (a list of files, a tool's name).
    pub fn shown(mut self, shown: impl Into<String>) -> Cmd {
        self.shown = Some(shown.into());
        self
    }

    /// The command as a user would type it.
    pub fn display(&self) -> String {
        match &self.shown {
            Some(shown) => shown.clone(),
            None => std::iter::once(program_name(&self.inner))
                .chain(self.inner.get_args().map(|a| quoted(&a.to_string_lossy())))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    pub fn get_program(&self) -> &OsStr {
        self.inner.get_program()
    }

    pub fn get_args(&self) -> std::process::CommandArgs<'_> {
        self.inner.get_args()
    }

    /// The variables set (`Some`) or removed (`None`) for the program.
    pub fn get_envs(&self) -> std::process::CommandEnvs<'_> {
        self.inner.get_envs()
    }

    pub fn get_current_dir(&self) -> Option<&Path> {
        self.inner.get_current_dir()
    }

    /// Runs to completion, stdin closed, output captured; `Err` when it cannot be started or
    /// fails, with the last lines of its output ([`crate::failure`]).
    pub fn run(&mut self) -> Result<Output> {
        let out = self.output()?;
        if !out.status.success() {
            bail!("{}", crate::failure(&self.display(), &out));
        }
        Ok(out)
    }

    /// Runs to completion, stdin closed, output captured, whatever its exit status; `Err` only
    /// when it cannot be started ([`crate::cannot_run`]).
    pub fn output(&mut self) -> Result<Output> {
        self.inner.stdin(Stdio::null()).output().map_err(|e| self.cannot_run(&e))
    }

    /// [`output`](Cmd::output) with `input` on the program's stdin, written from a thread of
    /// its own so that a large input cannot deadlock against the output. A program that failed
    /// is returned as it is (its output says why, whether or not it read all of `input`); one
    /// that succeeded without taking its input is an error.
    pub fn output_with_stdin(&mut self, input: Vec<u8>) -> Result<Output> {
        let spawned = self.inner.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
        let mut child = spawned.map_err(|e| self.cannot_run(&e))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
        let out = child.wait_with_output().map_err(|e| self.cannot_run(&e))?;
        if let Err(e) = writer.join().expect("the writer does not panic")
            && out.status.success()
        {
            bail!("cannot write to `{}`: {e}", self.display());
        }
        Ok(out)
    }

    /// Runs with the output shown (inherited), stdin closed unless set; its exit status.
    pub fn status(&mut self) -> Result<ExitStatus> {
        self.inner.status().map_err(|e| self.cannot_run(&e))
    }

    /// Starts it and returns at once.
    pub fn spawn(&mut self) -> Result<Child> {
        self.inner.spawn().map_err(|e| self.cannot_run(&e))
    }

    /// Replaces this process with the program (Unix `exec`); returns only when that failed.
    pub fn exec(mut self) -> anyhow::Error {
        let e = self.inner.exec();
        self.cannot_run(&e)
    }

    /// [`output`](Cmd::output) within `timeout`: `Ok(None)` when the program had not finished
    /// by then (it is killed, with its process group when it leads one).
    pub fn output_within(&mut self, timeout: Duration) -> Result<Option<Output>> {
        let spawned = self.inner.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
        let mut child = spawned.map_err(|e| self.cannot_run(&e))?;
        let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().map_err(|e| self.cannot_run(&e))? {
                let (stdout, stderr) = (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
                return Ok(Some(Output { status, stdout, stderr }));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn cannot_run(&self, e: &std::io::Error) -> anyhow::Error {
        crate::cannot_run(&self.inner, &self.display(), e)
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// The variables an enclosing `cargo llvm-cov` run gave this process (when a test of that run
/// started the xtask): its private `__CARGO_LLVM_COV*` and a `RUSTC_WRAPPER` naming
/// cargo-llvm-cov. Handed on to a nested `cargo llvm-cov` (the coverage gate's), they make it
/// take itself for that run's rustc wrapper and start itself again and again; so no [`Cmd`]
/// hands them on.
pub fn coverage_run_leftovers() -> Vec<OsString> {
    leftovers_in(std::env::vars_os())
}

fn leftovers_in(vars: impl Iterator<Item = (OsString, OsString)>) -> Vec<OsString> {
    vars.filter(|(name, value)| {
        name.to_string_lossy().starts_with("__CARGO_LLVM_COV")
            || (name == "RUSTC_WRAPPER" && Path::new(value).file_stem().is_some_and(|s| s == "cargo-llvm-cov"))
    })
    .map(|(name, _)| name)
    .collect()
}

fn program_name(cmd: &Command) -> String {
    Path::new(cmd.get_program()).file_name().unwrap_or(cmd.get_program()).to_string_lossy().into_owned()
}

/// An argument as a shell would need it to stay one word.
fn quoted(arg: &str) -> String {
    if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=./:,+@%{}".contains(&b)) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Reads a child's pipe to its end on a thread of its own (so two pipes cannot deadlock
/// against each other); join it for the bytes.
pub fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_shown_as_typed_unless_told() {
        let c = Cmd::new("/usr/bin/git").args(["log", "-1", "--format=%cI", "a b", ""]);
        assert_eq!(c.display(), "git log -1 --format=%cI 'a b' ''");
        assert_eq!(c.shown("git log").to_string(), "git log");
    }

    #[test]
    fn run_checks_and_output_does_not() {
        let err = Cmd::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]).run().unwrap_err();
        assert!(
            format!("{err:#}")
                .starts_with("`sh -c 'echo out; echo err >&2; exit 3'` failed (exit status: 3):\nout\nerr")
        );
        let out = Cmd::new("sh").args(["-c", "echo hi; exit 4"]).output().unwrap();
        assert_eq!((out.status.code(), crate::text(&out).as_str()), (Some(4), "hi"));
        let missing = Cmd::new("no-such-tool-xyz").output().unwrap_err().to_string();
        assert_eq!(missing, "`no-such-tool-xyz` was not found");
        let missing = Cmd::new("/nonexistent/tool").arg("--x").run().unwrap_err().to_string();
        assert_eq!(missing, "cannot run `tool --x`: `tool` was not found");
    }

    #[test]
    fn input_reaches_stdin_and_a_failure_keeps_its_output() {
        let big = vec![b'x'; 1 << 20];
        let out = Cmd::new("wc").arg("-c").output_with_stdin(big).unwrap();
        assert_eq!(crate::text(&out), "1048576", "a megabyte in, while the output is read");
        let out = Cmd::new("sh").args(["-c", "echo no >&2; exit 3"]).output_with_stdin(vec![b'x'; 1 << 20]).unwrap();
        assert_eq!((out.status.code(), crate::text(&out).as_str()), (Some(3), "no"));
    }

    #[test]
    fn output_within_a_time_limit() {
        let out = Cmd::new("sh").args(["-c", "echo out; echo err >&2"]).output_within(Duration::from_secs(30));
        let out = out.unwrap().expect("finished");
        assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
        let started = Instant::now();
        assert!(Cmd::new("sleep").arg("30").output_within(Duration::from_millis(100)).unwrap().is_none());
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn an_enclosing_coverage_runs_variables_are_the_leftovers() {
        let vars = [
            ("__CARGO_LLVM_COV_TARGET_ONLY", "1"),
            ("RUSTC_WRAPPER", "/root/.cargo/bin/cargo-llvm-cov"),
            ("CARGO_LLVM_COV", "1"),
            ("PATH", "/bin"),
        ];
        let found = leftovers_in(vars.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))));
        assert_eq!(found, ["__CARGO_LLVM_COV_TARGET_ONLY", "RUSTC_WRAPPER"]);
        let sccache = [("RUSTC_WRAPPER".into(), "/usr/bin/sccache".into())];
        assert!(leftovers_in(sccache.into_iter()).is_empty());
        let removed: Vec<_> =
            Cmd::new("true").get_envs().filter(|(_, v)| v.is_none()).map(|(k, _)| k.to_owned()).collect();
        assert_eq!(removed, coverage_run_leftovers(), "every Cmd leaves them out");
    }
}
