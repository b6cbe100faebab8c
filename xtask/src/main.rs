//! `cargo xtask <gate>`: parse the command line, build the context, run one gate.
//! Exit status: 0 passed, 1 the gate failed, 2 usage, input or tool error.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use xtask::gates::cache::CacheArgs;
use xtask::gates::ci::CiArgs;
use xtask::gates::comment::CommentArgs;
use xtask::gates::compose::{DownArgs, LogsArgs, UpArgs};
use xtask::gates::coverage::CoverageArgs;
use xtask::gates::dev::DevArgs;
use xtask::gates::flaky::FlakyArgs;
use xtask::gates::init::InitArgs;
use xtask::gates::lint::LintArgs;
use xtask::gates::mutants::MutantsArgs;
use xtask::gates::security::SecurityArgs;
use xtask::gates::smoke::SmokeArgs;
use xtask::gates::test::TestArgs;
use xtask::output::{ColorChoice, Env, Output};
use xtask::{Context, Outcome};

/// The project's quality gates, one definition each: developers, pre-commit hooks and CI
/// all run these same commands with the settings in [workspace.metadata.xtask].
///
/// A gate whose inputs did not change since it last ran answers from the verdict cache
/// (target/xtask-cache), saying so; --no-cache runs it. See `cargo xtask cache --help`.
///
/// Exit status: 0 passed, 1 gate failed, 2 usage, input or tool error.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, max_term_width = 100)]
struct Cli {
    /// When to use colours [env: NO_COLOR, CLICOLOR_FORCE]
    #[arg(long, value_enum, global = true, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    color: ColorChoice,
    /// Run the gate even when the verdict cache could answer (its verdict is still kept)
    /// [env: XTASK_NO_CACHE=1]
    #[arg(long, global = true)]
    no_cache: bool,
    #[command(subcommand)]
    gate: Gate,
}

