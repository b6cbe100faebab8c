//! Which files a checkout has, as git sees them, and the kinds of file more than one gate
//! looks for.
//!
//! The gates look at the files git tracks **and** the untracked files that are not ignored
//! (`git ls-files --cached --others --exclude-standard`): a new file is checked before it is
//! `git add`ed, and `.gitignore` is the one place that says what is not project content. In
//! CI's fresh clone the two sets are the same. Files deleted from the work tree, symlinks,
//! submodules and folders are skipped: only regular files are read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::{git, glob};

pub struct Tree {
    pub root: PathBuf,
    /// Regular files, relative to the root with `/` separators, sorted, minus `exclude`.
    pub files: Vec<String>,
    /// Every tracked path, excluded or not (what `git ls-files` lists, whatever the work tree has).
    pub tracked: BTreeSet<String>,
    /// Files left out by the `exclude` setting.
    pub excluded: usize,
}

impl Tree {
    /// Lists the files of the git work tree at `root`; `exclude` are globs (see `glob.rs`).
    pub fn list(root: &Path, exclude: &[String]) -> Result<Tree> {
        let top = git_paths(root, &["rev-parse", "--show-toplevel"])?;
        let top = top.first().map(|t| PathBuf::from(t.trim()));
        let same = |a: &Path, b: &Path| a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(a, b)| a == b);
        match top {
            Some(top) if same(&top, root) => {}
            Some(top) => bail!(
                "{} is not the top of a git work tree (it is inside {}): lint the whole checkout",
                root.display(),
                top.display()
            ),
            None => bail!("{} is not a git work tree", root.display()),
        }
        let tracked: BTreeSet<String> = git_paths(root, &["ls-files", "-z", "--cached"])?.into_iter().collect();
        let others = git_paths(root, &["ls-files", "-z", "--others", "--exclude-standard"])?;
        let mut all: BTreeSet<String> = tracked.clone();
        all.extend(others);
        let mut files = Vec::with_capacity(all.len());
        let mut excluded = 0;
        for path in all {
            let meta = match std::fs::symlink_metadata(root.join(&path)) {
                Ok(m) => m,
                Err(_) => continue, // deleted in the work tree
            };
            if !meta.file_type().is_file() {
                continue;
            }
            if exclude.iter().any(|p| glob::matches(p, &path)) {
                excluded += 1;
                continue;
            }
            files.push(path);
        }
        Ok(Tree { root: root.to_path_buf(), files, tracked, excluded })
    }

    pub fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.root.join(path))
    }

    /// The listed files whose relative path satisfies `keep`.
    pub fn select(&self, keep: impl Fn(&str) -> bool) -> Vec<&str> {
        self.files.iter().map(String::as_str).filter(|p| keep(p)).collect()
    }
}

fn git_paths(root: &Path, args: &[&str]) -> Result<Vec<String>> {
    let out = git(root)
        .args(args)
        .output()
        .context("cannot run `git` (the lint lists the checkout's files with `git ls-files`)")?;
    if !out.status.success() {
        bail!(
            "{} is not a git work tree (`git {}` failed: {})",
            root.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// The file name: the part after the last `/`.
pub fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether `path` is a Dockerfile: `Dockerfile`, `Dockerfile.<x>`, `<x>.Dockerfile` or
/// `<x>.dockerfile`, in any folder; not a Dockerfile's own ignore file (`Dockerfile.dockerignore`).
pub fn is_dockerfile(path: &str) -> bool {
    let b = base(path);
    (b == "Dockerfile" || b.starts_with("Dockerfile.") || b.ends_with(".Dockerfile") || b.ends_with(".dockerfile"))
        && !b.ends_with(".dockerignore")
}

/// Workflow files (`.github/workflows/*.yml`) and local actions (`.github/actions/**/action.yml`).
pub fn is_workflow(path: &str) -> bool {
    let yaml = path.ends_with(".yml") || path.ends_with(".yaml");
    yaml && (glob::matches(".github/workflows/*", path) || glob::matches(".github/actions/**/action.*", path))
}

/// `.env.example`, `.env.sample`, `.env.template` and `.env.dist` are templates, meant to be
/// committed; any other `.env` or `.env.*` file holds real values.
pub fn is_env_file(path: &str) -> bool {
    let b = base(path);
    b == ".env"
        || b.strip_prefix(".env.").is_some_and(|suffix| !matches!(suffix, "example" | "sample" | "template" | "dist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_and_templates() {
        assert!(is_env_file(".env"));
        assert!(is_env_file("app/.env"));
        assert!(is_env_file(".env.production"));
        assert!(!is_env_file(".env.example"));
        assert!(!is_env_file(".envrc"));
        assert!(!is_env_file("app/env.rs"));
    }
}
