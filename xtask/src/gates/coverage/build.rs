//! The instrumented build, kept from one coverage run to the next so that an edit rebuilds only
//! what it touched (cargo-llvm-cov's default is to delete it before every run).
//!
//! What that default protects against is a stale object: cargo-llvm-cov reports on every
//! executable in its target folder named after a workspace target, so a test binary left by an
//! earlier build (another hash after a change of features, dependencies or flags; a bin target
//! that is gone) would bring its own, outdated lines into the report. Each run therefore asks
//! cargo which files it built or found fresh (its JSON messages, forwarded by nextest), and
//! removes every other such executable before the report is written.

use std::collections::{BTreeSet, HashSet};
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

    /// Removes the executables in the folders this build wrote to that are named after a
    /// workspace target (`targets`: names as cargo writes them, `-` or `_`) and are not one of
    /// this build's files (hard links count as the same file). Returns what was removed.
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
        for dir in folders {
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
            };
            for entry in entries {
                let path = entry?.path();
                let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
                let executable = meta.is_file() && meta.mode() & 0o111 != 0;
                if !executable || current.contains(&(meta.dev(), meta.ino())) {
                    continue;
                }
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
                if targets_of(name).iter().any(|t| targets.contains(t)) {
                    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
                    removed.push(path);
                }
            }
        }
        Ok(removed)
    }
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
    fn only_stale_objects_of_workspace_targets_are_removed() {
        let dir = std::env::temp_dir().join(format!("xtask-build-{}", std::process::id()));
        let deps = dir.join("debug/deps");
        std::fs::create_dir_all(&deps).unwrap();
        let exe = |p: &Path| {
            std::fs::write(p, "x").unwrap();
            std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        };
        let current = [deps.join("alpha-1111"), deps.join("app-2222"), deps.join("libserde_derive-3333.so")];
        let stale_test = deps.join("alpha-9999");
        let stale_bin = dir.join("debug/gone");
        let others = [deps.join("libserde_derive-4444.so"), deps.join("alpha-9999.d"), dir.join("debug/app")];
        for p in current.iter().chain([&stale_test, &stale_bin]).chain(&others[..2]) {
            exe(p);
        }
        // The bin's uplifted copy is a hard link to the one in deps/.
        std::fs::hard_link(&current[1], &others[2]).unwrap();
        let mut a = Artifacts::default();
        for f in &current {
            let f = f.to_string_lossy();
            a.read_line(&format!(r#"{{"reason":"compiler-artifact","filenames":["{f}"],"executable":"{f}"}}"#));
        }
        let targets: BTreeSet<String> = ["alpha", "app", "gone"].map(str::to_owned).into();
        let mut removed = a.remove_stale(&targets).unwrap();
        removed.sort();
        assert_eq!(removed, [stale_test, stale_bin]);
        for kept in current.iter().chain(&others) {
            assert!(kept.exists(), "{} is kept", kept.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
