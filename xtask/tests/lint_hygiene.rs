//! `cargo xtask lint` file hygiene through the real CLI, on throwaway git checkouts: each rule
//! with a failing and a passing file, `--fix`, which files are looked at, exit codes.

mod lint_support;
mod support;

use lint_support::{Repo, line};

#[test]
fn a_clean_checkout_passes_quietly() {
    let repo = Repo::new("hyg-clean");
    repo.write("notes.txt", "hello\n");
    let run = repo.lint(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(line(&run, "hygiene"), "✓ hygiene (2 files)");
    assert!(run.stdout.contains("– rustfmt: not applicable (no Cargo.toml)"), "{run:?}");
    assert!(run.stdout.lines().last().unwrap().starts_with("lint: passed — "), "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
}

/// (rule, file, failing content, expected finding, passing content)
type Rule = (&'static str, &'static str, &'static [u8], &'static str, &'static [u8]);

const RULES: &[Rule] = &[
    ("trailing whitespace", "a.txt", b"ok\nnot ok \n", "a.txt:2: trailing whitespace", b"ok\nok\n"),
    ("final newline", "a.txt", b"one\ntwo", "a.txt:2: no newline at end of file", b"one\ntwo\n"),
    ("blank lines at the end", "a.txt", b"one\n\n\n", "a.txt:2: blank lines at end of file", b"one\n"),
    ("CRLF", "a.txt", b"one\r\ntwo\r\n", "a.txt:1: CRLF line ending (2 lines, the first here); use LF", b"one\ntwo\n"),
    (
        "conflict markers",
        "src/a.rs",
        b"fn a() {}\n<<<<<<< HEAD\nfn b() {}\n=======\nfn c() {}\n>>>>>>> topic\n",
        "src/a.rs:2: merge conflict marker `<<<<<<<`",
        b"fn a() {}\nfn b() {}\n",
    ),
    ("invalid YAML", "conf/a.yml", b"a: [1, 2\n", "conf/a.yml:2: invalid YAML: ", b"a: [1, 2]\n"),
    (
        "duplicate YAML key",
        "a.yaml",
        b"a: 1\nb: 2\na: 3\n",
        "a.yaml:3: invalid YAML: duplicate key `a` (first at line 1)",
        b"a: 1\nb: 2\n",
    ),
    ("invalid TOML", "a.toml", b"[x]\na = 1\n[x]\n", "a.toml:3: invalid TOML: ", b"[x]\na = 1\n"),
];

#[test]
fn each_rule_fails_with_file_and_line_and_passes_once_fixed() {
    for (rule, path, bad, expected, good) in RULES {
        let repo = Repo::new("hyg-rule");
        repo.write(path, bad);
        let run = repo.lint(&[]);
        assert_eq!(run.code, 1, "{rule}: {run:?}");
        assert!(line(&run, "hygiene").starts_with("✗ hygiene (2 files): "), "{rule}: {run:?}");
        assert!(run.stdout.lines().any(|l| l.starts_with(&format!("  {expected}"))), "{rule}: {run:?}");
        assert!(run.stdout.contains("lint: FAILED — "), "{rule}: {run:?}");
        assert_eq!(repo.read(path), *bad, "{rule}: plain lint never changes a file");

        repo.write(path, good);
        let run = repo.lint(&[]);
        assert_eq!(run.code, 0, "{rule}, fixed: {run:?}");
        assert_eq!(line(&run, "hygiene"), "✓ hygiene (2 files)", "{rule}");
    }
}

#[test]
fn merge_and_patch_leftovers_fail_until_removed_and_near_misses_pass() {
    let repo = Repo::new("hyg-leftover");
    // Names that only look like leftovers: not reported.
    for path in ["src/origin.rs", "docs/BACKUP.md", "notes.original", "src/rejected.rs", "MY_LOCAL_NOTES.md"] {
        repo.write(path, "x\n");
    }
    let run = repo.lint(&[]);
    assert_eq!(run.code, 0, "near misses: {run:?}");
    assert_eq!(line(&run, "hygiene"), "✓ hygiene (6 files)", "{run:?}");

    repo.write_untracked("src/lib.rs.orig", "fn a() {}\n");
    repo.write_untracked("src/lib.rs.rej", "@@ -1 +1 @@\n");
    repo.write("src/lib_REMOTE_4242.rs", "fn a() {}\n");
    repo.write("Cargo.toml.BACKUP.77.toml", "[x]\n");
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(line(&run, "hygiene"), "✗ hygiene (10 files): 4 findings", "{run:?}");
    let delete = "delete it, or `git rm` it if it is tracked";
    for expected in [
        format!(
            "src/lib.rs.orig: a merge or patch leftover (`*.orig`, the backup `git mergetool` or `patch` \
             keeps): {delete}"
        ),
        format!(
            "src/lib.rs.rej: a patch leftover (`*.rej`, the hunks `patch` or `git apply --reject` could not \
             apply): {delete}"
        ),
        format!(
            "src/lib_REMOTE_4242.rs: a merge leftover (`*_REMOTE_<pid>*`, the copy `git mergetool` makes of the merged \
             branch's version): {delete}"
        ),
        format!(
            "Cargo.toml.BACKUP.77.toml: a merge leftover (`*.BACKUP.*`, the copy `git mergetool` makes of the file as \
             the merge left it, with the conflict markers): {delete}"
        ),
    ] {
        assert!(run.stdout.contains(&format!("  {expected}\n")), "{expected}\n{run:?}");
    }
    let run = repo.lint(&["--fix"]);
    assert_eq!(run.code, 1, "--fix deletes nothing: {run:?}");
    assert!(repo.root.join("src/lib.rs.orig").is_file(), "{run:?}");

    // Ignored and untracked, a leftover is not project content; tracked, it is, ignored or not.
    repo.write(".gitignore", ".env\n*.orig\n*.rej\n");
    repo.write("docs/guide.md.orig", "# Guide\n");
    repo.git(&["rm", "-q", "-f", "src/lib_REMOTE_4242.rs"]);
    let run = repo.lint(&[]);
    assert_eq!(line(&run, "hygiene"), "✗ hygiene (8 files): 2 findings", "{run:?}");
    assert!(run.stdout.contains("  docs/guide.md.orig: a merge or patch leftover"), "{run:?}");
    assert!(run.stdout.contains("  Cargo.toml.BACKUP.77.toml: a merge leftover"), "{run:?}");
    assert!(!run.stdout.contains("src/lib.rs.orig"), "{run:?}");
    repo.git(&["rm", "-q", "-f", "Cargo.toml.BACKUP.77.toml", "docs/guide.md.orig"]);
    let run = repo.lint(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(line(&run, "hygiene"), "✓ hygiene (6 files)", "{run:?}");
}

#[test]
fn big_files_fail_binary_or_not_and_binary_files_skip_the_text_rules() {
    let repo = Repo::new("hyg-big");
    let mut blob = vec![0u8; 501 * 1024];
    blob[10] = b' ';
    blob[11] = b'\n';
    repo.write("assets/blob.bin", &blob);
    repo.write("small.bin", b"\0\x01 \n \r\n");
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("  assets/blob.bin: 501 KB, over the 500 KB limit for a committed file\n"), "{run:?}");
    assert!(line(&run, "hygiene").ends_with(": 1 finding"), "binary: no whitespace findings: {run:?}");

    repo.git(&["rm", "-q", "--cached", "assets/blob.bin"]);
    std::fs::remove_file(repo.root.join("assets/blob.bin")).unwrap();
    repo.write("assets/ok.bin", vec![0u8; 500 * 1024]);
    let run = repo.lint(&[]);
    assert_eq!(run.code, 0, "exactly 500 KB is allowed: {run:?}");
}

#[test]
fn untracked_files_are_checked_unless_ignored() {
    let repo = Repo::new("hyg-untracked");
    repo.write_untracked("new.txt", "not added yet \n");
    repo.write_untracked("build/out.txt", "generated \n");
    repo.write(".gitignore", ".env\nbuild/\n");
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("  new.txt:1: trailing whitespace"), "{run:?}");
    assert!(!run.stdout.contains("build/out.txt"), "ignored files are not project content: {run:?}");
    assert_eq!(line(&run, "hygiene"), "✗ hygiene (2 files): 1 finding");
}

#[test]
fn fix_applies_the_safe_fixes_and_lists_each_changed_file() {
    let repo = Repo::new("hyg-fix");
    repo.write("a.txt", "one  \r\ntwo\r\n");
    repo.write("b.md", "# B\n\ntext\n\n\n");
    repo.write("c.txt", "clean\n");
    repo.write("d.yml", "a: [1\n");
    let run = repo.lint(&["--fix"]);
    assert_eq!(run.code, 1, "the invalid YAML is not fixable: {run:?}");
    assert!(run.stdout.contains("fixed a.txt (CRLF → LF, trailing whitespace)\n"), "{run:?}");
    assert!(run.stdout.contains("fixed b.md (final newline)\n"), "{run:?}");
    assert!(!run.stdout.contains("fixed c.txt"), "{run:?}");
    assert!(!run.stdout.contains("fixed d.yml"), "{run:?}");
    assert_eq!(repo.read("a.txt"), b"one\ntwo\n");
    assert_eq!(repo.read("b.md"), b"# B\n\ntext\n");
    assert_eq!(repo.read("d.yml"), b"a: [1\n");
    assert_eq!(line(&run, "hygiene"), "✗ hygiene (5 files): 1 finding", "{run:?}");

    repo.write("d.yml", "a: [1]\n");
    let run = repo.lint(&["--fix"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("linting "), "{run:?}");
    assert!(run.stdout.contains("--fix: nothing to fix\n"), "{run:?}");
}

#[test]
fn every_check_runs_after_a_failure_and_the_summary_names_each_failing_one() {
    let repo = Repo::new("hyg-all");
    repo.write("a.txt", "x \n");
    repo.write(".env", "SECRET=1\n");
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("  a.txt:1: trailing whitespace"), "{run:?}");
    assert!(run.stdout.contains("✗ policy env-not-committed: 1 finding"), "{run:?}");
    let last = run.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("lint: FAILED — 2 findings (hygiene: 1, policy env-not-committed: 1); "),
        "{last}\n{run:?}"
    );
}

#[test]
fn a_folder_that_is_not_a_git_checkout_is_a_usage_error() {
    // The scratch folder is inside this workspace's checkout, so git finds that one.
    let dir = support::Scratch::new("hyg-nogit");
    let mut c = support::xtask();
    c.arg("lint").arg("--root").arg(&dir.0);
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("is not the top of a git work tree"), "{run:?}");

    let outside = std::env::temp_dir().join(format!("xtask-lint-nogit-{}", std::process::id()));
    std::fs::create_dir_all(&outside).unwrap();
    let mut c = support::xtask();
    c.arg("lint").arg("--root").arg(&outside).env("GIT_CEILING_DIRECTORIES", std::env::temp_dir());
    let run = support::run(c);
    let _ = std::fs::remove_dir_all(&outside);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("is not a git work tree"), "{run:?}");

    let mut c = support::xtask();
    c.arg("lint").arg("--root").arg(dir.0.join("missing"));
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no such folder"), "{run:?}");
}

