//! Sharded coverage runs: `--partition M/N` writes `coverage-M-of-N.xml`, and a merge of such
//! files must be one whole split (every part once, all of the same N) or it is refused: a
//! dropped shard would otherwise lower the grade, or hide code, without a word.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::test_run::Partition;

/// The file name of a shard's report.
pub fn file_name(p: Partition) -> String {
    format!("coverage-{}-of-{}.xml", p.index, p.count)
}

/// The part a file name says it holds (`coverage-2-of-3.xml`, or the same name ending in
/// `.info`/`.lcov`), if it follows the shard naming.
pub fn parse_name(path: &Path) -> Option<Partition> {
    let name = path.file_name()?.to_str()?;
    let stem = ["xml", "info", "lcov"].iter().find_map(|ext| name.strip_suffix(&format!(".{ext}")))?;
    let (m, n) = stem.strip_prefix("coverage-")?.split_once("-of-")?;
    crate::test_run::parse_partition(&format!("{m}/{n}")).ok().filter(|p| p.to_string() == format!("{m}/{n}"))
}

/// Refuses a set of inputs whose shard-named files are not one whole split. Files not named
/// like shards are not judged.
pub fn check_complete(inputs: &[PathBuf]) -> Result<()> {
    let mut by_count: BTreeMap<u32, BTreeMap<u32, Vec<&Path>>> = BTreeMap::new();
    for input in inputs {
        if let Some(p) = parse_name(input) {
            by_count.entry(p.count).or_default().entry(p.index).or_default().push(input);
        }
    }
    if by_count.len() > 1 {
        let splits: Vec<String> = by_count.keys().map(|n| format!("{n} parts")).collect();
        bail!(
            "the shard reports come from different splits ({}): merge the reports of one run only",
            splits.join(", ")
        );
    }
    let Some((&count, parts)) = by_count.iter().next() else { return Ok(()) };
    if let Some((index, paths)) = parts.iter().find(|(_, paths)| paths.len() > 1) {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        bail!("shard {index} of {count} is given more than once ({}): merge each part once", shown.join(", "));
    }
    let missing: Vec<String> = (1..=count).filter(|i| !parts.contains_key(i)).map(|i| i.to_string()).collect();
    if !missing.is_empty() {
        let had: Vec<String> = parts.keys().map(u32::to_string).collect();
        bail!(
            "shard {} of {count} is missing (given: {}): a failed or cancelled job? The union of an incomplete \
             split would understate the coverage",
            missing.join(", "),
            had.join(", ")
        );
    }
    Ok(())
}

/// Removes the reports of other splits (another N) from the shards folder, saying so: they
/// are this tool's own output, and a later `--file '<folder>/*.xml'` would mix them in.
pub fn remove_other_splits(folder: &Path, keep: Partition) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Ok(()) };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(other) = parse_name(&path).filter(|p| p.count != keep.count) else { continue };
        if path.is_file() {
            std::fs::remove_file(&path)
                .map_err(|e| anyhow::anyhow!("cannot remove {}, from an earlier split: {e}", path.display()))?;
            eprintln!("removed {}: the report of an earlier {}-part split", path.display(), other.count);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(index: u32, count: u32) -> Partition {
        Partition { index, count }
    }

    #[test]
    fn names_round_trip_and_others_are_not_shards() {
        assert_eq!(file_name(p(2, 3)), "coverage-2-of-3.xml");
        assert_eq!(parse_name(Path::new("dl/coverage-2-of-3.xml")), Some(p(2, 3)));
        assert_eq!(parse_name(Path::new("coverage-1-of-2.info")), Some(p(1, 2)));
        for other in
            ["coverage.xml", "coverage-0-of-2.xml", "coverage-3-of-2.xml", "coverage-01-of-2.xml", "x-1-of-2.xml"]
        {
            assert_eq!(parse_name(Path::new(other)), None, "{other}");
        }
    }

    #[test]
    fn only_a_whole_split_merges() {
        let paths = |names: &[&str]| names.iter().map(PathBuf::from).collect::<Vec<_>>();
        check_complete(&paths(&["a/coverage-1-of-2.xml", "b/coverage-2-of-2.xml", "other.xml"])).unwrap();
        check_complete(&paths(&["x.xml", "y.info"])).unwrap();
        let err = |names: &[&str]| check_complete(&paths(names)).unwrap_err().to_string();
        let missing = err(&["coverage-1-of-3.xml", "coverage-3-of-3.xml"]);
        assert!(missing.contains("shard 2 of 3 is missing (given: 1, 3)"), "{missing}");
        let mixed = err(&["coverage-1-of-2.xml", "coverage-2-of-2.xml", "coverage-3-of-3.xml"]);
        assert!(mixed.contains("different splits (2 parts, 3 parts)"), "{mixed}");
        let twice = err(&["a/coverage-1-of-1.xml", "b/coverage-1-of-1.xml"]);
        assert!(twice.contains("shard 1 of 1 is given more than once"), "{twice}");
    }
}