#[derive(Debug, Subcommand)]
enum Gate {
    /// Check formatting, clippy, file hygiene, Markdown, schemas, scripts and project policies
    ///
    /// Runs every check, even after one fails, then prints one summary: rustfmt, clippy
    /// (-D warnings), sqlx's .sqlx/ query data against a migrated throwaway database (as
    /// `cargo sqlx prepare --check`), file hygiene (trailing whitespace, final newline, conflict
    /// markers, CRLF, large files, YAML/TOML validity) over the files git lists,
    /// markdownlint-cli2, the workflow, dependabot and compose schemas (check-jsonschema),
    /// shellcheck, hadolint, and the project policies (non-root container, migrate restart "no",
    /// .env not committed, no wildcard CORS, pinned hooks and actions). A check whose files do
    /// not exist yet is "not applicable".
    ///
    /// Never changes a file, except with --fix (rustfmt, whitespace, final newline, CRLF, and
    /// .sqlx/ regenerated).
    /// Missing tools are installed, pinned, under target/xtask-tools/; one that cannot be is a
    /// warning locally and an error when CI is set. Exit status: 0 clean; 1 findings; 2 usage
    /// or tool error. Settings: [workspace.metadata.xtask.lint] in the root Cargo.toml.
    #[command(verbatim_doc_comment)]
    Lint(LintArgs),
    /// Run every test in the workspace, with PostgreSQL and the services it needs provided
    ///
    /// Runs `cargo nextest run --workspace` (and the doctests) when cargo-nextest is installed,
    /// else `cargo test --workspace`; arguments after `--` go to the runner. --partition M/N
    /// runs one part of the suite, for CI matrix jobs (needs nextest). --changed runs only the
    /// tests the change can affect, from the per-test map of the last full coverage run.
    ///
    /// With `database = true` in [workspace.metadata.xtask.test], the tests get DATABASE_URL:
    /// the one set in the environment when a server answers there; else the compose `db`
    /// service when a Docker engine answers; else a throwaway cluster of the local PostgreSQL
    /// binaries under target/. The other compose services of `services` (Redis, say) start
    /// beside it in a throwaway project, and `env` maps them to the app's own variables
    /// (`APP_REDIS_URI = "redis://{redis.host}:{redis.port}"`). What was started is stopped
    /// afterwards, also on Ctrl-C.
    /// Exit status: 0 the tests passed; 1 they failed; 2 on a usage or tool error, or when no
    /// PostgreSQL, or a service the tests name, can be provided. Interrupted: ends by the
    /// signal (130 or 143 in a shell).
    #[command(verbatim_doc_comment)]
    Test(TestArgs),
    /// Run the tests under coverage and grade the report (or grade a report with --file)
    ///
    /// Without --file: runs the workspace's tests under `cargo llvm-cov nextest`, writes the
    /// Cobertura report (coverage.xml), LCOV and HTML (under target/coverage/) and the per-test
    /// map (which lines each test covers), then grades the report. With --file: grades an
    /// existing Cobertura XML or LCOV report from any producer (cargo-llvm-cov, coverage.py,
    /// tarpaulin, grcov, istanbul/nyc/c8, …) without running anything, or the union of several.
    /// With --diff: also grades the lines a change adds (patch coverage) and lists the
    /// uncovered ones, running only the tests the change can affect and taking the others'
    /// lines from the map (the same verdict as a full run; --full runs everything). With
    /// --partition M/N: runs one shard of the suite and writes its report for a later merge
    /// (`--file 'target/coverage/shards/*.xml'`). --why FILE[:LINE] lists the tests that cover it.
    /// Every graded run but a shard's adds its totals to target/coverage/history.jsonl (under
    /// GitHub Actions, only a run on the default branch) and draws coverage-badge.svg and
    /// coverage-trend.svg beside it.
    /// With --diff --base-report PATH (a report of the merge base): also lists the lines outside
    /// the change that lost their coverage (the indirect changes); two runs of one commit
    /// (--base-report twice, --repeat-report, --repeat) tell unstable lines from lost ones.
    /// Without --base-report, the `base-report` setting's file is that report when it exists
    /// (CI restores it there; `--diff --print-merge-base` prints the commit it must be of).
    ///
    /// Grades: {grades}.
    /// Exit status: 0 at or above the threshold (and the patch gate); 1 below it, or when the
    /// tests fail; 2 on a usage, input or tool error. Settings: [workspace.metadata.xtask.coverage]
    /// in the root Cargo.toml; flags override them for one run.
    // Boxed: its flags outweigh every other gate's (clippy's large_enum_variant).
    #[command(verbatim_doc_comment)]
    Coverage(Box<CoverageArgs>),
    /// Audit dependencies, production code, secrets, workflows, Dockerfiles and the image (bandit -ll's successor)
    ///
    /// Five checks, one verdict:
    ///   advisories  every crates.io package in Cargo.lock against a local RustSec advisory
    ///               database (--advisory-db, XTASK_ADVISORY_DB, the advisory-db setting, else
    ///               ~/.cargo/advisory-db; --fetch clones or updates it with git). Fails on
    ///               vulnerabilities with CVSS >= 4.0 or no CVSS score, on unsound crates the
    ///               app links; warns on unmaintained and yanked crates. A database older than
    ///               max-db-age-days (90) fails unless --accept-stale-db.
    ///   source      production Rust files (source-paths): unsafe without a SAFETY comment,
    ///               dangerous APIs (TLS verification off, shell strings, SQL via format!, …)
    ///               and a curated clippy set over the libraries and binaries
    ///   secrets     private keys, cloud and GitHub tokens, passwords in URLs, high-entropy
    ///               assignments, a committed .env, in the files git lists
    ///   infra       zizmor --offline on .github/workflows, hadolint's security rules on Dockerfiles
    ///   image       the service's binary inside the image `cargo xtask smoke` built (the copy it
    ///               keeps in target/xtask/image/), by the dependency list cargo-auditable
    ///               embedded in it, against the same database with the same severities; a
    ///               binary without the list fails. No image built yet: a note (an error with
    ///               --check image)
    ///
    /// Findings at medium and above fail the gate. Suppressions live in security.toml, each
    /// with an id, a reason and an expiry date; suppressed findings are still listed.
    /// --list-rules prints every rule. Exit status: 0 clean; 1 findings at or above medium
    /// (or an expired or unused suppression); 2 configuration, database or tool error.
    /// Settings: [workspace.metadata.xtask.security] in the root Cargo.toml.
    #[command(verbatim_doc_comment)]
    Security(SecurityArgs),
    /// Build the image and prove the whole container stack works, on a real Docker engine
    ///
    /// The runbook's Dockerfile and compose smoke tests as one gate. Builds the app image from
    /// the working tree (tagged as the `image` setting), starts db → migrate → app as a compose
    /// project of its own (xtask-smoke-…) with throwaway volumes, free host ports and the
    /// variables of [workspace.metadata.xtask.compose] env (no .env is read), then checks:
    ///   image size      within max-image-size-mb
    ///   image SBOM      copies the service's binary (the entrypoint) out of the image and
    ///                   writes a CycloneDX SBOM: the crates the binary carries (built with
    ///                   `cargo auditable`) and the Debian packages installed; both kept in
    ///                   target/xtask/image/ for `cargo xtask security --check image`
    ///   db healthy, migrate exited 0 and was not restarted, app healthy
    ///   app runs as non-root   no process of the app container has uid 0
    ///   probes          GET /health/live and /health/ready answer 200 on the published port
    ///   API round trip  register a user, log in as it
    ///   readiness without the database   with db stopped, /health/ready answers 503 within
    ///                   6 s while /health/live stays 200
    /// Everything of its project (containers, network, volumes) is removed on every way out,
    /// also on failure and Ctrl-C. Needs Docker with Compose v2 (never installed by the xtask).
    /// Exit status: 0 every check passed; 1 a check failed; 2 no Docker engine, no Compose v2,
    /// or a usage error. Settings: [workspace.metadata.xtask.smoke] and [….compose].
    #[command(verbatim_doc_comment)]
    Smoke(SmokeArgs),
    /// Run every gate in CI order (lint → test → coverage → smoke → security) and print one summary table
    ///
    /// The same gates CI runs, one after the other, with the same settings. The coverage
    /// gate's test run is the test gate: the suite runs once, and its verdict and the coverage
    /// verdict are reported apart. Without a Docker engine the smoke gate is skipped, with the
    /// reason (an error when CI is set). The first failing gate stops the run unless --keep-going.
    /// Exit status: 0 every gate passed; 1 a gate failed; 2 a gate could not run (usage,
    /// input or tool error).
    #[command(verbatim_doc_comment)]
    Ci(CiArgs),
    /// Start the Docker Compose stack, wait until it is healthy, and show its state
    ///
    /// Checks that a Docker engine answers, creates the compose file's external networks (if
    /// any), runs `docker compose up -d --wait` (--build: build the images first; compose reads
    /// .env), then prints each service's state (`docker compose ps`) and the answer of the
    /// readiness probe, GET /health/ready on the port the app service publishes. Uses
    /// `docker-compose`, with a warning, when the v2 plugin is missing. Docker is a
    /// prerequisite, not installed by the xtask. Exit status: 0 the stack is up and ready;
    /// 1 `up --wait` failed, a service is not running or healthy, or the probe did not answer
    /// 200; 2 Docker or Compose is missing or the engine is not running.
    #[command(verbatim_doc_comment)]
    Up(UpArgs),
    /// Stop and remove the Docker Compose stack's containers (the volumes stay)
    ///
    /// Runs `docker compose down`; --volumes also removes the named volumes (the database).
    /// Exit status: 0 done; 1 `docker compose down` failed; 2 Docker or Compose is missing or
    /// the engine is not running.
    #[command(verbatim_doc_comment)]
    Down(DownArgs),
    /// Follow one service's logs (`app` by default)
    ///
    /// Runs `docker compose logs --tail N -f SERVICE` until Ctrl-C (N: --tail, default 100);
    /// --no-follow prints the lines and exits.
    /// Exit status: 0 done; 1 `docker compose logs` failed; 2 Docker or Compose is missing or
    /// the engine is not running.
    #[command(verbatim_doc_comment)]
    Logs(LogsArgs),
    /// Run the app locally and restart it when its sources change
    ///
    /// Runs `cargo run -p app -- serve` at the workspace root (the app reads .env itself
    /// unless APP_ENV=production is set), looks at app/src, app/migrations and app/Cargo.toml
    /// every 500 ms, and on a change stops the running app, and everything it started, before
    /// starting it again, so the port is free. Ctrl-C stops it and leaves nothing running.
    /// Exit status: 2 when cargo cannot be started; interrupted: ends by the signal (130 or
    /// 143 in a shell).
    #[command(verbatim_doc_comment)]
    Dev(DevArgs),
    /// The verdict cache: print the key of a gate's inputs, or remove every entry
    ///
    /// lint, test, coverage, security and smoke (and each of them in ci) answer from the cache,
    /// in well under a second, when nothing they read changed since a run: the checkout's files,
    /// the settings, the tool pins, the toolchain, the flags and environment, and each gate's
    /// own inputs (the advisory database and the date, the Docker engine). The entries are in
    /// target/xtask-cache/<gate>/ (or $XTASK_CACHE_DIR), eight a gate; --no-cache runs the gate.
    ///   key GATE   the key of GATE's inputs now, with its default flags (CI stores the cache
    ///              folder under it)
    ///   clean      remove the cache folder
    #[command(verbatim_doc_comment)]
    Cache(CacheArgs),
    /// List the tests that flaked in the last runs, from the test history
    ///
    /// Every `cargo xtask test` and `cargo xtask coverage` run with cargo-nextest appends each
    /// test's outcome (pass, fail, flaky: failed, then passed on a retry), its duration and the
    /// commit to target/xtask-tests/history.jsonl (the last 50 runs are kept). This lists the
    /// tests that flaked in the last N runs (--runs, default 20): how often, the last commit
    /// they flaked at, and the first lines of that failing attempt's output.
    /// Exit status: 0 (it judges nothing); 2 when the history cannot be read.
    #[command(verbatim_doc_comment)]
    Flaky(FlakyArgs),
    /// Mutation testing: would a test notice if a line were wrong?
    ///
    /// cargo-mutants (pinned, installed on first use) lists the mutants: a comparison flipped,
    /// an operator swapped, a function's body replaced by a default value. Each is put into a
    /// copy of the checkout (target/xtask-mutants/tree, kept between runs; the checkout is never
    /// written), built, and tested with only the tests that cover its lines, read from the
    /// per-test map of the last full `cargo xtask coverage` run. Without a usable map a mutant
    /// runs its package's tests, and the run says why. A mutant on lines no test covers is not
    /// run: it is listed apart (uncovered changed lines are the patch gate's business).
    ///   caught    a test failed: the tests notice the change
    ///   missed    every test passed: listed as FILE:LINE: what changed — no test failed
    ///   timeout   the tests ran past the timeout (counted apart, never as caught)
    ///   unviable  the mutant does not build (counted apart)
    /// --diff mutates only the lines changed since the merge base (what a pull request
    /// changed); without it, the whole workspace (slow: for a weekly run). The baseline runs
    /// every chosen test unmutated first: they must pass. The gate reports, and fails only when
    /// [workspace.metadata.xtask.mutants] sets `mutants-threshold` (caught ÷ viable, viable
    /// being caught + missed + timed out) or `max-missed-mutants`. Each mutant's outcome is
    /// written to target/xtask-mutants/report.json.
    /// Exit status: 0 passed (or nothing judged); 1 a gate set in the settings failed; 2 the
    /// tools, the copy or the baseline could not run.
    #[command(verbatim_doc_comment)]
    Mutants(MutantsArgs),
    /// Post the coverage comment a pull request's CI run wrote, or update it in place
    ///
    /// `cargo xtask coverage --comment DIR`, in a pull request's CI run (read-only, a fork's
    /// too), writes DIR/comment.md and DIR/comment.json (the pull request and its head commit);
    /// CI keeps them as an artifact. `comment post --dir DIR`, in a workflow_run workflow with
    /// `pull-requests: write` that never runs the pull request's code, reads them as data only
    /// (a positive number, a 40-digit commit, a bounded body that starts with the marker),
    /// checks that the pull request is at the commit the CI run tested (--head-sha, else the
    /// workflow_run event's), then updates the comment it posted before (found by its hidden
    /// marker and author, across every page of comments) or posts one. GitHub's REST API
    /// through curl: GITHUB_API_URL (default https://api.github.com), GITHUB_REPOSITORY and
    /// GITHUB_TOKEN (handed to curl on stdin, never printed).
    /// Exit status: 0 posted, updated, or not posted because the pull request has moved on;
    /// 2 a malformed artifact, a token without the permission (401, 403), or another API error.
    #[command(verbatim_doc_comment)]
    Comment(CommentArgs),
    /// Write the gates' settings, the pre-commit hooks and the CI workflow for this workspace
    ///
    /// For a workspace that has just copied xtask/ (its crates in the workspace's members, the
    /// `xtask` alias in .cargo/config.toml). Reads the workspace, without network or Docker, and
    /// prints what it found, each item at its file and line:
    ///   compose     the compose file's services: which run PostgreSQL and Redis, the ports
    ///               they publish (a test run needs one, best `127.0.0.1::PORT`), its variables
    ///   sqlx        the packages that use it (with postgres?), migrations/, a committed .sqlx/
    ///   database    DATABASE_URL in .env files or code; the config crate's environment scheme
    ///               (Environment::with_prefix("APP")…separator("__")) and the keys of its
    ///               configuration files, mapped to the test run's database and services
    /// Then, each only when missing, writes: the settings ([workspace.metadata.xtask], every key
    /// under a comment saying why) and the xtask's [profile.dev.package.*] sections, appended to
    /// the root Cargo.toml when it has no such table yet; .pre-commit-config.yaml; and
    /// .github/workflows/ci.yml (lint → test → coverage → security, pinned by SHA). It never
    /// overwrites a file and never rewrites Cargo.toml's bytes; it lists every file as written,
    /// appended or left alone. --dry-run prints the content instead. Run again, it changes nothing.
    /// Exit status: 0 done; 2 not at a workspace root, or a file it cannot read or parse.
    #[command(verbatim_doc_comment)]
    Init(InitArgs),
}

