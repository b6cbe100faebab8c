//! The real linters on tiny checkouts: rustfmt and clippy (rustup components, always there
//! when the suite builds), and the project-local tools when `cargo xtask lint` has installed
//! them (it does on its first run; these tests never install anything, so they need no
//! network, and say so when they skip).

mod lint_support;
mod support;

use std::path::PathBuf;
use std::process::Command;

use lint_support::{Repo, line, workspace};

fn crate_repo(name: &str, main_rs: &str) -> Repo {
    let repo = Repo::new(name);
    repo.write(".gitignore", ".env\ntarget/\n");
    repo.write("Cargo.toml", "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n");
    repo.write("src/main.rs", main_rs);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["generate-lockfile", "--offline"])
        .current_dir(&repo.root)
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .unwrap();
    assert!(status.success());
    repo.git(&["add", "Cargo.lock"]);
    repo
}

#[test]
fn rustfmt_and_clippy_pass_fail_and_fix() {
    let repo = crate_repo("real-rust", "fn main() {\n    println!(\"hi\");\n}\n");
    let run = repo.lint(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(line(&run, "rustfmt"), "✓ rustfmt");
    assert_eq!(line(&run, "clippy"), "✓ clippy");

    repo.write("src/main.rs", "fn main() {\n    let x = 1;\n    if x == x {\n  println!(\"hi\");\n    }\n}\n");
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "✗ rustfmt: 1 finding\n  src/main.rs:1: not formatted as rustfmt would (run `cargo xtask lint --fix`)\n"
        ),
        "{run:?}"
    );
    assert!(line(&run, "clippy").starts_with("✗ clippy: "), "{run:?}");
    assert!(
        run.stdout.lines().any(|l| l.starts_with("  src/main.rs:3: error: ") && l.ends_with("[clippy::eq_op]")),
        "{run:?}"
    );
    assert!(run.stdout.contains("--> src/main.rs:3:8"), "clippy's own rendering is shown too: {run:?}");

    let run = repo.lint(&["--fix"]);
    assert!(run.stdout.contains("fixed src/main.rs (rustfmt)\n"), "{run:?}");
    assert_eq!(line(&run, "rustfmt"), "✓ rustfmt", "{run:?}");
    assert_eq!(run.code, 1, "clippy's finding is not a safe fix: {run:?}");
    assert_eq!(
        repo.read("src/main.rs"),
        b"fn main() {\n    let x = 1;\n    if x == x {\n        println!(\"hi\");\n    }\n}\n"
    );

    repo.write("src/main.rs", "fn main( {\n");
    let run = repo.lint(&["--fix"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("--fix: rustfmt could not format the workspace"), "{run:?}");
    assert!(
        run.stdout.contains("  src/main.rs:1: rustfmt: error: this file contains an unclosed delimiter\n"),
        "{run:?}"
    );
    assert_eq!(repo.read("src/main.rs"), b"fn main( {\n");
}

/// The installed tools folder, if `cargo xtask lint` installed the tools there.
fn installed_tools() -> Option<PathBuf> {
    let dir = std::env::var_os("XTASK_TOOLS_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/xtask-tools"));
    let ws = workspace();
    let venv = std::fs::read(dir.join("venv/xtask-requirements.txt")).ok()?
        == std::fs::read(ws.join("xtask/tools/python/requirements.txt")).ok()?;
    let npm = std::fs::read(dir.join("node/xtask-package-lock.json")).ok()?
        == std::fs::read(ws.join("xtask/tools/markdownlint/package-lock.json")).ok()?;
    if venv && npm {
        Some(dir)
    } else {
        eprintln!("skipped: the lint tools are not installed in {} (run `cargo xtask lint` once)", dir.display());
        None
    }
}

/// `cargo xtask lint --no-install` in `repo` with the installed tools.
fn lint_with(repo: &Repo, tools: &std::path::Path) -> support::Run {
    let mut c = repo.command(&["--no-install"]);
    c.env("XTASK_TOOLS_DIR", tools);
    support::run(c)
}

