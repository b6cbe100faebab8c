//! The instrumented build, kept between coverage runs so that an edit compiles only what it
//! touched (cargo-llvm-cov's `target/llvm-cov-target`).
//!
//! cargo-llvm-cov cleans the workspace's build before every run by default: a test program
//! left from an older build would otherwise reach the report, with the lines of code that no
//! longer exists. Two rules keep that from happening without the clean:
//!
//! - **The build's key.** What names or shapes the programs (the manifests, the lockfile,
//!   `.cargo/`, the toolchain, the files that can be targets, the flags) is written beside the
//!   build. When any of it changed since, the run starts from a clean build, as before; the
//!   line it prints says what changed.
//! - **Stale programs removed.** After the tests and before any report, a program whose
//!   sources (its dep-info, `.d`, lists them) changed after it was built is removed. Cargo has
//!   rebuilt every program the run built, so this finds only those the run did not build: one a
//!   test built with a cargo of its own, or one of a target that is gone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result};

use crate::Context;
use crate::coverage::Metric;
use crate::snapshot::Snapshot;

/// The key's file, inside the build it describes (removing the folder removes it too).
const KEY_FILE: &str = ".xtask-build-key.json";

/// Environment variables that change what cargo builds: the flags, profiles, compilers.
const ENV_NAMES: [&str; 7] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_INCREMENTAL",
];
const ENV_PREFIXES: [&str; 4] = ["CARGO_PROFILE_", "CARGO_BUILD_", "CARGO_TARGET_", "CARGO_LLVM_COV"];

/// What the instrumented build depends on beyond the sources cargo tracks itself, part by part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Key {
    parts: BTreeMap<String, String>,
}

/// Whether this run keeps the last run's build, and why not.
#[derive(Debug)]
pub struct Plan {
    folder: PathBuf,
    metric: Metric,
    extra: Vec<String>,
    key: Option<Key>,
    /// `None`: the build is kept.
    clean_because: Option<String>,
}

impl Key {
    /// The key of the checkout at `cx.root`, for a run with this metric and these extra
    /// arguments (`--features`, `--release`… change the build).
    pub fn now(cx: &Context, metric: Metric, extra: &[String]) -> Result<Key> {
        let tree = Snapshot::take(&cx.root).context("the checkout's files cannot be listed")?;
        let toolchain = crate::impact::record::Toolchain::find()?;
        let mut env: Vec<String> = std::env::vars_os()
            .filter_map(|(name, value)| {
                let name = name.into_string().ok()?;
                let counts = ENV_NAMES.contains(&name.as_str())
                    || (ENV_PREFIXES.iter().any(|p| name.starts_with(p)) && name != "CARGO_TARGET_DIR");
                counts.then(|| format!("{name}={}", value.to_string_lossy()))
            })
            .collect();
        env.sort();
        let mut parts = BTreeMap::new();
        let manifests: Vec<String> =
            tree.files.iter().filter(|(p, _)| shapes_the_build(p)).map(|(p, id)| format!("{p} {id}")).collect();
        let targets: Vec<&str> = tree.files.keys().filter(|p| may_be_a_target(p)).map(String::as_str).collect();
        parts.insert("manifests".to_owned(), manifests.join("\n"));
        parts.insert("targets".to_owned(), targets.join("\n"));
        parts.insert("toolchain".to_owned(), toolchain.version);
        parts.insert("cargo-llvm-cov".to_owned(), crate::tools::CARGO_LLVM_COV_VERSION.to_owned());
        parts.insert("flags".to_owned(), format!("{} {}\n{}", metric.noun(), extra.join(" "), env.join("\n")));
        Ok(Key { parts })
    }

    /// Whether the workspace had a lockfile when this key was taken.
    fn has_lockfile(&self) -> bool {
        self.parts.get("manifests").is_some_and(|m| m.lines().any(|l| l.starts_with("Cargo.lock ")))
    }

