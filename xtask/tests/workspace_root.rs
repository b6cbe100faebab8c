//! The xtask gates the checkout it is run for. Several worktrees of one repository often share
//! one `CARGO_TARGET_DIR`, so `cargo xtask` in one worktree can run a binary built in another:
//! the root comes from the `CARGO_MANIFEST_DIR` cargo sets for `cargo run`, not from the path
//! compiled into the binary.

mod support;

use std::path::Path;
use std::process::Command;

use support::Scratch;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `cargo xtask coverage --file report.xml` as cargo runs it in `worktree`: this binary (built
/// in another checkout), with `CARGO_MANIFEST_DIR` naming the worktree's xtask crate.
fn grade_in(worktree: &Path, report: &Path) -> support::Run {
    let mut c = support::xtask();
    c.env("CARGO_MANIFEST_DIR", worktree.join("xtask")).current_dir(worktree).arg("coverage").arg("--file").arg(report);
    support::run(c)
}

#[test]
fn two_worktrees_sharing_a_target_folder_each_gate_their_own_tree() {
    let dir = Scratch::new("worktrees");
    // A repository with two worktrees: `main` and `strict`, whose coverage threshold is 90.
    let main = dir.0.join("main");
    std::fs::create_dir_all(&main).unwrap();
    support::copy_checkout(&main);
    git(&main, &["init", "-q"]);
    git(&main, &["add", "-A"]);
    git(&main, &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base"]);
    git(&main, &["worktree", "add", "-q", "--detach", "../strict"]);
    let strict = dir.0.join("strict");
    support::edit(&strict.join("Cargo.toml"), "threshold = 70", "threshold = 90");
    let report = dir.write("report.xml", support::percent_report(85, 100));

    let run = grade_in(&main, &report);
    assert_eq!(run.code, 0, "85% passes main's 70% gate: {run:?}");
    assert!(run.stdout.contains("Gate: passed (85.00% ≥ 70%)"), "{run:?}");

    let run = grade_in(&strict, &report);
    assert_eq!(run.code, 1, "the same binary gates the strict worktree by its own settings: {run:?}");
    assert!(run.stdout.contains("Gate: FAILED (85.00% is below 90%"), "{run:?}");

    // A CARGO_MANIFEST_DIR that is not the xtask crate's (another package's test, say) is
    // ignored: the compiled-in root is used.
    let mut c = support::xtask();
    c.env("CARGO_MANIFEST_DIR", strict.join("app")).arg("coverage").arg("--file").arg(&report);
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
}