#[test]
fn the_installed_linters_find_real_problems_and_pass_clean_files() {
    let Some(tools) = installed_tools() else { return };
    let repo = Repo::new("real-tools");
    repo.write("README.md", "# Title\n\n#Bad heading\n");
    repo.write("scripts/run.sh", "#!/bin/sh\necho $1\n");
    repo.write("Dockerfile", "FROM alpine\nUSER nobody\n");
    repo.write(
        ".github/workflows/ci.yml",
        "name: CI\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - bogus: 1\n",
    );
    repo.write(
        ".github/dependabot.yml",
        "version: 2\nupdates:\n  - package-ecosystem: cargo\n    directory: /\n    schedule:\n      interval: weekly\n",
    );
    repo.write("compose.yaml", "services:\n  db:\n    image: postgres:16\n    bogus: 1\n");
    let lint = |repo: &Repo| lint_with(repo, &tools);
    let run = lint(&repo);
    assert_eq!(run.code, 1, "{run:?}");
    for (check, expected) in [
        ("markdownlint", "  README.md:3: MD018/no-missing-space-atx No space after hash on atx style heading"),
        ("shellcheck", "  scripts/run.sh:2: note: Double quote to prevent globbing and word splitting. [SC2086]"),
        ("hadolint", "  Dockerfile:1: DL3006 warning: Always tag the version of an image explicitly"),
        ("check-jsonschema", "  .github/workflows/ci.yml:7: $.jobs.a.steps[0]: "),
        (
            "check-jsonschema",
            "  compose.yaml:3: $.services.db: Unevaluated properties are not allowed ('bogus' was unexpected)",
        ),
    ] {
        assert!(line(&run, check).starts_with(&format!("✗ {check}")), "{run:?}");
        assert!(run.stdout.lines().any(|l| l.starts_with(expected)), "expected `{expected}`:\n{run:?}");
    }
    assert_eq!(line(&run, "check-jsonschema"), "✗ check-jsonschema (3 files): 2 findings", "{run:?}");

    repo.write("README.md", "# Title\n\nText.\n");
    repo.write("scripts/run.sh", "#!/bin/sh\necho \"$1\"\n");
    repo.write("Dockerfile", "FROM alpine:3.20\nUSER 65534\n");
    repo.write(
        ".github/workflows/ci.yml",
        "name: CI\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n",
    );
    repo.write("compose.yaml", "services:\n  db:\n    image: postgres:16\n    restart: unless-stopped\n");
    repo.write(
        ".github/actions/setup/action.yml",
        "name: setup\ndescription: d\nruns:\n  using: composite\n  steps:\n    - run: echo\n      shell: bash\n",
    );
    repo.write("docker-compose.override.yml", "services:\n  db:\n    ports: [\"5432:5432\"]\n");
    let run = lint(&repo);
    assert_eq!(run.code, 0, "{run:?}");
    for check in ["markdownlint (1 file)", "shellcheck (1 file)", "hadolint (1 file)", "check-jsonschema (5 files)"] {
        assert_eq!(line(&run, check), format!("✓ {check}"), "{run:?}");
    }
}

/// In a workspace that copied `xtask/`, the xtask's Markdown follows its own settings
/// (`xtask/.markdownlint-cli2.yaml`), not the host's, and its test data is not linted at all,
/// while the host's files keep the host's rules.
#[test]
fn a_copied_xtask_keeps_its_markdown_style_and_its_test_data_is_not_linted() {
    let Some(tools) = installed_tools() else { return };
    let repo = Repo::new("real-adopted");
    repo.write(".markdownlint-cli2.yaml", "config:\n  default: true\n  MD013:\n    line_length: 40\n");
    repo.write("NOTES.md", "# Notes\n\nThis line of the host is longer than forty characters.\n");
    let ours = workspace().join("xtask");
    repo.write("xtask/bench/README.md", std::fs::read(ours.join("bench/README.md")).unwrap());
    repo.write("xtask/tests/fixtures/security/advisory-db/crates/x/RUSTSEC-2026-0001.md", "```toml\n[advisory]\n```\n");
    repo.write("xtask/tests/fixtures/producers/tool.xml", "<coverage/>");
    let lint = |repo: &Repo| lint_with(repo, &tools);
    let findings = |run: &support::Run| -> Vec<String> {
        run.stdout.lines().filter(|l| l.starts_with("  ") && l.contains(": MD")).map(|l| l.trim().to_owned()).collect()
    };
    // Without the xtask's settings, the host's 40 characters apply to the xtask's README too.
    let run = lint(&repo);
    assert!(findings(&run).iter().any(|f| f.starts_with("xtask/bench/README.md:")), "{run:?}");

    repo.write("xtask/.markdownlint-cli2.yaml", std::fs::read(ours.join(".markdownlint-cli2.yaml")).unwrap());
    let run = lint(&repo);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        findings(&run),
        ["NOTES.md:3: MD013/line-length Line length [Expected: 40; Actual: 54]"],
        "only the host's file, by the host's rules: {run:?}"
    );
    assert_eq!(line(&run, "markdownlint"), "✗ markdownlint (2 files): 1 finding", "{run:?}");
    assert!(line(&run, "hygiene").starts_with("✓ hygiene"), "the producers' report has no final newline: {run:?}");
}