#[test]
fn annotations_and_step_summary_under_github_actions() {
    let repo = Repo::new("hyg-gha");
    let mut text = String::new();
    for _ in 0..12 {
        text.push_str("x \n");
    }
    repo.write("a:b,c.txt", &text);
    let summary = repo.scratch.0.join("summary.md");
    let mut c = repo.command(&[]);
    c.env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", &summary);
    let run = support::run(c);
    assert_eq!(run.code, 1, "{run:?}");
    let annotations: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(annotations.len(), 10, "capped at what GitHub shows: {run:?}");
    assert_eq!(annotations[0], "::error file=a%3Ab%2Cc.txt,line=1,title=lint%3A hygiene::trailing whitespace");
    assert!(run.stdout.contains("2 more findings are not annotated"), "{run:?}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("### Lint: ❌ failed, 12 findings\n"), "{md}");
    assert!(md.contains("| hygiene (2 files) | ❌ 12 findings |"), "{md}");
    assert!(md.contains("| hadolint | ➖ not applicable (no Dockerfile yet) |"), "{md}");
    assert!(md.contains("hygiene: a:b,c.txt:12: trailing whitespace"), "{md}");
}

#[test]
fn exactly_as_many_findings_as_github_shows_are_all_annotated_with_no_more_line() {
    let repo = Repo::new("hyg-gha-cap");
    repo.write("a.txt", "x \n".repeat(10));
    let mut c = repo.command(&[]);
    c.env("GITHUB_ACTIONS", "true");
    let run = support::run(c);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout.lines().filter(|l| l.starts_with("::error ")).count(), 10, "{run:?}");
    assert!(!run.stdout.contains("more findings"), "every finding is annotated: {run:?}");
}

#[test]
fn variables_a_git_hook_exports_do_not_redirect_the_lint() {
    let repo = Repo::new("hyg-hookenv");
    repo.write("a.txt", "x \n");
    let other = Repo::new("hyg-hookenv-other");
    let mut c = repo.command(&[]);
    c.env("GIT_DIR", other.root.join(".git")).env("GIT_INDEX_FILE", other.root.join(".git/index"));
    let run = support::run(c);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("  a.txt:1: trailing whitespace"), "{run:?}");
}