    /// Whether `now` is `self` with a lockfile that `self` did not have (the build wrote it).
    fn only_the_lockfile_was_written(&self, now: &Key) -> bool {
        let manifests = |k: &Key| k.parts.get("manifests").cloned().unwrap_or_default();
        let (before, after) = (manifests(self), manifests(now));
        let mut others = self.parts.clone();
        others.insert("manifests".to_owned(), after.clone());
        !self.has_lockfile()
            && now.has_lockfile()
            && others == now.parts
            && after.lines().filter(|l| !l.starts_with("Cargo.lock ")).eq(before.lines())
    }

    /// Why `self` (the last run's) does not hold for `now`; `None` when it does.
    fn differs(&self, now: &Key) -> Option<String> {
        let mut what = Vec::new();
        for (part, value) in &now.parts {
            let old = self.parts.get(part).map(String::as_str).unwrap_or_default();
            if old == value {
                continue;
            }
            what.push(match part.as_str() {
                "manifests" => format!("changed: {}", changed_paths(old, value)),
                "targets" => format!("targets came or went: {}", changed_paths(old, value)),
                "flags" => "the flags, the metric or the environment's build settings changed".to_owned(),
                other => format!("the {other} changed"),
            });
        }
        (!what.is_empty()).then(|| what.join("; "))
    }
}

/// The paths whose line (`path` or `path id`) differs between two parts' texts, a few of them.
fn changed_paths(old: &str, new: &str) -> String {
    let old: std::collections::BTreeSet<&str> = old.lines().collect();
    let new: std::collections::BTreeSet<&str> = new.lines().collect();
    let mut paths: Vec<&str> = old.symmetric_difference(&new).map(|l| l.split(' ').next().unwrap_or(l)).collect();
    paths.dedup();
    let shown: Vec<&str> = paths.iter().take(3).copied().collect();
    match paths.len() - shown.len() {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Files whose content decides what is built and how: manifests, the lockfile, cargo's
/// configuration and the toolchain file.
fn shapes_the_build(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(name, "Cargo.toml" | "Cargo.lock" | "rust-toolchain" | "rust-toolchain.toml")
        || path.starts_with(".cargo/")
}

/// Files whose existence can make a target (cargo's automatic discovery): a target that comes
/// or goes changes the programs, not just their content.
fn may_be_a_target(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let (Some(name), parent) = (parts.next(), parts.next()) else { return false };
    matches!(name, "main.rs" | "lib.rs" | "build.rs")
        || (name.ends_with(".rs") && matches!(parent, Some("tests" | "bin" | "examples" | "benches")))
}

impl Plan {
    /// Decides whether the last run's build can be kept: only when its key is this run's.
    pub fn decide(cx: &Context, metric: Metric, extra: &[String]) -> Plan {
        let folder = crate::target_dir(&cx.root).join("llvm-cov-target");
        let key = Key::now(cx, metric, extra);
        let last = std::fs::read(folder.join(KEY_FILE)).ok().map(|b| serde_json::from_slice::<Key>(&b));
        let clean_because = match (&key, last) {
            (Err(e), _) => Some(format!("{e:#}")),
            (_, None) => Some("no build kept from an earlier run".to_owned()),
            (_, Some(Err(_))) => Some(format!("{KEY_FILE} cannot be read")),
            (Ok(now), Some(Ok(last))) => last.differs(now),
        };
        Plan { folder, metric, extra: extra.to_vec(), key: key.ok(), clean_because }
    }

    /// `cargo llvm-cov clean` as the plan says (the workspace's build, or only the last run's
    /// profiles), then the key written for the next run. Says which, and why.
    pub fn clean(&self, cx: &Context) -> Result<()> {
        let args: &[&str] = match &self.clean_because {
            Some(why) => {
                eprintln!("build: the workspace is built again for coverage ({why})");
                &["clean", "--workspace"]
            }
            None => {
                eprintln!("build: the instrumented build is kept (nothing it depends on changed)");
                &["clean", "--profraw-only"]
            }
        };
        cx.cargo().arg("llvm-cov").args(args).run().context("cannot remove the last coverage run's data")?;
        if let Some(key) = &self.key {
            self.save(key)?;
        }
        Ok(())
    }

    fn save(&self, key: &Key) -> Result<()> {
        std::fs::create_dir_all(&self.folder).with_context(|| format!("cannot create {}", self.folder.display()))?;
        crate::output::write_atomically(&self.folder.join(KEY_FILE), |tmp| {
            std::fs::write(tmp, serde_json::to_vec_pretty(key)?)?;
            Ok(())
        })
    }

    /// After the tests, before any report reads the build: removes the programs built before
    /// their sources last changed (see the module's text), saying which. A build that wrote the
    /// lockfile (a checkout without one) keeps its key with it, so the next run keeps the build.
    pub fn after_the_run(&self, cx: &Context) -> Result<()> {
        // Only a key without a lockfile can have one written by the build: look again then.
        if let Some(key) = &self.key
            && !key.has_lockfile()
            && let Ok(now) = Key::now(cx, self.metric, &self.extra)
            && key.only_the_lockfile_was_written(&now)
        {
            self.save(&now)?;
        }
        let stale = stale_programs(&self.folder.join("debug"), &cx.root);
        for program in &stale {
            std::fs::remove_file(program).with_context(|| format!("cannot remove {}", program.display()))?;
            let _ = std::fs::remove_file(dep_info(program));
        }
        if !stale.is_empty() {
            let names: Vec<String> =
                stale.iter().map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
            eprintln!(
                "build: removed {} program{} built before {} sources changed, which this run did not build again: {}",
                stale.len(),
                if stale.len() == 1 { "" } else { "s" },
                if stale.len() == 1 { "its" } else { "their" },
                names.join(", ")
            );
        }
        Ok(())
    }
}

/// The programs under `dir` (as cargo-llvm-cov finds them: executables outside the build
/// scripts' and cargo's own folders) one of whose sources is newer than the program, or gone.
fn stale_programs(dir: &Path, root: &Path) -> Vec<PathBuf> {
    let mut stale = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                let name = entry.file_name();
                if !matches!(name.to_str(), Some("build" | "incremental" | ".fingerprint")) {
                    folders.push(path);
                }
                continue;
            }
            if !is_program(&path) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(dep_info(&path)) else { continue };
            let built = [Some(&meta), std::fs::metadata(dep_info(&path)).ok().as_ref()]
                .into_iter()
                .flatten()
                .filter_map(|m| m.modified().ok())
                .min()
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let newer =
                |source: &Path| std::fs::metadata(source).and_then(|m| m.modified()).map_or(true, |t| t > built);
            if sources(&text).iter().any(|s| newer(&root.join(s))) {
                stale.push(path);
            }
        }
    }
    stale.sort();
    stale
}