/// `nginx -t` with the real Nginx (Debian's; `.ci/run` installs it): a site file with TLS
/// certificates that exist nowhere here passes, a wrong value fails at its line, a file that is
/// not an Nginx site is not tested, and an `include` of a file the repository keeps beside the
/// site (deploy/nginx/clicknback-upstream.conf, say) reads that file.
#[test]
fn nginx_t_tests_site_files_in_a_scratch_prefix() {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| std::path::Path::new(p).is_file());
    if nginx.is_none() {
        assert!(!support::in_ci(), "CI is set, and this test needs Nginx (`apt-get install nginx`)");
        eprintln!("skipped: Nginx is not installed");
        return;
    }
    let repo = Repo::new("real-nginx");
    let site = "server {\n    listen 443 ssl;\n    server_name example.com;\n    \
                ssl_certificate /etc/letsencrypt/live/example.com/fullchain.pem;\n    \
                ssl_certificate_key /etc/letsencrypt/live/example.com/privkey.pem;\n    gzip on;\n    \
                location / {\n        proxy_pass http://127.0.0.1:8001;\n    }\n}\n";
    repo.write("deploy/nginx/site.conf", site);
    repo.write("deploy/app.conf", "not nginx at all\n");
    let run = repo.lint(&[]);
    assert_eq!(line(&run, "nginx -t"), "✓ nginx -t (1 file)", "{run:?}");

    repo.write("deploy/nginx/site.conf", site.replace("gzip on;", "gzip onn;"));
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(line(&run, "nginx -t"), "✗ nginx -t (1 file): 1 finding", "{run:?}");
    assert!(
        run.stdout.contains(
            "  deploy/nginx/site.conf:6: [emerg] invalid value \"onn\" in \"gzip\" directive, it must be \"on\" or \"off\""
        ),
        "{run:?}"
    );

    // The upstream, in a file of its own installed at /opt/site/upstream.conf.
    let site =
        format!("include /opt/site/upstream.conf;\n{}", site.replace("http://127.0.0.1:8001", "http://site_app"));
    repo.write("deploy/nginx/site.conf", &site);
    repo.write("deploy/nginx/upstream.conf", "upstream site_app {\n    server 127.0.0.1:8001;\n}\n");
    let run = repo.lint(&[]);
    assert_eq!(line(&run, "nginx -t"), "✓ nginx -t (2 files)", "{run:?}");

    repo.write("deploy/nginx/upstream.conf", "upstream other_app {\n    server 127.0.0.1:8001;\n}\n");
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(line(&run, "nginx -t"), "✗ nginx -t (2 files): 1 finding", "{run:?}");
    assert!(run.stdout.contains("host not found in upstream \"site_app\""), "the repository's copy was read: {run:?}");
}

/// The repository's Prometheus files (`deploy/prometheus/`), copied into a scratch checkout.
fn prometheus_repo(name: &str) -> (Repo, Vec<String>) {
    let repo = Repo::new(name);
    let from = workspace().join("deploy/prometheus");
    let mut copied = Vec::new();
    let mut dirs = vec![from.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let relative = path.strip_prefix(&from).unwrap().to_str().unwrap().to_owned();
            let name = format!("deploy/prometheus/{relative}");
            repo.write(&name, std::fs::read(&path).unwrap());
            copied.push(name);
        }
    }
    copied.sort();
    (repo, copied)
}

