//! A scratch folder of stand-in executables: the programs a test puts in place of the real ones
//! (`bin/` first on PATH), scripts that find the folder in `$STANDIN` (their log, the marker
//! files that steer them, what they answer). One type for every test file that uses them: the
//! per-test setup is its builder methods.

use std::ffi::{OsStr, OsString};
use std::process::Command;

use super::{Run, Scratch, write_exe};

pub struct StandIn {
    dir: Scratch,
    /// Set (`Some`) or removed (`None`) on every command, after `STANDIN` and `PATH`.
    env: Vec<(OsString, Option<OsString>)>,
    /// The xtask's arguments before a test's own: its gate.
    gate: Vec<String>,
    /// What [`StandIn::log`] leaves out of the log.
    log_view: fn(&mut Vec<String>),
}

/// The scratch folder's helpers (`path`, `set`, `write`, `.0`) on the stand-in itself.
impl std::ops::Deref for StandIn {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        &self.dir
    }
}

impl StandIn {
    /// An empty folder (see [`Scratch::new`]); no stand-in yet.
    pub fn new(name: &str) -> StandIn {
        StandIn { dir: Scratch::new(name), env: Vec::new(), gate: Vec::new(), log_view: |_| {} }
    }

    /// An executable script at `name` in the folder (`bin/<program>` is found on PATH).
    pub fn program(self, name: &str, body: &str) -> StandIn {
        write_exe(&self.path(name), body);
        self
    }

    /// `bin/cargo`, the xtask's `CARGO`; the real cargo is `$REAL_CARGO` (for `metadata`).
    pub fn cargo(self, body: &str) -> StandIn {
        let s = self.program("bin/cargo", body);
        let cargo = s.path("bin/cargo");
        s.env("CARGO", cargo).env("REAL_CARGO", std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
    }

    /// `bin/docker` and `compose-bin/docker-compose` ([`super::DOCKER_STANDIN`],
    /// [`super::DOCKER_COMPOSE_STANDIN`]), whose compose commands run `compose_sh`.
    pub fn docker(self, compose_sh: &str) -> StandIn {
        self.write("compose.sh", compose_sh);
        self.program("bin/docker", super::DOCKER_STANDIN)
            .program("compose-bin/docker-compose", super::DOCKER_COMPOSE_STANDIN)
    }

    /// The xtask gate [`StandIn::command`] runs.
    pub fn gate(mut self, gate: &str) -> StandIn {
        self.gate = vec![gate.to_owned()];
        self
    }

    /// A variable set on every command (`PATH` included: this one replaces the usual).
    pub fn env(mut self, var: &str, value: impl AsRef<OsStr>) -> StandIn {
        self.env.push((var.into(), Some(value.as_ref().to_owned())));
        self
    }

    /// A variable naming `name` in the folder.
    pub fn env_path(self, var: &str, name: &str) -> StandIn {
        let path = self.path(name);
        self.env(var, path)
    }

    /// A variable of the test's own environment that no command gets.
    pub fn env_remove(mut self, var: &str) -> StandIn {
        self.env.push((var.into(), None));
        self
    }

    /// What [`StandIn::log`] leaves out: lines the test's assertions are not about.
    pub fn log_view(mut self, view: fn(&mut Vec<String>)) -> StandIn {
        self.log_view = view;
        self
    }

    /// `ws/`: a one-package workspace, `standin`, whose `Cargo.toml` ends with `tables` (the
    /// xtask's settings); written again on each call.
    pub fn workspace(&self, tables: &str) {
        self.write(
            "ws/Cargo.toml",
            format!("[package]\nname = \"standin\"\nversion = \"0.0.0\"\nedition = \"2021\"\n[workspace]\n{tables}"),
        );
        self.write("ws/src/lib.rs", "");
    }

    /// Any command with the stand-ins: `STANDIN`, `bin/` first on the usual PATH, then the
    /// variables the builder gave.
    pub fn on<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        let path = format!("{}:{}", self.path("bin").display(), std::env::var("PATH").unwrap_or_default());
        c.env("STANDIN", &self.dir.0).env("PATH", path);
        for (var, value) in &self.env {
            match value {
                Some(value) => c.env(var, value),
                None => c.env_remove(var),
            };
        }
        c
    }

    /// The xtask ([`super::xtask`]) with the stand-ins: its gate, then `args`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = super::xtask();
        self.on(&mut c).args(&self.gate).args(args);
        c
    }

    /// [`StandIn::command`] with exactly this PATH.
    pub fn command_with_path(&self, args: &[&str], path: impl AsRef<OsStr>) -> Command {
        let mut c = self.command(args);
        c.env("PATH", path);
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        super::run(self.command(args))
    }

    /// A file of the folder, line by line (none when it does not exist).
    pub fn lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(name)).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// What the stand-ins wrote to `$STANDIN/log`, as the test looks at it ([`StandIn::log_view`]).
    ///
    /// A nextest run's retries and tool config (the flaky-test record, `gates/flaky/`) are left
    /// out: `test_run.rs` checks them on the raw lines ([`StandIn::lines`]).
    pub fn log(&self) -> Vec<String> {
        let mut log: Vec<String> = self.lines("log").iter().map(|l| without_the_flaky_record(l)).collect();
        (self.log_view)(&mut log);
        log
    }
}

/// `line` without ` --retries N --tool-config-file xtask:…/nextest-tool.toml`.
pub fn without_the_flaky_record(line: &str) -> String {
    let Some(start) = line.find(" --retries ") else { return line.to_owned() };
    let rest = &line[start + " --retries ".len()..];
    let Some((_, rest)) = rest.split_once(" --tool-config-file xtask:") else { return line.to_owned() };
    let end = rest.find("nextest-tool.toml").map_or(rest.len(), |i| i + "nextest-tool.toml".len());
    format!("{}{}", &line[..start], &rest[end..])
}
