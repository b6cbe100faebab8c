//! The one place init changes files. A new file appears whole or not at all and never replaces
//! one (written beside it, then hard-linked into place, which fails when the name is taken); an
//! append re-reads the file, checks it is still what init read, and renames the longer copy
//! into place, so the bytes that were there stay as they were.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

/// What init does with one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A new file.
    Create { path: String, content: String },
    /// Text added at the end of a file that still holds `before`; `what` says what it is.
    Append { path: String, before: String, text: String, what: String },
    /// A file init leaves as it is, and why.
    Keep { path: String, why: String },
}

impl Action {
    /// The file, relative to the root.
    pub fn path(&self) -> &str {
        match self {
            Action::Create { path, .. } | Action::Append { path, .. } | Action::Keep { path, .. } => path,
        }
    }
}

/// What became of an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Done {
    Wrote,
    Appended,
    /// Left alone, and why (it existed, or appeared while init ran).
    Kept(String),
}

/// Carries out `action` in `root`.
pub fn apply(root: &Path, action: &Action) -> Result<Done> {
    match action {
        Action::Create { path, content } => create(&root.join(path), content),
        Action::Append { path, before, text, .. } => {
            append(&root.join(path), before, text)?;
            Ok(Done::Appended)
        }
        Action::Keep { why, .. } => Ok(Done::Kept(why.clone())),
    }
}

/// A temporary name beside `dest`.
fn beside(dest: &Path) -> Result<std::path::PathBuf> {
    let name = dest.file_name().context("a file to write has no name")?.to_string_lossy();
    Ok(dest.with_file_name(format!(".{name}.xtask-init-{}", std::process::id())))
}

fn create(dest: &Path, content: &str) -> Result<Done> {
    if dest.exists() {
        return Ok(Done::Kept("exists".into()));
    }
    let dir = dest.parent().context("a file to write has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = beside(dest)?;
    let result =
        std::fs::write(&tmp, content).with_context(|| format!("cannot write {}", tmp.display())).and_then(|()| {
            match std::fs::hard_link(&tmp, dest) {
                Ok(()) => Ok(Done::Wrote),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Ok(Done::Kept("exists (it appeared while init ran)".into()))
                }
                Err(e) => Err(e).with_context(|| format!("cannot create {}", dest.display())),
            }
        });
    let _ = std::fs::remove_file(&tmp);
    result
}

fn append(dest: &Path, before: &str, text: &str) -> Result<()> {
    let now = std::fs::read_to_string(dest).with_context(|| format!("cannot read {}", dest.display()))?;
    if now != before {
        bail!("{} changed while `cargo xtask init` ran: run it again", dest.display());
    }
    let permissions = std::fs::metadata(dest).with_context(|| format!("cannot read {}", dest.display()))?.permissions();
    crate::output::write_atomically(dest, |tmp| {
        std::fs::write(tmp, format!("{before}{text}"))
            .and_then(|()| std::fs::set_permissions(tmp, permissions))
            .with_context(|| format!("cannot write {}", tmp.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-init-write-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_new_file_never_replaces_one() {
        let dir = scratch("create");
        let create = |path: &str, content: &str| {
            apply(&dir, &Action::Create { path: path.into(), content: content.into() }).unwrap()
        };
        assert_eq!(create(".github/workflows/ci.yml", "new\n"), Done::Wrote);
        assert_eq!(std::fs::read_to_string(dir.join(".github/workflows/ci.yml")).unwrap(), "new\n");
        assert_eq!(create(".github/workflows/ci.yml", "other\n"), Done::Kept("exists".into()));
        assert_eq!(std::fs::read_to_string(dir.join(".github/workflows/ci.yml")).unwrap(), "new\n");
        let left: Vec<_> =
            std::fs::read_dir(dir.join(".github/workflows")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["ci.yml"], "no temporary file is left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_append_keeps_the_bytes_and_the_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = scratch("append");
        let manifest = dir.join("Cargo.toml");
        std::fs::write(&manifest, "[workspace]\r\n").unwrap();
        std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o640)).unwrap();
        let append = |before: &str| Action::Append {
            path: "Cargo.toml".into(),
            before: before.into(),
            text: "\n[x]\n".into(),
            what: "x".into(),
        };
        assert_eq!(apply(&dir, &append("[workspace]\r\n")).unwrap(), Done::Appended);
        assert_eq!(std::fs::read_to_string(&manifest).unwrap(), "[workspace]\r\n\n[x]\n");
        assert_eq!(std::fs::metadata(&manifest).unwrap().permissions().mode() & 0o777, 0o640);
        let e = apply(&dir, &append("[workspace]\r\n")).unwrap_err().to_string();
        assert!(e.contains("changed while `cargo xtask init` ran"), "{e}");
        assert_eq!(std::fs::read_to_string(&manifest).unwrap(), "[workspace]\r\n\n[x]\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
