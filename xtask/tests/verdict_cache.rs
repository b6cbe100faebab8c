//! The verdict cache end to end: the real binary on a throwaway workspace (its own Cargo.toml
//! settings, pin files and git history; `CARGO_MANIFEST_DIR` points the xtask at it) with a
//! stand-in `cargo` whose fmt, clippy and llvm-cov record each call, so a cached answer can be
//! told from a run, and a stand-in `rustc` that answers `-vV` as another toolchain on demand
//! (and hands everything else to the real one). The lint gate is the cheap real gate here; the
//! coverage gate, for the files a gate writes.

mod lint_support;
mod support;

use std::path::PathBuf;
use std::process::Command;

use lint_support::{GIT_LOCATION_VARS, write_exe};
use support::{Run, Scratch};

/// Answers `-vV` as rustc 9.9.9 when `$STANDIN/rustc-9` exists (the rest of its answer is the
/// real one's); anything else goes to the real rustc.
const RUSTC_STANDIN: &str = r#"#!/bin/sh
if [ "$1" = "-vV" ] && [ -e "$STANDIN/rustc-9" ]; then
  "$REAL_RUSTC" -vV | sed '1s/.*/rustc 9.9.9 (0000000 2099-01-01)/'
  exit 0
fi
exec "$REAL_RUSTC" "$@"
"#;

/// A throwaway workspace (`<scratch>/ws`, one commit) and the stand-ins (`<scratch>/bin`).
struct Ws {
    dir: Scratch,
    root: PathBuf,
}

impl Ws {
    fn new(name: &str) -> Ws {
        let dir = Scratch::new(name);
        let root = dir.0.join("ws");
        let ws = Ws { dir, root };
        write_exe(&ws.dir.0.join("bin/cargo"), support::CARGO_STANDIN);
        write_exe(&ws.dir.0.join("bin/rustc"), RUSTC_STANDIN);
        ws.dir.write("report.xml", support::percent_report(85, 100));
        ws.write(".gitignore", ".env\ntarget/\n");
        ws.write(
            "Cargo.toml",
            "[workspace]\nmembers = [\"xtask\"]\nresolver = \"2\"\n\n[workspace.metadata.xtask.lint]\nmax-file-size-kb = 500\n",
        );
        ws.write("xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n");
        ws.write("xtask/src/lib.rs", "");
        ws.write("xtask/tools/python/requirements.txt", "check-jsonschema==0.39.0\n");
        ws.write("xtask/tools/schemathesis/requirements.txt", "schemathesis==4.32.5\n");
        ws.write("xtask/tools/markdownlint/package-lock.json", "{}\n");
        ws.write("notes.txt", "hello\n");
        ws.git(&["init", "-q", "-b", "main"]);
        ws.commit();
        ws
    }

    fn git(&self, args: &[&str]) -> String {
        let mut git = Command::new("git");
        for var in GIT_LOCATION_VARS {
            git.env_remove(var);
        }
        let out = git
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&self.root)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn commit(&self) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "ws"]);
    }

    fn head(&self) -> String {
        self.git(&["rev-parse", "--short=12", "HEAD"])
    }

    fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let full = self.root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }

    /// `xtask <args>` on the workspace, with the cache in its default place.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = support::xtask();
        for var in ["XTASK_NO_CACHE", "XTASK_CACHE_DIR", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR"]
            .into_iter()
            .chain(GIT_LOCATION_VARS)
        {
            c.env_remove(var);
        }
        let bin = self.dir.0.join("bin");
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        c.current_dir(&self.root)
            .env("CARGO_MANIFEST_DIR", self.root.join("xtask"))
            .env("CARGO", bin.join("cargo"))
            .env("REAL_CARGO", std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .env("REAL_RUSTC", which("rustc"))
            .env("STANDIN", &self.dir.0)
            .env("XTASK_TOOLS_DIR", self.dir.0.join("tools"))
            .env("LLVM_COV", "/bin/true")
            .env("LLVM_PROFDATA", "/bin/true")
            .env("PATH", path)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        support::run(self.command(args))
    }

    /// How many times the stand-in cargo ran a gate's work (`fmt --all --check` for the lint,
    /// `llvm-cov --workspace` for the coverage run).
    fn runs(&self, of: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.0.join("log")).unwrap_or_default();
        log.lines().filter(|l| l.starts_with(of)).count()
    }

    fn lints(&self) -> usize {
        self.runs("fmt --all --check")
    }

    fn entries(&self, gate: &str) -> Vec<PathBuf> {
        let dir = self.root.join("target/xtask-cache").join(gate);
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
        entries.retain(|p| p.extension().is_some_and(|x| x == "json"));
        entries
    }
}