/// The command line, with what its help shows from the code: the coverage grades are the
/// default bands (`coverage::grade::default_bands`), written there once.
fn command() -> clap::Command {
    Cli::command().mut_subcommand("coverage", |c| {
        let about = c.get_long_about().map(ToString::to_string).unwrap_or_default();
        let grades = xtask::coverage::grade::scale_text(&xtask::coverage::grade::default_bands());
        c.long_about(about.replace("{grades}", &grades))
    })
}

fn main() -> ExitCode {
    // nextest's target runner during a coverage run (the per-test map): not a command of ours.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == xtask::impact::record::RUNNER_ARG) {
        return xtask::impact::record::runner(&args[2..]);
    }
    let cli =
        Cli::from_arg_matches_mut(&mut command().get_matches()).unwrap_or_else(|e| e.format(&mut command()).exit());
    let out = Output::new(cli.color, &Env::from_process());
    let no_cache = cli.no_cache || xtask::cache::disabled_by_env();
    let cx = || Context::new(out.clone()).map(|cx| Context { no_cache, ..cx });
    let result = match cli.gate {
        // init writes the settings, so it does not read them: a table the gates would reject
        // (or one it has not written yet) does not stop it.
        Gate::Init(args) => args.run(&xtask::project_root()),
        Gate::Lint(args) => cx().and_then(|cx| args.run(&cx)),
        Gate::Test(args) => cx().and_then(|cx| args.run(&cx)),
        Gate::Coverage(args) => cx().and_then(|cx| (*args).run(&cx)),
        Gate::Security(args) => cx().and_then(|cx| args.run(&cx)),
        Gate::Smoke(args) => cx().and_then(|cx| args.run(&cx)),
        Gate::Ci(args) => cx().and_then(|cx| args.run(&cx)),
        Gate::Up(args) => cx().and_then(|cx| args.run(&cx)),
        Gate::Down(args) => cx().and_then(|cx| args.run(&cx)),
        Gate::Logs(args) => cx().and_then(|cx| args.run(&cx)),
        Gate::Dev(args) => cx().and_then(|cx| args.run(&cx)),
        Gate::Cache(args) => cx().and_then(|cx| args.run(&cx)),
        Gate::Flaky(args) => cx().and_then(|cx| args.run(&cx)),
        Gate::Mutants(args) => cx().and_then(|cx| args.run(&cx)),
        // The poster reads no settings: a table it does not need cannot stop a comment.
        Gate::Comment(args) => args.run(),
    };
    match result {
        Ok(Outcome::Passed) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{} {e:#}", colored::Colorize::bold(colored::Colorize::red("error:")));
            out.annotate(xtask::output::Level::Error, None, "cargo xtask", &format!("{e:#}"));
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_cli() {
        command().debug_assert();
    }

    #[test]
    fn the_coverage_help_lists_the_default_grades() {
        let mut cli = command();
        let coverage = cli.find_subcommand_mut("coverage").unwrap();
        let help = coverage.render_long_help().to_string();
        assert!(
            help.contains("Grades: ❌ Poor <50, ⚠️ Low 50–69, ✅ Approved 70–79, 🌟 High 80–89, 🚀 Excellent ≥90.\n"),
            "{help}"
        );
        assert!(!help.contains("{grades}"), "{help}");
    }
}
