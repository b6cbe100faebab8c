//! `--file` arguments: paths, or shell-style globs (`shards/*.xml`, `out/**/lcov.info`) that
//! the xtask expands itself, so a quoted pattern works the same in a YAML `run:` line, a hook
//! and a terminal.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// Whether a `--file` argument is a pattern rather than a path.
fn is_pattern(arg: &str) -> bool {
    arg.contains(['*', '?'])
}

/// The files the arguments name, in the order given, each pattern's matches sorted; a file
/// named twice is read once. A pattern that matches nothing is an error, never an empty input.
pub fn expand(args: &[PathBuf], cwd: &Path) -> Result<Vec<PathBuf>> {
    expand_flag("--file", args, cwd)
}

/// [`expand`] for another flag, named in its errors.
pub fn expand_flag(flag: &str, args: &[PathBuf], cwd: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in args {
        let text = arg.to_string_lossy();
        if !is_pattern(&text) {
            push(&mut files, arg.clone());
            continue;
        }
        let matches = matching(flag, &text, cwd)?;
        if matches.is_empty() {
            bail!("{flag} {text}: no file matches this pattern (from {})", cwd.display());
        }
        for m in matches {
            push(&mut files, m);
        }
    }
    Ok(files)
}

fn push(files: &mut Vec<PathBuf>, file: PathBuf) {
    if !files.contains(&file) {
        files.push(file);
    }
}

/// The files under the pattern's fixed leading folders that the whole pattern matches
/// (`*` and `?` within a name, `**` across folders).
fn matching(flag: &str, pattern: &str, cwd: &Path) -> Result<Vec<PathBuf>> {
    let absolute = pattern.starts_with('/');
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let fixed = parts.iter().take_while(|p| !is_pattern(p)).count();
    if fixed == parts.len() {
        return Ok(vec![PathBuf::from(pattern)]);
    }
    let mut base = if absolute { PathBuf::from("/") } else { cwd.to_path_buf() };
    base.extend(&parts[..fixed]);
    let rest = parts[fixed..].join("/");
    if crate::repo::glob::check(&rest).is_err() {
        bail!("{flag} {pattern}: not a usable pattern (`*` and `?` within a name, `**` across folders)");
    }
    let mut found = Vec::new();
    let mut files = Vec::new();
    if base.is_dir() {
        walk(&base, &mut files)
            .map_err(|e| anyhow::anyhow!("{flag} {pattern}: cannot list {}: {e}", base.display()))?;
    }
    for path in files {
        let Ok(rel) = path.strip_prefix(&base) else { continue };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if crate::repo::glob::matches(&rest, &rel) {
            let shown: PathBuf = parts[..fixed].iter().collect::<PathBuf>().join(&rel);
            found.push(if absolute { Path::new("/").join(shown) } else { shown });
        }
    }
    found.sort();
    Ok(found)
}

/// Every file below `dir` (following links to files and folders).
fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else if path.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_expand_sorted_and_paths_pass_through() {
        let dir = std::env::temp_dir().join(format!("xtask-inputs-{}", std::process::id()));
        for f in ["shards/b.xml", "shards/a.xml", "shards/notes.txt", "shards/deep/c.info"] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let got = expand(&["shards/*.xml".into(), "other.xml".into(), "shards/a.xml".into()], &dir).unwrap();
        assert_eq!(got, [PathBuf::from("shards/a.xml"), "shards/b.xml".into(), "other.xml".into()]);
        let got = expand(&["shards/**/*.info".into()], &dir).unwrap();
        assert_eq!(got, [PathBuf::from("shards/deep/c.info")]);
        let abs = format!("{}/shards/?.xml", dir.display());
        assert_eq!(expand(&[abs.into()], Path::new("/")).unwrap().len(), 2);
        let err = expand(&["shards/*.lcov".into()], &dir).unwrap_err().to_string();
        assert!(err.contains("no file matches this pattern"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
