//! The third way: a throwaway cluster of the local PostgreSQL server binaries.

use std::ffi::{OsStr, OsString};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};

use super::{Database, Source};
use crate::process::{Cmd, alive, is_executable, text, which};
use crate::settings::TestSettings;
use crate::{Context, docker, interrupt};

/// Overrides where the PostgreSQL server binaries are looked for (a folder with `initdb`,
/// `pg_ctl` and `postgres`): for a machine with several versions installed.
pub const PG_BIN_ENV: &str = "XTASK_PG_BIN";
/// The unprivileged account a throwaway cluster runs as when the xtask runs as root.
pub const UNPRIVILEGED_USER: &str = "nobody";
/// Where Debian and Ubuntu install the server binaries (not on `PATH`): `<dir>/<major>/bin`.
const DEBIAN_PG_LIB: &str = "/usr/lib/postgresql";

/// The account a cluster runs as when we are root, and how to switch to it.
#[derive(Clone, Debug)]
struct RunAs {
    uid: u32,
    gid: u32,
    /// `setpriv …` or `runuser …`, up to the program to run.
    prefix: Vec<OsString>,
}

pub(super) struct Cluster {
    dir: PathBuf,
    /// `dir` for messages: relative to the current folder when inside it.
    shown: String,
    /// The server binaries' folder (`psql` is often beside them: `migrate.rs`).
    pub(super) bin: PathBuf,
    run_as: Option<RunAs>,
    /// `pg_ctl start` was called: stop it on the way out.
    started: bool,
    done: bool,
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A server program, run as the cluster's owner, in its own process group (a Ctrl-C in
    /// the terminal does not cut a step in half; we stop the cluster ourselves), from the
    /// cluster's folder, without the caller's PG* variables.
    fn admin(&self, program: &str) -> Cmd {
        let exe = self.bin.join(program);
        let mut c = match &self.run_as {
            Some(r) => Cmd::new(&r.prefix[0]).args(&r.prefix[1..]).arg(exe),
            None => Cmd::new(exe),
        };
        c = c.current_dir(&self.dir).process_group().stdin(Stdio::null()).env("LC_ALL", "C").shown(program);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                c = c.env_remove(key);
            }
        }
        c
    }

    pub(super) fn stop(&mut self) -> Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        let mut problem = None;
        if self.started && self.data().join("postmaster.pid").exists() {
            let data = self.data();
            let postmaster = postmaster_pid(&data);
            let fast =
                self.admin("pg_ctl").arg("stop").arg("-D").arg(&data).args(["-m", "fast", "-w", "-t", "20"]).output();
            if !fast.as_ref().is_ok_and(|o| o.status.success()) {
                let _ = self
                    .admin("pg_ctl")
                    .arg("stop")
                    .arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "-t", "10"])
                    .output();
            }
            // pg_ctl returns once the pid file is gone; the process ends a moment later.
            if let Some(pid) = postmaster {
                let deadline = Instant::now() + Duration::from_secs(5);
                while alive(pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if alive(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    problem = Some(format!("PostgreSQL (pid {}) did not stop and was killed", pid.as_raw_nonzero()));
                }
            }
        }
        let removed = std::fs::remove_dir_all(&self.dir);
        if let Err(e) = removed.as_ref()
            && e.kind() != std::io::ErrorKind::NotFound
        {
            bail!("the test database stopped, but {} could not be removed: {e}", self.shown);
        }
        if let Some(problem) = problem {
            eprintln!("warning: {problem}");
        }
        eprintln!("database: stopped the throwaway cluster and removed {}", self.shown);
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("warning: {e:#}");
        }
    }
}

fn postmaster_pid(data: &Path) -> Option<rustix::process::Pid> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    rustix::process::Pid::from_raw(text.lines().next()?.trim().parse().ok()?)
}

/// The folder with `initdb`, `pg_ctl` and `postgres`: `$XTASK_PG_BIN`, else the folder of
/// `initdb` on PATH, else the newest `/usr/lib/postgresql/<major>/bin` (Debian, Ubuntu).
pub(super) fn find_server_bin() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(PG_BIN_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server_bins(&dir) {
            Ok(dir)
        } else {
            Err(format!("{PG_BIN_ENV}={} has no initdb, pg_ctl and postgres", dir.display()))
        };
    }
    search_server_bin(std::env::var_os("PATH").as_deref(), Path::new(DEBIAN_PG_LIB))
        .ok_or_else(|| format!("initdb, pg_ctl and postgres are not on PATH, nor in {DEBIAN_PG_LIB}/<version>/bin"))
}

