//! A bounded history kept as JSON lines, one entry a line, the oldest first: the test runs'
//! record (`target/xtask-tests/history.jsonl`) and the coverage trend's (`history.jsonl` in the
//! trend folder). Appending adds lines; when the file would hold more than its owner keeps, or
//! its last line is torn (a run killed mid-write), it is rewritten atomically instead.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The entries in `file`, oldest first. A missing file has none; a line that is not an entry
/// (a torn write, an older format) is skipped.
pub fn read<T: DeserializeOwned>(file: &Path) -> Result<Vec<T>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

/// Adds `new` after the file's entries. `surplus` is given all of them, the file's then the new,
/// and says how many of the oldest to drop: none, and the lines are appended; some (or a torn
/// last line), and the file is rewritten atomically without them. Gives what the file now holds.
pub fn append<T: Serialize + DeserializeOwned>(
    file: &Path,
    new: Vec<T>,
    surplus: impl FnOnce(&[T]) -> usize,
) -> Result<Vec<T>> {
    let mut all: Vec<T> = read(file)?;
    let before = all.len();
    all.extend(new);
    let drop = surplus(&all).min(all.len());
    // A torn last line would swallow the first line appended to it.
    let torn = std::fs::read(file).is_ok_and(|b| b.last().is_some_and(|c| *c != b'\n'));
    if drop > 0 || torn {
        all.drain(..drop);
        let text = lines(&all)?;
        crate::output::write_atomically(file, |tmp| std::fs::write(tmp, &text).map_err(Into::into))
            .with_context(|| format!("cannot write {}", file.display()))?;
        return Ok(all);
    }
    if all.len() == before {
        return Ok(all);
    }
    let dir = file.parent().context("the history file has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .with_context(|| format!("cannot open {}", file.display()))?;
    f.write_all(lines(&all[before..])?.as_bytes()).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(all)
}

fn lines<T: Serialize>(entries: &[T]) -> Result<String> {
    let mut text = String::new();
    for e in entries {
        text.push_str(&serde_json::to_string(e)?);
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of the test's own, emptied, and the history's path in it.
    fn fresh(name: &str, file: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("xtask-jsonl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let file = dir.join(file);
        (dir, file)
    }

    #[test]
    fn appends_drops_the_oldest_and_mends_a_torn_line() {
        let (dir, file) = fresh("append", "sub/h.jsonl");
        let keep3 = |all: &[u32]| all.len().saturating_sub(3);
        assert_eq!(read::<u32>(&file).unwrap(), Vec::<u32>::new());
        assert_eq!(append(&file, vec![1, 2], keep3).unwrap(), [1, 2]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "1\n2\n");
        assert_eq!(append(&file, vec![3, 4], keep3).unwrap(), [2, 3, 4]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "2\n3\n4\n");
        // A torn last line is skipped, and the next append rewrites the file whole.
        std::fs::OpenOptions::new().append(true).open(&file).unwrap().write_all(b"{\"x\":").unwrap();
        assert_eq!(read::<u32>(&file).unwrap(), [2, 3, 4]);
        assert_eq!(append(&file, vec![5], |_| 0).unwrap(), [2, 3, 4, 5]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "2\n3\n4\n5\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A plain append adds lines to the same file, not a rewritten copy: a reader that follows
    /// it (`tail -f`) keeps reading, and a long history is not written again on every run.
    #[test]
    fn appending_keeps_the_file_and_dropping_rewrites_it() {
        use std::os::unix::fs::MetadataExt as _;
        let (dir, file) = fresh("inode", "h.jsonl");
        let inode = || std::fs::metadata(&file).unwrap().ino();
        append(&file, vec![1u32], |_| 0).unwrap();
        let first = inode();
        append(&file, vec![2u32], |_| 0).unwrap();
        assert_eq!(inode(), first, "appended in place");
        assert_eq!(append(&file, vec![3u32], |_| 1).unwrap(), [2, 3]);
        assert_ne!(inode(), first, "rewritten (atomically: a new file renamed over it)");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Only a missing file is an empty history. One that cannot be read is an error, and
    /// appending to it changes nothing: a history that is not UTF-8 is not replaced by new lines.
    #[test]
    fn an_unreadable_history_is_an_error_and_is_left_alone() {
        let (dir, file) = fresh("bad", "h.jsonl");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&file, b"1\n\xff\xfe\n").unwrap();
        let err = read::<u32>(&file).unwrap_err();
        assert!(format!("{err:#}").starts_with(&format!("cannot read {}", file.display())), "{err:#}");
        assert!(append(&file, vec![2u32], |_| 0).is_err());
        assert_eq!(std::fs::read(&file).unwrap(), b"1\n\xff\xfe\n", "left alone");
        // A folder where the file should be: an error too, not an empty history.
        assert!(read::<u32>(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