fn which(program: &str) -> PathBuf {
    xtask::process::which(program).unwrap_or_else(|| panic!("{program} is not on PATH"))
}

/// The cache's line about this run: `lint: not cached (…)` or `lint: passed (cached: …)`.
fn cache_line<'a>(run: &'a Run, gate: &str) -> &'a str {
    run.stderr
        .lines()
        .find(|l| l.starts_with(&format!("{gate}: not cached")) || l.contains("(cached: "))
        .unwrap_or_else(|| panic!("no cache line for {gate}: {run:?}"))
}

#[test]
fn a_second_run_answers_from_the_cache_without_running_the_gate() {
    let ws = Ws::new("cache-hit");
    let first = ws.run(&["lint"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(cache_line(&first, "lint"), "lint: not cached (no earlier run)");
    assert_eq!(ws.lints(), 1);
    // Stored under the key `cache key` prints, in target/xtask-cache/lint/.
    let key = ws.run(&["cache", "key", "lint"]);
    assert_eq!(key.code, 0, "{key:?}");
    let entry = ws.root.join(format!("target/xtask-cache/lint/{}.json", key.stdout.trim()));
    assert!(entry.is_file(), "{entry:?} {:?}", ws.entries("lint"));

    let second = ws.run(&["lint"]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(ws.lints(), 1, "the gate did not run again");
    let head = ws.head();
    let line = cache_line(&second, "lint");
    assert!(line.starts_with("lint: passed (cached: same inputs as "), "{line}");
    assert!(line.ends_with(&format!(" s ago, at {head})")), "{line}");
    assert_eq!(second.stdout, first.stdout, "the report again, as it was printed");
    assert!(second.stdout.lines().last().unwrap().starts_with("lint: passed — "), "{second:?}");

    // An uncommitted change that is no input of the gate (an ignored file) is no change.
    ws.write("target/other.txt", "x");
    let third = ws.run(&["lint"]);
    assert!(cache_line(&third, "lint").starts_with("lint: passed (cached: "), "{third:?}");
    assert_eq!(ws.lints(), 1);
}

#[test]
fn a_cached_failure_replays_the_findings_and_exits_1() {
    let ws = Ws::new("cache-failure");
    ws.write("notes.txt", "hello \n");
    let first = ws.run(&["lint"]);
    assert_eq!(first.code, 1, "{first:?}");
    assert!(first.stdout.contains("notes.txt:1: trailing whitespace"), "{first:?}");
    let second = ws.run(&["lint"]);
    assert_eq!(second.code, 1, "{second:?}");
    assert_eq!(ws.lints(), 1, "the gate did not run again");
    assert!(second.stdout.contains("notes.txt:1: trailing whitespace"), "the findings again: {second:?}");
    assert!(second.stdout.contains("lint: FAILED — 1 finding (hygiene: 1)"), "{second:?}");
    let line = cache_line(&second, "lint");
    assert!(line.starts_with("lint: FAILED (cached: same inputs as "), "{line}");
    assert!(line.ends_with(&format!(", at {} + uncommitted changes)", ws.head())), "{line}");
}

#[test]
fn no_cache_runs_the_gate_and_keeps_its_verdict() {
    let ws = Ws::new("cache-forced");
    assert_eq!(ws.run(&["lint"]).code, 0);
    let forced = ws.run(&["lint", "--no-cache"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert_eq!(cache_line(&forced, "lint"), "lint: not cached (--no-cache)");
    let mut by_env = ws.command(&["lint"]);
    by_env.env("XTASK_NO_CACHE", "1");
    let by_env = support::run(by_env);
    assert_eq!(cache_line(&by_env, "lint"), "lint: not cached (--no-cache)");
    assert_eq!(ws.lints(), 3);
    // The flag is global: it may come first too.
    assert_eq!(cache_line(&ws.run(&["--no-cache", "lint"]), "lint"), "lint: not cached (--no-cache)");
    assert_eq!(ws.lints(), 4);
    let cached = ws.run(&["lint"]);
    assert!(cache_line(&cached, "lint").starts_with("lint: passed (cached: "), "{cached:?}");
    assert_eq!(ws.lints(), 4);
}

#[test]
fn each_kind_of_input_change_is_a_miss_that_names_it() {
    let ws = Ws::new("cache-miss");
    assert_eq!(ws.run(&["lint"]).code, 0);
    let mut lints = 1;
    let mut expect_miss = |args: &[&str], env: &[(&str, &str)], why: &str| {
        let mut c = ws.command(args);
        c.envs(env.iter().copied());
        let run = support::run(c);
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(cache_line(&run, "lint"), format!("lint: not cached ({why})"), "{run:?}");
        lints += 1;
        assert_eq!(ws.lints(), lints, "the gate ran: {why}");
        let again = support::run({
            let mut c = ws.command(args);
            c.envs(env.iter().copied());
            c
        });
        assert!(cache_line(&again, "lint").contains("(cached: "), "then it is cached: {again:?}");
        assert_eq!(ws.lints(), lints);
    };

    ws.write("notes.txt", "hello again\n");
    ws.write("more.txt", "new\n");
    expect_miss(&["lint"], &[], "changed since the last run: more.txt, notes.txt");

    let manifest = std::fs::read_to_string(ws.root.join("Cargo.toml")).unwrap();
    ws.write("Cargo.toml", manifest.replace("max-file-size-kb = 500", "max-file-size-kb = 400"));
    expect_miss(&["lint"], &[], "settings changed");

    ws.write("xtask/tools/python/requirements.txt", "check-jsonschema==0.40.0\n");
    expect_miss(&["lint"], &[], "tool pins changed");

    ws.dir.set("rustc-9", true);
    let real = Command::new(which("rustc")).arg("-vV").output().unwrap();
    let version = String::from_utf8_lossy(&real.stdout).split_whitespace().nth(1).unwrap().to_owned();
    expect_miss(&["lint"], &[], &format!("toolchain changed: rustc {version} → 9.9.9"));

    expect_miss(&["lint", "--no-install"], &[], "flags changed");
    expect_miss(&["lint", "--no-install"], &[("CI", "true")], "environment changed: CI");
}

#[test]
fn an_unreadable_entry_is_a_miss_with_a_note() {
    let ws = Ws::new("cache-corrupt");
    assert_eq!(ws.run(&["lint"]).code, 0);
    let entries = ws.entries("lint");
    assert_eq!(entries.len(), 1);
    std::fs::write(&entries[0], "{ not json").unwrap();
    let run = ws.run(&["lint"]);
    assert_eq!(run.code, 0, "an unreadable entry is never an error: {run:?}");
    let line = cache_line(&run, "lint");
    assert!(line.starts_with("lint: not cached (its cache entry cannot be read: "), "{line}");
    let shown = entries[0].strip_prefix(&ws.root).unwrap().display().to_string();
    assert!(line.starts_with(&format!("lint: not cached (its cache entry cannot be read: {shown}: ")), "{line}");
    assert_eq!(ws.lints(), 2);
    // Written again by that run.
    assert!(cache_line(&ws.run(&["lint"]), "lint").starts_with("lint: passed (cached: "));
    assert_eq!(ws.lints(), 2);
}

#[test]
fn only_the_newest_entries_are_kept() {
    let ws = Ws::new("cache-keep");
    for i in 0..10 {
        ws.write("notes.txt", format!("version {i}\n"));
        assert_eq!(ws.run(&["lint"]).code, 0);
    }
    assert_eq!(ws.entries("lint").len(), 8, "{:?}", ws.entries("lint"));
    // The newest is among them: the last version answers from the cache.
    assert!(cache_line(&ws.run(&["lint"]), "lint").contains("(cached: "));
    // The oldest is not: the first version runs again.
    ws.write("notes.txt", "version 0\n");
    let run = ws.run(&["lint"]);
    assert_eq!(cache_line(&run, "lint"), "lint: not cached (changed since the last run: notes.txt)");
}

#[test]
fn a_replay_adds_the_step_summary_again_and_drops_colour_when_it_is_off() {
    let ws = Ws::new("cache-summary");
    let summary = ws.dir.0.join("summary.md");
    let github = |colour: bool| {
        let mut c = ws.command(&["lint"]);
        c.env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", &summary);
        if colour {
            c.env("CLICOLOR_FORCE", "1");
        }
        support::run(c)
    };
    let first = github(true);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stdout.contains("\u{1b}["), "recorded in colour: {first:?}");
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(!written.is_empty());
    let second = github(false);
    assert!(cache_line(&second, "lint").contains("(cached: "), "colour is no input: {second:?}");
    assert_eq!(ws.lints(), 1);
    assert!(!second.stdout.contains('\u{1b}'), "no colour now: {second:?}");
    assert_eq!(second.stdout, xtask::capture::strip_ansi(&first.stdout));
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), written.repeat(2), "the summary again");
}

#[test]
fn the_files_a_gate_wrote_must_still_be_there_unchanged() {
    let ws = Ws::new("cache-outputs");
    let first = ws.run(&["coverage"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(cache_line(&first, "coverage"), "coverage: not cached (no earlier run)");
    assert!(ws.root.join("coverage.xml").is_file());
    let key = ws.run(&["cache", "key", "coverage"]);
    assert!(ws.root.join(format!("target/xtask-cache/coverage/{}.json", key.stdout.trim())).is_file(), "{key:?}");
    // coverage.xml is an untracked file of the checkout now, yet no change of the inputs.
    let second = ws.run(&["coverage"]);
    assert!(cache_line(&second, "coverage").starts_with("coverage: passed (cached: "), "{second:?}");
    assert!(second.stdout.contains("Coverage: 🌟 High — 85.00%"), "the grade again: {second:?}");
    assert_eq!(ws.runs("llvm-cov nextest --workspace"), 1);

    std::fs::remove_file(ws.root.join("coverage.xml")).unwrap();
    let gone = ws.run(&["coverage"]);
    assert_eq!(cache_line(&gone, "coverage"), "coverage: not cached (coverage.xml is gone since the cached run)");
    assert_eq!(ws.runs("llvm-cov nextest --workspace"), 2);

    ws.write("target/coverage/lcov.info", "TN:\nSF:x\nend_of_record\n");
    let changed = ws.run(&["coverage"]);
    assert_eq!(
        cache_line(&changed, "coverage"),
        "coverage: not cached (target/coverage/lcov.info changed since the cached run)"
    );
    assert_eq!(ws.runs("llvm-cov nextest --workspace"), 3);

    // Grading a given report is never cached.
    let graded = ws.run(&["coverage", "--file", "coverage.xml"]);
    assert_eq!(graded.code, 0, "{graded:?}");
    assert!(!graded.stderr.contains("cached"), "{graded:?}");
}

#[test]
fn the_html_patch_report_is_a_file_the_gate_wrote() {
    let ws = Ws::new("cache-html");
    let args = ["coverage", "--diff", "HEAD", "--full", "--html", "target/patch.html"];
    let first = ws.run(&args);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(std::fs::read_to_string(ws.root.join("target/patch.html")).unwrap().contains("Patch coverage"));
    let second = ws.run(&args);
    assert!(cache_line(&second, "coverage").starts_with("coverage: passed (cached: "), "{second:?}");
    std::fs::remove_file(ws.root.join("target/patch.html")).unwrap();
    let gone = ws.run(&args);
    assert_eq!(cache_line(&gone, "coverage"), "coverage: not cached (target/patch.html is gone since the cached run)");
    assert!(ws.root.join("target/patch.html").is_file(), "{gone:?}");
    assert_eq!(ws.runs("llvm-cov nextest --workspace"), 2);
}

/// The `base-report` setting's file is read by `--diff` when it is there: whether it is, and
/// what it holds, are inputs of the verdict (CI restores it; a developer may put one there).
#[test]
fn the_base_report_setting_s_file_is_an_input_of_a_patch_run() {
    let ws = Ws::new("cache-base-report");
    let manifest = std::fs::read_to_string(ws.root.join("Cargo.toml")).unwrap();
    ws.write(
        "Cargo.toml",
        format!("{manifest}\n[workspace.metadata.xtask.coverage]\nbase-report = \"target/base.xml\"\n"),
    );
    ws.commit();
    let args = ["coverage", "--diff", "HEAD", "--full"];
    assert_eq!(ws.run(&args).code, 0);
    let cached = ws.run(&args);
    assert!(cache_line(&cached, "coverage").starts_with("coverage: passed (cached: "), "{cached:?}");

    // target/ is ignored, so no file change of the checkout: the report itself is the input.
    ws.write("target/base.xml", support::cobertura(&[("notes.txt", vec![(1, 1)])]));
    let there = ws.run(&args);
    assert_eq!(there.code, 0, "{there:?}");
    assert!(cache_line(&there, "coverage").starts_with("coverage: not cached (base report changed"), "{there:?}");
    assert!(cache_line(&ws.run(&args), "coverage").contains("(cached: "));
    ws.write("target/base.xml", support::cobertura(&[("notes.txt", vec![(1, 0)])]));
    let other = ws.run(&args);
    assert!(cache_line(&other, "coverage").starts_with("coverage: not cached (base report changed"), "{other:?}");
    assert_eq!(ws.runs("llvm-cov nextest --workspace"), 3);
}

#[test]
fn cache_clean_removes_the_folder_and_says_what_it_held() {
    let ws = Ws::new("cache-clean");
    assert_eq!(ws.run(&["lint"]).code, 0);
    let clean = ws.run(&["cache", "clean"]);
    assert_eq!(clean.code, 0, "{clean:?}");
    assert!(clean.stdout.starts_with("removed target/xtask-cache (1 entry, "), "{clean:?}");
    assert!(!ws.root.join("target/xtask-cache").exists());
    assert_eq!(ws.run(&["cache", "clean"]).stdout, "nothing to remove: target/xtask-cache does not exist\n");
    assert_eq!(cache_line(&ws.run(&["lint"]), "lint"), "lint: not cached (no earlier run)");
}

#[test]
fn the_key_is_of_the_inputs_not_of_the_time() {
    let ws = Ws::new("cache-key");
    let key = |ws: &Ws| {
        let run = ws.run(&["cache", "key", "lint"]);
        assert_eq!(run.code, 0, "{run:?}");
        run.stdout.trim().to_owned()
    };
    let before = key(&ws);
    assert_eq!(before.len(), 40, "{before}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let path = ws.root.join("notes.txt");
    let text = std::fs::read(&path).unwrap();
    std::fs::write(&path, &text).unwrap(); // touched, not changed
    assert_eq!(key(&ws), before);
    ws.write("notes.txt", "changed\n");
    assert_ne!(key(&ws), before);
}

#[test]
fn a_pass_that_skipped_a_check_is_not_kept() {
    let ws = Ws::new("cache-skipped");
    ws.write("README.md", "# Notes\n");
    // markdownlint-cli2 cannot be installed: its check is skipped, which passes locally.
    write_exe(&ws.dir.0.join("bin/npm"), "#!/bin/sh\necho 'npm ERR! network' >&2\nexit 1\n");
    let first = ws.run(&["lint"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stderr.contains("warning: markdownlint was skipped"), "{first:?}");
    assert!(first.stderr.contains("lint: the verdict was not cached: markdownlint skipped"), "{first:?}");
    assert!(ws.entries("lint").is_empty());
    let second = ws.run(&["lint"]);
    assert_eq!(cache_line(&second, "lint"), "lint: not cached (no earlier run)", "tried again: {second:?}");
    assert_eq!(ws.lints(), 2);
}
