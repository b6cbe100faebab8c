//! The copy of the checkout that mutants are tested in: `target/xtask-mutants/tree/`, with its
//! own `target/`, kept between runs so that each run builds only what changed.
//!
//! The checkout itself is never written: a mutant is put into the copy, tested, and taken out
//! again (also when the run fails or is interrupted: [`Applied`] puts the file back when
//! dropped). The copy holds the files git lists (tracked, and untracked but not ignored), and
//! no `.git`, as cargo-mutants' copies have none: git does not look above the copy for a
//! repository either (`GIT_CEILING_DIRECTORIES`), so a test that needs the checkout's history
//! fails in the baseline run, and says so, rather than reading the wrong repository.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::list::Mutant;

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
        Ok(written)
    }

    /// Where the last mutant's test output is kept, for a reader wondering what happened.
    pub fn last_log(&self) -> PathBuf {
        self.home.join("last-mutant.log")
    }

    /// The variables every command run in the copy gets: git stops looking for a repository at
    /// the copy's parent.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("GIT_CEILING_DIRECTORIES".to_owned(), self.home.to_string_lossy().into_owned())]
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
