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
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

use crate::lint::files::git;

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
        // Only regular files can be hashed by path (a folder or a dangling link cannot).
        // A name with a line break cannot go through `--stdin-paths`: such a file keeps its index
        // id (untracked: it is left out).
        to_hash.retain(|p| {
            !p.contains('\n') && std::fs::symlink_metadata(root.join(p)).is_ok_and(|m| m.file_type().is_file())
        });
        to_hash.sort_unstable();
        to_hash.dedup();
        if !to_hash.is_empty() {
            let ids = hash_paths(root, &to_hash)?;
            for (path, id) in to_hash.into_iter().zip(ids) {
                files.insert(path, id);
            }
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

/// git's content id of `text` (`git hash-object --stdin`): a digest for keys, computed by the
/// program the gates already need rather than a hashing crate.
pub fn digest(root: &Path, text: &[u8]) -> Result<String> {
    let mut child = git(root)
        .args(["hash-object", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run `git hash-object`")?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let text = text.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&text));
    let out = child.wait_with_output().context("cannot run `git hash-object`")?;
    writer.join().expect("the writer does not panic").context("cannot write to `git hash-object`")?;
    if !out.status.success() {
        bail!("`git hash-object --stdin` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `git hash-object --stdin-paths` over `paths` (relative to `root`), one id each, in order.
fn hash_paths(root: &Path, paths: &[String]) -> Result<Vec<String>> {
    let mut child = git(root)
        .args(["hash-object", "--stdin-paths"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run `git hash-object`")?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let list: String = paths.iter().map(|p| format!("{p}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(list.as_bytes()));
    let out = child.wait_with_output().context("cannot run `git hash-object`")?;
    writer.join().expect("the writer does not panic").context("cannot write to `git hash-object`")?;
    if !out.status.success() {
        bail!("`git hash-object --stdin-paths` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    if ids.len() != paths.len() {
        bail!("`git hash-object --stdin-paths` gave {} ids for {} files", ids.len(), paths.len());
    }
    Ok(ids)
}

fn run(root: &Path, args: &[&str]) -> Result<String> {
    let mut cmd: Command = git(root);
    cmd.args(args);
    let out = crate::process::checked(&mut cmd, &format!("git {}", args.join(" ")))
        .with_context(|| format!("cannot list the files of {} with git", root.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn split(text: &str) -> Vec<&str> {
    text.split('\0').filter(|p| !p.is_empty()).collect()
}