/// An executable regular file that is not one of cargo's libraries or notes.
fn is_program(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
    !matches!(ext, "d" | "rlib" | "rmeta" | "so") && crate::process::is_executable(path)
}

/// The dep-info file cargo writes beside a program: its name plus `.d`.
fn dep_info(program: &Path) -> PathBuf {
    let mut name = program.as_os_str().to_owned();
    name.push(".d");
    PathBuf::from(name)
}

/// The sources a dep-info file's first rule lists (`out: src src…`, spaces escaped as `\ `).
fn sources(dep_info: &str) -> Vec<PathBuf> {
    let Some(rule) = dep_info.lines().find(|l| !l.trim().is_empty() && !l.starts_with('#')) else { return Vec::new() };
    let Some((_, deps)) = rule.split_once(": ") else { return Vec::new() };
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = deps.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ' ' => {
                if !current.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut current)));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(PathBuf::from(current));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_sources_with_escaped_spaces() {
        let text = "/t/debug/deps/alpha-1f: alpha/src/lib.rs /abs/my\\ dir/x.rs\n\nalpha/src/lib.rs:\n# env-dep:A=b\n";
        assert_eq!(sources(text), [PathBuf::from("alpha/src/lib.rs"), PathBuf::from("/abs/my dir/x.rs")]);
        assert!(sources("# only a comment\n").is_empty());
    }

    #[test]
    fn what_shapes_the_build_and_what_may_be_a_target() {
        for p in ["Cargo.toml", "app/Cargo.toml", "Cargo.lock", ".cargo/config.toml", "rust-toolchain.toml"] {
            assert!(shapes_the_build(p), "{p}");
        }
        assert!(!shapes_the_build("app/src/Cargo.rs") && !shapes_the_build("docs/cargo.md"));
        for p in ["app/src/main.rs", "src/lib.rs", "x/build.rs", "app/tests/api.rs", "src/bin/tool.rs", "examples/e.rs"]
        {
            assert!(may_be_a_target(p), "{p}");
        }
        for p in ["app/src/routes.rs", "app/tests/api/mod.rs", "tests/fixtures/a.txt", "README.md"] {
            assert!(!may_be_a_target(p), "{p}");
        }
    }

    #[test]
    fn a_changed_part_is_named() {
        let key = |manifests: &str, targets: &str| Key {
            parts: [("manifests", manifests), ("targets", targets), ("toolchain", "rustc 1.95.0")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        let last = key("Cargo.lock aaa\nCargo.toml bbb", "a/src/lib.rs\na/tests/t.rs");
        assert_eq!(last.differs(&last.clone()), None);
        assert_eq!(
            last.differs(&key("Cargo.lock ccc\nCargo.toml bbb", "a/src/lib.rs\na/tests/t.rs")).unwrap(),
            "changed: Cargo.lock"
        );
        assert_eq!(
            last.differs(&key("Cargo.lock aaa\nCargo.toml bbb", "a/src/lib.rs\na/tests/u.rs")).unwrap(),
            "targets came or went: a/tests/t.rs, a/tests/u.rs"
        );
    }

    #[test]
    fn a_lockfile_the_build_wrote_is_not_a_change() {
        let key = |manifests: &str, toolchain: &str| Key {
            parts: [("manifests", manifests), ("toolchain", toolchain)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        let before = key("Cargo.toml aaa", "1.95");
        assert!(before.only_the_lockfile_was_written(&key("Cargo.lock bbb\nCargo.toml aaa", "1.95")));
        assert!(!before.only_the_lockfile_was_written(&key("Cargo.lock bbb\nCargo.toml ccc", "1.95")));
        assert!(!before.only_the_lockfile_was_written(&key("Cargo.lock bbb\nCargo.toml aaa", "1.96")));
        let with = key("Cargo.lock bbb\nCargo.toml aaa", "1.95");
        assert!(!with.only_the_lockfile_was_written(&key("Cargo.lock ccc\nCargo.toml aaa", "1.95")));
    }

    #[test]
    fn a_program_older_than_a_source_is_stale_and_one_without_dep_info_is_left_alone() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("xtask-build-stale-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let deps = dir.join("debug/deps");
        std::fs::create_dir_all(&deps).unwrap();
        let source = dir.join("lib.rs");
        std::fs::write(&source, "").unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(60);
        let program = |name: &str, dep_info: Option<&str>| {
            let p = deps.join(name);
            std::fs::write(&p, "").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::File::options().write(true).open(&p).unwrap().set_modified(old).unwrap();
            if let Some(text) = dep_info {
                std::fs::write(super::dep_info(&p), text).unwrap();
                std::fs::File::options().write(true).open(super::dep_info(&p)).unwrap().set_modified(old).unwrap();
            }
            p
        };
        let stale = program("alpha-0011", Some("out: lib.rs\n"));
        let gone = program("beta-0022", Some("out: gone.rs\n"));
        program("gamma-0033", None);
        std::fs::write(deps.join("libalpha-0011.rlib"), "").unwrap();
        let fresh = program("delta-0044", Some("out: lib.rs\n"));
        std::fs::File::options().write(true).open(&fresh).unwrap().set_modified(SystemTime::now()).unwrap();
        std::fs::File::options()
            .write(true)
            .open(super::dep_info(&fresh))
            .unwrap()
            .set_modified(SystemTime::now())
            .unwrap();
        assert_eq!(stale_programs(&dir.join("debug"), &dir), [stale, gone]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
