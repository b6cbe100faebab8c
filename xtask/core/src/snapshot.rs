//! What the checkout holds right now, as content ids: every file git lists (tracked, and
//! untracked but not ignored) with the id git gives its work-tree content (the blob id
//! `git hash-object` prints). Two snapshots differ exactly where a file was added, removed
//! or edited, whatever the timestamps say. The verdict cache keys on it and the per-test
//! coverage map records it, to know later what changed since.
//!
//! Unmodified tracked files take their id from the index (`git ls-files --stage`); only the
//! files that differ from it, and the untracked ones, are hashed, so a snapshot of a clean
//! checkout costs a few git calls, not a read of every file.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context as _, Result, bail};

use crate::repo::git;

/// Repository-relative path (with `/`) → content id (40 or 64 hex digits, git's).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub files: BTreeMap<String, String>,
}

/// How two snapshots differ, path by path, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub modified: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }

    /// Every changed path, sorted.
    pub fn paths(&self) -> Vec<&str> {
        let mut all: Vec<&str> =
            self.added.iter().chain(&self.removed).chain(&self.modified).map(String::as_str).collect();
        all.sort_unstable();
        all
    }

    /// "app/src/x.rs, Cargo.toml and 3 more", for one line of output.
    pub fn brief(&self, at_most: usize) -> String {
        let paths = self.paths();
        let shown: Vec<&str> = paths.iter().take(at_most).copied().collect();
        match paths.len().saturating_sub(at_most) {
            0 => shown.join(", "),
            more => format!("{} and {more} more", shown.join(", ")),
        }
    }
}