/// The search behind [`find_server_bin`], with its inputs given (for tests).
pub fn search_server_bin(path: Option<&OsStr>, debian_lib: &Path) -> Option<PathBuf> {
    for dir in std::env::split_paths(path.unwrap_or_default()) {
        let initdb = dir.join("initdb");
        if is_executable(&initdb) {
            // The folder it really lives in, so pg_ctl and postgres are of the same version.
            let real = std::fs::canonicalize(&initdb).ok().and_then(|p| p.parent().map(Path::to_path_buf));
            if let Some(real) = real.filter(|r| has_server_bins(r)) {
                return Some(real);
            }
            if has_server_bins(&dir) {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(debian_lib)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| has_server_bins(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn has_server_bins(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"].iter().all(|p| is_executable(&dir.join(p)))
}

/// When we are root: `nobody`, and `setpriv` (or `runuser`) to become it.
fn unprivileged() -> Result<Option<RunAs>> {
    if !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    let (uid, gid) = lookup_user(UNPRIVILEGED_USER).ok_or_else(|| {
        anyhow!("running as root, and PostgreSQL refuses to run as root, but there is no `{UNPRIVILEGED_USER}` user")
    })?;
    let standard = |p: &str| {
        which(p).or_else(|| {
            ["/usr/bin", "/usr/sbin", "/bin", "/sbin"].iter().map(|d| Path::new(d).join(p)).find(|p| is_executable(p))
        })
    };
    let prefix: Vec<OsString> = if let Some(setpriv) = standard("setpriv") {
        vec![
            setpriv.into(),
            format!("--reuid={uid}").into(),
            format!("--regid={gid}").into(),
            "--clear-groups".into(),
            "--".into(),
        ]
    } else if let Some(runuser) = standard("runuser") {
        vec![runuser.into(), "-u".into(), UNPRIVILEGED_USER.into(), "--".into()]
    } else {
        bail!(
            "running as root, and PostgreSQL refuses to run as root: `setpriv` or `runuser` (util-linux) is needed \
             to run it as `{UNPRIVILEGED_USER}`"
        );
    };
    Ok(Some(RunAs { uid, gid, prefix }))
}

/// uid and gid of a user, from /etc/passwd, else `getent passwd`.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let parse = |text: &str| {
        text.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() >= 4 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?))).flatten()
        })
    };
    if let Some(found) = std::fs::read_to_string("/etc/passwd").ok().as_deref().and_then(parse) {
        return Some(found);
    }
    let out = Cmd::new("getent").args(["passwd", name]).output().ok()?;
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// Whether `user` can reach `path` (search permission on it and every parent).
fn traversable(path: &Path, uid: u32, gid: u32) -> bool {
    path.ancestors().filter(|a| !a.as_os_str().is_empty()).all(|a| match std::fs::metadata(a) {
        Ok(m) if m.uid() == uid => m.mode() & 0o100 != 0,
        Ok(m) if m.gid() == gid => m.mode() & 0o010 != 0,
        Ok(m) => m.mode() & 0o001 != 0,
        Err(_) => false,
    })
}

/// `target/xtask-pg` (or `$CARGO_TARGET_DIR/xtask-pg`); when the cluster runs as another
/// user who cannot reach it (a home folder with mode 700), `$TMPDIR/xtask-pg`.
fn cluster_parent(root: &Path, run_as: Option<&RunAs>) -> Result<PathBuf> {
    let target = crate::target_dir(root);
    let candidates = [target.join("xtask-pg"), std::env::temp_dir().join("xtask-pg")];
    for parent in candidates {
        std::fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot set the permissions of {}", parent.display()))?;
        match run_as {
            Some(r) if !traversable(&parent, r.uid, r.gid) => continue,
            _ => return Ok(parent),
        }
    }
    bail!("`{UNPRIVILEGED_USER}` can reach neither the target folder nor the temporary folder for the test database")
}

/// Removes clusters left by an xtask that was killed outright (SIGKILL, power loss).
fn reap_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.filter_map(|e| e.ok()) {
        let Some(owner) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Some(owner) = rustix::process::Pid::from_raw(owner) else { continue };
        if owner == rustix::process::getpid() || alive(owner) {
            continue;
        }
        let data = entry.path().join("data");
        if let Some(pm) = postmaster_pid(&data).filter(|&p| alive(p) && runs_in(p, &data)) {
            let _ = rustix::process::kill_process(pm, rustix::process::Signal::QUIT);
            let deadline = Instant::now() + Duration::from_secs(5);
            while alive(pm) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = rustix::process::kill_process(pm, rustix::process::Signal::KILL);
        }
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            eprintln!("database: removed a cluster left by an earlier run ({})", entry.path().display());
        }
    }
}

