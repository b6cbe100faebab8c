//! The copy of the checkout that mutants are tested in: `target/xtask-mutants/tree/`, with its
//! own `target/`, kept between runs so that each run builds only what changed.
//!
//! The checkout itself is never written: a mutant is put into the copy, tested, and taken out
//! again (also when the run fails or is interrupted: [`Applied`] puts the file back when
//! dropped). The copy holds the files git lists (tracked, and untracked but not ignored), and
//! is a git worktree of the checkout (`git worktree list` shows it) at the checkout's HEAD: a
//! test that reads the repository (its files as git lists them, its history, a merge base) runs
//! there as it does in the checkout. cargo-mutants copies no `.git` unless asked
//! (`--copy-vcs`); a worktree shares the repository instead of copying it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::list::Mutant;
use crate::repo::git;

pub struct Scratch {
    /// `target/xtask-mutants/`: the tree, and what the gate keeps beside it.
    pub home: PathBuf,
    /// The copy's root.
    pub tree: PathBuf,
}

/// The list of files the last sync copied, one path a line: what to remove when git no longer
/// lists one.
const MANIFEST: &str = "tree-files.txt";

impl Scratch {
    pub fn at(target: &Path) -> Scratch {
        let home = target.join("xtask-mutants");
        Scratch { tree: home.join("tree"), home }
    }

    /// Makes the copy match the checkout's files: a file is written only when its content
    /// differs (so cargo sees the others unchanged), a file no longer listed is removed. Returns
    /// how many files were written.
    pub fn sync(&self, root: &Path) -> Result<usize> {
        let listed = crate::repo::files::Tree::list(root, &[]).context("cannot list the checkout's files")?;
        std::fs::create_dir_all(&self.tree).with_context(|| format!("cannot create {}", self.tree.display()))?;
        let manifest = self.home.join(MANIFEST);
        let before: BTreeSet<String> =
            std::fs::read_to_string(&manifest).unwrap_or_default().lines().map(str::to_owned).collect();
        let now: BTreeSet<String> = listed.files.iter().cloned().collect();
        for gone in before.difference(&now) {
            let path = self.tree.join(gone);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove {}", path.display()));
                }
                _ => {}
            }
        }
        let mut written = 0;
        for file in &listed.files {
            let bytes = listed.read(file).with_context(|| format!("cannot read {file}"))?;
            let to = self.tree.join(file);
            if std::fs::read(&to).is_ok_and(|old| old == bytes) {
                continue;
            }
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(&to, &bytes).with_context(|| format!("cannot write {}", to.display()))?;
            let mode = std::fs::metadata(root.join(file)).map(|m| m.permissions());
            if let Ok(mode) = mode {
                let _ = std::fs::set_permissions(&to, mode);
            }
            written += 1;
        }
        let text: String = listed.files.iter().map(|f| format!("{f}\n")).collect();
        std::fs::write(&manifest, text).with_context(|| format!("cannot write {}", manifest.display()))?;
        self.attach_git(root)?;
        Ok(written)
    }

    /// Makes the copy a worktree of the checkout's repository, at the checkout's HEAD, its index
    /// read from that commit (the files are [`Scratch::sync`]'s). A checkout without a commit
    /// yet leaves the copy without `.git`.
    fn attach_git(&self, root: &Path) -> Result<()> {
        let head = git(root).args(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]).output()?;
        if !head.status.success() {
            return Ok(());
        }
        let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
        let dot_git = self.tree.join(".git");
        let attached = dot_git.is_file()
            && git(&self.tree).args(["rev-parse", "--git-dir"]).output().is_ok_and(|o| o.status.success());
        if !attached {
            // `worktree add` wants a new folder, and the copy (with its build) is kept: add one
            // beside it, move its `.git` into the copy and tell git where it went.
            let _ = std::fs::remove_file(&dot_git);
            let fresh = self.home.join("tree-git");
            let _ = std::fs::remove_dir_all(&fresh);
            git(root).args(["worktree", "add", "--force", "--detach", "--no-checkout"]).arg(&fresh).arg(&head).run()?;
            std::fs::rename(fresh.join(".git"), &dot_git)
                .with_context(|| format!("cannot write {}", dot_git.display()))?;
            let _ = std::fs::remove_dir(&fresh);
            git(&self.tree).args(["worktree", "repair"]).run()?;
        }
        git(&self.tree).args(["reset", "--quiet", &head]).run()?;
        Ok(())
    }

    /// Where the last mutant's test output is kept, for a reader wondering what happened.
    pub fn last_log(&self) -> PathBuf {
        self.home.join("last-mutant.log")
    }

    /// Puts `mutant` into the copy; the file is restored when the result is dropped.
    pub fn apply(&self, mutant: &Mutant) -> Result<Applied> {
        let path = self.tree.join(&mutant.file);
        let original = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let Some(mutated) = mutant.apply(&original) else {
            bail!("{}: the mutant's span is not in the file (did it change while the gate ran?)", mutant.title());
        };
        std::fs::write(&path, mutated).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Applied { path, original })
    }
}

/// A mutant in the copy, until dropped.
pub struct Applied {
    path: PathBuf,
    original: String,
}

impl Drop for Applied {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(&self.path, &self.original) {
            eprintln!(
                "warning: cannot restore {} in the mutants' copy: {e}; the next run copies it again",
                self.path.display()
            );
        }
    }
}
