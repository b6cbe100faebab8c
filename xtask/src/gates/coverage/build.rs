//! The instrumented build, kept from one coverage run to the next so that an edit rebuilds only
//! what it touched (cargo-llvm-cov's default is to delete it before every run).
//!
//! What that default protects against is a stale object: cargo-llvm-cov reports on every
//! executable in its target folder named after a workspace target, so a test binary left by an
//! earlier build (another hash after a change of features, dependencies or flags; a bin target
//! that is gone) would bring its own, outdated lines into the report. Each run therefore asks
//! cargo which files it built or found fresh (its JSON messages, forwarded by nextest), and
//! removes every other such executable before the report is written.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

/// The nextest flag that forwards cargo's build messages, as JSON, to stdout (diagnostics are
/// still rendered for people, on stderr).
pub const MESSAGE_FORMAT: [&str; 2] = ["--cargo-message-format", "json-render-diagnostics"];

/// What cargo said it built, read from its JSON messages.
#[derive(Debug, Default)]
pub struct Artifacts {
    /// Every file of every unit, built now or fresh from before.
    files: Vec<PathBuf>,
    /// Every unit: its target's name (`-` as `_`) and whether it is a test build.
    units: HashSet<(String, bool)>,
    /// `Some(success)` once cargo said the build finished.
    finished: Option<bool>,
}

impl Artifacts {
    /// Takes in one line of the test run's stdout; `false` when it is not a cargo message (a
    /// test's own output, say), which the caller shows as it is.
    pub fn read_line(&mut self, line: &str) -> bool {
        if !line.starts_with("{\"reason\":") {
            return false;
        }
        let Ok(message) = serde_json::from_str::<Message>(line) else { return false };
        match message.reason.as_str() {
            "compiler-artifact" => {
                self.files.extend(message.filenames.into_iter().chain(message.executable).map(PathBuf::from));
                if let (Some(target), Some(profile)) = (message.target, message.profile) {
                    self.units.insert((target.name.replace('-', "_"), profile.test));
                }
            }
            "build-finished" => self.finished = message.success,
            _ => {}
        }
        true
    }

    /// Whether cargo finished the build and said it succeeded.
    pub fn built(&self) -> bool {
        self.finished == Some(true)
    }

    /// Removes the objects this build superseded: executables in the folders it wrote to,
    /// named after a workspace target (`targets`: names as cargo writes them, `-` or `_`), that
    /// are not one of its files (hard links count as the same file), and whose unit (its
    /// target and whether it is a test build, from cargo's `.fingerprint` folder) this build
    /// built under another hash. What a test built with a cargo of its own (a program the test
    /// runs) is not superseded and stays, as does a file cargo keeps no fingerprint of. The copy
    /// of a removed program in the profile folder goes with it. Returns what was removed.
    pub fn remove_stale(&self, targets: &BTreeSet<String>) -> Result<Vec<PathBuf>> {
        let current: HashSet<(u64, u64)> =
            self.files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| (m.dev(), m.ino())).collect();
        let mut folders: BTreeSet<&Path> = BTreeSet::new();
        for file in &self.files {
            let Some(dir) = file.parent() else { continue };
            folders.insert(dir);
            // A bin is built in `deps/` and linked from the profile folder above it.
            if dir.file_name().is_some_and(|n| n == "deps") {
                folders.extend(dir.parent());
            }
        }
        let targets: BTreeSet<String> = targets.iter().map(|t| t.replace('-', "_")).collect();
        let mut removed = Vec::new();
        let mut removed_files: HashSet<(u64, u64)> = HashSet::new();
        let mut unhashed = Vec::new();
        for &dir in &folders {
            let fingerprints = test_units(dir);
            for (path, meta) in executables(dir)? {
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
                if current.contains(&(meta.dev(), meta.ino())) || !targets_of(name).iter().any(|t| targets.contains(t))
                {
                    continue;
                }
                let Some((stem, hash)) = hashed(name) else {
                    unhashed.push((path, meta));
                    continue;
                };
                let Some(&test) = fingerprints.get(hash) else { continue };
                if targets_of(stem).into_iter().any(|t| self.units.contains(&(t, test))) {
                    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
                    removed_files.insert((meta.dev(), meta.ino()));
                    removed.push(path);
                }
            }
        }
        for (path, meta) in unhashed {
            if removed_files.contains(&(meta.dev(), meta.ino())) {
                std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
                removed.push(path);
            }
        }
        Ok(removed)
    }
}