/// Whether process `pid` is a postgres serving `data` (guards against a recycled pid).
fn runs_in(pid: rustix::process::Pid, data: &Path) -> bool {
    match std::fs::read(format!("/proc/{}/cmdline", pid.as_raw_nonzero())) {
        Ok(cmdline) => {
            let needle = data.as_os_str().as_encoded_bytes();
            cmdline.windows(needle.len()).any(|w| w == needle)
        }
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

pub(super) fn start_cluster(cx: &Context, settings: &TestSettings, bin: PathBuf) -> Result<Database> {
    let run_as = unprivileged()?;
    let parent = cluster_parent(&cx.root, run_as.as_ref())?;
    reap_stale(&parent);
    let dir = parent.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // From here on the guard removes the folder (and stops the server) on every way out.
    let cwd = std::env::current_dir().unwrap_or_default();
    let shown = dir.strip_prefix(&cwd).unwrap_or(&dir).display().to_string();
    let mut cluster = Cluster { dir: dir.clone(), shown, bin, run_as, started: false, done: false };
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    if let Some(r) = &cluster.run_as {
        std::os::unix::fs::chown(&dir, Some(r.uid), Some(r.gid))
            .with_context(|| format!("cannot hand {} to `{UNPRIVILEGED_USER}`", dir.display()))?;
    }
    let (user, name) = (&settings.database_user, &settings.database_name);
    let data = cluster.data();

    cluster
        .admin("initdb")
        .arg("-D")
        .arg(&data)
        .args(["-U", user, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"])
        .run()?;
    interrupt::check()?;
    // Loopback only, no Unix socket (its path could exceed the 107-byte limit, and the
    // default folder is not writable by `nobody`), no durability: it is thrown away.
    let mut conf = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf"))?;
    writeln!(
        conf,
        "\n# cargo xtask test: a throwaway cluster\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n\
         fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
    )?;
    drop(conf);

    // The tests' database, created in single-user mode: needs no client program.
    let out = cluster
        .admin("postgres")
        .arg("--single")
        .arg("-D")
        .arg(&data)
        .args(["-c", "exit_on_error=true", "postgres"])
        .shown("postgres --single")
        .output_with_stdin(format!("CREATE DATABASE \"{name}\";\n").into_bytes())?;
    if !out.status.success() {
        bail!("creating the database `{name}` failed:\n{}", text(&out));
    }
    interrupt::check()?;

    let log = cluster.dir.join("postgres.log");
    let mut attempt = 0;
    let port = loop {
        let port = docker::free_port()?;
        cluster.started = true;
        let out = cluster
            .admin("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "30", "-o", &format!("-p {port}")])
            .output()?;
        interrupt::check()?;
        if out.status.success() {
            break port;
        }
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        attempt += 1;
        // Another program can take the free port between our check and the server's bind.
        if attempt < 3 && log_text.contains("could not bind") {
            continue;
        }
        bail!(
            "the throwaway PostgreSQL did not start (`pg_ctl start`):\n{}\n--- {}\n{}",
            text(&out),
            log.display(),
            crate::process::last_lines(&log_text, 15)
        );
    };
    let url = format!("postgres://{user}@127.0.0.1:{port}/{name}");
    let version = Cmd::new(cluster.bin.join("postgres")).arg("--version").output().ok();
    let version = version
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().trim_start_matches("postgres (PostgreSQL) ").to_owned())
        .unwrap_or_default();
    let who = if cluster.run_as.is_some() { format!(", as {UNPRIVILEGED_USER}") } else { String::new() };
    eprintln!("database: throwaway PostgreSQL {version} in {}{who}: {url}", cluster.shown);
    Ok(Database { url, source: Source::Cluster(cluster) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_binaries_are_found_on_path_then_in_the_debian_layout() {
        let tmp = std::env::temp_dir().join(format!("xtask-pgbin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let mk = |dir: &Path, names: &[&str]| {
            std::fs::create_dir_all(dir).unwrap();
            for n in names {
                std::fs::write(dir.join(n), "").unwrap();
                std::fs::set_permissions(dir.join(n), std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        };
        let all = ["initdb", "pg_ctl", "postgres"];
        mk(&tmp.join("lib/13/bin"), &all);
        mk(&tmp.join("lib/16/bin"), &all);
        mk(&tmp.join("lib/17/bin"), &["initdb"]); // incomplete: skipped
        mk(&tmp.join("path"), &all);
        mk(&tmp.join("partial"), &["initdb"]);
        let lib = tmp.join("lib");
        let path = std::env::join_paths([tmp.join("partial"), tmp.join("path")]).unwrap();
        assert_eq!(search_server_bin(Some(&path), &lib), Some(std::fs::canonicalize(tmp.join("path")).unwrap()));
        assert_eq!(search_server_bin(Some(OsStr::new("/nonexistent")), &lib), Some(lib.join("16/bin")));
        assert_eq!(search_server_bin(None, &tmp.join("nothing")), None);
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn a_folder_closed_to_others_is_not_traversable_for_nobody() {
        let tmp = std::env::temp_dir().join(format!("xtask-traverse-{}", std::process::id()));
        std::fs::create_dir_all(tmp.join("inner")).unwrap();
        let nobody = (65534, 65534);
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(traversable(&tmp.join("inner"), nobody.0, nobody.1));
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(!traversable(&tmp.join("inner"), nobody.0, nobody.1));
        assert!(!traversable(&tmp.join("missing"), nobody.0, nobody.1));
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
