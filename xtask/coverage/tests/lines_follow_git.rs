//! The indirect changes follow a base line to its line today through git's own diff: files of
//! distinct lines are edited at random (lines removed, added, replaced, in runs, at the ends),
//! `git diff` (with no context, as the gate runs it, and with context) is read, and every base
//! line must map to the line that holds its text now, or to nothing when the edit removed or
//! replaced it. With distinct lines, the lines git keeps are exactly the ones the edit kept.

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask_coverage::indirect::LineMap;
use xtask_coverage::patch::read_diff;

/// A small deterministic generator (xorshift64*), so a failure names a seed that replays it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let mut c = Command::new("git");
    // Set by git hooks (the suite may run under one): they would point these commands here.
    for var in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR"] {
        c.env_remove(var);
    }
    let out = c
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "core.quotePath=true"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The base's lines (`base N`), edited: each kept line keeps its text; removed ones are gone,
/// replaced and added ones get new texts. Returns the new text's lines.
fn edit(rng: &mut Rng, base: &[String], round: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut fresh = 0;
    let mut new_line = |out: &mut Vec<String>| {
        fresh += 1;
        out.push(format!("new {round}.{fresh}"));
    };
    while i < base.len() {
        match rng.below(10) {
            // Remove a run of 1–3 lines.
            0 => i += 1 + rng.below(3) as usize,
            // Replace a run of 1–3 lines with 1–3 new ones.
            1 => {
                i += 1 + rng.below(3) as usize;
                for _ in 0..=rng.below(3) {
                    new_line(&mut out);
                }
            }
            // Add 1–4 lines before this one.
            2 => {
                for _ in 0..=rng.below(4) {
                    new_line(&mut out);
                }
            }
            _ => {
                out.push(base[i].clone());
                i += 1;
            }
        }
    }
    if rng.below(3) == 0 {
        new_line(&mut out);
    }
    out
}

#[test]
fn every_kept_line_maps_to_its_line_today_through_gits_diff() {
    let root = scratch("lines-follow-git");
    let mut checked = 0;
    let mut renames_followed = 0;
    for seed in 1..=40u64 {
        let dir = root.join(seed.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q", "-b", "main"]);
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let count = 1 + rng.below(60) as usize;
        let base: Vec<String> = (1..=count).map(|n| format!("base {n}")).collect();
        std::fs::write(dir.join("f.txt"), base.join("\n") + "\n").unwrap();
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", "base"]);
        // Half the rounds also rename the file, as a change may.
        let new = if seed % 2 == 0 { "f.txt" } else { "moved/f.txt" };
        if new != "f.txt" {
            std::fs::create_dir_all(dir.join("moved")).unwrap();
            git(&dir, &["mv", "f.txt", new]);
        }
        let now = edit(&mut rng, &base, seed);
        std::fs::write(dir.join(new), if now.is_empty() { String::new() } else { now.join("\n") + "\n" }).unwrap();
        git(&dir, &["add", "-A"]);
        for context in ["-U0", "-U3"] {
            let diff = git(
                &dir,
                &["diff", context, "--no-color", "--no-ext-diff", "-M", "--src-prefix=a/", "--dst-prefix=b/", "HEAD"],
            );
            let parsed = read_diff(&diff).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{diff}"));
            let map = LineMap::new(&parsed.files);
            // A rename git does not see (too little left in common) is a deletion and an
            // addition: then no base line has a counterpart, and every line today is new.
            let followed = new == "f.txt"
                || parsed
                    .files
                    .iter()
                    .any(|f| f.old_path.as_deref() == Some("f.txt") && f.new_path.as_deref() == Some(new));
            renames_followed += usize::from(followed && new != "f.txt");
            for (i, text) in base.iter().enumerate() {
                let line = i as u32 + 1;
                let kept = now.iter().position(|l| l == text).filter(|_| followed);
                let expected = kept.map(|at| (new, at as u32 + 1));
                assert_eq!(
                    map.head_line("f.txt", line),
                    expected,
                    "seed {seed} ({context}), base line {line}:\n{diff}"
                );
                checked += 1;
            }
            // Every line of today that is not a kept one is a changed line, and no other is.
            for (at, text) in now.iter().enumerate() {
                let line = at as u32 + 1;
                let changed = parsed.lines.get(new).unwrap_or(&[]).iter().any(|&(a, b)| (a..=b).contains(&line));
                let expected = text.starts_with("new ") || !followed;
                assert_eq!(changed, expected, "seed {seed} ({context}), line {line} today:\n{diff}");
            }
        }
    }
    assert!(checked > 1000, "{checked} lines checked");
    assert!(renames_followed > 10, "{renames_followed} renames followed");
    std::fs::remove_dir_all(&root).unwrap();
}