/// The executable files of a folder, not looking inside its sub-folders.
fn executables(dir: &Path) -> Result<Vec<(PathBuf, std::fs::Metadata)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.is_file() && meta.mode() & 0o111 != 0 {
            out.push((path, meta));
        }
    }
    Ok(out)
}

/// For the objects of a `deps/` folder: by the hash in their names, whether their unit is a
/// test build. cargo keeps a folder `.fingerprint/<package>-<hash>/` beside `deps/` for every
/// unit it built, holding a file named after the unit: `test-lib-alpha`, `bin-app`, …
fn test_units(dir: &Path) -> HashMap<String, bool> {
    let mut out = HashMap::new();
    if dir.file_name().is_none_or(|n| n != "deps") {
        return out;
    }
    let Some(fingerprint) = dir.parent().map(|p| p.join(".fingerprint")) else { return out };
    let Ok(units) = std::fs::read_dir(fingerprint) else { return out };
    for unit in units.flatten() {
        let folder = unit.file_name().to_string_lossy().into_owned();
        let Some((_, hash)) = hashed(&folder) else { continue };
        let Ok(files) = std::fs::read_dir(unit.path()) else { continue };
        let test = files.flatten().any(|f| f.file_name().to_string_lossy().starts_with("test-"));
        out.insert(hash.to_owned(), test);
    }
    out
}

/// A name and the hash cargo appended to it: `alpha-0123abcd` → (`alpha`, `0123abcd`), the
/// extensions dropped (`libpm_kit-89ef.so`).
fn hashed(file_name: &str) -> Option<(&str, &str)> {
    let stem = file_name.split('.').next().unwrap_or(file_name);
    let (name, hash) = stem.rsplit_once('-')?;
    (hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some((name, hash))
}

#[derive(serde::Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    filenames: Vec<String>,
    #[serde(default)]
    executable: Option<String>,
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    target: Option<TargetMessage>,
    #[serde(default)]
    profile: Option<ProfileMessage>,
}

#[derive(serde::Deserialize)]
struct TargetMessage {
    name: String,
}

#[derive(serde::Deserialize)]
struct ProfileMessage {
    test: bool,
}

/// The targets an object file may be named after, `-` as `_`: its name without extensions,
/// with and without a `lib` prefix and a `-<hash>` suffix (`app-0123abcd` → `app`,
/// `libpm_kit-89ef.so` → `pm_kit`), as cargo-llvm-cov matches them. Empty for the files cargo
/// writes beside objects (`.d`, `.rlib`, `.rmeta`).
fn targets_of(file_name: &str) -> Vec<String> {
    let stem = file_name.split('.').next().unwrap_or(file_name);
    let ext = &file_name[stem.len()..];
    if [".d", ".rlib", ".rmeta"].contains(&ext) {
        return Vec::new();
    }
    let mut names = vec![stem];
    if let Some((name, hash)) = stem.rsplit_once('-')
        && !hash.is_empty()
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
    {
        names.push(name);
    }
    for i in 0..names.len() {
        if let Some(rest) = names[i].strip_prefix("lib").filter(|r| !r.is_empty()) {
            names.push(rest);
        }
    }
    names.into_iter().map(|n| n.replace('-', "_")).collect()
}