/// The 1-based line of the first line of `path` in `repo` that contains `needle`.
fn line_with(repo: &Repo, path: &str, needle: &str) -> usize {
    let text = String::from_utf8(repo.read(path)).unwrap();
    1 + text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{path} has no `{needle}`"))
}

/// promtool with the real promtool (Debian's `prometheus` package; `.ci/run` installs it): the
/// repository's own configuration, rules and rule tests pass; an expression that does not parse
/// is a finding at its line; a rule change its unit tests catch fails the check at each failing
/// test's name; a configuration with an unknown field is a finding at that field; a YAML file
/// that is not Prometheus's (an Alertmanager configuration) is not given to promtool.
#[test]
fn promtool_checks_the_config_and_the_rules_and_runs_the_rule_tests() {
    if checks_promtool().is_none() {
        assert!(!support::in_ci(), "CI is set, and this test needs promtool (`apt-get install prometheus`)");
        eprintln!("skipped: promtool is not installed");
        return;
    }
    let (repo, copied) = prometheus_repo("real-promtool");
    let (config, rules, tests) = (
        "deploy/prometheus/prometheus.yml",
        "deploy/prometheus/rules/clicknback.yml",
        "deploy/prometheus/tests/clicknback.test.yml",
    );
    for file in [config, rules, tests] {
        assert!(copied.iter().any(|c| c == file), "{file} is in the repository: {copied:?}");
    }
    repo.write("deploy/prometheus/alertmanager.yml", "route:\n  receiver: nowhere\n");
    let run = repo.lint(&[]);
    assert_eq!(line(&run, "promtool"), format!("✓ promtool ({} files)", copied.len()), "{run:?}");

    // An expression that does not parse: `check rules` says where; the tests cannot load it.
    let good_rules = String::from_utf8(repo.read(rules)).unwrap();
    let at = line_with(&repo, rules, "expr: up{job=\"clicknback\"} == 0");
    repo.write(rules, good_rules.replace("expr: up{job=\"clicknback\"} == 0", "expr: up{job=\"clicknback\"} =="));
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(line(&run, "promtool").starts_with("✗ promtool ("), "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "  {rules}:{at}: group \"clicknback\", rule 1, \"ClickNBackDown\": could not parse expression: "
        )),
        "{run:?}"
    );

    // The latency threshold moved to 300 ms: the rules are valid, the tests that expect the
    // alert at 250 ms fail, each at its name.
    repo.write(rules, good_rules.replace(") > 0.2\n", ") > 0.3\n"));
    assert_ne!(String::from_utf8(repo.read(rules)).unwrap(), good_rules, "the threshold is written `) > 0.2`");
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(line(&run, "promtool"), format!("✗ promtool ({} files): 2 findings", copied.len()), "{run:?}");
    for name in ["a p95 of 250 ms for 5 minutes fires", "a 5-minute breach of 200 ms fires"] {
        let at = line_with(&repo, tests, &format!("- name: {name}"));
        assert!(run.stdout.contains(&format!("  {tests}:{at}: rule test failed: {name}\n")), "{name}: {run:?}");
    }
    assert!(run.stdout.contains("got:[]"), "promtool's account of the failure is shown: {run:?}");
    repo.write(rules, &good_rules);

    // A misspelt field in the configuration: the app's scrape job's targets.
    let good_config = String::from_utf8(repo.read(config)).unwrap();
    let block = "    static_configs:\n      - targets: [\"app:9464\"]";
    let at = line_with(&repo, config, "- targets: [\"app:9464\"]") - 1;
    assert!(good_config.contains(block), "{good_config}");
    repo.write(config, good_config.replace(block, &block.replace("static_configs:", "static_config:")));
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("  {config}:{at}: yaml: field static_config not found in type config.ScrapeConfig")),
        "{run:?}"
    );
}

/// Where the lint finds promtool (PATH, then /usr/sbin).
fn checks_promtool() -> Option<PathBuf> {
    xtask::lint::checks::find_system_program("promtool")
}