impl Snapshot {
    /// The snapshot of the git work tree at `root` (its top folder).
    pub fn take(root: &Path) -> Result<Snapshot> {
        // Stat information first, so that files touched but not edited are not hashed again.
        let _ =
            git(root).args(["update-index", "-q", "--refresh"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let mut files = BTreeMap::new();
        for entry in split(&run(root, &["ls-files", "-z", "--stage"])?) {
            // `MODE SP ID SP STAGE TAB PATH`; a conflicted path has several stages: any will do,
            // it is hashed below as modified anyway.
            let Some((meta, path)) = entry.split_once('\t') else { continue };
            let mut parts = meta.split(' ');
            let (Some(mode), Some(id)) = (parts.next(), parts.next()) else { continue };
            if mode == "160000" {
                continue; // a submodule: not a file of this checkout
            }
            files.insert(path.to_owned(), id.to_owned());
        }
        for path in split(&run(root, &["ls-files", "-z", "--deleted"])?) {
            files.remove(path);
        }
        let mut to_hash: Vec<String> = split(&run(root, &["ls-files", "-z", "--modified"])?)
            .into_iter()
            .filter(|p| files.contains_key(*p))
            .map(str::to_owned)
            .collect();
        to_hash.extend(
            split(&run(root, &["ls-files", "-z", "--others", "--exclude-standard"])?).into_iter().map(str::to_owned),
        );
        to_hash.sort_unstable();
        to_hash.dedup();
        // Regular files are hashed by path; a symbolic link is, for git, the text it points to
        // (`git hash-object` on its path would hash the target's content, or fail when it
        // dangles). Anything else (a folder where a file was) keeps its index id.
        let kind = |p: &str| std::fs::symlink_metadata(root.join(p)).map(|m| m.file_type()).ok();
        let links: Vec<String> = to_hash.iter().filter(|p| kind(p).is_some_and(|k| k.is_symlink())).cloned().collect();
        to_hash.retain(|p| kind(p).is_some_and(|k| k.is_file()));
        if !to_hash.is_empty() {
            let ids = hash_paths(root, &to_hash)?;
            for (path, id) in to_hash.into_iter().zip(ids) {
                files.insert(path, id);
            }
        }
        for link in links {
            let target = std::fs::read_link(root.join(&link))
                .with_context(|| format!("cannot read the link {}", root.join(&link).display()))?;
            let id = digest(root, target.as_os_str().as_encoded_bytes())?;
            files.insert(link, id);
        }
        Ok(Snapshot { files })
    }

    /// What changed from `self` (the older) to `now`.
    pub fn changes(&self, now: &Snapshot) -> Changes {
        let mut changes = Changes::default();
        for (path, id) in &now.files {
            match self.files.get(path) {
                None => changes.added.push(path.clone()),
                Some(old) if old != id => changes.modified.push(path.clone()),
                Some(_) => {}
            }
        }
        changes.removed = self.files.keys().filter(|p| !now.files.contains_key(*p)).cloned().collect();
        changes
    }

    /// One line a file, `ID PATH`: the text a key is computed over.
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(self.files.len() * 64);
        for (path, id) in &self.files {
            out.push_str(id);
            out.push(' ');
            out.push_str(path);
            out.push('\n');
        }
        out
    }
}

/// HEAD's commit, abbreviated to 12 digits; `None` before the first commit.
pub fn head(root: &Path) -> Option<String> {
    let out = git(root).args(["rev-parse", "--short=12", "HEAD"]).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// git's content id of `text` (`git hash-object --stdin`): a digest for keys, computed by the
/// program the gates already need rather than a hashing crate.
pub fn digest(root: &Path, text: &[u8]) -> Result<String> {
    let out = hash_object(root, "--stdin", text.to_vec())?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

/// `git hash-object MODE` with `input` on its stdin (written from a thread, so a large input
/// cannot deadlock against the output); its stdout.
fn hash_object(root: &Path, mode: &str, input: Vec<u8>) -> Result<Vec<u8>> {
    let out = git(root).args(["hash-object", mode]).output_with_stdin(input)?;
    if !out.status.success() {
        bail!("`git hash-object {mode}` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(out.stdout)
}

/// The content id of each file (absolute, or relative to `root`), in order; `None` for one
/// that is missing or not a regular file. One `git` run for all of them.
pub fn file_ids(root: &Path, paths: &[std::path::PathBuf]) -> Result<Vec<Option<String>>> {
    let present: Vec<bool> = paths.iter().map(|p| root.join(p).is_file()).collect();
    let names: Vec<String> =
        paths.iter().zip(&present).filter(|(_, here)| **here).map(|(p, _)| p.to_string_lossy().into_owned()).collect();
    let mut ids = if names.is_empty() { Vec::new() } else { hash_paths(root, &names)? }.into_iter();
    Ok(present.iter().map(|&here| if here { ids.next() } else { None }).collect())
}

/// `git hash-object --stdin-paths` over `paths` (relative to `root`), one id each, in order.
fn hash_paths(root: &Path, paths: &[String]) -> Result<Vec<String>> {
    let list: String = paths.iter().map(|p| format!("{}\n", stdin_path(p))).collect();
    let out = hash_object(root, "--stdin-paths", list.into_bytes())?;
    let ids: Vec<String> = String::from_utf8_lossy(&out).lines().map(str::to_owned).collect();
    if ids.len() != paths.len() {
        bail!("`git hash-object --stdin-paths` gave {} ids for {} files", ids.len(), paths.len());
    }
    Ok(ids)
}

/// A path as `--stdin-paths` reads it: a line starting with `"` is taken for C-style quoting
/// (and unquoted), so such a name, and one with a line break, is written quoted.
fn stdin_path(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.starts_with('"') && !path.contains(['\n', '\r']) {
        return path.into();
    }
    let mut quoted = String::with_capacity(path.len() + 2);
    quoted.push('"');
    for c in path.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted.into()
}

fn run(root: &Path, args: &[&str]) -> Result<String> {
    let out = git(root)
        .args(args)
        .shown(format!("git {}", args.join(" ")))
        .run()
        .with_context(|| format!("cannot list the files of {} with git", root.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn split(text: &str) -> Vec<&str> {
    text.split('\0').filter(|p| !p.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway git checkout under the temporary folder, removed when dropped.
    struct Checkout(std::path::PathBuf);

    impl Checkout {
        fn new(name: &str) -> Checkout {
            let dir = std::env::temp_dir().join(format!("xtask-snapshot-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let c = Checkout(dir);
            c.git(&["init", "-q"]);
            c
        }

        fn git(&self, args: &[&str]) -> String {
            let out =
                git(&self.0).args(["-c", "user.name=t", "-c", "user.email=t@example.com"]).args(args).output().unwrap();
            assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        }

        fn write(&self, path: &str, text: &str) {
            std::fs::write(self.0.join(path), text).unwrap();
        }

        /// What git itself records for the work tree: `git add -A`, then the index.
        fn as_git_sees_it(&self) -> BTreeMap<String, String> {
            self.git(&["add", "-A"]);
            split(&self.git(&["ls-files", "-z", "--stage"]))
                .into_iter()
                .map(|e| {
                    let (meta, path) = e.split_once('\t').unwrap();
                    (path.to_owned(), meta.split(' ').nth(1).unwrap().to_owned())
                })
                .collect()
        }
    }

    impl Drop for Checkout {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn every_kind_of_file_gets_the_id_git_would_give_it() {
        let c = Checkout::new("kinds");
        c.write(".gitignore", "ignored.txt\n");
        for name in ["kept.txt", "edited.txt", "gone.txt", "\"quoted\"", "line\nbreak", "back\\slash"] {
            c.write(name, &format!("{name}\n"));
        }
        std::os::unix::fs::symlink("kept.txt", c.0.join("link")).unwrap();
        c.git(&["add", "-A"]);
        c.git(&["commit", "-q", "-m", "one"]);
        c.write("edited.txt", "edited\n");
        c.write("\"quoted\"", "edited too\n");
        c.write("line\nbreak", "and this\n");
        std::fs::remove_file(c.0.join("gone.txt")).unwrap();
        std::fs::remove_file(c.0.join("link")).unwrap();
        std::os::unix::fs::symlink("nowhere", c.0.join("link")).unwrap();
        std::os::unix::fs::symlink("edited.txt", c.0.join("new-link")).unwrap();
        c.write("new.txt", "new\n");
        c.write("\"new quoted\"", "new\n");
        c.write("ignored.txt", "not listed\n");

        let snapshot = Snapshot::take(&c.0).unwrap();
        assert_eq!(snapshot.files, c.as_git_sees_it());
        assert!(!snapshot.files.contains_key("ignored.txt") && !snapshot.files.contains_key("gone.txt"));
    }

    #[test]
    fn changes_name_each_path_once() {
        let c = Checkout::new("changes");
        c.write("a.txt", "a\n");
        c.write("b.txt", "b\n");
        let before = Snapshot::take(&c.0).unwrap();
        c.write("b.txt", "B\n");
        c.write("c.txt", "c\n");
        std::fs::remove_file(c.0.join("a.txt")).unwrap();
        let changes = before.changes(&Snapshot::take(&c.0).unwrap());
        assert_eq!(changes.added, ["c.txt"]);
        assert_eq!(changes.removed, ["a.txt"]);
        assert_eq!(changes.modified, ["b.txt"]);
        assert_eq!(changes.brief(2), "a.txt, b.txt and 1 more");
        assert!(before.changes(&before).is_empty());
    }
}