/// The names of every target of the workspace's packages, and the packages' own names (as
/// cargo-llvm-cov matches object files against both).
pub fn workspace_targets(cx: &crate::Context) -> Result<BTreeSet<String>> {
    let metadata = crate::settings::workspace_metadata(&cx.cargo, &cx.root)?;
    let mut names = BTreeSet::new();
    for package in metadata.workspace_packages() {
        names.insert(package.name.to_string());
        names.extend(package.targets.iter().map(|t| t.name.clone()));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_named_after_its_target() {
        let names = |f: &str| targets_of(f);
        assert_eq!(names("app-0123456789abcdef"), ["app_0123456789abcdef", "app"]);
        assert_eq!(names("app"), ["app"]);
        assert_eq!(names("libpm_kit-89ef01.so"), ["libpm_kit_89ef01", "libpm_kit", "pm_kit_89ef01", "pm_kit"]);
        assert_eq!(names("xtask-audit"), ["xtask_audit"], "not a hash: audit");
        assert_eq!(names("tool-abc"), ["tool_abc", "tool"], "a name that ends like a hash is both");
        assert!(names("app-0123.d").is_empty() && names("libapp-0123.rlib").is_empty());
        assert!(names("libapp-0123.rmeta").is_empty());
    }

    #[test]
    fn cargo_messages_are_told_from_a_test_s_output() {
        let mut a = Artifacts::default();
        assert!(!a.read_line("hello from a test"));
        assert!(!a.read_line("{\"not\": \"cargo\"}"));
        assert!(a.read_line(
            r#"{"reason":"compiler-artifact","filenames":["/t/debug/deps/libalpha-1.rlib"],"executable":null,"fresh":true}"#
        ));
        assert!(a.read_line(
            r#"{"reason":"compiler-artifact","filenames":["/t/debug/deps/alpha-2"],"executable":"/t/debug/deps/alpha-2"}"#
        ));
        assert!(!a.built());
        assert!(a.read_line(r#"{"reason":"build-finished","success":false}"#));
        assert!(!a.built());
        assert!(a.read_line(r#"{"reason":"build-finished","success":true}"#));
        assert!(a.built());
        assert_eq!(a.files.len(), 3);
    }

    #[test]
    fn only_objects_this_build_superseded_are_removed() {
        let dir = std::env::temp_dir().join(format!("xtask-build-{}", std::process::id()));
        let (debug, deps) = (dir.join("debug"), dir.join("debug/deps"));
        std::fs::create_dir_all(&deps).unwrap();
        let exe = |p: &Path| {
            std::fs::write(p, "x").unwrap();
            std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        };
        // cargo's record of a unit: `.fingerprint/<package>-<hash>/<kind>-<target>`.
        let unit = |package: &str, hash: &str, kind: &str| {
            let folder = debug.join(format!(".fingerprint/{package}-{hash}"));
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join(kind), "").unwrap();
        };
        let mut a = Artifacts::default();
        let mut built = |file: &Path, target: &str, test: bool| {
            let f = file.to_string_lossy();
            let line = format!(
                r#"{{"reason":"compiler-artifact","target":{{"name":"{target}"}},"profile":{{"test":{test}}},"filenames":["{f}"],"executable":"{f}"}}"#
            );
            assert!(a.read_line(&line));
        };
        // This build: alpha's unit tests, the app's program (and its copy above deps/), the
        // audit program's unit tests, and a tool.
        for (file, package, hash, kind, target, test) in [
            ("alpha-11111111", "alpha", "11111111", "test-lib-alpha", "alpha", true),
            ("app-22222222", "app", "22222222", "bin-app", "app", false),
            ("xtask_audit-33333333", "xtask-audit", "33333333", "test-bin-xtask-audit", "xtask-audit", true),
            ("tool-44444444", "tool", "44444444", "bin-tool", "tool", false),
        ] {
            exe(&deps.join(file));
            unit(package, hash, kind);
            built(&deps.join(file), target, test);
        }
        std::fs::hard_link(deps.join("app-22222222"), debug.join("app")).unwrap();
        // Superseded: alpha's unit tests and the tool under older hashes, and the old tool's
        // copy above deps/.
        let old_tests = deps.join("alpha-99999999");
        let old_tool = deps.join("tool-55555555");
        for (file, package, hash, kind) in
            [(&old_tests, "alpha", "99999999", "test-lib-alpha"), (&old_tool, "tool", "55555555", "bin-tool")]
        {
            exe(file);
            unit(package, hash, kind);
        }
        let old_copy = debug.join("tool");
        std::fs::hard_link(&old_tool, &old_copy).unwrap();
        // Kept: the audit program a test built with its own cargo (this build built only its
        // unit tests), an object cargo has no fingerprint of, and what is not a workspace
        // target's or not an object.
        let nested = deps.join("xtask_audit-66666666");
        exe(&nested);
        unit("xtask-audit", "66666666", "bin-xtask-audit");
        let unknown = deps.join("alpha-77777777");
        exe(&unknown);
        let others = [deps.join("libserde_derive-88888888.so"), deps.join("alpha-99999999.d")];
        for p in &others {
            exe(p);
        }
        unit("serde_derive", "88888888", "lib-serde_derive");

        let targets: BTreeSet<String> = ["alpha", "app", "tool", "xtask-audit"].map(str::to_owned).into();
        let mut removed = a.remove_stale(&targets).unwrap();
        removed.sort();
        assert_eq!(removed, [old_tests, old_tool, old_copy]);
        for kept in [&nested, &unknown, &debug.join("app"), &deps.join("app-22222222"), &deps.join("alpha-11111111")]
            .into_iter()
            .chain(&others)
        {
            assert!(kept.exists(), "{} is kept", kept.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
